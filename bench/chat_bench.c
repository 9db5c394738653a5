/* chat_bench.c: chat-bench, the load tester of the chat cluster (and of the
 * servers it is compared with).
 *
 * It opens --conns WebSocket connections spread round robin over the --url
 * list and the --rooms, brings each to ready (chat: hello with a unique
 * nick and join; socketio: the Engine.IO and namespace handshakes; plain:
 * the upgrade), then runs one scenario:
 *
 *  load (the default): waits for the join traffic (presence events) to die
 *      down, has the first --senders connections send messages at --rate
 *      each (a --ramp, then --warmup seconds unmeasured, then --duration
 *      seconds measured), waits up to --drain-timeout for the answers, and
 *      reports deliveries/s, the delivery ratio (received / expected, where
 *      each acknowledged message of the window promises members - 1
 *      deliveries), latency percentiles of deliveries and acks, connects/s,
 *      errors and unexpected closes by code, and its own CPU use;
 *  storm (--storm, --connect-only): the connect phase alone, as fast as
 *      --concurrency (and --connect-rate) allow: completed connections/s;
 *  idle (--idle S): connects, says READY (stderr and --ready-file), holds
 *      the connections S seconds without sending, then closes them, so that
 *      a script can read the servers' memory meanwhile.
 *
 * This file reads the flags and runs the phases as the coordinator; the
 * connections live in worker threads (client.c). Every phase has a time
 * limit and the whole run an alarm, so it always ends by itself. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "chat_bench.h"
#include "client.h"
#include "opts.h"
#include "signals.h"
#include "stats.h"
#include "summary.h"

#define MAX_THREADS 64

volatile sig_atomic_t cb_stop;

static const char summary_text[] =
    "The chat cluster's load tester. Opens --conns WebSocket connections over the --url\n"
    "list, identifies and joins them to --rooms rooms (round robin), has --senders of\n"
    "them send --rate msgs/s each, and reports deliveries/s, the delivery ratio, delivery\n"
    "and ack latency percentiles, connects/s, errors and closes by code and its own CPU\n"
    "use. --proto socketio and plain drive socket.io 4 and plain broadcast servers the\n"
    "same way. --storm measures connecting alone; --idle holds idle connections.";
static const char epilog_text[] =
    "URLs: ws://HOST:PORT/PATH, repeated or comma-separated; connection i uses URL\n"
    "i mod count, room i mod --rooms, and sends when i < --senders. Defaults by proto:\n"
    "chat ws://127.0.0.1:8080/ws, socketio ws://127.0.0.1:3000 (path\n"
    "/socket.io/?EIO=4&transport=websocket added when none is given), plain\n"
    "ws://127.0.0.1:3100/. socketio and plain servers broadcast to every connection,\n"
    "so --rooms must be 1 there and all URLs must be one broadcast domain.\n"
    "Recovery (chat, on unless --no-reconnect or --reconnect 0): a ready connection\n"
    "that is closed (any code but 4001, taken over: 1012, 1001, 1008, 1013, 1006 and\n"
    "the rest) or whose reconnect fails waits 100 ms doubling to 5 s (with jitter),\n"
    "connects to the next URL, sends hello with resume (session and last seq seen)\n"
    "and, when not resumed, joins again with since; missed messages are replayed and\n"
    "counted once per (room, seq). Msgs unanswered at the loss, or answered\n"
    "unavailable (after a backoff), are sent again with the same id; acks count once.\n"
    "Exit status: 0 every connection became ready and none was lost (a connection that\n"
    "reconnected in time is not lost), 1 otherwise (the results are printed all the\n"
    "same), 2 bad usage, 3 the time bound passed.\n";

/* ---------------------------------------------------------------- signals */

static void on_signal(int sig)
{
    if (sig != SIGALRM) {
        cb_stop = 1;
        return;
    }
    if (cb_stop == 2) {
        static const char msg[] = "chat-bench: still running past the time bound; exiting\n";
        if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) _exit(3);
        _exit(3);
    }
    cb_stop = 2;
    alarm(10); /* the coordinator gets 10 s to wind down */
}

/* lws's own complaints: the first few, then only a count. */
static unsigned lws_lines;
static void lws_log(int level, const char *line)
{
    (void)level;
    if (++lws_lines <= 10) fprintf(stderr, "chat-bench: lws: %s", line);
    if (lws_lines == 10) fprintf(stderr, "chat-bench: lws: (further messages not shown)\n");
}

