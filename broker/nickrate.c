/* nickrate: per-nick token buckets (see nickrate.h). */
#include "nickrate.h"

#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "text.h"

struct nick_bucket {
    double tokens;
    uint64_t ms; /* when tokens was last brought up to date */
    UT_hash_handle hh;
    char fold[]; /* the key */
};

void nickrate_init(struct nickrate *r, double rate, double burst)
{
    memset(r, 0, sizeof *r);
    r->rate = rate;
    r->burst = burst < 1 ? 1 : burst;
}

static void refill(const struct nickrate *r, struct nick_bucket *e, uint64_t now)
{
    if (now > e->ms) e->tokens += (double)(now - e->ms) * r->rate / 1000.0;
    if (e->tokens > r->burst) e->tokens = r->burst;
    e->ms = now;
}

long nickrate_take(struct nickrate *r, const char *nick, uint64_t now)
{
    if (r->rate <= 0) return 0;
    size_t len = strlen(nick);
    struct nick_bucket *e;
    char stack[256]; /* nicks are short (--max-nick is at most 255 code points of ASCII) */
    char *key = len < sizeof stack ? stack : malloc(len + 1);
    if (!key) return 0; /* out of memory: do not refuse for it */
    text_fold(nick, len, key);
    HASH_FIND(hh, r->by_fold, key, len, e);
    if (key != stack) free(key);
    if (!e) {
        if (!(e = malloc(sizeof *e + len + 1))) return 0;
        text_fold(nick, len, e->fold);
        e->tokens = r->burst;
        e->ms = now;
        HASH_ADD(hh, r->by_fold, fold[0], len, e);
    }
    refill(r, e, now);
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
        return 0;
    }
    return (long)((1.0 - e->tokens) * 1000.0 / r->rate) + 1;
}

void nickrate_sweep(struct nickrate *r, uint64_t now)
{
    if (now < r->next_sweep_ms) return;
    r->next_sweep_ms = now + 10000;
    struct nick_bucket *e, *tmp;
    HASH_ITER(hh, r->by_fold, e, tmp)
    {
        refill(r, e, now);
        if (e->tokens < r->burst) continue;
        HASH_DELETE(hh, r->by_fold, e);
        free(e);
    }
}

unsigned nickrate_count(const struct nickrate *r)
{
    return HASH_COUNT(r->by_fold);
}

void nickrate_clear(struct nickrate *r)
{
    struct nick_bucket *e, *tmp;
    HASH_ITER(hh, r->by_fold, e, tmp)
    {
        HASH_DELETE(hh, r->by_fold, e);
        free(e);
    }
}
