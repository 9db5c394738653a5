/* store.c: room history in SQLite.
 *
 * Schema, version 1 (PRAGMA user_version = 1):
 *
 *   rooms(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)
 *       The last seq assigned in each room. Kept apart from the messages so
 *       that retention can delete messages without the broker ever reusing
 *       a seq after a restart.
 *   messages(room TEXT, seq INTEGER, nick TEXT, text TEXT, ts INTEGER,
 *            client_id TEXT, PRIMARY KEY (room, seq)) WITHOUT ROWID
 *       One row per committed message; ts is the broker's clock in ms,
 *       client_id the "id" the client gave (NULL if none).
 *   messages_ts index on messages(ts): retention by age.
 *
 * Migrations run at open, inside one transaction, from the file's
 * user_version up to STORE_SCHEMA; a file from a newer broker is refused.
 *
 * Durability. The database is in WAL mode. Every batch of messages is one
 * transaction (group commit: whatever queued while the previous commit ran).
 * With STORE_FULL the connection uses synchronous=FULL, so a commit returns
 * only once the WAL is on disk; with STORE_NORMAL it uses synchronous=NORMAL,
 * so a commit survives a crash of the process but not of the machine. The
 * broker acknowledges a message only after its transaction committed, so an
 * acknowledged message is never lost (within the mode's promise). A message
 * whose transaction fails is reported failed; the broker answers its sender
 * `unavailable` and never delivers it.
 *
 * Checkpoints. SQLite's automatic checkpoint would run inside a COMMIT on the
 * writer thread and hold every ack behind it; it is turned off, and a
 * checkpointer thread with its own connection copies the WAL back into the
 * database (PASSIVE: never blocking the writer) whenever the WAL has grown by
 * CHECKPOINT_PAGES since the last one.
 *
 * One broker per database: PATH.lock is held with flock() while open.
 * Everything goes through prepared statements. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"

#define STORE_SCHEMA 1
#define CHECKPOINT_PAGES 1000 /* frames; SQLite's own default threshold */

struct item {
    struct item *next;
    void *cookie;
    int ok;
    int barrier;
    uint64_t seq, ts;
    char *room, *from, *text, *client_id; /* in the same allocation */
};

struct store {
    struct store_config cfg;
    sqlite3 *wdb, *rdb; /* writer (its thread), reader (the broker's thread) */
    sqlite3_stmt *ins_msg, *upd_room, *read_range;
    int lock_fd, event_fd;
    pthread_t thread, ckpt_thread;
    sqlite3 *cdb; /* the checkpointer's connection */
    pthread_cond_t ckpt_cond;
    int ckpt_wanted, ckpt_started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct item *in_head, *in_tail;     /* queued for the writer */
    struct item *done_head, *done_tail; /* finished, for the broker */
    int stopping, failed;
    struct store_stats stats;
    time_t next_retention;
};