/* ---------------------------------------------------------------- flags */

struct flags {
    const char *url, *proto, *event_loop, *ws, *nick_prefix, *room_prefix, *ready_file;
    int storm, connect_only, no_reconnect;
    long long reconnect;
    double timeout_s;
};

static int parse_one_url(struct cb_config *cfg, const char *s, size_t len)
{
    char u[1024];
    if (cfg->nurls == CB_MAX_URLS) {
        fprintf(stderr, "chat-bench: at most %d URLs\n", CB_MAX_URLS);
        return -1;
    }
    if (len >= sizeof u || len < 6 || strncmp(s, "ws://", 5) != 0) {
        fprintf(stderr, "chat-bench: --url %.*s: want ws://HOST:PORT/PATH\n", (int)len, s);
        return -1;
    }
    memcpy(u, s + 5, len - 5);
    u[len - 5] = '\0';
    struct cb_url *out = &cfg->urls[cfg->nurls];
    char *slash = strchr(u, '/'), path[512] = "";
    if (slash) {
        snprintf(path, sizeof path, "%s", slash);
        *slash = '\0';
    }
    const char *p = path;
    char *colon = strrchr(u, ':');
    out->port = 80;
    if (colon) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535) {
            fprintf(stderr, "chat-bench: --url %.*s: bad port\n", (int)len, s);
            return -1;
        }
        out->port = (int)port;
        *colon = '\0';
    }
    if (!*u || strlen(u) >= sizeof out->host) {
        fprintf(stderr, "chat-bench: --url %.*s: bad host\n", (int)len, s);
        return -1;
    }
    snprintf(out->host, sizeof out->host, "%s", u);
    snprintf(out->hostport, sizeof out->hostport, "%s:%d", u, out->port);
    if ((!*p || !strcmp(p, "/")) && cfg->proto == WIRE_SOCKETIO)
        p = "/socket.io/?EIO=4&transport=websocket";
    snprintf(out->path, sizeof out->path, "%s", *p ? p : "/");
    cfg->nurls++;
    return 0;
}

/* Each value of --url (repeatable) is a comma-separated list. */
static int parse_urls(struct cb_config *cfg, int argc, char **argv, const char *fallback)
{
    int seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--url") && i + 1 < argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--url=", 6))
            v = argv[i] + 6;
        if (!v) continue;
        seen = 1;
        for (const char *s = v; *s;) {
            size_t n = strcspn(s, ",");
            if (n && parse_one_url(cfg, s, n) < 0) return -1;
            s += n + (s[n] == ',');
        }
    }
    if (!seen && parse_one_url(cfg, fallback, strlen(fallback)) < 0) return -1;
    if (!cfg->nurls) {
        fprintf(stderr, "chat-bench: no URL given\n");
        return -1;
    }
    return 0;
}

static int name_ok(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s))) return 0;
    return 1;
}

