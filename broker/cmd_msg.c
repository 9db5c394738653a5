/* cmd_msg.c: room messages, private messages and typing. */
#include "broker.h"
#include "clock.h"
#include "log.h"

static void send_ack(struct broker *b, struct session *s, const char *id, const struct room *r,
                     uint64_t seq, uint64_t ts)
{
    Chat__Ack a = CHAT__ACK__INIT;
    if (r) {
        a.room = r->name;
        a.has_seq = 1;
        a.seq = seq;
    }
    a.has_ts = 1;
    a.ts = ts;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_ACK;
    ev.ack = &a;
    send_to(b, s, &ev, id);
}

/* A remembered id is a retry: the original ack again, nothing delivered. */
static int is_retry(struct broker *b, struct session *s, const char *id)
{
    const struct dedupe_entry *e = id ? dedupe_find(&s->dedupe, id) : NULL;
    if (!e) return 0;
    send_ack(b, s, id, e->room, e->seq, e->ts);
    return 1;
}

/* Stops s typing to target, telling the others. */
static void stop_typing(struct broker *b, struct session *s, void *target, int is_dm)
{
    if (!typing_stop(&b->typing, s, target)) return;
    struct typing_entry e = {.who = s, .target = target, .is_dm = is_dm};
    send_typing(b, &e, 0);
}

void cmd_msg(struct broker *b, struct session *s, const Chat__Command *c)
{
    if (is_retry(b, s, c->id)) return;
    struct room *r = rooms_find(&b->rooms, c->msg->room);
    if (!r || !rooms_member(r, s)) {
        send_error(b, s->key.gw, s->key.conn, c->id, "not_in_room",
                   "join the room before sending to it");
        return;
    }
    uint64_t ts = clock_wall_ms();
    if (ring_push(&r->ring, r->seq + 1, ts, s->nick, c->msg->text) < 0) {
        log_error("ring_oom", "room=%s", r->name);
        send_error(b, s->key.gw, s->key.conn, c->id, "internal", "out of memory");
        return;
    }
    uint64_t seq = rooms_next_seq(r);
    stop_typing(b, s, r, 0);
    Chat__MsgEvent m = CHAT__MSG_EVENT__INIT;
    m.room = r->name;
    m.seq = seq;
    m.from = s->nick;
    m.text = c->msg->text;
    m.ts = ts;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_MSG;
    ev.msg = &m;
    send_to_room(b, r, &ev, s);
    send_ack(b, s, c->id, r, seq, ts);
    if (c->id) dedupe_add(&s->dedupe, c->id, r, seq, ts);
}

/* The live session holding nick, or NULL. */
static struct session *live_nick(struct broker *b, const char *nick)
{
    return nicks_owner(&b->nicks, nick);
}

void cmd_dm(struct broker *b, struct session *s, const Chat__Command *c)
{
    if (is_retry(b, s, c->id)) return;
    struct session *to = live_nick(b, c->dm->to);
    if (to == s) {
        send_error(b, s->key.gw, s->key.conn, c->id, "bad_request", "a DM to oneself");
        return;
    }
    if (!to) {
        send_error(b, s->key.gw, s->key.conn, c->id, "no_such_user", "nobody online has that nick");
        return;
    }
    uint64_t ts = clock_wall_ms();
    stop_typing(b, s, to, 1);
    Chat__DmEvent d = CHAT__DM_EVENT__INIT;
    d.from = s->nick;
    d.text = c->dm->text;
    d.ts = ts;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_DM;
    ev.dm = &d;
    send_to(b, to, &ev, NULL);
    send_ack(b, s, c->id, NULL, 0, ts);
    if (c->id) dedupe_add(&s->dedupe, c->id, NULL, 0, ts);
}

void cmd_typing(struct broker *b, struct session *s, const Chat__Command *c)
{
    const Chat__Typing *t = c->typing;
    void *target;
    int is_dm = t->to != NULL;
    if (is_dm) {
        struct session *to = live_nick(b, t->to);
        if (to == s) {
            send_error(b, s->key.gw, s->key.conn, c->id, "bad_request", "typing to oneself");
            return;
        }
        if (!to) {
            send_error(b, s->key.gw, s->key.conn, c->id, "no_such_user",
                       "nobody online has that nick");
            return;
        }
        target = to;
    } else {
        struct room *r = t->room ? rooms_find(&b->rooms, t->room) : NULL;
        if (!r || !rooms_member(r, s)) {
            send_error(b, s->key.gw, s->key.conn, c->id, "not_in_room", "you are not in that room");
            return;
        }
        target = r;
    }
    if (!t->active) {
        stop_typing(b, s, target, is_dm);
        return;
    }
    int fresh = typing_start(&b->typing, s, target, is_dm, b->mono_ms());
    if (fresh > 0) {
        struct typing_entry e = {.who = s, .target = target, .is_dm = is_dm};
        send_typing(b, &e, 1);
    }
}
