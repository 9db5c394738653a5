/* gateway: the state of one chat-gateway process.
 *
 * One thread runs everything: libwebsockets' event loop serves HTTP and
 * WebSocket connections, and the ZeroMQ link to the broker is adopted into
 * that same loop (link.c), so no state here is ever shared between threads. */
#ifndef CHAT_GW_GATEWAY_H
#define CHAT_GW_GATEWAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>
#include <uthash.h>

#include "codec.h"
#include "localrooms.h"
#include "metrics.h"
#include "origins.h"
#include "render.h"

struct gw_config {
    long long port;
    const char *bind; /* address or interface to listen on; empty: all */
    const char *broker;
    const char *id;
    const char *web;
    long long max_frame;            /* bytes of one WebSocket message; past it: close 1009 */
    long long max_text;             /* code points of msg/dm text */
    long long max_nick;             /* code points of a nick */
    long long max_room;             /* code points of a room name */
    long long max_queue;            /* bytes queued to one connection; past it: close 1013 */
    long long heartbeat_ms;         /* link heartbeat period */
    long long broker_timeout_ms;    /* no heartbeat answer this long: broker unavailable */
    long long hwm;                  /* ZeroMQ high-water marks */
    long long drain_timeout_ms;     /* SIGTERM: time for clients to take their 1012 */
    long long rate;                 /* commands per second per connection (0: no limit) */
    long long burst;                /* commands a connection may send at once */
    long long flood_close;          /* refused commands in a row that close with 1008 (0: never) */
    long long max_conns;            /* WebSocket connections at most (0: no limit) */
    long long max_conns_per_ip;     /* from one client address at most (0: no limit) */
    long long handshake_timeout_ms; /* to finish the HTTP upgrade */
    long long ping_interval_ms;     /* a silent connection gets a WebSocket ping after this */
    long long idle_timeout_ms;      /* and is closed after this without any traffic or pong */
    /* Optional protections (security.c); "" when off. */
    const char *auth_secret, *auth_secret_file; /* HS256 key of hello tokens */
    const char *allowed_origins;                /* browser Origins allowed to open /ws */
    const char *tls_cert, *tls_key;             /* PEM files: wss:// and https:// */
    const char *curve_secret_file;              /* own CURVE key pair */
    const char *curve_broker_public;            /* the broker's CURVE public key */
    long long rx_buffer; /* lws receive buffer of each WebSocket connection */
};

/* One WebSocket connection: libwebsockets' per-session data. */
struct conn {
    struct lws *wsi;
    uint64_t id;
    enum conn_state state;
    char *nick;            /* when identified */
    struct lmember *rooms; /* local room memberships */
    uint32_t last_online;  /* the last online count this client was sent */
    uint16_t close_code;   /* non-zero: close at the next writable */
    uint8_t peer_clean;    /* the client closed with 1000 */
    uint32_t epoch;        /* gw.link_epoch when its hello went to the broker */
    /* Token bucket for commands (--rate, --burst) and the run of refusals. */
    double tokens;
    uint64_t tokens_ms;
    uint32_t refused_run;
    struct peer_ip *ip; /* its address's entry (admit.c), when counted */
    /* Outgoing frames: a ring of shared frame references. */
    struct frame **q;
    uint32_t qcap, qhead, qlen;
    size_t qbytes;
    /* Ordering of answers the gateway gives itself (see Sync in chat.proto). */
    uint32_t sent;       /* commands forwarded to the broker */
    uint32_t synced;     /* of those, known handled (the last Synced tag) */
    uint32_t sync_asked; /* the last tag a Sync went out for */
    struct held *held, *held_tail;
    /* A message arriving in several fragments is assembled here. */
    char *rx;
    size_t rxlen;
    int rx_binary;
    UT_hash_handle hh;
};

struct link;

/* Counters for /metrics. Frame kinds are Chat__Command cmd_case values for
 * frames in (GW_KIND_INVALID: not a valid command, GW_KIND_PING: a ping) and
 * struct frame kinds (Chat__Event ev_case, FRAME_KIND_PONG) for frames out. */
#define GW_NKINDS 32
#define GW_KIND_INVALID 0
#define GW_KIND_PING 1
#define GW_NCLOSES 8 /* the close codes the gateway sends, then "other" */
struct gw_stats {
    uint64_t opened;                /* WebSocket connections accepted */
    uint64_t frames_in[GW_NKINDS];  /* client messages, by command */
    uint64_t frames_out[GW_NKINDS]; /* frames written, by type */
    uint64_t bytes_in, bytes_out;   /* WebSocket payload bytes */
    uint64_t errors[CHAT_NCODES];   /* error frames sent, by code */
    uint64_t closes[GW_NCLOSES];    /* closes the gateway started, by code */
    uint64_t slow_closes;           /* closed with 1013 past --max-queue */
    uint64_t rate_limited;          /* commands refused by the token bucket */
    uint64_t refused_conns[3];      /* upgrades refused: draining, max_conns, max_conns_per_ip */
    uint64_t refused;               /* commands answered unavailable (no broker, HWM) */
    uint64_t link_refused;          /* link sends refused by ZeroMQ (no peer, HWM) */
    uint64_t broker_resets;         /* times the broker forgot our sessions */
    struct histo rtt;               /* link heartbeat round trips, seconds */
};

struct peer_ip;

