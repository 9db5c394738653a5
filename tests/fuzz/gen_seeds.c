/* gen_seeds: writes the seed corpora of the fuzz targets, with the real
 * protobuf-c encoding of proto/chat.proto.
 *
 *     fuzz_seeds DIR    writes DIR/fuzz_codec/, DIR/fuzz_envelope/, DIR/fuzz_render/
 *
 * fuzz_codec: client frames, one of every command of PROTOCOL.md and the
 * edges its rules name. fuzz_envelope: short sessions in envelope_input.h's
 * format, each a scenario of the broker (rooms, messages, DMs, typing and its
 * expiry, nicks, who, history, resume and takeover, grace expiry, gateway
 * restart and loss, retries, limits, malformed commands). fuzz_render: one
 * Event of every kind. The output is committed; rerun after a change to the
 * protocol and commit what changed. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat.pb-c.h"
#include "envelope_input.h"

static const char *outdir;

static FILE *open_seed(const char *target, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0755) < 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    return f;
}

static void close_seed(FILE *f)
{
    if (fclose(f) != 0) {
        perror("fclose");
        exit(1);
    }
}

/* ---------------------------------------------------------------- fuzz_codec */

static const struct {
    const char *name, *json;
} FRAMES[] = {
    {"hello", "{\"type\":\"hello\",\"nick\":\"alice\"}"},
    {"hello-token", "{\"type\":\"hello\",\"nick\":\"alice\",\"token\":\"a.b.c\",\"id\":\"h1\"}"},
    {"hello-resume", "{\"type\":\"hello\",\"nick\":\"alice\",\"resume\":{\"session\":"
                     "\"0123456789abcdef0123456789abcdef\",\"rooms\":{\"general\":41,\"#x\":0}}}"},
    {"join", "{\"type\":\"join\",\"room\":\"general\",\"id\":\"j1\"}"},
    {"join-since", "{\"type\":\"join\",\"room\":\"general\",\"since\":41,\"id\":\"j1\"}"},
    {"leave", "{\"type\":\"leave\",\"room\":\"general\"}"},
    {"msg", "{\"type\":\"msg\",\"room\":\"general\",\"text\":\"hi\",\"id\":\"m1\"}"},
    {"msg-unicode",
     "{\"type\":\"msg\",\"room\":\"r\",\"text\":\"h\\u00e9 \\ud83d\\ude00 \xe2\x82\xac\"}"},
    {"dm", "{\"type\":\"dm\",\"to\":\"bob\",\"text\":\"psst\",\"id\":\"d1\"}"},
    {"typing-room", "{\"type\":\"typing\",\"room\":\"general\",\"active\":true}"},
    {"typing-dm", "{\"type\":\"typing\",\"to\":\"bob\",\"active\":false}"},
    {"nick", "{\"type\":\"nick\",\"nick\":\"alice2\",\"id\":\"n1\"}"},
    {"who-room", "{\"type\":\"who\",\"room\":\"general\",\"id\":\"w1\"}"},
    {"who-all", "{\"type\":\"who\",\"id\":\"w2\"}"},
    {"history",
     "{\"type\":\"history\",\"room\":\"general\",\"before\":58,\"limit\":50,\"id\":\"h1\"}"},
    {"history-clamp", "{\"type\":\"history\",\"room\":\"general\",\"limit\":1000}"},
    {"ping", "{\"type\":\"ping\",\"id\":\"p1\"}"},
    {"bad-json", "{\"type\":\"msg\","},
    {"not-object", "[1,2,3]"},
    {"unknown-type", "{\"type\":\"shout\",\"id\":\"x\"}"},
    {"wrong-types", "{\"type\":\"join\",\"room\":null,\"since\":5.0,\"id\":7}"},
    {"negative", "{\"type\":\"history\",\"room\":\"a\",\"before\":-1,\"limit\":0}"},
    {"nul-in-string", "{\"type\":\"msg\",\"room\":\"a\",\"text\":\"a\\u0000b\"}"},
    {"blank-text", "{\"type\":\"msg\",\"room\":\"a\",\"text\":\" \\t\\u3000\"}"},
    {"bad-nick", "{\"type\":\"hello\",\"nick\":\"al ice!\"}"},
    {"bad-room", "{\"type\":\"join\",\"room\":\"General\"}"},
    {"self-dm", "{\"type\":\"dm\",\"to\":\"ALICE\",\"text\":\"me\"}"},
    {"typing-both", "{\"type\":\"typing\",\"room\":\"a\",\"to\":\"b\",\"active\":true}"},
    {"long-id", "{\"type\":\"ping\",\"id\":\"0123456789012345678901234567890123456789012345678901"
                "234567890123\"}"},
    {"deep",
     "{\"type\":\"who\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"},
    {"big-number", "{\"type\":\"join\",\"room\":\"a\",\"since\":99999999999999999999999}"},
    {"lone-surrogate", "{\"type\":\"msg\",\"room\":\"a\",\"text\":\"\\ud800\"}"},
    {"invalid-utf8", "{\"type\":\"msg\",\"room\":\"a\",\"text\":\"\xc3\x28\"}"},
    {"extra-fields", "{\"type\":\"leave\",\"room\":\"a\",\"extra\":{\"k\":[true,null]}}"},
};

