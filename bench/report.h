/* report: history-bench's results for people (a table, with the details of
 * each mode under it) or for programs (one JSON object on stdout), and the
 * verdict on the two targets: committed msg/s with --durability normal, and
 * full's ack p99 against off's. */
#ifndef CHAT_BENCH_REPORT_H
#define CHAT_BENCH_REPORT_H

#include <stddef.h>

#include "brokerproc.h"
#include "history_bench.h"

struct targets {
    int have_normal, have_full; /* 0: not measured (mode or phase not run, or failed) */
    double normal_tput, full_p99_ratio, full_p99, off_p99;
    int normal_pass, full_pass;
};

/* Weighs the modes that ran and succeeded in res[0..n) against the targets. */
struct targets report_targets(const struct config *cfg, const struct result *res, size_t n);

/* tmp: the directory the databases were in; fp: the fdatasync probe made there. */
void report_table(const struct config *cfg, const char *tmp, const struct brokerproc_fsync *fp,
                  const struct result *res, size_t n, const struct targets *t);
/* verdict: "PASS", "MISS" or "ERROR". */
void report_json(const struct config *cfg, const char *tmp, const struct brokerproc_fsync *fp,
                 const struct result *res, size_t n, const struct targets *t, const char *verdict);

#endif
