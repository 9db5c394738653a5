/* client.c: the worker threads and their connections (see client.h); the
 * bytes of one connection are clientio.c's.
 *
 * A timer (lws_sul) ticks every
 * millisecond or so: it opens connections while the phase is CB_CONNECT,
 * queues the messages that have fallen due while it is CB_SEND, and closes
 * everything at CB_CLOSE.
 *
 * Sending: the worker's senders share its rate (senders x --rate); send k
 * of the worker is due at g^-1(k / rate) after send_t0, where g is the
 * integral of the ramp (linear from 0 to 1 over ramp_us, then 1), and goes
 * to sender k mod senders. That intended time, not the moment the frame is
 * written, is what the message carries: a writer that falls behind (the
 * socket full, this process short of CPU) shows up in the latencies instead
 * of hiding in a queue; how far behind it was is kept apart (send lag). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "stats.h"

/* ---------------------------------------------------------------- helpers */

static void fill(struct client *cl, uint64_t now);

/* Moves c to state s and keeps the counters: a connection that ends (or
 * that we start closing) before it was ready failed (a reconnect attempt:
 * that attempt failed), one that ends while ready, not closed by us, closed
 * unexpectedly; code says why, for the tables by code (c->why, when set,
 * wins for failures). B_WAIT ends the connection but keeps it a member of
 * its room: it is to reconnect. */
void client_set_state(struct client *cl, struct bconn *c, enum bstate s, const char *code)
{
    enum bstate old = c->state;
    if (old == s || old == B_DONE) return;
    int pending = old == B_CONNECTING || old == B_OPEN;
    uint64_t now = stats_now_us();
    if (pending) cl->inflight--;
    if (old == B_WAIT) cl->nwaiting--;
    const char *why = c->why ? c->why : code ? code : "closed";
    if (pending && s == B_READY && c->ever_ready) {
        cl->t.reconnects++;
        c->attempts = 0;
        c->wake_at = now; /* retries may go at once */
    } else if (pending && s == B_READY) {
        c->ever_ready = 1;
        tally_add(&cl->t.live.ready, 1);
        tally_set(&cl->t.live.last_ready_us, now);
        stats_samples_add(&cl->t.connect_lat, now - c->t_start);
    } else if (pending && c->ever_ready) {
        tally_code(&cl->t.reconnect_errors, why, 1);
    } else if (pending) {
        tally_add(&cl->t.live.failed, 1);
        tally_code(&cl->t.connect_errors, why, 1);
    } else if (old == B_READY && (s == B_DONE || s == B_WAIT)) {
        tally_code(&cl->t.closes, code ? code : "1006", 1);
    }
    if (s == B_READY && !c->member) {
        c->member = 1;
        atomic_fetch_add_explicit(members_of(cl, c), 1, memory_order_relaxed);
    } else if ((s == B_CLOSING || s == B_DONE) && c->member) {
        c->member = 0;
        atomic_fetch_sub_explicit(members_of(cl, c), 1, memory_order_relaxed);
    }
    c->state = (uint8_t)s;
    if (s == B_DONE || s == B_WAIT) {
        c->wsi = NULL;
        cl->t.skipped += c->qlen; /* due, never written */
        c->qlen = 0;
        free(c->rx);
        c->rx = NULL;
        c->rxlen = 0;
        free(c->pend);
        c->pend = NULL;
        c->pendlen = 0;
        free(c->ping);
        c->ping = NULL;
        c->need = c->upgraded = c->close_sent = 0;
        c->peer_close = 0;
        c->why = NULL;
    }
    if (s == B_WAIT) reconnect_schedule(cl, c, now);
    if (pending && cl->phase == CB_CONNECT) fill(cl, now);
}

/* The code a closed connection ends with: the peer's close code, else 1006.
 * It waits to reconnect when reconnect.c wants it to. */
void client_end_conn(struct client *cl, struct bconn *c, const char *reason)
{
    char code[48];
    if (reason)
        snprintf(code, sizeof code, "%.47s", reason);
    else
        snprintf(code, sizeof code, "%u", c->peer_close ? c->peer_close : 1006u);
    client_set_state(cl, c, reconnect_wanted(cl, c, code) ? B_WAIT : B_DONE, code);
}

