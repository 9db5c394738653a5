/* codec: client JSON frame -> validated Chat__Command.
 *
 * A frame is decided in four passes, each finishing before the next starts,
 * so that a frame with several faults always gets the error PROTOCOL.md's
 * "Precise rules" put first:
 *
 *  1. bad_json: jansson parses the frame (it rejects invalid UTF-8, lone
 *     surrogate escapes and trailing bytes); the top level must be an object.
 *     Valid JSON that jansson cannot hold (a NUL in a key, a number out of
 *     range, nesting deeper than its parser allows) is a bad_request instead:
 *     the frame is JSON, just not an acceptable command.
 *  2. bad_request: "id" first (so that every later error can echo it), then
 *     "type", then every field of the command: presence, JSON type (null is a
 *     wrong type), integers that are really integers and not negative, no NUL
 *     inside a string, non-blank text, and the rules that need only the
 *     connection's own state (a second hello, a DM or typing to oneself).
 *  3. nick_invalid / room_invalid / too_large: the patterns and lengths.
 *  4. not_identified: anything but hello and ping before hello.
 *
 * Strings in the command point into the parsed document (out->root), which is
 * why the command lives until codec_cmd_clear(). */
#include "codec.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

/* Passes return OK to go on or FAIL once out->err_code/err_msg are set. */
enum { OK = 0, FAIL = -1 };

/* Nicks are folded and compared in chunks of this many bytes, so that the
 * comparison needs no allocation whatever the configured nick length. */
#define FOLD_CHUNK 64

static int fail(struct codec_cmd *out, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct codec_cmd *out, const char *code, const char *fmt, ...)
{
    va_list ap;
    out->err_code = code;
    va_start(ap, fmt);
    vsnprintf(out->err_msg, sizeof out->err_msg, fmt, ap);
    va_end(ap);
    /* The message may quote the client's bytes (jansson's "near '...'") and may
     * have been cut mid-character: keep it printable ASCII so that it is
     * always valid UTF-8 when rendered. */
    for (char *p = out->err_msg; *p; p++)
        if (*p < 0x20 || *p > 0x7E) *p = '?';
    return FAIL;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        break;
    }
    return "null";
}

/* ---------------------------------------------------------------- field readers
 * Each returns 1 when the field is present and good, 0 when it is absent and
 * optional, FAIL (with the error set) otherwise. `name` is the field as the
 * client wrote it, for the message ("resume.session"). */

static int read_string(struct codec_cmd *out, json_t *obj, const char *key, const char *name,
                       int required, const char **s, size_t *len)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return fail(out, "bad_request", "missing \"%s\"", name);
        return 0;
    }
    if (!json_is_string(v))
        return fail(out, "bad_request", "\"%s\" must be a string, not %s", name, type_name(v));
    *s = json_string_value(v);
    *len = json_string_length(v);
    if (memchr(*s, '\0', *len))
        return fail(out, "bad_request", "\"%s\" must not contain a NUL character (\\u0000)", name);
    return 1;
}

static int read_uint(struct codec_cmd *out, json_t *obj, const char *key, const char *name,
                     int required, uint64_t *u)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required) return fail(out, "bad_request", "missing \"%s\"", name);
        return 0;
    }
    if (!json_is_integer(v))
        return fail(out, "bad_request", "\"%s\" must be an integer, not %s", name, type_name(v));
    json_int_t i = json_integer_value(v);
    if (i < 0) return fail(out, "bad_request", "\"%s\" must not be negative", name);
    *u = (uint64_t)i;
    return 1;
}

static int read_bool(struct codec_cmd *out, json_t *obj, const char *key, int *b)
{
    json_t *v = json_object_get(obj, key);
    if (!v) return fail(out, "bad_request", "missing \"%s\"", key);
    if (!json_is_boolean(v))
        return fail(out, "bad_request", "\"%s\" must be true or false, not %s", key, type_name(v));
    *b = json_is_true(v);
    return 1;
}

/* 1 if a and b are the same nick, compared case-insensitively. */
static int same_nick(const char *a, size_t alen, const char *b, size_t blen)
{
    char fa[FOLD_CHUNK + 1], fb[FOLD_CHUNK + 1];
    if (alen != blen) return 0;
    for (size_t off = 0; off < alen; off += FOLD_CHUNK) {
        size_t n = alen - off < FOLD_CHUNK ? alen - off : FOLD_CHUNK;
        text_fold(a + off, n, fa);
        text_fold(b + off, n, fb);
        if (memcmp(fa, fb, n) != 0) return 0;
    }
    return 1;
}

