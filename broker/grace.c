#include "grace.h"

#include <stddef.h>

#include <utlist.h>

void grace_init(struct grace *g, uint64_t period_ms)
{
    g->oldest = NULL;
    g->period_ms = period_ms;
    g->count = 0;
}

void grace_hold(struct grace *g, struct grace_entry *e, void *owner, uint64_t now_ms)
{
    e->owner = owner;
    e->expires_ms = now_ms + g->period_ms;
    DL_APPEND(g->oldest, e);
    g->count++;
}

void grace_release(struct grace *g, struct grace_entry *e)
{
    if (!grace_held(e)) return;
    DL_DELETE(g->oldest, e);
    e->prev = e->next = NULL;
    g->count--;
}

int grace_held(const struct grace_entry *e)
{
    return e->prev != NULL; /* in a utlist DL list every element has a prev */
}

struct grace_entry *grace_expired(const struct grace *g, uint64_t now_ms)
{
    struct grace_entry *e = g->oldest;
    return e && e->expires_ms <= now_ms ? e : NULL;
}

uint64_t grace_next_expiry(const struct grace *g)
{
    return g->oldest ? g->oldest->expires_ms : UINT64_MAX;
}
