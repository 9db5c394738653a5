/* fakegw.c: chat-gateways over ZeroMQ DEALER sockets (see fakegw.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "fakegw.h"
#include "stats.h"

#define HEARTBEAT_US 1000000u /* the gateway's default --heartbeat */
#define REHELLO_US 200000u    /* GatewayHello again until the broker answers */

struct link {
    void *sock;
    int fd;
    char id[40];
    uint64_t instance;
    uint64_t next_hb_us;
    int answered; /* the broker answered our GatewayHello */
};

struct fakegw {
    void *zctx;
    struct link links[FAKEGW_MAX_LINKS];
    unsigned nlinks, registered;
    int reset_seen;
    struct fakegw_session *sess;
    size_t nsess;
    fakegw_event_fn *on_event;
    void *arg;
};

struct fakegw *fakegw_new(const char *endpoint, unsigned nlinks, size_t nsessions,
                          fakegw_event_fn *on_event, void *arg)
{
    if (!nlinks || nlinks > FAKEGW_MAX_LINKS) {
        errno = EINVAL;
        return NULL;
    }
    struct fakegw *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->nlinks = nlinks;
    f->on_event = on_event;
    f->arg = arg;
    f->nsess = nsessions;
    if (!(f->sess = calloc(nsessions, sizeof *f->sess))) goto fail;
    for (size_t i = 0; i < nsessions; i++) {
        struct fakegw_session *s = &f->sess[i];
        s->conn = i + 1;
        s->link = (unsigned)(i % nlinks);
        snprintf(s->nick, sizeof s->nick, "bench_%zu", i);
        snprintf(s->room, sizeof s->room, "bench-%zu", i);
    }
    if (!(f->zctx = zmq_ctx_new())) goto fail;
    uint64_t base = ((uint64_t)getpid() << 32) ^ stats_now_us();
    for (unsigned g = 0; g < nlinks; g++) {
        struct link *w = &f->links[g];
        snprintf(w->id, sizeof w->id, "bench-gw%u-%d", g, (int)getpid());
        w->instance = base + g + 1;
        if (!(w->sock = zmq_socket(f->zctx, ZMQ_DEALER))) goto fail;
        int zero = 0;
        size_t sz = sizeof w->fd;
        zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->id, strlen(w->id));
        zmq_setsockopt(w->sock, ZMQ_SNDHWM, &zero,
                       sizeof zero); /* the caller bounds what is sent */
        zmq_setsockopt(w->sock, ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(w->sock, endpoint) < 0 || zmq_getsockopt(w->sock, ZMQ_FD, &w->fd, &sz) < 0)
            goto fail;
    }
    return f;
fail:;
    int err = errno;
    fakegw_destroy(&f);
    errno = err;
    return NULL;
}

void fakegw_destroy(struct fakegw **fp)
{
    struct fakegw *f = *fp;
    if (!f) return;
    for (unsigned g = 0; g < f->nlinks; g++)
        if (f->links[g].sock) zmq_close(f->links[g].sock);
    if (f->zctx) zmq_ctx_term(f->zctx);
    free(f->sess);
    free(f);
    *fp = NULL;
}

const struct fakegw_session *fakegw_session(const struct fakegw *f, size_t i)
{
    return &f->sess[i];
}

unsigned fakegw_registered(const struct fakegw *f)
{
    return f->registered;
}

int fakegw_reset_seen(const struct fakegw *f)
{
    return f->reset_seen;
}

static int send_up(struct fakegw *f, unsigned g, const Chat__Upstream *up)
{
    uint8_t stack[8192];
    size_t len = chat__upstream__get_packed_size(up);
    uint8_t *buf = len <= sizeof stack ? stack : malloc(len);
    if (!buf) return -1;
    chat__upstream__pack(up, buf);
    int rc = zmq_send(f->links[g].sock, buf, len, ZMQ_DONTWAIT);
    if (buf != stack) free(buf);
    return rc < 0 ? -1 : 0;
}

static void send_gateway_hello(struct fakegw *f, unsigned g)
{
    Chat__GatewayHello h = CHAT__GATEWAY_HELLO__INIT;
    h.gateway_id = f->links[g].id;
    h.instance = f->links[g].instance;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HELLO;
    up.hello = &h;
    send_up(f, g, &up);
}