/* 0 to go on, 1 after --help, -1 on bad usage. */
static int parse_flags(struct cb_config *cfg, struct flags *fl, int argc, char **argv)
{
    char run[5];
    unsigned seed = (unsigned)getpid() ^ (unsigned)stats_now_us();
    for (int i = 0; i < 4; i++) run[i] = (char)('a' + (seed >> (i * 5)) % 26);
    run[4] = '\0';
    static char nick_default[24], room_default[48];
    snprintf(nick_default, sizeof nick_default, "b%s_", run);
    snprintf(room_default, sizeof room_default, "bench-%s", run);
    *fl = (struct flags){.url = "",
                         .proto = "chat",
                         .event_loop = "ev",
                         .ws = "own",
                         .nick_prefix = nick_default,
                         .room_prefix = room_default,
                         .ready_file = "",
                         .reconnect = 1};
    *cfg = (struct cb_config){.conns = 100,
                              .rooms = 1,
                              .senders = 0,
                              .text_bytes = 100,
                              .threads = 1,
                              .concurrency = 500,
                              .rate = 10,
                              .duration_s = 5,
                              .warmup_s = 1,
                              .drain_s = 5,
                              .connect_timeout_s = 30,
                              .settle_s = 10};
    const struct opt opts[] = {
        {"url", OPT_STR, &fl->url, 0, 0,
         "server URL(s), repeated or comma-separated; default by --proto", "URL"},
        {"proto", OPT_STR, &fl->proto, 0, 0, "chat, socketio or plain", "NAME"},
        {"conns", OPT_INT, &cfg->conns, 1, 1000000, "connections", "N"},
        {"rooms", OPT_INT, &cfg->rooms, 1, 1000000, "rooms (chat); connection i joins i mod R",
         "R"},
        {"senders", OPT_INT, &cfg->senders, 0, 1000000,
         "connections that send (the first N); 0: one per room", "N"},
        {"rate", OPT_DBL, &cfg->rate, 0, 100000, "messages/s each sender sends", "R"},
        {"size", OPT_INT, &cfg->text_bytes, 0, 65536,
         "bytes of each message's text (at least its t=... c=... header)", "B"},
        {"duration", OPT_DBL, &cfg->duration_s, 0.1, 86400, "seconds measured", "S"},
        {"warmup", OPT_DBL, &cfg->warmup_s, 0, 3600, "seconds sent at the rate, not measured", "S"},
        {"ramp", OPT_DBL, &cfg->ramp_s, 0, 3600,
         "seconds of rate rising from 0, before the warm-up", "S"},
        {"drain-timeout", OPT_DBL, &cfg->drain_s, 0, 3600,
         "seconds to wait for the window's answers after it", "S"},
        {"connect-timeout", OPT_DBL, &cfg->connect_timeout_s, 0.1, 3600,
         "seconds for every connection to become ready", "S"},
        {"settle", OPT_DBL, &cfg->settle_s, 0, 3600,
         "at most this many seconds waiting for the join traffic to quiet down", "S"},
        {"concurrency", OPT_INT, &cfg->concurrency, 1, 1000000,
         "connections being opened (not yet ready) at once", "N"},
        {"connect-rate", OPT_DBL, &cfg->connect_rate, 0, 1e7,
         "new connections per second at most; 0: no limit", "R"},
        {"storm", OPT_FLAG, &fl->storm, 0, 0,
         "connect storm: connect, identify, join, report per second, close", NULL},
        {"connect-only", OPT_FLAG, &fl->connect_only, 0, 0, "the same as --storm", NULL},
        {"idle", OPT_DBL, &cfg->idle_s, 0, 86400,
         "connect, then hold the connections idle this many seconds; 0: off", "S"},
        {"ready-file", OPT_STR, &fl->ready_file, 0, 0,
         "with --idle: write \"READY <n>\" here once connected", "PATH"},
        {"threads", OPT_INT, &cfg->threads, 1, MAX_THREADS,
         "worker threads, each with its own lws context", "N"},
        {"event-loop", OPT_STR, &fl->event_loop, 0, 0, "ev (libev, epoll) or poll (lws's own)",
         "NAME"},
        {"ws", OPT_STR, &fl->ws, 0, 0,
         "WebSocket framing: own (wsframe.c over lws raw sockets, cheaper) or lws", "NAME"},
        {"nick-prefix", OPT_STR, &fl->nick_prefix, 0, 0, "nick of connection i: PREFIX<i>", "P"},
        {"room-prefix", OPT_STR, &fl->room_prefix, 0, 0, "room r: PREFIX-<r>", "P"},
        {"reconnect", OPT_INT, &fl->reconnect, 0, 1,
         "chat: 1 reconnects and resumes lost connections and retries msgs answered "
         "unavailable; 0 counts a loss and goes on without the connection",
         "0|1"},
        {"no-reconnect", OPT_FLAG, &fl->no_reconnect, 0, 0, "the same as --reconnect 0", NULL},
        {"timeout", OPT_DBL, &fl->timeout_s, 0, 864000,
         "hard bound on the whole run; 0: the phases' limits plus 60 s", "S"},
        {"json", OPT_FLAG, &cfg->json, 0, 0, "print the results as one JSON object on stdout",
         NULL},
        {0},
    };
    const struct opts_spec spec = {"chat-bench", summary_text, epilog_text, NULL};
    int rc = opts_parse(&spec, opts, argc, argv);
    if (rc) return rc > 0 ? 1 : -1;

    if (!strcmp(fl->proto, "chat"))
        cfg->proto = WIRE_CHAT;
    else if (!strcmp(fl->proto, "socketio"))
        cfg->proto = WIRE_SOCKETIO;
    else if (!strcmp(fl->proto, "plain"))
        cfg->proto = WIRE_PLAIN;
    else {
        fprintf(stderr, "chat-bench: --proto must be chat, socketio or plain\n");
        return -1;
    }
    static const char *const fallback[] = {"ws://127.0.0.1:8080/ws", "ws://127.0.0.1:3000",
                                           "ws://127.0.0.1:3100/"};
    if (parse_urls(cfg, argc, argv, fallback[cfg->proto]) < 0) return -1;
    if (strcmp(fl->event_loop, "ev") && strcmp(fl->event_loop, "poll")) {
        fprintf(stderr, "chat-bench: --event-loop must be ev or poll\n");
        return -1;
    }
    if (strcmp(fl->ws, "own") && strcmp(fl->ws, "lws")) {
        fprintf(stderr, "chat-bench: --ws must be own or lws\n");
        return -1;
    }
    cfg->use_ev = !strcmp(fl->event_loop, "ev");
    cfg->own_ws = !strcmp(fl->ws, "own");
    cfg->storm = fl->storm || fl->connect_only;
    cfg->reconnect = fl->reconnect && !fl->no_reconnect;
    if (cfg->storm && cfg->idle_s > 0) {
        fprintf(stderr, "chat-bench: --storm and --idle are two scenarios; pick one\n");
        return -1;
    }
    if (cfg->proto != WIRE_CHAT && cfg->rooms != 1) {
        fprintf(stderr, "chat-bench: --proto %s broadcasts to everyone: --rooms must be 1\n",
                fl->proto);
        return -1;
    }
    if (cfg->rooms > cfg->conns) {
        fprintf(stderr, "chat-bench: --rooms %lld is more than --conns %lld\n", cfg->rooms,
                cfg->conns);
        return -1;
    }
    if (!cfg->senders) cfg->senders = cfg->rooms;
    if (cfg->senders > cfg->conns) {
        fprintf(stderr, "chat-bench: --senders %lld is more than --conns %lld\n", cfg->senders,
                cfg->conns);
        return -1;
    }
    if (cfg->threads > cfg->conns) cfg->threads = cfg->conns;
    if (strlen(fl->nick_prefix) > 20 ||
        !name_ok(fl->nick_prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_.-")) {
        fprintf(stderr, "chat-bench: --nick-prefix: at most 20 of [A-Za-z0-9_.-]\n");
        return -1;
    }
    if (strlen(fl->room_prefix) > 40 || !*fl->room_prefix || !name_ok(fl->room_prefix, "_.#-")) {
        fprintf(stderr, "chat-bench: --room-prefix: 1 to 40 of [a-z0-9_.#-]\n");
        return -1;
    }
    snprintf(cfg->nick_prefix, sizeof cfg->nick_prefix, "%s", fl->nick_prefix);
    snprintf(cfg->room_prefix, sizeof cfg->room_prefix, "%s", fl->room_prefix);
    cfg->ready_file = *fl->ready_file ? fl->ready_file : NULL;
    return 0;
}

/* Room for every connection and a margin: raises the soft limit, and the
 * hard one too when allowed (root). */
static void raise_nofile(uint64_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want) return;
    if (rl.rlim_max < want) {
        struct rlimit up = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) return;
        fprintf(stderr,
                "chat-bench: open files limited to %llu (want %llu): some connections will "
                "fail\n",
                (unsigned long long)rl.rlim_max, (unsigned long long)want);
    }
    rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* ---------------------------------------------------------------- the coordinator */

