/* Tests for gateway/codec.c: every command's success, every error path, and
 * the precedence of PROTOCOL.md's "Precise rules". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"

static const struct codec_limits LIM = {
    .max_text = 4000,
    .max_nick = 32,
    .max_room = 64,
    .max_id = 64,
    .history_default = 50,
    .history_max = 200,
};

static struct codec_cmd g; /* the command under test, cleared by each decode */

static enum codec_result dec_lim(const char *json, enum conn_state st, const char *self,
                                 const struct codec_limits *lim)
{
    codec_cmd_clear(&g);
    return codec_decode(json, strlen(json), st, self, lim, &g);
}

static enum codec_result dec(const char *json, enum conn_state st, const char *self)
{
    return dec_lim(json, st, self, &LIM);
}

/* An identified connection whose nick is alice. */
static enum codec_result dec_id(const char *json)
{
    return dec(json, CONN_IDENTIFIED, "alice");
}

static int teardown(void **state)
{
    (void)state;
    codec_cmd_clear(&g);
    return 0;
}

/* The message is printable ASCII (so always valid UTF-8) and not empty. */
static void check_msg_printable(void)
{
    assert_true(strlen(g.err_msg) > 0);
    for (const char *p = g.err_msg; *p; p++) assert_true(*p >= 0x20 && *p <= 0x7E);
}

/* Decoding json in state st fails with code; id is the echoed id or NULL;
 * the message mentions what. */
static void check_err_lim(const char *json, enum conn_state st, const char *self,
                          const struct codec_limits *lim, const char *code, const char *id,
                          const char *what)
{
    enum codec_result r = dec_lim(json, st, self, lim);
    if (r != CODEC_ERROR || strcmp(g.err_code, code) != 0)
        fail_msg("%s: expected %s, got result %d code %s (%s)", json, code, r,
                 g.err_code ? g.err_code : "-", g.err_msg);
    if (id) {
        assert_non_null(g.id);
        assert_string_equal(g.id, id);
    } else {
        assert_null(g.id);
    }
    check_msg_printable();
    if (what && !strstr(g.err_msg, what))
        fail_msg("%s: message \"%s\" does not mention \"%s\"", json, g.err_msg, what);
}

static void check_err(const char *json, enum conn_state st, const char *code, const char *id,
                      const char *what)
{
    check_err_lim(json, st, "alice", &LIM, code, id, what);
}

/* The forwarded command survives a protobuf round trip (all required fields
 * are set) and is of the given case. Caller frees with
 * chat__command__free_unpacked. */
static Chat__Command *roundtrip(Chat__Command__CmdCase expect)
{
    assert_int_equal(g.cmd.cmd_case, expect);
    g.cmd.conn = 7;
    size_t n = chat__command__get_packed_size(&g.cmd);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(chat__command__pack(&g.cmd, buf), n);
    Chat__Command *c = chat__command__unpack(NULL, n, buf);
    free(buf);
    assert_non_null(c);
    assert_int_equal(c->conn, 7);
    assert_int_equal(c->cmd_case, expect);
    return c;
}

/* prefix (the start of an object, up to a comma) followed by
 * "text":"<n copies of unit>"}. Caller frees. */
static char *with_text(const char *prefix, const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(strlen(prefix) + 16 + ul * n);
    assert_non_null(s);
    char *p = s + sprintf(s, "%s\"text\":\"", prefix);
    for (size_t i = 0; i < n; i++, p += ul) memcpy(p, unit, ul);
    strcpy(p, "\"}");
    return s;
}

