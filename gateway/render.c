/* render: broker events -> the JSON text frames of PROTOCOL.md.
 *
 * Every frame is a compact JSON object whose first key is "type"; jansson
 * keeps keys in insertion order, does the string escaping (quote, backslash
 * and control characters; everything else, non-ASCII included, passes through
 * as UTF-8) and refuses strings that are not valid UTF-8, in which case the
 * event renders to no frame rather than to a frame the client cannot parse.
 * Numbers from the broker (seq, ts, counts) are JSON integers; uint64 values
 * go through json_int_t, which holds every seq and ms timestamp there will be.
 *
 * The client's "id" is echoed in the replies to one command (welcome, joined,
 * left, ack, who, history, error), where the protocol's examples put it. */
#include "render.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

struct frame *frame_new(const char *json, size_t len)
{
    if (len > UINT32_MAX - FRAME_PRE - 1) return NULL;
    /* One byte past the payload holds a NUL, for logs and tests; it is not
     * part of len. */
    struct frame *f = malloc(sizeof *f + FRAME_PRE + len + 1);
    if (!f) return NULL;
    f->refs = 1;
    f->len = (uint32_t)len;
    f->kind = 0;
    if (len) memcpy(frame_payload(f), json, len);
    frame_payload(f)[len] = '\0';
    return f;
}

void frame_ref(struct frame *f)
{
    if (f) f->refs++;
}

void frame_unref(struct frame *f)
{
    if (f && --f->refs == 0) free(f);
}

/* ---------------------------------------------------------------- building
 * A frame is built as a jansson object; a NULL anywhere (a missing string,
 * invalid UTF-8, OOM) makes json_object_set_new fail and is remembered in
 * `ok`, so the builders need no error handling of their own. */

struct obj {
    json_t *j;
    int ok;
};

static struct obj obj_new(const char *type)
{
    struct obj o = {json_object(), 1};
    if (!o.j || json_object_set_new(o.j, "type", json_string(type)) != 0) o.ok = 0;
    return o;
}

static void put(struct obj *o, const char *key, json_t *v)
{
    /* json_object_set_new takes v (and frees it) even when it fails. */
    if (!o->j) {
        json_decref(v);
        return;
    }
    if (json_object_set_new(o->j, key, v) != 0) o->ok = 0;
}

static void put_str(struct obj *o, const char *key, const char *s)
{
    put(o, key, s ? json_string(s) : NULL);
}

static void put_uint(struct obj *o, const char *key, uint64_t u)
{
    put(o, key, json_integer((json_int_t)u));
}

static void put_bool(struct obj *o, const char *key, int b)
{
    put(o, key, json_boolean(b));
}

static void put_id(struct obj *o, const char *id)
{
    if (id) put_str(o, "id", id);
}

