/* Tests for gateway/render.c: the exact JSON of every event, escaping, and
 * the reference counting of frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "render.h"

/* Checks that f is exactly `want`: one reference, the right length, "type"
 * first, and parseable back into the same JSON. Drops f. */
static void check_frame(struct frame *f, const char *want)
{
    assert_non_null(f);
    assert_int_equal(f->refs, 1);
    const char *got = (const char *)frame_payload(f);
    assert_int_equal(f->len, strlen(want));
    if (memcmp(got, want, f->len) != 0) fail_msg("got  %.*s\nwant %s", (int)f->len, got, want);
    assert_memory_equal(got, "{\"type\":\"", 9);

    json_error_t err;
    json_t *a = json_loadb(got, f->len, 0, &err);
    json_t *b = json_loads(want, 0, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(json_is_object(a));
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);
    frame_unref(f);
}

static Chat__Event event(Chat__Event__EvCase c, void *body, const char *id)
{
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = c;
    ev.welcome = body; /* the union: any member will do */
    ev.id = (char *)id;
    return ev;
}

static struct frame *render(Chat__Event__EvCase c, void *body, const char *id)
{
    Chat__Event ev = event(c, body, id);
    return render_event(&ev);
}

/* A room message event (the strings are not copied). */
static Chat__MsgEvent msg_event(const char *room, uint64_t seq, const char *from, const char *text,
                                uint64_t ts)
{
    Chat__MsgEvent m = CHAT__MSG_EVENT__INIT;
    m.room = (char *)room;
    m.seq = seq;
    m.from = (char *)from;
    m.text = (char *)text;
    m.ts = ts;
    return m;
}

/* ---------------------------------------------------------------- frames */

static void test_frame_refs(void **state)
{
    (void)state;
    struct frame *f = frame_new("{\"a\":1}", 7);
    assert_non_null(f);
    assert_int_equal(f->refs, 1);
    assert_int_equal(f->len, 7);
    assert_ptr_equal(frame_payload(f), f->data + FRAME_PRE);
    assert_memory_equal(frame_payload(f), "{\"a\":1}", 7);
    frame_ref(f);
    frame_ref(f);
    assert_int_equal(f->refs, 3);
    frame_unref(f);
    frame_unref(f);
    assert_int_equal(f->refs, 1);
    frame_unref(f); /* freed: ASan would catch a leak or a double free */
    frame_unref(NULL);
    frame_ref(NULL);

    f = frame_new("", 0);
    assert_non_null(f);
    assert_int_equal(f->len, 0);
    frame_unref(f);
    f = frame_new(NULL, 0);
    assert_non_null(f);
    frame_unref(f);

    /* The copy is independent of its source. */
    char src[] = "{\"b\":2}";
    f = frame_new(src, 7);
    src[1] = 'X';
    assert_memory_equal(frame_payload(f), "{\"b\":2}", 7);
    frame_unref(f);
}

/* ---------------------------------------------------------------- events */

static void test_welcome(void **state)
{
    (void)state;
    Chat__Welcome w = CHAT__WELCOME__INIT;
    w.nick = "alice";
    w.session = "s-1";
    w.online = 12;
    w.resumed = 0;
    check_frame(render(CHAT__EVENT__EV_WELCOME, &w, NULL),
                "{\"type\":\"welcome\",\"nick\":\"alice\",\"session\":\"s-1\",\"online\":12,"
                "\"resumed\":false}");
    w.resumed = 1;
    check_frame(render(CHAT__EVENT__EV_WELCOME, &w, "h1"),
                "{\"type\":\"welcome\",\"nick\":\"alice\",\"session\":\"s-1\",\"online\":12,"
                "\"resumed\":true,\"id\":\"h1\"}");
}

