/* rooms: rooms, their members, their seq counters and message rings.
 *
 * A room exists from its first join on and is never forgotten while the
 * broker runs, so its seq never goes back. Members are opaque pointers
 * (sessions) that live on one gateway each; the room counts its members per
 * gateway so a room event goes once to each gateway that hosts members. */
#ifndef CHAT_BROKER_ROOMS_H
#define CHAT_BROKER_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "ring.h"

struct room;

/* One member of one room; in the room's table (keyed by who) and in the
 * member's own list of rooms (keyed by room). */
struct member {
    struct room *room;
    void *who;
    UT_hash_handle hh_room;
    UT_hash_handle hh_who;
};

struct room_gw {
    void *gw;
    uint32_t members;
};

struct room {
    char *name;
    uint64_t seq;       /* last assigned; 0 before the first message */
    uint64_t committed; /* last delivered (committed when history is on) */
    struct member *members;
    uint32_t count;
    struct room_gw *gws; /* gateways with members (members > 0) */
    size_t ngws, capgws;
    struct ring ring;
    UT_hash_handle hh;
};

struct rooms {
    struct room *by_name;
    size_t ring_cap;
};

void rooms_init(struct rooms *rs, size_t ring_cap);
void rooms_clear(struct rooms *rs);

struct room *rooms_find(const struct rooms *rs, const char *name);
/* Finds or creates; NULL on OOM. */
struct room *rooms_get(struct rooms *rs, const char *name);

/* Adds who (on gateway gw) to r and to *who_rooms. Returns 1 when added,
 * 0 when already a member, -1 on OOM. */
int rooms_add(struct room *r, void *who, void *gw, struct member **who_rooms);

/* Removes who from r and from *who_rooms. Returns 1 when removed, 0 when it
 * was not a member. */
int rooms_remove(struct room *r, void *who, void *gw, struct member **who_rooms);

struct member *rooms_member(const struct room *r, const void *who);

/* The next seq of r (assigned: r->seq is updated). */
uint64_t rooms_next_seq(struct room *r);

#endif
