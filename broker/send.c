/* send.c: packing events and handing them to the ROUTER socket.
 *
 * Room events go once per gateway hosting members (addressed to the room);
 * events for chosen sessions are grouped by gateway into one message with a
 * list of conns. Sends never block the loop: a full queue (the high-water
 * mark) drops the message, and each drop is logged and counted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "broker.h"
#include "log.h"

void send_down(struct broker *b, struct gateway *gw, Chat__Downstream *d)
{
    if (!gw || gw->dead) return; /* no gateway: a detached session (its answers are lost) */
    uint8_t stack[4096];
    size_t len = chat__downstream__get_packed_size(d);
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf) {
        log_error("send_oom", "gateway=%s bytes=%zu", gw->id, len);
        b->send_drops++;
        return;
    }
    chat__downstream__pack(d, buf);
    if (zmq_send(b->router, gw->id, gw->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(b->router, buf, len, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        b->send_drops++;
        gw->drops++;
        uint64_t now = b->mono_ms();
        if (now - gw->drops_logged_ms >= 1000) { /* at most one line a second per gateway */
            gw->drops_logged_ms = now;
            log_warn("send_dropped", "gateway=%s drops=%llu reason=\"%s\"", gw->id,
                     (unsigned long long)gw->drops,
                     err == EAGAIN ? "high-water mark" : zmq_strerror(err));
        }
    }
    if (buf != stack) free(buf);
}

void send_event(struct broker *b, struct gateway *gw, Chat__Event *ev)
{
    Chat__Downstream d = CHAT__DOWNSTREAM__INIT;
    d.body_case = CHAT__DOWNSTREAM__BODY_EVENT;
    d.event = ev;
    send_down(b, gw, &d);
}

void send_to(struct broker *b, struct session *s, Chat__Event *ev, const char *id)
{
    uint64_t conn = s->key.conn;
    ev->conns = &conn;
    ev->n_conns = 1;
    ev->id = (char *)id;
    send_event(b, s->key.gw, ev);
    ev->conns = NULL;
    ev->n_conns = 0;
    ev->id = NULL;
}

void send_to_room(struct broker *b, struct room *r, Chat__Event *ev, struct session *except)
{
    ev->room_target = r->name;
    int counted = except && rooms_member(r, except); /* is except in the counts? */
    for (size_t i = 0; i < r->ngws; i++) {
        struct gateway *gw = r->gws[i].gw;
        int skip = except && except->key.gw == gw;
        if (skip && counted && r->gws[i].members == 1) continue; /* nobody else there */
        ev->has_exclude = skip;
        ev->exclude = skip ? except->key.conn : 0;
        send_event(b, gw, ev);
    }
    ev->room_target = NULL;
    ev->has_exclude = 0;
}

void batch_begin(struct broker *b)
{
    b->mark++;
    for (struct gateway *gw = b->gateways; gw; gw = gw->hh.next) gw->nbatch = 0;
}

void batch_add(struct broker *b, struct session *s)
{
    if (s->mark == b->mark) return;
    s->mark = b->mark;
    struct gateway *gw = s->key.gw;
    if (gw->nbatch == gw->capbatch) {
        size_t cap = gw->capbatch ? gw->capbatch * 2 : 64;
        uint64_t *n = realloc(gw->batch, cap * sizeof *n);
        if (!n) {
            log_error("batch_oom", "gateway=%s", gw->id);
            return;
        }
        gw->batch = n;
        gw->capbatch = cap;
    }
    gw->batch[gw->nbatch++] = s->key.conn;
}

void batch_send(struct broker *b, Chat__Event *ev)
{
    for (struct gateway *gw = b->gateways; gw; gw = gw->hh.next) {
        if (!gw->nbatch) continue;
        ev->conns = gw->batch;
        ev->n_conns = gw->nbatch;
        send_event(b, gw, ev);
    }
    ev->conns = NULL;
    ev->n_conns = 0;
}

/* An error event to one connection; retry_after_ms < 0 leaves it out. */
static void error_event(struct broker *b, struct gateway *gw, uint64_t conn, const char *id,
                        const char *code, const char *message, long retry_after_ms)
{
    b->stats.errors[chat_error_index(code)]++;
    Chat__Error err = CHAT__ERROR__INIT;
    err.code = (char *)code;
    err.message = (char *)message;
    if (retry_after_ms >= 0) {
        err.has_retry_after_ms = 1;
        err.retry_after_ms = (uint32_t)retry_after_ms;
    }
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_ERROR;
    ev.error = &err;
    ev.conns = &conn;
    ev.n_conns = 1;
    ev.id = (char *)id;
    send_event(b, gw, &ev);
}

void send_error(struct broker *b, struct gateway *gw, uint64_t conn, const char *id,
                const char *code, const char *message)
{
    error_event(b, gw, conn, id, code, message, -1);
}

void send_rate_limited(struct broker *b, struct session *s, const char *id, long retry_after_ms)
{
    error_event(b, s->key.gw, s->key.conn, id, "rate_limited",
                "too many commands from this nick; slow down", retry_after_ms);
}

void send_presence(struct broker *b, struct room *r, struct session *s, int join)
{
    Chat__Presence p = CHAT__PRESENCE__INIT;
    p.room = r->name;
    p.nick = s->nick;
    p.join = join;
    p.count = r->count;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_PRESENCE;
    ev.presence = &p;
    send_to_room(b, r, &ev, s);
}

void send_typing(struct broker *b, struct typing_entry *e, int active)
{
    struct session *from = e->who;
    Chat__TypingEvent t = CHAT__TYPING_EVENT__INIT;
    t.nick = from->nick;
    t.active = active;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_TYPING;
    ev.typing = &t;
    if (e->is_dm) {
        send_to(b, (struct session *)e->target, &ev, NULL);
    } else {
        struct room *r = e->target;
        t.room = r->name;
        send_to_room(b, r, &ev, from);
    }
}

void send_close(struct broker *b, struct session *s, uint32_t code, const char *reason)
{
    Chat__Close cl = CHAT__CLOSE__INIT;
    cl.code = code;
    cl.reason = (char *)reason;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_CLOSE;
    ev.close = &cl;
    send_to(b, s, &ev, NULL);
}

void send_synced(struct broker *b, struct gateway *gw, uint64_t conn, uint32_t tag)
{
    Chat__Synced sy = CHAT__SYNCED__INIT;
    sy.tag = tag;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_SYNCED;
    ev.synced = &sy;
    ev.conns = &conn;
    ev.n_conns = 1;
    send_event(b, gw, &ev);
}
