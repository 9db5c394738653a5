/* conn.c: one client connection: its output queue and its input.
 *
 * Output frames are shared, reference-counted buffers (render.h) queued in a
 * small ring per connection; writability is armed only when something is
 * queued, and each writable callback writes as many frames as the socket
 * takes. A connection whose queue passes --max-queue bytes is too slow to
 * read: it is closed with 1013 rather than allowed to grow memory. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"

_Static_assert(FRAME_PRE >= LWS_PRE, "frame headroom must fit the WebSocket header");

struct conn *conn_by_id(struct gw *g, uint64_t id)
{
    struct conn *c;
    HASH_FIND(hh, g->conns, &id, sizeof id, c);
    return c;
}

static int queue_grow(struct conn *c)
{
    uint32_t cap = c->qcap ? c->qcap * 2 : 4;
    struct frame **q = malloc(cap * sizeof *q);
    if (!q) return -1;
    for (uint32_t i = 0; i < c->qlen; i++) q[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = q;
    c->qcap = cap;
    c->qhead = 0;
    return 0;
}

void conn_send(struct gw *g, struct conn *c, struct frame *f, int reply)
{
    if (!f || c->close_code) return;
    if (!reply && c->qlen && c->qbytes + f->len > (size_t)g->cfg.max_queue) {
        g->stats.slow_closes++;
        log_warn("slow_reader_closed", "conn=%llu queued_bytes=%zu", (unsigned long long)c->id,
                 c->qbytes);
        conn_close(g, c, 1013);
        return;
    }
    if (c->qlen == c->qcap && queue_grow(c) < 0) {
        log_error("queue_oom", "conn=%llu", (unsigned long long)c->id);
        conn_close(g, c, 1011);
        return;
    }
    frame_ref(f);
    c->q[(c->qhead + c->qlen) % c->qcap] = f;
    c->qlen++;
    c->qbytes += f->len;
    if (c->qlen == 1) lws_callback_on_writable(c->wsi);
}

struct held {
    struct frame *f;
    uint32_t tag; /* released once the broker has handled this many commands */
    struct held *next;
};

