/* clientio.c: one connection's bytes in and out (see client_internal.h).
 *
 * One lws protocol callback with a switch on the reason, per-connection
 * state in struct bconn (handed to lws as the connection's user data), and
 * writes only from the writable callback, with LWS_PRE headroom: the shape
 * of the lws minimal client examples. With --ws lws the reasons are
 * LWS_CALLBACK_CLIENT_*, lws doing the WebSocket protocol; with --ws own
 * (the default) they are LWS_CALLBACK_RAW_* and wsframe.c does the upgrade
 * and the frames. Either way each whole text message goes to on_message(),
 * which wire.c classifies. */
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "stats.h"
#include "wsframe.h"

/* ---------------------------------------------------------------- receiving */

static void on_ack(struct client *cl, struct bconn *c, uint64_t ts, uint64_t now)
{
    if (!reconnect_answered(cl, c, ts, NULL, now)) return; /* answered before */
    if (!in_window(cl, ts)) {
        cl->t.acked_outside++;
        return;
    }
    tally_add(&cl->t.live.acked, 1);
    uint32_t m = atomic_load_explicit(members_of(cl, c), memory_order_relaxed);
    tally_add(&cl->t.live.expected, m ? m - 1 : 0);
    stats_samples_add(&cl->t.ack_lat, now - ts);
}

static void on_message(struct client *cl, struct bconn *c, const char *buf, size_t len)
{
    struct wire_frame f;
    uint64_t now = stats_now_us();
    tally_add(&cl->t.live.frames, 1);
    wire_parse(cl->cfg->proto, buf, len, &f);
    switch (f.kind) {
    case WIRE_MESSAGE:
        if (cl->cfg->proto != WIRE_CHAT && f.from == (int64_t)c->idx) {
            on_ack(cl, c, f.ts, now); /* our own echo */
        } else if (cl->cfg->proto == WIRE_CHAT && !reconnect_seen(cl, c, f.seq, f.from)) {
            break; /* seen before, or our own in a replay */
        } else if (in_window(cl, f.ts)) {
            tally_add(&cl->t.live.delivered, 1);
            stats_samples_add(&cl->t.delivery_lat, now - f.ts);
        } else {
            cl->t.delivered_outside++;
        }
        break;
    case WIRE_ACK:
        on_ack(cl, c, f.ts, now);
        break;
    case WIRE_WELCOME:
        if (c->state == B_OPEN && reconnect_welcome(cl, c, f.session, f.resumed))
            want_write(c, NEED_JOIN);
        cl->t.other++;
        break;
    case WIRE_JOINED:
        if (c->state == B_OPEN) reconnect_joined(cl, c, f.seq);
        __attribute__((fallthrough));
    case WIRE_SIO_CONNECTED:
        if (c->state == B_OPEN) client_set_state(cl, c, B_READY, NULL);
        cl->t.other++;
        break;
    case WIRE_SIO_OPEN:
        want_write(c, NEED_SIO_CONNECT);
        cl->t.other++;
        break;
    case WIRE_SIO_PING:
        want_write(c, NEED_PONG);
        cl->t.other++;
        break;
    case WIRE_NOISE:
        cl->t.noise++;
        break;
    case WIRE_ERROR:
    case WIRE_SIO_REFUSED:
        tally_code(&cl->t.errors, f.code[0] ? f.code : "(no code)", 1);
        if (f.about_msg && reconnect_answered(cl, c, f.ts, f.code, now) && in_window(cl, f.ts))
            tally_add(&cl->t.live.refused, 1);
        if (c->state == B_OPEN && c->ever_ready) { /* a reconnect's hello or join refused */
            c->why = strcmp(f.code, "unavailable") ? "refused" : "unavailable";
            want_write(c, NEED_CLOSE);   /* then it tries again (reconnect.c) */
        } else if (c->state == B_OPEN) { /* hello, join or the socket.io connect refused */
            client_set_state(cl, c, B_CLOSING, f.code[0] ? f.code : "refused");
            want_write(c, NEED_CLOSE);
        }
        break;
    case WIRE_NOT_UNDERSTOOD:
        cl->t.not_understood++;
        break;
    case WIRE_OTHER:
        cl->t.other++;
        break;
    }
}

/* The WebSocket is up: identify (chat), wait for the server (socketio), or
 * that was all (plain). -1 when the connection was abandoned meanwhile. */
