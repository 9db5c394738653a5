/* store: durable room history in SQLite, written by a thread of its own.
 *
 * The broker's loop hands each message to store_append() and goes on; a
 * writer thread commits what has queued up in one transaction (group
 * commit) and reports each message back, in append order, through
 * store_completions(), signalled on store_fd(). The broker delivers and acks
 * a message only once it is committed.
 *
 * After a failed commit (a full or read-only disk, say) the store refuses
 * every later append until the broker calls store_recover(): the broker first
 * sees every in-flight message fail, so it can rewind its seq counters and no
 * seq is ever skipped or reused. Reads (store_read) run on the caller's
 * thread on a connection of their own; WAL lets them proceed beside the
 * writer. The schema and the durability rules are described in store.c. */
#ifndef CHAT_PERSIST_STORE_H
#define CHAT_PERSIST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

enum store_durability {
    STORE_NORMAL, /* synchronous=NORMAL: survives a crash of the process, not of the machine */
    STORE_FULL    /* synchronous=FULL: committed means on disk */
};

struct store_config {
    const char *path;
    enum store_durability durability;
    long long retain_messages; /* per room; 0: keep all */
    long long retain_days;     /* 0: keep all */
    long long batch_max;       /* messages per transaction at most */
};

struct store;

/* Opens (creating if needed) and migrates the database, takes the lock file
 * PATH.lock and starts the writer thread. On failure returns NULL with a
 * one-line reason in err (the broker prints it and exits non-zero). */
struct store *store_open(const struct store_config *cfg, char *err, size_t errlen);

/* Stops the writer after it has committed everything queued, then closes. */
void store_destroy(struct store **sp);

/* Calls fn for every room with its last assigned seq (startup). 0 or -1. */
int store_rooms(struct store *s, void (*fn)(void *arg, const char *room, uint64_t last_seq),
                void *arg);

/* Queues a message (copied). cookie comes back in its completion. Returns 0,
 * or -1 when the store refuses (after a failure, until store_recover(), or
 * on OOM): nothing was queued. */
int store_append(struct store *s, const char *room, uint64_t seq, uint64_t ts, const char *from,
                 const char *text, const char *client_id, void *cookie);

/* Queues a barrier: completes after everything queued before it. */
int store_barrier(struct store *s, void *cookie);

/* A descriptor that is readable while completions wait. */
int store_fd(const struct store *s);

/* Calls fn(arg, cookie, ok) for each finished append or barrier, in order. */
void store_completions(struct store *s, void (*fn)(void *arg, void *cookie, int ok), void *arg);

/* After failures: accept appends again (the next commit will tell). */
void store_recover(struct store *s);

/* Messages of room with from <= seq <= to, ascending, at most limit. Returns
 * the number passed to fn, or -1 on error. */
int store_read(struct store *s, const char *room, uint64_t from, uint64_t to, size_t limit,
               void (*fn)(void *arg, uint64_t seq, uint64_t ts, const char *from, const char *text),
               void *arg);

/* Figures for logs and metrics. */
struct store_stats {
    uint64_t committed, failed, batches, last_batch, last_commit_us;
    struct histo batch_size;     /* messages per transaction */
    struct histo commit_seconds; /* time to commit one transaction */
};
void store_get_stats(struct store *s, struct store_stats *out);

#endif