/* "to" of dm and typing: a DM to oneself is a bad_request. */
static int check_not_self(struct codec_cmd *out, const char *to, size_t len, const char *self,
                          const char *what)
{
    if (self && same_nick(to, len, self, strlen(self)))
        return fail(out, "bad_request", "\"to\" is your own nick: %s to oneself is not allowed",
                    what);
    return OK;
}

static int check_nick(struct codec_cmd *out, const char *name, const char *s, size_t len,
                      const struct codec_limits *lim)
{
    if (!text_valid_nick(s, len, lim->max_nick))
        return fail(out, "nick_invalid", "\"%s\" must be 1-%zu characters of A-Z a-z 0-9 _ . -",
                    name, lim->max_nick);
    return OK;
}

static int check_room(struct codec_cmd *out, const char *name, const char *s, size_t len,
                      const struct codec_limits *lim)
{
    if (!text_valid_room(s, len, lim->max_room))
        return fail(out, "room_invalid", "\"%s\" must be 1-%zu characters of a-z 0-9 _ . # -", name,
                    lim->max_room);
    return OK;
}

/* msg and dm text: non-blank is a bad_request rule, the length a too_large one;
 * the caller runs them in separate passes. */
static int check_text_blank(struct codec_cmd *out, const char *s, size_t len)
{
    if (text_is_blank(s, len))
        return fail(out, "bad_request", "\"text\" must not be empty or blank");
    return OK;
}

static int check_text_length(struct codec_cmd *out, const char *s, size_t len,
                             const struct codec_limits *lim)
{
    if (text_codepoints(s, len) > lim->max_text)
        return fail(out, "too_large", "\"text\" is longer than %zu characters", lim->max_text);
    return OK;
}

/* ---------------------------------------------------------------- commands
 * Each decoder runs passes 2 and 3 for its command and fills out->body. */

/* The fields of a resuming hello, gathered in pass 2 and checked in pass 3. */
static int decode_resume(struct codec_cmd *out, json_t *resume, Chat__Hello *h)
{
    const char *session;
    size_t len;
    uint64_t seq;

    if (!json_is_object(resume))
        return fail(out, "bad_request", "\"resume\" must be an object, not %s", type_name(resume));
    if (read_string(out, resume, "session", "resume.session", 1, &session, &len) < 0) return FAIL;
    h->resume_session = (char *)session;

    json_t *rooms = json_object_get(resume, "rooms");
    if (!rooms) return OK;
    if (!json_is_object(rooms))
        return fail(out, "bad_request", "\"resume.rooms\" must be an object, not %s",
                    type_name(rooms));
    size_t n = json_object_size(rooms);
    if (n == 0) return OK;

    /* jansson's allocator, so that one allocator serves the whole decode (and
     * tests can make it fail). */
    json_malloc_t alloc;
    json_free_t release;
    json_get_alloc_funcs(&alloc, &release);
    out->resume_rooms = alloc(n * sizeof *out->resume_rooms);
    out->resume_room_ptrs = alloc(n * sizeof *out->resume_room_ptrs);
    if (!out->resume_rooms || !out->resume_room_ptrs) return fail(out, "internal", "out of memory");

    const char *room;
    json_t *v;
    size_t i = 0;
    json_object_foreach(rooms, room, v)
    {
        if (!json_is_integer(v))
            return fail(out, "bad_request",
                        "each value of \"resume.rooms\" must be an integer seq, not %s",
                        type_name(v));
        if (json_integer_value(v) < 0)
            return fail(out, "bad_request", "a seq in \"resume.rooms\" must not be negative");
        seq = (uint64_t)json_integer_value(v);
        chat__room_pos__init(&out->resume_rooms[i]);
        out->resume_rooms[i].room = (char *)room;
        out->resume_rooms[i].seq = seq;
        out->resume_room_ptrs[i] = &out->resume_rooms[i];
        i++;
    }
    h->n_resume_rooms = i;
    h->resume_rooms = out->resume_room_ptrs;
    return OK;
}

