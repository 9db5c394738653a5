/* cmd_msg.c: room messages, private messages and typing. */
#include "broker.h"
#include "clock.h"
#include "log.h"

/* Stops s typing to target, telling the others. */
static void stop_typing(struct broker *b, struct session *s, void *target, int is_dm)
{
    if (!typing_stop(&b->typing, s, target)) return;
    struct typing_entry e = {.who = s, .target = target, .is_dm = is_dm};
    send_typing(b, &e, 0);
}

void cmd_msg(struct broker *b, struct session *s, const Chat__Command *c)
{
    if (history_retry(b, s, c->id)) return; /* a remembered id: the original ack */
    struct room *r = rooms_find(&b->rooms, c->msg->room);
    if (!r || !rooms_member(r, s)) {
        send_error(b, s->key.gw, s->key.conn, c->id, "not_in_room",
                   "join the room before sending to it");
        return;
    }
    stop_typing(b, s, r, 0);
    if (history_submit(b, s, r, c->msg->text, c->id) < 0)
        send_error(b, s->key.gw, s->key.conn, c->id, "unavailable",
                   "history is unavailable; the message was not accepted");
}

/* The live session holding nick, or NULL (a detached session holds its nick
 * but has no connection: DMs are live). */
static struct session *live_nick(struct broker *b, const char *nick)
{
    struct session *s = nicks_owner(&b->nicks, nick);
    return s && s->key.gw ? s : NULL;
}

void cmd_dm(struct broker *b, struct session *s, const Chat__Command *c)
{
    if (history_retry(b, s, c->id)) return; /* a remembered id: the original ack */
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
    history_ack(b, s, c->id, NULL, 0, ts);
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
