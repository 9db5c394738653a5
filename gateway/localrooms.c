#include "localrooms.h"

#include <stdlib.h>
#include <string.h>

#include <utlist.h>

struct lroom *lrooms_find(const struct lrooms *l, const char *name)
{
    struct lroom *r;
    HASH_FIND_STR(l->by_name, name, r);
    return r;
}

int lrooms_add(struct lrooms *l, const char *name, void *conn, struct lmember **conn_list)
{
    for (struct lmember *m = *conn_list; m; m = m->conn_next)
        if (!strcmp(m->room->name, name)) return 0;
    struct lroom *r = lrooms_find(l, name);
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r || !(r->name = strdup(name))) {
            free(r);
            return -1;
        }
        HASH_ADD_KEYPTR(hh, l->by_name, r->name, strlen(r->name), r);
    }
    struct lmember *m = calloc(1, sizeof *m);
    if (!m) {
        if (!r->members) {
            HASH_DELETE(hh, l->by_name, r);
            free(r->name);
            free(r);
        }
        return -1;
    }
    m->room = r;
    m->conn = conn;
    DL_APPEND(r->members, m);
    r->count++;
    m->conn_next = *conn_list;
    *conn_list = m;
    return 1;
}

static void drop(struct lrooms *l, struct lmember *m)
{
    struct lroom *r = m->room;
    DL_DELETE(r->members, m);
    r->count--;
    free(m);
    if (!r->members) {
        HASH_DELETE(hh, l->by_name, r);
        free(r->name);
        free(r);
    }
}

int lrooms_remove(struct lrooms *l, const char *name, struct lmember **conn_list)
{
    for (struct lmember **p = conn_list; *p; p = &(*p)->conn_next) {
        struct lmember *m = *p;
        if (strcmp(m->room->name, name)) continue;
        *p = m->conn_next;
        drop(l, m);
        return 1;
    }
    return 0;
}

void lrooms_remove_all(struct lrooms *l, struct lmember **conn_list)
{
    while (*conn_list) {
        struct lmember *m = *conn_list;
        *conn_list = m->conn_next;
        drop(l, m);
    }
}