/* Wrap-safe "a is at or before b" for the 32-bit command counters. */
static int upto(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

static void release_held(struct gw *g, struct conn *c, int all)
{
    while (c->held && (all || upto(c->held->tag, c->synced))) {
        struct held *h = c->held;
        c->held = h->next;
        conn_send(g, c, h->f, 1);
        frame_unref(h->f);
        free(h);
    }
    if (!c->held) c->held_tail = NULL;
}

void conn_synced(struct gw *g, struct conn *c, uint32_t tag)
{
    if (!upto(tag, c->synced)) c->synced = tag;
    release_held(g, c, 0);
}

static int ask_sync(struct gw *g, struct conn *c)
{
    if (c->sync_asked == c->sent && c->held != c->held_tail) return 0; /* already asked */
    Chat__Sync sy = CHAT__SYNC__INIT;
    sy.tag = c->sent;
    Chat__Command cmd = CHAT__COMMAND__INIT;
    cmd.conn = c->id;
    cmd.cmd_case = CHAT__COMMAND__CMD_SYNC;
    cmd.sync = &sy;
    if (link_send_command(g->link, &cmd) < 0) return -1;
    c->sync_asked = c->sent;
    return 0;
}

void conn_reply_local(struct gw *g, struct conn *c, struct frame *f)
{
    if (!f) return;
    if (upto(c->sent, c->synced) && !c->held) { /* nothing in flight: answer now */
        conn_send(g, c, f, 1);
        return;
    }
    struct held *h = malloc(sizeof *h);
    if (!h) {
        conn_flush_held(g, c);
        conn_send(g, c, f, 1);
        return;
    }
    /* Queued before asking: the answer may come back while the Sync is sent. */
    frame_ref(f);
    *h = (struct held){f, c->sent, NULL};
    if (c->held_tail)
        c->held_tail->next = h;
    else
        c->held = h;
    c->held_tail = h;
    if (ask_sync(g, c) < 0) conn_flush_held(g, c); /* no broker to order against */
}

void conn_flush_held(struct gw *g, struct conn *c)
{
    release_held(g, c, 1);
    c->synced = c->sent;
}

static void error_retry(struct gw *g, struct conn *c, const char *code, const char *message,
                        const char *id, long retry_after_ms)
{
    struct frame *f = render_error(code, message, id, retry_after_ms);
    metrics_error(g, code);
    conn_reply_local(g, c, f);
    if (f) frame_unref(f);
}

void conn_error(struct gw *g, struct conn *c, const char *code, const char *message, const char *id)
{
    error_retry(g, c, code, message, id, -1);
}

static void queue_drop_all(struct conn *c)
{
    while (c->qlen) {
        frame_unref(c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % c->qcap;
        c->qlen--;
    }
    c->qbytes = 0;
}

/* Seconds a closing connection gets to take its close frame before it is
 * dropped (a slow reader's socket may never become writable again). */
#define CLOSE_GRACE_S 2

void conn_close(struct gw *g, struct conn *c, uint16_t code)
{
    if (c->close_code) return; /* the first reason stands */
    c->close_code = code;
    metrics_close(g, code);
    /* Nothing queued goes out any more: free it now. The broker hears now
     * too (a no-op for connections already unidentified, as after 1012 or
     * 4001): the session is detached, out of its rooms, and resumable. */
    queue_drop_all(c);
    conn_report_closed(g, c, 0);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_S);
    lws_callback_on_writable(c->wsi);
}

/* Several queued frames go out in one write: one syscall and, with
 * TCP_NODELAY (lws sets it), one TCP segment instead of one per frame. lws
 * frames each lws_write() as one WebSocket message, so batched frames get
 * their headers here (server frames are unmasked: FIN + text opcode, then
 * the length) and the batch is written as raw bytes. */
#define BATCH_BYTES 16384
static unsigned char batch[LWS_PRE + BATCH_BYTES];

static size_t ws_header(unsigned char *h, size_t len)
{
    h[0] = 0x81; /* FIN, text */
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* Frames from the head of the queue that fit one batch (at least 2), or 0. */
static uint32_t batch_count(const struct conn *c)
{
    size_t total = 0;
    uint32_t n = 0;
    while (n < c->qlen) {
        const struct frame *f = c->q[(c->qhead + n) % c->qcap];
        size_t need = f->len + (f->len < 126 ? 2 : f->len < 65536 ? 4 : 10);
        if (total + need > BATCH_BYTES) break;
        total += need;
        n++;
    }
    return n >= 2 ? n : 0;
}

static void pop_written(struct gw *g, struct conn *c)
{
    struct frame *f = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    c->qbytes -= f->len;
    g->stats.frames_out[f->kind < GW_NKINDS ? f->kind : 0]++;
    g->stats.bytes_out += f->len;
    frame_unref(f);
}

int conn_writable(struct gw *g, struct conn *c)
{
    if (c->close_code) {
        static const char *const reasons[] = {"", "too slow to read", "service restarting",
                                              "session taken over", "too many commands"};
        const char *why = c->close_code == 1013   ? reasons[1]
                          : c->close_code == 1012 ? reasons[2]
                          : c->close_code == 4001 ? reasons[3]
                          : c->close_code == 1008 ? reasons[4]
                                                  : reasons[0];
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, (unsigned char *)why,
                         strlen(why));
        return -1;
    }
    /* lws buffers any part of a write the kernel did not take, so what was
     * handed to lws_write is ours to drop. */
    while (c->qlen) {
        uint32_t n = batch_count(c);
        if (n) {
            unsigned char *p = batch + LWS_PRE;
            for (uint32_t i = 0; i < n; i++) {
                struct frame *f = c->q[(c->qhead + i) % c->qcap];
                p += ws_header(p, f->len);
                memcpy(p, frame_payload(f), f->len);
                p += f->len;
            }
            /* LWS_WRITE_HTTP: lws passes the bytes through unframed. */
            size_t len = (size_t)(p - (batch + LWS_PRE));
            if (lws_write(c->wsi, batch + LWS_PRE, len, LWS_WRITE_HTTP) < 0) return -1;
            while (n--) pop_written(g, c);
        } else {
            struct frame *f = c->q[c->qhead];
            if (lws_write(c->wsi, frame_payload(f), f->len, LWS_WRITE_TEXT) < 0)
                return -1; /* lws closes the connection */
            pop_written(g, c);
        }
        if (lws_send_pipe_choked(c->wsi)) break;
    }
    if (c->qlen) lws_callback_on_writable(c->wsi);
    return 0;
}

void conn_report_closed(struct gw *g, struct conn *c, int clean)
{
    if (c->state == CONN_NEW || g->stopping) return;
    /* A client that never saw its welcome does not know the session string
     * and cannot resume: end the session at once so its nick is free again. */
    if (c->state == CONN_HELLO_SENT) clean = 1;
    link_send_disconnect(g->link, c->id, clean);
    c->state = CONN_NEW; /* reported once */
}

void conn_release(struct gw *g, struct conn *c)
{
    while (c->held) {
        struct held *h = c->held;
        c->held = h->next;
        frame_unref(h->f);
        free(h);
    }
    c->held_tail = NULL;
    lrooms_remove_all(&g->rooms, &c->rooms);
    queue_drop_all(c);
    free(c->q);
    c->q = NULL;
    c->qcap = 0;
    free(c->rx);
    c->rx = NULL;
    free(c->nick);
    c->nick = NULL;
}

/* Takes one token from c's bucket. Returns 0, or the ms until one is there. */
static long take_token(struct gw *g, struct conn *c)
{
    if (g->cfg.rate <= 0) return 0;
    uint64_t now = clock_mono_ms();
    if (!c->tokens_ms) { /* a new connection starts with a full bucket */
        c->tokens = (double)g->cfg.burst;
    } else {
        c->tokens += (double)(now - c->tokens_ms) * (double)g->cfg.rate / 1000.0;
        if (c->tokens > (double)g->cfg.burst) c->tokens = (double)g->cfg.burst;
    }
    c->tokens_ms = now;
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
        return 0;
    }
    long wait = (long)((1.0 - c->tokens) * 1000.0 / (double)g->cfg.rate) + 1;
    return wait;
}

