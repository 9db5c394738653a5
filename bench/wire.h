/* wire: what chat-bench sends and how it reads what comes back, for each of
 * the three protocols it speaks.
 *
 * chat (PROTOCOL.md): one JSON object per text frame. chat-bench sends
 * hello, join and msg; a msg carries the send time as its id, so that the
 * ack brings it back:
 *     {"type":"msg","room":"R","text":"t=<us> c=<i> xxxx","id":"<us>"}
 *     <- {"type":"ack","id":"<us>",...}
 *     <- (to the others) {"type":"msg",...,"text":"t=<us> c=<i> xxxx",...}
 *
 * socketio: Engine.IO v4 packets over the websocket transport. The server
 * opens with "0{...}", the client connects the default namespace with "40",
 * the server confirms with "40{...}"; "2" (ping) is answered "3" (pong).
 * Messages are events "42["chat message","<text>"]"; the server's io.emit
 * sends each to everyone, the sender included.
 *
 * plain: the text itself, as one text frame, broadcast to everyone.
 *
 * The text of every benchmark message starts "t=<us> c=<i> ": the send time
 * in CLOCK_MONOTONIC microseconds (sender and receivers are one process)
 * and the index of the sending connection (so a socketio or plain sender
 * tells its own echo from the others' messages), then 'x' up to the
 * requested size. Receiving is the hot path (hundreds of thousands of frames
 * a second), so the frames chat-bench expects most are recognised by their
 * first bytes and scanned for the "t=" marker; anything else goes through
 * jansson. */
#ifndef CHAT_BENCH_WIRE_H
#define CHAT_BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum wire_proto { WIRE_CHAT, WIRE_SOCKETIO, WIRE_PLAIN };

/* The longest session string kept for a resume. */
#define WIRE_SESSION_MAX 64

enum wire_kind {
    WIRE_OTHER,    /* anything not listed below (chat: left, pong, who, ...) */
    WIRE_MESSAGE,  /* a benchmark message: ts and from are set */
    WIRE_ACK,      /* chat: the ack of one of our msgs: ts is its send time */
    WIRE_WELCOME,  /* chat: hello accepted: session and resumed are set */
    WIRE_JOINED,   /* chat: join accepted (or a room restored by a resume): seq is set */
    WIRE_NOISE,    /* chat: presence, online and typing events; frames not to look into */
    WIRE_ERROR,    /* chat: an error frame: code, and about_msg */
    WIRE_SIO_OPEN, /* socketio: the Engine.IO open packet */
    WIRE_SIO_CONNECTED,
    WIRE_SIO_PING,       /* answer it with wire_sio_pong() */
    WIRE_SIO_REFUSED,    /* socketio: "44" (connect_error) or a disconnect packet */
    WIRE_NOT_UNDERSTOOD, /* not valid for the protocol (chat: not a JSON object with a type) */
};

struct wire_frame {
    enum wire_kind kind;
    uint64_t ts;   /* WIRE_MESSAGE, WIRE_ACK: the embedded send time (us) */
    int64_t from;  /* WIRE_MESSAGE: the sender's connection index, -1 when absent */
    uint64_t seq;  /* WIRE_MESSAGE (chat): the room's seq, 0 when absent; WIRE_JOINED: the
                    * room's last seq */
    int about_msg; /* WIRE_ERROR: answers one of our msgs (its id is a send time) */
    int resumed;   /* WIRE_WELCOME: "resumed":true */
    char code[48]; /* WIRE_ERROR: the error code; WIRE_SIO_REFUSED: what came */
    char session[WIRE_SESSION_MAX + 1]; /* WIRE_WELCOME: the session string; "" when absent
                                         * or not one wire_hello() can send back */
};

/* Classifies the payload of one whole received text frame. */
void wire_parse(enum wire_proto p, const char *buf, size_t len, struct wire_frame *out);

/* The builders write a frame's payload into buf (cap bytes) and return its
 * length, or 0 when it does not fit. */
/* hello; with a session (not NULL, not ""), a resume of it that gives room's
 * last seen seq: {"type":"hello","nick":N,"resume":{"session":S,"rooms":{R:seq}}}. */
size_t wire_hello(char *buf, size_t cap, const char *nick, const char *session, const char *room,
                  uint64_t seq);
/* join; since >= 0 adds "since" (a re-join that replays what was missed). */
size_t wire_join(char *buf, size_t cap, const char *room, int64_t since);
size_t wire_sio_connect(char *buf, size_t cap);
size_t wire_sio_pong(char *buf, size_t cap);
/* A benchmark message from connection from, sent at ts (us), whose text is
 * text_bytes long (or as long as its "t=... c=... " header, if that is
 * longer); room is used by chat only. */
size_t wire_message(enum wire_proto p, char *buf, size_t cap, const char *room, uint64_t ts,
                    uint32_t from, size_t text_bytes);

/* The shortest text a message can have (its header with the largest values). */
#define WIRE_TEXT_MIN 36

#endif