static void test_joined(void **state)
{
    (void)state;
    char *members[] = {"alice", "bob"};
    Chat__MsgEvent m = msg_event("general", 57, "bob", "x", 1);
    Chat__MsgEvent *replay[] = {&m};
    Chat__Joined j = CHAT__JOINED__INIT;
    j.room = "general";
    j.n_members = 2;
    j.members = members;
    j.seq = 57;
    j.n_replay = 1; /* replays are render_msg()'s, never in "joined" */
    j.replay = replay;
    check_frame(render(CHAT__EVENT__EV_JOINED, &j, "j1"),
                "{\"type\":\"joined\",\"room\":\"general\",\"members\":[\"alice\",\"bob\"],"
                "\"seq\":57,\"id\":\"j1\"}");
    j.n_members = 0;
    j.members = NULL;
    j.seq = 0;
    check_frame(render(CHAT__EVENT__EV_JOINED, &j, NULL),
                "{\"type\":\"joined\",\"room\":\"general\",\"members\":[],\"seq\":0}");
}

static void test_left(void **state)
{
    (void)state;
    Chat__Left l = CHAT__LEFT__INIT;
    l.room = "general";
    check_frame(render(CHAT__EVENT__EV_LEFT, &l, NULL), "{\"type\":\"left\",\"room\":\"general\"}");
    check_frame(render(CHAT__EVENT__EV_LEFT, &l, "l1"),
                "{\"type\":\"left\",\"room\":\"general\",\"id\":\"l1\"}");
}

static void test_ack(void **state)
{
    (void)state;
    Chat__Ack a = CHAT__ACK__INIT;
    /* msg */
    a.room = "general";
    a.has_seq = 1;
    a.seq = 58;
    a.has_ts = 1;
    a.ts = 1763769600123ULL;
    check_frame(render(CHAT__EVENT__EV_ACK, &a, "m1"),
                "{\"type\":\"ack\",\"id\":\"m1\",\"room\":\"general\",\"seq\":58,"
                "\"ts\":1763769600123}");
    /* msg without id */
    check_frame(render(CHAT__EVENT__EV_ACK, &a, NULL),
                "{\"type\":\"ack\",\"room\":\"general\",\"seq\":58,\"ts\":1763769600123}");
    /* dm */
    a.room = NULL;
    a.has_seq = 0;
    check_frame(render(CHAT__EVENT__EV_ACK, &a, "d1"),
                "{\"type\":\"ack\",\"id\":\"d1\",\"ts\":1763769600123}");
    /* nick: Ack.nick is the gateway's and never rendered */
    a.has_ts = 0;
    a.nick = "alice2";
    check_frame(render(CHAT__EVENT__EV_ACK, &a, "n1"), "{\"type\":\"ack\",\"id\":\"n1\"}");
    check_frame(render(CHAT__EVENT__EV_ACK, &a, NULL), "{\"type\":\"ack\"}");
    /* seq 0 and ts 0 are present values */
    a.has_seq = a.has_ts = 1;
    a.seq = a.ts = 0;
    check_frame(render(CHAT__EVENT__EV_ACK, &a, NULL), "{\"type\":\"ack\",\"seq\":0,\"ts\":0}");
}

static void test_msg(void **state)
{
    (void)state;
    Chat__MsgEvent m = msg_event("general", 58, "alice", "hi", 1763769600123ULL);
    const char *want = "{\"type\":\"msg\",\"room\":\"general\",\"seq\":58,\"from\":\"alice\","
                       "\"text\":\"hi\",\"ts\":1763769600123}";
    check_frame(render(CHAT__EVENT__EV_MSG, &m, NULL), want);
    check_frame(render_msg(&m), want);
    /* An id is only for replies; a msg never carries one. */
    check_frame(render(CHAT__EVENT__EV_MSG, &m, "x"), want);

    /* Large values are exact (no double rounding). */
    m.seq = 9007199254740993ULL;
    m.ts = 9223372036854775807ULL;
    check_frame(render_msg(&m), "{\"type\":\"msg\",\"room\":\"general\",\"seq\":9007199254740993,"
                                "\"from\":\"alice\",\"text\":\"hi\",\"ts\":9223372036854775807}");
    assert_null(render_msg(NULL));
}

