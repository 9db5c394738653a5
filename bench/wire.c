/* wire.c: frames out, fast classification in (see wire.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "wire.h"

/* ---------------------------------------------------------------- reading */

#define LIT(s) s, sizeof s - 1

static int starts(const char *buf, size_t len, const char *lit, size_t n)
{
    return len >= n && !memcmp(buf, lit, n);
}

/* Digits at *p (before end) as a number; advances *p. -1 when there are none. */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9' && s - *p < 20) v = v * 10 + (uint64_t)(*s++ - '0');
    if (s == *p) return -1;
    *p = s;
    *out = v;
    return 0;
}

/* "t=<us> c=<i> ..." at s: fills ts and from (from is -1 without " c="). */
static int parse_text(const char *s, const char *end, struct wire_frame *out)
{
    if (end - s < 3 || s[0] != 't' || s[1] != '=') return -1;
    s += 2;
    if (parse_u64(&s, end, &out->ts) < 0) return -1;
    out->from = -1;
    uint64_t from;
    if (end - s > 3 && !memcmp(s, " c=", 3)) {
        s += 3;
        if (parse_u64(&s, end, &from) == 0 && from <= UINT32_MAX) out->from = (int64_t)from;
    }
    out->kind = WIRE_MESSAGE;
    return 0;
}

/* The value of `"key":"` in buf, found by scanning (our gateway's frames
 * never have that byte sequence inside a string before the key). */
static const char *find_str_value(const char *buf, size_t len, const char *key, size_t klen)
{
    const char *p = memmem(buf, len, key, klen);
    return p ? p + klen : NULL;
}

static void copy_code(struct wire_frame *out, const char *s)
{
    snprintf(out->code, sizeof out->code, "%s", s ? s : "");
}

/* A session string that can go back in a hello as it is: no escapes needed. */
static void copy_session(struct wire_frame *out, const char *s)
{
    out->session[0] = '\0';
    if (!s || !*s || strlen(s) > WIRE_SESSION_MAX) return;
    for (const char *p = s; *p; p++)
        if (*p < 0x21 || *p > 0x7e || *p == '"' || *p == '\\') return;
    snprintf(out->session, sizeof out->session, "%s", s);
}