/* ---------------------------------------------------------------- connecting */

void client_start_conn(struct client *cl, struct bconn *c, uint64_t now)
{
    const struct cb_url *u = &cl->cfg->urls[c->url];
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = cl->ctx;
    i.address = u->host;
    i.port = u->port;
    i.path = u->path;
    i.host = u->hostport;
    i.origin = u->hostport;
    i.protocol = NULL; /* no subprotocol: the gateway's first one, socket.io's none */
    i.local_protocol_name = cl->protocols[0].name;
    if (cl->own_ws) i.method = "RAW"; /* the upgrade and the frames are ours (wsframe.c) */
    i.userdata = c;
    /* No validity (keep-alive) timers: lws keeps its timers in one sorted
     * list, and one long timer per connection makes every insertion walk
     * thousands of them. */
    static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                               .secs_since_valid_hangup = 0};
    i.retry_and_idle_policy = &no_validity;
    c->state = B_CONNECTING;
    c->t_start = now;
    cl->inflight++;
    if (!c->ever_ready) { /* not a reconnect */
        tally_add(&cl->t.live.started, 1);
        if (!tally_get(&cl->t.live.first_start_us)) tally_set(&cl->t.live.first_start_us, now);
    }
    struct lws *wsi = lws_client_connect_via_info(&i);
    if (c->state != B_CONNECTING) return; /* failed inside the call, already counted */
    if (!wsi) {
        client_end_conn(cl, c, "connect failed");
        return;
    }
    c->wsi = wsi;
}

/* Opens connections while the limits allow. */
static void fill(struct client *cl, uint64_t now)
{
    if (cl->filling) return; /* a failure inside lws_client_connect_via_info */
    cl->filling = 1;
    uint64_t allowed = cl->n;
    if (cl->connect_rate > 0)
        allowed = (uint64_t)((double)(now - cl->connect_t0) / 1e6 * cl->connect_rate) + 1;
    while (cl->next_connect < cl->n && cl->inflight < cl->concurrency &&
           tally_get(&cl->t.live.started) < allowed)
        client_start_conn(cl, &cl->conns[cl->next_connect++], now);
    cl->filling = 0;
}

/* ---------------------------------------------------------------- sending */

/* Seconds after send_t0 at which the worker has sent x messages' worth. */
static double ginv(const struct client *cl, double x)
{
    double ramp = (double)cl->sh->ramp_us / 1e6, full = x / cl->rate;
    if (ramp <= 0) return full;
    if (full < ramp / 2) return sqrt(2 * ramp * full);
    return full - ramp / 2 + ramp;
}

/* Messages' worth due t seconds after send_t0. */
static double g(const struct client *cl, double t)
{
    double ramp = (double)cl->sh->ramp_us / 1e6;
    if (ramp <= 0) return t * cl->rate;
    if (t < ramp) return t * t / (2 * ramp) * cl->rate;
    return (ramp / 2 + t - ramp) * cl->rate;
}

static void enqueue(struct client *cl, struct bconn *c, uint64_t ts)
{
    if (c->state != B_READY) {
        cl->t.skipped++;
        return;
    }
    if (c->qlen == QCAP) {
        cl->t.overflow++;
        return;
    }
    c->q[(c->qhead + c->qlen) % QCAP] = ts;
    c->qlen++;
    if (c->qlen == 1) lws_callback_on_writable(c->wsi);
}

static void schedule_sends(struct client *cl, uint64_t now)
{
    if (!cl->nsenders || cl->rate <= 0) return;
    uint64_t end = atomic_load_explicit(&cl->sh->measure_end, memory_order_relaxed);
    uint64_t t = now < end ? now : end;
    if (t < cl->sh->send_t0) return;
    uint64_t due = (uint64_t)g(cl, (double)(t - cl->sh->send_t0) / 1e6) + 1;
    for (; cl->sends_due < due; cl->sends_due++) {
        uint64_t ts = cl->sh->send_t0 + (uint64_t)(ginv(cl, (double)cl->sends_due) * 1e6);
        if (ts >= end) {
            cl->sends_due = due;
            break;
        }
        enqueue(cl, &cl->conns[cl->senders[cl->sends_due % cl->nsenders]], ts);
    }
}

