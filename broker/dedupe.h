/* dedupe: the ids of a session's last N msg/dm commands and their acks.
 *
 * A command whose id is remembered is a retry: it gets the original ack and
 * is not delivered again. The oldest id is forgotten when N are held. */
#ifndef CHAT_BROKER_DEDUPE_H
#define CHAT_BROKER_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

struct dedupe_entry {
    const void *room; /* the room of a msg, NULL for a dm */
    uint64_t seq, ts;
    int pending; /* the message is not committed yet */
    int dead;    /* forgotten (its message failed); revived if the id comes again */
    UT_hash_handle hh;
    char id[];
};

struct dedupe {
    struct dedupe_entry *by_id;
    struct dedupe_entry **fifo; /* allocated on first use */
    size_t cap, size, head;
};

void dedupe_init(struct dedupe *d, size_t cap);
void dedupe_clear(struct dedupe *d);

/* The remembered ack for id, or NULL. */
struct dedupe_entry *dedupe_find(const struct dedupe *d, const char *id);

/* Forgets id (its message failed); its slot in the order stays until reused. */
void dedupe_forget(struct dedupe *d, const char *id);

/* Remembers id; returns 0, or -1 on OOM (then the id is simply not
 * remembered). */
int dedupe_add(struct dedupe *d, const char *id, const void *room, uint64_t seq, uint64_t ts);

#endif
