/* cmd_rooms.c: join and leave. */
#include <stdlib.h>

#include "broker.h"
#include "log.h"

/* Sends `joined` to s, with the replay of messages with seq > since when
 * has_since (at most --replay-max, the newest). */
static void send_joined(struct broker *b, struct session *s, struct room *r, int has_since,
                        uint64_t since, const char *id)
{
    Chat__Joined j = CHAT__JOINED__INIT;
    j.room = r->name;
    j.seq = r->committed;
    struct msg_list replay = {0};
    char **members = malloc((r->count ? r->count : 1) * sizeof *members);
    if (!members) goto oom;
    for (struct member *m = r->members; m; m = m->hh_room.next)
        members[j.n_members++] = ((struct session *)m->who)->nick;
    j.members = members;
    if (has_since && since < r->committed) {
        uint64_t from = since + 1, max = (uint64_t)b->cfg.replay_max;
        if (r->committed - since > max) from = r->committed - max + 1;
        if (history_read(b, r, from, r->committed, &replay) < 0) goto oom;
        j.replay = replay.ptrs;
        j.n_replay = replay.n;
    }
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_JOINED;
    ev.joined = &j;
    send_to(b, s, &ev, id);
    goto done;
oom:
    log_error("joined_failed", "room=%s", r->name);
    send_error(b, s->key.gw, s->key.conn, id, "internal", "could not read the room's messages");
done:
    free(members);
    msg_list_clear(&replay);
}

int cmd_join_room(struct broker *b, struct session *s, struct room *r, int has_since,
                  uint64_t since, const char *id)
{
    int added = rooms_add(r, s, s->key.gw, &s->rooms);
    if (added < 0) return -1;
    if (added) s->nrooms++;
    send_joined(b, s, r, has_since, since, id);
    if (added) send_presence(b, r, s, 1);
    return 0;
}

void cmd_join(struct broker *b, struct session *s, const Chat__Command *c)
{
    const Chat__Join *jn = c->join;
    struct room *r = rooms_find(&b->rooms, jn->room);
    if (!(r && rooms_member(r, s)) && s->nrooms >= (unsigned)b->cfg.max_rooms) {
        send_error(b, s->key.gw, s->key.conn, c->id, "too_many_rooms",
                   "this session is in the maximum number of rooms; leave one first");
        return;
    }
    if (!r && !(r = rooms_get(&b->rooms, jn->room))) goto oom;
    if (cmd_join_room(b, s, r, jn->has_since, jn->since, c->id) < 0) goto oom;
    return;
oom:
    log_error("join_oom", "room=%s", jn->room);
    send_error(b, s->key.gw, s->key.conn, c->id, "internal", "out of memory");
}

void cmd_leave(struct broker *b, struct session *s, const Chat__Command *c)
{
    struct room *r = rooms_find(&b->rooms, c->leave->room);
    if (!r || !rooms_member(r, s)) {
        send_error(b, s->key.gw, s->key.conn, c->id, "not_in_room", "you are not in that room");
        return;
    }
    if (typing_stop(&b->typing, s, r)) {
        struct typing_entry e = {.who = s, .target = r, .is_dm = 0};
        send_typing(b, &e, 0);
    }
    rooms_remove(r, s, s->key.gw, &s->rooms);
    s->nrooms--;
    Chat__Left l = CHAT__LEFT__INIT;
    l.room = r->name;
    Chat__Event ev = CHAT__EVENT__INIT;
    ev.ev_case = CHAT__EVENT__EV_LEFT;
    ev.left = &l;
    send_to(b, s, &ev, c->id);
    send_presence(b, r, s, 0);
}
