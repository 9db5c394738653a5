/* curve.c: CZMQ certificate files applied to plain libzmq sockets.
 *
 * The sockets stay libzmq's own (the broker's loop and the gateway's lws
 * adoption work on them); CZMQ only reads and writes the key files, so that
 * they are the standard zcert format any CZMQ tool understands:
 *
 *     metadata
 *         created-by = "chat-keygen"
 *     curve
 *         public-key = "<40 Z85 characters>"
 *         secret-key = "<40 Z85 characters>"      (only in the _secret file)
 */
#include "curve.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>
/* czmq.h brings <syslog.h>, whose LOG_DEBUG and LOG_INFO macros would
 * replace our log levels of the same names. */
#undef LOG_DEBUG
#undef LOG_INFO

#include "log.h"

/* CZMQ would otherwise install its own SIGINT/SIGTERM handlers the first
 * time it initialises, replacing the ones our processes stop with. */
static void quiet_czmq(void)
{
    zsys_handler_set(NULL);
}

static int all_zero(const uint8_t *key)
{
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++) acc |= key[i];
    return acc == 0;
}

/* Loads a certificate; want_secret: it must hold a secret key too. */
static zcert_t *load(const char *path, int want_secret, const char *what)
{
    quiet_czmq();
    char secret[4096];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (access(path, R_OK) < 0 && access(secret, R_OK) < 0) {
        log_error("curve_key_unreadable", "file=\"%s\" what=\"%s\" reason=\"%s\"", path, what,
                  strerror(errno));
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert || all_zero(zcert_public_key(cert)) ||
        (want_secret && all_zero(zcert_secret_key(cert)))) {
        log_error("curve_key_invalid", "file=\"%s\" what=\"%s\" reason=\"%s\"", path, what,
                  !cert || all_zero(zcert_public_key(cert))
                      ? "not a CZMQ certificate file with a public-key"
                      : "no secret-key in it: give the _secret file made by chat-keygen");
        zcert_destroy(&cert);
        return NULL;
    }
    if (want_secret) {
        struct stat st;
        const char *file = access(secret, R_OK) == 0 ? secret : path;
        if (stat(file, &st) == 0 && (st.st_mode & 007)) /* group access is common (k8s) */
            log_warn("curve_key_exposed", "file=\"%s\" mode=%03o hint=\"chmod 600\"", file,
                     (unsigned)(st.st_mode & 0777));
    }
    return cert;
}

static int set_key(void *sock, int option, const uint8_t *key, const char *name)
{
    if (zmq_setsockopt(sock, option, key, 32) == 0) return 0;
    log_error("curve_setup_failed", "option=%s reason=\"%s\"", name, zmq_strerror(errno));
    return -1;
}

static int have_curve(void)
{
    if (zmq_has("curve")) return 1;
    log_error("curve_unsupported", "reason=\"this libzmq was built without CURVE\"");
    return 0;
}

int curve_server_apply(void *sock, const char *secret_file)
{
    if (!have_curve()) return -1;
    zcert_t *cert = load(secret_file, 1, "own key pair");
    if (!cert) return -1;
    int one = 1, rc = -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0) {
        log_error("curve_setup_failed", "option=CURVE_SERVER reason=\"%s\"", zmq_strerror(errno));
        goto done;
    }
    if (set_key(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(cert), "CURVE_SECRETKEY") < 0 ||
        set_key(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(cert), "CURVE_PUBLICKEY") < 0)
        goto done;
    log_info("curve_server", "public_key=%s", zcert_public_txt(cert));
    rc = 0;
done:
    zcert_destroy(&cert);
    return rc;
}

int curve_client_apply(void *sock, const char *secret_file, const char *server_public_file)
{
    if (!have_curve()) return -1;
    zcert_t *own = load(secret_file, 1, "own key pair");
    zcert_t *server = own ? load(server_public_file, 0, "server public key") : NULL;
    int rc = -1;
    if (!server) goto done;
    if (set_key(sock, ZMQ_CURVE_SERVERKEY, zcert_public_key(server), "CURVE_SERVERKEY") < 0 ||
        set_key(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(own), "CURVE_SECRETKEY") < 0 ||
        set_key(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(own), "CURVE_PUBLICKEY") < 0)
        goto done;
    log_info("curve_client", "public_key=%s server_key=%s", zcert_public_txt(own),
             zcert_public_txt(server));
    rc = 0;
done:
    zcert_destroy(&own);
    zcert_destroy(&server);
    return rc;
}

int curve_keygen(const char *path, int force)
{
    quiet_czmq();
    if (!have_curve()) return -1;
    char secret[4096];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (!force && (access(path, F_OK) == 0 || access(secret, F_OK) == 0)) {
        log_error("keygen_exists", "file=\"%s\" hint=\"pass --force to replace it\"",
                  access(path, F_OK) == 0 ? path : secret);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        log_error("keygen_failed", "reason=\"cannot make a key pair\"");
        return -1;
    }
    zcert_set_meta(cert, "created-by", "chat-keygen");
    int rc = zcert_save(cert, path);
    if (rc < 0)
        log_error("keygen_failed", "file=\"%s\" reason=\"%s\"", path, strerror(errno));
    else
        log_info("keygen_written", "public=\"%s\" secret=\"%s\" public_key=%s", path, secret,
                 zcert_public_txt(cert));
    zcert_destroy(&cert);
    return rc < 0 ? -1 : 0;
}
