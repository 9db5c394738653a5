/* report.c: the table and the JSON (see report.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "report.h"

static void json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A ratio for JSON: null when it cannot be computed. */
static void json_num(FILE *f, double v, int valid)
{
    if (valid)
        fprintf(f, "%.4f", v);
    else
        fputs("null", f);
}

static const struct result *find(const struct result *res, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (res[i].ran && res[i].ok && !strcmp(res[i].mode->name, name)) return &res[i];
    return NULL;
}

static double tput_of(const struct result *r)
{
    return r->tput.secs > 0 ? (double)r->tput.acked / r->tput.secs : 0;
}

struct targets report_targets(const struct config *cfg, const struct result *res, size_t n)
{
    struct targets t = {0};
    const struct result *off = find(res, n, "off"), *normal = find(res, n, "normal"),
                        *full = find(res, n, "full");
    if (normal && cfg->do_tput) {
        t.have_normal = 1;
        t.normal_tput = tput_of(normal);
        t.normal_pass = t.normal_tput >= cfg->target_normal_tput;
    }
    if (full && off && cfg->do_rate && off->rate.lat.p99_ms > 0) {
        t.have_full = 1;
        t.full_p99 = full->rate.lat.p99_ms;
        t.off_p99 = off->rate.lat.p99_ms;
        t.full_p99_ratio = t.full_p99 / t.off_p99;
        t.full_pass = t.full_p99_ratio <= cfg->target_full_p99x;
    }
    return t;
}

