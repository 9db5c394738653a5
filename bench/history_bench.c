/* history_bench.c: what durable history costs the broker.
 *
 * For each mode (history off, --durability normal, --durability full) it
 * starts a chat-broker of its own (fork/exec; an ipc:// endpoint in a
 * temporary directory, or tcp://127.0.0.1 on a free port), plays one or more
 * gateways over ZeroMQ DEALER sockets the way chat-gateway does (GatewayHello,
 * heartbeats, then Commands), identifies N sessions, puts each alone in a
 * room of its own, and measures:
 *
 *  (a) throughput: msg commands as fast as the broker acks them, with a
 *      bounded window in flight, for a fixed time: committed messages/s
 *      (acks received in the window / its length);
 *  (b) latency: msg commands at a fixed rate; each ack's latency (send ->
 *      Ack, matched through the client id) gives p50/p99/max.
 *
 * Fan-out is minimal on purpose: every session is alone in its room, so a
 * committed message produces exactly one envelope, the sender's Ack (the
 * broker sends a room event to no gateway whose only member of the room is
 * the sender). What is measured is the commit path (accept, SQLite
 * transaction on the writer thread, completion, ack), not room fan-out,
 * which is the same work in every mode. Any room event that does come back
 * is counted ("fan-out events") so a change there shows.
 *
 * Each broker is stopped with SIGTERM (and waited for) at the end of its
 * mode; its database, its log and the temporary directory are removed. The
 * whole run is bounded by --timeout. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "chat.pb-c.h"
#include "clock.h"

#ifndef CHAT_BROKER_DEFAULT
#define CHAT_BROKER_DEFAULT "chat-broker"
#endif

#define MAX_GATEWAYS 64
#define HEARTBEAT_US 1000000u /* the gateway's default --heartbeat */
#define STARTUP_US 10000000u  /* broker up and every session identified and joined */
#define STOP_US 20000000u     /* SIGTERM -> exit (the broker drains its store up to 10 s) */

/* ---------------------------------------------------------------- configuration */

struct config {
    const char *broker, *modes, *phases, *transport, *dir;
    int do_tput, do_rate; /* from phases */
    double duration_s, warmup_s, drain_s, timeout_s;
    long long rate, window, sessions, gateways, text_bytes;
    double target_normal_tput; /* msg/s */
    double target_full_p99x;   /* times the p99 with history off */
    int json, keep;
};

enum opt_kind { K_STR, K_INT, K_DBL, K_FLAG };

struct opt {
    const char *name, *arg;
    enum opt_kind kind;
    void *target;
    double min, max;
    const char *help;
};

static void usage(const struct opt *opts)
{
    printf("Usage: history-bench [options]\n"
           "What durable history costs chat-broker: for each mode (history off, --durability\n"
           "normal, --durability full) it starts a broker of its own, acts as gateways over\n"
           "ZeroMQ, identifies sessions (each alone in its own room, so the only event per\n"
           "message is the sender's ack and the commit path is what is measured) and measures\n"
           "(a) committed msg/s with a bounded window in flight and (b) ack latency at a fixed\n"
           "rate. Prints a table with the targets (PASS/MISS), or JSON.\n\nOptions:\n");
    for (const struct opt *o = opts; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-22s %s", flag, o->help);
        if (o->kind == K_STR && *(const char **)o->target)
            printf(" (default %s)", *(const char **)o->target);
        else if (o->kind == K_INT)
            printf(" (default %lld)", *(long long *)o->target);
        else if (o->kind == K_DBL)
            printf(" (default %g)", *(double *)o->target);
        printf("\n");
    }
    printf("  %-22s show this help and exit\n\n"
           "Exit status: 0 every target met, 3 a target missed, 1 the run failed (a broker\n"
           "did not start or died, acks were lost, errors came back), 2 bad usage.\n"
           "The broker binary may also be given as $CHAT_BROKER_BIN.\n",
           "--help");
}

/* 1: --help printed, -1: bad usage, 0: go on. */
static int parse_args(const struct opt *opts, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage(opts);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "history-bench: unexpected argument '%s' (try --help)\n", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt *o;
        for (o = opts; o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, name, len)) break;
        if (!o->name) {
            fprintf(stderr, "history-bench: unknown option '%s' (try --help)\n", arg);
            return -1;
        }
        if (o->kind == K_FLAG) {
            if (eq) {
                fprintf(stderr, "history-bench: --%s takes no value\n", o->name);
                return -1;
            }
            *(int *)o->target = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "history-bench: --%s needs a value\n", o->name);
                return -1;
            }
            value = argv[++i];
        }
        if (o->kind == K_STR) {
            *(const char **)o->target = value;
            continue;
        }
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || v < o->min || v > o->max ||
            (o->kind == K_INT && v != (double)(long long)v)) {
            fprintf(stderr, "history-bench: --%s: '%s' is not a%s number in [%g, %g]\n", o->name,
                    value, o->kind == K_INT ? "n integer" : "", o->min, o->max);
            return -1;
        }
        if (o->kind == K_INT)
            *(long long *)o->target = (long long)v;
        else
            *(double *)o->target = v;
    }
    return 0;
}

/* ---------------------------------------------------------------- modes and results */

struct mode {
    const char *name;
    const char *durability; /* NULL: --history none */
};

static const struct mode all_modes[] = {{"off", NULL}, {"normal", "normal"}, {"full", "full"}};
#define NMODES (sizeof all_modes / sizeof all_modes[0])

struct lat_stats {
    size_t n;
    double p50_ms, p99_ms, max_ms, mean_ms;
};

struct phase_result {
    uint64_t sent;        /* msgs sent while measuring */
    uint64_t acked;       /* acks received while measuring */
    double secs;          /* length of the measured window */
    double acks_per_wake; /* acks handled per receive burst (a commit batch, roughly) */
    struct lat_stats lat; /* of msgs sent while measuring */
    uint64_t lost;        /* never answered within --drain-timeout */
};

struct result {
    const struct mode *mode;
    int ran, ok;
    char error[256];
    pid_t pid;
    int exit_status; /* of the broker, as from waitpid */
    struct phase_result tput, rate;
    uint64_t errors, unmatched, seq_gaps, fanout;
    char first_error[96];
};

/* ---------------------------------------------------------------- small helpers */

static volatile sig_atomic_t g_stop; /* 1: interrupted, 2: --timeout */

