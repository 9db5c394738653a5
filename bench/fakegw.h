/* fakegw: chat-gateways played over ZeroMQ, so that a load tool can drive a
 * real chat-broker without WebSocket clients in front of it.
 *
 * Each link is a DEALER socket that talks as chat-gateway does: GatewayHello
 * (sent again every 200 ms until the broker answers), then a Heartbeat every
 * second from fakegw_heartbeats(). Sessions are numbered 0..n-1, have
 * connection ids 1..n and are spread round robin over the links; session i is
 * nick "bench_<i>" with a room of its own, "bench-<i>". fakegw_hello() and
 * fakegw_join() identify a session and put it in its room; any other Command
 * goes up through fakegw_send(). Every Event that comes back (Welcome,
 * Joined, Ack, Error, room events) goes to the caller's callback from
 * fakegw_pump(); heartbeat answers and Reset are dealt with here. */
#ifndef CHAT_BENCH_FAKEGW_H
#define CHAT_BENCH_FAKEGW_H

#include <stddef.h>
#include <stdint.h>

#include "chat.pb-c.h"

#define FAKEGW_MAX_LINKS 64 /* fakegw_pump() polls them from an array on the stack */

struct fakegw;

struct fakegw_session {
    uint64_t conn; /* the connection id the broker knows it by */
    unsigned link; /* the DEALER socket it lives on */
    char nick[40], room[40];
};

/* Called from fakegw_pump() for each Event, with the time it was received. */
typedef void fakegw_event_fn(void *arg, const Chat__Event *ev, uint64_t now_us);

/* Connects nlinks (1..FAKEGW_MAX_LINKS) links to the broker at endpoint and
 * sends nothing yet. NULL on failure, errno set (zmq_strerror() tells). */
struct fakegw *fakegw_new(const char *endpoint, unsigned nlinks, size_t nsessions,
                          fakegw_event_fn *on_event, void *arg);
/* Closes the links and frees *fp; sets *fp to NULL. */
void fakegw_destroy(struct fakegw **fp);

const struct fakegw_session *fakegw_session(const struct fakegw *f, size_t i);
/* How many links the broker has answered (registered). */
unsigned fakegw_registered(const struct fakegw *f);
/* 1 once the broker has sent Reset: it has forgotten one of the links. */
int fakegw_reset_seen(const struct fakegw *f);

/* Sends what is due on each link: GatewayHello until registered, then a
 * Heartbeat every second. Call it at least every 100 ms. */
void fakegw_heartbeats(struct fakegw *f, uint64_t now_us);

/* Hello for session i as its nick, client id "h<i>". 0, or -1 (errno set). */
int fakegw_hello(struct fakegw *f, size_t i);
/* Join for session i into its room, client id "j<i>". 0, or -1 (errno set). */
int fakegw_join(struct fakegw *f, size_t i);
/* Sends cmd on session i's link, its conn set to session i's. 0, or -1. */
int fakegw_send(struct fakegw *f, size_t i, Chat__Command *cmd);

/* Handles every envelope that is ready; if there was none, waits up to
 * timeout_us for some. Returns how many were handled. */
size_t fakegw_pump(struct fakegw *f, uint64_t timeout_us);

#endif
