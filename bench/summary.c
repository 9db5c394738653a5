/* summary.c: the table and the JSON (see summary.h). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "fmt.h"
#include "summary.h"

static const char *const proto_names[] = {"chat", "socketio", "plain"};

static const char *scenario(const struct cb_config *cfg)
{
    return cfg->storm ? "storm" : cfg->idle_s > 0 ? "idle" : "load";
}

/* What the printers share, worked out once. */
struct figures {
    uint64_t requested, started, ready, failed, lost, frames;
    uint64_t sent, acked, refused, expected, delivered;
    double ratio; /* delivered / expected; < 0 when nothing was expected */
    double deliveries_per_s, sent_per_s, connects_per_s;
    struct stats_summary connect, delivery, ack, lag;
    uint64_t errors_total, closes_total;
};

static uint64_t codes_total(const struct tally_codes *c)
{
    uint64_t n = c->other;
    for (size_t i = 0; i < c->n; i++) n += c->v[i].n;
    return n;
}

static struct figures figures_of(const struct cb_config *cfg, struct tally *t,
                                 const struct cb_times *tm)
{
    struct figures f = {0};
    struct tally_live *l = &t->live;
    f.requested = (uint64_t)cfg->conns;
    f.started = tally_get(&l->started);
    f.ready = tally_get(&l->ready);
    f.failed = tally_get(&l->failed);
    f.lost = tally_get(&l->lost);
    f.frames = tally_get(&l->frames);
    f.sent = tally_get(&l->sent);
    f.acked = tally_get(&l->acked);
    f.refused = tally_get(&l->refused);
    f.expected = tally_get(&l->expected);
    f.delivered = tally_get(&l->delivered);
    f.ratio = f.expected ? (double)f.delivered / (double)f.expected : -1;
    if (tm->measure_s > 0) {
        f.deliveries_per_s = (double)f.delivered / tm->measure_s;
        f.sent_per_s = (double)f.sent / tm->measure_s;
    }
    if (tm->connect_s > 0) f.connects_per_s = (double)f.ready / tm->connect_s;
    f.connect = stats_summarize(t->connect_lat.v, t->connect_lat.n);
    f.delivery = stats_summarize(t->delivery_lat.v, t->delivery_lat.n);
    f.ack = stats_summarize(t->ack_lat.v, t->ack_lat.n);
    f.lag = stats_summarize(t->send_lag.v, t->send_lag.n);
    f.errors_total = codes_total(&t->errors);
    f.closes_total = codes_total(&t->closes);
    return f;
}

static double core_percent(const struct cb_cpu *c)
{
    return c->wall_s > 0 ? (c->user_s + c->sys_s) / c->wall_s * 100 : 0;
}

/* ---------------------------------------------------------------- table */

static void print_codes(const char *label, const struct tally_codes *c)
{
    printf("%-12s", label);
    if (!c->n && !c->other) {
        printf("none\n");
        return;
    }
    for (size_t i = 0; i < c->n; i++)
        printf("%s%s: %llu", i ? ", " : "", c->v[i].code, (unsigned long long)c->v[i].n);
    if (c->other) printf("%sother: %llu", c->n ? ", " : "", (unsigned long long)c->other);
    printf("\n");
}

static void print_latency(const char *label, const struct stats_summary *s)
{
    if (!s->n) {
        printf("  %-10s %9s\n", label, "-");
        return;
    }
    printf("  %-10s %9.3f %9.3f %9.3f %9.3f %9.3f  (%zu samples)\n", label, s->p50_ms, s->p90_ms,
           s->p99_ms, s->p999_ms, s->max_ms, s->n);
}

