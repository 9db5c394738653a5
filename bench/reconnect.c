/* reconnect.c: how a chat-bench connection recovers when the cluster fails
 * under it (the chat protocol with --reconnect, the default).
 *
 * A connection that was ready once and ends while the run goes on (a close
 * with 1012, 1001, 1006 or any code but 4001, the TCP connection lost, a
 * failed connect) waits in B_WAIT for a backoff (CB_BACKOFF_MIN_US doubling
 * to CB_BACKOFF_MAX_US, jitter between half and all of it), then connects to
 * the next URL of the list (so a dead gateway is skipped) and sends hello
 * with resume: {"session": the last welcome's, "rooms": {room: last seq
 * seen}}. "resumed":true: the broker restores the room and replays what was
 * missed; false: chat-bench joins again with since = last seq seen, and the
 * broker replays from its history. A reconnect whose hello or join is
 * refused closes and tries again. It stays in its room's member count all
 * along, so the deliveries an ack promises include it.
 *
 * Deliveries are counted once per (room, seq): a connection is in one room
 * and its messages come in seq order, so a msg at or below the last seq it
 * saw was seen before (a replay overlapping what arrived); its own messages
 * coming back in a replay are not deliveries.
 *
 * A sender keeps the ids (send times) of its msgs written and not answered.
 * Those still unanswered at a loss are written again, with the same id,
 * once it is ready again; a msg answered `unavailable` (the broker was
 * down, nothing was accepted) is written again after a backoff. The broker
 * answers a retry of an accepted msg with its first ack; an ack is counted
 * once. While not ready a sender sends nothing new (those sends are "not
 * sent (sender gone)"). */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "wsframe.h"

/* ---------------------------------------------------------------- queues */

int u64q_push(struct u64q *q, uint64_t v)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        uint64_t *n = malloc(cap * sizeof *n);
        if (!n) return -1;
        for (size_t i = 0; i < q->len; i++) n[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = n;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->len) % q->cap] = v;
    q->len++;
    return 0;
}

int u64q_remove(struct u64q *q, uint64_t v)
{
    for (size_t i = 0; i < q->len; i++) {
        if (q->v[(q->head + i) % q->cap] != v) continue;
        if (i == 0) { /* the usual case: answers come in the order sent */
            q->head = (q->head + 1) % q->cap;
        } else {
            for (size_t k = i; k + 1 < q->len; k++)
                q->v[(q->head + k) % q->cap] = q->v[(q->head + k + 1) % q->cap];
        }
        q->len--;
        return 1;
    }
    return 0;
}

void u64q_free(struct u64q *q)
{
    free(q->v);
    *q = (struct u64q){0};
}

/* Moves everything in src to the end of dst. */
static void u64q_move(struct u64q *dst, struct u64q *src)
{
    for (size_t i = 0; i < src->len; i++)
        if (u64q_push(dst, src->v[(src->head + i) % src->cap]) < 0) break;
    src->head = src->len = 0;
}

/* ---------------------------------------------------------------- backoff */

static uint64_t backoff_us(struct client *cl, unsigned attempt)
{
    uint64_t d = CB_BACKOFF_MIN_US;
    for (unsigned i = 0; i < attempt && d < CB_BACKOFF_MAX_US; i++) d *= 2;
    if (d > CB_BACKOFF_MAX_US) d = CB_BACKOFF_MAX_US;
    return d / 2 + wsframe_rand(&cl->rng) % (d / 2 + 1);
}

static int enabled(const struct client *cl)
{
    return cl->cfg->reconnect && cl->cfg->proto == WIRE_CHAT;
}

/* ---------------------------------------------------------------- reconnecting */

int reconnect_wanted(const struct client *cl, const struct bconn *c, const char *code)
{
    if (!enabled(cl) || !c->ever_ready || cl->phase == CB_CLOSE) return 0;
    if (c->state != B_READY && c->state != B_CONNECTING && c->state != B_OPEN) return 0;
    return !code || strcmp(code, "4001") != 0; /* taken over: someone else has the session */
}

void reconnect_schedule(struct client *cl, struct bconn *c, uint64_t now)
{
    c->url = (uint8_t)((c->url + 1) % cl->cfg->nurls);
    c->wake_at = now + backoff_us(cl, c->attempts);
    if (c->attempts < 255) c->attempts++;
    u64q_move(&c->redo, &c->out); /* unanswered: written again once ready */
    cl->nwaiting++;
}

void reconnect_tick(struct client *cl, uint64_t now)
{
    if (now < cl->next_scan) return;
    cl->next_scan = now + 5000;
    for (size_t k = 0; cl->nwaiting && k < cl->n && cl->inflight < cl->concurrency; k++) {
        struct bconn *c = &cl->conns[k];
        if (c->state != B_WAIT || now < c->wake_at) continue;
        cl->nwaiting--;
        cl->t.reconnect_attempts++;
        client_start_conn(cl, c, now);
    }
    for (size_t s = 0; s < cl->nsenders; s++) {
        struct bconn *c = &cl->conns[cl->senders[s]];
        if (c->state == B_READY && c->redo.len && now >= c->wake_at)
            lws_callback_on_writable(c->wsi);
    }
}

/* ---------------------------------------------------------------- answers and deliveries */

int reconnect_answered(struct client *cl, struct bconn *c, uint64_t ts, const char *error,
                       uint64_t now)
{
    if (cl->cfg->proto != WIRE_CHAT || !c->q) return 1;
    if (!u64q_remove(&c->out, ts)) {
        /* Answered again (a retry of an acked msg), or an answer from before
         * a loss to a msg since queued for a retry. */
        if (!u64q_remove(&c->redo, ts)) {
            if (!error) cl->t.acks_again++;
            return 0;
        }
    }
    if (!error) {
        c->unavailable = 0;
        return 1;
    }
    if (!enabled(cl) || strcmp(error, "unavailable") != 0) return 1;
    if (u64q_push(&c->redo, ts) < 0) return 1;
    c->wake_at = now + backoff_us(cl, c->unavailable);
    if (c->unavailable < 255) c->unavailable++;
    return 0;
}

int reconnect_seen(struct client *cl, struct bconn *c, uint64_t seq, int64_t from)
{
    if (seq) {
        if (seq <= c->last_seq) {
            cl->t.duplicates++;
            return 0;
        }
        c->last_seq = seq;
        if (seq <= c->replay_upto) cl->t.replayed++;
    }
    if (from == (int64_t)c->idx) { /* our own, in a replay */
        cl->t.own_replayed++;
        return 0;
    }
    return 1;
}

int reconnect_welcome(struct client *cl, struct bconn *c, const char *session, int resumed)
{
    c->resumed = 0;
    if (!enabled(cl)) return 1;
    if (*session) {
        char *s = realloc(c->session, strlen(session) + 1);
        if (s) c->session = strcpy(s, session);
    }
    if (!c->ever_ready) return 1;
    if (resumed) {
        cl->t.resumed_true++;
        c->resumed = 1;
        return 0; /* the broker sends joined for the restored room */
    }
    cl->t.resumed_false++;
    return 1;
}

void reconnect_joined(struct client *cl, struct bconn *c, uint64_t seq)
{
    if (!c->ever_ready) {
        c->last_seq = seq; /* what comes next is newer */
        return;
    }
    c->replay_upto = seq;
    if (seq < c->last_seq) { /* the room's seq went back: its history was lost */
        cl->t.seq_resets++;
        c->last_seq = seq;
    }
}