void report_table(const struct config *cfg, const char *tmp, const struct brokerproc_fsync *fp,
                  const struct result *res, size_t n, const struct targets *t)
{
    const struct result *off = find(res, n, "off");
    char a[32], bbuf[32];
    printf("\nhistory-bench: %lld sessions, each alone in its own room (fan-out = the sender's "
           "ack only),\n  on %lld gateway(s) over %s; %lld-byte texts; throughput window %lld "
           "msgs;\n  %.1f s measured per phase after %.1f s warm-up; latency phase at %lld "
           "msg/s.\n  Databases in %s (%s); fdatasync there: p50 %.3f ms, p99 %.3f ms (%zu "
           "samples).\n\n",
           cfg->sessions, cfg->gateways, cfg->transport, cfg->text_bytes, cfg->window,
           cfg->duration_s, cfg->warmup_s, cfg->rate, tmp, brokerproc_fs_name(tmp), fp->p50_ms,
           fp->p99_ms, fp->n);
    char rate_label[32];
    snprintf(rate_label, sizeof rate_label, "at %s/s", fmt_grouped((double)cfg->rate, a, sizeof a));
    printf("%-7s | %15s | %10s | %10s | %10s | %-21s\n", "mode", "committed msg/s", "ack p50 ms",
           "ack p99 ms", "ack max ms", "ratio vs off");
    printf("%-7s | %15s | %10s | %10s | %10s | %-21s\n", "", "(full speed)", rate_label, rate_label,
           rate_label, " msg/s       p99");
    printf("--------+-----------------+------------+------------+------------+---------------"
           "-------\n");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->ran) continue;
        if (!r->ok) {
            printf("%-7s | FAILED: %s\n", r->mode->name, r->error);
            continue;
        }
        /* "-" for what was not measured (--phases, or no off to compare with) */
        char tp[32] = "-", p50[16] = "-", p99[16] = "-", max[16] = "-", rt[16] = "-", rp[16] = "-";
        if (cfg->do_tput) fmt_grouped(tput_of(r), tp, sizeof tp);
        if (cfg->do_rate) {
            snprintf(p50, sizeof p50, "%.3f", r->rate.lat.p50_ms);
            snprintf(p99, sizeof p99, "%.3f", r->rate.lat.p99_ms);
            snprintf(max, sizeof max, "%.3f", r->rate.lat.max_ms);
        }
        if (off && cfg->do_tput && tput_of(off) > 0)
            snprintf(rt, sizeof rt, "%.2fx", tput_of(r) / tput_of(off));
        if (off && cfg->do_rate && off->rate.lat.p99_ms > 0)
            snprintf(rp, sizeof rp, "%.2fx", r->rate.lat.p99_ms / off->rate.lat.p99_ms);
        printf("%-7s | %15s | %10s | %10s | %10s | %6s %9s\n", r->mode->name, tp, p50, p99, max, rt,
               rp);
    }
    printf("\ntargets:\n");
    if (t->have_normal)
        printf("  normal: committed msg/s >= %s: %s  %s\n",
               fmt_grouped(cfg->target_normal_tput, a, sizeof a),
               fmt_grouped(t->normal_tput, bbuf, sizeof bbuf), t->normal_pass ? "PASS" : "MISS");
    else
        printf("  normal: committed msg/s >= %s: not measured\n",
               fmt_grouped(cfg->target_normal_tput, a, sizeof a));
    if (t->have_full)
        printf("  full: ack p99 at %lld msg/s within %.1fx of off: %.3f ms vs %.3f ms = %.2fx  "
               "%s\n",
               cfg->rate, cfg->target_full_p99x, t->full_p99, t->off_p99, t->full_p99_ratio,
               t->full_pass ? "PASS" : "MISS");
    else
        printf("  full: ack p99 at %lld msg/s within %.1fx of off: not measured (needs off and "
               "full)\n",
               cfg->rate, cfg->target_full_p99x);

    printf("\ndetails:\n");
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->ran || !r->ok) continue;
        printf("  %s:\n", r->mode->name);
        if (cfg->do_tput)
            printf("    throughput phase: %" PRIu64 " acks in %.1f s; ack p50 %.2f ms, p99 "
                   "%.2f ms under load; %.1f acks per wake-up\n",
                   r->tput.acked, r->tput.secs, r->tput.lat.p50_ms, r->tput.lat.p99_ms,
                   r->tput.acks_per_wake);
        if (cfg->do_rate)
            printf("    latency phase: %" PRIu64 " sent (%.0f msg/s achieved), %zu acks timed, "
                   "mean %.3f ms; %.1f acks per wake-up\n",
                   r->rate.sent, (double)r->rate.sent / r->rate.secs, r->rate.lat.n,
                   r->rate.lat.mean_ms, r->rate.acks_per_wake);
        printf("    errors %" PRIu64 ", unmatched %" PRIu64 ", seq gaps %" PRIu64
               ", fan-out events %" PRIu64 "\n",
               r->errors, r->unmatched, r->seq_gaps, r->fanout);
    }
    if (!strcmp(brokerproc_fs_name(tmp), "tmpfs") || !strcmp(brokerproc_fs_name(tmp), "ramfs"))
        printf("\nwarning: %s is in memory: fsync costs nothing there; use --dir on a real disk\n",
               tmp);
}

static void print_phase_json(FILE *f, const struct phase_result *p, int rate)
{
    fprintf(f, "{\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"seconds\":%.3f,", p->sent, p->acked,
            p->secs);
    if (rate)
        fprintf(f, "\"achieved_per_s\":%.1f,", p->secs > 0 ? (double)p->sent / p->secs : 0);
    else
        fprintf(f, "\"committed_per_s\":%.1f,", p->secs > 0 ? (double)p->acked / p->secs : 0);
    fprintf(f,
            "\"ack_samples\":%zu,\"ack_p50_ms\":%.4f,\"ack_p99_ms\":%.4f,\"ack_max_ms\":%.4f,"
            "\"ack_mean_ms\":%.4f,\"acks_per_wakeup\":%.2f,\"lost\":%" PRIu64 "}",
            p->lat.n, p->lat.p50_ms, p->lat.p99_ms, p->lat.max_ms, p->lat.mean_ms, p->acks_per_wake,
            p->lost);
}