static void codec_seeds(void)
{
    for (size_t i = 0; i < sizeof FRAMES / sizeof FRAMES[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.json", FRAMES[i].name);
        FILE *f = open_seed("fuzz_codec", name);
        fwrite(FRAMES[i].json, 1, strlen(FRAMES[i].json), f);
        close_seed(f);
    }
    /* A text of exactly 4,000 characters, and one over. */
    for (int n = 4000; n <= 4001; n++) {
        char name[64];
        snprintf(name, sizeof name, "text-%d.json", n);
        FILE *f = open_seed("fuzz_codec", name);
        fputs("{\"type\":\"msg\",\"room\":\"a\",\"text\":\"", f);
        for (int k = 0; k < n; k++) fputc('x', f);
        fputs("\"}", f);
        close_seed(f);
    }
}

/* ---------------------------------------------------------------- fuzz_envelope */

static FILE *out; /* the envelope seed being written */

enum { A, B, X }; /* ENVELOPE_GATEWAYS */

static void record(int gw, const Chat__Upstream *up)
{
    size_t n = chat__upstream__get_packed_size(up);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf || n > 0xFFFF) exit(1);
    chat__upstream__pack(up, buf);
    fputc(gw, out);
    fputc((int)(n & 0xFF), out);
    fputc((int)(n >> 8), out);
    fwrite(buf, 1, n, out);
    free(buf);
}

static void tick(unsigned units)
{
    while (units) {
        unsigned u = units > 0x7F ? 0x7F : units;
        fputc(ENVELOPE_TICK | (int)u, out);
        units -= u;
    }
}

static void gw_hello(int gw, uint64_t instance)
{
    Chat__GatewayHello h = CHAT__GATEWAY_HELLO__INIT;
    h.gateway_id = (char *)ENVELOPE_GATEWAYS[gw];
    h.instance = instance;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HELLO;
    up.hello = &h;
    record(gw, &up);
}

static void heartbeat(int gw, uint64_t instance)
{
    Chat__Heartbeat hb = CHAT__HEARTBEAT__INIT;
    hb.instance = instance;
    hb.has_sent_us = 1;
    hb.sent_us = 123456;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HEARTBEAT;
    up.heartbeat = &hb;
    record(gw, &up);
}

static void command(int gw, uint64_t conn, const char *id, Chat__Command *c)
{
    c->conn = conn;
    c->id = (char *)id;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_COMMAND;
    up.command = c;
    record(gw, &up);
}

/* Sends a command whose body is field (of oneof case CASE). */
#define SEND(gw, conn, id, CASE, field, body)                                                      \
    do {                                                                                           \
        Chat__Command c_ = CHAT__COMMAND__INIT;                                                    \
        c_.cmd_case = CHAT__COMMAND__CMD_##CASE;                                                   \
        c_.field = (body);                                                                         \
        command((gw), (conn), (id), &c_);                                                          \
    } while (0)