static void test_dm(void **state)
{
    (void)state;
    Chat__DmEvent d = CHAT__DM_EVENT__INIT;
    d.from = "alice";
    d.text = "psst";
    d.ts = 1763769600123ULL;
    check_frame(render(CHAT__EVENT__EV_DM, &d, NULL),
                "{\"type\":\"dm\",\"from\":\"alice\",\"text\":\"psst\",\"ts\":1763769600123}");
}

static void test_presence(void **state)
{
    (void)state;
    Chat__Presence p = CHAT__PRESENCE__INIT;
    p.room = "general";
    p.nick = "alice";
    p.join = 1;
    p.count = 3;
    check_frame(render(CHAT__EVENT__EV_PRESENCE, &p, NULL),
                "{\"type\":\"presence\",\"room\":\"general\",\"nick\":\"alice\",\"event\":\"join\","
                "\"count\":3}");
    p.join = 0;
    p.count = 2;
    check_frame(render(CHAT__EVENT__EV_PRESENCE, &p, NULL),
                "{\"type\":\"presence\",\"room\":\"general\",\"nick\":\"alice\","
                "\"event\":\"leave\",\"count\":2}");
}

static void test_typing(void **state)
{
    (void)state;
    Chat__TypingEvent t = CHAT__TYPING_EVENT__INIT;
    t.room = "general";
    t.nick = "alice";
    t.active = 1;
    check_frame(render(CHAT__EVENT__EV_TYPING, &t, NULL),
                "{\"type\":\"typing\",\"room\":\"general\",\"nick\":\"alice\",\"active\":true}");
    t.room = NULL;
    t.active = 0;
    check_frame(render(CHAT__EVENT__EV_TYPING, &t, NULL),
                "{\"type\":\"typing\",\"nick\":\"alice\",\"active\":false}");
}

static void test_nick(void **state)
{
    (void)state;
    Chat__NickEvent n = CHAT__NICK_EVENT__INIT;
    n.old = "alice";
    n.new_ = "alice2";
    check_frame(render(CHAT__EVENT__EV_NICK, &n, NULL),
                "{\"type\":\"nick\",\"old\":\"alice\",\"new\":\"alice2\"}");
}

static void test_who(void **state)
{
    (void)state;
    char *members[] = {"alice", "bob"};
    Chat__WhoRoom r = CHAT__WHO_ROOM__INIT;
    r.room = "general";
    r.n_members = 2;
    r.members = members;
    check_frame(render(CHAT__EVENT__EV_WHO_ROOM, &r, "w1"),
                "{\"type\":\"who\",\"room\":\"general\",\"members\":[\"alice\",\"bob\"],"
                "\"id\":\"w1\"}");
    r.n_members = 0;
    check_frame(render(CHAT__EVENT__EV_WHO_ROOM, &r, NULL),
                "{\"type\":\"who\",\"room\":\"general\",\"members\":[]}");

    Chat__WhoAll a = CHAT__WHO_ALL__INIT;
    a.online = 12;
    a.n_users = 2;
    a.users = members;
    check_frame(render(CHAT__EVENT__EV_WHO_ALL, &a, "w2"),
                "{\"type\":\"who\",\"online\":12,\"users\":[\"alice\",\"bob\"],\"id\":\"w2\"}");
    a.has_truncated = 1; /* present but false: not rendered */
    check_frame(render(CHAT__EVENT__EV_WHO_ALL, &a, NULL),
                "{\"type\":\"who\",\"online\":12,\"users\":[\"alice\",\"bob\"]}");
    a.truncated = 1;
    a.online = 1500;
    check_frame(render(CHAT__EVENT__EV_WHO_ALL, &a, "w3"),
                "{\"type\":\"who\",\"online\":1500,\"users\":[\"alice\",\"bob\"],"
                "\"truncated\":true,\"id\":\"w3\"}");
    a.n_users = 0;
    a.users = NULL;
    a.truncated = 0;
    a.online = 0;
    check_frame(render(CHAT__EVENT__EV_WHO_ALL, &a, NULL),
                "{\"type\":\"who\",\"online\":0,\"users\":[]}");
}

