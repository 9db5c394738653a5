/* tally.c: counts by name, and summing the workers' tallies (see tally.h). */
#include <stdio.h>
#include <string.h>

#include "tally.h"

void tally_code(struct tally_codes *c, const char *code, uint64_t n)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].code, code)) {
            c->v[i].n += n;
            return;
        }
    if (c->n == TALLY_CODES) {
        c->other += n;
        return;
    }
    snprintf(c->v[c->n].code, sizeof c->v[c->n].code, "%s", code);
    c->v[c->n++].n = n;
}

static void merge_codes(struct tally_codes *dst, const struct tally_codes *src)
{
    for (size_t i = 0; i < src->n; i++) tally_code(dst, src->v[i].code, src->v[i].n);
    dst->other += src->other;
}

static void merge_live(struct tally_live *d, struct tally_live *s)
{
    _Atomic uint64_t *sum_d[] = {&d->started, &d->ready, &d->failed,  &d->lost,     &d->frames,
                                 &d->sent,    &d->acked, &d->refused, &d->expected, &d->delivered};
    _Atomic uint64_t *sum_s[] = {&s->started, &s->ready, &s->failed,  &s->lost,     &s->frames,
                                 &s->sent,    &s->acked, &s->refused, &s->expected, &s->delivered};
    for (size_t i = 0; i < sizeof sum_d / sizeof sum_d[0]; i++)
        tally_set(sum_d[i], tally_get(sum_d[i]) + tally_get(sum_s[i]));
    uint64_t a = tally_get(&d->first_start_us), b = tally_get(&s->first_start_us);
    if (b && (!a || b < a)) tally_set(&d->first_start_us, b);
    if (tally_get(&s->last_ready_us) > tally_get(&d->last_ready_us))
        tally_set(&d->last_ready_us, tally_get(&s->last_ready_us));
}

void tally_merge(struct tally *dst, struct tally *src)
{
    merge_live(&dst->live, &src->live);
    dst->sent_all += src->sent_all;
    dst->acked_outside += src->acked_outside;
    dst->delivered_outside += src->delivered_outside;
    dst->skipped += src->skipped;
    dst->overflow += src->overflow;
    dst->noise += src->noise;
    dst->other += src->other;
    dst->not_understood += src->not_understood;
    uint64_t *sum_d[] = {&dst->reconnect_attempts, &dst->reconnects, &dst->resumed_true,
                         &dst->resumed_false,      &dst->replayed,   &dst->duplicates,
                         &dst->own_replayed,       &dst->retries,    &dst->acks_again,
                         &dst->seq_resets};
    const uint64_t *sum_s[] = {&src->reconnect_attempts, &src->reconnects, &src->resumed_true,
                               &src->resumed_false,      &src->replayed,   &src->duplicates,
                               &src->own_replayed,       &src->retries,    &src->acks_again,
                               &src->seq_resets};
    for (size_t i = 0; i < sizeof sum_d / sizeof sum_d[0]; i++) *sum_d[i] += *sum_s[i];
    stats_samples_merge(&dst->connect_lat, &src->connect_lat);
    stats_samples_merge(&dst->delivery_lat, &src->delivery_lat);
    stats_samples_merge(&dst->ack_lat, &src->ack_lat);
    stats_samples_merge(&dst->send_lag, &src->send_lag);
    merge_codes(&dst->errors, &src->errors);
    merge_codes(&dst->closes, &src->closes);
    merge_codes(&dst->connect_errors, &src->connect_errors);
    merge_codes(&dst->reconnect_errors, &src->reconnect_errors);
}

void tally_free(struct tally *t)
{
    stats_samples_free(&t->connect_lat);
    stats_samples_free(&t->delivery_lat);
    stats_samples_free(&t->ack_lat);
    stats_samples_free(&t->send_lag);
}
