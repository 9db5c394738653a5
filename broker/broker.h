/* broker: the one owner of chat state, and its event loop.
 *
 * Everything here runs on one thread: the loop reads envelopes from the
 * ROUTER socket, applies each command to the state below in arrival order,
 * and sends events back to gateways. No locks anywhere. */
#ifndef CHAT_BROKER_BROKER_H
#define CHAT_BROKER_BROKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "chat.pb-c.h"
#include "dedupe.h"
#include "grace.h"
#include "http.h"
#include "metrics.h"
#include "nickrate.h"
#include "nicks.h"
#include "rooms.h"
#include "typing.h"

struct broker_config {
    const char *listen;
    long long ring;               /* messages kept in memory per room */
    long long max_rooms;          /* rooms per session */
    long long typing_timeout_ms;  /* typing expires this long after the last refresh */
    long long dedupe;             /* remembered msg/dm ids per session */
    long long gateway_timeout_ms; /* a silent gateway is declared dead after this */
    long long online_interval_ms; /* how often the online count is pushed */
    long long hwm;                /* ZeroMQ send/receive high-water marks (messages) */
    long long who_max;            /* names in a global "who" */
    const char *history;          /* SQLite file, or "none" */
    const char *durability;       /* "full" or "normal" */
    long long retain_messages;    /* per room, 0: all */
    long long retain_days;        /* 0: forever */
    long long replay_max;         /* messages replayed by one join since */
    long long grace_ms;           /* a dropped session stays resumable this long; 0: no resume */
    long long http_port;          /* /metrics, /healthz, /readyz; 0: no HTTP listener */
    const char *http_bind;        /* address of the HTTP listener; empty: all */
    long long nick_rate;          /* commands per second per nick (0: no limit) */
    long long nick_burst;         /* commands one nick may send at once */
    /* CURVE (zap.c): the key pair ("": off) and the folder of allowed gateway keys. */
    const char *curve_secret_file;
    const char *curve_clients;
};

/* Counters for /metrics (metrics.c). */
#define BROKER_NCMDS 32
struct broker_stats {
    uint64_t commands[BROKER_NCMDS]; /* by Chat__Command cmd_case */
    uint64_t errors[CHAT_NCODES];    /* error events sent, by code */
    uint64_t messages, dms;          /* room messages and DMs accepted */
    uint64_t gateways_lost;          /* declared dead after --gateway-timeout */
    uint64_t rate_limited;           /* commands refused by a nick's bucket */
    uint64_t rate_base, rate_base_ms, next_rate_ms;
    double rate; /* room messages per second over the last few seconds */
};

/* A connected gateway, known from its GatewayHello. */
struct gateway {
    char *id; /* routing id (the gateway's --id) */
    size_t id_len;
    uint64_t instance; /* its process instance */
    uint64_t last_seen_ms;
    unsigned sessions;
    int dead;                        /* being dropped: sends to it are skipped */
    uint64_t drops, drops_logged_ms; /* failed sends, and when last logged */
    /* Scratch list of conns, used while grouping one event by gateway. */
    uint64_t *batch;
    size_t nbatch, capbatch;
    UT_hash_handle hh;
};

/* Key of the connection index. */
struct conn_key {
    struct gateway *gw;
    uint64_t conn;
};

/* A session is live (key.gw set, in by_conn) or detached: its connection
 * ended without a clean close and it waits in the grace list for a resume,
 * with its nick reserved, out of its rooms (remembered in `held`). */
struct session {
    struct conn_key key; /* where it is connected; gw NULL while detached */
    char token[33];      /* the opaque session string given to the client */
    char *nick;
    struct member *rooms; /* rooms joined (rooms.h, hh_who); none while detached */
    unsigned nrooms;
    struct room **held; /* while detached: the rooms to restore on resume, in join order */
    unsigned nheld;
    struct grace_entry grace; /* held in broker.grace while detached */
    struct dedupe dedupe;
    unsigned mark;    /* visit mark for one fan-out (struct broker.mark) */
    unsigned pending; /* its messages and barriers in flight through the store */
    /* Commands that arrived while its messages were in flight and must be
     * handled after them, in order (see broker.c). */
    struct queued *queue, *queue_tail;
    unsigned queued;
    UT_hash_handle hh_conn, hh_token;
};