static void test_history(void **state)
{
    (void)state;
    Chat__MsgEvent m1 = msg_event("general", 8, "bob", "one", 1763769600000ULL);
    Chat__MsgEvent m2 = msg_event("general", 9, "alice", "two", 1763769600001ULL);
    Chat__MsgEvent *msgs[] = {&m1, &m2};
    Chat__HistoryEvent h = CHAT__HISTORY_EVENT__INIT;
    h.room = "general";
    h.n_messages = 2;
    h.messages = msgs;
    check_frame(render(CHAT__EVENT__EV_HISTORY, &h, "h1"),
                "{\"type\":\"history\",\"room\":\"general\",\"messages\":["
                "{\"seq\":8,\"from\":\"bob\",\"text\":\"one\",\"ts\":1763769600000},"
                "{\"seq\":9,\"from\":\"alice\",\"text\":\"two\",\"ts\":1763769600001}],"
                "\"id\":\"h1\"}");
    h.n_messages = 0;
    check_frame(render(CHAT__EVENT__EV_HISTORY, &h, NULL),
                "{\"type\":\"history\",\"room\":\"general\",\"messages\":[]}");
}

static void test_online(void **state)
{
    (void)state;
    Chat__Online o = CHAT__ONLINE__INIT;
    o.count = 13;
    check_frame(render(CHAT__EVENT__EV_ONLINE, &o, NULL), "{\"type\":\"online\",\"count\":13}");
}

static void test_error(void **state)
{
    (void)state;
    Chat__Error e = CHAT__ERROR__INIT;
    e.code = "rate_limited";
    e.message = "slow down";
    e.has_retry_after_ms = 1;
    e.retry_after_ms = 500;
    check_frame(render(CHAT__EVENT__EV_ERROR, &e, "m9"),
                "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow down\","
                "\"id\":\"m9\",\"retry_after_ms\":500}");
    e.has_retry_after_ms = 0;
    e.code = "not_in_room";
    e.message = "join \"general\" first";
    check_frame(render(CHAT__EVENT__EV_ERROR, &e, NULL),
                "{\"type\":\"error\",\"code\":\"not_in_room\","
                "\"message\":\"join \\\"general\\\" first\"}");
    e.has_retry_after_ms = 1;
    e.retry_after_ms = 4294967295U;
    check_frame(render(CHAT__EVENT__EV_ERROR, &e, NULL),
                "{\"type\":\"error\",\"code\":\"not_in_room\","
                "\"message\":\"join \\\"general\\\" first\",\"retry_after_ms\":4294967295}");

    check_frame(render_error("bad_json", "not valid JSON", NULL, -1),
                "{\"type\":\"error\",\"code\":\"bad_json\",\"message\":\"not valid JSON\"}");
    check_frame(render_error("rate_limited", "wait", "x", 0),
                "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"wait\",\"id\":\"x\","
                "\"retry_after_ms\":0}");
    /* error.message is always present. */
    check_frame(render_error("internal", NULL, NULL, -5),
                "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"\"}");
}

static void test_pong(void **state)
{
    (void)state;
    check_frame(render_pong("p1"), "{\"type\":\"pong\",\"id\":\"p1\"}");
    check_frame(render_pong(NULL), "{\"type\":\"pong\"}");
    check_frame(render_pong(""), "{\"type\":\"pong\",\"id\":\"\"}");
}