static int decode_hello(struct codec_cmd *out, json_t *root, enum conn_state state,
                        const struct codec_limits *lim)
{
    Chat__Hello *h = &out->body.hello;
    const char *nick;
    size_t nick_len;

    chat__hello__init(h);
    if (read_string(out, root, "nick", "nick", 1, &nick, &nick_len) < 0) return FAIL;
    h->nick = (char *)nick;
    /* Only its type here: whether auth wants it is the gateway's setting. */
    if (read_string(out, root, "token", "token", 0, &out->token, &out->token_len) < 0) return FAIL;
    json_t *resume = json_object_get(root, "resume");
    if (resume && decode_resume(out, resume, h) < 0) return FAIL;
    if (state == CONN_IDENTIFIED)
        return fail(out, "bad_request", "already identified: a second \"hello\" is not allowed");

    if (check_nick(out, "nick", nick, nick_len, lim) < 0) return FAIL;
    for (size_t i = 0; i < h->n_resume_rooms; i++) {
        const char *room = h->resume_rooms[i]->room;
        if (!text_valid_room(room, strlen(room), lim->max_room))
            return fail(out, "room_invalid",
                        "a room in \"resume.rooms\" is not 1-%zu characters of a-z 0-9 _ . # -",
                        lim->max_room);
    }
    out->cmd.cmd_case = CHAT__COMMAND__CMD_HELLO;
    out->cmd.hello = h;
    return OK;
}

static int decode_join(struct codec_cmd *out, json_t *root, const struct codec_limits *lim)
{
    Chat__Join *j = &out->body.join;
    const char *room;
    size_t len;
    uint64_t since;
    int r;

    chat__join__init(j);
    if (read_string(out, root, "room", "room", 1, &room, &len) < 0) return FAIL;
    if ((r = read_uint(out, root, "since", "since", 0, &since)) < 0) return FAIL;
    if (check_room(out, "room", room, len, lim) < 0) return FAIL;
    j->room = (char *)room;
    if (r == 1) {
        j->has_since = 1;
        j->since = since;
    }
    out->cmd.cmd_case = CHAT__COMMAND__CMD_JOIN;
    out->cmd.join = j;
    return OK;
}

static int decode_leave(struct codec_cmd *out, json_t *root, const struct codec_limits *lim)
{
    Chat__Leave *l = &out->body.leave;
    const char *room;
    size_t len;

    chat__leave__init(l);
    if (read_string(out, root, "room", "room", 1, &room, &len) < 0) return FAIL;
    if (check_room(out, "room", room, len, lim) < 0) return FAIL;
    l->room = (char *)room;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_LEAVE;
    out->cmd.leave = l;
    return OK;
}

static int decode_msg(struct codec_cmd *out, json_t *root, const struct codec_limits *lim)
{
    Chat__Msg *m = &out->body.msg;
    const char *room, *text;
    size_t room_len, text_len;

    chat__msg__init(m);
    if (read_string(out, root, "room", "room", 1, &room, &room_len) < 0) return FAIL;
    if (read_string(out, root, "text", "text", 1, &text, &text_len) < 0) return FAIL;
    if (check_text_blank(out, text, text_len) < 0) return FAIL;
    if (check_room(out, "room", room, room_len, lim) < 0) return FAIL;
    if (check_text_length(out, text, text_len, lim) < 0) return FAIL;
    m->room = (char *)room;
    m->text = (char *)text;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_MSG;
    out->cmd.msg = m;
    return OK;
}

static int decode_dm(struct codec_cmd *out, json_t *root, const char *self,
                     const struct codec_limits *lim)
{
    Chat__Dm *d = &out->body.dm;
    const char *to, *text;
    size_t to_len, text_len;

    chat__dm__init(d);
    if (read_string(out, root, "to", "to", 1, &to, &to_len) < 0) return FAIL;
    if (read_string(out, root, "text", "text", 1, &text, &text_len) < 0) return FAIL;
    if (check_text_blank(out, text, text_len) < 0) return FAIL;
    if (check_not_self(out, to, to_len, self, "a DM") < 0) return FAIL;
    if (check_nick(out, "to", to, to_len, lim) < 0) return FAIL;
    if (check_text_length(out, text, text_len, lim) < 0) return FAIL;
    d->to = (char *)to;
    d->text = (char *)text;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_DM;
    out->cmd.dm = d;
    return OK;
}