static char *msg_with_text(const char *unit, size_t n)
{
    return with_text("{\"type\":\"msg\",\"room\":\"r\",", unit, n);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- bad_json */

static void test_bad_json(void **state)
{
    (void)state;
    static const char *const frames[] = {
        "",
        "not json",
        "{",
        "{\"type\":",
        "{\"type\":\"ping\"",
        "{\"type\":\"ping\",}",
        "{type:\"ping\"}",
        "{'type':'ping'}",
        "42",
        "null",
        "true",
        "\"ping\"",
        "[]",
        "[{\"type\":\"ping\"}]",
        "{} x",
        "{}{}",
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\xff\"}",         /* invalid UTF-8 */
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\xc3\"}",         /* truncated */
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\xed\xa0\x80\"}", /* encoded surrogate */
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\\ud800\"}",      /* lone high */
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\\udc00x\"}",     /* lone low */
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\\ud800\\u0041\"}",
        "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"a\tb\"}", /* raw control char */
        "{\"type\":\"ping\",\"id\":\"p1\",\"x\":01}",
        "{\"type\":\"ping\",\"x\":NaN}",
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++)
        check_err(frames[i], CONN_IDENTIFIED, "bad_json", NULL, NULL);
    check_err("[]", CONN_NEW, "bad_json", NULL, "object");
    check_err("{\"type\":\"x\",\"id\":\"i\"} 1", CONN_NEW, "bad_json", NULL, "JSON");
}

static void test_bad_json_raw_nul_and_length(void **state)
{
    (void)state;
    static const char nul_outside[] = "{\"type\":\"ping\"}\0";
    static const char nul_inside[] = "{\"type\":\"pi\0ng\"}";
    codec_cmd_clear(&g);
    assert_int_equal(codec_decode(nul_outside, sizeof nul_outside - 1, CONN_NEW, NULL, &LIM, &g),
                     CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");
    codec_cmd_clear(&g);
    assert_int_equal(codec_decode(nul_inside, sizeof nul_inside - 1, CONN_NEW, NULL, &LIM, &g),
                     CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");

    /* Only len bytes are the frame. */
    codec_cmd_clear(&g);
    const char *s = "{\"type\":\"ping\"}garbage";
    assert_int_equal(codec_decode(s, 15, CONN_NEW, NULL, &LIM, &g), CODEC_PING);
    codec_cmd_clear(&g);
    assert_int_equal(codec_decode(s, 14, CONN_NEW, NULL, &LIM, &g), CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");
    codec_cmd_clear(&g);
    assert_int_equal(codec_decode(NULL, 0, CONN_NEW, NULL, &LIM, &g), CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");
}

/* Valid JSON that jansson cannot hold is a bad_request, not bad_json. */
static void test_unrepresentable_json(void **state)
{
    (void)state;
    check_err("{\"type\":\"ping\",\"a\\u0000b\":1}", CONN_NEW, "bad_request", NULL, "NUL");
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":99999999999999999999}", CONN_IDENTIFIED,
              "bad_request", NULL, "out of range");
    check_err("{\"type\":\"ping\",\"x\":1e400}", CONN_NEW, "bad_request", NULL, "out of range");

    char *deep = malloc(20000);
    assert_non_null(deep);
    char *p = deep + sprintf(deep, "{\"type\":\"ping\",\"x\":");
    for (int i = 0; i < 5000; i++) *p++ = '[';
    for (int i = 0; i < 5000; i++) *p++ = ']';
    strcpy(p, "}");
    check_err(deep, CONN_NEW, "bad_request", NULL, "nested");
    free(deep);
}

/* ---------------------------------------------------------------- id */

static void test_id(void **state)
{
    (void)state;
    /* Valid ids are echoed: in a forward, a pong and an error. */
    assert_int_equal(dec_id("{\"type\":\"leave\",\"room\":\"r\",\"id\":\"l1\"}"), CODEC_FORWARD);
    assert_string_equal(g.id, "l1");
    assert_string_equal(g.cmd.id, "l1");
    assert_int_equal(dec_id("{\"id\":\"\",\"type\":\"ping\"}"), CODEC_PING);
    assert_string_equal(g.id, "");
    check_err("{\"type\":\"bogus\",\"id\":\"e1\"}", CONN_NEW, "bad_request", "e1", "bogus");

    /* No id: nothing to echo. */
    assert_int_equal(dec_id("{\"type\":\"leave\",\"room\":\"r\"}"), CODEC_FORWARD);
    assert_null(g.id);
    assert_null(g.cmd.id);

    /* Invalid ids are bad_request and not echoed. */
    check_err("{\"type\":\"ping\",\"id\":1}", CONN_NEW, "bad_request", NULL, "\"id\"");
    check_err("{\"type\":\"ping\",\"id\":null}", CONN_NEW, "bad_request", NULL, "null");
    check_err("{\"type\":\"ping\",\"id\":[\"a\"]}", CONN_NEW, "bad_request", NULL, "\"id\"");
    check_err("{\"type\":\"ping\",\"id\":{}}", CONN_NEW, "bad_request", NULL, "\"id\"");
    check_err("{\"type\":\"ping\",\"id\":true}", CONN_NEW, "bad_request", NULL, "\"id\"");
    check_err("{\"type\":\"ping\",\"id\":\"a\\u0000b\"}", CONN_NEW, "bad_request", NULL, "NUL");
    /* An invalid id comes before every other bad_request, and is not echoed
     * even with a later error. */
    check_err("{\"type\":\"bogus\",\"id\":5}", CONN_NEW, "bad_request", NULL, "\"id\"");
    check_err("{\"id\":5}", CONN_NEW, "bad_request", NULL, "\"id\"");

    /* Length in code points: 64 is fine, 65 is not, whatever the bytes. */
    char buf[1024];
    char *a64 = repeat('a', 64), *a65 = repeat('a', 65);
    snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", a64);
    assert_int_equal(dec(buf, CONN_NEW, NULL), CODEC_PING);
    assert_string_equal(g.id, a64);
    snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", a65);
    check_err(buf, CONN_NEW, "bad_request", NULL, "64 characters");
    free(a64);
    free(a65);

    char id[600] = "";
    for (int i = 0; i < 64; i++) strcat(id, "\xc3\xa9"); /* é: 2 bytes each */
    snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    assert_int_equal(dec(buf, CONN_NEW, NULL), CODEC_PING);
    assert_string_equal(g.id, id);
    strcat(id, "\xf0\x9f\x98\x80"); /* one 4-byte code point more */
    snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"%s\"}", id);
    check_err(buf, CONN_NEW, "bad_request", NULL, "id");
    snprintf(buf, sizeof buf, "{\"type\":\"ping\",\"id\":\"\\u00e9\\u00e9\"}");
    assert_int_equal(dec(buf, CONN_NEW, NULL), CODEC_PING);
    assert_string_equal(g.id, "\xc3\xa9\xc3\xa9");

    /* The id of an erroring command is echoed, whatever the error tier. */
    check_err("{\"type\":\"join\",\"id\":\"j\"}", CONN_IDENTIFIED, "bad_request", "j", "room");
    check_err("{\"type\":\"join\",\"room\":\"A\",\"id\":\"j\"}", CONN_IDENTIFIED, "room_invalid",
              "j", "room");
    check_err("{\"type\":\"join\",\"room\":\"a\",\"id\":\"j\"}", CONN_NEW, "not_identified", "j",
              "hello");
}

/* ---------------------------------------------------------------- type */

static void test_type(void **state)
{
    (void)state;
    check_err("{}", CONN_NEW, "bad_request", NULL, "missing \"type\"");
    check_err("{\"id\":\"t\"}", CONN_NEW, "bad_request", "t", "missing \"type\"");
    check_err("{\"type\":1}", CONN_NEW, "bad_request", NULL, "\"type\" must be a string");
    check_err("{\"type\":null}", CONN_NEW, "bad_request", NULL, "null");
    check_err("{\"type\":[\"ping\"]}", CONN_NEW, "bad_request", NULL, "an array");
    check_err("{\"type\":\"\"}", CONN_NEW, "bad_request", NULL, "unknown");
    check_err("{\"type\":\"PING\"}", CONN_NEW, "bad_request", NULL, "\"PING\"");
    check_err("{\"type\":\"pong\"}", CONN_NEW, "bad_request", NULL, "\"pong\"");
    check_err("{\"type\":\"disconnect\"}", CONN_IDENTIFIED, "bad_request", NULL, "unknown");
    check_err("{\"type\":\"ping\\u0000\"}", CONN_NEW, "bad_request", NULL, "NUL");
    check_err("{\"type\":\"pin\"}", CONN_NEW, "bad_request", NULL, "\"pin\"");
    check_err("{\"type\":\"pingg\"}", CONN_NEW, "bad_request", NULL, "\"pingg\"");
    /* Unprintable or long unknown types are not quoted back. */
    check_err("{\"type\":\"a\\\"b\"}", CONN_NEW, "bad_request", NULL, "unknown \"type\"");
    assert_null(strstr(g.err_msg, "a\"b"));
    check_err("{\"type\":\"\\u00e9\"}", CONN_NEW, "bad_request", NULL, "unknown \"type\"");
    check_err("{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", CONN_NEW,
              "bad_request", NULL, "unknown \"type\"");
    assert_null(strstr(g.err_msg, "aaaa"));
    /* Unknown type beats not_identified. */
    check_err("{\"type\":\"bogus\"}", CONN_NEW, "bad_request", NULL, "bogus");
}

/* ---------------------------------------------------------------- ping */

static void test_ping(void **state)
{
    (void)state;
    assert_int_equal(dec("{\"type\":\"ping\"}", CONN_NEW, NULL), CODEC_PING);
    assert_null(g.id);
    assert_int_equal(dec("{\"type\":\"ping\",\"id\":\"p1\"}", CONN_NEW, NULL), CODEC_PING);
    assert_string_equal(g.id, "p1");
    assert_int_equal(dec("{\"type\":\"ping\",\"id\":\"p2\"}", CONN_HELLO_SENT, NULL), CODEC_PING);
    assert_string_equal(g.id, "p2");
    assert_int_equal(dec_id("{\"id\":\"p3\",\"type\":\"ping\",\"room\":5,\"x\":null}"), CODEC_PING);
    assert_string_equal(g.id, "p3");
}

/* ---------------------------------------------------------------- hello */

static void test_hello_ok(void **state)
{
    (void)state;
    assert_int_equal(dec("{\"type\":\"hello\",\"nick\":\"alice\",\"id\":\"h\"}", CONN_NEW, NULL),
                     CODEC_FORWARD);
    assert_string_equal(g.id, "h");
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_HELLO);
    assert_string_equal(c->id, "h");
    assert_string_equal(c->hello->nick, "alice");
    assert_null(c->hello->resume_session);
    assert_int_equal(c->hello->n_resume_rooms, 0);
    assert_false(c->hello->has_authenticated);
    chat__command__free_unpacked(c, NULL);

    /* Every character class, and the longest nick. */
    assert_int_equal(dec("{\"type\":\"hello\",\"nick\":\"A-z_0.9\"}", CONN_NEW, NULL),
                     CODEC_FORWARD);
    assert_string_equal(g.body.hello.nick, "A-z_0.9");
    char buf[256], *n32 = repeat('N', 32);
    snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"nick\":\"%s\"}", n32);
    assert_int_equal(dec(buf, CONN_NEW, NULL), CODEC_FORWARD);
    assert_string_equal(g.cmd.hello->nick, n32);
    free(n32);

    /* A token is only type-checked for now. */
    assert_int_equal(
        dec("{\"type\":\"hello\",\"nick\":\"bob\",\"token\":\"x.y.z\"}", CONN_NEW, NULL),
        CODEC_FORWARD);
    assert_false(g.cmd.hello->has_authenticated);

    /* A hello while one is pending goes to the broker. */
    assert_int_equal(dec("{\"type\":\"hello\",\"nick\":\"bob\"}", CONN_HELLO_SENT, NULL),
                     CODEC_FORWARD);
    assert_int_equal(g.cmd.cmd_case, CHAT__COMMAND__CMD_HELLO);

    /* Unknown fields are ignored. */
    assert_int_equal(
        dec("{\"type\":\"hello\",\"nick\":\"bob\",\"client\":{\"v\":[1,2.5,null]},\"z\":null}",
            CONN_NEW, NULL),
        CODEC_FORWARD);
}

static void test_hello_resume_ok(void **state)
{
    (void)state;
    assert_int_equal(dec("{\"type\":\"hello\",\"nick\":\"alice\",\"resume\":{\"session\":\"s1\","
                         "\"rooms\":{\"general\":41,\"#b\":0,\"c\":9007199254740993}}}",
                         CONN_NEW, NULL),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_HELLO);
    assert_string_equal(c->hello->resume_session, "s1");
    assert_int_equal(c->hello->n_resume_rooms, 3);
    assert_string_equal(c->hello->resume_rooms[0]->room, "general");
    assert_int_equal(c->hello->resume_rooms[0]->seq, 41);
    assert_string_equal(c->hello->resume_rooms[1]->room, "#b");
    assert_int_equal(c->hello->resume_rooms[1]->seq, 0);
    assert_string_equal(c->hello->resume_rooms[2]->room, "c");
    assert_true(c->hello->resume_rooms[2]->seq == 9007199254740993ULL);
    chat__command__free_unpacked(c, NULL);

    /* Without rooms, with an empty rooms object, and with extra fields. */
    assert_int_equal(
        dec("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\"}}", CONN_NEW, NULL),
        CODEC_FORWARD);
    assert_string_equal(g.cmd.hello->resume_session, "s");
    assert_int_equal(g.cmd.hello->n_resume_rooms, 0);
    assert_int_equal(dec("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"\","
                         "\"rooms\":{},\"x\":1}}",
                         CONN_NEW, NULL),
                     CODEC_FORWARD);
    assert_string_equal(g.cmd.hello->resume_session, "");
    assert_int_equal(g.cmd.hello->n_resume_rooms, 0);
    c = roundtrip(CHAT__COMMAND__CMD_HELLO);
    chat__command__free_unpacked(c, NULL);
}

static void test_hello_errors(void **state)
{
    (void)state;
    const enum conn_state N = CONN_NEW;
    check_err("{\"type\":\"hello\"}", N, "bad_request", NULL, "missing \"nick\"");
    check_err("{\"type\":\"hello\",\"nick\":null}", N, "bad_request", NULL, "\"nick\"");
    check_err("{\"type\":\"hello\",\"nick\":5}", N, "bad_request", NULL, "\"nick\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\\u0000\"}", N, "bad_request", NULL, "NUL");
    check_err("{\"type\":\"hello\",\"nick\":\"\"}", N, "nick_invalid", NULL, "\"nick\"");
    check_err("{\"type\":\"hello\",\"nick\":\"al ice\"}", N, "nick_invalid", NULL, "1-32");
    check_err("{\"type\":\"hello\",\"nick\":\"al#ice\"}", N, "nick_invalid", NULL, NULL);
    check_err("{\"type\":\"hello\",\"nick\":\"\\u00e9\"}", N, "nick_invalid", NULL, NULL);
    char buf[256], *n33 = repeat('n', 33);
    snprintf(buf, sizeof buf, "{\"type\":\"hello\",\"nick\":\"%s\",\"id\":\"h\"}", n33);
    check_err(buf, N, "nick_invalid", "h", "\"nick\"");
    free(n33);

    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"token\":1}", N, "bad_request", NULL,
              "\"token\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"token\":null}", N, "bad_request", NULL,
              "\"token\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"token\":\"x\\u0000\"}", N, "bad_request", NULL,
              "\"token\"");

    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":\"s\"}", N, "bad_request", NULL,
              "\"resume\" must be an object");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":null}", N, "bad_request", NULL,
              "\"resume\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{}}", N, "bad_request", NULL,
              "missing \"resume.session\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":7}}", N, "bad_request",
              NULL, "\"resume.session\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"\\u0000\"}}", N,
              "bad_request", NULL, "\"resume.session\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\",\"rooms\":[]}}", N,
              "bad_request", NULL, "\"resume.rooms\" must be an object");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\",\"rooms\":null}}",
              N, "bad_request", NULL, "\"resume.rooms\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"r\":\"4\"}}}",
              N, "bad_request", NULL, "\"resume.rooms\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"r\":1,\"s\":4.0}}}",
              N, "bad_request", NULL, "\"resume.rooms\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"r\":null}}}",
              N, "bad_request", NULL, "\"resume.rooms\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"r\":-1}}}",
              N, "bad_request", NULL, "negative");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"ok\":1,\"Bad\":2}}}",
              N, "room_invalid", NULL, "\"resume.rooms\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"\":2}}}",
              N, "room_invalid", NULL, "\"resume.rooms\"");
}

