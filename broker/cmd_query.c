/* cmd_query.c: who (room or global) and history. */
#include <stdlib.h>

#include "broker.h"
#include "log.h"

void cmd_who(struct broker *b, struct session *s, const Chat__Command *c)
{
    Chat__Event ev = CHAT__EVENT__INIT;
    size_t cap;
    char **names;
    if (c->who->room) {
        struct room *r = rooms_find(&b->rooms, c->who->room);
        cap = r ? r->count : 0;
        names = malloc((cap ? cap : 1) * sizeof *names);
        if (!names) goto oom;
        Chat__WhoRoom w = CHAT__WHO_ROOM__INIT;
        w.room = c->who->room;
        w.members = names;
        if (r)
            for (struct member *m = r->members; m; m = m->hh_room.next)
                names[w.n_members++] = ((struct session *)m->who)->nick;
        ev.ev_case = CHAT__EVENT__EV_WHO_ROOM;
        ev.who_room = &w;
        send_to(b, s, &ev, c->id);
    } else {
        cap = b->online < (unsigned)b->cfg.who_max ? b->online : (size_t)b->cfg.who_max;
        names = malloc((cap ? cap : 1) * sizeof *names);
        if (!names) goto oom;
        Chat__WhoAll w = CHAT__WHO_ALL__INIT;
        w.online = b->online;
        w.users = names;
        for (struct session *o = b->by_conn; o && w.n_users < cap; o = o->hh_conn.next)
            names[w.n_users++] = o->nick;
        if (b->online > w.n_users) w.has_truncated = w.truncated = 1;
        ev.ev_case = CHAT__EVENT__EV_WHO_ALL;
        ev.who_all = &w;
        send_to(b, s, &ev, c->id);
    }
    free(names);
    return;
oom:
    log_error("who_oom", "names=%zu", cap);
    send_error(b, s->key.gw, s->key.conn, c->id, "internal", "out of memory");
}

void cmd_history(struct broker *b, struct session *s, const Chat__Command *c)
{
    const Chat__History *h = c->history;
    struct room *r = rooms_find(&b->rooms, h->room);
    if (!r || !rooms_member(r, s)) {
        send_error(b, s->key.gw, s->key.conn, c->id, "not_in_room",
                   "join the room to read its history");
        return;
    }
    struct msg_list msgs = {0};
    if (!(h->has_before && h->before <= 1)) {
        uint64_t to = h->has_before && h->before - 1 < r->committed ? h->before - 1 : r->committed;
        uint64_t from = to >= h->limit ? to - h->limit + 1 : 1;
        if (history_read(b, r, from, to, &msgs) < 0) {
            send_error(b, s->key.gw, s->key.conn, c->id, "internal",
                       "could not read the room's messages");
            return;
        }
    }
    Chat__HistoryEvent he = CHAT__HISTORY_EVENT__INIT;
    he.room = r->name;
    he.messages = msgs.ptrs;
    he.n_messages = msgs.n;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_HISTORY;
    ev.history = &he;
    send_to(b, s, &ev, c->id);
    msg_list_clear(&msgs);
}
