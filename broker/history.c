/* history.c: committing room messages, and reading them back.
 *
 * A room message gets its seq when the broker accepts it, but is delivered
 * (to the room, into the ring, acked to its sender) only once it is
 * committed: at once with --history none, after its SQLite transaction
 * otherwise. Completions come back in append order, so every room's
 * messages are delivered in seq order. When a transaction fails, every
 * message still in flight fails after it (persist/store.h), each room's seq
 * is wound back to its last committed message, and the senders get
 * `unavailable`: no seq is skipped, none is reused, nothing unacknowledged
 * is delivered.
 *
 * Reads serve `history` and `join since` from the room's ring when it
 * reaches far enough back, else from SQLite. */
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"
#include "log.h"
#include "store.h"

enum pending_kind { PENDING_MSG, PENDING_RETRY };

/* One message (or barrier) in flight through the store. */
struct pending {
    enum pending_kind kind;
    struct room *room;
    uint64_t seq, ts;
    char token[33];         /* the sender's session */
    char *id, *nick, *text; /* in the same allocation */
};

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

void history_ack(struct broker *b, struct session *s, const char *id, const struct room *r,
                 uint64_t seq, uint64_t ts)
{
    send_ack(b, s, id, r, seq, ts);
    if (!r) b->stats.dms++;
}

/* The message is committed: into the ring, out to the room, acked. */
static void deliver(struct broker *b, struct room *r, uint64_t seq, uint64_t ts, const char *nick,
                    const char *text, struct session *sender, const char *id)
{
    if (ring_push(&r->ring, seq, ts, nick, text) < 0)
        log_error("ring_oom", "room=%s seq=%llu", r->name, (unsigned long long)seq);
    r->committed = seq;
    b->stats.messages++;
    Chat__MsgEvent m = CHAT__MSG_EVENT__INIT;
    m.room = r->name;
    m.seq = seq;
    m.from = (char *)nick;
    m.text = (char *)text;
    m.ts = ts;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_MSG;
    ev.msg = &m;
    send_to_room(b, r, &ev, sender);
    if (!sender) return;
    if (id) {
        struct dedupe_entry *e = dedupe_find(&sender->dedupe, id);
        if (e) e->pending = 0;
    }
    send_ack(b, sender, id, r, seq, ts);
}

static struct pending *pending_new(enum pending_kind kind, struct session *s, const char *id,
                                   const char *nick, const char *text)
{
    size_t li = id ? strlen(id) + 1 : 0, ln = nick ? strlen(nick) + 1 : 0;
    size_t lt = text ? strlen(text) + 1 : 0;
    struct pending *p = calloc(1, sizeof *p + li + ln + lt);
    if (!p) return NULL;
    p->kind = kind;
    if (s) memcpy(p->token, s->token, sizeof p->token);
    char *q = (char *)(p + 1);
    if (id) p->id = memcpy(q, id, li);
    if (nick) p->nick = memcpy(q + li, nick, ln);
    if (text) p->text = memcpy(q + li + ln, text, lt);
    return p;
}

int history_submit(struct broker *b, struct session *s, struct room *r, const char *text,
                   const char *id)
{
    uint64_t seq = r->seq + 1, ts = clock_wall_ms();
    if (!b->store) {
        r->seq = seq;
        if (id) dedupe_add(&s->dedupe, id, r, seq, ts);
        deliver(b, r, seq, ts, s->nick, text, s, id);
        return 0;
    }
    struct pending *p = pending_new(PENDING_MSG, s, id, s->nick, text);
    if (!p) return -1;
    p->room = r;
    p->seq = seq;
    p->ts = ts;
    if (store_append(b->store, r->name, seq, ts, s->nick, text, id, p) < 0) {
        free(p);
        return -1;
    }
    r->seq = seq;
    s->pending++;
    b->pending++;
    if (id) {
        dedupe_add(&s->dedupe, id, r, seq, ts);
        struct dedupe_entry *e = dedupe_find(&s->dedupe, id);
        if (e) e->pending = 1;
    }
    return 0;
}

int history_retry(struct broker *b, struct session *s, const char *id)
{
    struct dedupe_entry *e = id ? dedupe_find(&s->dedupe, id) : NULL;
    if (!e) return 0;
    if (!e->pending) {
        send_ack(b, s, id, e->room, e->seq, e->ts);
        return 1;
    }
    /* The original is still in flight: answer once it is settled. */
    struct pending *p = pending_new(PENDING_RETRY, s, id, NULL, NULL);
    if (!p || store_barrier(b->store, p) < 0) {
        free(p);
        send_error(b, s->key.gw, s->key.conn, id, "unavailable",
                   "history is unavailable; nothing was accepted");
        return 1;
    }
    s->pending++;
    b->pending++;
    return 1;
}