static void test_hello_precedence(void **state)
{
    (void)state;
    /* A second hello after welcome is bad_request, even with a bad nick. */
    check_err("{\"type\":\"hello\",\"nick\":\"alice\",\"id\":\"h2\"}", CONN_IDENTIFIED,
              "bad_request", "h2", "second \"hello\"");
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\"}", CONN_IDENTIFIED, "bad_request", NULL,
              "second");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"BAD\":1}}}",
              CONN_IDENTIFIED, "bad_request", NULL, "second");
    /* ... but its own malformed fields are reported as such. */
    check_err("{\"type\":\"hello\"}", CONN_IDENTIFIED, "bad_request", NULL, "\"nick\"");
    /* bad_request beats nick_invalid and room_invalid. */
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\",\"token\":false}", CONN_NEW, "bad_request",
              NULL, "\"token\"");
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\",\"resume\":[]}", CONN_NEW, "bad_request",
              NULL, "\"resume\"");
    check_err("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"BAD\":1,\"ok\":-3}}}",
              CONN_NEW, "bad_request", NULL, "negative");
    /* nick_invalid comes before the resume rooms' room_invalid. */
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"BAD\":1}}}",
              CONN_NEW, "nick_invalid", NULL, NULL);
}

/* ---------------------------------------------------------------- join / leave */