struct run {
    struct cb_config cfg;
    struct cb_shared sh;
    struct client *workers[MAX_THREADS];
    unsigned nworkers;
    struct cb_times times;
    struct cb_cpu cpu_window, cpu_all;
};

static uint64_t sum_live(struct run *r, size_t off)
{
    uint64_t s = 0;
    for (unsigned w = 0; w < r->nworkers; w++)
        s += tally_get((_Atomic uint64_t *)((char *)&client_tally(r->workers[w])->live + off));
    return s;
}
#define LIVE(r, field) sum_live(r, offsetof(struct tally_live, field))

static void sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* Sleeps until the monotonic time `until`, or until interrupted. */
static void wait_until(uint64_t until)
{
    for (uint64_t now; !cb_stop && (now = stats_now_us()) < until;)
        sleep_us(until - now < 50000 ? until - now : 50000);
}

static struct cb_cpu cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (struct cb_cpu){(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
                           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
                           (double)stats_now_us() / 1e6};
}

static struct cb_cpu cpu_since(struct cb_cpu a)
{
    struct cb_cpu b = cpu_now();
    return (struct cb_cpu){b.user_s - a.user_s, b.sys_s - a.sys_s, b.wall_s - a.wall_s};
}

static void set_phase(struct run *r, enum cb_phase p)
{
    atomic_store_explicit(&r->sh.phase, (int)p, memory_order_release);
}

