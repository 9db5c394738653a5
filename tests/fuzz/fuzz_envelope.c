/* fuzz_envelope: the broker's decoding of Upstream envelopes and its
 * handling of every command, on arbitrary bytes from its gateways.
 *
 * The input format is envelope_input.h's: records that are either an
 * envelope received from one of three gateways or a step of the clock. The
 * bytes go through broker_handle(), the function the event loop calls for
 * each message it receives, and the clock steps through broker_run_timers(),
 * which the loop calls after each batch: the real dispatch, minus the poll.
 *
 * Each input gets a fresh broker (history in memory, a fake clock, small
 * limits so that the edges are a few commands away: 4 messages per ring, 3
 * rooms per session, 3 remembered ids, 2 names in a global who, 3 replayed
 * messages), destroyed afterwards: no state crosses inputs, a crash
 * reproduces from its input alone, and LeakSanitizer sees every leak.
 *
 * The broker's answers go out on a real ROUTER socket (ROUTER_MANDATORY, as
 * in broker_new) bound to inproc, to two DEALER sockets named like gateways
 * 0 and 1. After each record the harness reads them all back and checks that
 * each one unpacks as a Downstream (protobuf-c checks every required field)
 * and holds what a gateway relies on (someone to deliver to; a room's
 * messages reach each gateway in increasing seq; replays and history
 * ascending, in their room, within their bounds; who within --who-max), then
 * checks the broker's own bookkeeping: counts of sessions, nicks, rooms and
 * members agree with the tables they count.
 *
 * Built with ENVELOPE_HISTORY (the target fuzz_envelope_history), the broker
 * keeps its history in SQLite, in a fresh database per input (under
 * /dev/shm when there is one: no disk I/O). Messages are then answered only
 * once committed, and commands behind them wait in their session's queue:
 * the store's completions are taken in only when the clock steps (the harness
 * first waits until everything in flight is committed), so that a burst of
 * commands between two steps meets messages still in flight, and the outcome
 * does not depend on the writer thread's timing. Much slower per input (the
 * store opens and closes every time), so it gets the same seeds and its own
 * run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <unistd.h>

#include <zmq.h>

#include "broker.h"
#include "envelope_input.h"
#include "fuzz_check.h"
#include "log.h"
#include "store.h"

#define MAX_TOKENS 64

static void *zctx, *router, *dealers[2];
static uint64_t now_ms;
static char tokens[MAX_TOKENS][33]; /* sessions welcomed in this input */
static unsigned ntokens;
static int trace; /* FUZZ_TRACE set: each record on stderr, to read a crashing input */

static uint64_t fake_clock(void)
{
    return now_ms;
}

#ifdef ENVELOPE_HISTORY
static char db_dir[64], db_path[96];
#endif

static struct broker_config config = {
    .listen = NULL, /* no socket of its own: the harness lends it one */
    .ring = 4,
    .max_rooms = 3,
    .typing_timeout_ms = 1000,
    .dedupe = 3,
    .gateway_timeout_ms = 3000,
    .online_interval_ms = 1000,
    .hwm = 0,
    .who_max = 2,
    .history = "none",
    .durability = "normal",
    .replay_max = 3,
    .grace_ms = 2000,
};

#ifdef ENVELOPE_HISTORY
static void remove_db(void)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", ".lock"};
    char path[128];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(path, sizeof path, "%s%s", db_path, suffixes[i]);
        unlink(path);
    }
}

static void remove_db_dir(void)
{
    remove_db();
    rmdir(db_dir);
}
#endif

/* Takes in the store's completions once everything in flight is committed
 * (bounded: the store is on tmpfs, this takes milliseconds). */