void report_json(const struct config *cfg, const char *tmp, const struct brokerproc_fsync *fp,
                 const struct result *res, size_t n, const struct targets *t, const char *verdict)
{
    FILE *f = stdout;
    const struct result *off = find(res, n, "off");
    fprintf(f, "{\"config\":{\"sessions\":%lld,\"rooms\":%lld,\"gateways\":%lld,", cfg->sessions,
            cfg->sessions, cfg->gateways);
    fprintf(f, "\"text_bytes\":%lld,\"window\":%lld,\"duration_s\":%.3f,\"warmup_s\":%.3f,",
            cfg->text_bytes, cfg->window, cfg->duration_s, cfg->warmup_s);
    fprintf(f, "\"rate\":%lld,\"transport\":", cfg->rate);
    json_str(f, cfg->transport);
    fprintf(f, ",\"dir\":");
    json_str(f, tmp);
    fprintf(f, ",\"filesystem\":");
    json_str(f, brokerproc_fs_name(tmp));
    fprintf(f, ",\"broker\":");
    json_str(f, cfg->broker);
    fprintf(f, "},\"fsync_probe\":{\"samples\":%zu,\"p50_ms\":%.4f,\"p99_ms\":%.4f},", fp->n,
            fp->p50_ms, fp->p99_ms);
    fprintf(f, "\"modes\":[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const struct result *r = &res[i];
        if (!r->ran) continue;
        fprintf(f, "%s{\"mode\":", first ? "" : ",");
        first = 0;
        json_str(f, r->mode->name);
        fprintf(f, ",\"history\":%s,\"durability\":", r->mode->durability ? "true" : "false");
        json_str(f, r->mode->durability);
        fprintf(f, ",\"ok\":%s,\"error\":", r->ok ? "true" : "false");
        json_str(f, r->ok ? NULL : r->error);
        fprintf(f, ",\"throughput\":");
        if (cfg->do_tput)
            print_phase_json(f, &r->tput, 0);
        else
            fputs("null", f);
        fprintf(f, ",\"latency\":");
        if (cfg->do_rate)
            print_phase_json(f, &r->rate, 1);
        else
            fputs("null", f);
        fprintf(f,
                ",\"errors\":%" PRIu64 ",\"unmatched\":%" PRIu64 ",\"seq_gaps\":%" PRIu64
                ",\"fanout_events\":%" PRIu64 ",\"throughput_vs_off\":",
                r->errors, r->unmatched, r->seq_gaps, r->fanout);
        int rt = off && r->ok && cfg->do_tput && tput_of(off) > 0;
        int rp = off && r->ok && cfg->do_rate && off->rate.lat.p99_ms > 0;
        json_num(f, rt ? tput_of(r) / tput_of(off) : 0, rt);
        fprintf(f, ",\"p99_vs_off\":");
        json_num(f, rp ? r->rate.lat.p99_ms / off->rate.lat.p99_ms : 0, rp);
        fprintf(f, "}");
    }
    fprintf(f,
            "],\"targets\":[{\"name\":\"normal_throughput\",\"want\":\"normal committed "
            "msg/s >= %.0f\",\"value\":",
            cfg->target_normal_tput);
    json_num(f, t->normal_tput, t->have_normal);
    fprintf(f, ",\"result\":\"%s\"},", !t->have_normal ? "n/a" : t->normal_pass ? "PASS" : "MISS");
    fprintf(f,
            "{\"name\":\"full_p99_vs_off\",\"want\":\"full ack p99 at %lld msg/s <= %.2fx off\","
            "\"value\":",
            cfg->rate, cfg->target_full_p99x);
    json_num(f, t->full_p99_ratio, t->have_full);
    fprintf(f, ",\"result\":\"%s\"}],\"result\":\"%s\"}\n",
            !t->have_full  ? "n/a"
            : t->full_pass ? "PASS"
                           : "MISS",
            verdict);
}
