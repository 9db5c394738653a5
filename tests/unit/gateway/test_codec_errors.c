/* Tests for gateway/codec.c: every error path, and the precedence of
 * PROTOCOL.md's "Precise rules". Successful decoding is in
 * test_codec_commands.c. */
#include "codec_helpers.h"

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

/* check_err of with_text(prefix, unit, n), sent by alice. */
static void check_err_text(const char *prefix, const char *unit, size_t n, const char *code,
                           const char *what)
{
    char *json = with_text(prefix, unit, n);
    check_err(json, CONN_IDENTIFIED, code, NULL, what);
    free(json);
}

/* A hello of nick "a" resuming session "s" with the given "rooms" JSON. */
#define RESUME_ROOMS(rooms)                                                                        \
    "{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\",\"rooms\":" rooms "}}"

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
    assert_int_equal(dec_len(nul_outside, sizeof nul_outside - 1, CONN_NEW, NULL, &LIM),
                     CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");
    assert_int_equal(dec_len(nul_inside, sizeof nul_inside - 1, CONN_NEW, NULL, &LIM), CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");

    /* Only len bytes are the frame. */
    const char *s = "{\"type\":\"ping\"}garbage";
    assert_int_equal(dec_len(s, 15, CONN_NEW, NULL, &LIM), CODEC_PING);
    assert_int_equal(dec_len(s, 14, CONN_NEW, NULL, &LIM), CODEC_ERROR);
    assert_string_equal(g.err_code, "bad_json");
    assert_int_equal(dec_len(NULL, 0, CONN_NEW, NULL, &LIM), CODEC_ERROR);
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
    check_fwd("{\"type\":\"leave\",\"room\":\"r\",\"id\":\"l1\"}");
    assert_string_equal(g.id, "l1");
    assert_string_equal(g.cmd.id, "l1");
    check_ok("{\"id\":\"\",\"type\":\"ping\"}", CONN_IDENTIFIED, CODEC_PING);
    assert_string_equal(g.id, "");
    check_err("{\"type\":\"bogus\",\"id\":\"e1\"}", CONN_NEW, "bad_request", "e1", "bogus");

    /* No id: nothing to echo. */
    check_fwd("{\"type\":\"leave\",\"room\":\"r\"}");
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
    static const char ping[] = "{\"type\":\"ping\",\"id\":\"%s\"}";
    char *a64 = repeat('a', 64), *a65 = repeat('a', 65);
    check_ok(fmt_frame(ping, a64), CONN_NEW, CODEC_PING);
    assert_string_equal(g.id, a64);
    check_err(fmt_frame(ping, a65), CONN_NEW, "bad_request", NULL, "64 characters");
    free(a64);
    free(a65);

    char id[600] = "";
    for (int i = 0; i < 64; i++) strcat(id, "\xc3\xa9"); /* é: 2 bytes each */
    check_ok(fmt_frame(ping, id), CONN_NEW, CODEC_PING);
    assert_string_equal(g.id, id);
    strcat(id, "\xf0\x9f\x98\x80"); /* one 4-byte code point more */
    check_err(fmt_frame(ping, id), CONN_NEW, "bad_request", NULL, "id");
    check_ok(fmt_frame(ping, "\\u00e9\\u00e9"), CONN_NEW, CODEC_PING);
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

/* ---------------------------------------------------------------- hello */

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
    char *n33 = repeat('n', 33);
    check_err(fmt_frame("{\"type\":\"hello\",\"nick\":\"%s\",\"id\":\"h\"}", n33), N,
              "nick_invalid", "h", "\"nick\"");
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
    check_err(RESUME_ROOMS("[]"), N, "bad_request", NULL, "\"resume.rooms\" must be an object");
    check_err(RESUME_ROOMS("null"), N, "bad_request", NULL, "\"resume.rooms\"");
    check_err(RESUME_ROOMS("{\"r\":\"4\"}"), N, "bad_request", NULL, "\"resume.rooms\"");
    check_err(RESUME_ROOMS("{\"r\":1,\"s\":4.0}"), N, "bad_request", NULL, "\"resume.rooms\"");
    check_err(RESUME_ROOMS("{\"r\":null}"), N, "bad_request", NULL, "\"resume.rooms\"");
    check_err(RESUME_ROOMS("{\"r\":-1}"), N, "bad_request", NULL, "negative");
    check_err(RESUME_ROOMS("{\"ok\":1,\"Bad\":2}"), N, "room_invalid", NULL, "\"resume.rooms\"");
    check_err(RESUME_ROOMS("{\"\":2}"), N, "room_invalid", NULL, "\"resume.rooms\"");
}

static void test_hello_precedence(void **state)
{
    (void)state;
    /* A second hello after welcome is bad_request, even with a bad nick. */
    check_err("{\"type\":\"hello\",\"nick\":\"alice\",\"id\":\"h2\"}", CONN_IDENTIFIED,
              "bad_request", "h2", "second \"hello\"");
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\"}", CONN_IDENTIFIED, "bad_request", NULL,
              "second");
    check_err(RESUME_ROOMS("{\"BAD\":1}"), CONN_IDENTIFIED, "bad_request", NULL, "second");
    /* ... but its own malformed fields are reported as such. */
    check_err("{\"type\":\"hello\"}", CONN_IDENTIFIED, "bad_request", NULL, "\"nick\"");
    /* bad_request beats nick_invalid and room_invalid. */
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\",\"token\":false}", CONN_NEW, "bad_request",
              NULL, "\"token\"");
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\",\"resume\":[]}", CONN_NEW, "bad_request",
              NULL, "\"resume\"");
    check_err(RESUME_ROOMS("{\"BAD\":1,\"ok\":-3}"), CONN_NEW, "bad_request", NULL, "negative");
    /* nick_invalid comes before the resume rooms' room_invalid. */
    check_err("{\"type\":\"hello\",\"nick\":\"bad nick\",\"resume\":{\"session\":\"s\","
              "\"rooms\":{\"BAD\":1}}}",
              CONN_NEW, "nick_invalid", NULL, NULL);
}