static int decode_typing(struct codec_cmd *out, json_t *root, const char *self,
                         const struct codec_limits *lim)
{
    Chat__Typing *t = &out->body.typing;
    const char *room = NULL, *to = NULL;
    size_t room_len = 0, to_len = 0;
    int has_room, has_to, active = 0;

    chat__typing__init(t);
    if ((has_room = read_string(out, root, "room", "room", 0, &room, &room_len)) < 0) return FAIL;
    if ((has_to = read_string(out, root, "to", "to", 0, &to, &to_len)) < 0) return FAIL;
    if (has_room == has_to)
        return fail(out, "bad_request", "\"typing\" needs exactly one of \"room\" and \"to\"");
    if (read_bool(out, root, "active", &active) < 0) return FAIL;
    if (has_to && check_not_self(out, to, to_len, self, "typing") < 0) return FAIL;

    if (has_room && check_room(out, "room", room, room_len, lim) < 0) return FAIL;
    if (has_to && check_nick(out, "to", to, to_len, lim) < 0) return FAIL;
    t->room = (char *)room;
    t->to = (char *)to;
    t->active = active;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_TYPING;
    out->cmd.typing = t;
    return OK;
}

static int decode_nick(struct codec_cmd *out, json_t *root, const struct codec_limits *lim)
{
    Chat__Nick *n = &out->body.nick;
    const char *nick;
    size_t len;

    chat__nick__init(n);
    if (read_string(out, root, "nick", "nick", 1, &nick, &len) < 0) return FAIL;
    if (check_nick(out, "nick", nick, len, lim) < 0) return FAIL;
    n->nick = (char *)nick;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_NICK;
    out->cmd.nick = n;
    return OK;
}

static int decode_who(struct codec_cmd *out, json_t *root, const struct codec_limits *lim)
{
    Chat__Who *w = &out->body.who;
    const char *room = NULL;
    size_t len;
    int r;

    chat__who__init(w);
    if ((r = read_string(out, root, "room", "room", 0, &room, &len)) < 0) return FAIL;
    if (r == 1 && check_room(out, "room", room, len, lim) < 0) return FAIL;
    w->room = (char *)room;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_WHO;
    out->cmd.who = w;
    return OK;
}

static int decode_history(struct codec_cmd *out, json_t *root, const struct codec_limits *lim)
{
    Chat__History *h = &out->body.history;
    const char *room;
    size_t len;
    uint64_t before, limit = lim->history_default;
    int has_before;

    chat__history__init(h);
    if (read_string(out, root, "room", "room", 1, &room, &len) < 0) return FAIL;
    if ((has_before = read_uint(out, root, "before", "before", 0, &before)) < 0) return FAIL;
    json_t *v = json_object_get(root, "limit");
    if (v) {
        if (!json_is_integer(v))
            return fail(out, "bad_request", "\"limit\" must be an integer, not %s", type_name(v));
        if (json_integer_value(v) < 1)
            return fail(out, "bad_request", "\"limit\" must be at least 1");
        limit = (uint64_t)json_integer_value(v);
    }
    if (limit > lim->history_max) limit = lim->history_max;
    if (check_room(out, "room", room, len, lim) < 0) return FAIL;
    h->room = (char *)room;
    if (has_before == 1) {
        h->has_before = 1;
        h->before = before;
    }
    h->limit = (uint32_t)limit;
    out->cmd.cmd_case = CHAT__COMMAND__CMD_HISTORY;
    out->cmd.history = h;
    return OK;
}

/* ---------------------------------------------------------------- the frame */

/* Pass 1: the frame must be one JSON object. */
static int parse(struct codec_cmd *out, const char *frame, size_t len)
{
    json_error_t err;

    out->root = json_loadb(frame ? frame : "", frame ? len : 0, JSON_ALLOW_NUL, &err);
    if (!out->root) {
        /* jansson fails without saying why only when it runs out of memory
         * (some of its OOM paths do look like syntax errors, and stay bad_json). */
        if (err.text[0] == '\0') return fail(out, "internal", "out of memory");
        /* What is not an object at all is bad_json, whatever else is wrong. */
        size_t i = 0;
        while (frame && i < len && frame[i] && strchr(" \t\r\n", frame[i])) i++;
        if (!frame || i == len || frame[i] != '{')
            return fail(out, "bad_json", "not valid JSON: %s", err.text);
        switch (json_error_code(&err)) {
        case json_error_null_byte_in_key:
            return fail(out, "bad_request", "a key must not contain a NUL character (\\u0000)");
        case json_error_numeric_overflow:
            return fail(out, "bad_request", "a number is out of range: %s", err.text);
        case json_error_stack_overflow:
            return fail(out, "bad_request", "the JSON is nested too deeply");
        default:
            return fail(out, "bad_json", "not valid JSON: %s", err.text);
        }
    }
    if (!json_is_object(out->root))
        return fail(out, "bad_json", "a frame must be a JSON object, not %s", type_name(out->root));
    return OK;
}

