/* Tests for gateway/codec.c: the successful decoding of every command, with
 * its defaults, clamping and has_ flags. Error paths and their precedence
 * are in test_codec_errors.c. */
#include "codec_helpers.h"

/* ---------------------------------------------------------------- ping */

static void test_ping(void **state)
{
    (void)state;
    check_ok("{\"type\":\"ping\"}", CONN_NEW, CODEC_PING);
    assert_null(g.id);
    check_ok("{\"type\":\"ping\",\"id\":\"p1\"}", CONN_NEW, CODEC_PING);
    assert_string_equal(g.id, "p1");
    check_ok("{\"type\":\"ping\",\"id\":\"p2\"}", CONN_HELLO_SENT, CODEC_PING);
    assert_string_equal(g.id, "p2");
    check_ok("{\"id\":\"p3\",\"type\":\"ping\",\"room\":5,\"x\":null}", CONN_IDENTIFIED,
             CODEC_PING);
    assert_string_equal(g.id, "p3");
}

/* ---------------------------------------------------------------- hello */

static void test_hello_ok(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"hello\",\"nick\":\"alice\",\"id\":\"h\"}", CONN_NEW,
                                 CHAT__COMMAND__CMD_HELLO);
    assert_string_equal(g.id, "h");
    assert_string_equal(c->id, "h");
    assert_string_equal(c->hello->nick, "alice");
    assert_null(c->hello->resume_session);
    assert_int_equal(c->hello->n_resume_rooms, 0);
    assert_false(c->hello->has_authenticated);
    chat__command__free_unpacked(c, NULL);

    /* Every character class, and the longest nick. */
    check_ok("{\"type\":\"hello\",\"nick\":\"A-z_0.9\"}", CONN_NEW, CODEC_FORWARD);
    assert_string_equal(g.body.hello.nick, "A-z_0.9");
    char *n32 = repeat('N', 32);
    check_ok(fmt_frame("{\"type\":\"hello\",\"nick\":\"%s\"}", n32), CONN_NEW, CODEC_FORWARD);
    assert_string_equal(g.cmd.hello->nick, n32);
    free(n32);

    /* A token is only type-checked for now. */
    check_ok("{\"type\":\"hello\",\"nick\":\"bob\",\"token\":\"x.y.z\"}", CONN_NEW, CODEC_FORWARD);
    assert_false(g.cmd.hello->has_authenticated);

    /* A hello while one is pending goes to the broker. */
    check_ok("{\"type\":\"hello\",\"nick\":\"bob\"}", CONN_HELLO_SENT, CODEC_FORWARD);
    assert_int_equal(g.cmd.cmd_case, CHAT__COMMAND__CMD_HELLO);

    /* Unknown fields are ignored. */
    check_ok("{\"type\":\"hello\",\"nick\":\"bob\",\"client\":{\"v\":[1,2.5,null]},\"z\":null}",
             CONN_NEW, CODEC_FORWARD);
}

static void test_hello_resume_ok(void **state)
{
    (void)state;
    Chat__Command *c =
        forwarded("{\"type\":\"hello\",\"nick\":\"alice\",\"resume\":{\"session\":\"s1\","
                  "\"rooms\":{\"general\":41,\"#b\":0,\"c\":9007199254740993}}}",
                  CONN_NEW, CHAT__COMMAND__CMD_HELLO);
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
    check_ok("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"s\"}}", CONN_NEW,
             CODEC_FORWARD);
    assert_string_equal(g.cmd.hello->resume_session, "s");
    assert_int_equal(g.cmd.hello->n_resume_rooms, 0);
    check_ok("{\"type\":\"hello\",\"nick\":\"a\",\"resume\":{\"session\":\"\","
             "\"rooms\":{},\"x\":1}}",
             CONN_NEW, CODEC_FORWARD);
    assert_string_equal(g.cmd.hello->resume_session, "");
    assert_int_equal(g.cmd.hello->n_resume_rooms, 0);
    c = roundtrip(CHAT__COMMAND__CMD_HELLO);
    chat__command__free_unpacked(c, NULL);
}

/* ---------------------------------------------------------------- join / leave */

