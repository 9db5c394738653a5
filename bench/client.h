/* client: chat-bench's WebSocket connections, one worker thread each with a
 * libwebsockets context of its own.
 *
 * Worker w of W owns connections w, w+W, w+2W, ... of --conns. It opens
 * them (at most its share of --concurrency handshakes in flight, and of
 * --connect-rate per second), brings each to ready (chat: hello, welcome,
 * join, joined; socketio: open packet, "40", "40{...}"; plain: the upgrade),
 * sends messages on its senders at the rate while the phase is CB_SEND,
 * reads everything that comes back, and at CB_CLOSE closes every
 * connection with 1000 and stops. What it measures goes into its struct
 * tally.
 *
 * The event loop is libev (epoll) under lws, or lws's own poll() loop with
 * --event-loop poll; poll() walks every descriptor on each wake-up, which
 * costs a lot at ten thousand connections.
 *
 * The WebSocket protocol itself is lws's (--ws lws: LWS_CALLBACK_CLIENT_*)
 * or, by default (--ws own), wsframe.c's over lws raw connections
 * (LWS_CALLBACK_RAW_*): lws parses received frames a byte at a time, which
 * made it most of chat-bench's CPU under fan-out. */
#ifndef CHAT_BENCH_CLIENT_H
#define CHAT_BENCH_CLIENT_H

#include "chat_bench.h"
#include "tally.h"

struct client;

/* Worker index of nworkers. cfg and sh must outlive it. NULL on failure
 * (a message was printed). */
struct client *client_new(const struct cb_config *cfg, struct cb_shared *sh, unsigned index,
                          unsigned nworkers);
/* Starts the worker thread. 0, or -1 (a message was printed). */
int client_start(struct client *cl);
/* Waits for the thread to end (it does after CB_CLOSE). */
void client_join(struct client *cl);
/* The worker's tally: its live counters at any time, the rest once joined. */
struct tally *client_tally(struct client *cl);
/* Joins the thread if it still runs, frees *cp and sets it to NULL. */
void client_destroy(struct client **cp);

#endif