static uint64_t json_u64(json_t *j, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(j, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* An id chat-bench gave a msg: its send time, all digits. */
static int msg_id(const char *id, uint64_t *ts)
{
    if (!id || !*id) return -1;
    const char *p = id, *end = id + strlen(id);
    return parse_u64(&p, end, ts) == 0 && p == end ? 0 : -1;
}

/* The slow path: any chat frame through jansson. */
static void chat_parse_json(const char *buf, size_t len, struct wire_frame *out)
{
    json_t *j = json_loadb(buf, len, 0, NULL);
    const char *type = json_string_value(json_object_get(j, "type"));
    out->kind = WIRE_OTHER;
    if (!json_is_object(j) || !type) {
        out->kind = WIRE_NOT_UNDERSTOOD;
    } else if (!strcmp(type, "msg")) {
        const char *text = json_string_value(json_object_get(j, "text"));
        if (text) parse_text(text, text + strlen(text), out);
        out->seq = json_u64(j, "seq");
    } else if (!strcmp(type, "ack")) {
        const char *id = json_string_value(json_object_get(j, "id"));
        if (id && msg_id(id, &out->ts) == 0) out->kind = WIRE_ACK;
    } else if (!strcmp(type, "welcome")) {
        out->kind = WIRE_WELCOME;
        out->resumed = json_is_true(json_object_get(j, "resumed"));
        copy_session(out, json_string_value(json_object_get(j, "session")));
    } else if (!strcmp(type, "joined")) {
        out->kind = WIRE_JOINED;
        out->seq = json_u64(j, "seq");
    } else if (!strcmp(type, "presence") || !strcmp(type, "online") || !strcmp(type, "typing")) {
        out->kind = WIRE_NOISE;
    } else if (!strcmp(type, "error")) {
        out->kind = WIRE_ERROR;
        copy_code(out, json_string_value(json_object_get(j, "code")));
        const char *id = json_string_value(json_object_get(j, "id"));
        out->about_msg = id && msg_id(id, &out->ts) == 0;
    }
    json_decref(j);
}

static void chat_parse(const char *buf, size_t len, struct wire_frame *out)
{
    /* The gateway renders "type" first (render.c); the hot frames are
     * recognised by their first bytes. */
    if (starts(buf, len, LIT("{\"type\":\"msg\","))) {
        const char *t = find_str_value(buf, len, LIT("\"text\":\""));
        if (t && parse_text(t, buf + len, out) == 0) {
            /* "seq" comes before "text" (render.c). */
            const char *s = find_str_value(buf, (size_t)(t - buf), LIT("\"seq\":"));
            if (s && parse_u64(&s, t, &out->seq) < 0) out->seq = 0;
            return;
        }
    } else if (starts(buf, len, LIT("{\"type\":\"ack\","))) {
        const char *id = find_str_value(buf, len, LIT("\"id\":\""));
        const char *end = buf + len;
        if (id && parse_u64(&id, end, &out->ts) == 0 && id < end && *id == '"') {
            out->kind = WIRE_ACK;
            return;
        }
    } else if (starts(buf, len, LIT("{\"type\":\"presence\",")) ||
               starts(buf, len, LIT("{\"type\":\"online\","))) {
        out->kind = WIRE_NOISE;
        return;
    }
    chat_parse_json(buf, len, out);
}

static void sio_parse(const char *buf, size_t len, struct wire_frame *out)
{
    out->kind = WIRE_OTHER;
    if (!len) return;
    switch (buf[0]) {
    case '0':
        out->kind = WIRE_SIO_OPEN;
        return;
    case '1':
        out->kind = WIRE_SIO_REFUSED;
        copy_code(out, "engine.io close");
        return;
    case '2':
        out->kind = WIRE_SIO_PING;
        return;
    case '4':
        break;
    default:
        return;
    }
    if (len < 2) return;
    if (buf[1] == '0') {
        out->kind = WIRE_SIO_CONNECTED;
    } else if (buf[1] == '1' || buf[1] == '4') {
        out->kind = WIRE_SIO_REFUSED;
        copy_code(out, buf[1] == '1' ? "socket.io disconnect" : "socket.io connect_error");
    } else if (buf[1] == '2') {
        /* 42["chat message","t=..."] */
        const char *t = memmem(buf, len, LIT("\"t="));
        if (t) parse_text(t + 1, buf + len, out);
    }
}

void wire_parse(enum wire_proto p, const char *buf, size_t len, struct wire_frame *out)
{
    memset(out, 0, offsetof(struct wire_frame, code));
    out->code[0] = '\0';
    out->session[0] = '\0';
    out->kind = WIRE_OTHER;
    switch (p) {
    case WIRE_CHAT:
        chat_parse(buf, len, out);
        break;
    case WIRE_SOCKETIO:
        sio_parse(buf, len, out);
        break;
    case WIRE_PLAIN:
        parse_text(buf, buf + len, out);
        break;
    }
}

/* ---------------------------------------------------------------- writing */

/* snprintf into buf; 0 when it did not fit. */
static size_t put(size_t cap, int n)
{
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t wire_hello(char *buf, size_t cap, const char *nick, const char *session, const char *room,
                  uint64_t seq)
{
    if (!session || !*session)
        return put(cap, snprintf(buf, cap, "{\"type\":\"hello\",\"nick\":\"%s\"}", nick));
    return put(cap, snprintf(buf, cap,
                             "{\"type\":\"hello\",\"nick\":\"%s\",\"resume\":{\"session\":\"%s\","
                             "\"rooms\":{\"%s\":%llu}}}",
                             nick, session, room, (unsigned long long)seq));
}

size_t wire_join(char *buf, size_t cap, const char *room, int64_t since)
{
    if (since < 0)
        return put(cap,
                   snprintf(buf, cap, "{\"type\":\"join\",\"room\":\"%s\",\"id\":\"j\"}", room));
    return put(cap,
               snprintf(buf, cap, "{\"type\":\"join\",\"room\":\"%s\",\"since\":%lld,\"id\":\"j\"}",
                        room, (long long)since));
}

size_t wire_sio_connect(char *buf, size_t cap)
{
    return put(cap, snprintf(buf, cap, "40"));
}

size_t wire_sio_pong(char *buf, size_t cap)
{
    return put(cap, snprintf(buf, cap, "3"));
}

size_t wire_message(enum wire_proto p, char *buf, size_t cap, const char *room, uint64_t ts,
                    uint32_t from, size_t text_bytes)
{
    int n;
    switch (p) {
    case WIRE_CHAT:
        n = snprintf(buf, cap, "{\"type\":\"msg\",\"room\":\"%s\",\"id\":\"%llu\",\"text\":\"",
                     room, (unsigned long long)ts);
        break;
    case WIRE_SOCKETIO:
        n = snprintf(buf, cap, "42[\"chat message\",\"");
        break;
    default:
        n = 0;
        break;
    }
    if (n < 0 || (size_t)n >= cap) return 0;
    size_t o = (size_t)n;
    int h = snprintf(buf + o, cap - o, "t=%llu c=%u ", (unsigned long long)ts, from);
    if (h < 0 || (size_t)h >= cap - o) return 0;
    size_t pad = text_bytes > (size_t)h ? text_bytes - (size_t)h : 0;
    o += (size_t)h;
    static const char tail_chat[] = "\"}", tail_sio[] = "\"]";
    const char *tail = p == WIRE_CHAT ? tail_chat : p == WIRE_SOCKETIO ? tail_sio : "";
    size_t tl = strlen(tail);
    if (o + pad + tl >= cap) return 0;
    memset(buf + o, 'x', pad);
    o += pad;
    memcpy(buf + o, tail, tl);
    return o + tl;
}
