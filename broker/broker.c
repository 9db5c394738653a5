/* broker.c: the event loop, gateway bookkeeping and command dispatch.
 *
 * The loop waits on the ROUTER socket until the next timer (typing expiry,
 * the end of a session's grace period, the online-count push, the gateway
 * liveness check), handles every message that is ready, then runs the
 * timers that are due. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <zmq.h>

#include "broker.h"
#include "clock.h"
#include "curve.h"
#include "log.h"
#include "store.h"
#include "zap.h"

/* A command put aside (see "Deferred hellos" below). */
struct deferred {
    struct deferred *next;
    char *gw_id;
    uint64_t gw_instance, conn;
    uint64_t until_ms; /* its hello is answered nick_taken after this */
    size_t len;
    uint8_t data[];
};

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) v = clock_mono_us() ^ clock_wall_ms();
    return v ? v : 1;
}

struct broker *broker_new(const struct broker_config *cfg)
{
    struct broker *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->cfg = *cfg;
    b->instance = random_u64();
    b->mono_ms = clock_mono_ms;
    rooms_init(&b->rooms, (size_t)cfg->ring);
    typing_init(&b->typing, (uint64_t)cfg->typing_timeout_ms);
    grace_init(&b->grace, (uint64_t)cfg->grace_ms);
    nickrate_init(&b->nickrate, (double)cfg->nick_rate, (double)cfg->nick_burst);
    if (cfg->history && strcmp(cfg->history, "none") != 0) {
        char err[512];
        struct store_config sc = {
            .path = cfg->history,
            .durability =
                cfg->durability && !strcmp(cfg->durability, "full") ? STORE_FULL : STORE_NORMAL,
            .retain_messages = cfg->retain_messages,
            .retain_days = cfg->retain_days,
        };
        if (!(b->store = store_open(&sc, err, sizeof err))) {
            log_error("history_open_failed", "path=%s reason=\"%s\"", cfg->history, err);
            goto fail;
        }
        if (history_restore(b) < 0) {
            log_error("history_open_failed", "path=%s reason=\"cannot read rooms\"", cfg->history);
            goto fail;
        }
        log_info("history_open", "path=%s durability=%s", cfg->history,
                 sc.durability == STORE_FULL ? "full" : "normal");
    }
    if (!cfg->listen) return b; /* no socket: driven by broker_handle() (tests, fuzzing) */
    int one = 1, hwm = (int)cfg->hwm, linger = 0;
    int curve = cfg->curve_secret_file && cfg->curve_secret_file[0];
    if (curve && !(b->zap = zap_new(cfg->curve_clients))) goto fail;
    b->zctx = curve ? zap_context(b->zap) : zmq_ctx_new();
    if (!b->zctx || !(b->router = zmq_socket(b->zctx, ZMQ_ROUTER))) goto fail;
    if (curve && (curve_server_apply(b->router, cfg->curve_secret_file) < 0 ||
                  zap_watch(b->zap, b->router) < 0))
        goto fail;
    zmq_setsockopt(b->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(b->router, ZMQ_ROUTER_HANDOVER, &one, sizeof one);
    zmq_setsockopt(b->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(b->router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(b->router, cfg->listen) < 0) {
        log_error("bind_failed", "listen=%s reason=\"%s\"", cfg->listen, zmq_strerror(errno));
        goto fail;
    }
    log_info("broker_listening", "listen=%s instance=%016llx", cfg->listen,
             (unsigned long long)b->instance);
    if (cfg->http_port) {
        struct http_handler h = {b, broker_metrics, broker_ready};
        if (!(b->http = http_start(cfg->http_bind, (int)cfg->http_port, &h))) goto fail;
    }
    return b;
fail:
    broker_destroy(&b);
    return NULL;
}

static struct gateway *gateway_find(struct broker *b, const void *rid, size_t len)
{
    struct gateway *gw;
    HASH_FIND(hh, b->gateways, rid, len, gw);
    return gw;
}

/* Detaches every session on gw (connections lost: presence leaves go out;
 * the sessions stay resumable on another gateway for the grace period). */
static void gateway_drop_sessions(struct broker *b, struct gateway *gw)
{
    struct session *s, *tmp;
    HASH_ITER(hh_conn, b->by_conn, s, tmp)
    if (s->key.gw == gw) session_detach(b, s);
}

static void gateway_destroy(struct broker *b, struct gateway *gw)
{
    gw->dead = 1; /* its connections are gone: nothing more is sent to it */
    gateway_drop_sessions(b, gw);
    HASH_DELETE(hh, b->gateways, gw);
    free(gw->batch);
    free(gw->id);
    free(gw);
}

/* Waits (bounded) for everything in flight through the store, delivering and
 * acknowledging what commits. */
static void drain_store(struct broker *b)
{
    uint64_t until = clock_mono_ms() + 10000;
    while (b->pending && clock_mono_ms() < until) {
        zmq_pollitem_t item = {NULL, store_fd(b->store), ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 100);
        history_completions(b);
        if (b->store_failed) break; /* recovery would only fail again */
    }
    if (b->pending) log_warn("history_unflushed", "in_flight=%u", b->pending);
}

void broker_destroy(struct broker **bp)
{
    struct broker *b = *bp;
    if (!b) return;
    if (b->store) drain_store(b);
    while (b->deferred) {
        struct deferred *d = b->deferred;
        b->deferred = d->next;
        free(d->gw_id);
        free(d);
    }
    struct gateway *gw, *tmp;
    HASH_ITER(hh, b->gateways, gw, tmp) gateway_destroy(b, gw);
    sessions_clear(b);
    typing_clear(&b->typing);
    if (b->store) store_destroy(&b->store);
    http_stop(&b->http);
    rooms_clear(&b->rooms);
    nicks_clear(&b->nicks);
    nickrate_clear(&b->nickrate);
    if (b->router) zmq_close(b->router);
    if (b->zap)
        zap_destroy(&b->zap); /* its context is CZMQ's, terminated at exit */
    else if (b->zctx)
        zmq_ctx_term(b->zctx);
    free(b);
    *bp = NULL;
}

static void send_heartbeat(struct broker *b, struct gateway *gw, const Chat__Heartbeat *in,
                           int registered)
{
    Chat__Heartbeat hb = CHAT__HEARTBEAT__INIT;
    hb.instance = b->instance;
    hb.has_registered = registered;
    hb.registered = registered;
    if (in && in->has_sent_us) {
        hb.has_sent_us = 1;
        hb.sent_us = in->sent_us;
    }
    Chat__Downstream d = CHAT__DOWNSTREAM__INIT;
    d.body_case = CHAT__DOWNSTREAM__BODY_HEARTBEAT;
    d.heartbeat = &hb;
    send_down(b, gw, &d);
}

/* Tells an unknown peer to say hello (it talks to a broker that lost it). */
static void send_reset(struct broker *b, const void *rid, size_t len)
{
    struct gateway tmp = {.id = (char *)rid, .id_len = len};
    Chat__Reset r = CHAT__RESET__INIT;
    r.instance = b->instance;
    Chat__Downstream d = CHAT__DOWNSTREAM__INIT;
    d.body_case = CHAT__DOWNSTREAM__BODY_RESET;
    d.reset = &r;
    send_down(b, &tmp, &d);
}

static void gateway_hello(struct broker *b, const void *rid, size_t len,
                          const Chat__GatewayHello *h)
{
    struct gateway *gw = gateway_find(b, rid, len);
    int fresh = !gw;
    if (gw && gw->instance != h->instance) {
        log_info("gateway_restarted", "gateway=%s sessions=%u", gw->id, gw->sessions);
        gateway_destroy(b, gw);
        gw = NULL;
        fresh = 1;
    }
    if (!gw) {
        gw = calloc(1, sizeof *gw);
        if (!gw || !(gw->id = malloc(len + 1))) {
            free(gw);
            log_error("gateway_oom", "bytes=%zu", len);
            return;
        }
        memcpy(gw->id, rid, len);
        gw->id[len] = '\0';
        gw->id_len = len;
        gw->instance = h->instance;
        HASH_ADD_KEYPTR(hh, b->gateways, gw->id, gw->id_len, gw);
        log_info("gateway_up", "gateway=%s instance=%016llx", gw->id,
                 (unsigned long long)h->instance);
    }
    gw->last_seen_ms = b->mono_ms();
    send_heartbeat(b, gw, NULL, fresh);
}

/* Ordering with history on. A room message is answered only once committed;
 * a command arriving after it from the same session (a history, a who, a
 * ping's Sync...) must see it and be answered after it, as the client sent
 * them. So while a session has messages in flight, its other commands wait
 * in its queue, and every command waits once something is queued; the queue
 * runs as completions come back. Messages behind messages need no wait: the
 * store keeps their order. */
#define QUEUE_MAX 4096 /* commands one session may have waiting */

struct queued {
    struct queued *next;
    Chat__Command__CmdCase kind;
    size_t len;
    uint8_t data[];
};

static int must_wait(const struct session *s, const Chat__Command *c)
{
    return s->queue || (s->pending && c->cmd_case != CHAT__COMMAND__CMD_MSG);
}

static void enqueue(struct broker *b, struct session *s, const Chat__Command *c)
{
    size_t len = chat__command__get_packed_size(c);
    /* A disconnect is never refused: the session must learn its connection is gone. */
    int room = s->queued < QUEUE_MAX || c->cmd_case == CHAT__COMMAND__CMD_DISCONNECT;
    struct queued *q = room ? malloc(sizeof *q + len) : NULL;
    if (!q) {
        send_error(b, s->key.gw, s->key.conn, c->id, "unavailable",
                   "too many commands waiting for history; slow down");
        return;
    }
    q->next = NULL;
    q->kind = c->cmd_case;
    q->len = chat__command__pack(c, q->data);
    if (s->queue_tail)
        s->queue_tail->next = q;
    else
        s->queue = q;
    s->queue_tail = q;
    s->queued++;
}

void session_drop_queue(struct session *s)
{
    while (s->queue) {
        struct queued *q = s->queue;
        s->queue = q->next;
        free(q);
    }
    s->queue_tail = NULL;
    s->queued = 0;
}

/* Handles one command. Returns 0 when s no longer belongs to this connection
 * (ended or detached). */
static int run_command(struct broker *b, struct gateway *gw, struct session *s,
                       const Chat__Command *c)
{
    switch (c->cmd_case) {
    case CHAT__COMMAND__CMD_HELLO:
        cmd_hello(b, gw, c);
        return 1;
    case CHAT__COMMAND__CMD_SYNC:
        send_synced(b, gw, c->conn, c->sync->tag);
        return 1;
    case CHAT__COMMAND__CMD_DISCONNECT:
        if (!s) return 1;
        if (c->disconnect->clean) /* close 1000: the client is done with the session */
            session_end(b, s);
        else
            session_detach(b, s);
        return 0;
    default:
        break;
    }
    if (!s) {
        send_error(b, gw, c->conn, c->id, "not_identified", "send hello first");
        return 1;
    }
    long wait = nickrate_take(&b->nickrate, s->nick, b->mono_ms());
    if (wait) {
        b->stats.rate_limited++;
        send_rate_limited(b, s, c->id, wait);
        return 1;
    }
    switch (c->cmd_case) {
    case CHAT__COMMAND__CMD_JOIN:
        cmd_join(b, s, c);
        break;
    case CHAT__COMMAND__CMD_LEAVE:
        cmd_leave(b, s, c);
        break;
    case CHAT__COMMAND__CMD_MSG:
        cmd_msg(b, s, c);
        break;
    case CHAT__COMMAND__CMD_DM:
        cmd_dm(b, s, c);
        break;
    case CHAT__COMMAND__CMD_TYPING:
        cmd_typing(b, s, c);
        break;
    case CHAT__COMMAND__CMD_NICK:
        cmd_nick(b, s, c);
        break;
    case CHAT__COMMAND__CMD_WHO:
        cmd_who(b, s, c);
        break;
    case CHAT__COMMAND__CMD_HISTORY:
        cmd_history(b, s, c);
        break;
    default:
        send_error(b, gw, c->conn, c->id, "bad_request", "unknown command");
        break;
    }
    return 1;
}

void broker_run_queue(struct broker *b, struct session *s)
{
    while (s->queue && (!s->pending || s->queue->kind == CHAT__COMMAND__CMD_MSG)) {
        struct queued *q = s->queue;
        s->queue = q->next;
        if (!s->queue) s->queue_tail = NULL;
        s->queued--;
        Chat__Command *c = chat__command__unpack(NULL, q->len, q->data);
        free(q);
        if (!c) continue;
        int alive = run_command(b, s->key.gw, s, c);
        chat__command__free_unpacked(c, NULL);
        if (!alive) return;
    }
}

/* Deferred hellos. Two gateways' messages reach the broker through two
 * ZeroMQ pipes, read in fair turns, not in the order they were sent: a
 * client that closed with 1000 on one gateway and says hello on another at
 * once may have its hello read before the first gateway's disconnect, which
 * can even still be on its way. So a hello that finds its nick held by a
 * live session on another gateway is put aside (with every later command of
 * its connection, in order) and tried again after each batch of messages
 * (broker_run_timers) for up to DEFER_MS; then it is answered nick_taken. */
#define DEFER_MS 100

static int deferring(const struct broker *b, const struct gateway *gw, uint64_t conn)
{
    for (const struct deferred *d = b->deferred; d; d = d->next)
        if (d->conn == conn && d->gw_instance == gw->instance && !strcmp(d->gw_id, gw->id))
            return 1;
    return 0;
}

int broker_defer(struct broker *b, struct gateway *gw, const Chat__Command *c)
{
    if (b->hello_final) return -1;
    size_t len = chat__command__get_packed_size(c);
    struct deferred *d = malloc(sizeof *d + len);
    if (!d || !(d->gw_id = strdup(gw->id))) {
        free(d);
        return -1;
    }
    d->gw_instance = gw->instance;
    d->conn = c->conn;
    d->until_ms = b->defer_until_ms ? b->defer_until_ms : b->mono_ms() + DEFER_MS;
    d->len = len;
    chat__command__pack(c, d->data);
    d->next = NULL;
    struct deferred **tail = &b->deferred;
    while (*tail) tail = &(*tail)->next;
    *tail = d;
    return 0;
}

static void dispatch(struct broker *b, struct gateway *gw, const Chat__Command *c);

static void run_deferred(struct broker *b)
{
    struct deferred *d = b->deferred;
    b->deferred = NULL;
    uint64_t now = b->mono_ms();
    while (d) {
        struct deferred *next = d->next;
        /* Not yet due: may be put aside again, keeping its deadline. */
        b->hello_final = now >= d->until_ms;
        b->defer_until_ms = d->until_ms;
        struct gateway *gw;
        HASH_FIND(hh, b->gateways, d->gw_id, strlen(d->gw_id), gw);
        Chat__Command *c = chat__command__unpack(NULL, d->len, d->data);
        if (c && gw && gw->instance == d->gw_instance && !gw->dead) dispatch(b, gw, c);
        if (c) chat__command__free_unpacked(c, NULL);
        free(d->gw_id);
        free(d);
        d = next;
    }
    b->hello_final = 0;
    b->defer_until_ms = 0;
}

static void dispatch(struct broker *b, struct gateway *gw, const Chat__Command *c)
{
    if (!b->hello_final && b->deferred && deferring(b, gw, c->conn) && broker_defer(b, gw, c) == 0)
        return; /* behind its connection's deferred hello */
    b->commands++;
    b->stats.commands[c->cmd_case < BROKER_NCMDS ? c->cmd_case : 0]++;
    struct session *s = session_by_conn(b, gw, c->conn);
    if (s && must_wait(s, c))
        enqueue(b, s, c);
    else
        run_command(b, gw, s, c);
}

/* A command is well-formed when its oneof body and required strings are
 * there (protobuf-c checks required fields; this checks the oneof). */
/* Gateways validate every string at the edge; the broker still refuses
 * absurd sizes, so a peer that reaches its socket cannot make it allocate
 * (or fold on the stack) megabytes per name. */
#define NAME_MAX_BYTES 1024
#define TEXT_MAX_BYTES (16 << 20) /* the largest --max-frame */

static int name_ok(const char *s)
{
    return !s || strnlen(s, NAME_MAX_BYTES + 1) <= NAME_MAX_BYTES;
}

static int hello_ok(const Chat__Hello *h)
{
    if (!h || !name_ok(h->nick) || !name_ok(h->resume_session)) return 0;
    for (size_t i = 0; i < h->n_resume_rooms; i++)
        if (!h->resume_rooms[i] || !name_ok(h->resume_rooms[i]->room)) return 0;
    return 1;
}

static int command_ok(const Chat__Command *c)
{
    if (!name_ok(c->id)) return 0;
    switch (c->cmd_case) {
    case CHAT__COMMAND__CMD_HELLO:
        return hello_ok(c->hello);
    case CHAT__COMMAND__CMD_JOIN:
        return c->join != NULL && name_ok(c->join->room);
    case CHAT__COMMAND__CMD_LEAVE:
        return c->leave != NULL && name_ok(c->leave->room);
    case CHAT__COMMAND__CMD_MSG:
        return c->msg != NULL && name_ok(c->msg->room) &&
               strnlen(c->msg->text, TEXT_MAX_BYTES + 1) <= TEXT_MAX_BYTES;
    case CHAT__COMMAND__CMD_DM:
        return c->dm != NULL && name_ok(c->dm->to) &&
               strnlen(c->dm->text, TEXT_MAX_BYTES + 1) <= TEXT_MAX_BYTES;
    case CHAT__COMMAND__CMD_TYPING:
        return c->typing != NULL && (c->typing->room != NULL) != (c->typing->to != NULL) &&
               name_ok(c->typing->room) && name_ok(c->typing->to);
    case CHAT__COMMAND__CMD_NICK:
        return c->nick != NULL && name_ok(c->nick->nick);
    case CHAT__COMMAND__CMD_WHO:
        return c->who != NULL && name_ok(c->who->room);
    case CHAT__COMMAND__CMD_HISTORY:
        return c->history != NULL && name_ok(c->history->room);
    case CHAT__COMMAND__CMD_DISCONNECT:
        return c->disconnect != NULL;
    case CHAT__COMMAND__CMD_SYNC:
        return c->sync != NULL;
    default:
        return 0;
    }
}

void broker_handle(struct broker *b, const void *rid, size_t rid_len, const uint8_t *data,
                   size_t len)
{
    Chat__Upstream *up = chat__upstream__unpack(NULL, len, data);
    if (!up) {
        log_warn("bad_envelope", "bytes=%zu", len);
        return;
    }
    struct gateway *gw = gateway_find(b, rid, rid_len);
    switch (up->body_case) {
    case CHAT__UPSTREAM__BODY_HELLO:
        if (up->hello) gateway_hello(b, rid, rid_len, up->hello);
        break;
    case CHAT__UPSTREAM__BODY_HEARTBEAT:
        if (!gw || !up->heartbeat || up->heartbeat->instance != gw->instance) {
            send_reset(b, rid, rid_len);
            break;
        }
        gw->last_seen_ms = b->mono_ms();
        send_heartbeat(b, gw, up->heartbeat, 0);
        break;
    case CHAT__UPSTREAM__BODY_COMMAND:
        if (!gw) {
            send_reset(b, rid, rid_len);
            break;
        }
        gw->last_seen_ms = b->mono_ms();
        if (up->command && command_ok(up->command))
            dispatch(b, gw, up->command);
        else
            log_warn("bad_command", "gateway=%s", gw->id);
        break;
    default:
        log_warn("bad_envelope", "bytes=%zu body=%d", len, (int)up->body_case);
        break;
    }
    chat__upstream__free_unpacked(up, NULL);
}

void broker_run_timers(struct broker *b)
{
    if (b->deferred) run_deferred(b);
    uint64_t now = b->mono_ms();
    struct typing_entry *e;
    while ((e = typing_expired(&b->typing, now))) {
        send_typing(b, e, 0);
        typing_remove(&b->typing, e);
    }
    sessions_expire(b);
    nickrate_sweep(&b->nickrate, now);
    broker_metrics_tick(b);
    if (now >= b->next_online_ms) {
        b->next_online_ms = now + (uint64_t)b->cfg.online_interval_ms;
        Chat__Online o = CHAT__ONLINE__INIT;
        o.count = b->online;
        Chat__Event ev = CHAT__EVENT__INIT;
        ev.ev_case = CHAT__EVENT__EV_ONLINE;
        ev.online = &o;
        ev.has_all = ev.all = 1;
        for (struct gateway *gw = b->gateways; gw; gw = gw->hh.next) send_event(b, gw, &ev);
    }
    if (now >= b->next_gw_check_ms) {
        b->next_gw_check_ms = now + 500;
        struct gateway *gw, *tmp;
        HASH_ITER(hh, b->gateways, gw, tmp)
        {
            if (now - gw->last_seen_ms < (uint64_t)b->cfg.gateway_timeout_ms) continue;
            b->stats.gateways_lost++;
            log_warn("gateway_lost", "gateway=%s silent_ms=%llu sessions=%u", gw->id,
                     (unsigned long long)(now - gw->last_seen_ms), gw->sessions);
            gateway_destroy(b, gw);
        }
    }
}

static long next_timeout(struct broker *b)
{
    uint64_t now = b->mono_ms(), next = b->next_online_ms;
    if (b->next_gw_check_ms < next) next = b->next_gw_check_ms;
    uint64_t t = typing_next_expiry(&b->typing);
    if (t < next) next = t;
    t = grace_next_expiry(&b->grace);
    if (t < next) next = t;
    for (const struct deferred *d = b->deferred; d; d = d->next)
        if (d->until_ms < next) next = d->until_ms;
    return next <= now ? 0 : (long)(next - now);
}

/* Receives one [routing id][payload] message without waiting; 0 when none. */
static int recv_one(struct broker *b)
{
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    zmq_msg_init(&body);
    int got = 0;
    if (zmq_msg_recv(&rid, b->router, ZMQ_DONTWAIT) < 0) goto done;
    got = 1;
    if (!zmq_msg_more(&rid) || zmq_msg_recv(&body, b->router, 0) < 0) goto done;
    while (zmq_msg_more(&body)) { /* envelopes are one frame: skip extras */
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, b->router, 0) < 0) goto done;
    }
    broker_handle(b, zmq_msg_data(&rid), zmq_msg_size(&rid), zmq_msg_data(&body),
                  zmq_msg_size(&body));
done:
    zmq_msg_close(&rid);
    zmq_msg_close(&body);
    return got;
}

