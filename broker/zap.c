/* zap.c: CZMQ's zauth as the broker's ZAP handler, and a socket monitor
 * that turns refused handshakes into log lines (zauth itself only reports
 * them in verbose mode, and never sees a peer that does not speak CURVE:
 * that handshake fails before any ZAP request). */
#include "zap.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <czmq.h>
/* czmq.h brings <syslog.h>, whose LOG_DEBUG and LOG_INFO macros would
 * replace our log levels of the same names. */
#undef LOG_DEBUG
#undef LOG_INFO

#include "log.h"

struct zap {
    zactor_t *auth;
    void *ctx;
    void *events; /* PAIR socket receiving the monitor's events */
    char endpoint[64];
};

struct zap *zap_new(const char *clients_dir)
{
    struct stat st;
    /* zauth reads "*" as "allow any key": CURVE without authentication. */
    if (!strcmp(clients_dir, CURVE_ALLOW_ANY)) {
        log_error("curve_clients_unreadable", "dir=\"*\" reason=\"must be a folder of keys\"");
        return NULL;
    }
    int found = stat(clients_dir, &st) == 0;
    if (!found || !S_ISDIR(st.st_mode)) {
        log_error("curve_clients_unreadable", "dir=\"%s\" reason=\"%s\"", clients_dir,
                  found ? "not a folder" : strerror(errno));
        return NULL;
    }
    zsys_handler_set(NULL); /* keep our SIGINT/SIGTERM handlers */
    struct zap *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    if (!(z->ctx = zsys_init())) goto fail;
    zsys_set_logstream(stderr);
    if (!(z->auth = zactor_new(zauth, NULL))) {
        log_error("zap_start_failed",
                  "reason=\"cannot start zauth (is another ZAP handler bound?)\"");
        goto fail;
    }
    if (log_enabled(LOG_DEBUG)) { /* zauth logs each allowed or denied client key */
        zstr_send(z->auth, "VERBOSE");
        zsock_wait(z->auth);
    }
    zstr_sendx(z->auth, "CURVE", clients_dir, NULL);
    zsock_wait(z->auth);
    log_info("curve_clients", "dir=\"%s\"", clients_dir);
    return z;
fail:
    zap_destroy(&z);
    return NULL;
}

void *zap_context(struct zap *z)
{
    return z->ctx;
}

int zap_watch(struct zap *z, void *sock)
{
    int linger = 0;
    snprintf(z->endpoint, sizeof z->endpoint, "inproc://chat-zap-events-%p", (void *)z);
    if (zmq_socket_monitor(sock, z->endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED) < 0 ||
        !(z->events = zmq_socket(z->ctx, ZMQ_PAIR))) {
        log_error("zap_monitor_failed", "reason=\"%s\"", zmq_strerror(errno));
        return -1;
    }
    zmq_setsockopt(z->events, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(z->events, z->endpoint) < 0) {
        log_error("zap_monitor_failed", "reason=\"%s\"", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void *zap_events(struct zap *z)
{
    return z->events;
}

static const char *protocol_reason(uint32_t code)
{
    switch (code) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return "the peer does not use CURVE";
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
    case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
        return "CURVE handshake failed: the peer has another broker public key";
    default:
        return "handshake protocol error";
    }
}

/* One event: [uint16 event, uint32 value] then the endpoint. */
static void log_event_msg(const uint8_t *head, size_t len, const char *endpoint)
{
    if (len < 6) return;
    uint16_t ev;
    uint32_t value;
    memcpy(&ev, head, sizeof ev);
    memcpy(&value, head + 2, sizeof value);
    switch (ev) {
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        log_warn("curve_auth_denied",
                 "endpoint=%s zap_status=%u reason=\"gateway public key not in --curve-clients\"",
                 endpoint, (unsigned)value);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        log_warn("curve_handshake_failed", "endpoint=%s error=0x%08x reason=\"%s\"", endpoint,
                 (unsigned)value, protocol_reason(value));
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        /* What a peer without CURVE (or with another broker key) causes:
         * it gives up on the greeting and drops the connection. */
        log_warn("curve_handshake_failed",
                 "endpoint=%s reason=\"the peer dropped the handshake (%s): a gateway without "
                 "CURVE, or with another broker public key\"",
                 endpoint, strerror((int)value));
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        log_debug("curve_handshake_ok", "endpoint=%s", endpoint);
        break;
    default:
        break;
    }
}

void zap_drain(struct zap *z)
{
    for (int i = 0; z->events && i < 256; i++) {
        zmq_msg_t head, addr;
        zmq_msg_init(&head);
        zmq_msg_init(&addr);
        int ok = zmq_msg_recv(&head, z->events, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&head) &&
                 zmq_msg_recv(&addr, z->events, 0) >= 0;
        if (ok) {
            char endpoint[256];
            size_t n =
                zmq_msg_size(&addr) < sizeof endpoint ? zmq_msg_size(&addr) : sizeof endpoint - 1;
            memcpy(endpoint, zmq_msg_data(&addr), n);
            endpoint[n] = '\0';
            log_event_msg(zmq_msg_data(&head), zmq_msg_size(&head), endpoint);
        }
        zmq_msg_close(&head);
        zmq_msg_close(&addr);
        if (!ok) return;
    }
}

void zap_destroy(struct zap **zp)
{
    struct zap *z = *zp;
    if (!z) return;
    if (z->events) zmq_close(z->events);
    zactor_destroy(&z->auth);
    free(z);
    *zp = NULL;
}