static void test_join(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"join\",\"room\":\"general\",\"id\":\"j1\"}",
                                 CONN_IDENTIFIED, CHAT__COMMAND__CMD_JOIN);
    assert_string_equal(c->id, "j1");
    assert_string_equal(c->join->room, "general");
    assert_false(c->join->has_since);
    chat__command__free_unpacked(c, NULL);

    c = forwarded("{\"type\":\"join\",\"room\":\"#a-b_c.9\",\"since\":41}", CONN_IDENTIFIED,
                  CHAT__COMMAND__CMD_JOIN);
    assert_null(c->id);
    assert_string_equal(c->join->room, "#a-b_c.9");
    assert_true(c->join->has_since);
    assert_int_equal(c->join->since, 41);
    chat__command__free_unpacked(c, NULL);

    check_fwd("{\"type\":\"join\",\"room\":\"r\",\"since\":0}");
    assert_true(g.body.join.has_since);
    assert_int_equal(g.body.join.since, 0);
    check_fwd("{\"type\":\"join\",\"room\":\"r\",\"since\":-0}");
    assert_int_equal(g.body.join.since, 0);
    check_fwd("{\"type\":\"join\",\"room\":\"r\",\"since\":9223372036854775807}");
    assert_true(g.body.join.since == 9223372036854775807ULL);

    /* The longest room; a join while the hello is pending goes to the broker. */
    char *r64 = repeat('r', 64);
    check_ok(fmt_frame("{\"type\":\"join\",\"room\":\"%s\"}", r64), CONN_HELLO_SENT, CODEC_FORWARD);
    assert_string_equal(g.cmd.join->room, r64);
    free(r64);
}

static void test_leave(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"leave\",\"room\":\"general\",\"id\":\"l\"}",
                                 CONN_IDENTIFIED, CHAT__COMMAND__CMD_LEAVE);
    assert_string_equal(c->leave->room, "general");
    assert_string_equal(c->id, "l");
    chat__command__free_unpacked(c, NULL);
}

/* ---------------------------------------------------------------- msg / dm */

static void test_msg(void **state)
{
    (void)state;
    Chat__Command *c = forwarded(
        "{\"type\":\"msg\",\"room\":\"general\",\"text\":\"hi \\\"you\\\"\\n\\u00e9\\ud83d"
        "\\ude00 \xe2\x82\xac\",\"id\":\"m1\"}",
        CONN_IDENTIFIED, CHAT__COMMAND__CMD_MSG);
    assert_string_equal(c->id, "m1");
    assert_string_equal(c->msg->room, "general");
    assert_string_equal(c->msg->text, "hi \"you\"\n\xc3\xa9\xf0\x9f\x98\x80 \xe2\x82\xac");
    chat__command__free_unpacked(c, NULL);

    /* Leading and trailing space is kept; one visible character is enough. */
    check_fwd("{\"type\":\"msg\",\"room\":\"r\",\"text\":\"  .  \"}");
    assert_string_equal(g.body.msg.text, "  .  ");
}

static void test_dm(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"dm\",\"to\":\"Bob\",\"text\":\"psst\",\"id\":\"d1\"}",
                                 CONN_IDENTIFIED, CHAT__COMMAND__CMD_DM);
    assert_string_equal(c->id, "d1");
    assert_string_equal(c->dm->to, "Bob");
    assert_string_equal(c->dm->text, "psst");
    chat__command__free_unpacked(c, NULL);

    /* Nicks that only look like alice are others. */
    check_fwd("{\"type\":\"dm\",\"to\":\"alice2\",\"text\":\"x\"}");
    check_fwd("{\"type\":\"dm\",\"to\":\"alic\",\"text\":\"x\"}");
    check_fwd("{\"type\":\"dm\",\"to\":\"alicf\",\"text\":\"x\"}");
    /* Not identified yet, no nick to compare with: the broker decides. */
    check_ok("{\"type\":\"dm\",\"to\":\"alice\",\"text\":\"x\"}", CONN_HELLO_SENT, CODEC_FORWARD);
}

/* ---------------------------------------------------------------- typing */

static void test_typing(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"typing\",\"room\":\"general\",\"active\":true}",
                                 CONN_IDENTIFIED, CHAT__COMMAND__CMD_TYPING);
    assert_string_equal(c->typing->room, "general");
    assert_null(c->typing->to);
    assert_true(c->typing->active);
    chat__command__free_unpacked(c, NULL);

    c = forwarded("{\"type\":\"typing\",\"to\":\"bob\",\"active\":false}", CONN_IDENTIFIED,
                  CHAT__COMMAND__CMD_TYPING);
    assert_null(c->typing->room);
    assert_string_equal(c->typing->to, "bob");
    assert_false(c->typing->active);
    chat__command__free_unpacked(c, NULL);
}

/* ---------------------------------------------------------------- nick / who */