static void on_signal(int sig)
{
    g_stop = sig == SIGALRM ? 2 : 1;
}

static uint64_t now_us(void)
{
    return clock_mono_us();
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "history-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void set_error(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct result *r, const char *fmt, ...)
{
    if (r->error[0]) return; /* the first reason is the one worth telling */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of v (sorted in place), in ms. */
static struct lat_stats lat_compute(uint64_t *v, size_t n)
{
    struct lat_stats s = {0};
    s.n = n;
    if (!n) return s;
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)v[i];
    size_t i50 = (n * 50 + 99) / 100, i99 = (n * 99 + 99) / 100;
    s.p50_ms = (double)v[i50 ? i50 - 1 : 0] / 1000.0;
    s.p99_ms = (double)v[i99 ? i99 - 1 : 0] / 1000.0;
    s.max_ms = (double)v[n - 1] / 1000.0;
    s.mean_ms = sum / (double)n / 1000.0;
    return s;
}

/* 1234567 -> "1,234,567" */
static const char *grouped(double v, char *buf, size_t len)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%.0f", v < 0 ? 0 : v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

static void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A ratio for JSON: null when it cannot be computed. */
static void json_num(FILE *f, double v, int valid)
{
    if (valid)
        fprintf(f, "%.4f", v);
    else
        fputs("null", f);
}

/* Removes the plain files in dir, then dir. */
static void remove_tree(const char *dir)
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

static void remove_db(const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", ".lock"};
    char path[4096];
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(path, sizeof path, "%s%s", db, suffix[i]);
        unlink(path);
    }
}

static void print_log_tail(const char *path)
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

static const char *fs_name(const char *dir)
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

/* What one fdatasync costs where the database lives: 4 KiB written, then
 * synced, over a pre-allocated file, for up to 0.5 s. */
struct fsync_probe {
    size_t n;
    double p50_ms, p99_ms;
};

static struct fsync_probe probe_fsync(const char *dir)
{
    struct fsync_probe p = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/fsync-probe", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return p;
    static char buf[4096];
    memset(buf, 'x', sizeof buf);
    int ok = 1;
    for (int i = 0; i < 256 && ok; i++) ok = pwrite(fd, buf, sizeof buf, (off_t)i * 4096) == 4096;
    if (ok && fsync(fd) == 0) {
        uint64_t v[400], until = now_us() + 500000;
        size_t n = 0;
        while (n < sizeof v / sizeof *v && now_us() < until && !g_stop) {
            if (pwrite(fd, buf, sizeof buf, (off_t)(n % 256) * 4096) != 4096) break;
            uint64_t t = now_us();
            if (fdatasync(fd) < 0) break;
            v[n++] = now_us() - t;
        }
        struct lat_stats s = lat_compute(v, n);
        p.n = n;
        p.p50_ms = s.p50_ms;
        p.p99_ms = s.p99_ms;
    }
    close(fd);
    unlink(path);
    return p;
}

/* A TCP port nobody listens on right now (the broker may still lose a race
 * for it: then it fails to bind and the mode is retried on another). */
static int free_tcp_port(void)
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

/* ---------------------------------------------------------------- the broker process */

static pid_t spawn_broker(const char *bin, char *const argv[], const char *log_path)
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

/* SIGTERM, then wait (bounded); SIGKILL as the last resort. 0: it exited by itself. */
static int stop_broker(pid_t pid, int *status)
{
    kill(pid, SIGTERM);
    uint64_t until = now_us() + STOP_US;
    while (now_us() < until) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return 0;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

/* ---------------------------------------------------------------- the fake gateways */

struct gw {
    void *sock;
    int fd;
    char id[40];
    uint64_t instance;
    uint64_t next_hb_us;
    int answered; /* the broker answered our GatewayHello */
};

struct sess {
    uint64_t conn;
    unsigned gw;
    uint64_t last_seq;
    char nick[40], room[40];
};

/* One msg in flight, found by its client id "b<counter>". */
struct slot {
    uint64_t counter, sent_us;
    uint32_t sess;
    int live;
};

struct bench {
    const struct config *cfg;
    struct result *res;
    pid_t pid;
    uint64_t next_alive_check_us;
    void *zctx;
    struct gw gws[MAX_GATEWAYS];
    unsigned ngw;
    struct sess *sess;
    size_t nsess, rr;
    char *text;
    /* msgs in flight */
    struct slot *ring;
    size_t mask, outstanding;
    uint64_t next_counter;
    /* setup replies */
    size_t welcomes, joins, answered;
    size_t setup_errors;
    int reset_seen;
    /* the phase being measured: [meas_start, meas_end) */
    uint64_t meas_start, meas_end;
    uint64_t acks_in_window, sent_in_window, wakes, wake_acks;
    uint64_t *lat;
    size_t nlat, caplat;
    int lat_oom;
};

static int send_up(struct bench *b, unsigned g, const Chat__Upstream *up)
{
    uint8_t stack[8192];
    size_t len = chat__upstream__get_packed_size(up);
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf) return -1;
    chat__upstream__pack(up, buf);
    int rc = zmq_send(b->gws[g].sock, buf, len, ZMQ_DONTWAIT);
    if (buf != stack) free(buf);
    return rc < 0 ? -1 : 0;
}

static void send_gateway_hello(struct bench *b, unsigned g)
{
    Chat__GatewayHello h = CHAT__GATEWAY_HELLO__INIT;
    h.gateway_id = b->gws[g].id;
    h.instance = b->gws[g].instance;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HELLO;
    up.hello = &h;
    send_up(b, g, &up);
}

static void send_heartbeat(struct bench *b, unsigned g)
{
    Chat__Heartbeat hb = CHAT__HEARTBEAT__INIT;
    hb.instance = b->gws[g].instance;
    hb.has_sent_us = 1;
    hb.sent_us = now_us();
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HEARTBEAT;
    up.heartbeat = &hb;
    send_up(b, g, &up);
}

static int send_command(struct bench *b, unsigned g, Chat__Command *cmd)
{
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_COMMAND;
    up.command = cmd;
    return send_up(b, g, &up);
}

