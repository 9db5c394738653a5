/* server.c: the libwebsockets protocols: /ws, /healthz, /readyz, the raw
 * ZeroMQ descriptor, and (through the mounts in main.c) static files.
 *
 * One callback per protocol, a switch on the reason, per-connection state
 * in struct conn (the lws per-session data), writes only from the writable
 * callback: the shape of the lws minimal ws-server examples. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "log.h"

static struct gw *gw_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* Appends one received piece; returns -1 when the message is too big. A
 * frame longer than --rx-buffer arrives in pieces: the first one sizes the
 * buffer for the rest of its frame (lws_remaining_packet_payload), so the
 * later ones are copied without moving it, and an oversized frame is refused
 * before it is read. */
static int rx_append(struct gw *g, struct conn *c, const void *in, size_t len)
{
    size_t want = c->rxlen + len + lws_remaining_packet_payload(c->wsi);
    if (want > (size_t)g->cfg.max_frame) return -1;
    char *n = realloc(c->rx, want + 1);
    if (!n) return -1;
    memcpy(n + c->rxlen, in, len);
    c->rx = n;
    c->rxlen += len;
    return 0;
}

static int too_large(struct gw *g, struct conn *c)
{
    static const char why[] = "message too large";
    log_info("frame_too_large", "conn=%llu", (unsigned long long)c->id);
    metrics_close(g, 1009);
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                     sizeof why - 1);
    return -1;
}

static int on_receive(struct gw *g, struct conn *c, void *in, size_t len)
{
    g->stats.bytes_in += len;
    int first = lws_is_first_fragment(c->wsi);
    int whole = lws_is_final_fragment(c->wsi) && !lws_remaining_packet_payload(c->wsi);
    if (first) c->rx_binary = lws_frame_is_binary(c->wsi);
    if (first && whole) { /* the common case: one piece, parsed in place */
        if (len > (size_t)g->cfg.max_frame) return too_large(g, c);
        return conn_on_message(g, c, in, len, c->rx_binary);
    }
    if (rx_append(g, c, in, len) < 0) return too_large(g, c);
    if (!whole) return 0;
    int rc = conn_on_message(g, c, c->rx, c->rxlen, c->rx_binary);
    free(c->rx);
    c->rx = NULL;
    c->rxlen = 0;
    return rc;
}

static int uri_is(struct lws *wsi, const char *path)
{
    char uri[64];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) return 0;
    return !strcmp(uri, path);
}

/* X-Chat-Gateway: <--id>, so that a client (or a test behind a load
 * balancer) can tell which gateway it landed on. */
static int add_gateway_header(struct lws *wsi, const struct gw *g, unsigned char **p,
                              unsigned char *end)
{
    return lws_add_http_header_by_name(
        wsi, (const unsigned char *)"x-chat-gateway:", (const unsigned char *)g->cfg.id,
        (int)strlen(g->cfg.id), p, end);
}

