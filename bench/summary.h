/* summary: chat-bench's results, for people (a table) or for programs (one
 * JSON object on stdout). Both sum up the merged tally: latency percentiles
 * (which sorts its samples), rates over the measured window, the delivery
 * ratio, counts by code and the CPU the process used. */
#ifndef CHAT_BENCH_SUMMARY_H
#define CHAT_BENCH_SUMMARY_H

#include "chat_bench.h"
#include "tally.h"

struct cb_times {
    double connect_s;      /* first connection started -> last one ready */
    double connect_wall_s; /* the whole connect phase, waiting included */
    double settle_s, measure_s, drain_s, idle_s;
    int drained; /* every answer of the window came before --drain-timeout */
};

/* CPU seconds this process used, and the wall-clock seconds they were used in. */
struct cb_cpu {
    double user_s, sys_s, wall_s;
};

/* window: the measured window (the connect phase for --storm); all: the
 * whole run. stopped: cb_stop at the end. */
void summary_table(const struct cb_config *cfg, struct tally *t, const struct cb_times *tm,
                   const struct cb_cpu *window, const struct cb_cpu *all, int stopped);
void summary_json(const struct cb_config *cfg, struct tally *t, const struct cb_times *tm,
                  const struct cb_cpu *window, const struct cb_cpu *all, int stopped);

#endif