static void phase_connect(struct run *r)
{
    uint64_t t0 = stats_now_us(), deadline = t0 + (uint64_t)(r->cfg.connect_timeout_s * 1e6);
    fprintf(stderr, "chat-bench: opening %lld connections to %s%s...\n", r->cfg.conns,
            r->cfg.urls[0].hostport, r->cfg.nurls > 1 ? " and others" : "");
    while (!cb_stop && stats_now_us() < deadline &&
           LIVE(r, ready) + LIVE(r, failed) < (uint64_t)r->cfg.conns)
        sleep_us(2000);
    uint64_t first = LIVE(r, first_start_us), last = 0;
    for (unsigned w = 0; w < r->nworkers; w++) {
        uint64_t l = tally_get(&client_tally(r->workers[w])->live.last_ready_us);
        if (l > last) last = l;
    }
    r->times.connect_s = last > first && first ? (double)(last - first) / 1e6 : 0;
    r->times.connect_wall_s = (double)(stats_now_us() - t0) / 1e6;
    fprintf(stderr, "chat-bench: %llu ready, %llu failed in %.2f s\n",
            (unsigned long long)LIVE(r, ready), (unsigned long long)LIVE(r, failed),
            r->times.connect_wall_s);
}

static void phase_idle(struct run *r)
{
    unsigned long long ready = LIVE(r, ready);
    fprintf(stderr, "READY %llu\n", ready);
    if (r->cfg.ready_file) {
        FILE *f = fopen(r->cfg.ready_file, "w");
        if (f) {
            fprintf(f, "READY %llu\n", ready);
            fclose(f);
        } else {
            fprintf(stderr, "chat-bench: --ready-file %s: %s\n", r->cfg.ready_file,
                    strerror(errno));
        }
    }
    uint64_t t0 = stats_now_us();
    wait_until(t0 + (uint64_t)(r->cfg.idle_s * 1e6));
    r->times.idle_s = (double)(stats_now_us() - t0) / 1e6;
}

/* Waits for the frames that joining caused (presence to every member) to
 * stop: two 200 ms spells in a row with few frames. */
static void phase_settle(struct run *r)
{
    uint64_t t0 = stats_now_us(), deadline = t0 + (uint64_t)(r->cfg.settle_s * 1e6);
    uint64_t quiet_limit = (uint64_t)r->cfg.conns / 50 + 20, last = LIVE(r, frames);
    int quiet = 0;
    while (!cb_stop && quiet < 2 && stats_now_us() < deadline) {
        sleep_us(200000);
        uint64_t now = LIVE(r, frames);
        quiet = now - last < quiet_limit ? quiet + 1 : 0;
        last = now;
    }
    r->times.settle_s = (double)(stats_now_us() - t0) / 1e6;
}

static void phase_send(struct run *r)
{
    struct cb_shared *sh = &r->sh;
    sh->send_t0 = stats_now_us() + 2000;
    sh->ramp_us = (uint64_t)(r->cfg.ramp_s * 1e6);
    sh->measure_start = sh->send_t0 + sh->ramp_us + (uint64_t)(r->cfg.warmup_s * 1e6);
    atomic_store_explicit(&sh->measure_end, sh->measure_start + (uint64_t)(r->cfg.duration_s * 1e6),
                          memory_order_relaxed);
    set_phase(r, CB_SEND);
    fprintf(stderr,
            "chat-bench: sending: %lld sender(s) at %g msg/s for %.1f s (+%.1f s warm-up)\n",
            r->cfg.senders, r->cfg.rate, r->cfg.duration_s, r->cfg.warmup_s + r->cfg.ramp_s);
    wait_until(sh->measure_start);
    struct cb_cpu c0 = cpu_now();
    wait_until(atomic_load(&sh->measure_end));
    uint64_t now = stats_now_us();
    if (now < atomic_load(&sh->measure_end)) atomic_store(&sh->measure_end, now); /* interrupted */
    if (now < sh->measure_start) atomic_store(&sh->measure_end, sh->measure_start);
    r->cpu_window = cpu_since(c0);
    r->times.measure_s = (double)(atomic_load(&sh->measure_end) - sh->measure_start) / 1e6;
}

