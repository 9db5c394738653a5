/* load: the msg load history-bench puts on one broker, through fakegw.
 *
 * Every session is alone in its room. Msgs go out round robin over the
 * sessions with client ids "b<counter>", at most --window of them in flight;
 * each answer is matched back through its id, and an ack's seq must be the
 * previous one in that room + 1. A phase is a warm-up, a measured window and
 * a drain that waits for every answer: what it reports is the acks received
 * in the window, the msgs sent in it, and the latency (send -> Ack) of each
 * msg sent in it. Counters and failures go to the struct result it was given. */
#ifndef CHAT_BENCH_LOAD_H
#define CHAT_BENCH_LOAD_H

#include <sys/types.h>

#include "history_bench.h"

enum load_phase {
    LOAD_THROUGHPUT, /* as fast as acks come back, the window full */
    LOAD_RATE,       /* at --rate msg/s */
};

struct load;

/* NULL when out of memory. cfg and res must outlive it. */
struct load *load_new(const struct config *cfg, struct result *res);
/* Disconnects, frees *lp and sets it to NULL. */
void load_destroy(struct load **lp);

/* Connects the fake gateways to endpoint, where the broker process pid
 * listens; that process is watched from then on. -1 with errno set. */
int load_connect(struct load *l, const char *endpoint, pid_t pid);
void load_disconnect(struct load *l);
/* The broker's pid; -1 once it has been seen to exit (its status is then in
 * the result). */
pid_t load_broker(const struct load *l);

/* Registers every gateway, then identifies every session and joins it to its
 * room. 0, or -1 with the reason in the result. */
int load_setup(struct load *l);

/* Runs one phase into *out. 0, or -1 with the reason in the result. */
int load_run_phase(struct load *l, enum load_phase kind, struct phase_result *out);

#endif
