/* chat-broker: owns rooms, nicks, sessions and seq numbers. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "log.h"
#include "opts.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int main(int argc, char **argv)
{
    struct broker_config cfg = {
        .listen = "tcp://127.0.0.1:5555",
        .ring = 1000,
        .max_rooms = 100,
        .typing_timeout_ms = 6000,
        .dedupe = 1000,
        .gateway_timeout_ms = 3000,
        .online_interval_ms = 1000,
        .hwm = 100000,
        .who_max = 1000,
        .history = "none",
        .durability = "full",
        .retain_messages = 0,
        .retain_days = 0,
        .replay_max = 10000,
        .grace_ms = 30000,
        .http_port = 0,
        .http_bind = "",
        .nick_rate = 20,
        .nick_burst = 40,
        .curve_secret_file = "",
        .curve_clients = "",
    };
    const char *log_level = "info";
    const struct opt opts[] = {
        {"listen", OPT_STR, &cfg.listen, 0, 0, "ZeroMQ endpoint the gateways connect to", NULL},
        {"ring", OPT_INT, &cfg.ring, 0, 10000000, "messages kept in memory per room", NULL},
        {"max-rooms", OPT_INT, &cfg.max_rooms, 1, 1000000, "rooms one session may be in", NULL},
        {"typing-timeout", OPT_INT, &cfg.typing_timeout_ms, 100, 3600000,
         "ms after the last typing refresh before active:false is sent", NULL},
        {"dedupe", OPT_INT, &cfg.dedupe, 0, 100000,
         "msg/dm ids remembered per session for idempotent retries", NULL},
        {"gateway-timeout", OPT_INT, &cfg.gateway_timeout_ms, 500, 600000,
         "ms of silence after which a gateway is declared dead", NULL},
        {"online-interval", OPT_INT, &cfg.online_interval_ms, 100, 60000,
         "ms between online-count pushes", NULL},
        {"hwm", OPT_INT, &cfg.hwm, 0, 100000000,
         "ZeroMQ high-water mark, messages queued per gateway (0: none)", NULL},
        {"who-max", OPT_INT, &cfg.who_max, 1, 1000000, "names listed by a global who", NULL},
        {"history", OPT_STR, &cfg.history, 0, 0,
         "SQLite file for durable history, or none (memory only: lost on restart)", NULL},
        {"durability", OPT_STR, &cfg.durability, 0, 0,
         "full (ack after fsync) or normal (survives a process crash, not a power loss)", NULL},
        {"retain-messages", OPT_INT, &cfg.retain_messages, 0, 1LL << 40,
         "messages kept per room in SQLite (0: all)", NULL},
        {"retain-days", OPT_INT, &cfg.retain_days, 0, 100000,
         "days messages are kept in SQLite (0: forever)", NULL},
        {"replay-max", OPT_INT, &cfg.replay_max, 1, 10000000,
         "messages replayed by one join with since (the newest)", NULL},
        {"grace", OPT_INT, &cfg.grace_ms, 0, 86400000,
         "ms a dropped session stays resumable, its nick reserved (0: no resume)", NULL},
        {"nick-rate", OPT_INT, &cfg.nick_rate, 0, 1000000,
         "commands per second per nick, over all its connections and reconnects (0: no limit)",
         NULL},
        {"nick-burst", OPT_INT, &cfg.nick_burst, 1, 1000000, "commands one nick may send at once",
         NULL},
        {"http-port", OPT_INT, &cfg.http_port, 0, 65535,
         "port of /metrics, /healthz and /readyz (0: no HTTP listener)", NULL},
        {"http-bind", OPT_STR, &cfg.http_bind, 0, 0,
         "IPv4 address of the HTTP listener; empty: all addresses", NULL},
        {"curve-secret-file", OPT_STR, &cfg.curve_secret_file, 0, 0,
         "the broker's CURVE key pair (chat-keygen's _secret file): gateways must use CURVE",
         "PATH"},
        {"curve-clients", OPT_STR, &cfg.curve_clients, 0, 0,
         "folder of the gateway public keys allowed in (with --curve-secret-file)", "DIR"},
        {"log-level", OPT_STR, &log_level, 0, 0, "debug, info, warn or error", NULL},
        {0},
    };
    const struct opts_spec spec = {
        "chat-broker", "The chat broker: one process that owns all chat state.", NULL, "CHAT_"};
    int rc = opts_parse(&spec, opts, argc, argv);
    if (rc) return rc > 0 ? 0 : 2;
    if (log_set_level_name(log_level) < 0) {
        fprintf(stderr, "chat-broker: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    if (strcmp(cfg.durability, "full") && strcmp(cfg.durability, "normal")) {
        fprintf(stderr, "chat-broker: --durability must be full or normal\n");
        return 2;
    }
    if (!cfg.curve_secret_file[0] != !cfg.curve_clients[0]) {
        fprintf(stderr, "chat-broker: --curve-secret-file and --curve-clients go together "
                        "(CURVE without client keys would let any gateway in)\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ,
           SIG_IGN); /* a file-size limit fails the write (history: unavailable), not the process */

    struct broker *b = broker_new(&cfg);
    if (!b) return 1;
    rc = broker_run(b, &stop_flag);
    log_info("broker_stopping", "commands=%llu", (unsigned long long)b->commands);
    broker_destroy(&b);
    return rc < 0 ? 1 : 0;
}