static void phase_drain(struct run *r)
{
    set_phase(r, CB_DRAIN);
    uint64_t t0 = stats_now_us(), deadline = t0 + (uint64_t)(r->cfg.drain_s * 1e6);
    /* A bound on sends: a stopped run must not wait for the window's end. */
    r->times.drained = 0;
    for (;;) {
        uint64_t sent = LIVE(r, sent), answered = LIVE(r, acked) + LIVE(r, refused);
        if (answered >= sent && LIVE(r, delivered) >= LIVE(r, expected)) {
            r->times.drained = 1;
            break;
        }
        if (cb_stop || stats_now_us() >= deadline) break;
        sleep_us(5000);
    }
    r->times.drain_s = (double)(stats_now_us() - t0) / 1e6;
}

static double time_bound(const struct cb_config *c)
{
    return c->connect_timeout_s + c->settle_s + c->idle_s + c->ramp_s + c->warmup_s +
           c->duration_s + c->drain_s + 60;
}

static int run_all(struct run *r)
{
    struct cb_config *cfg = &r->cfg;
    size_t nm = cfg->proto == WIRE_CHAT ? (size_t)cfg->rooms : 1;
    if (!(r->sh.members = calloc(nm, sizeof *r->sh.members))) return -1;
    r->sh.nmembers = nm;
    r->nworkers = (unsigned)cfg->threads;
    for (unsigned w = 0; w < r->nworkers; w++)
        if (!(r->workers[w] = client_new(cfg, &r->sh, w, r->nworkers))) return -1;
    struct cb_cpu all0 = cpu_now();
    for (unsigned w = 0; w < r->nworkers; w++)
        if (client_start(r->workers[w]) < 0) return -1;
    phase_connect(r);
    if (cfg->storm) {
        r->cpu_window = cpu_since(all0);
    } else if (cfg->idle_s > 0) {
        set_phase(r, CB_HOLD);
        phase_idle(r);
    } else if (!cb_stop && LIVE(r, ready) > 0) {
        set_phase(r, CB_HOLD);
        phase_settle(r);
        if (!cb_stop) {
            phase_send(r);
            phase_drain(r);
        }
    }
    set_phase(r, CB_CLOSE);
    for (unsigned w = 0; w < r->nworkers; w++) client_join(r->workers[w]);
    r->cpu_all = cpu_since(all0);
    return 0;
}

int main(int argc, char **argv)
{
    static struct run r;
    struct flags fl;
    int rc = parse_flags(&r.cfg, &fl, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    signals_install(on_signal);
    raise_nofile((uint64_t)r.cfg.conns + 256);
    double bound = fl.timeout_s > 0 ? fl.timeout_s : time_bound(&r.cfg);
    alarm((unsigned)ceil(bound));
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);

    int status = 0;
    if (run_all(&r) < 0) {
        status = 1;
        fprintf(stderr, "chat-bench: the run could not start\n");
    }
    alarm(0);
    struct tally total = {0};
    for (unsigned w = 0; w < r.nworkers; w++)
        if (r.workers[w]) tally_merge(&total, client_tally(r.workers[w]));
    if (status == 0) {
        if (r.cfg.json)
            summary_json(&r.cfg, &total, &r.times, &r.cpu_window, &r.cpu_all, cb_stop);
        else
            summary_table(&r.cfg, &total, &r.times, &r.cpu_window, &r.cpu_all, cb_stop);
        if (tally_get(&total.live.ready) < (uint64_t)r.cfg.conns || tally_get(&total.live.lost))
            status = 1;
        if (cb_stop == 2) status = 3;
    }
    for (unsigned w = 0; w < r.nworkers; w++) client_destroy(&r.workers[w]);
    tally_free(&total);
    free(r.sh.members);
    return status;
}
