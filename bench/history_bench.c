/* history_bench.c: what durable history costs the broker.
 *
 * For each mode (history off, --durability normal, --durability full) it
 * starts a chat-broker of its own (fork/exec; an ipc:// endpoint in a
 * temporary directory, or tcp://127.0.0.1 on a free port), plays one or more
 * gateways over ZeroMQ DEALER sockets the way chat-gateway does (GatewayHello,
 * heartbeats, then Commands), identifies N sessions, puts each alone in a
 * room of its own, and measures:
 *
 *  (a) throughput: msg commands as fast as the broker acks them, with a
 *      bounded window in flight, for a fixed time: committed messages/s
 *      (acks received in the window / its length);
 *  (b) latency: msg commands at a fixed rate; each ack's latency (send ->
 *      Ack, matched through the client id) gives p50/p99/max.
 *
 * Fan-out is minimal on purpose: every session is alone in its room, so a
 * committed message produces exactly one envelope, the sender's Ack (the
 * broker sends a room event to no gateway whose only member of the room is
 * the sender). What is measured is the commit path (accept, SQLite
 * transaction on the writer thread, completion, ack), not room fan-out,
 * which is the same work in every mode. Any room event that does come back
 * is counted ("fan-out events") so a change there shows.
 *
 * Each broker is stopped with SIGTERM (and waited for) at the end of its
 * mode; its database, its log and the temporary directory are removed. The
 * whole run is bounded by --timeout.
 *
 * This file holds the options, the modes and main; load.c runs the phases
 * over fakegw.c (the gateways played over ZeroMQ), brokerproc.c starts and
 * stops the broker, stats.c sums up latencies and report.c prints the table
 * or the JSON. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "brokerproc.h"
#include "fakegw.h"
#include "history_bench.h"
#include "opts.h"
#include "load.h"
#include "report.h"
#include "signals.h"

#ifndef CHAT_BROKER_DEFAULT
#define CHAT_BROKER_DEFAULT "chat-broker"
#endif

/* ---------------------------------------------------------------- configuration */

static const char summary[] =
    "What durable history costs chat-broker: for each mode (history off, --durability\n"
    "normal, --durability full) it starts a broker of its own, acts as gateways over\n"
    "ZeroMQ, identifies sessions (each alone in its own room, so the only event per\n"
    "message is the sender's ack and the commit path is what is measured) and measures\n"
    "(a) committed msg/s with a bounded window in flight and (b) ack latency at a fixed\n"
    "rate. Prints a table with the targets (PASS/MISS), or JSON.";
static const char epilog[] =
    "Exit status: 0 every target met, 3 a target missed, 1 the run failed (a broker\n"
    "did not start or died, acks were lost, errors came back), 2 bad usage.\n"
    "The broker binary may also be given as $CHAT_BROKER_BIN.\n";

/* ---------------------------------------------------------------- modes */

static const struct mode all_modes[] = {{"off", NULL}, {"normal", "normal"}, {"full", "full"}};
#define NMODES (sizeof all_modes / sizeof all_modes[0])

/* ---------------------------------------------------------------- small helpers */

volatile sig_atomic_t history_stop;