/* Heartbeats every second per gateway (before registration: the hello again). */
static void heartbeats(struct bench *b, uint64_t now)
{
    for (unsigned g = 0; g < b->ngw; g++) {
        struct gw *w = &b->gws[g];
        if (now < w->next_hb_us) continue;
        if (w->answered) {
            send_heartbeat(b, g);
            w->next_hb_us = now + HEARTBEAT_US;
        } else {
            send_gateway_hello(b, g);
            w->next_hb_us = now + 200000;
        }
    }
}

/* -1 when the broker is gone (or told us it does not know us). */
static int broker_alive(struct bench *b, uint64_t now)
{
    if (b->reset_seen) {
        set_error(b->res, "the broker answered Reset (it lost this gateway)");
        return -1;
    }
    if (now < b->next_alive_check_us) return 0;
    b->next_alive_check_us = now + 200000;
    int st;
    pid_t r = waitpid(b->pid, &st, WNOHANG);
    if (r == b->pid) {
        b->res->exit_status = st;
        b->pid = -1;
        set_error(b->res, "the broker exited early (%s %d)", WIFEXITED(st) ? "status" : "signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return -1;
    }
    return 0;
}

static void lat_add(struct bench *b, uint64_t v)
{
    if (b->nlat == b->caplat) {
        size_t cap = b->caplat ? b->caplat * 2 : 65536;
        uint64_t *n = realloc(b->lat, cap * sizeof *n);
        if (!n) {
            b->lat_oom = 1;
            return;
        }
        b->lat = n;
        b->caplat = cap;
    }
    b->lat[b->nlat++] = v;
}

/* The answer to msg "b<counter>": an Ack (ack != NULL) or an Error. 1 if an ack. */
static int settle(struct bench *b, const char *id, const Chat__Ack *ack, const char *err_code,
                  uint64_t now)
{
    char *end;
    errno = 0;
    uint64_t c = strtoull(id + 1, &end, 10);
    struct slot *sl = &b->ring[c & b->mask];
    if (errno || *end || !sl->live || sl->counter != c) {
        b->res->unmatched++;
        return 0;
    }
    sl->live = 0;
    b->outstanding--;
    if (!ack) {
        if (!b->res->errors++)
            snprintf(b->res->first_error, sizeof b->res->first_error, "%s", err_code);
        return 0;
    }
    struct sess *s = &b->sess[sl->sess];
    /* Alone in its room: each ack's seq is the previous one + 1. */
    if (!ack->has_seq || ack->seq != s->last_seq + 1) b->res->seq_gaps++;
    if (ack->has_seq) s->last_seq = ack->seq;
    if (now >= b->meas_start && now < b->meas_end) b->acks_in_window++;
    if (sl->sent_us >= b->meas_start && sl->sent_us < b->meas_end) lat_add(b, now - sl->sent_us);
    return 1;
}

static void on_event(struct bench *b, const Chat__Event *ev, uint64_t now, size_t *acks)
{
    int ours = ev->id && ev->id[0] == 'b'; /* a msg of a phase */
    switch (ev->ev_case) {
    case CHAT__EVENT__EV_WELCOME:
        b->welcomes++;
        break;
    case CHAT__EVENT__EV_JOINED:
        b->joins++;
        break;
    case CHAT__EVENT__EV_ACK:
        if (ours && ev->ack)
            *acks += (size_t)settle(b, ev->id, ev->ack, NULL, now);
        else
            b->res->unmatched++;
        break;
    case CHAT__EVENT__EV_ERROR:
        if (ours) {
            settle(b, ev->id, NULL, ev->error ? ev->error->code : "?", now);
        } else {
            b->setup_errors++;
            set_error(b->res, "setup command %s failed: %s", ev->id ? ev->id : "(no id)",
                      ev->error ? ev->error->code : "?");
        }
        break;
    case CHAT__EVENT__EV_MSG:
    case CHAT__EVENT__EV_PRESENCE:
    case CHAT__EVENT__EV_TYPING:
        b->res->fanout++; /* nobody else is in any room: should stay 0 */
        break;
    default: /* online counts and the like */
        break;
    }
}

/* Receives everything that is ready. Returns the number of envelopes. */
static size_t drain(struct bench *b)
{
    size_t n = 0, acks = 0;
    for (unsigned g = 0; g < b->ngw; g++) {
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, b->gws[g].sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            uint64_t now = now_us();
            n++;
            Chat__Downstream *d =
                chat__downstream__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            zmq_msg_close(&m);
            if (!d) continue;
            switch (d->body_case) {
            case CHAT__DOWNSTREAM__BODY_HEARTBEAT:
                if (!b->gws[g].answered) {
                    b->gws[g].answered = 1;
                    b->gws[g].next_hb_us = now + HEARTBEAT_US;
                    b->answered++;
                }
                break;
            case CHAT__DOWNSTREAM__BODY_RESET:
                b->reset_seen = 1;
                break;
            case CHAT__DOWNSTREAM__BODY_EVENT:
                if (d->event) on_event(b, d->event, now, &acks);
                break;
            default:
                break;
            }
            chat__downstream__free_unpacked(d, NULL);
        }
    }
    if (acks) {
        uint64_t now = now_us();
        if (now >= b->meas_start && now < b->meas_end) {
            b->wakes++;
            b->wake_acks += acks;
        }
    }
    return n;
}

/* Handles what is ready; if nothing was, waits up to timeout_us for more. */
static size_t pump(struct bench *b, uint64_t timeout_us)
{
    size_t n = drain(b);
    if (n || !timeout_us) return n;
    struct pollfd pfd[MAX_GATEWAYS];
    for (unsigned g = 0; g < b->ngw; g++) {
        /* ZMQ_FD is edge-like: after the drain above it is armed again, but a
         * send may have consumed its signal, so ask the socket too. */
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(b->gws[g].sock, ZMQ_EVENTS, &events, &sz) == 0 && (events & ZMQ_POLLIN))
            return drain(b);
        pfd[g] = (struct pollfd){.fd = b->gws[g].fd, .events = POLLIN};
    }
    struct timespec ts = {(time_t)(timeout_us / 1000000u), (long)(timeout_us % 1000000u) * 1000};
    ppoll(pfd, b->ngw, &ts, NULL);
    return drain(b);
}

static int can_send(const struct bench *b)
{
    return b->outstanding < (size_t)b->cfg->window && !b->ring[b->next_counter & b->mask].live;
}