/* "id": echoed when it is a string of at most max_id code points. */
static int decode_id(struct codec_cmd *out, const struct codec_limits *lim)
{
    const char *id;
    size_t len;
    int r = read_string(out, out->root, "id", "id", 0, &id, &len);
    if (r <= 0) return r;
    if (text_codepoints(id, len) > lim->max_id)
        return fail(out, "bad_request", "\"id\" is longer than %zu characters", lim->max_id);
    out->id = id;
    out->cmd.id = (char *)id;
    return OK;
}

/* The client's type names, indexed like the decoders below. */
enum cmd_type { T_HELLO, T_JOIN, T_LEAVE, T_MSG, T_DM, T_TYPING, T_NICK, T_WHO, T_HISTORY, T_PING };

static const char *const type_names[] = {"hello",  "join", "leave", "msg",     "dm",
                                         "typing", "nick", "who",   "history", "ping"};

/* The command's type, or FAIL. An unknown type is quoted in the message when
 * it is short and printable (then it is safe to). */
static int decode_type(struct codec_cmd *out)
{
    const char *type;
    size_t len;

    if (read_string(out, out->root, "type", "type", 1, &type, &len) < 0) return FAIL;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strlen(type_names[i]) == len && memcmp(type_names[i], type, len) == 0) return (int)i;
    }
    int printable = len <= 32;
    for (size_t i = 0; printable && i < len; i++)
        printable = type[i] >= 0x20 && type[i] < 0x7F && type[i] != '"' && type[i] != '\\';
    if (printable) return fail(out, "bad_request", "unknown \"type\" \"%s\"", type);
    return fail(out, "bad_request", "unknown \"type\"");
}

enum codec_result codec_decode(const char *frame, size_t len, enum conn_state state,
                               const char *self_nick, const struct codec_limits *limits,
                               struct codec_cmd *out)
{
    int t, r = FAIL;

    memset(out, 0, sizeof *out);
    chat__command__init(&out->cmd);

    if (parse(out, frame, len) < 0) return CODEC_ERROR;
    if (decode_id(out, limits) < 0) return CODEC_ERROR;
    if ((t = decode_type(out)) < 0) return CODEC_ERROR;

    switch ((enum cmd_type)t) {
    case T_PING:
        return CODEC_PING;
    case T_HELLO:
        r = decode_hello(out, out->root, state, limits);
        break;
    case T_JOIN:
        r = decode_join(out, out->root, limits);
        break;
    case T_LEAVE:
        r = decode_leave(out, out->root, limits);
        break;
    case T_MSG:
        r = decode_msg(out, out->root, limits);
        break;
    case T_DM:
        r = decode_dm(out, out->root, self_nick, limits);
        break;
    case T_TYPING:
        r = decode_typing(out, out->root, self_nick, limits);
        break;
    case T_NICK:
        r = decode_nick(out, out->root, limits);
        break;
    case T_WHO:
        r = decode_who(out, out->root, limits);
        break;
    case T_HISTORY:
        r = decode_history(out, out->root, limits);
        break;
    }
    if (r < 0) return CODEC_ERROR;

    /* Pass 4. */
    if (state == CONN_NEW && t != T_HELLO) {
        fail(out, "not_identified", "send \"hello\" first");
        return CODEC_ERROR;
    }
    return CODEC_FORWARD;
}

void codec_cmd_clear(struct codec_cmd *c)
{
    json_malloc_t alloc;
    json_free_t release;

    if (!c) return;
    json_get_alloc_funcs(&alloc, &release);
    if (c->resume_rooms) release(c->resume_rooms);
    if (c->resume_room_ptrs) release(c->resume_room_ptrs);
    json_decref(c->root);
    memset(c, 0, sizeof *c);
    chat__command__init(&c->cmd);
}
