/* origins.c: an allow-list of serialized origins (RFC 6454 section 6.1):
 * "scheme://host" or "scheme://host:port", no path, no trailing slash,
 * exactly as browsers put them in the Origin header. Entries are checked at
 * startup, so a typo ("https://chat.example.com/") is an error then rather
 * than a list that silently matches nothing. */
#include "origins.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct origins {
    size_t n;
    char *entry[]; /* lower-case */
};

static int is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-';
}

/* 1 if s (len bytes) is a serialized http(s) origin. */
static int valid_origin(const char *s, size_t len)
{
    size_t i;
    if (len > 7 && !strncasecmp(s, "http://", 7))
        i = 7;
    else if (len > 8 && !strncasecmp(s, "https://", 8))
        i = 8;
    else
        return 0;
    size_t host = i;
    if (s[i] == '[') { /* an IPv6 literal */
        while (++i < len && (isxdigit((unsigned char)s[i]) || s[i] == ':' || s[i] == '.')) continue;
        if (i >= len || s[i] != ']' || i == host + 1) return 0;
        i++;
    } else {
        while (i < len && is_host_char(s[i])) i++;
        if (i == host) return 0;
    }
    if (i == len) return 1;
    if (s[i++] != ':' || i == len || len - i > 5) return 0;
    long port = 0;
    for (; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return 0;
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

int origins_parse(const char *list, struct origins **out, char *err, size_t errsize)
{
    *out = NULL;
    size_t max = 1;
    for (const char *p = list; *p; p++) max += *p == ',';
    struct origins *o = calloc(1, sizeof *o + max * sizeof o->entry[0]);
    if (!o) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && isspace((unsigned char)*p)) p++;
        const char *last = end;
        while (last > p && isspace((unsigned char)last[-1])) last--;
        size_t len = (size_t)(last - p);
        if (len && !valid_origin(p, len)) {
            snprintf(err, errsize,
                     "'%.*s' is not an origin like https://chat.example.com or "
                     "http://localhost:8080 (scheme://host[:port], no path)",
                     (int)(len > 200 ? 200 : len), p);
            goto fail;
        }
        if (len) {
            if (!(o->entry[o->n] = malloc(len + 1))) {
                snprintf(err, errsize, "out of memory");
                goto fail;
            }
            for (size_t i = 0; i < len; i++) o->entry[o->n][i] = (char)tolower((unsigned char)p[i]);
            o->entry[o->n++][len] = '\0';
        }
        if (!comma) break;
        p = comma + 1;
    }
    if (o->n)
        *out = o;
    else
        origins_destroy(&o); /* blank: allow all */
    return 0;
fail:
    origins_destroy(&o);
    return -1;
}

int origins_allowed(const struct origins *o, const char *origin, size_t len)
{
    if (!o) return 1;
    for (size_t i = 0; i < o->n; i++)
        if (strlen(o->entry[i]) == len && !strncasecmp(o->entry[i], origin, len)) return 1;
    return 0;
}

void origins_destroy(struct origins **op)
{
    struct origins *o = *op;
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) free(o->entry[i]);
    free(o);
    *op = NULL;
}
