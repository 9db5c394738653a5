/* jwt.c: HS256 token verification with OpenSSL (HMAC, base64) and jansson.
 *
 * A compact JWS (RFC 7515) is three unpadded base64url parts joined by dots:
 *
 *     BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)
 *
 * and for HS256 the signature is HMAC-SHA256(secret, the text before the
 * second dot). So the checks run in this order, each before anything the
 * next part could influence is read:
 *
 *  1. shape: at most JWT_MAX_LEN bytes, exactly two dots, only the base64url
 *     alphabet in each part;
 *  2. header: a JSON object whose alg is exactly "HS256". "none", and every
 *     other algorithm (above all the public-key ones, which a verifier could
 *     be tricked into checking with the shared secret as a "public key"),
 *     is refused before the signature is looked at; so is "crit", since no
 *     extension is understood here (RFC 7515 4.1.11);
 *  3. signature: the expected MAC is encoded and compared with the third part
 *     as text, in constant time (CRYPTO_memcmp). Comparing the canonical
 *     encoding also refuses the other spellings of the same bytes (non-zero
 *     padding bits), so one token has exactly one valid signature;
 *  4. claims, only from a signed payload: sub (a string, equal to the nick
 *     case-insensitively), exp (a number, required), nbf and iat (numbers
 *     when present), with JWT_LEEWAY_S of leeway on exp and nbf.
 *
 * JSON is parsed with JSON_REJECT_DUPLICATES: two "sub" members could be
 * read differently by the issuer and by us, so such a token is malformed. */
#include "jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define MAC_LEN 32 /* SHA-256 */
#define SIG_LEN 43 /* its unpadded base64url encoding */

/* Room EVP_EncodeBlock needs for n bytes (padding and NUL included). */
static size_t b64_room(size_t n)
{
    return (n + 2) / 3 * 4 + 1;
}

/* Unpadded base64url of n bytes into out (b64_room(n) bytes); returns its length. */
static size_t b64url_encode(const void *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=') len--;
    for (int i = 0; i < len; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    out[len] = '\0';
    return (size_t)len;
}

/* Decodes unpadded base64url: OpenSSL decodes standard, padded base64, so the
 * two alphabet differences are mapped and the padding restored first.
 * Returns the bytes, NUL-terminated (caller frees), or NULL. */
static char *b64url_decode(const char *in, size_t len, size_t *outlen)
{
    if (len == 0 || len % 4 == 1) return NULL; /* no whole byte in a lone last char */
    size_t padded = (len + 3) / 4 * 4;
    char *text = malloc(padded + 1), *out = malloc(padded / 4 * 3 + 1);
    if (!text || !out) goto fail;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            goto fail; /* '+', '/', '=' and white space are not base64url */
        text[i] = c;
    }
    memset(text + len, '=', padded - len);
    int n = EVP_DecodeBlock((unsigned char *)out, (unsigned char *)text, (int)padded);
    if (n < 0) goto fail;
    *outlen = (size_t)n - (padded - len); /* the padding decoded as zero bytes */
    out[*outlen] = '\0';
    free(text);
    return out;
fail:
    free(text);
    free(out);
    return NULL;
}

/* One base64url part holding a JSON object, or NULL. */
static json_t *decode_object(const char *part, size_t len)
{
    size_t n;
    char *text = b64url_decode(part, len, &n);
    if (!text) return NULL;
    json_t *v = json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static enum jwt_result check_header(json_t *header)
{
    json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || json_string_length(alg) != 5 ||
        memcmp(json_string_value(alg), "HS256", 5) != 0)
        return JWT_ALG;
    if (json_object_get(header, "crit")) return JWT_ALG;
    return JWT_OK;
}

/* HMAC-SHA256 of input, unpadded base64url into out (b64_room(MAC_LEN) bytes). */
static int sign(const void *key, size_t keylen, const char *input, size_t len, char *out)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned maclen = 0;
    if (!HMAC(EVP_sha256(), keylen ? key : "", (int)keylen, (const unsigned char *)input, len, mac,
              &maclen) ||
        maclen != MAC_LEN)
        return -1;
    b64url_encode(mac, MAC_LEN, out);
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