static void test_join(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"join\",\"room\":\"general\",\"id\":\"j1\"}"),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_JOIN);
    assert_string_equal(c->id, "j1");
    assert_string_equal(c->join->room, "general");
    assert_false(c->join->has_since);
    chat__command__free_unpacked(c, NULL);

    assert_int_equal(dec_id("{\"type\":\"join\",\"room\":\"#a-b_c.9\",\"since\":41}"),
                     CODEC_FORWARD);
    c = roundtrip(CHAT__COMMAND__CMD_JOIN);
    assert_null(c->id);
    assert_string_equal(c->join->room, "#a-b_c.9");
    assert_true(c->join->has_since);
    assert_int_equal(c->join->since, 41);
    chat__command__free_unpacked(c, NULL);

    assert_int_equal(dec_id("{\"type\":\"join\",\"room\":\"r\",\"since\":0}"), CODEC_FORWARD);
    assert_true(g.body.join.has_since);
    assert_int_equal(g.body.join.since, 0);
    assert_int_equal(dec_id("{\"type\":\"join\",\"room\":\"r\",\"since\":-0}"), CODEC_FORWARD);
    assert_int_equal(g.body.join.since, 0);
    assert_int_equal(dec_id("{\"type\":\"join\",\"room\":\"r\",\"since\":9223372036854775807}"),
                     CODEC_FORWARD);
    assert_true(g.body.join.since == 9223372036854775807ULL);

    /* The longest room; a join while the hello is pending goes to the broker. */
    char buf[256], *r64 = repeat('r', 64), *r65 = repeat('r', 65);
    snprintf(buf, sizeof buf, "{\"type\":\"join\",\"room\":\"%s\"}", r64);
    assert_int_equal(dec(buf, CONN_HELLO_SENT, NULL), CODEC_FORWARD);
    assert_string_equal(g.cmd.join->room, r64);
    snprintf(buf, sizeof buf, "{\"type\":\"join\",\"room\":\"%s\"}", r65);
    check_err(buf, CONN_IDENTIFIED, "room_invalid", NULL, "1-64");
    free(r64);
    free(r65);

    const enum conn_state I = CONN_IDENTIFIED;
    check_err("{\"type\":\"join\"}", I, "bad_request", NULL, "missing \"room\"");
    check_err("{\"type\":\"join\",\"room\":null}", I, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"join\",\"room\":3}", I, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"join\",\"room\":{}}", I, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"join\",\"room\":\"r\\u0000\"}", I, "bad_request", NULL, "NUL");
    check_err("{\"type\":\"join\",\"room\":\"\"}", I, "room_invalid", NULL, "\"room\"");
    check_err("{\"type\":\"join\",\"room\":\"General\"}", I, "room_invalid", NULL, "a-z");
    check_err("{\"type\":\"join\",\"room\":\"a b\"}", I, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"join\",\"room\":\"caf\\u00e9\"}", I, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":\"41\"}", I, "bad_request", NULL,
              "\"since\" must be an integer");
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":5.0}", I, "bad_request", NULL,
              "\"since\" must be an integer");
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":1e2}", I, "bad_request", NULL,
              "\"since\"");
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":null}", I, "bad_request", NULL,
              "\"since\"");
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":true}", I, "bad_request", NULL,
              "\"since\"");
    check_err("{\"type\":\"join\",\"room\":\"r\",\"since\":-1}", I, "bad_request", NULL,
              "\"since\" must not be negative");

    /* Precedence: bad_request, then room_invalid, then not_identified. */
    check_err("{\"type\":\"join\",\"room\":\"BAD\",\"since\":-1}", I, "bad_request", NULL, "since");
    check_err("{\"type\":\"join\",\"room\":\"BAD\",\"since\":1.5}", CONN_NEW, "bad_request", NULL,
              "since");
    check_err("{\"type\":\"join\",\"room\":\"BAD\"}", CONN_NEW, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"join\",\"room\":\"ok\"}", CONN_NEW, "not_identified", NULL, "hello");
}