struct gw {
    struct gw_config cfg;
    struct codec_limits limits;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    struct link *link;
    struct conn *conns; /* by id */
    uint64_t next_conn_id;
    struct lrooms rooms;
    uint64_t instance;
    uint8_t *auth_key; /* NULL: auth off */
    size_t auth_key_len;
    struct origins *origins; /* NULL: every Origin allowed */
    unsigned nconns;
    int draining; /* SIGTERM: closing clients with 1012; not ready, no new clients */
    int stopping; /* shutting down: connections no longer report to the broker */
    /* Counts the link's hellos to the broker. A broker that answers one with
     * "registered" (it did not know us) holds no session of a client that
     * identified before that hello; those that identified after are its own. */
    uint32_t link_epoch;
    struct gw_stats stats; /* exported at /metrics (metrics.c) */
    struct peer_ip *ips;   /* connections per client address (admit.c) */
    uint64_t refused_logged_ms;
};

/* conn.c */
/* Queues a frame (takes a reference). `reply` marks an answer to the client's
 * own command (errors, pong, joined replays, history): answers are never
 * counted against --max-queue, since the client asked for them and their
 * size is bounded; pushed events are. */
void conn_send(struct gw *g, struct conn *c, struct frame *f, int reply);
/* Sends an error frame (id may be NULL). */
void conn_error(struct gw *g, struct conn *c, const char *code, const char *message,
                const char *id);
/* Sends an answer the gateway made itself (pong, an edge error), after the
 * answers to every command the client sent before. */
void conn_reply_local(struct gw *g, struct conn *c, struct frame *f);
/* The broker handled every command up to tag: release held answers. */
void conn_synced(struct gw *g, struct conn *c, uint32_t tag);
/* Sends every held answer now (the broker will not answer). */
void conn_flush_held(struct gw *g, struct conn *c);
/* Closes with a WebSocket close code at the next writable callback. */
void conn_close(struct gw *g, struct conn *c, uint16_t code);
/* Writes queued frames; returns -1 when the connection must close. */
int conn_writable(struct gw *g, struct conn *c);
/* Tells the broker the connection is gone (clean: the client closed with 1000,
 * or never got its welcome; the session then ends at once, no grace). */
void conn_report_closed(struct gw *g, struct conn *c, int clean);
/* Frees everything the connection holds (at close). */
void conn_release(struct gw *g, struct conn *c);
/* Handles one complete client message. Returns -1 to close. */
int conn_on_message(struct gw *g, struct conn *c, const char *buf, size_t len, int binary);
struct conn *conn_by_id(struct gw *g, uint64_t id);

/* events.c: one broker event to its local recipients. */
void events_deliver(struct gw *g, const Chat__Event *ev);
/* The broker is gone or forgot us: every identified client must identify again. */
/* Closes identified clients with 1012 (their broker sessions are gone): all
 * of them, or only those that identified before the latest link hello. */
void events_reset_sessions(struct gw *g, int all);
/* The link is down: nothing in flight will be answered; release held answers. */
void events_link_down(struct gw *g);

/* link.c: the ZeroMQ link to the broker. */
struct link *link_new(struct gw *g);
void link_destroy(struct link **lp);
/* Sends a client command. Returns -1 when the broker cannot take it now. */
int link_send_command(struct link *l, const Chat__Command *cmd);
int link_up(const struct link *l);
/* Tells the broker a connection ended; kept and retried while the link is down. */
void link_send_disconnect(struct link *l, uint64_t conn, int clean);
/* Adopts the link's file descriptor into the lws loop and starts timers. */
int link_attach(struct link *l);
/* Called by the lws loop when the link may have input. */
void link_readable(struct link *l);

/* admit.c: the connection limits. NULL when an upgrade may proceed, else
 * why not ("draining", "max_conns", "max_conns_per_ip"). */
const char *admit_check(struct gw *g, struct lws *wsi);
void admit_refused(struct gw *g, struct lws *wsi, const char *reason);
void admit_open(struct gw *g, struct conn *c);
void admit_close(struct gw *g, struct conn *c);

/* metrics.c */
void metrics_init(struct gw *g);
/* Counts an error frame sent to a client. */
void metrics_error(struct gw *g, const char *code);
/* Counts a close the gateway starts. */
void metrics_close(struct gw *g, uint16_t code);
/* The Prometheus text of every gateway metric. */
void metrics_render(struct gw *g, struct mbuf *out);
/* security.c: auth, Origin allow-list, TLS and CURVE settings. */
/* Checks and loads the flags' files and sets up info for TLS; on bad input
 * prints a message naming the flag and returns -1 (exit 2). */
int security_configure(struct gw *g, struct lws_context_creation_info *info);
void security_release(struct gw *g);
/* With auth on: a hello must carry a valid token for its nick, and nick
 * changes are refused. Returns 0 to forward cmd, or -1 after answering
 * the client with an error. */
int security_check_command(struct gw *g, struct conn *c, struct codec_cmd *cmd);
/* Whether a WebSocket upgrade may proceed given its Origin header; logs refusals. */
int security_origin_ok(struct gw *g, struct lws *wsi);
/* Answers an upgrade with 403; returns what LWS_CALLBACK_HTTP_CONFIRM_UPGRADE must. */
int security_refuse_upgrade(struct lws *wsi);

/* server.c */
/* The lws protocols, sized from cfg (--rx-buffer); a static array. */
const struct lws_protocols *gw_protocols_make(const struct gw_config *cfg);

#endif