static void send_heartbeat(struct fakegw *f, unsigned g)
{
    Chat__Heartbeat hb = CHAT__HEARTBEAT__INIT;
    hb.instance = f->links[g].instance;
    hb.has_sent_us = 1;
    hb.sent_us = stats_now_us();
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HEARTBEAT;
    up.heartbeat = &hb;
    send_up(f, g, &up);
}

void fakegw_heartbeats(struct fakegw *f, uint64_t now)
{
    for (unsigned g = 0; g < f->nlinks; g++) {
        struct link *w = &f->links[g];
        if (now < w->next_hb_us) continue;
        if (w->answered) {
            send_heartbeat(f, g);
            w->next_hb_us = now + HEARTBEAT_US;
        } else {
            send_gateway_hello(f, g);
            w->next_hb_us = now + REHELLO_US;
        }
    }
}

int fakegw_send(struct fakegw *f, size_t i, Chat__Command *cmd)
{
    cmd->conn = f->sess[i].conn;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_COMMAND;
    up.command = cmd;
    return send_up(f, f->sess[i].link, &up);
}

int fakegw_hello(struct fakegw *f, size_t i)
{
    char id[24];
    snprintf(id, sizeof id, "h%zu", i);
    Chat__Hello h = CHAT__HELLO__INIT;
    h.nick = f->sess[i].nick;
    Chat__Command cmd = CHAT__COMMAND__INIT;
    cmd.id = id;
    cmd.cmd_case = CHAT__COMMAND__CMD_HELLO;
    cmd.hello = &h;
    return fakegw_send(f, i, &cmd);
}

int fakegw_join(struct fakegw *f, size_t i)
{
    char id[24];
    snprintf(id, sizeof id, "j%zu", i);
    Chat__Join j = CHAT__JOIN__INIT;
    j.room = f->sess[i].room;
    Chat__Command cmd = CHAT__COMMAND__INIT;
    cmd.id = id;
    cmd.cmd_case = CHAT__COMMAND__CMD_JOIN;
    cmd.join = &j;
    return fakegw_send(f, i, &cmd);
}

/* Receives everything that is ready. Returns the number of envelopes. */
static size_t drain(struct fakegw *f)
{
    size_t n = 0;
    for (unsigned g = 0; g < f->nlinks; g++) {
        for (;;) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, f->links[g].sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            uint64_t now = stats_now_us();
            n++;
            Chat__Downstream *d =
                chat__downstream__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            zmq_msg_close(&m);
            if (!d) continue;
            switch (d->body_case) {
            case CHAT__DOWNSTREAM__BODY_HEARTBEAT:
                if (!f->links[g].answered) {
                    f->links[g].answered = 1;
                    f->links[g].next_hb_us = now + HEARTBEAT_US;
                    f->registered++;
                }
                break;
            case CHAT__DOWNSTREAM__BODY_RESET:
                f->reset_seen = 1;
                break;
            case CHAT__DOWNSTREAM__BODY_EVENT:
                if (d->event) f->on_event(f->arg, d->event, now);
                break;
            default:
                break;
            }
            chat__downstream__free_unpacked(d, NULL);
        }
    }
    return n;
}

size_t fakegw_pump(struct fakegw *f, uint64_t timeout_us)
{
    size_t n = drain(f);
    if (n || !timeout_us) return n;
    struct pollfd pfd[FAKEGW_MAX_LINKS];
    for (unsigned g = 0; g < f->nlinks; g++) {
        /* ZMQ_FD is edge-like: after the drain above it is armed again, but a
         * send may have consumed its signal, so ask the socket too. */
        int events = 0;
        size_t sz = sizeof events;
        if (zmq_getsockopt(f->links[g].sock, ZMQ_EVENTS, &events, &sz) == 0 &&
            (events & ZMQ_POLLIN))
            return drain(f);
        pfd[g] = (struct pollfd){.fd = f->links[g].fd, .events = POLLIN};
    }
    struct timespec ts = {(time_t)(timeout_us / 1000000u), (long)(timeout_us % 1000000u) * 1000};
    ppoll(pfd, f->nlinks, &ts, NULL);
    return drain(f);
}
