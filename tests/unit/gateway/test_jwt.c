/* Tests of gateway/jwt.c: HS256 verification against the RFC 7515 example,
 * every refusal PROTOCOL.md asks for, and the edges of the time checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jwt.h"

static const char KEY[] = "unit-test-secret-0123456789abcdef0123456789";
#define NOW 1700000000LL

/* A token for the test key, signed by jwt_sign. */
static char tok[16384];

static const char *sign_with(const char *key, const char *header, const char *payload)
{
    int n = jwt_sign(key, strlen(key), header, payload, tok, sizeof tok);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(tok));
    return tok;
}

static const char *sign(const char *header, const char *payload)
{
    return sign_with(KEY, header, payload);
}

static const char *claims(const char *sub, long long exp)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", sub, NOW, exp);
    return buf;
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static enum jwt_result verify_at(const char *token, const char *nick, int64_t now)
{
    return jwt_verify(KEY, strlen(KEY), token, strlen(token), nick, now);
}

static enum jwt_result verify(const char *token, const char *nick)
{
    return verify_at(token, nick, NOW);
}

/* RFC 7515 appendix A.1: a known token, key and signature. */
static const uint8_t RFC_KEY[64] = {
    0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
    0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
    0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
    0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
static const char RFC_TOKEN[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

static void test_rfc7515_example(void **state)
{
    (void)state;
    /* The signature is right; the example has no sub, so the claims fail. */
    assert_int_equal(jwt_verify(RFC_KEY, sizeof RFC_KEY, RFC_TOKEN, strlen(RFC_TOKEN), "joe", 0),
                     JWT_CLAIMS);
    char bad[sizeof RFC_TOKEN];
    memcpy(bad, RFC_TOKEN, sizeof bad);
    bad[sizeof bad - 5] ^= 1;
    assert_int_equal(jwt_verify(RFC_KEY, sizeof RFC_KEY, bad, strlen(bad), "joe", 0),
                     JWT_SIGNATURE);
    /* jwt_sign reproduces it from the same header and payload bytes. */
    char out[512];
    int n = jwt_sign(RFC_KEY, sizeof RFC_KEY, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
                     "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                     "\"http://example.com/is_root\":true}",
                     out, sizeof out);
    assert_int_equal(n, (int)strlen(RFC_TOKEN));
    assert_string_equal(out, RFC_TOKEN);
}

static void test_valid(void **state)
{
    (void)state;
    assert_int_equal(verify(sign(HS256, claims("alice", NOW + 60)), "alice"), JWT_OK);
    /* sub matches case-insensitively; header order and extra members do not matter. */
    assert_int_equal(
        verify(sign("{\"typ\":\"JWT\",\"kid\":\"1\",\"alg\":\"HS256\"}", claims("Alice", NOW + 60)),
               "aLICE"),
        JWT_OK);
    /* No typ, fractional times, nbf in the past, unknown claims. */
    assert_int_equal(verify(sign("{\"alg\":\"HS256\"}",
                                 "{\"sub\":\"bob\",\"exp\":1700000060.5,\"nbf\":1699999999.5,"
                                 "\"iss\":\"app\",\"aud\":[\"chat\"]}"),
                            "bob"),
                     JWT_OK);
}

static void test_time_edges(void **state)
{
    (void)state;
    const char *t = sign(HS256, claims("alice", NOW));
    assert_int_equal(verify_at(t, "alice", NOW + JWT_LEEWAY_S - 1), JWT_OK);
    assert_int_equal(verify_at(t, "alice", NOW + JWT_LEEWAY_S), JWT_EXPIRED);
    assert_int_equal(verify_at(t, "alice", NOW + 3600), JWT_EXPIRED);

    char payload[128];
    snprintf(payload, sizeof payload, "{\"sub\":\"alice\",\"exp\":%lld,\"nbf\":%lld}", NOW + 600,
             NOW + 100);
    t = sign(HS256, payload);
    assert_int_equal(verify_at(t, "alice", NOW + 100 - JWT_LEEWAY_S), JWT_OK);
    assert_int_equal(verify_at(t, "alice", NOW + 100 - JWT_LEEWAY_S - 1), JWT_NOT_YET_VALID);
    assert_int_equal(verify_at(t, "alice", NOW), JWT_NOT_YET_VALID);
}

static void test_other_nick(void **state)
{
    (void)state;
    assert_int_equal(verify(sign(HS256, claims("bob", NOW + 60)), "alice"), JWT_SUBJECT);
    assert_int_equal(verify(sign(HS256, claims("alic", NOW + 60)), "alice"), JWT_SUBJECT);
    assert_int_equal(verify(sign(HS256, claims("alicee", NOW + 60)), "alice"), JWT_SUBJECT);
    /* A NUL inside sub (which could match a prefix) does not even parse:
     * jansson refuses \u0000 without JSON_ALLOW_NUL. */
    assert_int_equal(verify(sign(HS256, "{\"sub\":\"ali\\u0000e\",\"exp\":1800000000}"), "ali"),
                     JWT_MALFORMED);
}

static void test_algorithms(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "{\"alg\":\"none\"}",    "{\"alg\":\"None\"}",
        "{\"alg\":\"HS512\"}",   "{\"alg\":\"RS256\"}",
        "{\"alg\":\"hs256\"}",   "{\"alg\":\"HS256 \"}",
        "{\"typ\":\"JWT\"}",     "{\"alg\":null}",
        "{\"alg\":[\"HS256\"]}", "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        assert_int_equal(verify(sign(headers[i], claims("alice", NOW + 60)), "alice"), JWT_ALG);
    /* The classic unsigned token: alg none and an empty signature. */
    char unsigned_tok[512];
    sign("{\"alg\":\"none\"}", claims("alice", NOW + 60));
    snprintf(unsigned_tok, sizeof unsigned_tok, "%.*s.", (int)(strrchr(tok, '.') - tok), tok);
    assert_int_equal(verify(unsigned_tok, "alice"), JWT_ALG);
}

static void test_signature(void **state)
{
    (void)state;
    char good[1024];
    strcpy(good, sign(HS256, claims("alice", NOW + 60)));
    char *sig = strrchr(good, '.') + 1;
    assert_int_equal(strlen(sig), 43);

    char t[sizeof good + 8];
    /* Another secret. */
    assert_int_equal(verify(sign_with("another-secret-0123456789abcdef0123456789", HS256,
                                      claims("alice", NOW + 60)),
                            "alice"),
                     JWT_SIGNATURE);
    strcpy(t, good); /* one character of the signature */
    t[sig - good + 5] = t[sig - good + 5] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, "alice"), JWT_SIGNATURE);
    /* The last character carries 2 unused bits: another spelling of the
     * same MAC is refused too (only the canonical encoding is accepted). */
    strcpy(t, good);
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *last = t + strlen(t) - 1;
    int v = (int)(strchr(alphabet, *last) - alphabet);
    *last = alphabet[v ^ 1];
    assert_int_equal(verify(t, "alice"), JWT_SIGNATURE);
    strcpy(t, good); /* truncated, extended, empty */
    t[strlen(t) - 1] = '\0';
    assert_int_equal(verify(t, "alice"), JWT_SIGNATURE);
    snprintf(t, sizeof t, "%sA", good);
    assert_int_equal(verify(t, "alice"), JWT_SIGNATURE);
    snprintf(t, sizeof t, "%.*s", (int)(sig - good), good);
    assert_int_equal(verify(t, "alice"), JWT_SIGNATURE);

    /* The payload of another token under this token's signature. */
    char other[1024];
    strcpy(other, sign(HS256, claims("mallory", NOW + 60)));
    char *p1 = strchr(other, '.'), *p2 = strrchr(other, '.');
    snprintf(t, sizeof t, "%.*s%.*s.%s", (int)(strchr(good, '.') - good), good, (int)(p2 - p1), p1,
             sig);
    assert_int_equal(verify(t, "mallory"), JWT_SIGNATURE);
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", /* padding */
        " eyJhbGciOiJIUzI1NiJ9.e30.AAAA", /* white space */
        "eyJhbGciOiJIUzI1NiJ9\n.e30.AAAA",
        "eyJhbGciOiJIUzI1NiJ9+.e30.AAAA",                   /* standard alphabet */
        "eyJhbGciOiJIUzI1NiJ9A.e30.AAAA",                   /* 4n+1 characters */
        "bm90IGpzb24.e30.AAAA",                             /* "not json" */
        "WyJIUzI1NiJd.e30.AAAA",                            /* ["HS256"] */
        "eyJhbGciOiJIUzI1NiIsImFsZyI6IkhTMjU2In0.e30.AAAA", /* duplicate alg */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify(bad[i], "alice"), JWT_MALFORMED);
    assert_int_equal(jwt_verify(KEY, strlen(KEY), NULL, 0, "alice", NOW), JWT_MALFORMED);

    /* Signed, but the payload is not a JSON object or has duplicate claims. */
    assert_int_equal(verify(sign(HS256, "[]"), "alice"), JWT_MALFORMED);
    assert_int_equal(verify(sign(HS256, "{sub:1}"), "alice"), JWT_MALFORMED);
    assert_int_equal(
        verify(sign(HS256, "{\"sub\":\"alice\",\"sub\":\"bob\",\"exp\":1800000000}"), "alice"),
        JWT_MALFORMED);

    /* Over JWT_MAX_LEN: refused unread. */
    char big[JWT_MAX_LEN + 64];
    strcpy(big, sign(HS256, claims("alice", NOW + 60)));
    size_t n = strlen(big);
    memset(big + n, 'A', sizeof big - n - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(verify(big, "alice"), JWT_MALFORMED);
    /* Not NUL-terminated: only len bytes are read. */
    strcpy(big, sign(HS256, claims("alice", NOW + 60)));
    n = strlen(big);
    big[n] = 'X';
    assert_int_equal(jwt_verify(KEY, strlen(KEY), big, n, "alice", NOW), JWT_OK);
}

