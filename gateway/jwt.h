/* jwt: the HS256 JSON Web Tokens (RFC 7519) that clients present in hello.
 *
 * Only what PROTOCOL.md's Auth rules ask for: compact JWS, alg HS256 with the
 * gateway's shared secret, `sub` equal to the nick (case-insensitively), `exp`
 * required, `nbf` checked when present, both with JWT_LEEWAY_S of leeway. */
#ifndef CHAT_GW_JWT_H
#define CHAT_GW_JWT_H

#include <stddef.h>
#include <stdint.h>

/* Clock skew tolerated between the token issuer and the gateway. */
#define JWT_LEEWAY_S 30
/* Longer tokens are refused unread (a real one is a few hundred bytes). */
#define JWT_MAX_LEN 8192

enum jwt_result {
    JWT_OK = 0,
    JWT_MALFORMED,     /* not three base64url parts of JSON objects, or too long */
    JWT_ALG,           /* header alg is not HS256 ("none" included), or has crit */
    JWT_SIGNATURE,     /* the HMAC does not match */
    JWT_CLAIMS,        /* sub or exp missing, or a claim of the wrong JSON type */
    JWT_SUBJECT,       /* sub is another nick */
    JWT_EXPIRED,       /* now >= exp + leeway */
    JWT_NOT_YET_VALID, /* now + leeway < nbf */
};

/* Verifies token (len bytes, need not be NUL-terminated) for nick at now
 * (Unix seconds), against the secret key of keylen bytes. */
enum jwt_result jwt_verify(const void *key, size_t keylen, const char *token, size_t len,
                           const char *nick, int64_t now);

/* A short human-readable reason ("token expired"), static. */
const char *jwt_result_text(enum jwt_result r);

/* Makes an HS256 token from the header and payload JSON texts (used as
 * given, so tests can sign odd headers). Writes it NUL-terminated into out;
 * returns its length, or -1 when size is too small. */
int jwt_sign(const void *key, size_t keylen, const char *header, const char *payload, char *out,
             size_t size);

#endif
