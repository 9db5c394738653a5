/* sessions.c: sessions, the connection index and the grace period.
 *
 * A session is created by a successful hello and lives on its gateway
 * connection, found by (gateway, conn). When that connection ends, typing
 * stops and presence leaves go out at once. A clean close (1000) then frees
 * the session and its nick; any other end only detaches it: it leaves the
 * connection index and its rooms (remembering which), stops counting as
 * online, and waits in the grace list with its nick reserved and its dedupe
 * memory intact until a resuming hello moves it to a new connection or the
 * grace period runs out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "broker.h"
#include "log.h"

struct session *session_by_conn(struct broker *b, struct gateway *gw, uint64_t conn)
{
    struct conn_key key = {gw, conn};
    struct session *s;
    HASH_FIND(hh_conn, b->by_conn, &key, sizeof key, s);
    return s;
}

struct session *session_by_token(struct broker *b, const char *token)
{
    struct session *s;
    HASH_FIND(hh_token, b->by_token, token, strlen(token), s);
    return s;
}

static void new_token(char out[33])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        /* getrandom on Linux does not fail for 16 bytes once seeded; keep going
         * with a weaker fallback rather than refusing the session. */
        for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)rand();
    }
    for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

/* Puts s on (gw, conn): indexed, counted on its gateway and online. */
static void attach(struct broker *b, struct session *s, struct gateway *gw, uint64_t conn)
{
    s->key.gw = gw;
    s->key.conn = conn;
    HASH_ADD(hh_conn, b->by_conn, key, sizeof s->key, s);
    gw->sessions++;
    b->online++;
}

struct session *session_new(struct broker *b, struct gateway *gw, uint64_t conn, const char *nick)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s || !(s->nick = strdup(nick))) goto fail;
    if (nicks_claim(&b->nicks, nick, s) < 0) goto fail;
    new_token(s->token);
    dedupe_init(&s->dedupe, (size_t)b->cfg.dedupe);
    HASH_ADD(hh_token, b->by_token, token, strlen(s->token), s);
    attach(b, s, gw, conn);
    return s;
fail:
    if (s) free(s->nick);
    free(s);
    return NULL;
}

static void typing_ended(struct typing_entry *e, void *arg)
{
    struct broker *b = arg;
    struct session *gone = NULL;
    /* Stops sent by the one leaving go out; stops addressed to it are moot. */
    if (e->is_dm && (gone = e->target) && gone == b->ending) return;
    send_typing(b, e, 0);
}

/* Takes live s off its connection: typing stops, presence leaves go out,
 * it no longer counts online. With keep, its rooms are remembered in s->held
 * (a failed allocation loses them: a resume then restores none). Commands
 * of the old connection still waiting are dropped: nobody reads the answers. */
static void detach_conn(struct broker *b, struct session *s, int keep)
{
    b->ending = s;
    typing_forget(&b->typing, s, typing_ended, b);
    b->ending = NULL;
    free(s->held);
    s->held = NULL;
    s->nheld = 0;
    if (keep && s->nrooms && !(s->held = malloc(s->nrooms * sizeof *s->held)))
        log_error("session_rooms_lost", "nick=%s rooms=%u", s->nick, s->nrooms);
    struct member *m, *tmp;
    HASH_ITER(hh_who, s->rooms, m, tmp)
    {
        struct room *r = m->room;
        if (s->held) s->held[s->nheld++] = r;
        rooms_remove(r, s, s->key.gw, &s->rooms);
        send_presence(b, r, s, 0);
    }
    s->nrooms = 0;
    HASH_DELETE(hh_conn, b->by_conn, s);
    s->key.gw->sessions--;
    b->online--;
    s->key.gw = NULL;
    s->key.conn = 0;
    session_drop_queue(s);
}

void session_end(struct broker *b, struct session *s)
{
    if (s->key.gw) detach_conn(b, s, 0);
    grace_release(&b->grace, &s->grace);
    nicks_release(&b->nicks, s->nick, s);
    HASH_DELETE(hh_token, b->by_token, s);
    dedupe_clear(&s->dedupe);
    free(s->held);
    free(s->nick);
    free(s);
}

void session_detach(struct broker *b, struct session *s)
{
    if (!b->cfg.grace_ms) {
        session_end(b, s);
        return;
    }
    detach_conn(b, s, 1);
    grace_hold(&b->grace, &s->grace, s, b->mono_ms());
    log_debug("session_detached", "nick=%s rooms=%u grace_ms=%lld", s->nick, s->nheld,
              b->cfg.grace_ms);
}

void session_move(struct broker *b, struct session *s, struct gateway *gw, uint64_t conn)
{
    if (s->key.gw) {
        log_info("session_taken_over", "nick=%s gateway=%s conn=%llu", s->nick, s->key.gw->id,
                 (unsigned long long)s->key.conn);
        send_close(b, s, 4001, "session taken over");
        detach_conn(b, s, 1);
    }
    grace_release(&b->grace, &s->grace);
    attach(b, s, gw, conn);
}

void sessions_expire(struct broker *b)
{
    struct grace_entry *e;
    while ((e = grace_expired(&b->grace, b->mono_ms()))) {
        struct session *s = e->owner;
        log_debug("session_expired", "nick=%s", s->nick);
        session_end(b, s);
    }
}

void sessions_clear(struct broker *b)
{
    struct session *s, *tmp;
    HASH_ITER(hh_token, b->by_token, s, tmp) session_end(b, s);
}
