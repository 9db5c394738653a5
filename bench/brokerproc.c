/* brokerproc.c: the chat-broker child process and its scratch directory
 * (see brokerproc.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "brokerproc.h"
#include "stats.h"

static pid_t spawn(const char *bin, char *const argv[], const char *log_path)
{
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Dies with us even if we are killed outright. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0) dup2(in, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(bin, argv);
        dprintf(2, "history-bench: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fd);
    return pid;
}

pid_t brokerproc_start(const char *bin, const char *endpoint, const char *db,
                       const char *durability, const char *log_path)
{
    char *argv[16];
    int a = 0;
    argv[a++] = (char *)bin;
    argv[a++] = "--listen";
    argv[a++] = (char *)endpoint;
    argv[a++] = "--history";
    argv[a++] = durability ? (char *)db : "none";
    if (durability) {
        argv[a++] = "--durability";
        argv[a++] = (char *)durability;
    }
    argv[a++] = "--log-level";
    argv[a++] = "info";
    argv[a++] = "--nick-rate"; /* the benchmark measures the broker, not its limits */
    argv[a++] = "0";
    argv[a] = NULL;
    return spawn(bin, argv, log_path);
}

int brokerproc_stop(pid_t pid, int *status)
{
    kill(pid, SIGTERM);
    uint64_t until = stats_now_us() + BROKERPROC_STOP_US;
    while (stats_now_us() < until) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return 0;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

int brokerproc_exited(pid_t pid, int *status)
{
    return waitpid(pid, status, WNOHANG) == pid;
}

int brokerproc_free_tcp_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void brokerproc_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

void brokerproc_remove_db(const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", ".lock"};
    char path[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        unlink(path);
    }
}

void brokerproc_log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char lines[20][512];
    size_t n = 0;
    while (fgets(lines[n % 20], sizeof lines[0], f)) n++;
    fclose(f);
    fprintf(stderr, "history-bench: last lines of %s:\n", path);
    for (size_t i = n > 20 ? n - 20 : 0; i < n; i++) fprintf(stderr, "  | %s", lines[i % 20]);
}

const char *brokerproc_fs_name(const char *dir)
{
    struct statfs st;
    if (statfs(dir, &st) < 0) return "unknown";
    switch ((unsigned long)st.f_type) {
    case 0xEF53:
        return "ext4";
    case 0x01021994:
        return "tmpfs";
    case 0x58465342:
        return "xfs";
    case 0x9123683E:
        return "btrfs";
    case 0x794C7630:
        return "overlayfs";
    case 0x2FC12FC1:
        return "zfs";
    case 0x858458F6:
        return "ramfs";
    default:
        return "other";
    }
}

struct brokerproc_fsync brokerproc_probe_fsync(const char *dir, const volatile sig_atomic_t *stop)
{
    struct brokerproc_fsync p = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return p;
    static char buf[4096];
    memset(buf, 'x', sizeof buf);
    int ok = 1;
    for (int i = 0; i < 256 && ok; i++) ok = pwrite(fd, buf, sizeof buf, (off_t)i * 4096) == 4096;
    if (ok && fsync(fd) == 0) {
        uint64_t v[400], until = stats_now_us() + 500000;
        size_t n = 0;
        while (n < sizeof v / sizeof *v && stats_now_us() < until && !*stop) {
            if (pwrite(fd, buf, sizeof buf, (off_t)(n % 256) * 4096) != 4096) break;
            uint64_t t = stats_now_us();
            if (fdatasync(fd) < 0) break;
            v[n++] = stats_now_us() - t;
        }
        struct stats_summary s = stats_summarize(v, n);
        p.n = n;
        p.p50_ms = s.p50_ms;
        p.p99_ms = s.p99_ms;
    }
    close(fd);
    unlink(path);
    return p;
}