static void set_err(char *err, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static const char *const migrations[STORE_SCHEMA] = {
    /* 0 -> 1 */
    "CREATE TABLE rooms(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE messages(room TEXT NOT NULL, seq INTEGER NOT NULL, nick TEXT NOT NULL,"
    " text TEXT NOT NULL, ts INTEGER NOT NULL, client_id TEXT, PRIMARY KEY(room, seq))"
    " WITHOUT ROWID;"
    "CREATE INDEX messages_ts ON messages(ts);",
};

static int user_version(sqlite3 *db, int *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int migrate(sqlite3 *db, char *err, size_t n)
{
    int v = 0;
    if (user_version(db, &v) < 0) {
        set_err(err, n, "cannot read the database: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (v > STORE_SCHEMA) {
        set_err(err, n,
                "the database has schema version %d, newer than this broker's %d; "
                "run a newer broker or restore a backup",
                v, STORE_SCHEMA);
        return -1;
    }
    if (v == STORE_SCHEMA) return 0;
    if (exec(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        set_err(err, n, "cannot write the database: %s", sqlite3_errmsg(db));
        return -1;
    }
    for (int i = v; i < STORE_SCHEMA; i++)
        if (exec(db, migrations[i]) != SQLITE_OK) goto fail;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA);
    if (exec(db, sql) != SQLITE_OK || exec(db, "COMMIT") != SQLITE_OK) goto fail;
    return 0;
fail:
    set_err(err, n, "migration to schema %d failed: %s", STORE_SCHEMA, sqlite3_errmsg(db));
    exec(db, "ROLLBACK");
    return -1;
}

static sqlite3 *open_db(const char *path, int flags, char *err, size_t n)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        set_err(err, n, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    return db;
}

static void *writer_main(void *arg);
static void *checkpointer_main(void *arg);

static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct store *s = arg;
    (void)db;
    (void)name;
    if (pages < CHECKPOINT_PAGES) return SQLITE_OK;
    pthread_mutex_lock(&s->mu);
    s->ckpt_wanted = 1;
    pthread_cond_signal(&s->ckpt_cond);
    pthread_mutex_unlock(&s->mu);
    return SQLITE_OK;
}

struct store *store_open(const struct store_config *cfg, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    if (s->cfg.batch_max <= 0) s->cfg.batch_max = 4096;
    s->lock_fd = s->event_fd = -1;
    static const double batch_le[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4096};
    static const double commit_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,   0.025,   0.05,   0.1,   0.25,   1};
    histo_init(&s->stats.batch_size, batch_le, sizeof batch_le / sizeof batch_le[0]);
    histo_init(&s->stats.commit_seconds, commit_le, sizeof commit_le / sizeof commit_le[0]);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_cond_init(&s->ckpt_cond, NULL);

    char lock[4096];
    snprintf(lock, sizeof lock, "%s.lock", cfg->path);
    s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        set_err(err, errlen, "cannot create %s: %s", lock, strerror(errno));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        set_err(err, errlen, "%s is in use by another broker (lock %s is held)", cfg->path, lock);
        goto fail;
    }
    if (!(s->wdb = open_db(cfg->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen)))
        goto fail;
    /* A file from a newer broker is refused before anything writes to it (the
     * journal mode is stored in the file). A file that is not a database
     * fails on this first read. */
    int version = 0;
    if (user_version(s->wdb, &version) < 0) {
        set_err(err, errlen, "cannot use %s as a database: %s", cfg->path, sqlite3_errmsg(s->wdb));
        goto fail;
    }
    if (version > STORE_SCHEMA) {
        set_err(err, errlen,
                "the database has schema version %d, newer than this broker's %d; "
                "run a newer broker or restore a backup",
                version, STORE_SCHEMA);
        goto fail;
    }
    sqlite3_stmt *st = NULL;
    int wal = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW &&
              !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    if (!wal)
        set_err(err, errlen, "cannot use %s as a database: %s", cfg->path, sqlite3_errmsg(s->wdb));
    sqlite3_finalize(st);
    if (!wal) goto fail;
    if (exec(s->wdb, cfg->durability == STORE_FULL ? "PRAGMA synchronous=FULL"
                                                   : "PRAGMA synchronous=NORMAL") != SQLITE_OK ||
        migrate(s->wdb, err, errlen) < 0)
        goto fail;
    if (exec(s->wdb, "PRAGMA quick_check") != SQLITE_OK) {
        set_err(err, errlen, "%s fails its integrity check: %s", cfg->path, sqlite3_errmsg(s->wdb));
        goto fail;
    }
    if (sqlite3_prepare_v2(s->wdb,
                           "INSERT INTO messages(room, seq, nick, text, ts, client_id)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &s->ins_msg, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->wdb,
                           "INSERT INTO rooms(name, last_seq) VALUES(?1, ?2)"
                           " ON CONFLICT(name) DO UPDATE SET last_seq = max(last_seq, ?2)",
                           -1, &s->upd_room, NULL) != SQLITE_OK) {
        set_err(err, errlen, "cannot prepare statements: %s", sqlite3_errmsg(s->wdb));
        goto fail;
    }
    sqlite3_wal_hook(s->wdb, on_wal, s); /* replaces the automatic checkpoint */
    if (!(s->rdb = open_db(cfg->path, SQLITE_OPEN_READONLY, err, errlen))) goto fail;
    if (!(s->cdb = open_db(cfg->path, SQLITE_OPEN_READWRITE, err, errlen))) goto fail;
    exec(s->cdb,
         cfg->durability == STORE_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (sqlite3_prepare_v2(s->rdb,
                           "SELECT seq, ts, nick, text FROM messages"
                           " WHERE room = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq LIMIT ?4",
                           -1, &s->read_range, NULL) != SQLITE_OK) {
        set_err(err, errlen, "cannot prepare statements: %s", sqlite3_errmsg(s->rdb));
        goto fail;
    }
    s->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->event_fd < 0) {
        set_err(err, errlen, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&s->ckpt_thread, NULL, checkpointer_main, s) != 0) {
        set_err(err, errlen, "cannot start the checkpointer thread");
        goto fail;
    }
    s->ckpt_started = 1;
    if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
        set_err(err, errlen, "cannot start the writer thread");
        goto fail;
    }
    return s;
