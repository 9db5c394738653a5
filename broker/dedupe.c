#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

void dedupe_init(struct dedupe *d, size_t cap)
{
    memset(d, 0, sizeof *d);
    d->cap = cap;
}

void dedupe_clear(struct dedupe *d)
{
    for (size_t i = 0; i < d->size; i++) {
        struct dedupe_entry *e = d->fifo[(d->head + i) % d->cap];
        HASH_DELETE(hh, d->by_id, e);
        free(e);
    }
    free(d->fifo);
    dedupe_init(d, d->cap);
}

static struct dedupe_entry *find_any(const struct dedupe *d, const char *id)
{
    struct dedupe_entry *e;
    HASH_FIND_STR(d->by_id, id, e);
    return e;
}

struct dedupe_entry *dedupe_find(const struct dedupe *d, const char *id)
{
    struct dedupe_entry *e = find_any(d, id);
    return e && !e->dead ? e : NULL;
}

void dedupe_forget(struct dedupe *d, const char *id)
{
    struct dedupe_entry *e = find_any(d, id);
    if (e) e->dead = 1;
}

int dedupe_add(struct dedupe *d, const char *id, const void *room, uint64_t seq, uint64_t ts)
{
    if (d->cap == 0) return 0;
    struct dedupe_entry *old = find_any(d, id);
    if (old) {
        if (old->dead) *old = (struct dedupe_entry){room, seq, ts, 0, 0, old->hh};
        return 0;
    }
    if (!d->fifo && !(d->fifo = calloc(d->cap, sizeof *d->fifo))) return -1;
    size_t len = strlen(id);
    struct dedupe_entry *e = malloc(sizeof *e + len + 1);
    if (!e) return -1;
    e->room = room;
    e->seq = seq;
    e->ts = ts;
    e->pending = e->dead = 0;
    memcpy(e->id, id, len + 1);
    if (d->size == d->cap) { /* forget the oldest */
        struct dedupe_entry *oldest = d->fifo[d->head];
        HASH_DELETE(hh, d->by_id, oldest);
        free(oldest);
        d->head = (d->head + 1) % d->cap;
        d->size--;
    }
    d->fifo[(d->head + d->size) % d->cap] = e;
    d->size++;
    HASH_ADD(hh, d->by_id, id[0], len, e);
    return 0;
}