/* ---------------------------------------------------------------- phases */

/* Ends every connection still short of ready: the coordinator has moved on. */
static void abandon_pending(struct client *cl)
{
    for (size_t k = 0; k < cl->n; k++) {
        struct bconn *c = &cl->conns[k];
        if (c->state == B_IDLE) { /* never started: failed all the same */
            c->state = B_DONE;
            tally_add(&cl->t.live.failed, 1);
            tally_code(&cl->t.connect_errors, "not started in time", 1);
        } else if ((c->state == B_CONNECTING || c->state == B_OPEN) && c->wsi && !c->ever_ready) {
            c->why = "not ready in time";
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
    }
    cl->next_connect = cl->n;
}

/* Closes every connection with 1000. One that was ready once and is not
 * now is lost (with --reconnect: it did not get back in time). */
static void close_all(struct client *cl)
{
    for (size_t k = 0; k < cl->n; k++) {
        struct bconn *c = &cl->conns[k];
        if (c->ever_ready && c->state != B_READY) tally_add(&cl->t.live.lost, 1);
        if (c->state == B_IDLE) {
            c->state = B_DONE;
        } else if (c->state == B_WAIT) {
            client_set_state(cl, c, B_DONE, NULL);
        } else if (c->state == B_READY || c->state == B_OPEN) {
            if (c->state == B_OPEN) c->why = "closed before ready";
            client_set_state(cl, c, B_CLOSING, NULL);
            want_write(c, NEED_CLOSE);
        } else if (c->state == B_CONNECTING && c->wsi) {
            c->why = "closed before ready";
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
    }
}

static size_t still_open(const struct client *cl)
{
    size_t open = 0;
    for (size_t k = 0; k < cl->n; k++) open += cl->conns[k].state != B_DONE;
    return open;
}

static void stop_loop(struct client *cl)
{
    cl->done = 1;
    if (cl->use_ev) ev_break(cl->loop, EVBREAK_ALL);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    struct client *cl = lws_container_of(sul, struct client, tick);
    uint64_t now = stats_now_us();
    int phase = atomic_load_explicit(&cl->sh->phase, memory_order_acquire);
    if (phase != cl->phase) {
        if (cl->phase == CB_CONNECT) abandon_pending(cl);
        if (phase >= CB_SEND) cl->win_start = cl->sh->measure_start;
        if (phase == CB_CLOSE) {
            close_all(cl);
            cl->close_deadline = now + CLOSE_WAIT_US;
        }
        cl->phase = phase;
    }
    if (phase >= CB_SEND)
        cl->win_end = atomic_load_explicit(&cl->sh->measure_end, memory_order_relaxed);
    lws_usec_t next = 10000;
    if (phase != CB_CLOSE) reconnect_tick(cl, now);
    switch (phase) {
    case CB_CONNECT:
        fill(cl, now);
        next = 1000;
        break;
    case CB_SEND:
        schedule_sends(cl, now);
        next = 1000;
        break;
    case CB_CLOSE:
        if (!still_open(cl) || now > cl->close_deadline) {
            stop_loop(cl);
            return;
        }
        next = 5000;
        break;
    default:
        break;
    }
    lws_sul_schedule(cl->ctx, 0, &cl->tick, on_tick, next);
}

/* ---------------------------------------------------------------- lifecycle */

static void *worker_main(void *arg)
{
    struct client *cl = arg;
    if (cl->use_ev)
        ev_run(cl->loop, 0);
    else
        while (!cl->done)
            if (lws_service(cl->ctx, 0) < 0) break;
    /* Whatever did not close in time is closed here, and no longer counted. */
    for (size_t k = 0; k < cl->n; k++)
        if (cl->conns[k].state == B_READY) cl->conns[k].state = B_CLOSING;
    lws_context_destroy(cl->ctx);
    cl->ctx = NULL;
    return NULL;
}

struct client *client_new(const struct cb_config *cfg, struct cb_shared *sh, unsigned index,
                          unsigned nworkers)
{
    struct client *cl = calloc(1, sizeof *cl);
    if (!cl) goto oom;
    cl->cfg = cfg;
    cl->sh = sh;
    cl->index = index;
    cl->nworkers = nworkers;
    cl->use_ev = cfg->use_ev;
    cl->own_ws = cfg->own_ws;
    cl->rng = (stats_now_us() ^ ((uint64_t)(index + 1) * 0x9E3779B97F4A7C15ULL)) | 1;
    cl->phase = CB_CONNECT;
    uint64_t total = (uint64_t)cfg->conns;
    cl->n = total > index ? (size_t)((total - index + nworkers - 1) / nworkers) : 0;
    cl->concurrency = (size_t)(cfg->concurrency / nworkers);
    if (!cl->concurrency) cl->concurrency = 1;
    cl->connect_rate = cfg->connect_rate / nworkers;
    cl->conns = calloc(cl->n ? cl->n : 1, sizeof *cl->conns);
    cl->senders = calloc(cl->n ? cl->n : 1, sizeof *cl->senders);
    cl->txcap = (size_t)cfg->text_bytes + 1024; /* room for the upgrade request too */
    cl->tx = malloc(LWS_PRE + cl->txcap);
    if (!cl->conns || !cl->senders || !cl->tx) goto oom;
    for (size_t k = 0; k < cl->n; k++) {
        struct bconn *c = &cl->conns[k];
        c->idx = index + (uint64_t)k * nworkers;
        c->room = cb_room_of(cfg, c->idx);
        c->url = (uint8_t)cb_url_of(cfg, c->idx);
        if (cb_is_sender(cfg, c->idx)) {
            if (!(c->q = malloc(QCAP * sizeof *c->q))) goto oom;
            cl->senders[cl->nsenders++] = k;
        }
    }
    cl->rate = (double)cl->nsenders * cfg->rate;
    return cl;
oom:
    fprintf(stderr, "chat-bench: out of memory for worker %u\n", index);
    client_destroy(&cl);
    return NULL;
}

int client_start(struct client *cl)
{
    cl->protocols[0] = (struct lws_protocols){
        .name = "chat-bench",
        .callback = clientio_callback,
        .per_session_data_size = 0, /* each connection's struct bconn is its user data */
        .rx_buffer_size = cl->txcap > 4096 ? cl->txcap : 4096,
    };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = cl->protocols;
    info.user = cl;
    info.pt_serv_buf_size = 32768; /* bytes read per connection per wake-up */
    info.connect_timeout_secs = 20;
    info.timeout_secs = 20;
    void *foreign[1];
    if (cl->use_ev) {
        if (!(cl->loop = ev_loop_new(EVFLAG_AUTO))) {
            fprintf(stderr, "chat-bench: libev: cannot create a loop\n");
            return -1;
        }
        foreign[0] = cl->loop;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = foreign;
    }
    if (!(cl->ctx = lws_create_context(&info))) {
        fprintf(stderr, "chat-bench: libwebsockets: cannot create a context%s\n",
                cl->use_ev ? " with libev (try --event-loop poll)" : "");
        return -1;
    }
    cl->connect_t0 = stats_now_us();
    lws_sul_schedule(cl->ctx, 0, &cl->tick, on_tick, 1);
    int rc = pthread_create(&cl->thread, NULL, worker_main, cl);
    if (rc) {
        fprintf(stderr, "chat-bench: cannot start a thread: %s\n", strerror(rc));
        return -1;
    }
    cl->running = 1;
    return 0;
}

void client_join(struct client *cl)
{
    if (!cl->running) return;
    pthread_join(cl->thread, NULL);
    cl->running = 0;
}

struct tally *client_tally(struct client *cl)
{
    return &cl->t;
}

void client_destroy(struct client **cp)
{
    struct client *cl = *cp;
    if (!cl) return;
    client_join(cl);
    if (cl->ctx) lws_context_destroy(cl->ctx);
    if (cl->loop) ev_loop_destroy(cl->loop);
    for (size_t k = 0; cl->conns && k < cl->n; k++) {
        free(cl->conns[k].q);
        free(cl->conns[k].rx);
        free(cl->conns[k].pend);
        free(cl->conns[k].ping);
        free(cl->conns[k].session);
        u64q_free(&cl->conns[k].out);
        u64q_free(&cl->conns[k].redo);
    }
    free(cl->conns);
    free(cl->senders);
    free(cl->tx);
    tally_free(&cl->t);
    free(cl);
    *cp = NULL;
}
