#include "typing.h"

#include <stddef.h>
#include <stdlib.h>

#include <utlist.h>

/* The key is the two adjacent pointers who and target. */
#define KEY_LEN (offsetof(struct typing_entry, is_dm) - offsetof(struct typing_entry, who))

void typing_init(struct typing *t, uint64_t timeout_ms)
{
    t->by_key = NULL;
    t->oldest = NULL;
    t->timeout_ms = timeout_ms;
    t->count = 0;
}

void typing_clear(struct typing *t)
{
    while (t->oldest) typing_remove(t, t->oldest);
}

static struct typing_entry *find(struct typing *t, void *who, void *target)
{
    struct typing_entry key = {.who = who, .target = target}, *e;
    HASH_FIND(hh, t->by_key, &key.who, KEY_LEN, e);
    return e;
}

int typing_start(struct typing *t, void *who, void *target, int is_dm, uint64_t now_ms)
{
    struct typing_entry *e = find(t, who, target);
    if (e) {
        e->refreshed_ms = now_ms;
        DL_DELETE(t->oldest, e);
        DL_APPEND(t->oldest, e);
        return 0;
    }
    e = calloc(1, sizeof *e);
    if (!e) return -1;
    e->who = who;
    e->target = target;
    e->is_dm = is_dm;
    e->refreshed_ms = now_ms;
    HASH_ADD(hh, t->by_key, who, KEY_LEN, e);
    DL_APPEND(t->oldest, e);
    t->count++;
    return 1;
}

void typing_remove(struct typing *t, struct typing_entry *e)
{
    HASH_DELETE(hh, t->by_key, e);
    DL_DELETE(t->oldest, e);
    t->count--;
    free(e);
}

int typing_stop(struct typing *t, void *who, void *target)
{
    struct typing_entry *e = find(t, who, target);
    if (!e) return 0;
    typing_remove(t, e);
    return 1;
}

struct typing_entry *typing_expired(struct typing *t, uint64_t now_ms)
{
    struct typing_entry *e = t->oldest;
    return e && e->refreshed_ms + t->timeout_ms <= now_ms ? e : NULL;
}

uint64_t typing_next_expiry(const struct typing *t)
{
    return t->oldest ? t->oldest->refreshed_ms + t->timeout_ms : UINT64_MAX;
}

void typing_forget(struct typing *t, void *who_or_target,
                   void (*fn)(struct typing_entry *e, void *arg), void *arg)
{
    struct typing_entry *e, *tmp;
    DL_FOREACH_SAFE(t->oldest, e, tmp)
    {
        if (e->who != who_or_target && e->target != who_or_target) continue;
        if (fn) fn(e, arg);
        typing_remove(t, e);
    }
}
