/* brokerproc: a chat-broker run as a child process of a load tool, and the
 * scratch directory it works in.
 *
 * The child reads /dev/null, writes its log to a file of ours, and dies with
 * us (PR_SET_PDEATHSIG) even if we are killed outright. Stopping it is
 * SIGTERM and a bounded wait, SIGKILL only as the last resort. The directory
 * helpers clean up after it (its database files, its log) and tell what kind
 * of disk it writes to and what an fdatasync costs there. */
#ifndef CHAT_BENCH_BROKERPROC_H
#define CHAT_BENCH_BROKERPROC_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* How long brokerproc_stop() waits after SIGTERM: the broker drains its store
 * for up to 10 s before it exits. */
#define BROKERPROC_STOP_US 20000000u

/* Starts the chat-broker at bin listening on endpoint, with --history db and
 * --durability durability (or --history none when durability is NULL) and
 * --log-level info; its stdout and stderr go to log_path (truncated). The pid,
 * or -1 with errno set. */
pid_t brokerproc_start(const char *bin, const char *endpoint, const char *db,
                       const char *durability, const char *log_path);

/* SIGTERM, then waits up to BROKERPROC_STOP_US, then SIGKILL. *status is as
 * from waitpid. 0: it exited by itself; -1: it had to be killed. */
int brokerproc_stop(pid_t pid, int *status);

/* 1 when pid has exited (now reaped; *status as from waitpid), else 0. */
int brokerproc_exited(pid_t pid, int *status);

/* A loopback TCP port nobody listens on right now, or -1 (errno set). The
 * broker may still lose a race for it. */
int brokerproc_free_tcp_port(void);

/* Removes the plain files in dir, then dir. */
void brokerproc_remove_tree(const char *dir);
/* Removes an SQLite database and its companions (-wal, -shm, -journal, .lock). */
void brokerproc_remove_db(const char *db);
/* Copies the last 20 lines of the log at path to stderr. */
void brokerproc_log_tail(const char *path);
/* The file system dir is on: "ext4", "tmpfs", ..., "other" or "unknown"
 * (a static string). */
const char *brokerproc_fs_name(const char *dir);

/* What one fdatasync costs in a directory. */
struct brokerproc_fsync {
    size_t n; /* samples; 0 when the probe could not run */
    double p50_ms, p99_ms;
};

/* Writes 4 KiB and syncs, over a pre-allocated file in dir, for up to 0.5 s
 * or until *stop is set; the file is removed afterwards. */
struct brokerproc_fsync brokerproc_probe_fsync(const char *dir, const volatile sig_atomic_t *stop);

#endif