static void test_claims(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"sub\":\"alice\"}",                                  /* no exp */
        "{\"exp\":1800000000}",                                 /* no sub */
        "{\"sub\":\"alice\",\"exp\":\"1800000000\"}",           /* exp a string */
        "{\"sub\":\"alice\",\"exp\":null}",                     /* exp null */
        "{\"sub\":7,\"exp\":1800000000}",                       /* sub a number */
        "{\"sub\":\"alice\",\"exp\":1800000000,\"nbf\":\"0\"}", /* nbf a string */
        "{\"sub\":\"alice\",\"exp\":1800000000,\"iat\":true}",  /* iat a boolean */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify(sign(HS256, bad[i]), "alice"), JWT_CLAIMS);
}

static void test_texts_and_sign_limits(void **state)
{
    (void)state;
    for (int r = JWT_OK; r <= JWT_NOT_YET_VALID; r++) {
        const char *t = jwt_result_text((enum jwt_result)r);
        assert_non_null(t);
        assert_true(strlen(t) > 5);
    }
    char small[32];
    assert_int_equal(jwt_sign(KEY, strlen(KEY), HS256, claims("alice", NOW), small, sizeof small),
                     -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_example),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_time_edges),
        cmocka_unit_test(test_other_nick),
        cmocka_unit_test(test_algorithms),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_claims),
        cmocka_unit_test(test_texts_and_sign_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
