/* zap: which gateways may connect, when the broker runs CURVE.
 *
 * CURVE alone only encrypts: any client that knows the broker's public key
 * gets in. Authentication is ZAP (ZeroMQ RFC 27): libzmq asks a handler at
 * inproc://zeromq.zap.01 about every handshake. CZMQ's zauth actor is that
 * handler; it allows exactly the public keys found in a folder of key files
 * (re-read when the folder changes, so gateways can be added live). */
#ifndef CHAT_BROKER_ZAP_H
#define CHAT_BROKER_ZAP_H

struct zap;

/* Starts zauth allowing the keys in clients_dir. Returns NULL after a log line. */
struct zap *zap_new(const char *clients_dir);

/* The ZeroMQ context the guarded socket must be made in: libzmq asks the ZAP
 * handler of the socket's own context, and a context without one lets every
 * CURVE client in. Owned by CZMQ (terminated at exit). */
void *zap_context(struct zap *z);

/* Watches the handshakes of sock (made in zap_context) so that refusals are
 * logged. Returns 0 or -1. */
int zap_watch(struct zap *z, void *sock);

/* The socket to poll for handshake events (ZMQ_POLLIN). */
void *zap_events(struct zap *z);

/* Logs the handshake events that are waiting. */
void zap_drain(struct zap *z);

void zap_destroy(struct zap **zp);

#endif
