#include "rooms.h"

#include <stdlib.h>
#include <string.h>

void rooms_init(struct rooms *rs, size_t ring_cap)
{
    rs->by_name = NULL;
    rs->ring_cap = ring_cap;
}

void rooms_clear(struct rooms *rs)
{
    struct room *r, *tmp;
    HASH_ITER(hh, rs->by_name, r, tmp)
    {
        HASH_DELETE(hh, rs->by_name, r);
        struct member *m, *mt;
        HASH_ITER(hh_room, r->members, m, mt)
        {
            HASH_DELETE(hh_room, r->members, m);
            free(m); /* the members' own lists are cleared by their owners first */
        }
        ring_clear(&r->ring);
        free(r->gws);
        free(r->name);
        free(r);
    }
}

struct room *rooms_find(const struct rooms *rs, const char *name)
{
    struct room *r;
    HASH_FIND_STR(rs->by_name, name, r);
    return r;
}

struct room *rooms_get(struct rooms *rs, const char *name)
{
    struct room *r = rooms_find(rs, name);
    if (r) return r;
    r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name))) {
        free(r);
        return NULL;
    }
    ring_init(&r->ring, rs->ring_cap);
    HASH_ADD_KEYPTR(hh, rs->by_name, r->name, strlen(r->name), r);
    return r;
}

struct member *rooms_member(const struct room *r, const void *who)
{
    struct member *m;
    HASH_FIND(hh_room, r->members, &who, sizeof who, m);
    return m;
}

static int gw_count(struct room *r, void *gw, int delta)
{
    for (size_t i = 0; i < r->ngws; i++) {
        if (r->gws[i].gw != gw) continue;
        r->gws[i].members += delta;
        if (r->gws[i].members == 0) r->gws[i] = r->gws[--r->ngws];
        return 0;
    }
    if (delta < 0) return 0;
    if (r->ngws == r->capgws) {
        size_t cap = r->capgws ? r->capgws * 2 : 2;
        struct room_gw *g = realloc(r->gws, cap * sizeof *g);
        if (!g) return -1;
        r->gws = g;
        r->capgws = cap;
    }
    r->gws[r->ngws++] = (struct room_gw){gw, (uint32_t)delta};
    return 0;
}

int rooms_add(struct room *r, void *who, void *gw, struct member **who_rooms)
{
    if (rooms_member(r, who)) return 0;
    struct member *m = calloc(1, sizeof *m);
    if (!m || gw_count(r, gw, 1) < 0) {
        free(m);
        return -1;
    }
    m->room = r;
    m->who = who;
    HASH_ADD(hh_room, r->members, who, sizeof who, m);
    HASH_ADD(hh_who, *who_rooms, room, sizeof r, m);
    r->count++;
    return 1;
}

int rooms_remove(struct room *r, void *who, void *gw, struct member **who_rooms)
{
    struct member *m = rooms_member(r, who);
    if (!m) return 0;
    HASH_DELETE(hh_room, r->members, m);
    HASH_DELETE(hh_who, *who_rooms, m);
    gw_count(r, gw, -1);
    r->count--;
    free(m);
    return 1;
}

uint64_t rooms_next_seq(struct room *r)
{
    return ++r->seq;
}
