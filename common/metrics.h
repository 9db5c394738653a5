/* metrics: the Prometheus text exposition format, written into a growing
 * buffer, and fixed-bucket histograms.
 *
 * Both servers keep plain counters in their own state (one thread each, no
 * atomics needed) and render them on demand with these helpers, so every
 * metric name, HELP and TYPE line follows one pattern. */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* A growing text buffer. On OOM it stops growing and sets oom. */
struct mbuf {
    char *p;
    size_t len, cap;
    int oom;
};
void mbuf_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mbuf_free(struct mbuf *b);

/* A histogram with at most HISTO_MAX finite upper bounds (ascending). */
#define HISTO_MAX 16
struct histo {
    const double *le;
    unsigned n;
    uint64_t bucket[HISTO_MAX]; /* observations <= le[i] and > le[i-1] */
    uint64_t count;
    double sum;
};
void histo_init(struct histo *h, const double *le, unsigned n);
void histo_observe(struct histo *h, double v);

/* "# HELP" and "# TYPE" lines; type is counter, gauge or histogram. */
void metric_head(struct mbuf *b, const char *name, const char *type, const char *help);
/* One sample; labels is NULL or the inside of the braces (key="value",...). */
void metric_u64(struct mbuf *b, const char *name, const char *labels, uint64_t v);
void metric_dbl(struct mbuf *b, const char *name, const char *labels, double v);
/* head + one unlabelled sample, for the common case. */
void metric_one(struct mbuf *b, const char *name, const char *type, const char *help, double v);
/* head + the _bucket, _sum and _count series of h. */
void metric_histo(struct mbuf *b, const char *name, const char *help, const struct histo *h);
/* The error codes of PROTOCOL.md, then "other": labels of the errors_total
 * counters of both servers. */
#define CHAT_NCODES 16
extern const char *const chat_error_codes[CHAT_NCODES];
/* Index of code in chat_error_codes (CHAT_NCODES - 1 for an unknown one). */
unsigned chat_error_index(const char *code);
/* A counter family with one label: key="names[i]" for v[i], i < n. */
void metric_family(struct mbuf *b, const char *name, const char *help, const char *key,
                   const char *const names[], const uint64_t v[], unsigned n);
/* One counter family labelled code="..." over chat_error_codes. */
void metric_errors(struct mbuf *b, const char *name, const char *help,
                   const uint64_t v[CHAT_NCODES]);

/* process_resident_memory_bytes and process_cpu_seconds_total, the names
 * Prometheus client libraries use. */
void metric_process(struct mbuf *b);

#endif
