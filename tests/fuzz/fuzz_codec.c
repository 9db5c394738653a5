/* fuzz_codec: the gateway's JSON edge (gateway/codec.c) on arbitrary bytes.
 *
 * An input is one client text frame, as is: any JSON file is a seed. Each
 * input is decoded four times, as it would be on a new connection, on one
 * whose hello is in flight, and on identified ones (nick "alice" with the
 * default limits, nick "Bob" with tiny limits so that length edges are a few
 * bytes away).
 *
 * Besides the sanitizers, each result is checked against what the rest of
 * the gateway relies on:
 *  - an error has a PROTOCOL.md code and a printable message, renders to a
 *    frame that parses back with that code, and echoes only a valid id;
 *  - a forwarded command is allowed in its state, passes the rules of
 *    PROTOCOL.md (nick and room patterns, text limits, exactly one typing
 *    target, no DM to oneself), and survives a protobuf round trip with all
 *    its required fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "codec.h"
#include "fuzz_check.h"
#include "render.h"
#include "text.h"

static const struct codec_limits DEFAULT_LIMITS = CODEC_LIMITS_DEFAULT;

static const struct codec_limits TINY_LIMITS = {
    .max_text = 3,
    .max_nick = 4,
    .max_room = 2,
    .max_id = 2,
    .history_default = 2,
    .history_max = 3,
};

static const char *const CODES[] = {"bad_json",     "bad_request",  "not_identified", "nick_taken",
                                    "nick_invalid", "room_invalid", "too_large",      "internal"};

static int known_code(const char *code)
{
    for (size_t i = 0; i < sizeof CODES / sizeof CODES[0]; i++)
        if (!strcmp(code, CODES[i])) return 1;
    return 0;
}

/* The frame parses back into an object whose "type" is type; returns it
 * (caller decrefs). */
static json_t *parse_frame(struct frame *f, const char *type)
{
    CHECK(f != NULL);
    json_error_t err;
    json_t *j = json_loadb((const char *)frame_payload(f), f->len, 0, &err);
    CHECK(json_is_object(j));
    CHECK(!strcmp(json_string_value(json_object_get(j, "type")), type));
    frame_unref(f);
    return j;
}

static void check_id(const struct codec_cmd *c, const struct codec_limits *lim)
{
    if (!c->id) return;
    CHECK(text_codepoints(c->id, strlen(c->id)) <= lim->max_id);
}

static void check_error(const struct codec_cmd *c, enum conn_state st,
                        const struct codec_limits *lim)
{
    CHECK(c->err_code && known_code(c->err_code));
    CHECK(c->err_msg[0] != '\0');
    for (const char *p = c->err_msg; *p; p++) CHECK(*p >= 0x20 && *p <= 0x7E);
    CHECK(strcmp(c->err_code, "not_identified") || st == CONN_NEW);
    check_id(c, lim);
    json_t *j = parse_frame(render_error(c->err_code, c->err_msg, c->id, -1), "error");
    CHECK(!strcmp(json_string_value(json_object_get(j, "code")), c->err_code));
    json_t *id = json_object_get(j, "id");
    CHECK(c->id ? id && !strcmp(json_string_value(id), c->id) : !id);
    json_decref(j);
}

static int nick_ok(const char *s, const struct codec_limits *lim)
{
    return s && text_valid_nick(s, strlen(s), lim->max_nick);
}

static int room_ok(const char *s, const struct codec_limits *lim)
{
    return s && text_valid_room(s, strlen(s), lim->max_room);
}

static int text_ok(const char *s, const struct codec_limits *lim)
{
    return s && !text_is_blank(s, strlen(s)) && text_codepoints(s, strlen(s)) <= lim->max_text;
}

static void check_forward(const struct codec_cmd *c, enum conn_state st, const char *self,
                          const struct codec_limits *lim)
{
    const Chat__Command *cmd = &c->cmd;
    CHECK(st != CONN_NEW || cmd->cmd_case == CHAT__COMMAND__CMD_HELLO);
    check_id(c, lim);
    switch (cmd->cmd_case) {
    case CHAT__COMMAND__CMD_HELLO:
        CHECK(st != CONN_IDENTIFIED);
        CHECK(nick_ok(cmd->hello->nick, lim));
        for (size_t i = 0; i < cmd->hello->n_resume_rooms; i++)
            CHECK(room_ok(cmd->hello->resume_rooms[i]->room, lim));
        break;
    case CHAT__COMMAND__CMD_JOIN:
        CHECK(room_ok(cmd->join->room, lim));
        break;
    case CHAT__COMMAND__CMD_LEAVE:
        CHECK(room_ok(cmd->leave->room, lim));
        break;
    case CHAT__COMMAND__CMD_MSG:
        CHECK(room_ok(cmd->msg->room, lim) && text_ok(cmd->msg->text, lim));
        break;
    case CHAT__COMMAND__CMD_DM:
        CHECK(nick_ok(cmd->dm->to, lim) && text_ok(cmd->dm->text, lim));
        CHECK(!self || strcasecmp(cmd->dm->to, self));
        break;
    case CHAT__COMMAND__CMD_TYPING:
        CHECK((cmd->typing->room != NULL) != (cmd->typing->to != NULL));
        CHECK(cmd->typing->room ? room_ok(cmd->typing->room, lim) : nick_ok(cmd->typing->to, lim));
        CHECK(!self || !cmd->typing->to || strcasecmp(cmd->typing->to, self));
        break;
    case CHAT__COMMAND__CMD_NICK:
        CHECK(nick_ok(cmd->nick->nick, lim));
        break;
    case CHAT__COMMAND__CMD_WHO:
        CHECK(!cmd->who->room || room_ok(cmd->who->room, lim));
        break;
    case CHAT__COMMAND__CMD_HISTORY:
        CHECK(room_ok(cmd->history->room, lim));
        CHECK(cmd->history->limit >= 1 && cmd->history->limit <= lim->history_max);
        break;
    default:
        CHECK(!"a command the codec never makes");
    }

    /* What the link does with it: pack (with a conn) and the broker unpacks. */
    Chat__Command copy = *cmd;
    copy.conn = 7;
    size_t len = chat__command__get_packed_size(&copy);
    uint8_t *buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    CHECK(chat__command__pack(&copy, buf) == len);
    Chat__Command *back = chat__command__unpack(NULL, len, buf);
    CHECK(back != NULL);
    CHECK(back->cmd_case == cmd->cmd_case && back->conn == 7);
    CHECK(!cmd->id == !back->id);
    chat__command__free_unpacked(back, NULL);
    free(buf);
}

static void decode(const uint8_t *data, size_t size, enum conn_state st, const char *self,
                   const struct codec_limits *lim)
{
    struct codec_cmd c;
    switch (codec_decode((const char *)data, size, st, self, lim, &c)) {
    case CODEC_FORWARD:
        check_forward(&c, st, self, lim);
        break;
    case CODEC_PING: {
        check_id(&c, lim);
        json_t *j = parse_frame(render_pong(c.id), "pong");
        json_decref(j);
        break;
    }
    case CODEC_ERROR:
        check_error(&c, st, lim);
        break;
    default:
        CHECK(!"an unknown codec result");
    }
    codec_cmd_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode(data, size, CONN_NEW, NULL, &DEFAULT_LIMITS);
    decode(data, size, CONN_HELLO_SENT, NULL, &DEFAULT_LIMITS);
    decode(data, size, CONN_IDENTIFIED, "alice", &DEFAULT_LIMITS);
    decode(data, size, CONN_IDENTIFIED, "Bob", &TINY_LIMITS);
    return 0;
}
