/* codec: the gateway's JSON edge, client frame -> validated command.
 *
 * Every rule of PROTOCOL.md that can be decided from the frame and the
 * connection's own state is decided here, in the protocol's order:
 * bad_json, then bad_request, then nick_invalid / room_invalid / too_large,
 * then not_identified. Checks that need chat state (not_in_room,
 * no_such_user, too_many_rooms, nick_taken) belong to the broker. */
#ifndef CHAT_GW_CODEC_H
#define CHAT_GW_CODEC_H

#include <stddef.h>

#include <jansson.h>

#include "chat.pb-c.h"

struct codec_limits {
    size_t max_text;                       /* code points of msg/dm text (4000) */
    size_t max_nick;                       /* code points of a nick (32) */
    size_t max_room;                       /* code points of a room (64) */
    size_t max_id;                         /* code points of an id (64) */
    unsigned history_default, history_max; /* 50, 200 */
};

/* PROTOCOL.md's defaults (the gateway's flags change the first three). */
#define CODEC_LIMITS_DEFAULT                                                                       \
    {                                                                                              \
        4000, 32, 64, 64, 50, 200                                                                  \
    }

/* Where the connection stands, as far as the gateway knows. */
enum conn_state {
    CONN_NEW,        /* no hello yet: only hello and ping pass */
    CONN_HELLO_SENT, /* hello forwarded, no answer yet: commands go to the broker,
                        which answers not_identified if the hello failed */
    CONN_IDENTIFIED  /* welcome received: a second hello is bad_request */
};

enum codec_result {
    CODEC_FORWARD, /* out->cmd is ready to pack and send (conn still to be set) */
    CODEC_PING,    /* answer pong locally, echoing out->id */
    CODEC_ERROR    /* answer error out->err_code / out->err_msg, echoing out->id */
};

/* One decoded command. The strings in cmd point into the JSON document, so
 * it lives until codec_cmd_clear(). */
struct codec_cmd {
    json_t *root;
    const char *id;    /* the echoable id, or NULL (absent or itself invalid) */
    const char *token; /* hello's "token", or NULL (checked by security.c) */
    size_t token_len;
    const char *err_code;
    char err_msg[160];
    Chat__Command cmd;
    union {
        Chat__Hello hello;
        Chat__Join join;
        Chat__Leave leave;
        Chat__Msg msg;
        Chat__Dm dm;
        Chat__Typing typing;
        Chat__Nick nick;
        Chat__Who who;
        Chat__History history;
    } body;
    Chat__RoomPos *resume_rooms;      /* array for hello.resume.rooms (owned) */
    Chat__RoomPos **resume_room_ptrs; /* pointers into it, as protobuf-c wants (owned) */
};

/* Decodes one complete text frame. self_nick is the connection's nick when
 * identified (for the "DM to oneself" rule), else NULL. Always call
 * codec_cmd_clear() afterwards, whatever the result. */
enum codec_result codec_decode(const char *frame, size_t len, enum conn_state state,
                               const char *self_nick, const struct codec_limits *limits,
                               struct codec_cmd *out);

void codec_cmd_clear(struct codec_cmd *c);

#endif
