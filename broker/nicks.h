/* nicks: who holds which nick, compared case-insensitively (ASCII folding,
 * since nicks are ASCII by the protocol's pattern). */
#ifndef CHAT_BROKER_NICKS_H
#define CHAT_BROKER_NICKS_H

struct nick_entry;

struct nicks {
    struct nick_entry *by_fold;
    unsigned count;
};

/* Gives nick to owner. Returns 0, or -1 if another owner holds it (or OOM).
 * Claiming a nick one already holds succeeds. */
int nicks_claim(struct nicks *n, const char *nick, void *owner);

/* Frees nick if owner holds it. */
void nicks_release(struct nicks *n, const char *nick, void *owner);

/* The holder of nick, or NULL. */
void *nicks_owner(const struct nicks *n, const char *nick);

void nicks_clear(struct nicks *n);

#endif
