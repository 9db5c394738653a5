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

/* The lws protocol callback of every connection (clientio.c). */
int clientio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

#endif