static void completed(void *arg, void *cookie, int ok)
{
    struct broker *b = arg;
    struct pending *p = cookie;
    struct session *s = session_by_token(b, p->token);
    if (s) s->pending--;
    b->pending--;
    switch (p->kind) {
    case PENDING_MSG:
        if (ok) {
            deliver(b, p->room, p->seq, p->ts, p->nick, p->text, s, p->id);
            break;
        }
        /* Wind the room back: this and every later message in flight fail. */
        if (p->room->seq >= p->seq) p->room->seq = p->seq - 1;
        if (!s) break;
        if (p->id) dedupe_forget(&s->dedupe, p->id);
        send_error(b, s->key.gw, s->key.conn, p->id, "unavailable",
                   "the message could not be stored; it was not delivered");
        break;
    case PENDING_RETRY: {
        if (!s) break;
        struct dedupe_entry *e = p->id ? dedupe_find(&s->dedupe, p->id) : NULL;
        if (e && !e->pending)
            send_ack(b, s, p->id, e->room, e->seq, e->ts);
        else
            send_error(b, s->key.gw, s->key.conn, p->id, "unavailable",
                       "the message could not be stored; it was not delivered");
        break;
    }
    }
    if (!ok && !b->store_failed) {
        b->store_failed = 1;
        log_error("history_write_failed", "room=%s seq=%llu", p->room ? p->room->name : "-",
                  (unsigned long long)p->seq);
    }
    free(p);
    if (s) broker_run_queue(b, s);
}

void history_completions(struct broker *b)
{
    store_completions(b->store, completed, b);
    if (b->store_failed && b->pending == 0) {
        /* Everything in flight has failed and been answered: try again. */
        b->store_failed = 0;
        store_recover(b->store);
        log_info("history_retrying", "in_flight=%u", b->pending);
    }
}

/* ---------------------------------------------------------------- reads */

void msg_list_clear(struct msg_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->owned ? l->ev[i].text : NULL);
    free(l->ev);
    free(l->ptrs);
    memset(l, 0, sizeof *l);
}

static int list_add(struct msg_list *l, const char *room, uint64_t seq, uint64_t ts,
                    const char *from, const char *text, int copy)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        Chat__MsgEvent *ev = realloc(l->ev, cap * sizeof *ev);
        if (!ev) return -1;
        l->ev = ev;
        l->cap = cap;
    }
    Chat__MsgEvent *m = &l->ev[l->n];
    chat__msg_event__init(m);
    m->room = (char *)room;
    m->seq = seq;
    m->ts = ts;
    if (copy) { /* text and nick in one allocation, text first (freed by clear) */
        size_t lt = strlen(text) + 1, lf = strlen(from) + 1;
        char *buf = malloc(lt + lf);
        if (!buf) return -1;
        m->text = memcpy(buf, text, lt);
        m->from = memcpy(buf + lt, from, lf);
    } else {
        m->text = (char *)text;
        m->from = (char *)from;
    }
    l->n++;
    return 0;
}

struct read_ctx {
    struct msg_list *l;
    const char *room;
    int failed;
};

static void from_store(void *arg, uint64_t seq, uint64_t ts, const char *from, const char *text)
{
    struct read_ctx *c = arg;
    if (list_add(c->l, c->room, seq, ts, from, text, 1) < 0) c->failed = 1;
}

int history_read(struct broker *b, struct room *r, uint64_t from, uint64_t to, struct msg_list *out)
{
    memset(out, 0, sizeof *out);
    if (from < 1) from = 1;
    if (to > r->committed) to = r->committed;
    if (from > to) return 0;
    uint64_t first = ring_first_seq(&r->ring);
    if (b->store && (!r->ring.size || from < first)) {
        out->owned = 1;
        struct read_ctx c = {out, r->name, 0};
        if (store_read(b->store, r->name, from, to, (size_t)(to - from + 1), from_store, &c) < 0 ||
            c.failed) {
            log_error("history_read_failed", "room=%s", r->name);
            msg_list_clear(out);
            return -1;
        }
    } else {
        if (r->ring.size && from < first) from = first;
        for (uint64_t seq = from; seq <= to; seq++) {
            const struct stored_msg *m = ring_get(&r->ring, seq);
            if (m && list_add(out, r->name, m->seq, m->ts, m->from, m->text, 0) < 0) {
                msg_list_clear(out);
                return -1;
            }
        }
    }
    if (out->n) {
        out->ptrs = malloc(out->n * sizeof *out->ptrs);
        if (!out->ptrs) {
            msg_list_clear(out);
            return -1;
        }
        for (size_t i = 0; i < out->n; i++) out->ptrs[i] = &out->ev[i];
    }
    return 0;
}

/* ---------------------------------------------------------------- startup */

static void restore_room(void *arg, const char *name, uint64_t last_seq)
{
    struct broker *b = arg;
    struct room *r = rooms_get(&b->rooms, name);
    if (!r) {
        log_error("restore_oom", "room=%s", name);
        return;
    }
    r->seq = r->committed = last_seq;
}

int history_restore(struct broker *b)
{
    if (store_rooms(b->store, restore_room, b) < 0) return -1;
    log_info("history_restored", "rooms=%u", HASH_COUNT(b->rooms.by_name));
    return 0;
}