/* Sends the next msg, round robin over the sessions. */
static int send_msg(struct bench *b)
{
    struct sess *s = &b->sess[b->rr];
    uint64_t c = b->next_counter;
    char id[24];
    snprintf(id, sizeof id, "b%" PRIu64, c);
    Chat__Msg m = CHAT__MSG__INIT;
    m.room = s->room;
    m.text = b->text;
    Chat__Command cmd = CHAT__COMMAND__INIT;
    cmd.conn = s->conn;
    cmd.id = id;
    cmd.cmd_case = CHAT__COMMAND__CMD_MSG;
    cmd.msg = &m;
    uint64_t t = now_us();
    if (send_command(b, s->gw, &cmd) < 0) return -1;
    struct slot *sl = &b->ring[c & b->mask];
    *sl = (struct slot){.counter = c, .sent_us = t, .sess = (uint32_t)b->rr, .live = 1};
    b->outstanding++;
    b->next_counter++;
    if (t >= b->meas_start && t < b->meas_end) b->sent_in_window++;
    b->rr = (b->rr + 1) % b->nsess;
    return 0;
}

/* Waits until *count reaches want (replies to setup commands). */
static int wait_for(struct bench *b, const size_t *count, size_t want, uint64_t until,
                    const char *what)
{
    while (*count < want) {
        uint64_t now = now_us();
        if (g_stop) return -1;
        if (broker_alive(b, now) < 0 || b->setup_errors) return -1;
        if (now >= until) {
            set_error(b->res, "timed out waiting for %s (%zu of %zu)", what, *count, want);
            return -1;
        }
        heartbeats(b, now);
        uint64_t left = until - now;
        pump(b, left < 50000 ? left : 50000);
    }
    return 0;
}

static int bench_connect(struct bench *b, const char *endpoint)
{
    if (!(b->zctx = zmq_ctx_new())) return -1;
    uint64_t base = ((uint64_t)getpid() << 32) ^ now_us();
    for (unsigned g = 0; g < b->ngw; g++) {
        struct gw *w = &b->gws[g];
        snprintf(w->id, sizeof w->id, "bench-gw%u-%d", g, (int)getpid());
        w->instance = base + g + 1;
        if (!(w->sock = zmq_socket(b->zctx, ZMQ_DEALER))) return -1;
        int zero = 0;
        size_t sz = sizeof w->fd;
        zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->id, strlen(w->id));
        zmq_setsockopt(w->sock, ZMQ_SNDHWM, &zero, sizeof zero); /* the window bounds us */
        zmq_setsockopt(w->sock, ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(w->sock, endpoint) < 0 || zmq_getsockopt(w->sock, ZMQ_FD, &w->fd, &sz) < 0)
            return -1;
    }
    return 0;
}

static void bench_close(struct bench *b)
{
    for (unsigned g = 0; g < b->ngw; g++)
        if (b->gws[g].sock) zmq_close(b->gws[g].sock);
    if (b->zctx) zmq_ctx_term(b->zctx);
    b->zctx = NULL;
    memset(b->gws, 0, sizeof b->gws);
}

/* GatewayHello on every link, then hello and join for every session. */
static int bench_setup(struct bench *b)
{
    uint64_t until = now_us() + STARTUP_US;
    heartbeats(b, now_us());
    if (wait_for(b, &b->answered, b->ngw, until, "the broker to answer GatewayHello") < 0)
        return -1;
    for (size_t i = 0; i < b->nsess; i++) {
        struct sess *s = &b->sess[i];
        char id[24];
        snprintf(id, sizeof id, "h%zu", i);
        Chat__Hello h = CHAT__HELLO__INIT;
        h.nick = s->nick;
        Chat__Command cmd = CHAT__COMMAND__INIT;
        cmd.conn = s->conn;
        cmd.id = id;
        cmd.cmd_case = CHAT__COMMAND__CMD_HELLO;
        cmd.hello = &h;
        if (send_command(b, s->gw, &cmd) < 0) {
            set_error(b->res, "cannot send hello: %s", zmq_strerror(errno));
            return -1;
        }
    }
    if (wait_for(b, &b->welcomes, b->nsess, until, "welcome") < 0) return -1;
    for (size_t i = 0; i < b->nsess; i++) {
        struct sess *s = &b->sess[i];
        char id[24];
        snprintf(id, sizeof id, "j%zu", i);
        Chat__Join j = CHAT__JOIN__INIT;
        j.room = s->room;
        Chat__Command cmd = CHAT__COMMAND__INIT;
        cmd.conn = s->conn;
        cmd.id = id;
        cmd.cmd_case = CHAT__COMMAND__CMD_JOIN;
        cmd.join = &j;
        if (send_command(b, s->gw, &cmd) < 0) {
            set_error(b->res, "cannot send join: %s", zmq_strerror(errno));
            return -1;
        }
    }
    return wait_for(b, &b->joins, b->nsess, until, "joined");
}

enum phase_kind { PHASE_THROUGHPUT, PHASE_RATE };