static void test_leave(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"leave\",\"room\":\"general\",\"id\":\"l\"}"),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_LEAVE);
    assert_string_equal(c->leave->room, "general");
    assert_string_equal(c->id, "l");
    chat__command__free_unpacked(c, NULL);

    check_err("{\"type\":\"leave\"}", CONN_IDENTIFIED, "bad_request", NULL, "missing \"room\"");
    check_err("{\"type\":\"leave\",\"room\":[]}", CONN_IDENTIFIED, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"leave\",\"room\":\"A\"}", CONN_IDENTIFIED, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"leave\",\"room\":\"a\"}", CONN_NEW, "not_identified", NULL, NULL);
}

/* ---------------------------------------------------------------- msg / dm */

static void test_msg(void **state)
{
    (void)state;
    assert_int_equal(
        dec_id("{\"type\":\"msg\",\"room\":\"general\",\"text\":\"hi \\\"you\\\"\\n\\u00e9\\ud83d"
               "\\ude00 \xe2\x82\xac\",\"id\":\"m1\"}"),
        CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_MSG);
    assert_string_equal(c->id, "m1");
    assert_string_equal(c->msg->room, "general");
    assert_string_equal(c->msg->text, "hi \"you\"\n\xc3\xa9\xf0\x9f\x98\x80 \xe2\x82\xac");
    chat__command__free_unpacked(c, NULL);

    /* Leading and trailing space is kept; one visible character is enough. */
    assert_int_equal(dec_id("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"  .  \"}"), CODEC_FORWARD);
    assert_string_equal(g.body.msg.text, "  .  ");

    const enum conn_state I = CONN_IDENTIFIED;
    check_err("{\"type\":\"msg\",\"text\":\"hi\"}", I, "bad_request", NULL, "missing \"room\"");
    check_err("{\"type\":\"msg\",\"room\":\"r\"}", I, "bad_request", NULL, "missing \"text\"");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":null}", I, "bad_request", NULL,
              "\"text\"");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":42}", I, "bad_request", NULL, "\"text\"");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":[\"hi\"]}", I, "bad_request", NULL,
              "\"text\"");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\"}", I, "bad_request", NULL, "blank");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":\" \\t\\r\\n \"}", I, "bad_request", NULL,
              "blank");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\\u3000\\u00a0\\u2003\"}", I,
              "bad_request", NULL, "blank");
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"hi\\u0000there\"}", I, "bad_request",
              NULL, "NUL");
    check_err("{\"type\":\"msg\",\"room\":\"R\",\"text\":\"hi\"}", I, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"hi\"}", CONN_NEW, "not_identified", NULL,
              NULL);
}

static void test_msg_length(void **state)
{
    (void)state;
    /* 4,000 code points pass whatever their size in bytes; 4,001 do not. */
    static const char *const units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\\u00e9"};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char *ok = msg_with_text(units[i], 4000), *big = msg_with_text(units[i], 4001);
        assert_int_equal(dec_id(ok), CODEC_FORWARD);
        assert_int_equal(g.cmd.cmd_case, CHAT__COMMAND__CMD_MSG);
        check_err(big, CONN_IDENTIFIED, "too_large", NULL, "4000 characters");
        free(ok);
        free(big);
    }

    /* A smaller configured limit. */
    struct codec_limits lim = LIM;
    lim.max_text = 3;
    assert_int_equal(dec_lim("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"abc\"}", CONN_IDENTIFIED,
                             "alice", &lim),
                     CODEC_FORWARD);
    check_err_lim("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"abcd\",\"id\":\"m\"}",
                  CONN_IDENTIFIED, "alice", &lim, "too_large", "m", "3 characters");

    /* Precedence: blank text (bad_request) over room_invalid; room_invalid
     * over too_large (same tier, field order); too_large over not_identified. */
    check_err_lim("{\"type\":\"msg\",\"room\":\"BAD\",\"text\":\"   \"}", CONN_IDENTIFIED, "alice",
                  &lim, "bad_request", NULL, "blank");
    check_err_lim("{\"type\":\"msg\",\"room\":\"BAD\",\"text\":\"abcd\"}", CONN_IDENTIFIED, "alice",
                  &lim, "room_invalid", NULL, NULL);
    check_err_lim("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"abcd\"}", CONN_NEW, NULL, &lim,
                  "too_large", NULL, NULL);
    check_err_lim("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"\"}", CONN_NEW, NULL, &lim,
                  "bad_request", NULL, NULL);
    check_err_lim("{\"type\":\"msg\",\"room\":5,\"text\":\"abcd\"}", CONN_NEW, NULL, &lim,
                  "bad_request", NULL, "\"room\"");
}

