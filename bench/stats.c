/* stats.c: latency samples and nearest-rank percentiles (see stats.h). */
#include <stdlib.h>

#include "clock.h"
#include "stats.h"

uint64_t stats_now_us(void)
{
    return clock_mono_us();
}

void stats_samples_add(struct stats_samples *s, uint64_t us)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 65536;
        uint64_t *n = realloc(s->v, cap * sizeof *n);
        if (!n) {
            s->oom = 1;
            return;
        }
        s->v = n;
        s->cap = cap;
    }
    s->v[s->n++] = us;
}

void stats_samples_clear(struct stats_samples *s)
{
    s->n = 0;
}

void stats_samples_free(struct stats_samples *s)
{
    free(s->v);
    *s = (struct stats_samples){0};
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct stats_summary stats_summarize(uint64_t *v, size_t n)
{
    struct stats_summary s = {0};
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