/* resume: NULL, or "~N" (envelope_input.h), with the client's room positions. */
static void hello(int gw, uint64_t conn, const char *nick, const char *resume, const char *room,
                  uint64_t seq)
{
    Chat__RoomPos pos = CHAT__ROOM_POS__INIT, *ppos = &pos;
    Chat__Hello h = CHAT__HELLO__INIT;
    h.nick = (char *)nick;
    h.resume_session = (char *)resume;
    if (room) {
        pos.room = (char *)room;
        pos.seq = seq;
        h.resume_rooms = &ppos;
        h.n_resume_rooms = 1;
    }
    SEND(gw, conn, "h", HELLO, hello, &h);
}

static void join(int gw, uint64_t conn, const char *room, int has_since, uint64_t since)
{
    Chat__Join j = CHAT__JOIN__INIT;
    j.room = (char *)room;
    j.has_since = has_since;
    j.since = since;
    SEND(gw, conn, "j", JOIN, join, &j);
}

static void leave(int gw, uint64_t conn, const char *room)
{
    Chat__Leave l = CHAT__LEAVE__INIT;
    l.room = (char *)room;
    SEND(gw, conn, NULL, LEAVE, leave, &l);
}

static void msg(int gw, uint64_t conn, const char *room, const char *text, const char *id)
{
    Chat__Msg m = CHAT__MSG__INIT;
    m.room = (char *)room;
    m.text = (char *)text;
    SEND(gw, conn, id, MSG, msg, &m);
}

static void dm(int gw, uint64_t conn, const char *to, const char *text, const char *id)
{
    Chat__Dm d = CHAT__DM__INIT;
    d.to = (char *)to;
    d.text = (char *)text;
    SEND(gw, conn, id, DM, dm, &d);
}

static void typing(int gw, uint64_t conn, const char *room, const char *to, int active)
{
    Chat__Typing t = CHAT__TYPING__INIT;
    t.room = (char *)room;
    t.to = (char *)to;
    t.active = active;
    SEND(gw, conn, NULL, TYPING, typing, &t);
}

static void nick(int gw, uint64_t conn, const char *want)
{
    Chat__Nick n = CHAT__NICK__INIT;
    n.nick = (char *)want;
    SEND(gw, conn, "n", NICK, nick, &n);
}

static void who(int gw, uint64_t conn, const char *room)
{
    Chat__Who w = CHAT__WHO__INIT;
    w.room = (char *)room;
    SEND(gw, conn, "w", WHO, who, &w);
}

static void history(int gw, uint64_t conn, const char *room, int has_before, uint64_t before,
                    uint32_t limit)
{
    Chat__History h = CHAT__HISTORY__INIT;
    h.room = (char *)room;
    h.has_before = has_before;
    h.before = before;
    h.limit = limit;
    SEND(gw, conn, "hi", HISTORY, history, &h);
}

static void disconnect(int gw, uint64_t conn, int clean)
{
    Chat__Disconnect d = CHAT__DISCONNECT__INIT;
    d.clean = clean;
    SEND(gw, conn, NULL, DISCONNECT, disconnect, &d);
}

static void sync_cmd(int gw, uint64_t conn, uint32_t tag)
{
    Chat__Sync s = CHAT__SYNC__INIT;
    s.tag = tag;
    SEND(gw, conn, NULL, SYNC, sync, &s);
}

static void raw(int gw, const void *bytes, size_t n)
{
    fputc(gw, out);
    fputc((int)(n & 0xFF), out);
    fputc((int)(n >> 8), out);
    fwrite(bytes, 1, n, out);
}

static void begin(const char *name)
{
    out = open_seed("fuzz_envelope", name);
}

static void end(void)
{
    close_seed(out);
    out = NULL;
}

