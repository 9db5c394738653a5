/* events.c: a broker event to its local recipients.
 *
 * Each event is rendered to JSON once, then the same frame is queued on
 * every target connection. Events that change what the gateway knows about
 * a connection (welcome, joined, left, a nick ack, a failed hello, a close)
 * update that first, so a room event following a `joined` already reaches
 * the joiner. A resumed session arrives as a `welcome` followed by one
 * `joined` per restored room, each handled like an ordinary join. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"

/* Bookkeeping for one target connection before the frame goes out. */
static void note(struct gw *g, struct conn *c, const Chat__Event *ev)
{
    switch (ev->ev_case) {
    case CHAT__EVENT__EV_WELCOME: {
        char *nick = strdup(ev->welcome->nick);
        if (!nick) break;
        free(c->nick);
        c->nick = nick;
        c->state = CONN_IDENTIFIED;
        c->last_online = ev->welcome->online;
        break;
    }
    case CHAT__EVENT__EV_JOINED:
        if (lrooms_add(&g->rooms, ev->joined->room, c, &c->rooms) < 0)
            log_error("lroom_oom", "conn=%llu", (unsigned long long)c->id);
        break;
    case CHAT__EVENT__EV_LEFT:
        lrooms_remove(&g->rooms, ev->left->room, &c->rooms);
        break;
    case CHAT__EVENT__EV_ACK:
        if (ev->ack->nick) {
            char *nick = strdup(ev->ack->nick);
            if (!nick) break;
            free(c->nick);
            c->nick = nick;
        }
        break;
    case CHAT__EVENT__EV_ERROR:
        metrics_error(g, ev->error->code);
        /* A hello that failed leaves the connection unidentified. */
        if (c->state == CONN_HELLO_SENT &&
            (!strcmp(ev->error->code, "nick_taken") || !strcmp(ev->error->code, "auth_failed") ||
             !strcmp(ev->error->code, "auth_required") || !strcmp(ev->error->code, "nick_invalid")))
            c->state = CONN_NEW;
        break;
    case CHAT__EVENT__EV_CLOSE:
        /* The broker has let go of this connection's session (4001: it was
         * resumed elsewhere): out of its rooms now, identified no more, and
         * nothing to report when it closes. */
        lrooms_remove_all(&g->rooms, &c->rooms);
        c->state = CONN_NEW;
        conn_close(g, c, (uint16_t)ev->close->code);
        break;
    case CHAT__EVENT__EV_SYNCED:
        conn_synced(g, c, ev->synced->tag);
        break;
    default:
        break;
    }
}

/* Queues the event's frames on c: the main frame, then any replay. */
static void send_all(struct gw *g, struct conn *c, struct frame *main, struct frame **extra,
                     size_t nextra, int reply)
{
    conn_send(g, c, main, reply);
    for (size_t i = 0; i < nextra; i++) conn_send(g, c, extra[i], reply);
}

/* Answers to one connection's own command. */
static int is_reply(const Chat__Event *ev)
{
    switch (ev->ev_case) {
    case CHAT__EVENT__EV_WELCOME:
    case CHAT__EVENT__EV_JOINED:
    case CHAT__EVENT__EV_LEFT:
    case CHAT__EVENT__EV_ACK:
    case CHAT__EVENT__EV_WHO_ROOM:
    case CHAT__EVENT__EV_WHO_ALL:
    case CHAT__EVENT__EV_HISTORY:
    case CHAT__EVENT__EV_ERROR:
        return ev->n_conns == 1;
    default:
        return 0;
    }
}

static void deliver_online(struct gw *g, const Chat__Event *ev)
{
    uint32_t count = ev->online->count;
    struct frame *f = NULL;
    for (struct conn *c = g->conns; c; c = c->hh.next) {
        if (c->state != CONN_IDENTIFIED || c->last_online == count) continue;
        if (!f && !(f = render_event(ev))) return;
        c->last_online = count;
        conn_send(g, c, f, 0);
    }
    if (f) frame_unref(f);
}

void events_deliver(struct gw *g, const Chat__Event *ev)
{
    if (ev->ev_case == CHAT__EVENT__EV_ONLINE && ev->online) {
        deliver_online(g, ev);
        return;
    }
    struct frame *main = render_event(ev); /* NULL for close */
    struct frame **extra = NULL;
    size_t nextra = 0;
    if (ev->ev_case == CHAT__EVENT__EV_JOINED && ev->joined->n_replay) {
        extra = calloc(ev->joined->n_replay, sizeof *extra);
        if (extra)
            for (; nextra < ev->joined->n_replay; nextra++)
                extra[nextra] = render_msg(ev->joined->replay[nextra]);
    }
    if (ev->room_target) {
        struct lroom *r = lrooms_find(&g->rooms, ev->room_target);
        for (struct lmember *m = r ? r->members : NULL; m; m = m->next) {
            struct conn *c = m->conn;
            if (ev->has_exclude && c->id == ev->exclude) continue;
            send_all(g, c, main, extra, nextra, 0);
        }
    } else if (ev->has_all && ev->all) {
        for (struct conn *c = g->conns; c; c = c->hh.next)
            if (c->state == CONN_IDENTIFIED) send_all(g, c, main, extra, nextra, 0);
    } else {
        int reply = is_reply(ev);
        for (size_t i = 0; i < ev->n_conns; i++) {
            struct conn *c = conn_by_id(g, ev->conns[i]);
            if (!c) continue; /* closed meanwhile */
            note(g, c, ev);
            send_all(g, c, main, extra, nextra, reply);
        }
    }
    if (main) frame_unref(main);
    for (size_t i = 0; i < nextra; i++)
        if (extra[i]) frame_unref(extra[i]);
    free(extra);
}

void events_link_down(struct gw *g)
{
    for (struct conn *c = g->conns; c; c = c->hh.next) conn_flush_held(g, c);
}

void events_reset_sessions(struct gw *g, int all)
{
    unsigned n = 0;
    for (struct conn *c = g->conns; c; c = c->hh.next) {
        if (c->state == CONN_NEW || (!all && c->epoch == g->link_epoch)) continue;
        lrooms_remove_all(&g->rooms, &c->rooms);
        c->state = CONN_NEW;
        conn_close(g, c, 1012);
        n++;
    }
    if (n) {
        g->stats.broker_resets++;
        log_warn("sessions_reset", "closed=%u code=1012", n);
    }
}
