/* cmd_hello.c: identifying a connection. */
#include "broker.h"
#include "log.h"

void cmd_hello(struct broker *b, struct gateway *gw, const Chat__Command *c)
{
    const Chat__Hello *h = c->hello;
    if (session_by_conn(b, gw, c->conn)) {
        send_error(b, gw, c->conn, c->id, "bad_request",
                   "already identified: hello was sent twice");
        return;
    }
    struct session *owner = nicks_owner(&b->nicks, h->nick);
    if (owner) {
        send_error(b, gw, c->conn, c->id, "nick_taken", "that nick is in use; choose another");
        return;
    }
    /* Resume (h->resume_session) comes with the failure-handling work: until
     * then every hello makes a fresh, server-made session. */
    struct session *s = session_new(b, gw, c->conn, h->nick);
    if (!s) {
        log_error("session_oom", "gateway=%s conn=%llu", gw->id, (unsigned long long)c->conn);
        send_error(b, gw, c->conn, c->id, "internal", "out of memory");
        return;
    }
    Chat__Welcome w = CHAT__WELCOME__INIT;
    w.nick = s->nick;
    w.session = s->token;
    w.online = b->online;
    w.resumed = 0;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_WELCOME;
    ev.welcome = &w;
    send_to(b, s, &ev, c->id);
    log_debug("session_new", "nick=%s gateway=%s conn=%llu", s->nick, gw->id,
              (unsigned long long)c->conn);
}