/* Warm-up, then the measured window, then waiting for every answer. */
static int run_phase(struct bench *b, enum phase_kind kind, struct phase_result *out)
{
    const struct config *cfg = b->cfg;
    uint64_t t0 = now_us();
    b->meas_start = t0 + (uint64_t)(cfg->warmup_s * 1e6);
    b->meas_end = b->meas_start + (uint64_t)(cfg->duration_s * 1e6);
    uint64_t drain_until = b->meas_end + (uint64_t)(cfg->drain_s * 1e6);
    b->acks_in_window = b->sent_in_window = b->wakes = b->wake_acks = 0;
    b->nlat = 0;
    double interval_us = 1e6 / (double)cfg->rate;
    uint64_t k = 0; /* msgs sent in this phase (PHASE_RATE: the schedule) */
    for (;;) {
        if (g_stop) {
            set_error(b->res, g_stop == 2 ? "--timeout reached" : "interrupted");
            return -1;
        }
        uint64_t now = now_us();
        int sending = now < b->meas_end;
        uint64_t due = t0 + (uint64_t)((double)k * interval_us);
        if (sending) {
            if (kind == PHASE_THROUGHPUT) {
                while (can_send(b) && send_msg(b) == 0) continue;
            } else {
                /* Behind schedule (a full window): catch up, and the
                 * achieved rate shows it. */
                while (due <= now && can_send(b) && send_msg(b) == 0)
                    due = t0 + (uint64_t)((double)++k * interval_us);
            }
        }
        heartbeats(b, now);
        if (broker_alive(b, now) < 0) return -1;
        if (!sending && !b->outstanding) break;
        if (!sending && now >= drain_until) break;
        uint64_t wait;
        if (!sending)
            wait = drain_until - now;
        else if (kind == PHASE_THROUGHPUT)
            wait = can_send(b) ? 1000 : b->meas_end - now; /* a refused send: retry soon */
        else if (can_send(b))
            wait = due > now ? due - now : 0;
        else
            wait = b->meas_end - now;
        if (sending && b->meas_end - now < wait) wait = b->meas_end - now;
        if (wait > 100000) wait = 100000; /* heartbeats, the broker's health */
        pump(b, wait ? wait : 1);
    }
    out->sent = b->sent_in_window;
    out->acked = b->acks_in_window;
    out->secs = (double)(b->meas_end - b->meas_start) / 1e6;
    out->acks_per_wake = b->wakes ? (double)b->wake_acks / (double)b->wakes : 0;
    out->lost = b->outstanding;
    out->lat = lat_compute(b->lat, b->nlat);
    if (b->lat_oom) set_error(b->res, "out of memory for latency samples");
    if (b->outstanding) {
        set_error(b->res, "%zu msgs unanswered %.0f s after the phase", b->outstanding,
                  cfg->drain_s);
        /* Forget them, so the next phase starts clean. */
        for (size_t i = 0; i <= b->mask; i++) b->ring[i].live = 0;
        b->outstanding = 0;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- one mode */

static void run_mode(const struct config *cfg, const char *tmp, const struct mode *m,
                     struct result *r)
{
    r->mode = m;
    r->ran = 1;
    char db[4096], logp[4096], endpoint[4200];
    snprintf(db, sizeof db, "%s/history-%s.db", tmp, m->name);
    snprintf(logp, sizeof logp, "%s/broker-%s.log", tmp, m->name);

    struct bench b = {.cfg = cfg, .res = r, .pid = -1};
    b.ngw = (unsigned)cfg->gateways;
    b.nsess = (size_t)cfg->sessions;
    size_t ringsz = 1;
    while (ringsz < (size_t)cfg->window * 4) ringsz <<= 1; /* room for acks out of order */
    b.mask = ringsz - 1;
    b.sess = calloc(b.nsess, sizeof *b.sess);
    b.ring = calloc(ringsz, sizeof *b.ring);
    b.text = malloc((size_t)cfg->text_bytes + 1);
    if (!b.sess || !b.ring || !b.text) {
        set_error(r, "out of memory");
        goto out;
    }
    static const char words[] = "the quick brown fox jumps over the lazy dog ";
    for (long long i = 0; i < cfg->text_bytes; i++) b.text[i] = words[i % (sizeof words - 1)];
    b.text[cfg->text_bytes] = '\0';
    if (b.text[cfg->text_bytes - 1] == ' ') b.text[cfg->text_bytes - 1] = '.';
    for (size_t i = 0; i < b.nsess; i++) {
        b.sess[i].conn = i + 1;
        b.sess[i].gw = (unsigned)(i % b.ngw);
        snprintf(b.sess[i].nick, sizeof b.sess[i].nick, "bench_%zu", i);
        snprintf(b.sess[i].room, sizeof b.sess[i].room, "bench-%zu", i);
    }

    int tcp = !strcmp(cfg->transport, "tcp");
    for (int attempt = 0;; attempt++) {
        if (tcp) {
            int port = free_tcp_port();
            if (port < 0) {
                set_error(r, "no free TCP port: %s", strerror(errno));
                goto out;
            }
            snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        } else {
            snprintf(endpoint, sizeof endpoint, "ipc://%s/broker-%s.sock", tmp, m->name);
        }
        char *argv[16];
        int a = 0;
        argv[a++] = (char *)cfg->broker;
        argv[a++] = "--listen";
        argv[a++] = endpoint;
        argv[a++] = "--history";
        argv[a++] = m->durability ? db : "none";
        if (m->durability) {
            argv[a++] = "--durability";
            argv[a++] = (char *)m->durability;
        }
        argv[a++] = "--log-level";
        argv[a++] = "info";
        argv[a] = NULL;
        if ((b.pid = spawn_broker(cfg->broker, argv, logp)) < 0) {
            set_error(r, "cannot start %s: %s", cfg->broker, strerror(errno));
            goto out;
        }
        r->pid = b.pid;
        progress("[%s] broker pid %d on %s%s%s", m->name, (int)b.pid, endpoint,
                 m->durability ? ", history " : "", m->durability ? db : "");
        if (bench_connect(&b, endpoint) < 0) {
            set_error(r, "ZeroMQ: %s", zmq_strerror(errno));
            goto out;
        }
        if (bench_setup(&b) == 0) break;
        /* A TCP port taken between our probe and the broker's bind: again. */
        if (!(tcp && b.pid < 0 && attempt < 2 && !g_stop)) goto out;
        bench_close(&b);
        r->error[0] = '\0';
        b.answered = b.welcomes = b.joins = 0;
    }
    progress("[%s] %zu sessions identified, each alone in its room, on %u gateway(s)", m->name,
             b.nsess, b.ngw);

    if (cfg->do_tput) {
        progress("[%s] throughput: %.1f s warm-up + %.1f s, window %lld", m->name, cfg->warmup_s,
                 cfg->duration_s, cfg->window);
        if (run_phase(&b, PHASE_THROUGHPUT, &r->tput) < 0) goto out;
        progress("[%s]   %.0f committed msg/s", m->name, (double)r->tput.acked / r->tput.secs);
    }
    if (cfg->do_rate) {
        progress("[%s] latency: %lld msg/s for %.1f s warm-up + %.1f s", m->name, cfg->rate,
                 cfg->warmup_s, cfg->duration_s);
        if (run_phase(&b, PHASE_RATE, &r->rate) < 0) goto out;
        progress("[%s]   ack p50 %.3f ms, p99 %.3f ms, max %.3f ms", m->name, r->rate.lat.p50_ms,
                 r->rate.lat.p99_ms, r->rate.lat.max_ms);
    }
    if (r->errors)
        set_error(r, "%" PRIu64 " msgs answered with an error (first: %s)", r->errors,
                  r->first_error);
    else if (r->seq_gaps)
        set_error(r, "%" PRIu64 " acks out of seq order", r->seq_gaps);
    else
        r->ok = 1;
out:
    bench_close(&b);
    if (b.pid > 0) {
        int st = 0;
        if (stop_broker(b.pid, &st) < 0) {
            set_error(r, "the broker ignored SIGTERM for %u s: killed", STOP_US / 1000000u);
            r->ok = 0;
        }
        r->exit_status = st;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            set_error(r, "the broker exited with %s %d", WIFEXITED(st) ? "status" : "signal",
                      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            r->ok = 0;
        }
    }
    if (!r->ok) {
        progress("[%s] FAILED: %s", m->name, r->error[0] ? r->error : "unknown");
        if (!g_stop) print_log_tail(logp); /* the broker's side of the story */
    }
    if (!cfg->keep) {
        remove_db(db);
        unlink(logp);
    }
    free(b.lat);
    free(b.sess);
    free(b.ring);
    free(b.text);
}

/* ---------------------------------------------------------------- report */

struct targets {
    int have_normal, have_full;
    double normal_tput, full_p99_ratio, full_p99, off_p99;
    int normal_pass, full_pass;
};

static const struct result *find(const struct result *res, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (res[i].ran && res[i].ok && !strcmp(res[i].mode->name, name)) return &res[i];
    return NULL;
}

static double tput_of(const struct result *r)
{
    return r->tput.secs > 0 ? (double)r->tput.acked / r->tput.secs : 0;
}

static struct targets eval_targets(const struct config *cfg, const struct result *res, size_t n)
{
    struct targets t = {0};
    const struct result *off = find(res, n, "off"), *normal = find(res, n, "normal"),
                        *full = find(res, n, "full");
    if (normal && cfg->do_tput) {
        t.have_normal = 1;
        t.normal_tput = tput_of(normal);
        t.normal_pass = t.normal_tput >= cfg->target_normal_tput;
    }
    if (full && off && cfg->do_rate && off->rate.lat.p99_ms > 0) {
        t.have_full = 1;
        t.full_p99 = full->rate.lat.p99_ms;
        t.off_p99 = off->rate.lat.p99_ms;
        t.full_p99_ratio = t.full_p99 / t.off_p99;
        t.full_pass = t.full_p99_ratio <= cfg->target_full_p99x;
    }
    return t;
}

static void print_table(const struct config *cfg, const char *tmp, const struct fsync_probe *fp,
                        const struct result *res, size_t n, const struct targets *t)
{
    const struct result *off = find(res, n, "off");
    char a[32], bbuf[32];
    printf("\nhistory-bench: %lld sessions, each alone in its own room (fan-out = the sender's "
           "ack only),\n  on %lld gateway(s) over %s; %lld-byte texts; throughput window %lld "
           "msgs;\n  %.1f s measured per phase after %.1f s warm-up; latency phase at %lld "
           "msg/s.\n  Databases in %s (%s); fdatasync there: p50 %.3f ms, p99 %.3f ms (%zu "
           "samples).\n\n",
           cfg->sessions, cfg->gateways, cfg->transport, cfg->text_bytes, cfg->window,
           cfg->duration_s, cfg->warmup_s, cfg->rate, tmp, fs_name(tmp), fp->p50_ms, fp->p99_ms,
           fp->n);
    char rate_label[32];
    snprintf(rate_label, sizeof rate_label, "at %s/s", grouped((double)cfg->rate, a, sizeof a));
    printf("%-7s | %15s | %10s | %10s | %10s | %-21s\n", "mode", "committed msg/s", "ack p50 ms",
           "ack p99 ms", "ack max ms", "ratio vs off");
    printf("%-7s | %15s | %10s | %10s | %10s | %-21s\n", "", "(full speed)", rate_label, rate_label,
           rate_label, " msg/s       p99");
    printf("--------+-----------------+------------+------------+------------+---------------"
           "-------\n");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->ran) continue;
        if (!r->ok) {
            printf("%-7s | FAILED: %s\n", r->mode->name, r->error);
            continue;
        }
        /* "-" for what was not measured (--phases, or no off to compare with) */
        char tp[32] = "-", p50[16] = "-", p99[16] = "-", max[16] = "-", rt[16] = "-", rp[16] = "-";
        if (cfg->do_tput) grouped(tput_of(r), tp, sizeof tp);
        if (cfg->do_rate) {
            snprintf(p50, sizeof p50, "%.3f", r->rate.lat.p50_ms);
            snprintf(p99, sizeof p99, "%.3f", r->rate.lat.p99_ms);
            snprintf(max, sizeof max, "%.3f", r->rate.lat.max_ms);
        }
        if (off && cfg->do_tput && tput_of(off) > 0)
            snprintf(rt, sizeof rt, "%.2fx", tput_of(r) / tput_of(off));
        if (off && cfg->do_rate && off->rate.lat.p99_ms > 0)
            snprintf(rp, sizeof rp, "%.2fx", r->rate.lat.p99_ms / off->rate.lat.p99_ms);
        printf("%-7s | %15s | %10s | %10s | %10s | %6s %9s\n", r->mode->name, tp, p50, p99, max, rt,
               rp);
    }
    printf("\ntargets:\n");
    if (t->have_normal)
        printf("  normal: committed msg/s >= %s: %s  %s\n",
               grouped(cfg->target_normal_tput, a, sizeof a),
               grouped(t->normal_tput, bbuf, sizeof bbuf), t->normal_pass ? "PASS" : "MISS");
    else
        printf("  normal: committed msg/s >= %s: not measured\n",
               grouped(cfg->target_normal_tput, a, sizeof a));
    if (t->have_full)
        printf("  full: ack p99 at %lld msg/s within %.1fx of off: %.3f ms vs %.3f ms = %.2fx  "
               "%s\n",
               cfg->rate, cfg->target_full_p99x, t->full_p99, t->off_p99, t->full_p99_ratio,
               t->full_pass ? "PASS" : "MISS");
    else
        printf("  full: ack p99 at %lld msg/s within %.1fx of off: not measured (needs off and "
               "full)\n",
               cfg->rate, cfg->target_full_p99x);

    printf("\ndetails:\n");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->ran || !r->ok) continue;
        printf("  %s:\n", r->mode->name);
        if (cfg->do_tput)
            printf("    throughput phase: %" PRIu64 " acks in %.1f s; ack p50 %.2f ms, p99 "
                   "%.2f ms under load; %.1f acks per wake-up\n",
                   r->tput.acked, r->tput.secs, r->tput.lat.p50_ms, r->tput.lat.p99_ms,
                   r->tput.acks_per_wake);
        if (cfg->do_rate)
            printf("    latency phase: %" PRIu64 " sent (%.0f msg/s achieved), %zu acks timed, "
                   "mean %.3f ms; %.1f acks per wake-up\n",
                   r->rate.sent, (double)r->rate.sent / r->rate.secs, r->rate.lat.n,
                   r->rate.lat.mean_ms, r->rate.acks_per_wake);
        printf("    errors %" PRIu64 ", unmatched %" PRIu64 ", seq gaps %" PRIu64
               ", fan-out events %" PRIu64 "\n",
               r->errors, r->unmatched, r->seq_gaps, r->fanout);
    }
    if (!strcmp(fs_name(tmp), "tmpfs") || !strcmp(fs_name(tmp), "ramfs"))
        printf("\nwarning: %s is in memory: fsync costs nothing there; use --dir on a real disk\n",
               tmp);
}