static int on_established(struct client *cl, struct bconn *c, struct lws *wsi)
{
    c->wsi = wsi;
    if (c->state != B_CONNECTING) return -1;
    c->state = B_OPEN;
    if (cl->cfg->proto == WIRE_CHAT)
        want_write(c, NEED_HELLO);
    else if (cl->cfg->proto == WIRE_PLAIN)
        client_set_state(cl, c, B_READY, NULL);
    return 0;
}

static int on_receive(struct client *cl, struct bconn *c, struct lws *wsi, const char *in,
                      size_t len)
{
    int first = lws_is_first_fragment(wsi);
    int whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
    if (lws_frame_is_binary(wsi)) {
        if (whole) cl->t.other++;
        return 0;
    }
    if (first && whole && !c->rxlen) {
        on_message(cl, c, in, len);
        return 0;
    }
    if (c->rxlen + len > RX_MAX) return -1;
    char *n = realloc(c->rx, c->rxlen + len + 1);
    if (!n) return -1;
    memcpy(n + c->rxlen, in, len);
    c->rx = n;
    c->rxlen += len;
    if (!whole) return 0;
    on_message(cl, c, c->rx, c->rxlen);
    free(c->rx);
    c->rx = NULL;
    c->rxlen = 0;
    return 0;
}

/* --ws own: one frame from the server. -1 to close the connection. */
static int own_frame(struct client *cl, struct bconn *c, const struct wsframe *f)
{
    switch (f->op) {
    case WSF_TEXT:
    case WSF_BINARY:
        if (f->fin && !c->rxlen) {
            if (f->op == WSF_TEXT)
                on_message(cl, c, (const char *)f->payload, f->len);
            else
                cl->t.other++;
            return 0;
        }
        c->rx_op = (uint8_t)f->op;
        __attribute__((fallthrough)); /* the first piece of a fragmented message */
    case WSF_CONT: {
        if (c->rxlen + f->len > RX_MAX) return -1;
        char *n = realloc(c->rx, c->rxlen + f->len + 1);
        if (!n) return -1;
        memcpy(n + c->rxlen, f->payload, f->len);
        c->rx = n;
        c->rxlen += f->len;
        if (!f->fin) return 0;
        if (c->rx_op == WSF_TEXT)
            on_message(cl, c, c->rx, c->rxlen);
        else
            cl->t.other++;
        free(c->rx);
        c->rx = NULL;
        c->rxlen = 0;
        return 0;
    }
    case WSF_PING:
        if (f->len > 125) return -1;
        if (!c->ping && !(c->ping = malloc(125))) return -1;
        memcpy(c->ping, f->payload, f->len);
        c->pinglen = (uint8_t)f->len;
        want_write(c, NEED_WSPONG);
        return 0;
    case WSF_CLOSE:
        if (f->len >= 2) c->peer_close = (uint16_t)(f->payload[0] << 8 | f->payload[1]);
        return -1; /* ours was sent, or the server ends it: either way, done */
    default:
        return 0; /* pong */
    }
}

/* --ws own: bytes from the socket: the upgrade answer, then frames. What is
 * not a whole frame yet waits in c->pend for the next read. */
static int on_raw_rx(struct client *cl, struct bconn *c, struct lws *wsi, void *in, size_t len)
{
    uint8_t *buf = in;
    size_t n = len, off = 0;
    if (c->pendlen) {
        if (c->pendlen + len > RX_MAX + 64) return -1;
        uint8_t *p = realloc(c->pend, c->pendlen + len);
        if (!p) return -1;
        memcpy(p + c->pendlen, in, len);
        c->pend = p;
        buf = p;
        n = c->pendlen + len;
    }
    if (!c->upgraded) {
        char why[64];
        long h = wsframe_response((const char *)buf, n, why, sizeof why);
        if (h < 0) {
            c->why = "upgrade refused";
            return -1;
        }
        if (h == 0) goto keep;
        off = (size_t)h;
        c->upgraded = 1;
        if (on_established(cl, c, wsi) < 0) return -1;
    }
    while (off < n) {
        struct wsframe f;
        long k = wsframe_next(buf + off, n - off, RX_MAX, &f);
        if (k < 0) return -1;
        if (k == 0) break;
        off += (size_t)k;
        if (own_frame(cl, c, &f) < 0) return -1;
    }
keep:
    if (off == n) {
        c->pendlen = 0;
        return 0;
    }
    if (buf == c->pend) {
        memmove(c->pend, c->pend + off, n - off);
    } else {
        uint8_t *p = realloc(c->pend, n - off);
        if (!p) return -1;
        memcpy(p, buf + off, n - off);
        c->pend = p;
    }
    c->pendlen = n - off;
    return 0;
}

