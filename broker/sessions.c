/* sessions.c: sessions and the connection index.
 *
 * A session is created by a successful hello and lives on its gateway
 * connection, found by (gateway, conn). Ending it stops its typing, sends
 * presence leaves to its rooms at once and frees its nick. */
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

struct session *session_new(struct broker *b, struct gateway *gw, uint64_t conn, const char *nick)
{
    struct session *s = calloc(1, sizeof *s);
    if (!s || !(s->nick = strdup(nick))) goto fail;
    if (nicks_claim(&b->nicks, nick, s) < 0) goto fail;
    s->key.gw = gw;
    s->key.conn = conn;
    new_token(s->token);
    dedupe_init(&s->dedupe, (size_t)b->cfg.dedupe);
    HASH_ADD(hh_conn, b->by_conn, key, sizeof s->key, s);
    HASH_ADD(hh_token, b->by_token, token, strlen(s->token), s);
    gw->sessions++;
    b->online++;
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

void session_end(struct broker *b, struct session *s)
{
    b->ending = s;
    typing_forget(&b->typing, s, typing_ended, b);
    b->ending = NULL;
    struct member *m, *tmp;
    HASH_ITER(hh_who, s->rooms, m, tmp)
    {
        struct room *r = m->room;
        rooms_remove(r, s, s->key.gw, &s->rooms);
        send_presence(b, r, s, 0);
    }
    nicks_release(&b->nicks, s->nick, s);
    HASH_DELETE(hh_conn, b->by_conn, s);
    HASH_DELETE(hh_token, b->by_token, s);
    s->key.gw->sessions--;
    b->online--;
    dedupe_clear(&s->dedupe);
    session_drop_queue(s);
    free(s->nick);
    free(s);
}