static void test_no_frame(void **state)
{
    (void)state;
    Chat__Close c = CHAT__CLOSE__INIT;
    c.code = 4001;
    assert_null(render(CHAT__EVENT__EV_CLOSE, &c, NULL));
    assert_null(render(CHAT__EVENT__EV__NOT_SET, NULL, NULL));
    assert_null(render_event(NULL));
    /* A oneof case without its body renders nothing (no crash). */
    static const Chat__Event__EvCase cases[] = {
        CHAT__EVENT__EV_WELCOME,  CHAT__EVENT__EV_JOINED,  CHAT__EVENT__EV_LEFT,
        CHAT__EVENT__EV_ACK,      CHAT__EVENT__EV_MSG,     CHAT__EVENT__EV_DM,
        CHAT__EVENT__EV_PRESENCE, CHAT__EVENT__EV_TYPING,  CHAT__EVENT__EV_NICK,
        CHAT__EVENT__EV_WHO_ROOM, CHAT__EVENT__EV_WHO_ALL, CHAT__EVENT__EV_HISTORY,
        CHAT__EVENT__EV_ONLINE,   CHAT__EVENT__EV_ERROR,   CHAT__EVENT__EV_CLOSE};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_null(render(cases[i], NULL, NULL));
}

/* Strings that cannot be rendered (missing, or not UTF-8) give no frame
 * rather than a broken one. */
static void test_unrenderable(void **state)
{
    (void)state;
    Chat__Welcome w = CHAT__WELCOME__INIT;
    w.session = "s";
    assert_null(render(CHAT__EVENT__EV_WELCOME, &w, NULL)); /* nick NULL */
    w.nick = "\xff";
    assert_null(render(CHAT__EVENT__EV_WELCOME, &w, NULL));
    w.nick = "ok";
    assert_null(render(CHAT__EVENT__EV_WELCOME, &w, "\xc3"));

    char *members[] = {"alice", NULL};
    Chat__WhoRoom r = CHAT__WHO_ROOM__INIT;
    r.room = "general";
    r.n_members = 2;
    r.members = members;
    assert_null(render(CHAT__EVENT__EV_WHO_ROOM, &r, NULL));
    members[1] = "b\xed\xa0\x80"; /* an encoded surrogate */
    assert_null(render(CHAT__EVENT__EV_WHO_ROOM, &r, NULL));

    Chat__MsgEvent m = msg_event("general", 0, "bob", "\x80", 0);
    Chat__MsgEvent *msgs[] = {&m, NULL};
    Chat__HistoryEvent h = CHAT__HISTORY_EVENT__INIT;
    h.room = "general";
    h.n_messages = 1;
    h.messages = msgs;
    assert_null(render(CHAT__EVENT__EV_HISTORY, &h, NULL));
    m.text = "fine";
    h.n_messages = 2;
    assert_null(render(CHAT__EVENT__EV_HISTORY, &h, NULL));
    assert_null(render_msg(&(Chat__MsgEvent)CHAT__MSG_EVENT__INIT));
    assert_null(render_error(NULL, "m", NULL, -1));
}

/* ---------------------------------------------------------------- escaping */

static void test_escaping(void **state)
{
    (void)state;
    /* Quote, backslash and every kind of control character are escaped;
     * "/", DEL and all non-ASCII (U+2028 included) pass through as UTF-8. */
    Chat__MsgEvent m = msg_event("#r", 1, "a.b-c_d",
                                 "q\"b\\s/n\nt\tr\rb\bf\f1\x01"
                                 "1f\x1f"
                                 "del\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8",
                                 2);
    check_frame(render_msg(&m),
                "{\"type\":\"msg\",\"room\":\"#r\",\"seq\":1,\"from\":\"a.b-c_d\","
                "\"text\":\"q\\\"b\\\\s/n\\nt\\tr\\rb\\bf\\f1\\u00011f\\u001Fdel\x7f "
                "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8\",\"ts\":2}");

    /* Parsed back, the text is the original. */
    struct frame *f = render_msg(&m);
    assert_non_null(f);
    json_t *j = json_loadb((const char *)frame_payload(f), f->len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "text")), m.text);
    json_decref(j);
    frame_unref(f);

    /* An id with JSON-special characters. */
    check_frame(render_pong("a\"\\\n"), "{\"type\":\"pong\",\"id\":\"a\\\"\\\\\\n\"}");
}

