/* load.c: sessions alone in their rooms, msgs in flight matched back to their
 * acks, and the measured phases (see load.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <zmq.h>

#include "brokerproc.h"
#include "fakegw.h"
#include "load.h"

#define STARTUP_US 10000000u /* broker up and every session identified and joined */

/* One msg in flight, found by its client id "b<counter>". */
struct slot {
    uint64_t counter, sent_us;
    uint32_t sess;
    int live;
};

struct load {
    const struct config *cfg;
    struct result *res;
    pid_t pid;
    uint64_t next_alive_check_us;
    struct fakegw *gw;
    size_t nsess, rr;
    uint64_t *last_seq; /* per session: the seq of its last ack */
    char *text;
    /* msgs in flight */
    struct slot *ring;
    size_t mask, outstanding;
    uint64_t next_counter;
    /* setup replies */
    size_t welcomes, joins;
    size_t setup_errors;
    /* the phase being measured: [meas_start, meas_end) */
    uint64_t meas_start, meas_end;
    uint64_t acks_in_window, sent_in_window, wakes, wake_acks;
    size_t burst_acks; /* acks handled by the pump under way */
    struct stats_samples lat;
};

struct load *load_new(const struct config *cfg, struct result *res)
{
    struct load *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->cfg = cfg;
    l->res = res;
    l->pid = -1;
    l->nsess = (size_t)cfg->sessions;
    size_t ringsz = 1;
    while (ringsz < (size_t)cfg->window * 4) ringsz <<= 1; /* room for acks out of order */
    l->mask = ringsz - 1;
    l->last_seq = calloc(l->nsess, sizeof *l->last_seq);
    l->ring = calloc(ringsz, sizeof *l->ring);
    l->text = malloc((size_t)cfg->text_bytes + 1);
    if (!l->last_seq || !l->ring || !l->text) {
        load_destroy(&l);
        return NULL;
    }
    static const char words[] = "the quick brown fox jumps over the lazy dog ";
    for (long long i = 0; i < cfg->text_bytes; i++) l->text[i] = words[i % (sizeof words - 1)];
    l->text[cfg->text_bytes] = '\0';
    if (l->text[cfg->text_bytes - 1] == ' ') l->text[cfg->text_bytes - 1] = '.';
    return l;
}

void load_destroy(struct load **lp)
{
    struct load *l = *lp;
    if (!l) return;
    fakegw_destroy(&l->gw);
    stats_samples_free(&l->lat);
    free(l->last_seq);
    free(l->ring);
    free(l->text);
    free(l);
    *lp = NULL;
}

pid_t load_broker(const struct load *l)
{
    return l->pid;
}