static void envelope_seeds(void)
{
    begin("room-basics");
    hello(A, 1, "alice", NULL, NULL, 0);
    join(A, 1, "general", 0, 0);
    msg(A, 1, "general", "hello", "m1");
    who(A, 1, "general");
    who(A, 1, NULL);
    history(A, 1, "general", 0, 0, 50);
    leave(A, 1, "general");
    disconnect(A, 1, 1);
    end();

    begin("two-gateways");
    hello(A, 1, "alice", NULL, NULL, 0);
    hello(B, 7, "bob", NULL, NULL, 0);
    join(A, 1, "general", 0, 0);
    join(B, 7, "general", 0, 0);
    msg(A, 1, "general", "hi bob", "m1");
    msg(B, 7, "general", "hi alice", NULL);
    dm(A, 1, "BOB", "psst", "d1");
    dm(B, 7, "alice", "yes?", NULL);
    typing(A, 1, "general", NULL, 1);
    typing(A, 1, "general", NULL, 1);
    typing(B, 7, NULL, "alice", 1);
    typing(B, 7, NULL, "alice", 0);
    nick(A, 1, "Alice");
    nick(A, 1, "carol");
    nick(B, 7, "carol");
    who(B, 7, NULL);
    tick(15); /* typing expires */
    disconnect(B, 7, 0);
    end();

    begin("resume");
    hello(A, 1, "alice", NULL, NULL, 0);
    join(A, 1, "general", 0, 0);
    hello(B, 2, "bob", NULL, NULL, 0);
    join(B, 2, "general", 0, 0);
    msg(B, 2, "general", "one", NULL);
    disconnect(A, 1, 0);
    msg(B, 2, "general", "two", NULL);
    tick(5);
    hello(B, 3, "ALICE", "~0", "general", 1);
    msg(B, 3, "general", "back", "m1");
    end();

    begin("takeover");
    hello(A, 1, "alice", NULL, NULL, 0);
    join(A, 1, "a", 0, 0);
    join(A, 1, "b", 0, 0);
    typing(A, 1, "a", NULL, 1);
    hello(B, 9, "alice", "~0", "b", 0);
    msg(A, 1, "a", "old connection", NULL);
    who(B, 9, NULL);
    end();

    begin("grace-expiry");
    hello(A, 1, "alice", NULL, NULL, 0);
    hello(A, 2, "bob", NULL, NULL, 0);
    join(A, 1, "r", 0, 0);
    typing(A, 2, NULL, "alice", 1);
    disconnect(A, 1, 0);
    hello(A, 3, "alice", NULL, NULL, 0); /* nick still reserved */
    tick(25);
    hello(A, 3, "alice", "~0", NULL, 0); /* expired: a fresh session */
    end();

    begin("gateway-restart");
    hello(A, 1, "alice", NULL, NULL, 0);
    join(A, 1, "r", 0, 0);
    hello(B, 1, "bob", NULL, NULL, 0);
    join(B, 1, "r", 0, 0);
    heartbeat(A, 1);
    heartbeat(A, 99);
    gw_hello(A, 3); /* a new instance: its sessions are gone */
    heartbeat(A, 3);
    hello(A, 1, "alice", "~0", "r", 0);
    hello(X, 1, "xavier", NULL, NULL, 0); /* unknown gateway: reset */
    gw_hello(X, 5);
    hello(X, 1, "xavier", NULL, NULL, 0);
    join(X, 1, "r", 0, 0);
    msg(B, 1, "r", "to a vanished gateway too", NULL);
    end();

    begin("gateway-lost");
    hello(A, 1, "alice", NULL, NULL, 0);
    hello(B, 1, "bob", NULL, NULL, 0);
    join(A, 1, "r", 0, 0);
    join(B, 1, "r", 0, 0);
    tick(20);
    heartbeat(A, 1);
    tick(20); /* gw-b is silent past the timeout */
    heartbeat(A, 1);
    msg(A, 1, "r", "anyone?", NULL);
    tick(30);
    end();

    begin("retries");
    hello(A, 1, "alice", NULL, NULL, 0);
    hello(A, 2, "bob", NULL, NULL, 0);
    join(A, 1, "r", 0, 0);
    msg(A, 1, "r", "once", "m1");
    msg(A, 1, "r", "once again", "m1");
    dm(A, 1, "bob", "hey", "d1");
    dm(A, 1, "bob", "hey", "d1");
    msg(A, 1, "r", "2", "m2");
    msg(A, 1, "r", "3", "m3");
    msg(A, 1, "r", "4", "m4");
    msg(A, 1, "r", "first again", "m1"); /* forgotten by now */
    end();

    begin("limits");
    hello(A, 1, "alice", NULL, NULL, 0);
    hello(A, 2, "bob", NULL, NULL, 0);
    hello(A, 3, "carol", NULL, NULL, 0);
    join(A, 1, "r1", 0, 0);
    join(A, 1, "r2", 0, 0);
    join(A, 1, "r3", 0, 0);
    join(A, 1, "r4", 0, 0); /* too many rooms */
    join(A, 1, "r1", 1, 0); /* again */
    for (int i = 0; i < 7; i++) msg(A, 1, "r1", "m", NULL);
    join(A, 2, "r1", 1, 0);
    history(A, 1, "r1", 1, 6, 200);
    history(A, 1, "r1", 1, 1, 2);
    history(A, 1, "r1", 0, 0, 0);
    who(A, 1, NULL); /* truncated */
    end();

    begin("errors");
    join(A, 1, "r", 0, 0); /* not identified */
    sync_cmd(A, 1, 1);
    hello(A, 1, "alice", NULL, NULL, 0);
    hello(A, 1, "alice", NULL, NULL, 0); /* twice */
    hello(A, 2, "ALICE", NULL, NULL, 0); /* taken */
    msg(A, 1, "r", "not in room", NULL);
    dm(A, 1, "nobody", "x", NULL);
    dm(A, 1, "alice", "me", NULL);
    typing(A, 1, "r", NULL, 1);
    typing(A, 1, NULL, "nobody", 1);
    leave(A, 1, "r");
    history(A, 1, "r", 0, 0, 5);
    who(A, 1, "never");
    sync_cmd(A, 1, 2);
    disconnect(A, 1, 1);
    disconnect(A, 1, 0);
    end();

    begin("malformed");
    {
        Chat__Command c = CHAT__COMMAND__INIT; /* no body */
        command(A, 1, NULL, &c);
        Chat__Typing t = CHAT__TYPING__INIT; /* both targets */
        t.room = "r";
        t.to = "bob";
        c.cmd_case = CHAT__COMMAND__CMD_TYPING;
        c.typing = &t;
        command(A, 1, NULL, &c);
        Chat__Upstream up = CHAT__UPSTREAM__INIT; /* no body */
        record(A, &up);
        static const uint8_t junk[] = {0x1a, 0x05, 0x08, 0x01, 0x52, 0x7f, 0xff, 0x00, 0x0a};
        raw(B, junk, sizeof junk);
        raw(A, "", 0);
    }
    end();
}