struct broker {
    struct broker_config cfg;
    void *zctx, *router;
    struct zap *zap; /* CURVE on: the ZAP handler, whose context zctx is */
    uint64_t instance;
    struct gateway *gateways;
    struct session *by_conn, *by_token;
    struct nicks nicks;
    struct nickrate nickrate; /* per-nick command rate (nickrate.h) */
    struct rooms rooms;
    struct typing typing;
    struct grace grace;        /* detached sessions, oldest first */
    struct store *store;       /* NULL: history in memory only */
    unsigned pending;          /* items in flight through the store */
    int store_failed;          /* a commit failed: waiting for in-flight items to drain */
    uint64_t (*mono_ms)(void); /* the monotonic clock (tests inject their own) */
    unsigned online;           /* identified sessions with a live connection */
    unsigned mark;
    struct session *ending; /* the session being taken off its connection */
    uint64_t next_online_ms, next_gw_check_ms;
    struct http *http;         /* NULL: no HTTP listener */
    struct deferred *deferred; /* hellos (and what follows) tried again after a batch */
    int hello_final;           /* running the deferred: answer nick_taken now */
    uint64_t defer_until_ms;   /* running the deferred: the deadline of the one run */
    uint64_t commands, send_drops;
    struct broker_stats stats;
};

/* Binds the socket; returns NULL (after a log line) on failure. */
struct broker *broker_new(const struct broker_config *cfg);
void broker_destroy(struct broker **bp);

/* Runs until *stop becomes non-zero (a signal handler sets it). */
int broker_run(struct broker *b, volatile sig_atomic_t *stop);

/* Handles one packed Upstream from the gateway with this routing id
 * (exposed for tests and fuzzing: the loop calls it for each message). */
void broker_handle(struct broker *b, const void *rid, size_t rid_len, const uint8_t *data,
                   size_t len);
/* Runs what is due at b->mono_ms(): typing expiry, the end of grace
 * periods, the online-count push, the gateway liveness check (the loop calls
 * it after each batch; exposed for tests and fuzzing). */
void broker_run_timers(struct broker *b);

/* metrics.c: the Prometheus text of the broker, and readiness. */
void broker_metrics(void *b, struct mbuf *out);
int broker_ready(void *b);
/* Updates the messages/s figure (called from the timers). */
void broker_metrics_tick(struct broker *b);

/* Puts a hello whose nick is taken aside, to be tried again once the
 * messages that arrived meanwhile are read. 0, or -1 when it must be
 * answered now (it is the second try, or out of memory). */
int broker_defer(struct broker *b, struct gateway *gw, const Chat__Command *c);

/* sessions.c */
struct session *session_by_conn(struct broker *b, struct gateway *gw, uint64_t conn);
/* The session with this token (the string given to the client), or NULL. */
struct session *session_by_token(struct broker *b, const char *token);
struct session *session_new(struct broker *b, struct gateway *gw, uint64_t conn, const char *nick);
/* Ends a session (live or detached): typing stops, presence leaves, nick freed. */
void session_end(struct broker *b, struct session *s);
/* The connection of a live session ended without a clean close: typing
 * stops and presence leaves go out as for an end, but the session is held
 * for --grace ms with its nick, rooms and dedupe memory (ended at once when
 * --grace is 0). */
void session_detach(struct broker *b, struct session *s);
/* s (live on another connection, or detached) goes on at (gw, conn). A live
 * s is taken off its old connection first, which is told to close with 4001.
 * Its rooms are in s->held afterwards, for the caller to restore. */