static void test_dm(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"dm\",\"to\":\"Bob\",\"text\":\"psst\",\"id\":\"d1\"}"),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_DM);
    assert_string_equal(c->id, "d1");
    assert_string_equal(c->dm->to, "Bob");
    assert_string_equal(c->dm->text, "psst");
    chat__command__free_unpacked(c, NULL);

    /* Nicks that only look like alice are others. */
    assert_int_equal(dec_id("{\"type\":\"dm\",\"to\":\"alice2\",\"text\":\"x\"}"), CODEC_FORWARD);
    assert_int_equal(dec_id("{\"type\":\"dm\",\"to\":\"alic\",\"text\":\"x\"}"), CODEC_FORWARD);
    assert_int_equal(dec_id("{\"type\":\"dm\",\"to\":\"alicf\",\"text\":\"x\"}"), CODEC_FORWARD);
    /* Not identified yet, no nick to compare with: the broker decides. */
    assert_int_equal(
        dec("{\"type\":\"dm\",\"to\":\"alice\",\"text\":\"x\"}", CONN_HELLO_SENT, NULL),
        CODEC_FORWARD);

    const enum conn_state I = CONN_IDENTIFIED;
    check_err("{\"type\":\"dm\",\"text\":\"x\"}", I, "bad_request", NULL, "missing \"to\"");
    check_err("{\"type\":\"dm\",\"to\":\"bob\"}", I, "bad_request", NULL, "missing \"text\"");
    check_err("{\"type\":\"dm\",\"to\":null,\"text\":\"x\"}", I, "bad_request", NULL, "\"to\"");
    check_err("{\"type\":\"dm\",\"to\":[],\"text\":\"x\"}", I, "bad_request", NULL, "\"to\"");
    check_err("{\"type\":\"dm\",\"to\":\"b\\u0000\",\"text\":\"x\"}", I, "bad_request", NULL,
              "NUL");
    check_err("{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"\\n\"}", I, "bad_request", NULL, "blank");
    check_err("{\"type\":\"dm\",\"to\":\"bob\",\"text\":false}", I, "bad_request", NULL,
              "\"text\"");
    check_err("{\"type\":\"dm\",\"to\":\"alice\",\"text\":\"x\",\"id\":\"d\"}", I, "bad_request",
              "d", "oneself");
    check_err("{\"type\":\"dm\",\"to\":\"ALiCE\",\"text\":\"x\"}", I, "bad_request", NULL,
              "oneself");
    check_err("{\"type\":\"dm\",\"to\":\"b b\",\"text\":\"x\"}", I, "nick_invalid", NULL, "\"to\"");
    check_err("{\"type\":\"dm\",\"to\":\"\",\"text\":\"x\"}", I, "nick_invalid", NULL, NULL);
    check_err("{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"x\"}", CONN_NEW, "not_identified", NULL,
              NULL);

    /* Precedence: DM to oneself (bad_request) over too_large. */
    char *big = with_text("{\"type\":\"dm\",\"to\":\"ALICE\",", "a", 4001);
    check_err(big, I, "bad_request", NULL, "oneself");
    free(big);
    big = with_text("{\"type\":\"dm\",\"to\":\"bob\",", "a", 4001);
    check_err(big, I, "too_large", NULL, NULL);
    free(big);
    big = with_text("{\"type\":\"dm\",\"to\":\"b b\",", "a", 4001);
    check_err(big, I, "nick_invalid", NULL, NULL);
    free(big);
    big = with_text("{\"type\":\"dm\",\"to\":\"b b\",", " ", 4001);
    check_err(big, I, "bad_request", NULL, "blank");
    free(big);
}

/* Nicks longer than the codec's folding chunk still compare right. */
static void test_dm_long_nicks(void **state)
{
    (void)state;
    struct codec_limits lim = LIM;
    lim.max_nick = 200;
    char self[151], to[151], buf[512];
    for (int i = 0; i < 150; i++) self[i] = (char)('a' + i % 26);
    self[150] = '\0';
    for (int i = 0; i < 150; i++) to[i] = (char)('A' + i % 26);
    to[150] = '\0';
    snprintf(buf, sizeof buf, "{\"type\":\"dm\",\"to\":\"%s\",\"text\":\"x\"}", to);
    check_err_lim(buf, CONN_IDENTIFIED, self, &lim, "bad_request", NULL, "oneself");
    to[140] = '_'; /* differs only in the third chunk */
    snprintf(buf, sizeof buf, "{\"type\":\"dm\",\"to\":\"%s\",\"text\":\"x\"}", to);
    assert_int_equal(dec_lim(buf, CONN_IDENTIFIED, self, &lim), CODEC_FORWARD);
    to[140] = 'K';
    to[149] = '\0'; /* a prefix */
    snprintf(buf, sizeof buf, "{\"type\":\"dm\",\"to\":\"%s\",\"text\":\"x\"}", to);
    assert_int_equal(dec_lim(buf, CONN_IDENTIFIED, self, &lim), CODEC_FORWARD);
}

/* ---------------------------------------------------------------- typing */

static void test_typing(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"typing\",\"room\":\"general\",\"active\":true}"),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_TYPING);
    assert_string_equal(c->typing->room, "general");
    assert_null(c->typing->to);
    assert_true(c->typing->active);
    chat__command__free_unpacked(c, NULL);

    assert_int_equal(dec_id("{\"type\":\"typing\",\"to\":\"bob\",\"active\":false}"),
                     CODEC_FORWARD);
    c = roundtrip(CHAT__COMMAND__CMD_TYPING);
    assert_null(c->typing->room);
    assert_string_equal(c->typing->to, "bob");
    assert_false(c->typing->active);
    chat__command__free_unpacked(c, NULL);

    const enum conn_state I = CONN_IDENTIFIED;
    check_err("{\"type\":\"typing\",\"active\":true}", I, "bad_request", NULL,
              "exactly one of \"room\" and \"to\"");
    check_err("{\"type\":\"typing\",\"room\":\"r\",\"to\":\"bob\",\"active\":true}", I,
              "bad_request", NULL, "exactly one");
    check_err("{\"type\":\"typing\",\"room\":null,\"to\":\"bob\",\"active\":true}", I,
              "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"typing\",\"room\":\"r\",\"to\":null,\"active\":true}", I, "bad_request",
              NULL, "\"to\"");
    check_err("{\"type\":\"typing\",\"room\":1,\"active\":true}", I, "bad_request", NULL,
              "\"room\"");
    check_err("{\"type\":\"typing\",\"to\":\"b\\u0000\",\"active\":true}", I, "bad_request", NULL,
              "NUL");
    check_err("{\"type\":\"typing\",\"room\":\"r\"}", I, "bad_request", NULL, "missing \"active\"");
    check_err("{\"type\":\"typing\",\"room\":\"r\",\"active\":\"true\"}", I, "bad_request", NULL,
              "\"active\" must be true or false");
    check_err("{\"type\":\"typing\",\"room\":\"r\",\"active\":1}", I, "bad_request", NULL,
              "\"active\"");
    check_err("{\"type\":\"typing\",\"room\":\"r\",\"active\":null}", I, "bad_request", NULL,
              "\"active\"");
    check_err("{\"type\":\"typing\",\"to\":\"Alice\",\"active\":true}", I, "bad_request", NULL,
              "oneself");
    check_err("{\"type\":\"typing\",\"room\":\"R\",\"active\":true}", I, "room_invalid", NULL,
              NULL);
    check_err("{\"type\":\"typing\",\"to\":\"b!\",\"active\":true}", I, "nick_invalid", NULL,
              "\"to\"");
    check_err("{\"type\":\"typing\",\"room\":\"r\",\"active\":true}", CONN_NEW, "not_identified",
              NULL, NULL);

    /* Precedence. */
    check_err("{\"type\":\"typing\",\"room\":\"BAD\"}", I, "bad_request", NULL, "active");
    check_err_lim("{\"type\":\"typing\",\"to\":\"alice\",\"active\":true}", CONN_NEW, NULL, &LIM,
                  "not_identified", NULL, NULL); /* no own nick before hello */
    check_err("{\"type\":\"typing\",\"to\":\"b!\",\"active\":true}", CONN_NEW, "nick_invalid", NULL,
              NULL);
}