/* ---------------------------------------------------------------- fuzz_render */

static void event_seed(const char *name, Chat__Event *ev)
{
    size_t n = chat__event__get_packed_size(ev);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) exit(1);
    chat__event__pack(ev, buf);
    char file[64];
    snprintf(file, sizeof file, "%s.pb", name);
    FILE *f = open_seed("fuzz_render", file);
    fwrite(buf, 1, n, f);
    close_seed(f);
    free(buf);
}

/* Writes ev with body (of oneof case CASE) as the seed `name`. */
#define EVENT_SEED(name, ev, CASE, field, body)                                                    \
    do {                                                                                           \
        (ev)->ev_case = CHAT__EVENT__EV_##CASE;                                                    \
        (ev)->field = (body);                                                                      \
        event_seed((name), (ev));                                                                  \
    } while (0)

static void render_seeds(void)
{
    char *names[] = {"alice", "bob"};
    uint64_t conns[] = {1, 2};
    Chat__MsgEvent m = CHAT__MSG_EVENT__INIT, *pm[] = {&m, &m};
    m.room = "general";
    m.seq = 58;
    m.from = "alice";
    m.text = "hi \xe2\x82\xac \"quoted\"\n";
    m.ts = 1763769600123;

    Chat__Event ev = CHAT__EVENT__INIT;
    ev.conns = conns;
    ev.n_conns = 2;
    ev.id = "x1";

    Chat__Welcome w = CHAT__WELCOME__INIT;
    w.nick = "alice";
    w.session = "0123456789abcdef0123456789abcdef";
    w.online = 12;
    EVENT_SEED("welcome", &ev, WELCOME, welcome, &w);

    Chat__Joined j = CHAT__JOINED__INIT;
    j.room = "general";
    j.members = names;
    j.n_members = 2;
    j.seq = 57;
    j.replay = pm;
    j.n_replay = 2;
    EVENT_SEED("joined", &ev, JOINED, joined, &j);

    Chat__Left l = CHAT__LEFT__INIT;
    l.room = "general";
    EVENT_SEED("left", &ev, LEFT, left, &l);

    Chat__Ack a = CHAT__ACK__INIT;
    a.room = "general";
    a.has_seq = a.has_ts = 1;
    a.seq = 58;
    a.ts = 1763769600123;
    EVENT_SEED("ack", &ev, ACK, ack, &a);

    ev.id = NULL;
    ev.room_target = "general";
    ev.has_exclude = 1;
    ev.exclude = 1;
    EVENT_SEED("msg", &ev, MSG, msg, &m);

    Chat__DmEvent d = CHAT__DM_EVENT__INIT;
    d.from = "alice";
    d.text = "psst";
    d.ts = 1;
    EVENT_SEED("dm", &ev, DM, dm, &d);

    Chat__Presence p = CHAT__PRESENCE__INIT;
    p.room = "general";
    p.nick = "alice";
    p.join = 1;
    p.count = 3;
    EVENT_SEED("presence", &ev, PRESENCE, presence, &p);

    Chat__TypingEvent t = CHAT__TYPING_EVENT__INIT;
    t.nick = "alice";
    t.active = 1;
    EVENT_SEED("typing-dm", &ev, TYPING, typing, &t);

    Chat__NickEvent n = CHAT__NICK_EVENT__INIT;
    n.old = "alice";
    n.new_ = "alice2";
    EVENT_SEED("nick", &ev, NICK, nick, &n);

    ev.room_target = NULL;
    ev.has_exclude = 0;
    ev.id = "w1";
    Chat__WhoRoom wr = CHAT__WHO_ROOM__INIT;
    wr.room = "general";
    wr.members = names;
    wr.n_members = 2;
    EVENT_SEED("who-room", &ev, WHO_ROOM, who_room, &wr);

    Chat__WhoAll wa = CHAT__WHO_ALL__INIT;
    wa.online = 1001;
    wa.users = names;
    wa.n_users = 2;
    wa.has_truncated = wa.truncated = 1;
    EVENT_SEED("who-all", &ev, WHO_ALL, who_all, &wa);

    Chat__HistoryEvent h = CHAT__HISTORY_EVENT__INIT;
    h.room = "general";
    h.messages = pm;
    h.n_messages = 2;
    EVENT_SEED("history", &ev, HISTORY, history, &h);

    ev.id = NULL;
    ev.has_all = ev.all = 1;
    Chat__Online o = CHAT__ONLINE__INIT;
    o.count = 13;
    EVENT_SEED("online", &ev, ONLINE, online, &o);

    ev.has_all = ev.all = 0;
    ev.id = "m9";
    Chat__Error e = CHAT__ERROR__INIT;
    e.code = "rate_limited";
    e.message = "slow down";
    e.has_retry_after_ms = 1;
    e.retry_after_ms = 500;
    EVENT_SEED("error", &ev, ERROR, error, &e);

    Chat__Close c = CHAT__CLOSE__INIT;
    c.code = 4001;
    c.reason = "session taken over";
    EVENT_SEED("close", &ev, CLOSE, close, &c);

    Chat__Synced s = CHAT__SYNCED__INIT;
    s.tag = 3;
    EVENT_SEED("synced", &ev, SYNCED, synced, &s);
}

int main(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr,
                "usage: %s DIR\nWrites the seed corpora of the fuzz targets into "
                "DIR/<target>/ (tests/fuzz/corpus in the repository).\n",
                argv[0]);
        return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
    }
    outdir = argv[1];
    if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    codec_seeds();
    envelope_seeds();
    render_seeds();
    return 0;
}