fail:
    if (s->ckpt_started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        pthread_cond_signal(&s->ckpt_cond);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->ckpt_thread, NULL);
    }
    sqlite3_close(s->cdb);
    sqlite3_finalize(s->ins_msg);
    sqlite3_finalize(s->upd_room);
    sqlite3_finalize(s->read_range);
    sqlite3_close(s->wdb);
    sqlite3_close(s->rdb);
    if (s->event_fd >= 0) close(s->event_fd);
    if (s->lock_fd >= 0) close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    free(s);
    return NULL;
}

static void free_items(struct item *it)
{
    while (it) {
        struct item *next = it->next;
        free(it);
        it = next;
    }
}

void store_destroy(struct store **sp)
{
    struct store *s = *sp;
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_signal(&s->ckpt_cond);
    pthread_join(s->ckpt_thread, NULL);
    sqlite3_close(s->cdb);
    free_items(s->in_head);
    free_items(s->done_head);
    sqlite3_finalize(s->ins_msg);
    sqlite3_finalize(s->upd_room);
    sqlite3_finalize(s->read_range);
    sqlite3_close(s->rdb);
    exec(s->wdb, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(s->wdb);
    close(s->event_fd);
    close(s->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->ckpt_cond);
    free(s);
    *sp = NULL;
}

int store_rooms(struct store *s, void (*fn)(void *arg, const char *room, uint64_t last_seq),
                void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->rdb, "SELECT name, last_seq FROM rooms", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(arg, (const char *)sqlite3_column_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int enqueue(struct store *s, struct item *it)
{
    pthread_mutex_lock(&s->mu);
    if (s->failed) {
        pthread_mutex_unlock(&s->mu);
        free(it);
        return -1;
    }
    if (s->in_tail)
        s->in_tail->next = it;
    else
        s->in_head = it;
    s->in_tail = it;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int store_append(struct store *s, const char *room, uint64_t seq, uint64_t ts, const char *from,
                 const char *text, const char *client_id, void *cookie)
{
    size_t lr = strlen(room) + 1, lf = strlen(from) + 1, lt = strlen(text) + 1;
    size_t lc = client_id ? strlen(client_id) + 1 : 0;
    struct item *it = malloc(sizeof *it + lr + lf + lt + lc);
    if (!it) return -1;
    memset(it, 0, sizeof *it);
    char *p = (char *)(it + 1);
    it->room = memcpy(p, room, lr);
    it->from = memcpy(p + lr, from, lf);
    it->text = memcpy(p + lr + lf, text, lt);
    it->client_id = client_id ? memcpy(p + lr + lf + lt, client_id, lc) : NULL;
    it->seq = seq;
    it->ts = ts;
    it->cookie = cookie;
    return enqueue(s, it);
}

int store_barrier(struct store *s, void *cookie)
{
    struct item *it = calloc(1, sizeof *it);
    if (!it) return -1;
    it->barrier = 1;
    it->cookie = cookie;
    return enqueue(s, it);
}

int store_fd(const struct store *s)
{
    return s->event_fd;
}

void store_completions(struct store *s, void (*fn)(void *arg, void *cookie, int ok), void *arg)
{
    uint64_t v;
    while (read(s->event_fd, &v, sizeof v) > 0) continue;
    pthread_mutex_lock(&s->mu);
    struct item *it = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (it) {
        struct item *next = it->next;
        fn(arg, it->cookie, it->ok);
        free(it);
        it = next;
    }
}

void store_recover(struct store *s)
{
    pthread_mutex_lock(&s->mu);
    s->failed = 0;
    pthread_mutex_unlock(&s->mu);
}

int store_read(struct store *s, const char *room, uint64_t from, uint64_t to, size_t limit,
               void (*fn)(void *arg, uint64_t seq, uint64_t ts, const char *from, const char *text),
               void *arg)
{
    sqlite3_stmt *st = s->read_range;
    sqlite3_bind_text(st, 1, room, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)from);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(to > INT64_MAX ? INT64_MAX : to));
    sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn(arg, (uint64_t)sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(st, 1),
           (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3));
        n++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? n : -1;
}

void store_get_stats(struct store *s, struct store_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- the writer thread */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int bind_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* One transaction for the whole batch. Returns 1 when committed. */
static int commit_batch(struct store *s, struct item *batch)
{
    if (exec(s->wdb, "BEGIN") != SQLITE_OK) goto fail;
    for (struct item *it = batch; it; it = it->next) {
        if (it->barrier) continue;
        sqlite3_stmt *st = s->ins_msg;
        sqlite3_bind_text(st, 1, it->room, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)it->seq);
        sqlite3_bind_text(st, 3, it->from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, it->text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)it->ts);
        if (it->client_id)
            sqlite3_bind_text(st, 6, it->client_id, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 6);
        if (bind_step(st) < 0) goto fail;
        st = s->upd_room;
        sqlite3_bind_text(st, 1, it->room, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)it->seq);
        if (bind_step(st) < 0) goto fail;
    }
    if (exec(s->wdb, "COMMIT") == SQLITE_OK) return 1;
fail:
    log_error("history_commit_failed", "reason=\"%s\"", sqlite3_errmsg(s->wdb));
    if (!sqlite3_get_autocommit(s->wdb)) exec(s->wdb, "ROLLBACK");
    return 0;
}

