/* typing: who is typing where, with refresh coalescing and expiry.
 *
 * An entry is (who, target): target is a room or, for DM typing, the
 * recipient's session; both are stable pointers, so the pair is the key.
 * Entries sit in one list ordered by last refresh (a refresh moves an entry
 * to the tail), so the oldest is always at the head and expiry is O(1).
 * Time is passed in by the caller (an injectable clock for tests). */
#ifndef CHAT_BROKER_TYPING_H
#define CHAT_BROKER_TYPING_H

#include <stdint.h>

#include <uthash.h>

struct typing_entry {
    void *who, *target;
    int is_dm;
    uint64_t refreshed_ms;
    struct typing_entry *prev, *next;
    UT_hash_handle hh; /* key: who and target, adjacent */
};

struct typing {
    struct typing_entry *by_key;
    struct typing_entry *oldest; /* list head, utlist DL */
    uint64_t timeout_ms;
    unsigned count;
};

void typing_init(struct typing *t, uint64_t timeout_ms);
void typing_clear(struct typing *t);

/* who is typing to target at now. Returns 1 when it was not active (forward
 * active:true), 0 for a refresh (not forwarded), -1 on OOM. */
int typing_start(struct typing *t, void *who, void *target, int is_dm, uint64_t now_ms);

/* who stopped typing to target. Returns 1 when it was active (forward
 * active:false), 0 otherwise. */
int typing_stop(struct typing *t, void *who, void *target);

/* The oldest entry if it has expired at now (caller forwards active:false and
 * calls typing_remove), else NULL. */
struct typing_entry *typing_expired(struct typing *t, uint64_t now_ms);

void typing_remove(struct typing *t, struct typing_entry *e);

/* When the next entry expires (ms, same clock), or UINT64_MAX when none. */
uint64_t typing_next_expiry(const struct typing *t);

/* Calls fn for each entry of who (as typer) or targeting it, then removes
 * it. fn may be NULL. */
void typing_forget(struct typing *t, void *who_or_target,
                   void (*fn)(struct typing_entry *e, void *arg), void *arg);

#endif
