/* stats: latency samples, their percentiles, and the clock to time them with.
 *
 * Meant for any load tool (history-bench, chat-bench): take stats_now_us() when a request goes out
 * and again when its answer comes back, add the difference to a struct stats_samples, and summarize
 * at the end of a phase. Percentiles are nearest-rank over every sample (no histogram buckets): p99
 * of 100 samples is the 99th smallest. */
#ifndef CHAT_BENCH_STATS_H
#define CHAT_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Latencies summed up, in ms. */
struct stats_summary {
    size_t n;
    double p50_ms, p90_ms, p99_ms, p999_ms, max_ms, mean_ms;
};

/* A growing array of latencies in µs; starts zeroed ({0}). */
struct stats_samples {
    uint64_t *v;
    size_t n, cap;
    int oom; /* a sample was dropped for want of memory; stays set until freed */
};

/* Monotonic µs, for intervals only (no relation to the wall clock). */
uint64_t stats_now_us(void);

/* Appends us; if memory runs out, drops it and sets s->oom. */
void stats_samples_add(struct stats_samples *s, uint64_t us);
/* Forgets the samples, keeps the memory (and s->oom). */
void stats_samples_clear(struct stats_samples *s);
void stats_samples_free(struct stats_samples *s);
/* Appends every sample of src to dst (a load tool's threads keep their own
 * samples and merge them at the end); sets dst->oom if memory runs out. */
void stats_samples_merge(struct stats_samples *dst, const struct stats_samples *src);

/* Nearest-rank percentiles of v[0..n), which it sorts in place; all zero when
 * n is 0. */
struct stats_summary stats_summarize(uint64_t *v, size_t n);

#endif
