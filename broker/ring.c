#include "ring.h"

#include <stdlib.h>
#include <string.h>

void ring_init(struct ring *r, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->cap = cap;
}

static struct stored_msg *slot(const struct ring *r, size_t i)
{
    return &r->slots[(r->head + i) % r->alloc];
}

void ring_clear(struct ring *r)
{
    for (size_t i = 0; i < r->size; i++) free(slot(r, i)->text);
    free(r->slots);
    size_t cap = r->cap;
    ring_init(r, cap);
}

/* Grows the slot array (doubling up to cap), keeping the order. */
static int grow(struct ring *r)
{
    size_t n = r->alloc ? r->alloc * 2 : 16;
    if (n > r->cap) n = r->cap;
    struct stored_msg *s = malloc(n * sizeof *s);
    if (!s) return -1;
    for (size_t i = 0; i < r->size; i++) s[i] = *slot(r, i);
    free(r->slots);
    r->slots = s;
    r->alloc = n;
    r->head = 0;
    return 0;
}

int ring_push(struct ring *r, uint64_t seq, uint64_t ts, const char *from, const char *text)
{
    if (r->cap == 0) return 0;
    if (r->size == r->alloc && r->alloc < r->cap && grow(r) < 0) return -1;
    size_t flen = strlen(from), tlen = strlen(text);
    char *buf = malloc(tlen + 1 + flen + 1);
    if (!buf) return -1;
    memcpy(buf, text, tlen + 1);
    memcpy(buf + tlen + 1, from, flen + 1);
    struct stored_msg *m;
    if (r->size == r->alloc) { /* full at cap: overwrite the oldest */
        m = slot(r, 0);
        free(m->text);
        r->head = (r->head + 1) % r->alloc;
    } else {
        m = slot(r, r->size);
        r->size++;
    }
    m->seq = seq;
    m->ts = ts;
    m->text = buf;
    m->from = buf + tlen + 1;
    return 0;
}

uint64_t ring_first_seq(const struct ring *r)
{
    return r->size ? slot(r, 0)->seq : 0;
}

uint64_t ring_last_seq(const struct ring *r)
{
    return r->size ? slot(r, r->size - 1)->seq : 0;
}

const struct stored_msg *ring_get(const struct ring *r, uint64_t seq)
{
    uint64_t first = ring_first_seq(r);
    if (!r->size || seq < first || seq - first >= r->size) return NULL;
    return slot(r, (size_t)(seq - first));
}

size_t ring_before(const struct ring *r, uint64_t before, size_t limit, uint64_t *from,
                   uint64_t *to)
{
    if (!r->size || limit == 0) return 0;
    uint64_t first = ring_first_seq(r), last = ring_last_seq(r);
    if (before != 0) {
        if (before <= first) return 0;
        if (before - 1 < last) last = before - 1;
    }
    uint64_t n = last - first + 1;
    if (n > limit) n = limit;
    *to = last;
    *from = last - n + 1;
    return (size_t)n;
}