/* Deletes what retention allows, at most every 10 s, in bounded chunks so
 * commits are not held up for long. */
static void retention(struct store *s)
{
    time_t now = time(NULL);
    if (now < s->next_retention || (s->cfg.retain_days <= 0 && s->cfg.retain_messages <= 0)) return;
    s->next_retention = now + 10;
    if (s->cfg.retain_days > 0) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->wdb,
                               "DELETE FROM messages WHERE (room, seq) IN (SELECT room, seq"
                               " FROM messages WHERE ts < ?1 LIMIT 5000)",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, ((sqlite3_int64)now - s->cfg.retain_days * 86400LL) * 1000);
            bind_step(st);
        }
        sqlite3_finalize(st);
    }
    if (s->cfg.retain_messages > 0) {
        /* Per room, along the primary key: seq <= last_seq - N. */
        sqlite3_stmt *rooms = NULL, *del = NULL;
        if (sqlite3_prepare_v2(s->wdb, "SELECT name, last_seq FROM rooms", -1, &rooms, NULL) ==
                SQLITE_OK &&
            sqlite3_prepare_v2(s->wdb, "DELETE FROM messages WHERE room = ?1 AND seq <= ?2", -1,
                               &del, NULL) == SQLITE_OK &&
            exec(s->wdb, "BEGIN") == SQLITE_OK) {
            while (sqlite3_step(rooms) == SQLITE_ROW) {
                sqlite3_int64 upto = sqlite3_column_int64(rooms, 1) - s->cfg.retain_messages;
                if (upto <= 0) continue;
                sqlite3_bind_value(del, 1, sqlite3_column_value(rooms, 0));
                sqlite3_bind_int64(del, 2, upto);
                bind_step(del);
            }
            sqlite3_reset(rooms);
            if (exec(s->wdb, "COMMIT") != SQLITE_OK) exec(s->wdb, "ROLLBACK");
        }
        sqlite3_finalize(rooms);
        sqlite3_finalize(del);
    }
}

static void *writer_main(void *arg)
{
    struct store *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->in_head && !s->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&s->cond, &s->mu, &until);
            if (!s->in_head && !s->stopping) {
                pthread_mutex_unlock(&s->mu);
                retention(s);
                pthread_mutex_lock(&s->mu);
            }
        }
        if (!s->in_head && s->stopping) break;
        /* Everything queued, up to batch_max, goes into one transaction. */
        struct item *batch = s->in_head, *last = batch;
        long long n = 1;
        while (last->next && n < s->cfg.batch_max) last = last->next, n++;
        s->in_head = last->next;
        if (!s->in_head) s->in_tail = NULL;
        last->next = NULL;
        int failed = s->failed;
        pthread_mutex_unlock(&s->mu);

        uint64_t t0 = now_us();
        int ok = !failed && commit_batch(s, batch);
        uint64_t took = now_us() - t0;
        for (struct item *it = batch; it; it = it->next) it->ok = ok;
        if (ok) retention(s);

        pthread_mutex_lock(&s->mu);
        if (!ok) s->failed = 1; /* refuse appends until the broker recovers */
        s->stats.batches++;
        s->stats.last_batch = (uint64_t)n;
        s->stats.last_commit_us = took;
        histo_observe(&s->stats.batch_size, (double)n);
        histo_observe(&s->stats.commit_seconds, (double)took / 1e6);
        if (ok)
            s->stats.committed += (uint64_t)n;
        else
            s->stats.failed += (uint64_t)n;
        if (s->done_tail)
            s->done_tail->next = batch;
        else
            s->done_head = batch;
        s->done_tail = last;
        uint64_t one = 1;
        ssize_t w = write(s->event_fd, &one, sizeof one); /* cannot fail: far from the max */
        (void)w;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* The checkpointer: copies the WAL into the database beside the writer. */
static void *checkpointer_main(void *arg)
{
    struct store *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        while (!s->ckpt_wanted && !s->stopping) pthread_cond_wait(&s->ckpt_cond, &s->mu);
        if (s->stopping) break;
        s->ckpt_wanted = 0;
        pthread_mutex_unlock(&s->mu);
        sqlite3_wal_checkpoint_v2(s->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