static void on_signal(int sig)
{
    history_stop = sig == SIGALRM ? 2 : 1;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "history-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void result_error(struct result *r, const char *fmt, ...)
{
    if (r->error[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- one mode */

static void run_mode(const struct config *cfg, const char *tmp, const struct mode *m,
                     struct result *r)
{
    r->mode = m;
    r->ran = 1;
    char db[4096], logp[4096], endpoint[4200];
    snprintf(db, sizeof db, "%s/history-%s.db", tmp, m->name);
    snprintf(logp, sizeof logp, "%s/broker-%s.log", tmp, m->name);

    struct load *l = load_new(cfg, r);
    if (!l) {
        result_error(r, "out of memory");
        goto out;
    }
    int tcp = !strcmp(cfg->transport, "tcp");
    for (int attempt = 0;; attempt++) {
        if (tcp) {
            int port = brokerproc_free_tcp_port();
            if (port < 0) {
                result_error(r, "no free TCP port: %s", strerror(errno));
                goto out;
            }
            snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
        } else {
            snprintf(endpoint, sizeof endpoint, "ipc://%s/broker-%s.sock", tmp, m->name);
        }
        pid_t pid = brokerproc_start(cfg->broker, endpoint, db, m->durability, logp);
        if (pid < 0) {
            result_error(r, "cannot start %s: %s", cfg->broker, strerror(errno));
            goto out;
        }
        r->pid = pid;
        progress("[%s] broker pid %d on %s%s%s", m->name, (int)pid, endpoint,
                 m->durability ? ", history " : "", m->durability ? db : "");
        if (load_connect(l, endpoint, pid) < 0) {
            result_error(r, "ZeroMQ: %s", zmq_strerror(errno));
            goto out;
        }
        if (load_setup(l) == 0) break;
        /* A TCP port taken between our probe and the broker's bind: again. */
        if (!(tcp && load_broker(l) < 0 && attempt < 2 && !history_stop)) goto out;
        load_disconnect(l);
        r->error[0] = '\0';
    }
    progress("[%s] %zu sessions identified, each alone in its room, on %u gateway(s)", m->name,
             (size_t)cfg->sessions, (unsigned)cfg->gateways);

    if (cfg->do_tput) {
        progress("[%s] throughput: %.1f s warm-up + %.1f s, window %lld", m->name, cfg->warmup_s,
                 cfg->duration_s, cfg->window);
        if (load_run_phase(l, LOAD_THROUGHPUT, &r->tput) < 0) goto out;
        progress("[%s]   %.0f committed msg/s", m->name, (double)r->tput.acked / r->tput.secs);
    }
    if (cfg->do_rate) {
        progress("[%s] latency: %lld msg/s for %.1f s warm-up + %.1f s", m->name, cfg->rate,
                 cfg->warmup_s, cfg->duration_s);
        if (load_run_phase(l, LOAD_RATE, &r->rate) < 0) goto out;
        progress("[%s]   ack p50 %.3f ms, p99 %.3f ms, max %.3f ms", m->name, r->rate.lat.p50_ms,
                 r->rate.lat.p99_ms, r->rate.lat.max_ms);
    }
    if (r->errors)
        result_error(r, "%" PRIu64 " msgs answered with an error (first: %s)", r->errors,
                     r->first_error);
    else if (r->seq_gaps)
        result_error(r, "%" PRIu64 " acks out of seq order", r->seq_gaps);
    else
        r->ok = 1;
out:;
    pid_t pid = l ? load_broker(l) : -1;
    load_destroy(&l);
    if (pid > 0) {
        int st = 0;
        if (brokerproc_stop(pid, &st) < 0) {
            result_error(r, "the broker ignored SIGTERM for %u s: killed",
                         BROKERPROC_STOP_US / 1000000u);
            r->ok = 0;
        }
        r->exit_status = st;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            result_error(r, "the broker exited with %s %d", WIFEXITED(st) ? "status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            r->ok = 0;
        }
    }
    if (!r->ok) {
        progress("[%s] FAILED: %s", m->name, r->error[0] ? r->error : "unknown");
        if (!history_stop) brokerproc_log_tail(logp); /* the broker's side of the story */
    }
    if (!cfg->keep) {
        brokerproc_remove_db(db);
        unlink(logp);
    }
}

/* ---------------------------------------------------------------- main */

/* The chat-broker next to us: $CHAT_BROKER_BIN, else the one this build made. */
static const char *default_broker(void)
{
    const char *env = getenv("CHAT_BROKER_BIN");
    return env && *env ? env : CHAT_BROKER_DEFAULT;
}

int main(int argc, char **argv)
{
    const char *tmpenv = getenv("TMPDIR");
    struct config cfg = {
        .broker = default_broker(),
        .modes = "off,normal,full",
        .phases = "throughput,latency",
        .transport = "ipc",
        .dir = tmpenv && *tmpenv ? tmpenv : "/tmp",
        .duration_s = 5,
        .warmup_s = 1,
        .drain_s = 10,
        .timeout_s = 300,
        .rate = 5000,
        .window = 5000,
        .sessions = 100,
        .gateways = 2,
        .text_bytes = 100,
        .target_normal_tput = 50000,
        .target_full_p99x = 2,
    };
    const struct opt opts[] = {
        {"broker", OPT_STR, &cfg.broker, 0, 0, "the chat-broker to start", "PATH"},
        {"modes", OPT_STR, &cfg.modes, 0, 0, "comma-separated, of off, normal and full", "LIST"},
        {"phases", OPT_STR, &cfg.phases, 0, 0,
         "comma-separated, of throughput and latency (run in that order)", "LIST"},
        {"duration", OPT_DBL, &cfg.duration_s, 0.1, 3600, "seconds measured in each phase", "S"},
        {"warmup", OPT_DBL, &cfg.warmup_s, 0, 600, "unmeasured seconds before each phase", "S"},
        {"rate", OPT_INT, &cfg.rate, 1, 10000000, "msg/s of the latency phase", "N"},
        {"window", OPT_INT, &cfg.window, 1, 1000000, "msgs in flight at most", "N"},
        {"sessions", OPT_INT, &cfg.sessions, 1, 100000, "sessions, each alone in a room of its own",
         "N"},
        {"gateways", OPT_INT, &cfg.gateways, 1, FAKEGW_MAX_LINKS,
         "fake gateways (DEALER sockets) the sessions are spread over", "N"},
        {"text-bytes", OPT_INT, &cfg.text_bytes, 1, 4000, "bytes of each message's text", "N"},
        {"transport", OPT_STR, &cfg.transport, 0, 0,
         "ipc:// in the temporary directory, or tcp://127.0.0.1 on a free port", "ipc|tcp"},
        {"dir", OPT_STR, &cfg.dir, 0, 0,
         "where the temporary directory (databases, socket, broker logs) is made", "DIR"},
        {"drain-timeout", OPT_DBL, &cfg.drain_s, 0.1, 600,
         "seconds to wait for the last answers after a phase", "S"},
        {"timeout", OPT_DBL, &cfg.timeout_s, 1, 86400, "hard limit on the whole run", "S"},
        {"target-normal", OPT_DBL, &cfg.target_normal_tput, 0, 1e9,
         "target: committed msg/s with --durability normal at least", "N"},
        {"target-full-p99", OPT_DBL, &cfg.target_full_p99x, 0, 1e6,
         "target: full's ack p99 at --rate at most X times off's", "X"},
        {"keep", OPT_FLAG, &cfg.keep, 0, 0, "keep the temporary directory (databases, broker logs)",
         NULL},
        {"json", OPT_FLAG, &cfg.json, 0, 0, "print the results as one JSON object", NULL},
        {0},
    };
    const struct opts_spec spec = {"history-bench", summary, epilog, NULL};
    int rc = opts_parse(&spec, opts, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    if (strcmp(cfg.transport, "ipc") && strcmp(cfg.transport, "tcp")) {
        fprintf(stderr, "history-bench: --transport must be ipc or tcp\n");
        return 2;
    }
    int want[NMODES] = {0}, nwant = 0;
    {
        char list[256];
        snprintf(list, sizeof list, "%s", cfg.modes);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            size_t i;
            for (i = 0; i < NMODES; i++)
                if (!strcmp(tok, all_modes[i].name)) break;
            if (i == NMODES) {
                fprintf(stderr, "history-bench: unknown mode '%s' (off, normal, full)\n", tok);
                return 2;
            }
            nwant += !want[i];
            want[i] = 1;
        }
    }
    {
        char list[256];
        snprintf(list, sizeof list, "%s", cfg.phases);
        for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (!strcmp(tok, "throughput"))
                cfg.do_tput = 1;
            else if (!strcmp(tok, "latency"))
                cfg.do_rate = 1;
            else {
                fprintf(stderr, "history-bench: unknown phase '%s' (throughput, latency)\n", tok);
                return 2;
            }
        }
    }
    if (!nwant || !(cfg.do_tput || cfg.do_rate)) {
        fprintf(stderr, "history-bench: --modes or --phases names nothing\n");
        return 2;
    }
    if (access(cfg.broker, X_OK) < 0) {
        fprintf(stderr, "history-bench: cannot run the broker '%s' (give --broker): %s\n",
                cfg.broker, strerror(errno));
        return 2;
    }

    signals_install(on_signal);
    alarm((unsigned)cfg.timeout_s);

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/history-bench.XXXXXX", cfg.dir);
    if (!mkdtemp(tmp)) {
        fprintf(stderr, "history-bench: cannot make a directory in %s: %s\n", cfg.dir,
                strerror(errno));
        return 1;
    }
    if (!strcmp(cfg.transport, "ipc") && strlen(tmp) + 32 > 107) {
        fprintf(stderr,
                "history-bench: %s is too long for an ipc:// path; use --dir or "
                "--transport tcp\n",
                tmp);
        rmdir(tmp);
        return 2;
    }
    progress("working in %s (%s)", tmp, brokerproc_fs_name(tmp));
    struct brokerproc_fsync fp = brokerproc_probe_fsync(tmp, &history_stop);

    struct result res[NMODES];
    memset(res, 0, sizeof res);
    int failed = 0;
    for (size_t i = 0; i < NMODES; i++) {
        res[i].mode = &all_modes[i];
        if (!want[i]) continue;
        if (history_stop) {
            res[i].ran = 1;
            result_error(&res[i], history_stop == 2 ? "--timeout reached" : "interrupted");
            failed = 1;
            continue;
        }
        run_mode(&cfg, tmp, &all_modes[i], &res[i]);
        if (!res[i].ok) failed = 1;
    }
    alarm(0);

    struct targets t = report_targets(&cfg, res, NMODES);
    int missed = (t.have_normal && !t.normal_pass) || (t.have_full && !t.full_pass);
    const char *verdict = failed ? "ERROR" : missed ? "MISS" : "PASS";
    if (cfg.json)
        report_json(&cfg, tmp, &fp, res, NMODES, &t, verdict);
    else
        report_table(&cfg, tmp, &fp, res, NMODES, &t);
    fflush(stdout);
    if (cfg.keep)
        progress("kept %s", tmp);
    else
        brokerproc_remove_tree(tmp);
    return failed ? 1 : missed ? 3 : 0;
}