void session_move(struct broker *b, struct session *s, struct gateway *gw, uint64_t conn);
/* Ends the detached sessions whose grace period is over. */
void sessions_expire(struct broker *b);
/* Ends every session (shutdown). */
void sessions_clear(struct broker *b);

/* send.c: every event leaves through these. */
void send_down(struct broker *b, struct gateway *gw, Chat__Downstream *d);
void send_event(struct broker *b, struct gateway *gw, Chat__Event *ev);
/* To one session's connection; id echoed when non-NULL. */
void send_to(struct broker *b, struct session *s, Chat__Event *ev, const char *id);
/* To every member of room on every gateway, except `except` (may be NULL). */
void send_to_room(struct broker *b, struct room *r, Chat__Event *ev, struct session *except);
/* To a set of sessions gathered with batch_add() since batch_begin(). */
void batch_begin(struct broker *b);
void batch_add(struct broker *b, struct session *s);
void batch_send(struct broker *b, Chat__Event *ev);
void send_error(struct broker *b, struct gateway *gw, uint64_t conn, const char *id,
                const char *code, const char *message);
/* rate_limited with retry_after_ms, to s's connection. */
void send_rate_limited(struct broker *b, struct session *s, const char *id, long retry_after_ms);
void send_presence(struct broker *b, struct room *r, struct session *s, int join);
void send_typing(struct broker *b, struct typing_entry *e, int active);
/* Tells s's gateway to close its connection with this WebSocket code. */
void send_close(struct broker *b, struct session *s, uint32_t code, const char *reason);

/* Command handlers (cmd_*.c). s is NULL when the connection is not identified. */
void cmd_hello(struct broker *b, struct gateway *gw, const Chat__Command *c);
void cmd_join(struct broker *b, struct session *s, const Chat__Command *c);
/* Puts s in r: `joined` to s (with the replay of seq > since when has_since,
 * id echoed when non-NULL), then a presence join to the room when s was not
 * in it. Returns -1 on OOM (nothing sent). */
int cmd_join_room(struct broker *b, struct session *s, struct room *r, int has_since,
                  uint64_t since, const char *id);
void cmd_leave(struct broker *b, struct session *s, const Chat__Command *c);
void cmd_msg(struct broker *b, struct session *s, const Chat__Command *c);
void cmd_dm(struct broker *b, struct session *s, const Chat__Command *c);
void cmd_typing(struct broker *b, struct session *s, const Chat__Command *c);
void cmd_nick(struct broker *b, struct session *s, const Chat__Command *c);
void cmd_who(struct broker *b, struct session *s, const Chat__Command *c);
void cmd_history(struct broker *b, struct session *s, const Chat__Command *c);

void send_synced(struct broker *b, struct gateway *gw, uint64_t conn, uint32_t tag);

/* history.c: committing and reading room messages. */
struct msg_list {
    Chat__MsgEvent *ev;
    Chat__MsgEvent **ptrs; /* what protobuf-c wants: &ev[i] */
    size_t n, cap;
    int owned; /* strings were copied (from SQLite) and are freed by clear */
};
/* Accepts a room message from s: delivered and acked once committed.
 * Returns -1 when history cannot take it (the caller answers unavailable). */
int history_submit(struct broker *b, struct session *s, struct room *r, const char *text,
                   const char *id);
/* 1 when id is a retry (answered here: the original ack, once settled). */
int history_retry(struct broker *b, struct session *s, const char *id);
/* broker.c: runs s's waiting commands that may run now (s may end). */
void broker_run_queue(struct broker *b, struct session *s);
void session_drop_queue(struct session *s);
void history_ack(struct broker *b, struct session *s, const char *id, const struct room *r,
                 uint64_t seq, uint64_t ts);
void history_completions(struct broker *b);
/* Committed messages of r with from <= seq <= to, ascending. 0 or -1. */
int history_read(struct broker *b, struct room *r, uint64_t from, uint64_t to,
                 struct msg_list *out);
void msg_list_clear(struct msg_list *l);
/* Startup: each room's last seq from the database. */
int history_restore(struct broker *b);

#endif
