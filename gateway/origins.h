/* origins: the browser Origin allow-list of the WebSocket endpoint.
 *
 * Browsers send Origin on every WebSocket upgrade, and a page on any site
 * may open one to us; the list keeps other sites' pages out (cross-site
 * WebSocket hijacking). Clients that send no Origin are not browsers (bots,
 * the load tester): the list does not apply to them, since anything that is
 * not a browser can write whatever Origin it likes anyway. */
#ifndef CHAT_GW_ORIGINS_H
#define CHAT_GW_ORIGINS_H

#include <stddef.h>

struct origins;

/* Parses a comma-separated list of exact origins ("https://chat.example.com,
 * http://localhost:8080"; spaces around entries are ignored). An empty or
 * blank list gives *out = NULL: everything is allowed. Returns 0, or -1 with
 * a message in err (naming the bad entry). *out is freed with
 * origins_destroy(). */
int origins_parse(const char *list, struct origins **out, char *err, size_t errsize);

/* 1 if origin (len bytes, as sent in the Origin header) is in the list, or
 * the list is NULL. Scheme and host compare case-insensitively. */
int origins_allowed(const struct origins *o, const char *origin, size_t len);

void origins_destroy(struct origins **op);

#endif
