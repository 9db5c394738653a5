/* link.c: the gateway's ZeroMQ link to the broker, inside the lws loop.
 *
 * A DEALER socket (routing id = --id) connects to the broker's ROUTER. Its
 * ZMQ_FD is adopted into libwebsockets as a raw file descriptor, so broker
 * events are handled on the same thread as the WebSocket connections. That
 * descriptor is edge-like: it signals only that ZMQ_EVENTS may have changed,
 * so every wake-up and every send is followed by draining until ZMQ_EVENTS
 * says nothing is left; a periodic timer drains as well, as a safety net.
 *
 * Liveness: a heartbeat goes out every --heartbeat ms and the broker answers
 * each. With no answer for --broker-timeout ms the link counts as down and
 * commands get `unavailable` (ZMQ_IMMEDIATE also refuses sends while no
 * connection exists, so nothing is queued into the void). A broker that does
 * not know this gateway (it restarted) answers Reset: the gateway says hello
 * again and its clients must identify again.
 *
 * With CURVE (common/curve.c), libzmq gives up on the broker for good after
 * a failed handshake (our key refused, a CURVE mismatch): a link that stays
 * down is dialled again every REDIAL_MS, so fixing the keys needs no restart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <zmq.h>

#include "clock.h"
#include "curve.h"
#include "gateway.h"
#include "log.h"

#define REDIAL_MS 5000

struct pending_disconnect {
    uint64_t conn;
    int clean;
};

struct link {
    struct gw *g;
    struct pending_disconnect *pending;
    size_t npending, cappending;
    void *zctx, *sock;
    int fd;
    uint64_t broker_instance; /* 0 until the first answer */
    uint64_t last_heard_ms;
    uint64_t dialed_ms; /* when zmq_connect was last called */
    uint64_t rtt_us;
    uint64_t refused_logged_ms; /* when a refused send was last logged */
    int up;
    lws_sorted_usec_list_t sul_heartbeat;
    lws_sorted_usec_list_t sul_drain;
};

static int send_up(struct link *l, const Chat__Upstream *up)
{
    uint8_t stack[2048];
    size_t len = chat__upstream__get_packed_size(up);
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf) return -1;
    chat__upstream__pack(up, buf);
    int rc = zmq_send(l->sock, buf, len, ZMQ_DONTWAIT);
    if (buf != stack) free(buf);
    if (rc < 0 && errno == EAGAIN) {
        if (l->broker_instance) { /* before the first answer, refusals are expected */
            /* Every refusal is counted; logged at most once a second. */
            l->g->stats.link_refused++;
            uint64_t now = clock_mono_ms();
            if (now - l->refused_logged_ms >= 1000) {
                log_warn("link_send_refused",
                         "reason=\"no broker connection or high-water mark\" total=%llu",
                         (unsigned long long)l->g->stats.link_refused);
                l->refused_logged_ms = now;
            }
        } else {
            log_debug("link_send_refused", "reason=\"no broker connection yet\"");
        }
    }
    return rc < 0 ? -1 : 0;
}

static int send_disconnect(struct link *l, uint64_t conn, int clean)
{
    Chat__Disconnect d = CHAT__DISCONNECT__INIT;
    d.clean = clean;
    Chat__Command cmd = CHAT__COMMAND__INIT;
    cmd.conn = conn;
    cmd.cmd_case = CHAT__COMMAND__CMD_DISCONNECT;
    cmd.disconnect = &d;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_COMMAND;
    up.command = &cmd;
    return send_up(l, &up);
}

/* Disconnects that could not be sent wait here until the link is back, so
 * the broker never keeps a session for a connection that is gone. */
static void flush_disconnects(struct link *l)
{
    if (!l->npending) return;
    size_t done = 0;
    while (done < l->npending &&
           send_disconnect(l, l->pending[done].conn, l->pending[done].clean) == 0)
        done++;
    memmove(l->pending, l->pending + done, (l->npending - done) * sizeof *l->pending);
    l->npending -= done;
}

