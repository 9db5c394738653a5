/* http: the broker's small HTTP listener for /metrics, /healthz and /readyz.
 *
 * libmicrohttpd in its epoll mode, driven from the broker's own loop: the
 * daemon's one descriptor joins the zmq_poll set and http_run() serves what
 * is ready, on the broker thread, so the metrics read the broker's state
 * with no locks. Requests are tiny and answered at once; a slow or stuck
 * client is dropped after a few seconds and never holds the loop. */
#ifndef CHAT_BROKER_HTTP_H
#define CHAT_BROKER_HTTP_H

#include "metrics.h"

struct http;

/* What the listener asks its owner. */
struct http_handler {
    void *arg;
    void (*metrics)(void *arg, struct mbuf *out); /* the Prometheus text */
    int (*ready)(void *arg);                      /* 1: /readyz answers 200 */
};

/* Listens on bind:port (bind "" or NULL: all addresses). NULL on failure. */
struct http *http_start(const char *bind, int port, const struct http_handler *h);
void http_stop(struct http **hp);
/* The descriptor to poll for input. */
int http_fd(const struct http *h);
/* Serves whatever is ready; call when http_fd is readable and now and then. */
void http_run(struct http *h);

#endif
