/* chat-gateway: WebSocket edge of the chat cluster. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <ev.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"
#include "opts.h"

/* A gateway id goes into log lines and the X-Chat-Gateway header: 1 to 200
 * printable ASCII characters, no spaces. */
static int id_ok(const char *id)
{
    size_t n = strlen(id);
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~') return 0;
    return n >= 1 && n <= 200;
}

static struct lws_context *volatile running_ctx;
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag++; /* the first starts the drain, a second ends it */
    if (running_ctx) lws_cancel_service(running_ctx); /* async-signal-safe: writes a pipe */
}

/* Headers on every HTTP response: no inline script, nothing from elsewhere. */
static const struct lws_protocol_vhost_options hdr_nosniff = {NULL, NULL,
                                                              "x-content-type-options:", "nosniff"};
static const struct lws_protocol_vhost_options hdr_frame = {&hdr_nosniff, NULL,
                                                            "x-frame-options:", "DENY"};
static const struct lws_protocol_vhost_options hdr_csp = {
    &hdr_frame, NULL, "content-security-policy:",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"};

static const struct lws_http_mount mount_metrics = {.mountpoint = "/metrics",
                                                    .origin = "chat-status",
                                                    .origin_protocol = LWSMPRO_CALLBACK,
                                                    .mountpoint_len = 8};
static const struct lws_http_mount mount_readyz = {.mount_next = &mount_metrics,
                                                   .mountpoint = "/readyz",
                                                   .origin = "chat-status",
                                                   .origin_protocol = LWSMPRO_CALLBACK,
                                                   .mountpoint_len = 7};
static const struct lws_http_mount mount_healthz = {.mount_next = &mount_readyz,
                                                    .mountpoint = "/healthz",
                                                    .origin = "chat-status",
                                                    .origin_protocol = LWSMPRO_CALLBACK,
                                                    .mountpoint_len = 8};

/* The default of --event-loop; a value given by the user is another pointer,
 * so a missing libev plugin is an error only when ev was asked for. */
static const char event_loop_default[] = "ev";

/* One turn of the event loop: waits for something to happen and handles it.
 * libev's loop (EVRUN_ONCE) returns after one round of events, like
 * lws_service(), so the signal handler's lws_cancel_service() wakes both. */
static int service(struct gw *g, struct ev_loop *loop)
{
    if (!loop) return lws_service(g->ctx, 0);
    ev_run(loop, EVRUN_ONCE);
    return 0;
}

static void lws_log_to_ours(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    log_event(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws", "msg=\"%.*s\"", (int)n, line);
}

int main(int argc, char **argv)
{
    static struct gw g;
    char default_id[HOST_NAME_MAX + 32], host[HOST_NAME_MAX + 1] = "gateway";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(default_id, sizeof default_id, "%s-%d", host, (int)getpid());
    g.cfg = (struct gw_config){
        .port = 8080,
        .bind = "",
        .broker = "tcp://127.0.0.1:5555",
        .id = default_id,
        .web = "gateway/web",
        .max_frame = 16384,
        .max_text = 4000,
        .max_nick = 32,
        .max_room = 64,
        .max_queue = 1 << 20,
        .heartbeat_ms = 1000,
        .broker_timeout_ms = 3000,
        .hwm = 100000,
        .drain_timeout_ms = 5000,
        .rate = 20,
        .burst = 40,
        .flood_close = 100,
        .max_conns = 100000,
        .max_conns_per_ip = 0,
        .handshake_timeout_ms = 10000,
        .ping_interval_ms = 30000,
        .idle_timeout_ms = 75000,
        .auth_secret = "",
        .auth_secret_file = "",
        .allowed_origins = "",
        .tls_cert = "",
        .tls_key = "",
        .curve_secret_file = "",
        .curve_broker_public = "",
        .rx_buffer = 1024,
    };
    const char *log_level = "info", *event_loop = event_loop_default;
    const struct opt opts[] = {
        {"port", OPT_INT, &g.cfg.port, 0, 65535, "HTTP/WebSocket port (WebSocket at /ws)", NULL},
        {"bind", OPT_STR, &g.cfg.bind, 0, 0,
         "address (or interface) to listen on; empty: all addresses", NULL},
        {"broker", OPT_STR, &g.cfg.broker, 0, 0, "ZeroMQ endpoint of the broker", NULL},
        {"id", OPT_STR, &g.cfg.id, 0, 0,
         "gateway id, unique in the cluster, printable ASCII without spaces; sent as the "
         "X-Chat-Gateway header (hostname-pid)",
         NULL},
        {"web", OPT_STR, &g.cfg.web, 0, 0, "folder of static files served at /", NULL},
        /* Security (security.c, docs/auth.md). */
        {"auth-secret", OPT_SECRET, &g.cfg.auth_secret, 0, 0,
         "HS256 key, 32+ bytes: hello needs a JWT whose sub is the nick (ps shows arguments: "
         "prefer the env or the file)",
         "SECRET"},
        {"auth-secret-file", OPT_STR, &g.cfg.auth_secret_file, 0, 0,
         "file holding the HS256 secret (one final newline ignored)", "PATH"},
        {"allowed-origins", OPT_STR, &g.cfg.allowed_origins, 0, 0,
         "comma-separated origins (https://chat.example.com) whose pages may open /ws, others "
         "get 403; no Origin header (not a browser) passes; empty: any",
         "LIST"},
        {"tls-cert", OPT_STR, &g.cfg.tls_cert, 0, 0,
         "PEM certificate (chain): serve wss:// and https:// on --port (with --tls-key)", "PATH"},
        {"tls-key", OPT_STR, &g.cfg.tls_key, 0, 0, "PEM private key of --tls-cert", "PATH"},
        {"curve-secret-file", OPT_STR, &g.cfg.curve_secret_file, 0, 0,
         "own CURVE key pair (chat-keygen's _secret file) for the broker link", "PATH"},
        {"curve-broker-public", OPT_STR, &g.cfg.curve_broker_public, 0, 0,
         "the broker's CURVE public key file (with --curve-secret-file)", "PATH"},
        {"max-frame", OPT_INT, &g.cfg.max_frame, 256, 16 << 20,
         "bytes of one client message; larger closes with 1009", NULL},
        {"max-text", OPT_INT, &g.cfg.max_text, 1, 1 << 20,
         "code points of msg/dm text; more is too_large", NULL},
        {"max-nick", OPT_INT, &g.cfg.max_nick, 1, 255, "code points of a nick", NULL},
        {"max-room", OPT_INT, &g.cfg.max_room, 1, 255, "code points of a room name", NULL},
        {"max-queue", OPT_INT, &g.cfg.max_queue, 4096, 1LL << 32,
         "bytes queued to one client; more closes it with 1013", NULL},
        {"heartbeat", OPT_INT, &g.cfg.heartbeat_ms, 50, 60000, "ms between link heartbeats", NULL},
        {"broker-timeout", OPT_INT, &g.cfg.broker_timeout_ms, 200, 600000,
         "ms without a broker answer before commands get unavailable", NULL},
        {"hwm", OPT_INT, &g.cfg.hwm, 0, 100000000, "ZeroMQ high-water marks (messages)", NULL},
        {"rate", OPT_INT, &g.cfg.rate, 0, 1000000,
         "commands per second per connection (token bucket; 0: no limit); past it: rate_limited",
         NULL},
        {"burst", OPT_INT, &g.cfg.burst, 1, 1000000, "commands a connection may send at once",
         NULL},
        {"flood-close", OPT_INT, &g.cfg.flood_close, 0, 1000000,
         "rate_limited answers in a row after which the connection is closed with 1008 (0: never)",
         NULL},
        {"max-conns", OPT_INT, &g.cfg.max_conns, 0, 10000000,
         "WebSocket connections at most; more are refused (0: no limit)", NULL},
        {"max-conns-per-ip", OPT_INT, &g.cfg.max_conns_per_ip, 0, 10000000,
         "connections from one client address at most (0: no limit; behind a proxy all "
         "clients share its address)",
         NULL},
        {"handshake-timeout", OPT_INT, &g.cfg.handshake_timeout_ms, 1000, 600000,
         "ms a new connection has to finish its HTTP request or WebSocket upgrade", NULL},
        {"ping-interval", OPT_INT, &g.cfg.ping_interval_ms, 1000, 3600000,
         "ms of silence after which the gateway pings a WebSocket client", NULL},
        {"idle-timeout", OPT_INT, &g.cfg.idle_timeout_ms, 1000, 3600000,
         "ms without any traffic or pong after which a WebSocket client is closed", NULL},
        {"drain-timeout", OPT_INT, &g.cfg.drain_timeout_ms, 0, 600000,
         "ms SIGTERM waits for clients to take their 1012 close before exiting", NULL},
        {"event-loop", OPT_STR, &event_loop, 0, 0,
         "ev (libev, epoll) or poll (lws's poll(): every connection on each wake-up); "
         "the default ev falls back to poll when lws lacks libev",
         NULL},
        {"rx-buffer", OPT_INT, &g.cfg.rx_buffer, 256, 1 << 20,
         "bytes of the receive buffer lws allocates per connection; "
         "longer messages arrive in pieces (limit: --max-frame)",
         NULL},
        {"log-level", OPT_STR, &log_level, 0, 0, "debug, info, warn or error", NULL},
        {0},
    };
    const struct opts_spec spec = {"chat-gateway",
                                   "The chat gateway: WebSocket clients in, ZeroMQ to the broker.",
                                   NULL, "CHAT_"};
    int rc = opts_parse(&spec, opts, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    if (log_set_level_name(log_level) < 0) {
        fprintf(stderr, "chat-gateway: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    if (strcmp(event_loop, "ev") && strcmp(event_loop, "poll")) {
        fprintf(stderr, "chat-gateway: --event-loop must be ev or poll\n");
        return 2;
    }
    if (!id_ok(g.cfg.id)) {
        fprintf(stderr, "chat-gateway: --id must be 1 to 200 printable ASCII characters, "
                        "no spaces\n");
        return 2;
    }
    char web[PATH_MAX];
    if (!realpath(g.cfg.web, web)) {
        fprintf(stderr, "chat-gateway: --web %s: no such folder\n", g.cfg.web);
        return 2;
    }
    g.limits = (struct codec_limits)CODEC_LIMITS_DEFAULT;
    g.limits.max_text = (size_t)g.cfg.max_text;
    g.limits.max_nick = (size_t)g.cfg.max_nick;
    g.limits.max_room = (size_t)g.cfg.max_room;
    if (getrandom(&g.instance, sizeof g.instance, 0) != (ssize_t)sizeof g.instance)
        g.instance = clock_mono_us() ^ (uint64_t)getpid();
    /* Connection numbers of one instance never collide with an earlier one's. */
    g.next_conn_id = (g.instance & 0xFFFFFFFFu) << 20;
    metrics_init(&g);

    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    struct lws_http_mount mount_web = {.mount_next = &mount_healthz,
                                       .mountpoint = "/",
                                       .origin = web,
                                       .def = "index.html",
                                       .origin_protocol = LWSMPRO_FILE,
                                       .mountpoint_len = 1};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = (int)g.cfg.port;
    info.iface = g.cfg.bind[0] ? g.cfg.bind : NULL;
    info.protocols = gw_protocols_make(&g.cfg);
    info.mounts = &mount_web;
    info.headers = &hdr_csp;
    info.user = &g;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.fd_limit_per_thread = 0;
    /* A connection that does not finish its request or upgrade in time is
     * dropped (lws holds a header buffer for it until then). */
    info.timeout_secs = (unsigned)((g.cfg.handshake_timeout_ms + 999) / 1000);
    info.timeout_secs_ah_idle = info.timeout_secs;
    /* lws keeps connections alive by these: a ping after ping-interval of
     * silence, a hang-up after idle-timeout without a valid frame or pong. */
    lws_retry_bo_t idle = {
        .secs_since_valid_ping = (uint16_t)((g.cfg.ping_interval_ms + 999) / 1000),
        .secs_since_valid_hangup = (uint16_t)((g.cfg.idle_timeout_ms + 999) / 1000)};
    info.retry_and_idle_policy = &idle;
    if (security_configure(&g, &info) < 0) {
        security_release(&g);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct ev_loop *loop = NULL;
    void *foreign_loops[1];
    if (!strcmp(event_loop, "ev")) {
        if (!(loop = ev_loop_new(EVFLAG_AUTO))) {
            log_error("event_loop_failed", "loop=ev reason=\"libev cannot create a loop\"");
            return 1;
        }
        foreign_loops[0] = loop;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = foreign_loops;
    }
    g.ctx = lws_create_context(&info);
    if (!g.ctx && loop && event_loop == event_loop_default) {
        log_warn("event_loop_fallback", "loop=poll reason=\"libwebsockets has no libev support\"");
        ev_loop_destroy(loop);
        loop = NULL;
        info.options &= ~(uint64_t)LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = NULL;
        g.ctx = lws_create_context(&info);
    }
    if (!g.ctx || !(g.vhost = lws_create_vhost(g.ctx, &info))) {
        log_error("listen_failed", "port=%lld", g.cfg.port);
        if (g.ctx) lws_context_destroy(g.ctx);
        security_release(&g);
        if (loop) ev_loop_destroy(loop);
        return 1;
    }
    if (!(g.link = link_new(&g)) || link_attach(g.link) < 0) {
        lws_context_destroy(g.ctx);
        link_destroy(&g.link);
        security_release(&g);
        if (loop) ev_loop_destroy(loop);
        return 1;
    }
    running_ctx = g.ctx;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    log_info("gateway_listening", "port=%lld id=%s broker=%s web=%s event_loop=%s rx_buffer=%lld",
             g.cfg.port, g.cfg.id, g.cfg.broker, web, loop ? "ev" : "poll", g.cfg.rx_buffer);

    int failed = 0;
    while (!stop_flag)
        if (service(&g, loop) < 0) {
            failed = 1;
            break;
        }

    /* Drain: /readyz turns 503 and new WebSocket upgrades are refused; every
     * client is closed with 1012 (its session detached at the broker, so it
     * resumes on another gateway); then we wait for the closes, at most
     * --drain-timeout ms or until a second signal. */
    g.draining = 1;
    log_info("gateway_draining", "connections=%u timeout_ms=%lld", g.nconns,
             g.cfg.drain_timeout_ms);
    for (struct conn *c = g.conns; c; c = c->hh.next) conn_close(&g, c, 1012);
    uint64_t deadline = clock_mono_ms() + (uint64_t)g.cfg.drain_timeout_ms;
    while (!failed && g.nconns && stop_flag < 2 && clock_mono_ms() < deadline)
        if (service(&g, loop) < 0) break;

    log_info("gateway_stopping", "connections=%u", g.nconns);
    running_ctx = NULL;
    /* Tell the broker any connections left are gone, then close them. */
    for (struct conn *c = g.conns; c; c = c->hh.next) conn_report_closed(&g, c, 0);
    g.stopping = 1;
    lws_context_destroy(g.ctx); /* closes every connection (each tells the broker) */
    link_destroy(&g.link);
    security_release(&g);
    if (loop) ev_loop_destroy(loop);
    return failed;
}