void link_send_disconnect(struct link *l, uint64_t conn, int clean)
{
    if (!l->npending && send_disconnect(l, conn, clean) == 0) return;
    if (l->npending == l->cappending) {
        size_t cap = l->cappending ? l->cappending * 2 : 64;
        struct pending_disconnect *p = realloc(l->pending, cap * sizeof *p);
        if (!p) {
            log_error("disconnect_lost", "conn=%llu", (unsigned long long)conn);
            return;
        }
        l->pending = p;
        l->cappending = cap;
    }
    l->pending[l->npending++] = (struct pending_disconnect){conn, clean};
}

static void send_hello(struct link *l)
{
    Chat__GatewayHello h = CHAT__GATEWAY_HELLO__INIT;
    h.gateway_id = (char *)l->g->cfg.id;
    h.instance = l->g->instance;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HELLO;
    up.hello = &h;
    l->g->link_epoch++;
    send_up(l, &up);
}

static void send_heartbeat(struct link *l)
{
    Chat__Heartbeat hb = CHAT__HEARTBEAT__INIT;
    hb.instance = l->g->instance;
    hb.has_sent_us = 1;
    hb.sent_us = clock_mono_us();
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HEARTBEAT;
    up.heartbeat = &hb;
    send_up(l, &up);
}

static void set_up(struct link *l, int up)
{
    if (l->up == up) return;
    l->up = up;
    if (up) {
        log_info("broker_link_up", "broker=%s", l->g->cfg.broker);
        return;
    }
    log_warn("broker_link_down", "broker=%s silent_ms=%llu", l->g->cfg.broker,
             (unsigned long long)(clock_mono_ms() - l->last_heard_ms));
    events_link_down(l->g);
}

/* A broker we have not seen before: our sessions there are gone. */
static void new_broker(struct link *l, uint64_t instance)
{
    if (l->broker_instance && l->broker_instance != instance) {
        log_warn("broker_restarted", "old=%016llx new=%016llx",
                 (unsigned long long)l->broker_instance, (unsigned long long)instance);
        events_reset_sessions(l->g, 1);
    }
    l->broker_instance = instance;
}

static void handle(struct link *l, const uint8_t *data, size_t len)
{
    Chat__Downstream *d = chat__downstream__unpack(NULL, len, data);
    if (!d) {
        log_warn("bad_downstream", "bytes=%zu", len);
        return;
    }
    switch (d->body_case) {
    case CHAT__DOWNSTREAM__BODY_HEARTBEAT:
        new_broker(l, d->heartbeat->instance);
        if (d->heartbeat->registered) events_reset_sessions(l->g, 0); /* it holds none of ours */
        l->last_heard_ms = clock_mono_ms();
        if (d->heartbeat->has_sent_us) {
            l->rtt_us = clock_mono_us() - d->heartbeat->sent_us;
            histo_observe(&l->g->stats.rtt, (double)l->rtt_us / 1e6);
        }
        set_up(l, 1);
        flush_disconnects(l);
        break;
    case CHAT__DOWNSTREAM__BODY_RESET:
        log_warn("broker_reset", "broker_instance=%016llx", (unsigned long long)d->reset->instance);
        l->broker_instance = d->reset->instance;
        events_reset_sessions(l->g, 1);
        send_hello(l);
        break;
    case CHAT__DOWNSTREAM__BODY_EVENT:
        if (d->event) events_deliver(l->g, d->event);
        break;
    default:
        break;
    }
    chat__downstream__free_unpacked(d, NULL);
}

void link_readable(struct link *l)
{
    for (;;) {
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(l->sock, ZMQ_EVENTS, &events, &sz) < 0 || !(events & ZMQ_POLLIN)) return;
        for (int i = 0; i < 1024; i++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            handle(l, zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
        }
    }
}

int link_send_command(struct link *l, const Chat__Command *cmd)
{
    if (!l->up) return -1;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_COMMAND;
    up.command = (Chat__Command *)cmd;
    int rc = send_up(l, &up);
    /* A send may consume the descriptor's edge: drain right after. */
    link_readable(l);
    return rc;
}