void summary_table(const struct cb_config *cfg, struct tally *t, const struct cb_times *tm,
                   const struct cb_cpu *window, const struct cb_cpu *all, int stopped)
{
    struct figures f = figures_of(cfg, t, tm);
    char a[32], b[32], c[32];
    printf("\nchat-bench: %s, %s scenario, %s connections over %zu URL(s) (%s%s)\n",
           proto_names[cfg->proto], scenario(cfg), fmt_grouped((double)cfg->conns, a, sizeof a),
           cfg->nurls, cfg->urls[0].hostport, cfg->nurls > 1 ? ", ..." : "");
    if (!cfg->storm && cfg->idle_s <= 0)
        printf("  %lld room(s), %lld sender(s) at %g msg/s each, %lld-byte texts; %.1f s "
               "measured after %.1f s ramp + %.1f s warm-up\n",
               cfg->rooms, cfg->senders, cfg->rate, cfg->text_bytes, tm->measure_s, cfg->ramp_s,
               cfg->warmup_s);
    if (stopped) printf("  (interrupted: the figures cover what ran)\n");
    printf("\nconnect     %s ready, %s failed; %.2f s from first start to last ready: %s "
           "connects/s\n",
           fmt_grouped((double)f.ready, a, sizeof a), fmt_grouped((double)f.failed, b, sizeof b),
           tm->connect_s, fmt_grouped(f.connects_per_s, c, sizeof c));
    if (f.connect.n)
        printf("            connect+identify+join ms: p50 %.2f, p99 %.2f, max %.2f\n",
               f.connect.p50_ms, f.connect.p99_ms, f.connect.max_ms);
    if (cfg->idle_s > 0) printf("idle        held %.1f s\n", tm->idle_s);
    if (!cfg->storm && cfg->idle_s <= 0) {
        printf("sent        %s msgs (%s/s), %s %s, %llu refused; %llu not sent (sender gone), "
               "%llu not sent (writer behind)\n",
               fmt_grouped((double)f.sent, a, sizeof a), fmt_grouped(f.sent_per_s, b, sizeof b),
               fmt_grouped((double)f.acked, c, sizeof c),
               cfg->proto == WIRE_CHAT ? "acked" : "echoed", (unsigned long long)f.refused,
               (unsigned long long)t->skipped, (unsigned long long)t->overflow);
        printf("delivered   %s of %s expected: ", fmt_grouped((double)f.delivered, a, sizeof a),
               fmt_grouped((double)f.expected, b, sizeof b));
        if (f.ratio >= 0)
            printf("ratio %.4f, ", f.ratio);
        else
            printf("ratio -, ");
        printf("%s deliveries/s%s\n", fmt_grouped(f.deliveries_per_s, a, sizeof a),
               tm->drained ? "" : "  (drain timed out)");
        printf("latency ms  %9s %9s %9s %9s %9s\n", "p50", "p90", "p99", "p99.9", "max");
        print_latency("delivery", &f.delivery);
        print_latency(cfg->proto == WIRE_CHAT ? "ack" : "own echo", &f.ack);
        print_latency("send lag", &f.lag);
    }
    print_codes("errors", &t->errors);
    print_codes("closes", &t->closes);
    if (f.failed) print_codes("conn errors", &t->connect_errors);
    if (cfg->proto == WIRE_CHAT) {
        printf("reconnect   %s; %llu reconnected of %llu attempts, resumed %llu, not resumed "
               "%llu; %llu lost\n",
               cfg->reconnect ? "on" : "off", (unsigned long long)t->reconnects,
               (unsigned long long)t->reconnect_attempts, (unsigned long long)t->resumed_true,
               (unsigned long long)t->resumed_false, (unsigned long long)f.lost);
        printf("            replayed %llu, duplicates %llu (not counted), own replayed %llu, "
               "retries %llu, acks again %llu, seq resets %llu\n",
               (unsigned long long)t->replayed, (unsigned long long)t->duplicates,
               (unsigned long long)t->own_replayed, (unsigned long long)t->retries,
               (unsigned long long)t->acks_again, (unsigned long long)t->seq_resets);
        if (t->reconnect_errors.n || t->reconnect_errors.other)
            print_codes("  failed", &t->reconnect_errors);
    }
    printf("frames in   %s (presence/online %s, other %s, not understood %llu)\n",
           fmt_grouped((double)f.frames, a, sizeof a), fmt_grouped((double)t->noise, b, sizeof b),
           fmt_grouped((double)t->other, c, sizeof c), (unsigned long long)t->not_understood);
    printf("cpu         %s: user %.2f s, sys %.2f s = %.0f%% of one core; whole run %.0f%%\n",
           cfg->storm        ? "connect phase"
           : cfg->idle_s > 0 ? "whole run"
                             : "measured window",
           window->user_s, window->sys_s, core_percent(window), core_percent(all));
}

/* ---------------------------------------------------------------- JSON */

static json_t *latency_json(const struct stats_summary *s)
{
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)s->n, "p50", s->p50_ms,
                     "p90", s->p90_ms, "p99", s->p99_ms, "p999", s->p999_ms, "max", s->max_ms,
                     "mean", s->mean_ms);
}

static json_t *codes_json(const struct tally_codes *c)
{
    json_t *o = json_object();
    for (size_t i = 0; i < c->n; i++)
        json_object_set_new(o, c->v[i].code, json_integer((json_int_t)c->v[i].n));
    if (c->other) json_object_set_new(o, "other", json_integer((json_int_t)c->other));
    return o;
}

static json_t *cpu_json(const struct cb_cpu *c)
{
    return json_pack("{s:f,s:f,s:f,s:f}", "user_s", c->user_s, "sys_s", c->sys_s, "wall_s",
                     c->wall_s, "percent_of_core", core_percent(c));
}

#define I(x) ((json_int_t)(x))

