/* stats.c: latency samples and nearest-rank percentiles (see stats.h). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "stats.h"

uint64_t stats_now_us(void)
{
    return clock_mono_us();
}

/* Room for `more` samples past s->n; -1 (s->oom set) when memory runs out. */
static int reserve(struct stats_samples *s, size_t more)
{
    if (s->n + more <= s->cap) return 0;
    size_t cap = s->cap ? s->cap * 2 : 65536;
    if (cap < s->n + more) cap = s->n + more;
    uint64_t *n = realloc(s->v, cap * sizeof *n);
    if (!n) {
        s->oom = 1;
        return -1;
    }
    s->v = n;
    s->cap = cap;
    return 0;
}

void stats_samples_add(struct stats_samples *s, uint64_t us)
{
    if (reserve(s, 1) == 0) s->v[s->n++] = us;
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

void stats_samples_merge(struct stats_samples *dst, const struct stats_samples *src)
{
    if (src->oom) dst->oom = 1;
    if (!src->n || reserve(dst, src->n) < 0) return;
    memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
    dst->n += src->n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Index of the nearest-rank permille-th percentile among n > 0 sorted values. */
static size_t rank(size_t n, size_t permille)
{
    size_t r = (n * permille + 999) / 1000;
    return r ? r - 1 : 0;
}

struct stats_summary stats_summarize(uint64_t *v, size_t n)
{
    struct stats_summary s = {0};
    s.n = n;
    if (!n) return s;
    qsort(v, n, sizeof *v, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)v[i];
    s.p50_ms = (double)v[rank(n, 500)] / 1000.0;
    s.p90_ms = (double)v[rank(n, 900)] / 1000.0;
    s.p99_ms = (double)v[rank(n, 990)] / 1000.0;
    s.p999_ms = (double)v[rank(n, 999)] / 1000.0;
    s.max_ms = (double)v[n - 1] / 1000.0;
    s.mean_ms = sum / (double)n / 1000.0;
    return s;
}
