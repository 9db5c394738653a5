#include "nicks.h"

#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "text.h"

struct nick_entry {
    void *owner;
    UT_hash_handle hh;
    char fold[]; /* the key */
};

static struct nick_entry *find(const struct nicks *n, const char *nick)
{
    size_t len = strlen(nick);
    char key[len + 1];
    text_fold(nick, len, key);
    struct nick_entry *e;
    HASH_FIND(hh, n->by_fold, key, len, e);
    return e;
}

int nicks_claim(struct nicks *n, const char *nick, void *owner)
{
    struct nick_entry *e = find(n, nick);
    if (e) return e->owner == owner ? 0 : -1;
    size_t len = strlen(nick);
    e = malloc(sizeof *e + len + 1);
    if (!e) return -1;
    e->owner = owner;
    text_fold(nick, len, e->fold);
    HASH_ADD(hh, n->by_fold, fold[0], len, e);
    n->count++;
    return 0;
}

void nicks_release(struct nicks *n, const char *nick, void *owner)
{
    struct nick_entry *e = find(n, nick);
    if (!e || e->owner != owner) return;
    HASH_DELETE(hh, n->by_fold, e);
    free(e);
    n->count--;
}

void *nicks_owner(const struct nicks *n, const char *nick)
{
    struct nick_entry *e = find(n, nick);
    return e ? e->owner : NULL;
}

void nicks_clear(struct nicks *n)
{
    struct nick_entry *e, *tmp;
    HASH_ITER(hh, n->by_fold, e, tmp)
    {
        HASH_DELETE(hh, n->by_fold, e);
        free(e);
    }
    n->count = 0;
}
