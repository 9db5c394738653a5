/* ring: the last messages of one room, in memory.
 *
 * A circular buffer of at most `cap` messages with consecutive seq numbers
 * (the broker pushes every message of the room, in seq order). It serves
 * "history" and "join since" without touching disk. */
#ifndef CHAT_BROKER_RING_H
#define CHAT_BROKER_RING_H

#include <stddef.h>
#include <stdint.h>

struct stored_msg {
    uint64_t seq;
    uint64_t ts;
    char *from; /* points into text's allocation */
    char *text;
};

struct ring {
    struct stored_msg *slots; /* allocated on first push, grows to cap */
    size_t cap, size, head;   /* head: index of the oldest message */
    size_t alloc;
};

void ring_init(struct ring *r, size_t cap);
void ring_clear(struct ring *r);

/* Appends a copy of a message; seq must follow the newest one. Drops the
 * oldest when full. Returns 0, or -1 on OOM (the ring is unchanged). */
int ring_push(struct ring *r, uint64_t seq, uint64_t ts, const char *from, const char *text);

/* Lowest and highest seq held; 0 when empty. */
uint64_t ring_first_seq(const struct ring *r);
uint64_t ring_last_seq(const struct ring *r);

/* The message with this seq, or NULL when not held. */
const struct stored_msg *ring_get(const struct ring *r, uint64_t seq);

/* The seq range [*from, *to] of the newest `limit` messages with seq < before
 * (before == 0: no bound). Returns the count (0: *from and *to unset). */
size_t ring_before(const struct ring *r, uint64_t before, size_t limit, uint64_t *from,
                   uint64_t *to);

#endif
