/* client_internal.h: what client.c (the workers: connecting, the phases,
 * the send schedule, the thread) and clientio.c (one connection's bytes in
 * and out: the lws callback) share. Not for the rest of chat-bench. */
#ifndef CHAT_BENCH_CLIENT_INTERNAL_H
#define CHAT_BENCH_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdio.h>

#include <ev.h>
#include <libwebsockets.h>

#include "client.h"

#define QCAP 64                /* messages a sender may have waiting to be written */
#define RX_MAX (16u << 20)     /* largest message reassembled from pieces */
#define CLOSE_WAIT_US 3000000u /* how long CB_CLOSE waits for the closes to finish */

enum bstate {
    B_IDLE,       /* not opened yet */
    B_CONNECTING, /* TCP and upgrade under way */
    B_OPEN,       /* upgraded; identifying and joining (chat), connecting (socketio) */
    B_READY,
    B_CLOSING, /* we are closing it */
    B_WAIT,    /* lost after it was ready: waiting for its reconnect (reconnect.c) */
    B_DONE,
};

enum need {
    NEED_HELLO = 1,
    NEED_JOIN = 2,
    NEED_SIO_CONNECT = 4,
    NEED_PONG = 8,
    NEED_CLOSE = 16,
    NEED_UPGRADE = 32, /* --ws own: the HTTP upgrade request */
    NEED_WSPONG = 64,  /* --ws own: the answer to a WebSocket ping */
};

/* A queue of send times (the ids of msgs): a growable ring. */
struct u64q {
    uint64_t *v;
    size_t head, len, cap;
};

struct bconn {
    struct lws *wsi;
    uint64_t idx; /* the connection's number in the whole run */
    uint64_t t_start;
    uint32_t room;
    uint8_t state, need;
    uint16_t peer_close; /* the close code the peer sent, 0 if none */
    const char *why;     /* set when we close it before it was ready */
    uint8_t qhead, qlen;
    uint8_t upgraded, close_sent, rx_op; /* --ws own */
    uint64_t *q;                         /* senders: intended send times waiting for the writer */
    char *rx;                            /* a message arriving in pieces */
    size_t rxlen;
    uint8_t *pend; /* --ws own: received bytes not yet a whole frame */
    size_t pendlen;
    uint8_t *ping; /* --ws own: the payload of a ping to answer (<= 125 bytes) */
    uint8_t pinglen;
    /* Recovery (chat, --reconnect; reconnect.c). */
    uint8_t url;          /* the URL it connects to: i mod count, then the next on each reconnect */
    uint8_t member;       /* counted in its room's members (ready, or reconnecting) */
    uint8_t ever_ready;   /* was ready once: a loss is reconnected, a failure is not "failed" */
    uint8_t attempts;     /* reconnect attempts since it was last ready (the backoff) */
    uint8_t unavailable;  /* msgs answered unavailable in a row (their backoff) */
    uint8_t resumed;      /* the welcome of this connection said "resumed":true */
    uint64_t last_seq;    /* the highest seq of a msg seen in its room */
    uint64_t replay_upto; /* the room's seq at the last re-join: msgs up to it are replays */
    uint64_t wake_at;     /* B_WAIT: when to reconnect; ready senders: when `redo` may be written */
    char *session;        /* the last welcome's session string, for a resume */
    struct u64q out;      /* senders: msgs written and not answered yet */
    struct u64q redo;     /* senders: msgs to write again, with the same id */
};

struct client {
    const struct cb_config *cfg;
    struct cb_shared *sh;
    unsigned index, nworkers;
    int use_ev, own_ws, done, running;
    uint64_t rng; /* --ws own: keys and masks */
    struct ev_loop *loop;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    pthread_t thread;
    lws_sorted_usec_list_t tick;

    struct bconn *conns;
    size_t n, next_connect, inflight, concurrency;
    double connect_rate; /* this worker's share; 0: no limit */
    uint64_t connect_t0;
    int filling;

    size_t *senders, nsenders;
    double rate; /* this worker's messages/s */
    uint64_t sends_due;

    int phase;
    size_t nwaiting; /* connections in B_WAIT */
    uint64_t next_scan;
    uint64_t win_start, win_end; /* the measured window, as last read */
    uint64_t close_deadline;

    char *tx;
    size_t txcap; /* payload room after LWS_PRE */
    struct tally t;
};

static inline struct client *client_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static inline int in_window(const struct client *cl, uint64_t ts)
{
    return ts >= cl->win_start && ts < cl->win_end;
}

static inline _Atomic uint32_t *members_of(const struct client *cl, const struct bconn *c)
{
    return &cl->sh->members[cl->cfg->proto == WIRE_CHAT ? c->room : 0];
}

static inline void want_write(struct bconn *c, unsigned need)
{
    c->need |= (uint8_t)need;
    if (c->wsi) lws_callback_on_writable(c->wsi);
}

static inline void nick_of(const struct client *cl, const struct bconn *c, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%llu", cl->cfg->nick_prefix, (unsigned long long)c->idx);
}

static inline void room_of(const struct client *cl, uint32_t room, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-%u", cl->cfg->room_prefix, room);
}

/* Moves c to state s and keeps the counters (client.c). */
void client_set_state(struct client *cl, struct bconn *c, enum bstate s, const char *code);
/* c has closed: the peer's close code, or reason, says why (client.c). */
void client_end_conn(struct client *cl, struct bconn *c, const char *reason);

/* Opens c (again): a connect to its URL (client.c). */
void client_start_conn(struct client *cl, struct bconn *c, uint64_t now);

/* reconnect.c: recovery from losses, for the chat protocol with --reconnect. */
int u64q_push(struct u64q *q, uint64_t v);
/* Removes v (searched from the oldest); 1 if it was there. */
int u64q_remove(struct u64q *q, uint64_t v);
void u64q_free(struct u64q *q);
/* 1 when c, which is ending with this close code (or reason), is to be
 * opened again. */
int reconnect_wanted(const struct client *cl, const struct bconn *c, const char *code);
/* c has just gone to B_WAIT: picks the next URL and when to try. */
void reconnect_schedule(struct client *cl, struct bconn *c, uint64_t now);
/* From the tick: opens the connections whose wait is over, and wakes the
 * senders whose retries are due. */
void reconnect_tick(struct client *cl, uint64_t now);
/* A sender's msg ts was answered (ack: error NULL; or an error code). 1:
 * count it (first answer); 0: not counted (an answer again, or a retry was
 * queued for an unavailable). */
int reconnect_answered(struct client *cl, struct bconn *c, uint64_t ts, const char *error,
                       uint64_t now);
/* A msg in the room with this seq from connection `from`: 1 to count it as a
 * delivery, 0 when it was seen before or is c's own. */
int reconnect_seen(struct client *cl, struct bconn *c, uint64_t seq, int64_t from);
/* welcome on c: keeps the session; 1 when a join is needed. */
int reconnect_welcome(struct client *cl, struct bconn *c, const char *session, int resumed);
/* joined on c (about to be ready): the room's seq. */
void reconnect_joined(struct client *cl, struct bconn *c, uint64_t seq);
/* The since of c's join: -1 for the first one. */
static inline int64_t reconnect_since(const struct bconn *c)
{
    return c->ever_ready && !c->resumed ? (int64_t)c->last_seq : -1;
}

/* The lws protocol callback of every connection (clientio.c). */
int clientio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

#endif