/* A command past the rate: rate_limited, and 1008 for a client that keeps on. */
static void refuse_rate(struct gw *g, struct conn *c, const char *id, long retry_ms)
{
    g->stats.rate_limited++;
    c->refused_run++;
    if (g->cfg.flood_close > 0 && c->refused_run >= (uint32_t)g->cfg.flood_close) {
        log_warn("flood_closed", "conn=%llu refused=%u", (unsigned long long)c->id, c->refused_run);
        conn_close(g, c, 1008);
        return;
    }
    error_retry(g, c, "rate_limited", "too many commands; slow down", id, retry_ms);
}

int conn_on_message(struct gw *g, struct conn *c, const char *buf, size_t len, int binary)
{
    /* Closing: nothing more is read (a taken-over connection must not identify again). */
    if (c->close_code) return 0;
    if (binary) {
        g->stats.frames_in[GW_KIND_INVALID]++;
        conn_error(g, c, "bad_request", "binary frames are not accepted; send JSON text frames",
                   NULL);
        return 0;
    }
    struct codec_cmd cmd;
    enum codec_result r = codec_decode(buf, len, c->state, c->nick, &g->limits, &cmd);
    unsigned kind = r == CODEC_PING    ? GW_KIND_PING
                    : r == CODEC_ERROR ? GW_KIND_INVALID
                                       : (unsigned)cmd.cmd.cmd_case;
    g->stats.frames_in[kind < GW_NKINDS ? kind : GW_KIND_INVALID]++;
    switch (r) {
    case CODEC_PING: {
        struct frame *f = render_pong(cmd.id);
        conn_reply_local(g, c, f);
        if (f) frame_unref(f);
        break;
    }
    case CODEC_ERROR:
        conn_error(g, c, cmd.err_code, cmd.err_msg, cmd.id);
        break;
    case CODEC_FORWARD: {
        long retry_ms = take_token(g, c);
        if (retry_ms) {
            refuse_rate(g, c, cmd.id, retry_ms);
            break;
        }
        c->refused_run = 0;
        if (security_check_command(g, c, &cmd) < 0) break;
        cmd.cmd.conn = c->id;
        /* Marked before the send: the send drains the link, so the broker's
         * answer (welcome) may be handled before link_send_command returns. */
        enum conn_state was = c->state;
        int hello = cmd.cmd.cmd_case == CHAT__COMMAND__CMD_HELLO;
        if (hello) {
            c->state = CONN_HELLO_SENT;
            c->epoch = g->link_epoch;
        }
        if (link_send_command(g->link, &cmd.cmd) < 0) {
            if (hello && c->state == CONN_HELLO_SENT) c->state = was;
            g->stats.refused++;
            conn_error(g, c, "unavailable", "the broker is unavailable; nothing was accepted",
                       cmd.id);
            break;
        }
        c->sent++;
        break;
    }
    }
    codec_cmd_clear(&cmd);
    return 0;
}
