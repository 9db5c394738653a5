/* tally: what one chat-bench worker counts and times, and the sum over all.
 *
 * Each worker thread owns one struct tally and is the only writer of it.
 * The counters the coordinator watches while the run goes on (struct
 * tally_live: how many connections are ready, how many messages of the
 * measured window are still unanswered) are atomics, written with plain
 * relaxed stores by their owner (no locked instruction on the hot path) and
 * read with relaxed loads; everything else is read only after the worker
 * thread has been joined. */
#ifndef CHAT_BENCH_TALLY_H
#define CHAT_BENCH_TALLY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

#define TALLY_CODES 32 /* distinct codes kept by name; the rest count as "other" */

/* Counts by name: error codes, close codes, connect failures. */
struct tally_codes {
    struct {
        char code[48];
        uint64_t n;
    } v[TALLY_CODES];
    size_t n;
    uint64_t other;
};

struct tally_live {
    _Atomic uint64_t started;   /* connections attempted */
    _Atomic uint64_t ready;     /* connected, identified and joined */
    _Atomic uint64_t failed;    /* never became ready (refused, error, closed) */
    _Atomic uint64_t lost;      /* ready once, and not ready when the run closed them (closed
                                 * by the peer or the network, and not back by reconnecting) */
    _Atomic uint64_t frames;    /* text frames received */
    _Atomic uint64_t sent;      /* measured window: messages written */
    _Atomic uint64_t acked;     /* measured window: acks (chat) or own echoes */
    _Atomic uint64_t refused;   /* measured window: msgs answered with an error */
    _Atomic uint64_t expected;  /* measured window: deliveries the acks promise */
    _Atomic uint64_t delivered; /* measured window: deliveries received */
    _Atomic uint64_t first_start_us, last_ready_us; /* 0 until known */
};

struct tally {
    struct tally_live live;
    uint64_t sent_all;          /* messages written, warm-up and ramp included */
    uint64_t acked_outside;     /* acks of messages sent outside the window */
    uint64_t delivered_outside; /* deliveries of messages sent outside the window */
    uint64_t skipped;           /* sends due on a sender that was not ready (closed) */
    uint64_t overflow; /* sends due while the sender's queue was full: the writer fell behind */
    uint64_t noise;    /* presence, online, typing */
    uint64_t other;    /* anything else (welcome, joined, pings, foreign messages) */
    uint64_t not_understood;
    /* Recovery (chat, --reconnect): see reconnect.c. */
    uint64_t reconnect_attempts;          /* connections opened again after a loss */
    uint64_t reconnects;                  /* of those, back to ready */
    uint64_t resumed_true, resumed_false; /* welcome of a reconnect: "resumed" */
    uint64_t replayed;                /* msgs at or below the room's seq of the re-join: replays */
    uint64_t duplicates;              /* msgs whose (room, seq) had been seen: not counted again */
    uint64_t own_replayed;            /* the connection's own msgs coming back in a replay */
    uint64_t retries;                 /* msgs written again with the same id (unanswered at a loss,
                                       * or answered unavailable) */
    uint64_t acks_again;              /* acks of msgs already acked: not counted again */
    uint64_t seq_resets;              /* a re-join found the room's seq below what was seen */
    struct stats_samples connect_lat; /* start -> ready */
    struct stats_samples delivery_lat, ack_lat;
    struct stats_samples send_lag; /* intended send time -> written */
    struct tally_codes errors, closes, connect_errors;
    struct tally_codes reconnect_errors; /* reconnect attempts that failed, by reason */
};

static inline uint64_t tally_get(_Atomic uint64_t *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

/* Only the owning worker may call this. */
static inline void tally_add(_Atomic uint64_t *x, uint64_t n)
{
    atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void tally_set(_Atomic uint64_t *x, uint64_t v)
{
    atomic_store_explicit(x, v, memory_order_relaxed);
}

void tally_code(struct tally_codes *c, const char *code, uint64_t n);
/* Adds src into dst (counters summed, samples appended, codes merged). */
void tally_merge(struct tally *dst, struct tally *src);
void tally_free(struct tally *t);

#endif