static void catch_up(struct broker *b)
{
    if (!b->store) return;
    for (int i = 0; b->pending && i < 1000; i++) {
        struct pollfd p = {store_fd(b->store), POLLIN, 0};
        poll(&p, 1, 10);
        history_completions(b);
    }
    CHECK(b->pending == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *level = getenv("FUZZ_LOG_LEVEL"); /* quiet unless asked */
    log_set_level_name(level ? level : "error");
    trace = getenv("FUZZ_TRACE") != NULL;
#ifdef ENVELOPE_HISTORY
    snprintf(db_dir, sizeof db_dir, "%s/chat-fuzz-history.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    CHECK(mkdtemp(db_dir) != NULL);
    snprintf(db_path, sizeof db_path, "%s/history.db", db_dir);
    config.history = db_path;
    atexit(remove_db_dir);
#endif
    int one = 1, zero = 0;
    CHECK((zctx = zmq_ctx_new()) != NULL);
    CHECK((router = zmq_socket(zctx, ZMQ_ROUTER)) != NULL);
    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(router, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    CHECK(zmq_bind(router, "inproc://fuzz-broker") == 0);
    for (int i = 0; i < 2; i++) {
        CHECK((dealers[i] = zmq_socket(zctx, ZMQ_DEALER)) != NULL);
        const char *id = ENVELOPE_GATEWAYS[i];
        zmq_setsockopt(dealers[i], ZMQ_ROUTING_ID, id, strlen(id));
        zmq_setsockopt(dealers[i], ZMQ_RCVHWM, &zero, sizeof zero);
        zmq_setsockopt(dealers[i], ZMQ_LINGER, &zero, sizeof zero);
        CHECK(zmq_connect(dealers[i], "inproc://fuzz-broker") == 0);
        /* One message from each, so that the ROUTER knows the peer by name. */
        CHECK(zmq_send(dealers[i], "", 0, 0) == 0);
        char buf[16];
        CHECK(zmq_recv(router, buf, sizeof buf, 0) == (int)strlen(id));
        CHECK(zmq_recv(router, buf, sizeof buf, 0) == 0);
    }
    return 0;
}

static void remember_token(const Chat__Event *ev)
{
    const char *t = ev->welcome->session;
    CHECK(strlen(t) == 32 && strspn(t, "0123456789abcdef") == 32);
    if (ntokens < MAX_TOKENS) memcpy(tokens[ntokens++], t, 33);
}

/* Reads back everything sent to the gateways; each must be a Downstream. */
/* The last room message seq each gateway was sent, per room: they must
 * only go up (a gateway renders them in the order they come). */
#define MAX_SEEN 64
static struct seen {
    int gw;
    char *room;
    uint64_t seq;
} seen[MAX_SEEN];
static unsigned nseen;

static void check_room_seq(int gw, const char *room, uint64_t seq)
{
    for (unsigned i = 0; i < nseen; i++) {
        if (seen[i].gw != gw || strcmp(seen[i].room, room)) continue;
        CHECK(seq > seen[i].seq);
        seen[i].seq = seq;
        return;
    }
    if (nseen < MAX_SEEN && (seen[nseen].room = strdup(room))) {
        seen[nseen].gw = gw;
        seen[nseen++].seq = seq;
    }
}

static void forget_seen(void)
{
    while (nseen) free(seen[--nseen].room);
}

/* Messages of one room, ascending, none past `last` (0: no bound). */
static void check_messages(const char *room, Chat__MsgEvent **m, size_t n, uint64_t last)
{
    for (size_t i = 0; i < n; i++) {
        CHECK(!strcmp(m[i]->room, room) && m[i]->seq >= 1);
        CHECK(i == 0 || m[i]->seq > m[i - 1]->seq);
        CHECK(!last || m[i]->seq <= last);
    }
}

/* What a gateway relies on in an event: someone to deliver it to, and the
 * order and bounds of seqs and lists. */
static void check_event(int gw, const Chat__Event *ev)
{
    CHECK(ev->ev_case != CHAT__EVENT__EV__NOT_SET);
    CHECK(ev->room_target || (ev->has_all && ev->all) || ev->n_conns > 0);
    switch (ev->ev_case) {
    case CHAT__EVENT__EV_WELCOME:
        remember_token(ev);
        break;
    case CHAT__EVENT__EV_MSG:
        CHECK(ev->room_target && !strcmp(ev->room_target, ev->msg->room));
        check_room_seq(gw, ev->msg->room, ev->msg->seq);
        break;
    case CHAT__EVENT__EV_JOINED:
        CHECK(ev->joined->n_replay <= (size_t)config.replay_max);
        check_messages(ev->joined->room, ev->joined->replay, ev->joined->n_replay, ev->joined->seq);
        break;
    case CHAT__EVENT__EV_HISTORY:
        check_messages(ev->history->room, ev->history->messages, ev->history->n_messages, 0);
        break;
    case CHAT__EVENT__EV_WHO_ALL:
        CHECK(ev->who_all->n_users <= (size_t)config.who_max);
        CHECK(ev->who_all->n_users <= ev->who_all->online);
        CHECK((ev->who_all->has_truncated && ev->who_all->truncated) ==
              (ev->who_all->online > ev->who_all->n_users));
        break;
    default:
        break;
    }
}

/* Reads back everything sent to the gateways; each must be a Downstream. */
static void drain(void)
{
    for (int i = 0; i < 2; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        while (zmq_msg_recv(&m, dealers[i], ZMQ_DONTWAIT) >= 0) {
            CHECK(!zmq_msg_more(&m)); /* one frame per envelope */
            Chat__Downstream *d =
                chat__downstream__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
            CHECK(d != NULL);
            CHECK(d->body_case != CHAT__DOWNSTREAM__BODY__NOT_SET);
            if (d->body_case == CHAT__DOWNSTREAM__BODY_EVENT) check_event(i, d->event);
            chat__downstream__free_unpacked(d, NULL);
        }
        zmq_msg_close(&m);
    }
}

static int is_live(struct broker *b, const void *p)
{
    for (struct session *s = b->by_conn; s; s = s->hh_conn.next)
        if (s == p) return 1;
    return 0;
}

static int is_room(struct broker *b, const void *p)
{
    for (struct room *r = b->rooms.by_name; r; r = r->hh.next)
        if (r == p) return 1;
    return 0;
}

/* The broker's counters agree with the tables they count. */
static void check_state(struct broker *b)
{
    unsigned live = HASH_CNT(hh_conn, b->by_conn), all = HASH_CNT(hh_token, b->by_token);
    CHECK(b->online == live);
    CHECK(b->nicks.count == all);
    CHECK(b->grace.count == all - live);
    unsigned on_gws = 0;
    for (struct gateway *gw = b->gateways; gw; gw = gw->hh.next) {
        unsigned n = 0;
        for (struct session *s = b->by_conn; s; s = s->hh_conn.next) n += s->key.gw == gw;
        CHECK(gw->sessions == n);
        on_gws += n;
    }
    CHECK(on_gws == live);
    for (struct session *s = b->by_token; s; s = s->hh_token.next) {
        CHECK(nicks_owner(&b->nicks, s->nick) == s);
        CHECK(s->nrooms == HASH_CNT(hh_who, s->rooms));
        CHECK(s->nrooms <= (unsigned)b->cfg.max_rooms);
        CHECK(s->key.gw ? s->nheld == 0 : s->nrooms == 0);
    }
    for (struct room *r = b->rooms.by_name; r; r = r->hh.next) {
        CHECK(r->count == HASH_CNT(hh_room, r->members));
        CHECK(b->pending ? r->committed <= r->seq : r->committed == r->seq);
        CHECK(r->ring.size <= r->ring.cap);
        uint32_t sum = 0;
        for (size_t i = 0; i < r->ngws; i++) {
            CHECK(r->gws[i].members > 0);
            sum += r->gws[i].members;
        }
        CHECK(sum == r->count);
        for (struct member *m = r->members; m; m = m->hh_room.next) {
            CHECK(m->room == r && is_live(b, m->who));
            CHECK(rooms_member(r, m->who) == m);
        }
    }
    for (struct typing_entry *e = b->typing.by_key; e; e = e->hh.next) {
        CHECK(is_live(b, e->who));
        CHECK(e->is_dm ? is_live(b, e->target) : is_room(b, e->target));
    }
}

/* A resuming hello naming "~N": the Nth token of this input instead. */
/* "gw-a command conn=1 id=j join" and the like. */
static void trace_record(const char *gw, const Chat__Upstream *up, size_t len)
{
    const ProtobufCFieldDescriptor *f = NULL;
    if (!up) {
        fprintf(stderr, "record: %s %zu bytes that do not unpack\n", gw, len);
        return;
    }
    if (up->body_case != CHAT__UPSTREAM__BODY_COMMAND) {
        f = protobuf_c_message_descriptor_get_field(&chat__upstream__descriptor,
                                                    (unsigned)up->body_case);
        fprintf(stderr, "record: %s %s\n", gw, f ? f->name : "(no body)");
        return;
    }
    const Chat__Command *c = up->command;
    f = protobuf_c_message_descriptor_get_field(&chat__command__descriptor, (unsigned)c->cmd_case);
    fprintf(stderr, "record: %s command conn=%llu id=%s %s\n", gw, (unsigned long long)c->conn,
            c->id ? c->id : "-", f ? f->name : "(no command)");
}

static void handle(struct broker *b, const char *gw, const uint8_t *data, size_t len)
{
    Chat__Upstream *up = chat__upstream__unpack(NULL, len, data);
    if (trace) trace_record(gw, up, len);
    Chat__Hello *h = up && up->body_case == CHAT__UPSTREAM__BODY_COMMAND &&
                             up->command->cmd_case == CHAT__COMMAND__CMD_HELLO
                         ? up->command->hello
                         : NULL;
    if (!h || !h->resume_session || h->resume_session[0] != ENVELOPE_RESUME_MARK || !ntokens) {
        broker_handle(b, gw, strlen(gw), data, len);
        if (up) chat__upstream__free_unpacked(up, NULL);
        return;
    }
    char *mark = h->resume_session;
    h->resume_session = tokens[strtoul(mark + 1, NULL, 10) % ntokens];
    size_t n = chat__upstream__get_packed_size(up);
    uint8_t *buf = malloc(n ? n : 1);
    CHECK(buf != NULL);
    chat__upstream__pack(up, buf);
    broker_handle(b, gw, strlen(gw), buf, n);
    free(buf);
    h->resume_session = mark;
    chat__upstream__free_unpacked(up, NULL);
}

static void gateway_hello(struct broker *b, int i, uint64_t instance)
{
    Chat__GatewayHello h = CHAT__GATEWAY_HELLO__INIT;
    h.gateway_id = (char *)ENVELOPE_GATEWAYS[i];
    h.instance = instance;
    Chat__Upstream up = CHAT__UPSTREAM__INIT;
    up.body_case = CHAT__UPSTREAM__BODY_HELLO;
    up.hello = &h;
    uint8_t buf[64];
    size_t n = chat__upstream__pack(&up, buf);
    broker_handle(b, ENVELOPE_GATEWAYS[i], strlen(ENVELOPE_GATEWAYS[i]), buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    now_ms = 1000000;
    ntokens = 0;
    struct broker *b = broker_new(&config);
    CHECK(b != NULL);
    b->router = router;
    b->mono_ms = fake_clock;
    gateway_hello(b, 0, 1);
    gateway_hello(b, 1, 2);
    drain();

    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        if (op & ENVELOPE_TICK) {
            if (trace)
                fprintf(stderr, "record: clock +%d ms\n", (op & ~ENVELOPE_TICK) * ENVELOPE_TICK_MS);
            catch_up(b);
            now_ms += (uint64_t)(op & ~ENVELOPE_TICK) * ENVELOPE_TICK_MS;
            broker_run_timers(b);
        } else {
            size_t len = i < size ? data[i++] : 0;
            if (i < size) len |= (size_t)data[i++] << 8;
            if (len > size - i) len = size - i;
            handle(b, ENVELOPE_GATEWAYS[op % 3], data + i, len);
            i += len;
        }
        drain();
        check_state(b);
    }

    /* Messages still in flight are drained by broker_destroy() itself. */
    b->router = NULL; /* the harness's, not the broker's to close */
    broker_destroy(&b);
    drain();
    forget_seen();
#ifdef ENVELOPE_HISTORY
    remove_db();
#endif
    return 0;
}