/* ---------------------------------------------------------------- writing */

/* Sends the n payload bytes at cl->tx + LWS_PRE as one frame of op. */
static int write_frame(struct client *cl, struct lws *wsi, size_t n, enum wsframe_op op)
{
    unsigned char *p = (unsigned char *)cl->tx + LWS_PRE;
    if (!n && op == WSF_TEXT) return -1; /* a builder that ran out of room */
    if (!cl->own_ws)
        return lws_write(wsi, p, n, op == WSF_TEXT ? LWS_WRITE_TEXT : LWS_WRITE_PONG) < 0 ? -1 : 0;
    size_t h = wsframe_wrap(p, n, op, (uint32_t)wsframe_rand(&cl->rng));
    return lws_write(wsi, p - h, h + n, LWS_WRITE_RAW) < 0 ? -1 : 0;
}

static int write_text(struct client *cl, struct lws *wsi, size_t n)
{
    return write_frame(cl, wsi, n, WSF_TEXT);
}

/* --ws own: the upgrade request, a pong, or our close frame. 1: written,
 * 0: nothing of the kind was needed, -1: failed or the connection is to go. */
static int own_control(struct client *cl, struct bconn *c, struct lws *wsi)
{
    char *buf = cl->tx + LWS_PRE;
    if (c->need & NEED_UPGRADE) {
        c->need &= (uint8_t)~NEED_UPGRADE;
        const struct cb_url *u = &cl->cfg->urls[c->url];
        uint64_t r1 = wsframe_rand(&cl->rng), r2 = wsframe_rand(&cl->rng);
        size_t n = wsframe_request(buf, cl->txcap, u->hostport, u->path, r1, r2);
        if (!n) return -1;
        return lws_write(wsi, (unsigned char *)buf, n, LWS_WRITE_RAW) < 0 ? -1 : 1;
    }
    if (c->need & NEED_CLOSE) {
        if (!c->upgraded || c->close_sent) return -1;
        static const char why[] = "\x03\xe8"
                                  "bench done"; /* 1000, then a reason */
        memcpy(buf, why, sizeof why - 1);
        c->need = 0;
        c->close_sent = 1; /* the server's close, or its end of TCP, finishes it */
        return write_frame(cl, wsi, sizeof why - 1, WSF_CLOSE) < 0 ? -1 : 1;
    }
    if (c->need & NEED_WSPONG) {
        c->need &= (uint8_t)~NEED_WSPONG;
        if (c->pinglen) memcpy(buf, c->ping, c->pinglen);
        return write_frame(cl, wsi, c->pinglen, WSF_PONG) < 0 ? -1 : 1;
    }
    return 0;
}

/* The one control frame c needs most, or 0 bytes when none. */
static size_t control_frame(struct client *cl, struct bconn *c, char *buf, size_t cap)
{
    char name[96], room[96];
    if (c->need & NEED_HELLO) {
        c->need &= (uint8_t)~NEED_HELLO;
        nick_of(cl, c, name, sizeof name);
        room_of(cl, c->room, room, sizeof room);
        return wire_hello(buf, cap, name, c->ever_ready ? c->session : NULL, room, c->last_seq);
    }
    if (c->need & NEED_JOIN) {
        c->need &= (uint8_t)~NEED_JOIN;
        room_of(cl, c->room, room, sizeof room);
        return wire_join(buf, cap, room, reconnect_since(c));
    }
    if (c->need & NEED_SIO_CONNECT) {
        c->need &= (uint8_t)~NEED_SIO_CONNECT;
        return wire_sio_connect(buf, cap);
    }
    if (c->need & NEED_PONG) {
        c->need &= (uint8_t)~NEED_PONG;
        return wire_sio_pong(buf, cap);
    }
    return 0;
}