/* ---------------------------------------------------------------- nick / who */

static void test_nick(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"nick\",\"nick\":\"alice2\",\"id\":\"n1\"}"),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_NICK);
    assert_string_equal(c->nick->nick, "alice2");
    assert_string_equal(c->id, "n1");
    chat__command__free_unpacked(c, NULL);
    /* To one's own nick, in any case: the broker acknowledges or announces. */
    assert_int_equal(dec_id("{\"type\":\"nick\",\"nick\":\"ALICE\"}"), CODEC_FORWARD);
    assert_int_equal(dec_id("{\"type\":\"nick\",\"nick\":\"alice\"}"), CODEC_FORWARD);

    check_err("{\"type\":\"nick\"}", CONN_IDENTIFIED, "bad_request", NULL, "missing \"nick\"");
    check_err("{\"type\":\"nick\",\"nick\":true}", CONN_IDENTIFIED, "bad_request", NULL,
              "\"nick\"");
    check_err("{\"type\":\"nick\",\"nick\":\"a/b\"}", CONN_IDENTIFIED, "nick_invalid", NULL,
              "\"nick\"");
    check_err("{\"type\":\"nick\",\"nick\":\"bob\"}", CONN_NEW, "not_identified", NULL, NULL);
}

static void test_who(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"who\",\"id\":\"w2\"}"), CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_WHO);
    assert_null(c->who->room);
    assert_string_equal(c->id, "w2");
    chat__command__free_unpacked(c, NULL);

    assert_int_equal(dec_id("{\"type\":\"who\",\"room\":\"general\"}"), CODEC_FORWARD);
    c = roundtrip(CHAT__COMMAND__CMD_WHO);
    assert_string_equal(c->who->room, "general");
    chat__command__free_unpacked(c, NULL);

    check_err("{\"type\":\"who\",\"room\":null}", CONN_IDENTIFIED, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"who\",\"room\":7}", CONN_IDENTIFIED, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"who\",\"room\":\"Gen\"}", CONN_IDENTIFIED, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"who\"}", CONN_NEW, "not_identified", NULL, NULL);
}

/* ---------------------------------------------------------------- history */

static void test_history(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"type\":\"history\",\"room\":\"general\",\"id\":\"h1\"}"),
                     CODEC_FORWARD);
    Chat__Command *c = roundtrip(CHAT__COMMAND__CMD_HISTORY);
    assert_string_equal(c->id, "h1");
    assert_string_equal(c->history->room, "general");
    assert_false(c->history->has_before);
    assert_int_equal(c->history->limit, 50);
    chat__command__free_unpacked(c, NULL);

    assert_int_equal(
        dec_id("{\"type\":\"history\",\"room\":\"general\",\"before\":58,\"limit\":20}"),
        CODEC_FORWARD);
    c = roundtrip(CHAT__COMMAND__CMD_HISTORY);
    assert_true(c->history->has_before);
    assert_int_equal(c->history->before, 58);
    assert_int_equal(c->history->limit, 20);
    chat__command__free_unpacked(c, NULL);

    static const struct {
        const char *limit;
        uint32_t want;
    } limits[] = {{"1", 1}, {"199", 199}, {"200", 200}, {"201", 200}, {"9223372036854775807", 200}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{\"type\":\"history\",\"room\":\"r\",\"limit\":%s}",
                 limits[i].limit);
        assert_int_equal(dec_id(buf), CODEC_FORWARD);
        assert_int_equal(g.cmd.history->limit, limits[i].want);
    }
    assert_int_equal(dec_id("{\"type\":\"history\",\"room\":\"r\",\"before\":0}"), CODEC_FORWARD);
    assert_true(g.body.history.has_before);
    assert_int_equal(g.body.history.before, 0);

    /* Configured default and maximum. */
    struct codec_limits lim = LIM;
    lim.history_default = 10;
    lim.history_max = 20;
    assert_int_equal(
        dec_lim("{\"type\":\"history\",\"room\":\"r\"}", CONN_IDENTIFIED, "alice", &lim),
        CODEC_FORWARD);
    assert_int_equal(g.body.history.limit, 10);
    assert_int_equal(dec_lim("{\"type\":\"history\",\"room\":\"r\",\"limit\":21}", CONN_IDENTIFIED,
                             "alice", &lim),
                     CODEC_FORWARD);
    assert_int_equal(g.body.history.limit, 20);

    const enum conn_state I = CONN_IDENTIFIED;
    check_err("{\"type\":\"history\"}", I, "bad_request", NULL, "missing \"room\"");
    check_err("{\"type\":\"history\",\"room\":false}", I, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"limit\":0}", I, "bad_request", NULL,
              "\"limit\" must be at least 1");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"limit\":-5}", I, "bad_request", NULL,
              "\"limit\"");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"limit\":5.0}", I, "bad_request", NULL,
              "\"limit\" must be an integer");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"limit\":\"10\"}", I, "bad_request", NULL,
              "\"limit\"");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"limit\":null}", I, "bad_request", NULL,
              "\"limit\"");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"before\":-1}", I, "bad_request", NULL,
              "\"before\" must not be negative");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"before\":1.5}", I, "bad_request", NULL,
              "\"before\"");
    check_err("{\"type\":\"history\",\"room\":\"r\",\"before\":null}", I, "bad_request", NULL,
              "\"before\"");
    check_err("{\"type\":\"history\",\"room\":\"R\"}", I, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"history\",\"room\":\"R\",\"limit\":0}", I, "bad_request", NULL, "limit");
    check_err("{\"type\":\"history\",\"room\":\"r\"}", CONN_NEW, "not_identified", NULL, NULL);
}

