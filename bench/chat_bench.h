/* chat_bench.h: what the parts of chat-bench share.
 *
 * chat_bench.c reads the flags into struct cb_config and runs the phases
 * (it is the coordinator); client.c runs the WebSocket connections, one lws
 * context per worker thread; wire.c builds and reads frames; tally.c counts;
 * summary.c prints the table or the JSON.
 *
 * The coordinator talks to the workers through struct cb_shared: it fills
 * in the timeline and the room sizes, then moves `phase` forward with a
 * release store; a worker reads `phase` with an acquire load on each tick
 * and may then read what was written before. */
#ifndef CHAT_BENCH_CHAT_BENCH_H
#define CHAT_BENCH_CHAT_BENCH_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include "wire.h"

#define CB_MAX_URLS 16

/* Reconnect backoff: the first wait, doubled on each failed attempt up to the
 * last; each wait is drawn between half of it and all of it (jitter). */
#define CB_BACKOFF_MIN_US 100000u
#define CB_BACKOFF_MAX_US 5000000u

struct cb_url {
    char host[128];
    int port;
    char hostport[160]; /* the Host header: "host:port" */
    char path[512];     /* with any query */
};

struct cb_config {
    enum wire_proto proto;
    struct cb_url urls[CB_MAX_URLS];
    size_t nurls;
    long long conns, rooms, senders, text_bytes, threads, concurrency;
    double rate, connect_rate; /* msgs/s per sender; new connections/s (0: no limit) */
    double duration_s, warmup_s, ramp_s, drain_s, connect_timeout_s, settle_s, idle_s;
    int storm; /* connect, identify, join, report, leave */
    int json;
    int use_ev;    /* libev (epoll) under lws, else lws's poll() loop */
    int own_ws;    /* WebSocket upgrade and frames by wsframe.c over lws raw sockets */
    int reconnect; /* chat: reconnect and resume after a loss, retry unavailable msgs */
    const char *ready_file;
    char nick_prefix[24]; /* nick of connection i: <prefix><i> */
    char room_prefix[48]; /* room r: <prefix>-<r> */
};

enum cb_phase {
    CB_CONNECT, /* open connections up to --conns, --concurrency at a time */
    CB_HOLD,    /* every connection is ready; nothing is sent (settle, idle) */
    CB_SEND,    /* ramp, warm-up, measured window: messages at the rate */
    CB_DRAIN,   /* no new messages; answers still counted */
    CB_CLOSE,   /* close every connection with 1000 and stop */
};

struct cb_shared {
    _Atomic int phase;
    /* Set before phase becomes CB_SEND, monotonic us. Sends are scheduled
     * from send_t0 (ramp_us of linear ramp, then the full rate); the ones
     * with an intended time in [measure_start, measure_end) are measured. */
    uint64_t send_t0, ramp_us, measure_start;
    _Atomic uint64_t measure_end; /* brought forward when the run is interrupted */
    /* Ready connections in each room (chat), or in all (socketio and plain:
     * one broadcast), kept by the workers as connections become ready and
     * go; an ack promises members - 1 deliveries. */
    _Atomic uint32_t *members;
    size_t nmembers;
};

/* 1: SIGINT or SIGTERM; 2: the run's time bound passed (SIGALRM). */
extern volatile sig_atomic_t cb_stop;

/* Connection i: its URL, room and whether it sends. */
static inline unsigned cb_url_of(const struct cb_config *c, uint64_t i)
{
    return (unsigned)(i % c->nurls);
}
static inline uint32_t cb_room_of(const struct cb_config *c, uint64_t i)
{
    return (uint32_t)(i % (uint64_t)c->rooms);
}
static inline int cb_is_sender(const struct cb_config *c, uint64_t i)
{
    return i < (uint64_t)c->senders;
}

#endif
