/* security.c: the gateway's optional protections, each off by default.
 *
 *  --auth-secret / --auth-secret-file  hello must carry an HS256 JWT whose sub
 *      is the nick (jwt.c); checked here, at the edge, so the broker never sees
 *      an unauthenticated hello. Missing token: auth_required; any other
 *      fault: auth_failed. With auth on, `nick` is refused (auth_required):
 *      the nick is the token's.
 *  --allowed-origins  browsers from other sites may not open /ws (origins.c).
 *  --tls-cert / --tls-key  libwebsockets serves TLS on the one port, so wss://
 *      and https://; plain connections to it fail.
 *  --curve-secret-file / --curve-broker-public  checked here, applied to the
 *      broker link by link.c (common/curve.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "gateway.h"
#include "jwt.h"
#include "log.h"

/* RFC 7518 3.2: an HS256 key must be at least as long as the hash. */
#define MIN_SECRET 32
#define MAX_SECRET 65536

/* Refusals are logged at most once a second per kind: a hostile page or
 * client can cause any number of them. The line counts those left out. */
struct log_gate {
    uint64_t last_ms;
    unsigned skipped;
};
static struct log_gate auth_gate, origin_gate;

/* 1 if a line may be logged now; *skipped gets the count left out since. */
static int gate_open(struct log_gate *gt, unsigned *skipped)
{
    uint64_t now = clock_mono_ms();
    if (gt->last_ms && now - gt->last_ms < 1000) {
        gt->skipped++;
        return 0;
    }
    gt->last_ms = now;
    *skipped = gt->skipped;
    gt->skipped = 0;
    return 1;
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
    va_list ap;
    fputs("chat-gateway: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* The whole file, less one final line ending (editors add one). */
static uint8_t *read_secret_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bad("--auth-secret-file %s: %s", path, strerror(errno));
        return NULL;
    }
    uint8_t *buf = malloc(MAX_SECRET + 1);
    size_t n = buf ? fread(buf, 1, MAX_SECRET + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (!buf || err || n > MAX_SECRET) {
        bad("--auth-secret-file %s: %s", path,
            !buf  ? "out of memory"
            : err ? "read error"
                  : "larger than 64 KiB");
        free(buf);
        return NULL;
    }
    if (n && buf[n - 1] == '\n') n--;
    if (n && buf[n - 1] == '\r') n--;
    *len = n;
    return buf;
}

static int configure_auth(struct gw *g)
{
    const char *secret = g->cfg.auth_secret, *file = g->cfg.auth_secret_file;
    if (!secret[0] && !file[0]) return 0;
    if (secret[0] && file[0]) return bad("give --auth-secret or --auth-secret-file, not both");
    size_t len = strlen(secret);
    uint8_t *key = file[0] ? read_secret_file(file, &len) : malloc(len + 1);
    if (!key) return file[0] ? -1 : bad("out of memory");
    if (!file[0]) memcpy(key, secret, len);
    if (len < MIN_SECRET) {
        free(key);
        return bad("the auth secret (%s) is %zu bytes; HS256 needs at least %d (RFC 7518 3.2)",
                   file[0] ? file : "--auth-secret", len, MIN_SECRET);
    }
    g->auth_key = key;
    g->auth_key_len = len;
    return 0;
}

static int readable(const char *flag, const char *path)
{
    if (access(path, R_OK) == 0) return 0;
    return bad("%s %s: %s", flag, path, strerror(errno));
}

static int configure_tls(struct gw *g, struct lws_context_creation_info *info)
{
    const char *cert = g->cfg.tls_cert, *key = g->cfg.tls_key;
    if (!cert[0] && !key[0]) return 0;
    if (!cert[0] || !key[0]) return bad("--tls-cert and --tls-key go together");
    if (readable("--tls-cert", cert) < 0 || readable("--tls-key", key) < 0) return -1;
    info->ssl_cert_filepath = cert;
    info->ssl_private_key_filepath = key;
    info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    return 0;
}

int security_configure(struct gw *g, struct lws_context_creation_info *info)
{
    char err[320];
    if (configure_auth(g) < 0 || configure_tls(g, info) < 0) return -1;
    if (origins_parse(g->cfg.allowed_origins, &g->origins, err, sizeof err) < 0)
        return bad("--allowed-origins: %s", err);
    if (!g->cfg.curve_secret_file[0] != !g->cfg.curve_broker_public[0])
        return bad("--curve-secret-file and --curve-broker-public go together");
    log_info("gateway_security", "auth=%s origins=%s tls=%s curve=%s", g->auth_key ? "on" : "off",
             g->origins ? "list" : "any", info->ssl_cert_filepath ? "on" : "off",
             g->cfg.curve_secret_file[0] ? "on" : "off");
    return 0;
}

void security_release(struct gw *g)
{
    if (g->auth_key) {
        memset(g->auth_key, 0, g->auth_key_len);
        free(g->auth_key);
        g->auth_key = NULL;
    }
    origins_destroy(&g->origins);
}

int security_check_command(struct gw *g, struct conn *c, struct codec_cmd *cmd)
{
    if (!g->auth_key) return 0;
    if (cmd->cmd.cmd_case == CHAT__COMMAND__CMD_NICK) {
        conn_error(g, c, "auth_required",
                   "with auth on, the nick is the token's: reconnect with a token for the new nick",
                   cmd->id);
        return -1;
    }
    if (cmd->cmd.cmd_case != CHAT__COMMAND__CMD_HELLO) return 0;
    Chat__Hello *h = cmd->cmd.hello;
    enum jwt_result r = JWT_OK;
    if (cmd->token)
        r = jwt_verify(g->auth_key, g->auth_key_len, cmd->token, cmd->token_len, h->nick,
                       (int64_t)(clock_wall_ms() / 1000));
    if (!cmd->token || r != JWT_OK) {
        const char *why = cmd->token ? jwt_result_text(r) : "no token";
        unsigned skipped;
        if (gate_open(&auth_gate, &skipped))
            log_info("auth_refused", "conn=%llu nick=%s reason=\"%s\" not_logged=%u",
                     (unsigned long long)c->id, h->nick, why, skipped);
        if (cmd->token)
            conn_error(g, c, "auth_failed", why, cmd->id);
        else
            conn_error(g, c, "auth_required",
                       "this server needs \"token\" in hello: a JWT (HS256) whose sub is your nick",
                       cmd->id);
        return -1;
    }
    h->has_authenticated = 1;
    h->authenticated = 1;
    return 0;
}

int security_origin_ok(struct gw *g, struct lws *wsi)
{
    if (!g->origins) return 1;
    int len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (len <= 0) return 1; /* no Origin: not a browser, see origins.h */
    char origin[256] = "";
    int n =
        len < (int)sizeof origin ? lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) : -1;
    if (n == len && origins_allowed(g->origins, origin, (size_t)len)) return 1;
    /* Quoted in the log: keep it printable and free of quotes. */
    if (n < 0) n = 0;
    for (int i = 0; i < n; i++)
        if (origin[i] < 0x20 || origin[i] > 0x7E || origin[i] == '"' || origin[i] == '\\')
            origin[i] = '?';
    unsigned skipped;
    if (gate_open(&origin_gate, &skipped))
        log_info("origin_refused", "origin=\"%.*s\" length=%d not_logged=%u", n > 120 ? 120 : n,
                 origin, len, skipped);
    return 0;
}

int security_refuse_upgrade(struct lws *wsi)
{
    /* Written whole rather than with lws_return_http_status(), which at
     * this stage (before lws has read the request's HTTP version) answers
     * "HTTP/1.0", a status line some WebSocket clients reject as garbage. */
    static const char body[] = "origin not allowed\n";
    char buf[LWS_PRE + 256];
    int n =
        snprintf(buf + LWS_PRE, sizeof buf - LWS_PRE,
                 "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n"
                 "content-length: %zu\r\ncache-control: no-store\r\nconnection: close\r\n\r\n%s",
                 sizeof body - 1, body);
    if (lws_write(wsi, (unsigned char *)buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) != n)
        return -1;
    return 1; /* answered: lws ends the transaction */
}
