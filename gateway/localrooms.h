/* localrooms: which local connections are in which room, for fan-out.
 *
 * Soft state mirrored from the broker: a connection enters a room when its
 * `joined` passes through the gateway and leaves on `left` or when it closes.
 * Each room keeps a doubly linked list of members, so a room event walks
 * exactly its local members and removal is O(1). */
#ifndef CHAT_GW_LOCALROOMS_H
#define CHAT_GW_LOCALROOMS_H

#include <uthash.h>

struct lroom;

struct lmember {
    struct lroom *room;
    void *conn;
    struct lmember *prev, *next; /* in the room */
    struct lmember *conn_next;   /* in the connection's own list */
};

struct lroom {
    char *name;
    struct lmember *members;
    unsigned count;
    UT_hash_handle hh;
};

struct lrooms {
    struct lroom *by_name;
};

struct lroom *lrooms_find(const struct lrooms *l, const char *name);

/* Puts conn in room `name` (and in *conn_list). Returns 1 when added, 0 when
 * already there, -1 on OOM. */
int lrooms_add(struct lrooms *l, const char *name, void *conn, struct lmember **conn_list);

/* Takes conn out of room `name`. Returns 1 when removed, 0 when not there. */
int lrooms_remove(struct lrooms *l, const char *name, struct lmember **conn_list);

/* Takes conn out of every room in *conn_list. */
void lrooms_remove_all(struct lrooms *l, struct lmember **conn_list);

#endif