/* ---------------------------------------------------------------- misc */

static void test_extra_fields_ignored(void **state)
{
    (void)state;
    assert_int_equal(dec_id("{\"v\":2,\"type\":\"join\",\"room\":\"a\",\"extra\":{\"x\":[1,2]},"
                            "\"foo\":null,\"text\":5,\"limit\":-1}"),
                     CODEC_FORWARD);
    assert_int_equal(g.cmd.cmd_case, CHAT__COMMAND__CMD_JOIN);
    assert_string_equal(g.cmd.join->room, "a");
}

static void test_clear(void **state)
{
    (void)state;
    static const char ok[] =
        "{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\",\"rooms\":{\"r\":1}}}";
    static const char bad[] = "{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":"
                              "\"s\",\"rooms\":{\"r\":1,\"s\":\"x\"}}}";
    struct codec_cmd c;
    memset(&c, 0xAB, sizeof c); /* codec_decode needs no initialised out */
    assert_int_equal(codec_decode(ok, sizeof ok - 1, CONN_NEW, NULL, &LIM, &c), CODEC_FORWARD);
    assert_null(c.err_code);
    codec_cmd_clear(&c);
    assert_null(c.root);
    assert_null(c.resume_rooms);
    codec_cmd_clear(&c); /* twice is fine */
    codec_cmd_clear(NULL);

    /* An error halfway through resume.rooms frees what was built. */
    assert_int_equal(codec_decode(bad, sizeof bad - 1, CONN_NEW, NULL, &LIM, &c), CODEC_ERROR);
    assert_string_equal(c.err_code, "bad_request");
    codec_cmd_clear(&c);
}

/* ---------------------------------------------------------------- out of memory */

static long allocs_left = -1; /* < 0: no limit */
static long allocs_made;

static void *failing_malloc(size_t n)
{
    if (allocs_left == 0) return NULL;
    if (allocs_left > 0) allocs_left--;
    allocs_made++;
    return malloc(n);
}

/* Every allocation failure is an error that leaks nothing. The codec's own
 * (the resume rooms) and those jansson reports as such are "internal"; jansson
 * reports some of its own as syntax errors, which stay bad_json. */
static void test_out_of_memory(void **state)
{
    (void)state;
    const char *frame = "{\"type\":\"hello\",\"nick\":\"alice\",\"id\":\"h\",\"resume\":{"
                        "\"session\":\"s\",\"rooms\":{\"a\":1,\"b\":2}}}";
    json_set_alloc_funcs(failing_malloc, free);
    allocs_made = 0;
    json_t *j = json_loads(frame, 0, NULL);
    assert_non_null(j);
    json_decref(j);
    long parse_allocs = allocs_made;

    int internal_in_parse = 0, internal_after = 0;
    for (long n = 0;; n++) {
        allocs_left = n;
        enum codec_result r = dec(frame, CONN_NEW, NULL);
        allocs_left = -1;
        if (r == CODEC_FORWARD) break;
        assert_int_equal(r, CODEC_ERROR);
        assert_true(n < 1000);
        if (n < parse_allocs && strcmp(g.err_code, "bad_json") == 0) continue;
        if (strcmp(g.err_code, "internal") != 0)
            fail_msg("allocation %ld failing gave %s (%s)", n, g.err_code, g.err_msg);
        assert_string_equal(g.err_msg, "out of memory");
        if (n < parse_allocs)
            internal_in_parse++;
        else
            internal_after++;
    }
    codec_cmd_clear(&g);
    json_set_alloc_funcs(malloc, free);
    assert_true(internal_in_parse > 0);
    assert_int_equal(internal_after, 2); /* the two resume arrays */
    assert_int_equal(g.cmd.cmd_case, CHAT__COMMAND__CMD__NOT_SET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bad_json, teardown),
        cmocka_unit_test_teardown(test_bad_json_raw_nul_and_length, teardown),
        cmocka_unit_test_teardown(test_unrepresentable_json, teardown),
        cmocka_unit_test_teardown(test_id, teardown),
        cmocka_unit_test_teardown(test_type, teardown),
        cmocka_unit_test_teardown(test_ping, teardown),
        cmocka_unit_test_teardown(test_hello_ok, teardown),
        cmocka_unit_test_teardown(test_hello_resume_ok, teardown),
        cmocka_unit_test_teardown(test_hello_errors, teardown),
        cmocka_unit_test_teardown(test_hello_precedence, teardown),
        cmocka_unit_test_teardown(test_join, teardown),
        cmocka_unit_test_teardown(test_leave, teardown),
        cmocka_unit_test_teardown(test_msg, teardown),
        cmocka_unit_test_teardown(test_msg_length, teardown),
        cmocka_unit_test_teardown(test_dm, teardown),
        cmocka_unit_test_teardown(test_dm_long_nicks, teardown),
        cmocka_unit_test_teardown(test_typing, teardown),
        cmocka_unit_test_teardown(test_nick, teardown),
        cmocka_unit_test_teardown(test_who, teardown),
        cmocka_unit_test_teardown(test_history, teardown),
        cmocka_unit_test_teardown(test_extra_fields_ignored, teardown),
        cmocka_unit_test_teardown(test_clear, teardown),
        cmocka_unit_test_teardown(test_out_of_memory, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