static void print_phase_json(FILE *f, const struct phase_result *p, int rate)
{
    fprintf(f, "{\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"seconds\":%.3f,", p->sent, p->acked,
            p->secs);
    if (rate)
        fprintf(f, "\"achieved_per_s\":%.1f,", p->secs > 0 ? (double)p->sent / p->secs : 0);
    else
        fprintf(f, "\"committed_per_s\":%.1f,", p->secs > 0 ? (double)p->acked / p->secs : 0);
    fprintf(f,
            "\"ack_samples\":%zu,\"ack_p50_ms\":%.4f,\"ack_p99_ms\":%.4f,\"ack_max_ms\":%.4f,"
            "\"ack_mean_ms\":%.4f,\"acks_per_wakeup\":%.2f,\"lost\":%" PRIu64 "}",
            p->lat.n, p->lat.p50_ms, p->lat.p99_ms, p->lat.max_ms, p->lat.mean_ms, p->acks_per_wake,
            p->lost);
}

static void print_json(const struct config *cfg, const char *tmp, const struct fsync_probe *fp,
                       const struct result *res, size_t n, const struct targets *t,
                       const char *verdict)
{
    FILE *f = stdout;
    const struct result *off = find(res, n, "off");
    fprintf(f, "{\"config\":{\"sessions\":%lld,\"rooms\":%lld,\"gateways\":%lld,", cfg->sessions,
            cfg->sessions, cfg->gateways);
    fprintf(f, "\"text_bytes\":%lld,\"window\":%lld,\"duration_s\":%.3f,\"warmup_s\":%.3f,",
            cfg->text_bytes, cfg->window, cfg->duration_s, cfg->warmup_s);
    fprintf(f, "\"rate\":%lld,\"transport\":", cfg->rate);
    json_str(f, cfg->transport);
    fprintf(f, ",\"dir\":");
    json_str(f, tmp);
    fprintf(f, ",\"filesystem\":");
    json_str(f, fs_name(tmp));
    fprintf(f, ",\"broker\":");
    json_str(f, cfg->broker);
    fprintf(f, "},\"fsync_probe\":{\"samples\":%zu,\"p50_ms\":%.4f,\"p99_ms\":%.4f},", fp->n,
            fp->p50_ms, fp->p99_ms);
    fprintf(f, "\"modes\":[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->ran) continue;
        fprintf(f, "%s{\"mode\":", first ? "" : ",");
        first = 0;
        json_str(f, r->mode->name);
        fprintf(f, ",\"history\":%s,\"durability\":", r->mode->durability ? "true" : "false");
        json_str(f, r->mode->durability);
        fprintf(f, ",\"ok\":%s,\"error\":", r->ok ? "true" : "false");
        json_str(f, r->ok ? NULL : r->error);
        fprintf(f, ",\"throughput\":");
        if (cfg->do_tput)
            print_phase_json(f, &r->tput, 0);
        else
            fputs("null", f);
        fprintf(f, ",\"latency\":");
        if (cfg->do_rate)
            print_phase_json(f, &r->rate, 1);
        else
            fputs("null", f);
        fprintf(f,
                ",\"errors\":%" PRIu64 ",\"unmatched\":%" PRIu64 ",\"seq_gaps\":%" PRIu64
                ",\"fanout_events\":%" PRIu64 ",\"throughput_vs_off\":",
                r->errors, r->unmatched, r->seq_gaps, r->fanout);
        int rt = off && r->ok && cfg->do_tput && tput_of(off) > 0;
        int rp = off && r->ok && cfg->do_rate && off->rate.lat.p99_ms > 0;
        json_num(f, rt ? tput_of(r) / tput_of(off) : 0, rt);
        fprintf(f, ",\"p99_vs_off\":");
        json_num(f, rp ? r->rate.lat.p99_ms / off->rate.lat.p99_ms : 0, rp);
        fprintf(f, "}");
    }
    fprintf(f,
            "],\"targets\":[{\"name\":\"normal_throughput\",\"want\":\"normal committed "
            "msg/s >= %.0f\",\"value\":",
            cfg->target_normal_tput);
    json_num(f, t->normal_tput, t->have_normal);
    fprintf(f, ",\"result\":\"%s\"},", !t->have_normal ? "n/a" : t->normal_pass ? "PASS" : "MISS");
    fprintf(f,
            "{\"name\":\"full_p99_vs_off\",\"want\":\"full ack p99 at %lld msg/s <= %.2fx off\","
            "\"value\":",
            cfg->rate, cfg->target_full_p99x);
    json_num(f, t->full_p99_ratio, t->have_full);
    fprintf(f, ",\"result\":\"%s\"}],\"result\":\"%s\"}\n",
            !t->have_full  ? "n/a"
            : t->full_pass ? "PASS"
                           : "MISS",
            verdict);
}