void summary_json(const struct cb_config *cfg, struct tally *t, const struct cb_times *tm,
                  const struct cb_cpu *window, const struct cb_cpu *all, int stopped)
{
    struct figures f = figures_of(cfg, t, tm);
    json_t *urls = json_array();
    for (size_t i = 0; i < cfg->nurls; i++) {
        char u[800];
        snprintf(u, sizeof u, "ws://%s%s", cfg->urls[i].hostport, cfg->urls[i].path);
        json_array_append_new(urls, json_string(u));
    }
    json_t *config = json_pack(
        "{s:o,s:I,s:I,s:I,s:f,s:I,s:f,s:f,s:f,s:f,s:I,s:I,s:f,s:b}", "urls", urls, "conns",
        I(cfg->conns), "rooms", I(cfg->rooms), "senders", I(cfg->senders), "rate_per_sender",
        cfg->rate, "size", I(cfg->text_bytes), "duration_s", cfg->duration_s, "warmup_s",
        cfg->warmup_s, "ramp_s", cfg->ramp_s, "idle_s", cfg->idle_s, "threads", I(cfg->threads),
        "concurrency", I(cfg->concurrency), "connect_rate", cfg->connect_rate, "reconnect",
        cfg->reconnect && cfg->proto == WIRE_CHAT);
    json_t *connect =
        json_pack("{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:o,s:o}", "requested", I(f.requested), "started",
                  I(f.started), "ready", I(f.ready), "failed", I(f.failed), "seconds",
                  tm->connect_s, "phase_seconds", tm->connect_wall_s, "per_s", f.connects_per_s,
                  "latency_ms", latency_json(&f.connect), "errors", codes_json(&t->connect_errors));
    json_t *ratio = f.ratio >= 0 ? json_real(f.ratio) : json_null();
    json_t *messages =
        json_pack("{s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:o,s:f,s:f,s:b,s:f,s:I,s:I,s:I,s:I,s:I}",
                  "settle_s", tm->settle_s, "measured_s", tm->measure_s, "sent", I(f.sent), "acked",
                  I(f.acked), "refused", I(f.refused), "expected", I(f.expected), "delivered",
                  I(f.delivered), "delivery_ratio", ratio, "deliveries_per_s", f.deliveries_per_s,
                  "sent_per_s", f.sent_per_s, "drained", tm->drained, "drain_s", tm->drain_s,
                  "not_sent_sender_gone", I(t->skipped), "not_sent_writer_behind", I(t->overflow),
                  "sent_all", I(t->sent_all), "acked_outside_window", I(t->acked_outside),
                  "delivered_outside_window", I(t->delivered_outside));
    json_t *latency = json_pack("{s:o,s:o,s:o}", "delivery", latency_json(&f.delivery), "ack",
                                latency_json(&f.ack), "send_lag", latency_json(&f.lag));
    json_t *frames =
        json_pack("{s:I,s:I,s:I,s:I}", "received", I(f.frames), "presence_online", I(t->noise),
                  "other", I(t->other), "not_understood", I(t->not_understood));
    json_t *recovery =
        json_pack("{s:b,s:I,s:I,s:{s:I,s:I},s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "enabled",
                  cfg->reconnect && cfg->proto == WIRE_CHAT, "attempts", I(t->reconnect_attempts),
                  "reconnects", I(t->reconnects), "resumed", "true", I(t->resumed_true), "false",
                  I(t->resumed_false), "replayed", I(t->replayed), "duplicates", I(t->duplicates),
                  "own_replayed", I(t->own_replayed), "retries", I(t->retries), "acks_again",
                  I(t->acks_again), "seq_resets", I(t->seq_resets), "errors",
                  codes_json(&t->reconnect_errors));
    int complete = f.ready == f.requested && !f.lost && !stopped &&
                   (cfg->storm || cfg->idle_s > 0 || tm->drained);
    json_t *root = json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:I,s:I,s:o,s:{s:o,s:o},s:f,s:b,s:b}", "tool",
        "chat-bench", "proto", proto_names[cfg->proto], "scenario", scenario(cfg), "config", config,
        "connect", connect, "messages", messages, "latency_ms", latency, "frames", frames, "errors",
        codes_json(&t->errors), "errors_total", I(f.errors_total), "closes", codes_json(&t->closes),
        "unexpected_closes", I(f.closes_total), "lost", I(f.lost), "recovery", recovery, "cpu",
        "window", cpu_json(window), "run", cpu_json(all), "idle_s", tm->idle_s, "interrupted",
        stopped != 0, "complete", complete);
    if (!root) {
        fprintf(stderr, "chat-bench: cannot build the JSON\n");
        printf("{\"tool\":\"chat-bench\",\"error\":\"json\"}\n");
        return;
    }
    json_dumpf(root, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(root);
}