int link_up(const struct link *l)
{
    return l->up;
}

static int dial(struct link *l)
{
    l->dialed_ms = clock_mono_ms();
    if (zmq_connect(l->sock, l->g->cfg.broker) == 0) return 0;
    log_error("broker_connect_failed", "broker=%s reason=\"%s\"", l->g->cfg.broker,
              zmq_strerror(errno));
    return -1;
}

static void on_heartbeat(lws_sorted_usec_list_t *sul)
{
    struct link *l = lws_container_of(sul, struct link, sul_heartbeat);
    uint64_t now = clock_mono_ms();
    if (l->up && now - l->last_heard_ms > (uint64_t)l->g->cfg.broker_timeout_ms) set_up(l, 0);
    if (!l->up && now - l->dialed_ms >= REDIAL_MS &&
        (!l->broker_instance || now - l->last_heard_ms >= REDIAL_MS)) {
        log_debug("broker_redial", "broker=%s", l->g->cfg.broker);
        zmq_disconnect(l->sock, l->g->cfg.broker);
        dial(l);
    }
    if (!l->broker_instance || !l->up)
        send_hello(l); /* hello doubles as a probe until the broker answers */
    else
        send_heartbeat(l);
    link_readable(l);
    lws_sul_schedule(l->g->ctx, 0, &l->sul_heartbeat, on_heartbeat,
                     (lws_usec_t)l->g->cfg.heartbeat_ms * LWS_US_PER_MS);
}

static void on_drain(lws_sorted_usec_list_t *sul)
{
    struct link *l = lws_container_of(sul, struct link, sul_drain);
    link_readable(l);
    lws_sul_schedule(l->g->ctx, 0, &l->sul_drain, on_drain, 50 * LWS_US_PER_MS);
}

struct link *link_new(struct gw *g)
{
    struct link *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->g = g;
    int one = 1, hwm = (int)g->cfg.hwm, linger = 200, ivl = 100, ivl_max = 2000;
    if (!(l->zctx = zmq_ctx_new()) || !(l->sock = zmq_socket(l->zctx, ZMQ_DEALER))) goto fail;
    zmq_setsockopt(l->sock, ZMQ_ROUTING_ID, g->cfg.id, strlen(g->cfg.id));
    zmq_setsockopt(l->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(l->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(l->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(l->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
    if (g->cfg.curve_secret_file[0] &&
        curve_client_apply(l->sock, g->cfg.curve_secret_file, g->cfg.curve_broker_public) < 0)
        goto fail;
    if (dial(l) < 0) goto fail;
    size_t sz = sizeof l->fd;
    if (zmq_getsockopt(l->sock, ZMQ_FD, &l->fd, &sz) < 0) goto fail;
    return l;
fail:
    link_destroy(&l);
    return NULL;
}

int link_attach(struct link *l)
{
    /* lws closes what it adopts; give it a duplicate so ZeroMQ keeps its own. */
    lws_sock_file_fd_type u;
    u.filefd = dup(l->fd);
    if (u.filefd < 0) return -1;
    if (!lws_adopt_descriptor_vhost(l->g->vhost, LWS_ADOPT_RAW_FILE_DESC, u, "zmq-link", NULL)) {
        log_error("link_adopt_failed", "fd=%d", l->fd);
        close(u.filefd);
        return -1;
    }
    send_hello(l);
    lws_sul_schedule(l->g->ctx, 0, &l->sul_heartbeat, on_heartbeat,
                     (lws_usec_t)l->g->cfg.heartbeat_ms * LWS_US_PER_MS);
    lws_sul_schedule(l->g->ctx, 0, &l->sul_drain, on_drain, 50 * LWS_US_PER_MS);
    return 0;
}

void link_destroy(struct link **lp)
{
    struct link *l = *lp;
    if (!l) return;
    if (l->sock) zmq_close(l->sock);
    if (l->zctx) zmq_ctx_term(l->zctx);
    free(l->pending);
    free(l);
    *lp = NULL;
}