/* ---------------------------------------------------------------- join / leave */

static void test_join_errors(void **state)
{
    (void)state;
    const enum conn_state I = CONN_IDENTIFIED;
    char *r65 = repeat('r', 65); /* one more than the longest room */
    check_err(fmt_frame("{\"type\":\"join\",\"room\":\"%s\"}", r65), I, "room_invalid", NULL,
              "1-64");
    free(r65);

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

static void test_leave_errors(void **state)
{
    (void)state;
    check_err("{\"type\":\"leave\"}", CONN_IDENTIFIED, "bad_request", NULL, "missing \"room\"");
    check_err("{\"type\":\"leave\",\"room\":[]}", CONN_IDENTIFIED, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"leave\",\"room\":\"A\"}", CONN_IDENTIFIED, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"leave\",\"room\":\"a\"}", CONN_NEW, "not_identified", NULL, NULL);
}

/* ---------------------------------------------------------------- msg / dm */

static void test_msg_errors(void **state)
{
    (void)state;
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
        check_fwd(ok);
        assert_int_equal(g.cmd.cmd_case, CHAT__COMMAND__CMD_MSG);
        check_err(big, CONN_IDENTIFIED, "too_large", NULL, "4000 characters");
        free(ok);
        free(big);
    }

    /* A smaller configured limit. */
    struct codec_limits lim = LIM;
    lim.max_text = 3;
    check_ok_lim("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"abc\"}", CONN_IDENTIFIED, &lim,
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

static void test_dm_errors(void **state)
{
    (void)state;
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
    check_err_text("{\"type\":\"dm\",\"to\":\"ALICE\",", "a", 4001, "bad_request", "oneself");
    check_err_text("{\"type\":\"dm\",\"to\":\"bob\",", "a", 4001, "too_large", NULL);
    check_err_text("{\"type\":\"dm\",\"to\":\"b b\",", "a", 4001, "nick_invalid", NULL);
    check_err_text("{\"type\":\"dm\",\"to\":\"b b\",", " ", 4001, "bad_request", "blank");
}

/* Nicks longer than the codec's folding chunk still compare right. */
static void test_dm_long_nicks(void **state)
{
    (void)state;
    static const char dm[] = "{\"type\":\"dm\",\"to\":\"%s\",\"text\":\"x\"}";
    struct codec_limits lim = LIM;
    lim.max_nick = 200;
    char self[151], to[151];
    for (int i = 0; i < 150; i++) self[i] = (char)('a' + i % 26);
    self[150] = '\0';
    for (int i = 0; i < 150; i++) to[i] = (char)('A' + i % 26);
    to[150] = '\0';
    check_err_lim(fmt_frame(dm, to), CONN_IDENTIFIED, self, &lim, "bad_request", NULL, "oneself");
    to[140] = '_'; /* differs only in the third chunk */
    assert_int_equal(dec_lim(fmt_frame(dm, to), CONN_IDENTIFIED, self, &lim), CODEC_FORWARD);
    to[140] = 'K';
    to[149] = '\0'; /* a prefix */
    assert_int_equal(dec_lim(fmt_frame(dm, to), CONN_IDENTIFIED, self, &lim), CODEC_FORWARD);
}

/* ---------------------------------------------------------------- typing */

static void test_typing_errors(void **state)
{
    (void)state;
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

static void test_nick_errors(void **state)
{
    (void)state;
    check_err("{\"type\":\"nick\"}", CONN_IDENTIFIED, "bad_request", NULL, "missing \"nick\"");
    check_err("{\"type\":\"nick\",\"nick\":true}", CONN_IDENTIFIED, "bad_request", NULL,
              "\"nick\"");
    check_err("{\"type\":\"nick\",\"nick\":\"a/b\"}", CONN_IDENTIFIED, "nick_invalid", NULL,
              "\"nick\"");
    check_err("{\"type\":\"nick\",\"nick\":\"bob\"}", CONN_NEW, "not_identified", NULL, NULL);
}

static void test_who_errors(void **state)
{
    (void)state;
    check_err("{\"type\":\"who\",\"room\":null}", CONN_IDENTIFIED, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"who\",\"room\":7}", CONN_IDENTIFIED, "bad_request", NULL, "\"room\"");
    check_err("{\"type\":\"who\",\"room\":\"Gen\"}", CONN_IDENTIFIED, "room_invalid", NULL, NULL);
    check_err("{\"type\":\"who\"}", CONN_NEW, "not_identified", NULL, NULL);
}

/* ---------------------------------------------------------------- history */

static void test_history_errors(void **state)
{
    (void)state;
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
        cmocka_unit_test_teardown(test_hello_errors, teardown),
        cmocka_unit_test_teardown(test_hello_precedence, teardown),
        cmocka_unit_test_teardown(test_join_errors, teardown),
        cmocka_unit_test_teardown(test_leave_errors, teardown),
        cmocka_unit_test_teardown(test_msg_errors, teardown),
        cmocka_unit_test_teardown(test_msg_length, teardown),
        cmocka_unit_test_teardown(test_dm_errors, teardown),
        cmocka_unit_test_teardown(test_dm_long_nicks, teardown),
        cmocka_unit_test_teardown(test_typing_errors, teardown),
        cmocka_unit_test_teardown(test_nick_errors, teardown),
        cmocka_unit_test_teardown(test_who_errors, teardown),
        cmocka_unit_test_teardown(test_history_errors, teardown),
        cmocka_unit_test_teardown(test_out_of_memory, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
