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
    uint64_t from = 0, to = 0;
    size_t n = ring_before(&r->ring, h->has_before ? h->before : 0, h->limit, &from, &to);
    if (h->has_before && h->before == 0) n = 0;
    Chat__MsgEvent *msgs = malloc((n ? n : 1) * sizeof *msgs);
    Chat__MsgEvent **ptrs = malloc((n ? n : 1) * sizeof *ptrs);
    if (!msgs || !ptrs) {
        free(msgs);
        free(ptrs);
        log_error("history_oom", "room=%s", r->name);
        send_error(b, s->key.gw, s->key.conn, c->id, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        stored_to_event(r, ring_get(&r->ring, from + i), &msgs[i]);
        ptrs[i] = &msgs[i];
    }
    Chat__HistoryEvent he = CHAT__HISTORY_EVENT__INIT;
    he.room = r->name;
    he.messages = ptrs;
    he.n_messages = n;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_HISTORY;
    ev.history = &he;
    send_to(b, s, &ev, c->id);
    free(msgs);
    free(ptrs);
}
