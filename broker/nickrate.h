/* nickrate: a token bucket per nick for the commands of identified sessions
 * (--nick-rate, --nick-burst), kept by the broker so that reconnecting, or
 * spreading connections over gateways, does not refill it. Buckets that have
 * refilled completely carry no information and are swept away. */
#ifndef CHAT_BROKER_NICKRATE_H
#define CHAT_BROKER_NICKRATE_H

#include <stdint.h>

struct nick_bucket;

struct nickrate {
    struct nick_bucket *by_fold;
    double rate, burst; /* rate 0: no limit */
    uint64_t next_sweep_ms;
};

void nickrate_init(struct nickrate *r, double rate, double burst);
/* Takes a token for nick at now. 0 when allowed, else ms until a token. */
long nickrate_take(struct nickrate *r, const char *nick, uint64_t now);
/* Drops full buckets (call now and then). */
void nickrate_sweep(struct nickrate *r, uint64_t now);
unsigned nickrate_count(const struct nickrate *r);
void nickrate_clear(struct nickrate *r);

#endif