/* An event as it arrives from the broker: packed, unpacked, rendered. */
static void test_from_wire(void **state)
{
    (void)state;
    Chat__Ack a = CHAT__ACK__INIT;
    a.room = "general";
    a.has_seq = a.has_ts = 1;
    a.seq = 58;
    a.ts = 1763769600123ULL;
    Chat__Event ev = event(CHAT__EVENT__EV_ACK, &a, "m1");
    ev.ack = &a;
    ev.room_target = NULL;
    size_t n = chat__event__get_packed_size(&ev);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    chat__event__pack(&ev, buf);
    Chat__Event *in = chat__event__unpack(NULL, n, buf);
    free(buf);
    assert_non_null(in);
    check_frame(render_event(in), "{\"type\":\"ack\",\"id\":\"m1\",\"room\":\"general\",\"seq\":58,"
                                  "\"ts\":1763769600123}");
    chat__event__free_unpacked(in, NULL);
}

/* ---------------------------------------------------------------- out of memory */

static long allocs_left = -1;

static void *failing_malloc(size_t n)
{
    if (allocs_left == 0) return NULL;
    if (allocs_left > 0) allocs_left--;
    return malloc(n);
}

/* Each allocation failing in turn gives NULL, never a partial frame or a leak. */
static void test_out_of_memory(void **state)
{
    (void)state;
    Chat__MsgEvent m = msg_event("general", 8, "bob", "one", 1);
    Chat__MsgEvent *msgs[] = {&m, &m};
    Chat__HistoryEvent h = CHAT__HISTORY_EVENT__INIT;
    h.room = "general";
    h.n_messages = 2;
    h.messages = msgs;
    char *users[] = {"a", "b", "c"};
    Chat__WhoAll w = CHAT__WHO_ALL__INIT;
    w.online = 3;
    w.n_users = 3;
    w.users = users;
    w.has_truncated = w.truncated = 1;

    struct {
        Chat__Event__EvCase c;
        void *body;
    } evs[] = {{CHAT__EVENT__EV_HISTORY, &h}, {CHAT__EVENT__EV_WHO_ALL, &w}};
    json_set_alloc_funcs(failing_malloc, free);
    for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
        int failures = 0;
        for (long n = 0;; n++) {
            allocs_left = n;
            struct frame *f = render(evs[i].c, evs[i].body, "id");
            allocs_left = -1;
            if (f) {
                frame_unref(f);
                break;
            }
            failures++;
            assert_true(n < 1000);
        }
        assert_true(failures > 3);
    }
    allocs_left = 0;
    assert_null(render_pong("x"));
    assert_null(render_error("internal", "x", NULL, -1));
    allocs_left = -1;
    json_set_alloc_funcs(malloc, free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_refs),   cmocka_unit_test(test_welcome),
        cmocka_unit_test(test_joined),       cmocka_unit_test(test_left),
        cmocka_unit_test(test_ack),          cmocka_unit_test(test_msg),
        cmocka_unit_test(test_dm),           cmocka_unit_test(test_presence),
        cmocka_unit_test(test_typing),       cmocka_unit_test(test_nick),
        cmocka_unit_test(test_who),          cmocka_unit_test(test_history),
        cmocka_unit_test(test_online),       cmocka_unit_test(test_error),
        cmocka_unit_test(test_pong),         cmocka_unit_test(test_no_frame),
        cmocka_unit_test(test_unrenderable), cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_from_wire),    cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
