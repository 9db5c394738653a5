/* render: broker events -> JSON text frames, built once and shared.
 *
 * A frame is reference counted: the gateway renders an event once per
 * gateway and queues the same frame on every local recipient; each
 * connection drops its reference once the frame is written. */
#ifndef CHAT_GW_RENDER_H
#define CHAT_GW_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "chat.pb-c.h"

/* Headroom before the payload that libwebsockets needs for the WebSocket
 * header (LWS_PRE; checked against it at compile time in server.c). */
#define FRAME_PRE 16

/* struct frame.kind of a pong (others are the Chat__Event ev_case rendered). */
#define FRAME_KIND_PONG 1

struct frame {
    uint32_t refs;
    uint32_t len;         /* payload bytes, after the FRAME_PRE headroom */
    uint32_t kind;        /* what it is, for metrics: ev_case or FRAME_KIND_PONG */
    unsigned char data[]; /* FRAME_PRE bytes of headroom, then the JSON */
};

/* Payload start. */
static inline unsigned char *frame_payload(struct frame *f)
{
    return f->data + FRAME_PRE;
}

/* New frame holding a copy of json[0..len), refs = 1. NULL on OOM. */
struct frame *frame_new(const char *json, size_t len);
void frame_ref(struct frame *f);
/* Drops one reference; frees at zero. */
void frame_unref(struct frame *f);

/* The main frame of an event: welcome, joined, left, ack, msg, dm, presence,
 * typing, nick, who (room or global), history, online or error, with
 * ev->id echoed where the protocol says. NULL for events that render to no
 * frame (close) or on OOM. refs = 1. */
struct frame *render_event(const Chat__Event *ev);

/* A "msg" frame for one stored message (joined replays). refs = 1. */
struct frame *render_msg(const Chat__MsgEvent *m);

/* {"type":"error","code":..,"message":..,"id":..}; id may be NULL;
 * retry_after_ms < 0 leaves it out. refs = 1. */
struct frame *render_error(const char *code, const char *message, const char *id,
                           long retry_after_ms);

/* {"type":"pong","id":..}; id may be NULL. refs = 1. */
struct frame *render_pong(const char *id);

#endif
