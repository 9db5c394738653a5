/* metrics: Prometheus text format helpers (see metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

void mbuf_free(struct mbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void histo_init(struct histo *h, const double *le, unsigned n)
{
    memset(h, 0, sizeof *h);
    h->le = le;
    h->n = n < HISTO_MAX ? n : HISTO_MAX;
}

void histo_observe(struct histo *h, double v)
{
    h->count++;
    h->sum += v;
    for (unsigned i = 0; i < h->n; i++)
        if (v <= h->le[i]) {
            h->bucket[i]++;
            return;
        }
}

void metric_head(struct mbuf *b, const char *name, const char *type, const char *help)
{
    mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metric_u64(struct mbuf *b, const char *name, const char *labels, uint64_t v)
{
    if (labels)
        mbuf_printf(b, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
    else
        mbuf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void metric_dbl(struct mbuf *b, const char *name, const char *labels, double v)
{
    if (labels)
        mbuf_printf(b, "%s{%s} %.9g\n", name, labels, v);
    else
        mbuf_printf(b, "%s %.9g\n", name, v);
}

void metric_one(struct mbuf *b, const char *name, const char *type, const char *help, double v)
{
    metric_head(b, name, type, help);
    metric_dbl(b, name, NULL, v);
}

void metric_histo(struct mbuf *b, const char *name, const char *help, const struct histo *h)
{
    metric_head(b, name, "histogram", help);
    uint64_t cum = 0;
    for (unsigned i = 0; i < h->n; i++) {
        cum += h->bucket[i];
        mbuf_printf(b, "%s_bucket{le=\"%.9g\"} %llu\n", name, h->le[i], (unsigned long long)cum);
    }
    mbuf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    mbuf_printf(b, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
                (unsigned long long)h->count);
}

const char *const chat_error_codes[CHAT_NCODES] = {
    "bad_json",      "bad_request",    "not_identified", "nick_taken",
    "nick_invalid",  "room_invalid",   "not_in_room",    "no_such_user",
    "too_large",     "too_many_rooms", "rate_limited",   "unavailable",
    "auth_required", "auth_failed",    "internal",       "other"};

unsigned chat_error_index(const char *code)
{
    unsigned i = 0;
    while (i < CHAT_NCODES - 1 && strcmp(chat_error_codes[i], code)) i++;
    return i;
}

void metric_family(struct mbuf *b, const char *name, const char *help, const char *key,
                   const char *const names[], const uint64_t v[], unsigned n)
{
    metric_head(b, name, "counter", help);
    for (unsigned i = 0; i < n; i++) {
        char label[96];
        snprintf(label, sizeof label, "%s=\"%s\"", key, names[i]);
        metric_u64(b, name, label, v[i]);
    }
}

void metric_errors(struct mbuf *b, const char *name, const char *help,
                   const uint64_t v[CHAT_NCODES])
{
    metric_family(b, name, help, "code", chat_error_codes, v, CHAT_NCODES);
}

void metric_process(struct mbuf *b)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
              ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
    metric_one(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               (double)resident * (double)sysconf(_SC_PAGESIZE));
    metric_one(b, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.", cpu);
}