static json_t *str_array(char **s, size_t n)
{
    json_t *a = json_array();
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!s[i] || json_array_append_new(a, json_string(s[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The frame, or NULL if anything went wrong; consumes o. */
static struct frame *finish(struct obj *o)
{
    struct frame *f = NULL;
    if (o->j && o->ok) {
        char *text = json_dumps(o->j, DUMP_FLAGS);
        if (text) f = frame_new(text, strlen(text));
        free(text);
    }
    json_decref(o->j);
    o->j = NULL;
    return f;
}

/* The fields of a room message, shared by "msg" frames and history entries. */
static void put_message(struct obj *o, const Chat__MsgEvent *m)
{
    put_uint(o, "seq", m->seq);
    put_str(o, "from", m->from);
    put_str(o, "text", m->text);
    put_uint(o, "ts", m->ts);
}

static struct frame *msg_frame(const Chat__MsgEvent *m)
{
    struct obj o = obj_new("msg");
    put_str(&o, "room", m->room);
    put_message(&o, m);
    return finish(&o);
}

static struct frame *welcome(const Chat__Welcome *w, const char *id)
{
    struct obj o = obj_new("welcome");
    put_str(&o, "nick", w->nick);
    put_str(&o, "session", w->session);
    put_uint(&o, "online", w->online);
    put_bool(&o, "resumed", w->resumed);
    put_id(&o, id);
    return finish(&o);
}

/* Only the "joined" frame: the replayed messages are render_msg()'s. */
static struct frame *joined(const Chat__Joined *j, const char *id)
{
    struct obj o = obj_new("joined");
    put_str(&o, "room", j->room);
    put(&o, "members", str_array(j->members, j->n_members));
    put_uint(&o, "seq", j->seq);
    put_id(&o, id);
    return finish(&o);
}

static struct frame *left(const Chat__Left *l, const char *id)
{
    struct obj o = obj_new("left");
    put_str(&o, "room", l->room);
    put_id(&o, id);
    return finish(&o);
}

/* Ack.nick is for the gateway only and never reaches the client. */
static struct frame *ack(const Chat__Ack *a, const char *id)
{
    struct obj o = obj_new("ack");
    put_id(&o, id);
    if (a->room) put_str(&o, "room", a->room);
    if (a->has_seq) put_uint(&o, "seq", a->seq);
    if (a->has_ts) put_uint(&o, "ts", a->ts);
    return finish(&o);
}

static struct frame *dm(const Chat__DmEvent *d)
{
    struct obj o = obj_new("dm");
    put_str(&o, "from", d->from);
    put_str(&o, "text", d->text);
    put_uint(&o, "ts", d->ts);
    return finish(&o);
}

static struct frame *presence(const Chat__Presence *p)
{
    struct obj o = obj_new("presence");
    put_str(&o, "room", p->room);
    put_str(&o, "nick", p->nick);
    put_str(&o, "event", p->join ? "join" : "leave");
    put_uint(&o, "count", p->count);
    return finish(&o);
}

/* DM typing has no "room". */
static struct frame *typing(const Chat__TypingEvent *t)
{
    struct obj o = obj_new("typing");
    if (t->room) put_str(&o, "room", t->room);
    put_str(&o, "nick", t->nick);
    put_bool(&o, "active", t->active);
    return finish(&o);
}

static struct frame *nick(const Chat__NickEvent *n)
{
    struct obj o = obj_new("nick");
    put_str(&o, "old", n->old);
    put_str(&o, "new", n->new_);
    return finish(&o);
}

static struct frame *who_room(const Chat__WhoRoom *w, const char *id)
{
    struct obj o = obj_new("who");
    put_str(&o, "room", w->room);
    put(&o, "members", str_array(w->members, w->n_members));
    put_id(&o, id);
    return finish(&o);
}

static struct frame *who_all(const Chat__WhoAll *w, const char *id)
{
    struct obj o = obj_new("who");
    put_uint(&o, "online", w->online);
    put(&o, "users", str_array(w->users, w->n_users));
    if (w->has_truncated && w->truncated) put_bool(&o, "truncated", 1);
    put_id(&o, id);
    return finish(&o);
}

static json_t *history_entry(const Chat__MsgEvent *m)
{
    if (!m) return NULL;
    struct obj e = {json_object(), 1};
    put_message(&e, m);
    if (!e.ok) {
        json_decref(e.j);
        return NULL;
    }
    return e.j;
}

static struct frame *history(const Chat__HistoryEvent *h, const char *id)
{
    struct obj o = obj_new("history");
    json_t *a = json_array();
    put_str(&o, "room", h->room);
    for (size_t i = 0; a && i < h->n_messages; i++) {
        if (json_array_append_new(a, history_entry(h->messages[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    put(&o, "messages", a);
    put_id(&o, id);
    return finish(&o);
}

static struct frame *online(const Chat__Online *c)
{
    struct obj o = obj_new("online");
    put_uint(&o, "count", c->count);
    return finish(&o);
}

static struct frame *error(const char *code, const char *message, const char *id, int has_retry,
                           uint64_t retry_after_ms)
{
    struct obj o = obj_new("error");
    put_str(&o, "code", code);
    put_str(&o, "message", message ? message : "");
    put_id(&o, id);
    if (has_retry) put_uint(&o, "retry_after_ms", retry_after_ms);
    return finish(&o);
}

/* The frame of an event, tagged with its kind. */
static struct frame *event_frame(const Chat__Event *ev);

struct frame *render_event(const Chat__Event *ev)
{
    struct frame *f = ev ? event_frame(ev) : NULL;
    if (f) f->kind = (uint32_t)ev->ev_case;
    return f;
}

static struct frame *event_frame(const Chat__Event *ev)
{
    switch (ev->ev_case) {
    case CHAT__EVENT__EV_WELCOME:
        return ev->welcome ? welcome(ev->welcome, ev->id) : NULL;
    case CHAT__EVENT__EV_JOINED:
        return ev->joined ? joined(ev->joined, ev->id) : NULL;
    case CHAT__EVENT__EV_LEFT:
        return ev->left ? left(ev->left, ev->id) : NULL;
    case CHAT__EVENT__EV_ACK:
        return ev->ack ? ack(ev->ack, ev->id) : NULL;
    case CHAT__EVENT__EV_MSG:
        return ev->msg ? msg_frame(ev->msg) : NULL;
    case CHAT__EVENT__EV_DM:
        return ev->dm ? dm(ev->dm) : NULL;
    case CHAT__EVENT__EV_PRESENCE:
        return ev->presence ? presence(ev->presence) : NULL;
    case CHAT__EVENT__EV_TYPING:
        return ev->typing ? typing(ev->typing) : NULL;
    case CHAT__EVENT__EV_NICK:
        return ev->nick ? nick(ev->nick) : NULL;
    case CHAT__EVENT__EV_WHO_ROOM:
        return ev->who_room ? who_room(ev->who_room, ev->id) : NULL;
    case CHAT__EVENT__EV_WHO_ALL:
        return ev->who_all ? who_all(ev->who_all, ev->id) : NULL;
    case CHAT__EVENT__EV_HISTORY:
        return ev->history ? history(ev->history, ev->id) : NULL;
    case CHAT__EVENT__EV_ONLINE:
        return ev->online ? online(ev->online) : NULL;
    case CHAT__EVENT__EV_ERROR:
        if (!ev->error) return NULL;
        return error(ev->error->code, ev->error->message, ev->id, ev->error->has_retry_after_ms,
                     ev->error->retry_after_ms);
    case CHAT__EVENT__EV_CLOSE:
    case CHAT__EVENT__EV__NOT_SET:
    default:
        return NULL;
    }
}

struct frame *render_msg(const Chat__MsgEvent *m)
{
    struct frame *f = m ? msg_frame(m) : NULL;
    if (f) f->kind = CHAT__EVENT__EV_MSG;
    return f;
}

struct frame *render_error(const char *code, const char *message, const char *id,
                           long retry_after_ms)
{
    struct frame *f = error(code, message, id, retry_after_ms >= 0,
                            retry_after_ms >= 0 ? (uint64_t)retry_after_ms : 0);
    if (f) f->kind = CHAT__EVENT__EV_ERROR;
    return f;
}

struct frame *render_pong(const char *id)
{
    struct obj o = obj_new("pong");
    put_id(&o, id);
    struct frame *f = finish(&o);
    if (f) f->kind = FRAME_KIND_PONG;
    return f;
}