/* ---------------------------------------------------------------- main */

/* The chat-broker next to us: $CHAT_BROKER_BIN, else the one this build made. */
static const char *default_broker(void)
{
    const char *env = getenv("CHAT_BROKER_BIN");
    return env && *env ? env : CHAT_BROKER_DEFAULT;
}

int main(int argc, char **argv)
{
    const char *tmpenv = getenv("TMPDIR");
    struct config cfg = {
        .broker = default_broker(),
        .modes = "off,normal,full",
        .phases = "throughput,latency",
        .transport = "ipc",
        .dir = tmpenv && *tmpenv ? tmpenv : "/tmp",
        .duration_s = 5,
        .warmup_s = 1,
        .drain_s = 10,
        .timeout_s = 300,
        .rate = 5000,
        .window = 5000,
        .sessions = 100,
        .gateways = 2,
        .text_bytes = 100,
        .target_normal_tput = 50000,
        .target_full_p99x = 2,
    };
    const struct opt opts[] = {
        {"broker", "PATH", K_STR, &cfg.broker, 0, 0, "the chat-broker to start"},
        {"modes", "LIST", K_STR, &cfg.modes, 0, 0, "comma-separated, of off, normal and full"},
        {"phases", "LIST", K_STR, &cfg.phases, 0, 0,
         "comma-separated, of throughput and latency (run in that order)"},
        {"duration", "S", K_DBL, &cfg.duration_s, 0.1, 3600, "seconds measured in each phase"},
        {"warmup", "S", K_DBL, &cfg.warmup_s, 0, 600, "unmeasured seconds before each phase"},
        {"rate", "N", K_INT, &cfg.rate, 1, 10000000, "msg/s of the latency phase"},
        {"window", "N", K_INT, &cfg.window, 1, 1000000, "msgs in flight at most"},
        {"sessions", "N", K_INT, &cfg.sessions, 1, 100000,
         "sessions, each alone in a room of its own"},
        {"gateways", "N", K_INT, &cfg.gateways, 1, MAX_GATEWAYS,
         "fake gateways (DEALER sockets) the sessions are spread over"},
        {"text-bytes", "N", K_INT, &cfg.text_bytes, 1, 4000, "bytes of each message's text"},
        {"transport", "ipc|tcp", K_STR, &cfg.transport, 0, 0,
         "ipc:// in the temporary directory, or tcp://127.0.0.1 on a free port"},
        {"dir", "DIR", K_STR, &cfg.dir, 0, 0,
         "where the temporary directory (databases, socket, broker logs) is made"},
        {"drain-timeout", "S", K_DBL, &cfg.drain_s, 0.1, 600,
         "seconds to wait for the last answers after a phase"},
        {"timeout", "S", K_DBL, &cfg.timeout_s, 1, 86400, "hard limit on the whole run"},
        {"target-normal", "N", K_DBL, &cfg.target_normal_tput, 0, 1e9,
         "target: committed msg/s with --durability normal at least"},
        {"target-full-p99", "X", K_DBL, &cfg.target_full_p99x, 0, 1e6,
         "target: full's ack p99 at --rate at most X times off's"},
        {"keep", NULL, K_FLAG, &cfg.keep, 0, 0,
         "keep the temporary directory (databases, broker logs)"},
        {"json", NULL, K_FLAG, &cfg.json, 0, 0, "print the results as one JSON object"},
        {0},
    };
    int rc = parse_args(opts, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    if (strcmp(cfg.transport, "ipc") && strcmp(cfg.transport, "tcp")) {
        fprintf(stderr, "history-bench: --transport must be ipc or tcp\n");
        return 2;
    }
    int want[NMODES] = {0}, nwant = 0;
    {
        char list[256];
        snprintf(list, sizeof list, "%s", cfg.modes);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            size_t i;
            for (i = 0; i < NMODES; i++)
                if (!strcmp(tok, all_modes[i].name)) break;
            if (i == NMODES) {
                fprintf(stderr, "history-bench: unknown mode '%s' (off, normal, full)\n", tok);
                return 2;
            }
            nwant += !want[i];
            want[i] = 1;
        }
    }
    {
        char list[256];
        snprintf(list, sizeof list, "%s", cfg.phases);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!strcmp(tok, "throughput"))
                cfg.do_tput = 1;
            else if (!strcmp(tok, "latency"))
                cfg.do_rate = 1;
            else {
                fprintf(stderr, "history-bench: unknown phase '%s' (throughput, latency)\n", tok);
                return 2;
            }
        }
    }
    if (!nwant || !(cfg.do_tput || cfg.do_rate)) {
        fprintf(stderr, "history-bench: --modes or --phases names nothing\n");
        return 2;
    }
    if (access(cfg.broker, X_OK) < 0) {
        fprintf(stderr, "history-bench: cannot run the broker '%s' (give --broker): %s\n",
                cfg.broker, strerror(errno));
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)cfg.timeout_s);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/history-bench.XXXXXX", cfg.dir);
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "history-bench: cannot make a directory in %s: %s\n", cfg.dir,
                strerror(errno));
        return 1;
    }
    if (!strcmp(cfg.transport, "ipc") && strlen(tmp) + 32 > 107) {
        fprintf(stderr,
                "history-bench: %s is too long for an ipc:// path; use --dir or "
                "--transport tcp\n",
                tmp);
        rmdir(tmp);
        return 2;
    }
    progress("working in %s (%s)", tmp, fs_name(tmp));
    struct fsync_probe fp = probe_fsync(tmp);

    struct result res[NMODES];
    memset(res, 0, sizeof res);
    int failed = 0;
    for (size_t i = 0; i < NMODES; i++) {
        res[i].mode = &all_modes[i];
        if (!want[i]) continue;
        if (g_stop) {
            res[i].ran = 1;
            set_error(&res[i], g_stop == 2 ? "--timeout reached" : "interrupted");
            failed = 1;
            continue;
        }
        run_mode(&cfg, tmp, &all_modes[i], &res[i]);
        if (!res[i].ok) failed = 1;
    }
    alarm(0);

    struct targets t = eval_targets(&cfg, res, NMODES);
    int missed = (t.have_normal && !t.normal_pass) || (t.have_full && !t.full_pass);
    const char *verdict = failed ? "ERROR" : missed ? "MISS" : "PASS";
    if (cfg.json)
        print_json(&cfg, tmp, &fp, res, NMODES, &t, verdict);
    else
        print_table(&cfg, tmp, &fp, res, NMODES, &t);
    fflush(stdout);
    if (cfg.keep)
        progress("kept %s", tmp);
    else
        remove_tree(tmp);
    return failed ? 1 : missed ? 3 : 0;
}