static int callback_chat(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct gw *g = gw_of(wsi);
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* A page of a site not in --allowed-origins: 403, no WebSocket.
         * (`in` is not read: lws may pass a stale pointer here.) */
        return security_origin_ok(g, wsi) ? 0 : security_refuse_upgrade(wsi);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (!uri_is(wsi, "/ws")) return -1;   /* WebSocket only at /ws */
        const char *no = admit_check(g, wsi); /* draining or a limit */
        if (no) {
            admit_refused(g, wsi, no);
            return -1;
        }
        return security_origin_ok(g, wsi) ? 0 : -1;
    case LWS_CALLBACK_ADD_HEADERS: { /* the 101 answer to the upgrade */
        struct lws_process_html_args *a = in;
        unsigned char *p = (unsigned char *)a->p;
        if (add_gateway_header(wsi, g, &p, p + a->max_len)) return 1;
        a->p = (char *)p;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->wsi = wsi;
        c->id = ++g->next_conn_id;
        c->state = CONN_NEW;
        c->last_online = UINT32_MAX;
        HASH_ADD(hh, g->conns, id, sizeof c->id, c);
        g->nconns++;
        g->stats.opened++;
        admit_open(g, c);
        log_debug("conn_open", "conn=%llu", (unsigned long long)c->id);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(g, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return conn_writable(g, c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* in: the close payload, starting with the code in network order.
         * 1000 ends the session at once; anything else keeps it resumable.
         * The broker hears of it now, before lws echoes the close: a client
         * that saw its close complete finds its nick already free. */
        c->peer_clean =
            len >= 2 && ((((const uint8_t *)in)[0] << 8) | ((const uint8_t *)in)[1]) == 1000;
        conn_report_closed(g, c, c->peer_clean);
        return 0;
    case LWS_CALLBACK_CLOSED: {
        if (!c || !c->id) return 0; /* refused before it was established */
        conn_report_closed(g, c, c->peer_clean);
        conn_release(g, c);
        admit_close(g, c);
        HASH_DELETE(hh, g->conns, c);
        g->nconns--;
        log_debug("conn_closed", "conn=%llu", (unsigned long long)c->id);
        return 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* Plain-text answers for /healthz, /readyz and /metrics. */
struct http_pss {
    int status;
    const char *body; /* a fixed answer, or NULL: the metrics text in m */
    struct mbuf m;
    size_t off; /* bytes of the answer written */
};

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int callback_http_status(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                void *in, size_t len)
{
    struct gw *g = gw_of(wsi);
    struct http_pss *p = user;
    uint8_t buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *pos = start, *end = buf + sizeof buf - 1;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (uri_is(wsi, "/healthz")) {
            p->status = 200;
            p->body = "ok\n";
        } else if (uri_is(wsi, "/readyz")) {
            int up = link_up(g->link) && !g->draining;
            p->status = up ? 200 : 503;
            p->body = up ? "ready\n" : g->draining ? "draining\n" : "broker unavailable\n";
        } else if (uri_is(wsi, "/metrics")) {
            p->status = 200;
            p->body = NULL;
            metrics_render(g, &p->m);
            if (p->m.oom) return 1;
        } else {
            p->status = 404;
            p->body = "not found\n";
        }
        p->off = 0;
        if (lws_add_http_common_headers(wsi, (unsigned)p->status,
                                        p->body ? "text/plain" : METRICS_TYPE,
                                        p->body ? strlen(p->body) : p->m.len, &pos, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &pos, end) ||
            add_gateway_header(wsi, g, &pos, end) ||
            lws_finalize_write_http_header(wsi, start, &pos, end))
            return 1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        /* In chunks that fit buf, one per writable callback. */
        const char *body = p->body ? p->body : p->m.p;
        size_t total = p->body ? strlen(p->body) : p->m.len;
        size_t n = total - p->off;
        if (n > (size_t)(end - start)) n = (size_t)(end - start);
        memcpy(start, body + p->off, n);
        p->off += n;
        int last = p->off == total;
        if (lws_write(wsi, start, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
            return 1;
        if (!last) {
            lws_callback_on_writable(wsi);
            return 0;
        }
        mbuf_free(&p->m);
        if (lws_http_transaction_completed(wsi)) return -1;
        return 0;
    }
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (p) mbuf_free(&p->m);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The adopted ZeroMQ descriptor: readable means "look at the link". */
static int callback_zmq(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct gw *g = gw_of(wsi);
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        link_readable(g->link);
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* The chat protocol comes first: clients that name no subprotocol get it.
 * Its rx_buffer_size is --rx-buffer: lws 4.1 allocates that much for every
 * WebSocket connection (the frame buffer, ws->rx_ubuf) and hands payloads to
 * the callback in pieces of at most that size, which on_receive assembles. */
static struct lws_protocols protocols[] = {
    {"chat", callback_chat, sizeof(struct conn), 1024, 0, NULL, 0},
    {"chat-status", callback_http_status, sizeof(struct http_pss), 0, 0, NULL, 0},
    {"zmq-link", callback_zmq, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

const struct lws_protocols *gw_protocols_make(const struct gw_config *cfg)
{
    protocols[0].rx_buffer_size = (size_t)cfg->rx_buffer;
    return protocols;
}
