/* curve: ZeroMQ CURVE keys between the gateways and the broker.
 *
 * Keys live in CZMQ certificate files (zcert): curve_keygen("gw1") writes
 * "gw1", the public key (give it to the other side), and "gw1_secret", the
 * key pair (keep it private, mode 0600). A file argument naming either one
 * works where a key pair is wanted: CZMQ looks for PATH_secret first. */
#ifndef CHAT_CURVE_H
#define CHAT_CURVE_H

/* Writes a new key pair to path and path_secret; refuses to replace existing
 * files unless force. Returns 0, or -1 after a log line. */
int curve_keygen(const char *path, int force);

/* Makes sock (a libzmq socket, before bind) a CURVE server with the key pair
 * in secret_file. Returns 0, or -1 after a log line. */
int curve_server_apply(void *sock, const char *secret_file);

/* Makes sock (before connect) a CURVE client with its own key pair in
 * secret_file, trusting the server whose public key is in server_public_file.
 * Returns 0, or -1 after a log line. */
int curve_client_apply(void *sock, const char *secret_file, const char *server_public_file);

#endif