/* -1 when the broker is gone (or told us it does not know us). */
static int broker_alive(struct load *l, uint64_t now)
{
    if (fakegw_reset_seen(l->gw)) {
        result_error(l->res, "the broker answered Reset (it lost this gateway)");
        return -1;
    }
    if (now < l->next_alive_check_us) return 0;
    l->next_alive_check_us = now + 200000;
    int st;
    if (brokerproc_exited(l->pid, &st)) {
        l->res->exit_status = st;
        l->pid = -1;
        result_error(l->res, "the broker exited early (%s %d)", WIFEXITED(st) ? "status" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        return -1;
    }
    return 0;
}

/* The answer to msg "b<counter>": an Ack (ack != NULL) or an Error. 1 if an ack. */
static int settle(struct load *l, const char *id, const Chat__Ack *ack, const char *err_code,
                  uint64_t now)
{
    char *end;
    errno = 0;
    uint64_t c = strtoull(id + 1, &end, 10);
    struct slot *sl = &l->ring[c & l->mask];
    if (errno || *end || !sl->live || sl->counter != c) {
        l->res->unmatched++;
        return 0;
    }
    sl->live = 0;
    l->outstanding--;
    if (!ack) {
        if (!l->res->errors++)
            snprintf(l->res->first_error, sizeof l->res->first_error, "%s", err_code);
        return 0;
    }
    uint64_t *last_seq = &l->last_seq[sl->sess];
    /* Alone in its room: each ack's seq is the previous one + 1. */
    if (!ack->has_seq || ack->seq != *last_seq + 1) l->res->seq_gaps++;
    if (ack->has_seq) *last_seq = ack->seq;
    if (now >= l->meas_start && now < l->meas_end) l->acks_in_window++;
    if (sl->sent_us >= l->meas_start && sl->sent_us < l->meas_end)
        stats_samples_add(&l->lat, now - sl->sent_us);
    return 1;
}

static void on_event(void *arg, const Chat__Event *ev, uint64_t now)
{
    struct load *l = arg;
    int ours = ev->id && ev->id[0] == 'b'; /* a msg of a phase */
    switch (ev->ev_case) {
    case CHAT__EVENT__EV_WELCOME:
        l->welcomes++;
        break;
    case CHAT__EVENT__EV_JOINED:
        l->joins++;
        break;
    case CHAT__EVENT__EV_ACK:
        if (ours && ev->ack)
            l->burst_acks += (size_t)settle(l, ev->id, ev->ack, NULL, now);
        else
            l->res->unmatched++;
        break;
    case CHAT__EVENT__EV_ERROR:
        if (ours) {
            settle(l, ev->id, NULL, ev->error ? ev->error->code : "?", now);
        } else {
            l->setup_errors++;
            result_error(l->res, "setup command %s failed: %s", ev->id ? ev->id : "(no id)",
                         ev->error ? ev->error->code : "?");
        }
        break;
    case CHAT__EVENT__EV_MSG:
    case CHAT__EVENT__EV_PRESENCE:
    case CHAT__EVENT__EV_TYPING:
        l->res->fanout++; /* nobody else is in any room: should stay 0 */
        break;
    default: /* online counts and the like */
        break;
    }
}

int load_connect(struct load *l, const char *endpoint, pid_t pid)
{
    l->pid = pid;
    l->welcomes = l->joins = 0;
    l->gw = fakegw_new(endpoint, (unsigned)l->cfg->gateways, l->nsess, on_event, l);
    return l->gw ? 0 : -1;
}

void load_disconnect(struct load *l)
{
    fakegw_destroy(&l->gw);
}

/* Handles what is ready, or waits up to timeout_us for it; counts the acks of
 * one wake-up (a commit batch, roughly) when they come in the window. */
static size_t pump(struct load *l, uint64_t timeout_us)
{
    l->burst_acks = 0;
    size_t n = fakegw_pump(l->gw, timeout_us);
    if (l->burst_acks) {
        uint64_t now = stats_now_us();
        if (now >= l->meas_start && now < l->meas_end) {
            l->wakes++;
            l->wake_acks += l->burst_acks;
        }
    }
    return n;
}

static int can_send(const struct load *l)
{
    return l->outstanding < (size_t)l->cfg->window && !l->ring[l->next_counter & l->mask].live;
}

/* Sends the next msg, round robin over the sessions. */
static int send_msg(struct load *l)
{
    const struct fakegw_session *s = fakegw_session(l->gw, l->rr);
    uint64_t c = l->next_counter;
    char id[24];
    snprintf(id, sizeof id, "b%" PRIu64, c);
    Chat__Msg m = CHAT__MSG__INIT;
    m.room = (char *)s->room;
    m.text = l->text;
    Chat__Command cmd = CHAT__COMMAND__INIT;
    cmd.id = id;
    cmd.cmd_case = CHAT__COMMAND__CMD_MSG;
    cmd.msg = &m;
    uint64_t t = stats_now_us();
    if (fakegw_send(l->gw, l->rr, &cmd) < 0) return -1;
    struct slot *sl = &l->ring[c & l->mask];
    *sl = (struct slot){.counter = c, .sent_us = t, .sess = (uint32_t)l->rr, .live = 1};
    l->outstanding++;
    l->next_counter++;
    if (t >= l->meas_start && t < l->meas_end) l->sent_in_window++;
    l->rr = (l->rr + 1) % l->nsess;
    return 0;
}

enum awaited { REGISTERED, WELCOMES, JOINS };

static size_t count_of(const struct load *l, enum awaited what)
{
    switch (what) {
    case REGISTERED:
        return fakegw_registered(l->gw);
    case WELCOMES:
        return l->welcomes;
    case JOINS:
        return l->joins;
    }
    return 0;
}

/* Waits until there are want replies of a kind (to setup commands). */
static int wait_for(struct load *l, enum awaited kind, size_t want, uint64_t until,
                    const char *what)
{
    while (count_of(l, kind) < want) {
        uint64_t now = stats_now_us();
        if (history_stop) return -1;
        if (broker_alive(l, now) < 0 || l->setup_errors) return -1;
        if (now >= until) {
            result_error(l->res, "timed out waiting for %s (%zu of %zu)", what, count_of(l, kind),
                         want);
            return -1;
        }
        fakegw_heartbeats(l->gw, now);
        uint64_t left = until - now;
        pump(l, left < 50000 ? left : 50000);
    }
    return 0;
}

int load_setup(struct load *l)
{
    uint64_t until = stats_now_us() + STARTUP_US;
    fakegw_heartbeats(l->gw, stats_now_us());
    if (wait_for(l, REGISTERED, (size_t)l->cfg->gateways, until,
                 "the broker to answer GatewayHello") < 0)
        return -1;
    for (size_t i = 0; i < l->nsess; i++) {
        if (fakegw_hello(l->gw, i) < 0) {
            result_error(l->res, "cannot send hello: %s", zmq_strerror(errno));
            return -1;
        }
    }
    if (wait_for(l, WELCOMES, l->nsess, until, "welcome") < 0) return -1;
    for (size_t i = 0; i < l->nsess; i++) {
        if (fakegw_join(l->gw, i) < 0) {
            result_error(l->res, "cannot send join: %s", zmq_strerror(errno));
            return -1;
        }
    }
    return wait_for(l, JOINS, l->nsess, until, "joined");
}

int load_run_phase(struct load *l, enum load_phase kind, struct phase_result *out)
{
    const struct config *cfg = l->cfg;
    uint64_t t0 = stats_now_us();
    l->meas_start = t0 + (uint64_t)(cfg->warmup_s * 1e6);
    l->meas_end = l->meas_start + (uint64_t)(cfg->duration_s * 1e6);
    uint64_t drain_until = l->meas_end + (uint64_t)(cfg->drain_s * 1e6);
    l->acks_in_window = l->sent_in_window = l->wakes = l->wake_acks = 0;
    stats_samples_clear(&l->lat);
    double interval_us = 1e6 / (double)cfg->rate;
    uint64_t k = 0; /* msgs sent in this phase (LOAD_RATE: the schedule) */
    for (;;) {
        if (history_stop) {
            result_error(l->res, history_stop == 2 ? "--timeout reached" : "interrupted");
            return -1;
        }
        uint64_t now = stats_now_us();
        int sending = now < l->meas_end;
        uint64_t due = t0 + (uint64_t)((double)k * interval_us);
        if (sending) {
            if (kind == LOAD_THROUGHPUT) {
                while (can_send(l) && send_msg(l) == 0) continue;
            } else {
                /* Behind schedule (a full window): catch up, and the
                 * achieved rate shows it. */
                while (due <= now && can_send(l) && send_msg(l) == 0)
                    due = t0 + (uint64_t)((double)++k * interval_us);
            }
        }
        fakegw_heartbeats(l->gw, now);
        if (broker_alive(l, now) < 0) return -1;
        if (!sending && !l->outstanding) break;
        if (!sending && now >= drain_until) break;
        uint64_t wait;
        if (!sending)
            wait = drain_until - now;
        else if (kind == LOAD_THROUGHPUT)
            wait = can_send(l) ? 1000 : l->meas_end - now; /* a refused send: retry soon */
        else if (can_send(l))
            wait = due > now ? due - now : 0;
        else
            wait = l->meas_end - now;
        if (sending && l->meas_end - now < wait) wait = l->meas_end - now;
        if (wait > 100000) wait = 100000; /* heartbeats, the broker's health */
        pump(l, wait ? wait : 1);
    }
    out->sent = l->sent_in_window;
    out->acked = l->acks_in_window;
    out->secs = (double)(l->meas_end - l->meas_start) / 1e6;
    out->acks_per_wake = l->wakes ? (double)l->wake_acks / (double)l->wakes : 0;
    out->lost = l->outstanding;
    out->lat = stats_summarize(l->lat.v, l->lat.n);
    if (l->lat.oom) result_error(l->res, "out of memory for latency samples");
    if (l->outstanding) {
        result_error(l->res, "%zu msgs unanswered %.0f s after the phase", l->outstanding,
                     cfg->drain_s);
        /* Forget them, so the next phase starts clean. */
        for (size_t i = 0; i <= l->mask; i++) l->ring[i].live = 0;
        l->outstanding = 0;
        return -1;
    }
    return 0;
}
