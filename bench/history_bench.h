/* history_bench.h: what the parts of history-bench share. The settings of a
 * run (struct config), the modes it compares, what one mode measured (struct
 * result), the flag the signal handlers set, and result_error().
 * history_bench.c (options, modes, main) defines them; load.c runs the
 * phases against one broker; report.c prints the table or the JSON. */
#ifndef CHAT_BENCH_HISTORY_BENCH_H
#define CHAT_BENCH_HISTORY_BENCH_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats.h"

struct config {
    const char *broker, *modes, *phases, *transport, *dir;
    int do_tput, do_rate; /* from phases */
    double duration_s, warmup_s, drain_s, timeout_s;
    long long rate, window, sessions, gateways, text_bytes;
    double target_normal_tput; /* msg/s */
    double target_full_p99x;   /* times the p99 with history off */
    int json, keep;
};

struct mode {
    const char *name;
    const char *durability; /* NULL: --history none */
};

struct phase_result {
    uint64_t sent;            /* msgs sent while measuring */
    uint64_t acked;           /* acks received while measuring */
    double secs;              /* length of the measured window */
    double acks_per_wake;     /* acks handled per receive burst (a commit batch, roughly) */
    struct stats_summary lat; /* of msgs sent while measuring */
    uint64_t lost;            /* never answered within --drain-timeout */
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

/* 1: interrupted (SIGINT, SIGTERM), 2: --timeout (SIGALRM). */
extern volatile sig_atomic_t history_stop;

/* Records why r failed, unless a reason is already there (the first one is
 * the one worth telling). */
void result_error(struct result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