static int on_writable(struct client *cl, struct bconn *c, struct lws *wsi)
{
    char *buf = cl->tx + LWS_PRE;
    if (cl->own_ws && c->close_sent) return 0;
    if (cl->own_ws && (c->need & (NEED_UPGRADE | NEED_CLOSE | NEED_WSPONG))) {
        int r = own_control(cl, c, wsi);
        if (r < 0) return -1;
        if (c->close_sent || !c->upgraded) return 0;
        if (lws_send_pipe_choked(wsi)) goto more;
    } else if (c->need & NEED_CLOSE) {
        static const char why[] = "bench done";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)why, sizeof why - 1);
        return -1;
    }
    while (c->need & (NEED_HELLO | NEED_JOIN | NEED_SIO_CONNECT | NEED_PONG)) {
        size_t n = control_frame(cl, c, buf, cl->txcap);
        if (write_text(cl, wsi, n) < 0) return -1;
        if (lws_send_pipe_choked(wsi)) goto more;
    }
    char room[96];
    if (c->qlen || c->redo.len) room_of(cl, c->room, room, sizeof room);
    /* Retries first, with their first id, once their backoff is over. */
    while (c->state == B_READY && c->redo.len && stats_now_us() >= c->wake_at) {
        uint64_t ts = c->redo.v[c->redo.head];
        size_t n = wire_message(cl->cfg->proto, buf, cl->txcap, room, ts, (uint32_t)c->idx,
                                (size_t)cl->cfg->text_bytes);
        if (write_text(cl, wsi, n) < 0) return -1;
        c->redo.head = (c->redo.head + 1) % c->redo.cap;
        c->redo.len--;
        u64q_push(&c->out, ts);
        cl->t.retries++;
        if (lws_send_pipe_choked(wsi)) goto more;
    }
    while (c->qlen) {
        uint64_t ts = c->q[c->qhead];
        size_t n = wire_message(cl->cfg->proto, buf, cl->txcap, room, ts, (uint32_t)c->idx,
                                (size_t)cl->cfg->text_bytes);
        if (write_text(cl, wsi, n) < 0) return -1;
        if (cl->cfg->proto == WIRE_CHAT) u64q_push(&c->out, ts);
        c->qhead = (uint8_t)((c->qhead + 1) % QCAP);
        c->qlen--;
        cl->t.sent_all++;
        if (in_window(cl, ts)) {
            tally_add(&cl->t.live.sent, 1);
            stats_samples_add(&cl->t.send_lag, stats_now_us() - ts);
        }
        if (lws_send_pipe_choked(wsi)) break;
    }
more:
    if (c->qlen || c->need || (c->redo.len && stats_now_us() >= c->wake_at))
        lws_callback_on_writable(wsi);
    return 0;
}

/* ---------------------------------------------------------------- the callback */

/* The connection wsi belongs to, or NULL when wsi is one it has left behind
 * (a reconnected connection gets a new wsi; the old one's last callbacks
 * must not touch it). Before lws_client_connect_via_info returns, c->wsi is
 * not set yet. */
static struct bconn *conn_of(struct lws *wsi, void *user)
{
    struct bconn *c = user;
    if (!c || c->wsi == wsi || (!c->wsi && c->state == B_CONNECTING)) return c;
    return NULL;
}

int clientio_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    struct bconn *c = conn_of(wsi, user);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        return c ? on_established(client_of(wsi), c, wsi) : -1;
    case LWS_CALLBACK_RAW_CONNECTED: /* --ws own: TCP is up; upgrade */
        if (!c || c->state != B_CONNECTING) return -1;
        c->wsi = wsi;
        want_write(c, NEED_UPGRADE);
        return 0;
    case LWS_CALLBACK_RAW_RX:
        if (!c || c->state == B_DONE) return -1;
        return on_raw_rx(client_of(wsi), c, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c || c->state == B_DONE) return -1;
        return on_receive(client_of(wsi), c, wsi, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c || c->state == B_DONE) return -1;
        return on_writable(client_of(wsi), c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* lws 4.1 hands over 1002 in place of the codes it thinks reserved
         * (1012 among them): --ws own reports those as sent. */
        if (c && len >= 2)
            c->peer_close = (uint16_t)((((const uint8_t *)in)[0] << 8) | ((const uint8_t *)in)[1]);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            char why[48];
            snprintf(why, sizeof why, "%.47s", in && len ? (const char *)in : "connection error");
            client_end_conn(client_of(wsi), c, why);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_RAW_CLOSE:
    case LWS_CALLBACK_WSI_DESTROY:
        if (c && c->state != B_IDLE && c->state != B_WAIT) client_end_conn(client_of(wsi), c, NULL);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