int broker_run(struct broker *b, volatile sig_atomic_t *stop)
{
    /* The router, then only the descriptors in use. */
    zmq_pollitem_t items[4] = {{b->router, 0, ZMQ_POLLIN, 0}};
    int nitems = 1;
    if (b->store) items[nitems++] = (zmq_pollitem_t){NULL, store_fd(b->store), ZMQ_POLLIN, 0};
    if (b->zap) items[nitems++] = (zmq_pollitem_t){zap_events(b->zap), 0, ZMQ_POLLIN, 0};
    if (b->http) items[nitems++] = (zmq_pollitem_t){NULL, http_fd(b->http), ZMQ_POLLIN, 0};
    while (!*stop) {
        long timeout = next_timeout(b);
        if (b->http && (timeout < 0 || timeout > 1000)) timeout = 1000; /* its own timeouts */
        int rc = zmq_poll(items, nitems, timeout);
        if (rc < 0 && errno != EINTR) {
            log_error("poll_failed", "reason=\"%s\"", zmq_strerror(errno));
            return -1;
        }
        /* Bounded batch, so timers run even under a flood. */
        for (int i = 0; i < 4096 && recv_one(b); i++) continue;
        if (b->store) history_completions(b);
        if (b->http) http_run(b->http);
        if (b->zap) zap_drain(b->zap);
        broker_run_timers(b);
    }
    return 0;
}
