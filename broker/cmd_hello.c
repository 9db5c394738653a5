/* cmd_hello.c: identifying a connection, afresh or by resuming a session.
 *
 * A hello whose resume.session names a session the broker still holds (live
 * or detached), with the same nick in any letter case, resumes it: the
 * session moves to this connection (a live old connection is closed with
 * 4001), `welcome` says resumed, and each of its rooms is joined again as by
 * `join` with `since` = the client's last seen seq there (no replay for a
 * room the client did not name). Any other hello makes a fresh, server-made
 * session; the client's session string is never reused. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "broker.h"
#include "log.h"

static void send_welcome(struct broker *b, struct session *s, int resumed, const char *id)
{
    Chat__Welcome w = CHAT__WELCOME__INIT;
    w.nick = s->nick;
    w.session = s->token;
    w.online = b->online;
    w.resumed = resumed;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_WELCOME;
    ev.welcome = &w;
    send_to(b, s, &ev, id);
}

/* The session this hello may resume, or NULL. */
static struct session *resumable(struct broker *b, const Chat__Hello *h)
{
    if (!b->cfg.grace_ms || !h->resume_session) return NULL;
    struct session *s = session_by_token(b, h->resume_session);
    return s && !strcasecmp(s->nick, h->nick) ? s : NULL;
}

/* The client's last seen seq in room r, if it named r. */
static const Chat__RoomPos *position(const Chat__Hello *h, const struct room *r)
{
    for (size_t i = 0; i < h->n_resume_rooms; i++)
        if (!strcmp(h->resume_rooms[i]->room, r->name)) return h->resume_rooms[i];
    return NULL;
}

static void resume(struct broker *b, struct session *s, struct gateway *gw, const Chat__Command *c)
{
    const Chat__Hello *h = c->hello;
    session_move(b, s, gw, c->conn);
    send_welcome(b, s, 1, c->id);
    struct room **held = s->held;
    unsigned n = s->nheld;
    s->held = NULL;
    s->nheld = 0;
    for (unsigned i = 0; i < n; i++) {
        const Chat__RoomPos *pos = position(h, held[i]);
        if (cmd_join_room(b, s, held[i], pos != NULL, pos ? pos->seq : 0, NULL) < 0) {
            log_error("resume_oom", "nick=%s room=%s", s->nick, held[i]->name);
            send_error(b, gw, c->conn, NULL, "internal", "out of memory: a room was not restored");
        }
    }
    free(held);
    log_debug("session_resumed", "nick=%s gateway=%s conn=%llu rooms=%u", s->nick, gw->id,
              (unsigned long long)c->conn, n);
}

void cmd_hello(struct broker *b, struct gateway *gw, const Chat__Command *c)
{
    const Chat__Hello *h = c->hello;
    if (session_by_conn(b, gw, c->conn)) {
        send_error(b, gw, c->conn, c->id, "bad_request",
                   "already identified: hello was sent twice");
        return;
    }
    struct session *s = resumable(b, h);
    if (s) {
        resume(b, s, gw, c);
        return;
    }
    struct session *holder = nicks_owner(&b->nicks, h->nick);
    if (holder) { /* live, or reserved for a resume */
        /* Live on another gateway: it may be leaving (see broker.c). */
        if (holder->key.gw && holder->key.gw != gw && broker_defer(b, gw, c) == 0) return;
        send_error(b, gw, c->conn, c->id, "nick_taken", "that nick is in use; choose another");
        return;
    }
    if (!(s = session_new(b, gw, c->conn, h->nick))) {
        log_error("session_oom", "gateway=%s conn=%llu", gw->id, (unsigned long long)c->conn);
        send_error(b, gw, c->conn, c->id, "internal", "out of memory");
        return;
    }
    send_welcome(b, s, 0, c->id);
    log_debug("session_new", "nick=%s gateway=%s conn=%llu", s->nick, gw->id,
              (unsigned long long)c->conn);
}
