/* metrics.c: the broker's /metrics text and /readyz answer.
 *
 * Called on the broker thread by the HTTP listener (http.c), so it reads the
 * state directly. Names and meanings are listed in docs/operations.md. */
#include <stdio.h>

#include "broker.h"
#include "store.h"

#define RATE_WINDOW_MS 5000

void broker_metrics_tick(struct broker *b)
{
    struct broker_stats *st = &b->stats;
    uint64_t now = b->mono_ms();
    if (now < st->next_rate_ms) return;
    if (st->rate_base_ms && now > st->rate_base_ms)
        st->rate =
            (double)(st->messages - st->rate_base) * 1000.0 / (double)(now - st->rate_base_ms);
    st->rate_base = st->messages;
    st->rate_base_ms = now;
    st->next_rate_ms = now + RATE_WINDOW_MS;
}

int broker_ready(void *arg)
{
    struct broker *b = arg;
    return !b->store_failed; /* listening, and history (if on) takes writes */
}

void broker_metrics(void *arg, struct mbuf *m)
{
    struct broker *b = arg;
    const struct broker_stats *st = &b->stats;
    unsigned live = HASH_CNT(hh_conn, b->by_conn), rooms = HASH_COUNT(b->rooms.by_name);
    metric_one(m, "chat_broker_sessions", "gauge", "Sessions with a live connection.",
               (double)live);
    metric_one(m, "chat_broker_sessions_detached", "gauge",
               "Sessions waiting for a resume within --grace.", (double)b->grace.count);
    metric_one(m, "chat_broker_online", "gauge", "The online count pushed to clients.",
               (double)b->online);
    metric_one(m, "chat_broker_rooms", "gauge", "Rooms known (with members or history).",
               (double)rooms);
    metric_one(m, "chat_broker_gateways", "gauge", "Gateways connected.",
               (double)HASH_COUNT(b->gateways));
    metric_one(m, "chat_broker_gateways_lost_total", "counter",
               "Gateways declared dead after --gateway-timeout without a heartbeat.",
               (double)st->gateways_lost);
    metric_head(m, "chat_broker_commands_total", "counter", "Commands handled, by type.");
    for (unsigned i = 1; i < BROKER_NCMDS; i++) {
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(&chat__command__descriptor, i);
        if (!f) continue;
        char label[64];
        snprintf(label, sizeof label, "type=\"%s\"", f->name);
        metric_u64(m, "chat_broker_commands_total", label, st->commands[i]);
    }
    metric_one(m, "chat_broker_messages_total", "counter",
               "Room messages accepted (committed when history is on).", (double)st->messages);
    metric_one(m, "chat_broker_messages_per_second", "gauge",
               "Room messages accepted per second, over the last 5 s.", st->rate);
    metric_one(m, "chat_broker_dms_total", "counter", "Private messages delivered.",
               (double)st->dms);
    metric_errors(m, "chat_broker_errors_total", "Error events sent to clients, by code.",
                  st->errors);
    metric_one(m, "chat_broker_rate_limited_total", "counter",
               "Commands refused by a nick's bucket (--nick-rate, --nick-burst).",
               (double)st->rate_limited);
    metric_one(m, "chat_broker_rate_buckets", "gauge", "Nicks with a partly used rate bucket.",
               (double)nickrate_count(&b->nickrate));
    metric_one(m, "chat_broker_hwm_hits_total", "counter",
               "Sends to gateways refused by ZeroMQ (high-water mark or gateway gone); each is "
               "logged (at most once a second per gateway).",
               (double)b->send_drops);
    metric_one(m, "chat_broker_history_enabled", "gauge", "1 when SQLite history is on.",
               b->store ? 1 : 0);
    if (b->store) {
        struct store_stats ss;
        store_get_stats(b->store, &ss);
        metric_one(m, "chat_broker_persist_committed_total", "counter",
                   "Messages committed to SQLite.", (double)ss.committed);
        metric_one(m, "chat_broker_persist_failed_total", "counter",
                   "Messages whose commit failed (answered unavailable).", (double)ss.failed);
        metric_one(m, "chat_broker_persist_pending", "gauge",
                   "Messages and barriers waiting for the writer thread.", (double)b->pending);
        metric_histo(m, "chat_broker_persist_batch_size", "Messages per SQLite transaction.",
                     &ss.batch_size);
        metric_histo(m, "chat_broker_persist_commit_seconds",
                     "Time to commit one SQLite transaction.", &ss.commit_seconds);
    }
    metric_process(m);
}
