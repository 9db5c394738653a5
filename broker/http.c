/* http: /metrics, /healthz and /readyz of the broker (see http.h). */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct http {
    struct MHD_Daemon *d;
    struct http_handler h;
    int fd;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    (void)version;
    (void)upload_data;
    (void)state;
    struct http *h = cls;
    if (*upload_data_size) { /* no request bodies here: ignore any */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return answer(conn, 405, "text/plain", "method not allowed\n", 19);
    if (!strcmp(url, "/healthz")) return answer(conn, 200, "text/plain", "ok\n", 3);
    if (!strcmp(url, "/readyz")) {
        int ready = h->h.ready(h->h.arg);
        return ready ? answer(conn, 200, "text/plain", "ready\n", 6)
                     : answer(conn, 503, "text/plain", "not ready\n", 10);
    }
    if (!strcmp(url, "/metrics")) {
        struct mbuf m = {0};
        h->h.metrics(h->h.arg, &m);
        enum MHD_Result rc =
            m.oom ? answer(conn, 500, "text/plain", "out of memory\n", 14)
                  : answer(conn, 200, "text/plain; version=0.0.4; charset=utf-8", m.p, m.len);
        mbuf_free(&m);
        return rc;
    }
    return answer(conn, 404, "text/plain", "not found\n", 10);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    log_warn("http", "msg=\"%s\"", line);
}

struct http *http_start(const char *bind, int port, const struct http_handler *handler)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind && bind[0] && inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
        log_error("http_bad_bind", "bind=%s reason=\"not an IPv4 address\"", bind);
        return NULL;
    }
    struct http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->h = *handler;
    h->d = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_TIMEOUT, 5u, MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!info) {
        log_error("http_listen_failed", "bind=%s port=%d", bind && bind[0] ? bind : "0.0.0.0",
                  port);
        http_stop(&h);
        return NULL;
    }
    h->fd = info->epoll_fd;
    log_info("http_listening", "bind=%s port=%d paths=/metrics,/healthz,/readyz",
             bind && bind[0] ? bind : "0.0.0.0", port);
    return h;
}

void http_stop(struct http **hp)
{
    struct http *h = *hp;
    if (!h) return;
    if (h->d) MHD_stop_daemon(h->d);
    free(h);
    *hp = NULL;
}

int http_fd(const struct http *h)
{
    return h->fd;
}

void http_run(struct http *h)
{
    MHD_run(h->d);
}
