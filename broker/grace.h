/* grace: sessions held for a resume after their connection ended.
 *
 * A session whose connection ends without a clean close is held for a fixed
 * period (--grace) with its nick reserved. Every hold lasts the same time,
 * so holds expire in the order they began: one list with the oldest at its
 * head gives O(1) hold, release (a resume) and expiry (the shape of
 * typing.h). Entries live inside their owners; nothing here allocates. Time
 * is passed in by the caller (an injectable clock for tests) and must not go
 * backwards. */
#ifndef CHAT_BROKER_GRACE_H
#define CHAT_BROKER_GRACE_H

#include <stdint.h>

struct grace_entry {
    void *owner;
    uint64_t expires_ms;
    struct grace_entry *prev, *next; /* prev is NULL when not held */
};

struct grace {
    struct grace_entry *oldest; /* list head, utlist DL */
    uint64_t period_ms;
    unsigned count;
};

void grace_init(struct grace *g, uint64_t period_ms);

/* Holds e (for owner) from now on, until now + period. e must not be held. */
void grace_hold(struct grace *g, struct grace_entry *e, void *owner, uint64_t now_ms);

/* Ends the hold of e; nothing when e is not held. */
void grace_release(struct grace *g, struct grace_entry *e);

int grace_held(const struct grace_entry *e);

/* The oldest entry if its hold has run out at now (the caller releases it),
 * else NULL. */
struct grace_entry *grace_expired(const struct grace *g, uint64_t now_ms);

/* When the next hold runs out (ms, same clock), or UINT64_MAX when none. */
uint64_t grace_next_expiry(const struct grace *g);

#endif
