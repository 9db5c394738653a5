/* admit.c: which WebSocket upgrades are accepted: not while draining, at
 * most --max-conns connections, at most --max-conns-per-ip from one address.
 * Counts per address live in a hash of the addresses with connections. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "gateway.h"
#include "log.h"

struct peer_ip {
    char ip[64];
    unsigned n;
    UT_hash_handle hh;
};

static void peer_of(struct lws *wsi, char *ip, size_t len)
{
    if (!lws_get_peer_simple(wsi, ip, len)) snprintf(ip, len, "?");
}

const char *admit_check(struct gw *g, struct lws *wsi)
{
    if (g->draining) return "draining";
    if (g->cfg.max_conns > 0 && g->nconns >= (unsigned long long)g->cfg.max_conns)
        return "max_conns";
    if (g->cfg.max_conns_per_ip > 0) {
        char ip[64];
        peer_of(wsi, ip, sizeof ip);
        struct peer_ip *p;
        HASH_FIND_STR(g->ips, ip, p);
        if (p && p->n >= (unsigned long long)g->cfg.max_conns_per_ip) return "max_conns_per_ip";
    }
    return NULL;
}

void admit_refused(struct gw *g, struct lws *wsi, const char *reason)
{
    unsigned i = !strcmp(reason, "draining") ? 0 : !strcmp(reason, "max_conns") ? 1 : 2;
    g->stats.refused_conns[i]++;
    char ip[64];
    peer_of(wsi, ip, sizeof ip);
    uint64_t now = clock_mono_ms();
    if (now - g->refused_logged_ms >= 1000) { /* at most a line a second */
        g->refused_logged_ms = now;
        log_warn("upgrade_refused", "reason=%s peer=%s connections=%u", reason, ip, g->nconns);
    }
}

void admit_open(struct gw *g, struct conn *c)
{
    if (g->cfg.max_conns_per_ip <= 0) return;
    char ip[64];
    peer_of(c->wsi, ip, sizeof ip);
    struct peer_ip *p;
    HASH_FIND_STR(g->ips, ip, p);
    if (!p) {
        if (!(p = calloc(1, sizeof *p))) return; /* not counted: never refused for it */
        memcpy(p->ip, ip, sizeof p->ip);
        HASH_ADD_STR(g->ips, ip, p);
    }
    p->n++;
    c->ip = p;
}

void admit_close(struct gw *g, struct conn *c)
{
    struct peer_ip *p = c->ip;
    if (!p) return;
    c->ip = NULL;
    if (--p->n) return;
    HASH_DEL(g->ips, p);
    free(p);
}