static void test_nick(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"nick\",\"nick\":\"alice2\",\"id\":\"n1\"}",
                                 CONN_IDENTIFIED, CHAT__COMMAND__CMD_NICK);
    assert_string_equal(c->nick->nick, "alice2");
    assert_string_equal(c->id, "n1");
    chat__command__free_unpacked(c, NULL);
    /* To one's own nick, in any case: the broker acknowledges or announces. */
    check_fwd("{\"type\":\"nick\",\"nick\":\"ALICE\"}");
    check_fwd("{\"type\":\"nick\",\"nick\":\"alice\"}");
}

static void test_who(void **state)
{
    (void)state;
    Chat__Command *c =
        forwarded("{\"type\":\"who\",\"id\":\"w2\"}", CONN_IDENTIFIED, CHAT__COMMAND__CMD_WHO);
    assert_null(c->who->room);
    assert_string_equal(c->id, "w2");
    chat__command__free_unpacked(c, NULL);

    c = forwarded("{\"type\":\"who\",\"room\":\"general\"}", CONN_IDENTIFIED,
                  CHAT__COMMAND__CMD_WHO);
    assert_string_equal(c->who->room, "general");
    chat__command__free_unpacked(c, NULL);
}

/* ---------------------------------------------------------------- history */

static void test_history(void **state)
{
    (void)state;
    Chat__Command *c = forwarded("{\"type\":\"history\",\"room\":\"general\",\"id\":\"h1\"}",
                                 CONN_IDENTIFIED, CHAT__COMMAND__CMD_HISTORY);
    assert_string_equal(c->id, "h1");
    assert_string_equal(c->history->room, "general");
    assert_false(c->history->has_before);
    assert_int_equal(c->history->limit, 50);
    chat__command__free_unpacked(c, NULL);

    c = forwarded("{\"type\":\"history\",\"room\":\"general\",\"before\":58,\"limit\":20}",
                  CONN_IDENTIFIED, CHAT__COMMAND__CMD_HISTORY);
    assert_true(c->history->has_before);
    assert_int_equal(c->history->before, 58);
    assert_int_equal(c->history->limit, 20);
    chat__command__free_unpacked(c, NULL);

    static const struct {
        const char *limit;
        uint32_t want;
    } limits[] = {{"1", 1}, {"199", 199}, {"200", 200}, {"201", 200}, {"9223372036854775807", 200}};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        check_fwd(fmt_frame("{\"type\":\"history\",\"room\":\"r\",\"limit\":%s}", limits[i].limit));
        assert_int_equal(g.cmd.history->limit, limits[i].want);
    }
    check_fwd("{\"type\":\"history\",\"room\":\"r\",\"before\":0}");
    assert_true(g.body.history.has_before);
    assert_int_equal(g.body.history.before, 0);

    /* Configured default and maximum. */
    struct codec_limits lim = LIM;
    lim.history_default = 10;
    lim.history_max = 20;
    check_ok_lim("{\"type\":\"history\",\"room\":\"r\"}", CONN_IDENTIFIED, &lim, CODEC_FORWARD);
    assert_int_equal(g.body.history.limit, 10);
    check_ok_lim("{\"type\":\"history\",\"room\":\"r\",\"limit\":21}", CONN_IDENTIFIED, &lim,
                 CODEC_FORWARD);
    assert_int_equal(g.body.history.limit, 20);
}

/* ---------------------------------------------------------------- misc */

static void test_extra_fields_ignored(void **state)
{
    (void)state;
    check_fwd("{\"v\":2,\"type\":\"join\",\"room\":\"a\",\"extra\":{\"x\":[1,2]},"
              "\"foo\":null,\"text\":5,\"limit\":-1}");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ping, teardown),
        cmocka_unit_test_teardown(test_hello_ok, teardown),
        cmocka_unit_test_teardown(test_hello_resume_ok, teardown),
        cmocka_unit_test_teardown(test_join, teardown),
        cmocka_unit_test_teardown(test_leave, teardown),
        cmocka_unit_test_teardown(test_msg, teardown),
        cmocka_unit_test_teardown(test_dm, teardown),
        cmocka_unit_test_teardown(test_typing, teardown),
        cmocka_unit_test_teardown(test_nick, teardown),
        cmocka_unit_test_teardown(test_who, teardown),
        cmocka_unit_test_teardown(test_history, teardown),
        cmocka_unit_test_teardown(test_extra_fields_ignored, teardown),
        cmocka_unit_test_teardown(test_clear, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
