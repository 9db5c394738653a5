/* metrics.c: the gateway's counters and their Prometheus text at /metrics.
 *
 * Counters are plain integers bumped on the one loop thread; a scrape walks
 * them (and the connections, for the gauges) and writes the text format.
 * Names and meanings are listed in docs/operations.md. */
#include <string.h>

#include "gateway.h"

/* JSON "type" of each frame kind (Chat__Event ev_case) and command. */
static const char *const out_names[GW_NKINDS] = {
    [FRAME_KIND_PONG] = "pong",
    [CHAT__EVENT__EV_WELCOME] = "welcome",
    [CHAT__EVENT__EV_JOINED] = "joined",
    [CHAT__EVENT__EV_LEFT] = "left",
    [CHAT__EVENT__EV_ACK] = "ack",
    [CHAT__EVENT__EV_MSG] = "msg",
    [CHAT__EVENT__EV_DM] = "dm",
    [CHAT__EVENT__EV_PRESENCE] = "presence",
    [CHAT__EVENT__EV_TYPING] = "typing",
    [CHAT__EVENT__EV_NICK] = "nick",
    [CHAT__EVENT__EV_WHO_ROOM] = "who",
    [CHAT__EVENT__EV_WHO_ALL] = "who",
    [CHAT__EVENT__EV_HISTORY] = "history",
    [CHAT__EVENT__EV_ONLINE] = "online",
    [CHAT__EVENT__EV_ERROR] = "error",
};
static const char *const in_names[GW_NKINDS] = {
    [GW_KIND_INVALID] = "invalid",
    [GW_KIND_PING] = "ping",
    [CHAT__COMMAND__CMD_HELLO] = "hello",
    [CHAT__COMMAND__CMD_JOIN] = "join",
    [CHAT__COMMAND__CMD_LEAVE] = "leave",
    [CHAT__COMMAND__CMD_MSG] = "msg",
    [CHAT__COMMAND__CMD_DM] = "dm",
    [CHAT__COMMAND__CMD_TYPING] = "typing",
    [CHAT__COMMAND__CMD_NICK] = "nick",
    [CHAT__COMMAND__CMD_WHO] = "who",
    [CHAT__COMMAND__CMD_HISTORY] = "history",
};
static const uint16_t close_codes[GW_NCLOSES] = {1008, 1009, 1011, 1012, 1013, 4001, 1000, 0};

static const double rtt_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5};

void metrics_init(struct gw *g)
{
    histo_init(&g->stats.rtt, rtt_le, sizeof rtt_le / sizeof rtt_le[0]);
}

void metrics_error(struct gw *g, const char *code)
{
    g->stats.errors[chat_error_index(code)]++;
}

void metrics_close(struct gw *g, uint16_t code)
{
    unsigned i = 0;
    while (i < GW_NCLOSES - 1 && close_codes[i] != code) i++;
    g->stats.closes[i]++;
}

/* One labelled counter family over a name table; entries sharing a name
 * (who_room and who_all are both "who") are summed. */
static void by_type(struct mbuf *b, const char *name, const char *help,
                    const char *const names[GW_NKINDS], const uint64_t v[GW_NKINDS])
{
    metric_head(b, name, "counter", help);
    for (unsigned i = 0; i < GW_NKINDS; i++) {
        if (!names[i]) continue;
        unsigned first = 0;
        while (!names[first] || strcmp(names[first], names[i])) first++;
        if (first != i) continue;
        uint64_t sum = 0;
        for (unsigned j = i; j < GW_NKINDS; j++)
            if (names[j] && !strcmp(names[j], names[i])) sum += v[j];
        char label[64];
        snprintf(label, sizeof label, "type=\"%s\"", names[i]);
        metric_u64(b, name, label, sum);
    }
}

void metrics_render(struct gw *g, struct mbuf *b)
{
    const struct gw_stats *s = &g->stats;
    unsigned identified = 0;
    size_t queued = 0;
    for (struct conn *c = g->conns; c; c = c->hh.next) {
        identified += c->state == CONN_IDENTIFIED;
        queued += c->qbytes;
    }
    metric_one(b, "chat_gateway_connections", "gauge", "Open WebSocket connections.",
               (double)g->nconns);
    metric_one(b, "chat_gateway_identified_connections", "gauge",
               "Open connections with an identified session.", (double)identified);
    metric_one(b, "chat_gateway_connections_opened_total", "counter",
               "WebSocket connections accepted.", (double)s->opened);
    by_type(b, "chat_gateway_frames_in_total", "Client messages received, by command type.",
            in_names, s->frames_in);
    by_type(b, "chat_gateway_frames_out_total", "Frames written to clients, by type.", out_names,
            s->frames_out);
    metric_one(b, "chat_gateway_bytes_in_total", "counter",
               "WebSocket payload bytes received from clients.", (double)s->bytes_in);
    metric_one(b, "chat_gateway_bytes_out_total", "counter",
               "WebSocket payload bytes written to clients.", (double)s->bytes_out);
    metric_errors(b, "chat_gateway_errors_total", "Error frames sent to clients, by code.",
                  s->errors);
    static const char *const close_names[GW_NCLOSES] = {"1008", "1009", "1011", "1012",
                                                        "1013", "4001", "1000", "other"};
    metric_family(b, "chat_gateway_closes_total",
                  "Connections the gateway closed, by WebSocket close code.", "code", close_names,
                  s->closes, GW_NCLOSES);
    metric_one(b, "chat_gateway_slow_reader_closes_total", "counter",
               "Connections closed with 1013 because their queue passed --max-queue.",
               (double)s->slow_closes);
    metric_one(b, "chat_gateway_rate_limited_total", "counter",
               "Commands refused by the per-connection token bucket (--rate, --burst).",
               (double)s->rate_limited);
    static const char *const why[] = {"draining", "max_conns", "max_conns_per_ip"};
    metric_family(b, "chat_gateway_refused_connections_total",
                  "WebSocket upgrades refused, by reason.", "reason", why, s->refused_conns, 3);
    metric_one(b, "chat_gateway_queued_bytes", "gauge",
               "Bytes waiting in the output queues of all connections.", (double)queued);
    metric_one(b, "chat_gateway_unavailable_total", "counter",
               "Commands answered unavailable because the broker could not take them.",
               (double)s->refused);
    metric_one(b, "chat_gateway_hwm_hits_total", "counter",
               "Sends to the broker refused by ZeroMQ (no connection or high-water mark).",
               (double)s->link_refused);
    metric_one(b, "chat_gateway_broker_up", "gauge",
               "1 while the broker answers heartbeats (what /readyz reports).",
               (double)link_up(g->link));
    metric_one(b, "chat_gateway_broker_resets_total", "counter",
               "Times a broker restart or reset made clients identify again (1012).",
               (double)s->broker_resets);
    metric_histo(b, "chat_gateway_broker_rtt_seconds",
                 "Round-trip time of link heartbeats to the broker.", &s->rtt);
    metric_process(b);
}
