/* cmd_nick.c: nick changes, announced to everyone sharing a room. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"

void cmd_nick(struct broker *b, struct session *s, const Chat__Command *c)
{
    const char *want = c->nick->nick;
    Chat__Ack a = CHAT__ACK__INIT;
    Chat__Event ack = CHAT__EVENT__INIT;
    ack.ev_case = CHAT__EVENT__EV_ACK;
    ack.ack = &a;
    if (!strcmp(want, s->nick)) { /* identical: acknowledged, not announced */
        a.nick = s->nick;
        send_to(b, s, &ack, c->id);
        return;
    }
    if (nicks_claim(&b->nicks, want, s) < 0) {
        send_error(b, s->key.gw, s->key.conn, c->id, "nick_taken",
                   "that nick is in use; choose another");
        return;
    }
    char *old = s->nick, *fresh = strdup(want);
    if (!fresh) {
        if (strcasecmp(old, want)) nicks_release(&b->nicks, want, s);
        send_error(b, s->key.gw, s->key.conn, c->id, "internal", "out of memory");
        return;
    }
    /* A change of letter case keeps the same (folded) claim. */
    if (strcasecmp(old, want)) nicks_release(&b->nicks, old, s);
    s->nick = fresh;
    a.nick = s->nick;
    send_to(b, s, &ack, c->id);

    Chat__NickEvent n = CHAT__NICK_EVENT__INIT;
    n.old = old;
    n.new_ = s->nick;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_NICK;
    ev.nick = &n;
    batch_begin(b);
    batch_add(b, s);
    for (struct member *m = s->rooms; m; m = m->hh_who.next)
        for (struct member *o = m->room->members; o; o = o->hh_room.next) batch_add(b, o->who);
    batch_send(b, &ev);
    log_debug("nick_change", "old=%s new=%s", old, s->nick);
    free(old);
}