static enum jwt_result check_signature(const void *key, size_t keylen, const char *input,
                                       size_t len, const char *sig, size_t siglen)
{
    char want[64];
    _Static_assert(sizeof want >= (MAC_LEN + 2) / 3 * 4 + 1, "room for the encoded MAC");
    if (siglen != SIG_LEN || sign(key, keylen, input, len, want) < 0) return JWT_SIGNATURE;
    int differ = CRYPTO_memcmp(want, sig, SIG_LEN);
    OPENSSL_cleanse(want, sizeof want);
    return differ ? JWT_SIGNATURE : JWT_OK;
}

static enum jwt_result check_claims(json_t *claims, const char *nick, int64_t now)
{
    json_t *sub = json_object_get(claims, "sub"), *exp = json_object_get(claims, "exp"),
           *nbf = json_object_get(claims, "nbf"), *iat = json_object_get(claims, "iat");
    if (!json_is_string(sub) || !json_is_number(exp) || (nbf && !json_is_number(nbf)) ||
        (iat && !json_is_number(iat)))
        return JWT_CLAIMS;
    /* Nicks are ASCII; sub holds no NUL (jansson refuses \u0000 unless asked). */
    size_t n = strlen(nick);
    if (json_string_length(sub) != n || strncasecmp(json_string_value(sub), nick, n) != 0)
        return JWT_SUBJECT;
    if ((double)now >= json_number_value(exp) + JWT_LEEWAY_S) return JWT_EXPIRED;
    if (nbf && (double)now + JWT_LEEWAY_S < json_number_value(nbf)) return JWT_NOT_YET_VALID;
    return JWT_OK;
}

enum jwt_result jwt_verify(const void *key, size_t keylen, const char *token, size_t len,
                           const char *nick, int64_t now)
{
    if (!token || !nick || len == 0 || len > JWT_MAX_LEN) return JWT_MALFORMED;
    const char *end = token + len;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1))) return JWT_MALFORMED;

    enum jwt_result r = JWT_MALFORMED;
    json_t *header = decode_object(token, (size_t)(dot1 - token)), *claims = NULL;
    if (!header) goto done;
    if ((r = check_header(header)) != JWT_OK) goto done;
    if ((r = check_signature(key, keylen, token, (size_t)(dot2 - token), dot2 + 1,
                             (size_t)(end - dot2 - 1))) != JWT_OK)
        goto done;
    r = JWT_MALFORMED;
    if (!(claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1)))) goto done;
    r = check_claims(claims, nick, now);
done:
    json_decref(header);
    json_decref(claims);
    return r;
}

const char *jwt_result_text(enum jwt_result r)
{
    switch (r) {
    case JWT_OK:
        return "token valid";
    case JWT_MALFORMED:
        return "token malformed: not a compact JWT of JSON objects";
    case JWT_ALG:
        return "token algorithm refused: only HS256 is accepted";
    case JWT_SIGNATURE:
        return "token signature invalid";
    case JWT_CLAIMS:
        return "token claims invalid: sub (string) and exp (number) are required";
    case JWT_SUBJECT:
        return "token is for another nick (sub)";
    case JWT_EXPIRED:
        return "token expired (exp)";
    case JWT_NOT_YET_VALID:
        return "token not yet valid (nbf)";
    }
    return "token invalid";
}

int jwt_sign(const void *key, size_t keylen, const char *header, const char *payload, char *out,
             size_t size)
{
    size_t hlen = strlen(header), plen = strlen(payload);
    /* Each part is encoded in place, its padding then dropped. */
    if (size < b64_room(hlen) + b64_room(plen) + b64_room(MAC_LEN) + 1) return -1;
    size_t n = b64url_encode(header, hlen, out);
    out[n++] = '.';
    n += b64url_encode(payload, plen, out + n);
    if (sign(key, keylen, out, n, out + n + 1) < 0) return -1;
    out[n++] = '.';
    return (int)(n + SIG_LEN);
}
