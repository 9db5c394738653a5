/* wsframe: the client side of WebSocket (RFC 6455) over a raw byte stream,
 * for chat-bench's --ws own mode.
 *
 * Why it exists: libwebsockets 4.1 reads WebSocket frames one byte at a
 * time through a state machine (lws_ws_client_rx_sm), about half of
 * chat-bench's CPU when it receives hundreds of thousands of small frames
 * a second. With --ws own, lws still opens the connections (method "RAW"),
 * runs the event loop and does the reads and writes; this module does the
 * upgrade and the framing, scanning headers and handing each payload over
 * where it lies in the read buffer.
 *
 * The upgrade: "GET <path> HTTP/1.1" with Upgrade: websocket, a random
 * Sec-WebSocket-Key and version 13; the answer must be "HTTP/1.1 101".
 * (Sec-WebSocket-Accept is not checked: the servers are our own and their
 * peers, on loopback.) Frames from the client are masked (a 32-bit key per
 * frame, from a cheap PRNG: masking here is a protocol rule, not secrecy);
 * frames from the server are not, and are unmasked if they are. */
#ifndef CHAT_BENCH_WSFRAME_H
#define CHAT_BENCH_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

enum wsframe_op {
    WSF_CONT = 0,
    WSF_TEXT = 1,
    WSF_BINARY = 2,
    WSF_CLOSE = 8,
    WSF_PING = 9,
    WSF_PONG = 10,
};

/* The most bytes a client frame header takes (2 + 8 length + 4 mask). */
#define WSFRAME_MAX_HEADER 14

/* The upgrade request into buf; rnd gives the key's 16 bytes. Its length,
 * or 0 if it does not fit. */
size_t wsframe_request(char *buf, size_t cap, const char *hostport, const char *path, uint64_t rnd1,
                       uint64_t rnd2);

/* Looks at the start of what the server sent. 0: the header is not all
 * there yet; > 0: upgraded, the header took that many bytes (frames follow);
 * -1: refused (not 101), the status line is copied into why. */
long wsframe_response(const char *buf, size_t len, char *why, size_t whycap);

/* Frames the n payload bytes at p as one final frame of op, masked with
 * mask: writes the header into the WSFRAME_MAX_HEADER bytes before p and
 * masks the payload in place. Returns the header length (the frame starts
 * at p - that). */
size_t wsframe_wrap(uint8_t *p, size_t n, enum wsframe_op op, uint32_t mask);

/* One frame found in received bytes. */
struct wsframe {
    enum wsframe_op op;
    int fin;
    uint8_t *payload; /* unmasked, in the buffer given to wsframe_next() */
    size_t len;
};

/* The next whole frame at buf[0..len): its total size (header + payload)
 * and *f, or 0 when the frame is not complete yet, or -1 when the bytes
 * are not a frame a server may send (a length over max). */
long wsframe_next(uint8_t *buf, size_t len, size_t max, struct wsframe *f);

/* A small fast PRNG (xorshift64*) for keys and masks; *s must not be 0. */
uint64_t wsframe_rand(uint64_t *s);

#endif
