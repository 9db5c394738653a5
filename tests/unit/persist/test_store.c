/* Unit tests for persist/store.c against real SQLite files in a temp dir. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/chat.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct store *open_ok(const char *path, enum store_durability d)
{
    char err[256] = "";
    struct store_config cfg = {.path = path, .durability = d};
    struct store *s = store_open(&cfg, err, sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    return s;
}

struct done {
    int n, ok;
    intptr_t cookies[64];
};

static void on_done(void *arg, void *cookie, int ok)
{
    struct done *d = arg;
    d->cookies[d->n++] = (intptr_t)cookie;
    d->ok += ok;
}

/* Waits until `want` completions arrived (bounded). */
static void wait_done(struct store *s, struct done *d, int want)
{
    for (int i = 0; i < 500 && d->n < want; i++) {
        struct pollfd p = {store_fd(s), POLLIN, 0};
        poll(&p, 1, 10);
        store_completions(s, on_done, d);
    }
    assert_int_equal(d->n, want);
}

static void collect_room(void *arg, const char *room, uint64_t last)
{
    char *out = arg;
    char line[128];
    snprintf(line, sizeof line, "%s=%llu;", room, (unsigned long long)last);
    strcat(out, line);
}

struct rows {
    int n;
    uint64_t seq[16];
    char text[16][32];
};

static void collect_row(void *arg, uint64_t seq, uint64_t ts, const char *from, const char *text)
{
    struct rows *r = arg;
    (void)ts;
    assert_string_equal(from, "alice");
    r->seq[r->n] = seq;
    snprintf(r->text[r->n], sizeof r->text[0], "%s", text);
    r->n++;
}

static void test_append_commit_read_restore(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path, STORE_FULL);
    struct done d = {0};
    for (int i = 1; i <= 5; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(store_append(s, "general", (uint64_t)i, 1000 + i, "alice", text,
                                      i == 2 ? NULL : "id", (void *)(intptr_t)i),
                         0);
    }
    assert_int_equal(store_barrier(s, (void *)(intptr_t)99), 0);
    wait_done(s, &d, 6);
    assert_int_equal(d.ok, 6);
    for (int i = 0; i < 5; i++) assert_int_equal(d.cookies[i], i + 1); /* in order */
    assert_int_equal(d.cookies[5], 99);

    struct rows r = {0};
    assert_int_equal(store_read(s, "general", 2, 4, 10, collect_row, &r), 3);
    assert_int_equal(r.seq[0], 2);
    assert_int_equal(r.seq[2], 4);
    assert_string_equal(r.text[1], "m3");
    struct rows lim = {0};
    assert_int_equal(store_read(s, "general", 1, 5, 2, collect_row, &lim), 2);
    struct rows none = {0};
    assert_int_equal(store_read(s, "other", 1, 5, 10, collect_row, &none), 0);
    store_destroy(&s);
    assert_null(s);

    s = open_ok(f->path, STORE_NORMAL); /* reopen: rooms and last seq restored */
    char rooms[256] = "";
    assert_int_equal(store_rooms(s, collect_room, rooms), 0);
    assert_string_equal(rooms, "general=5;");
    store_destroy(&s);
}

static void test_second_open_is_refused(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path, STORE_FULL);
    char err[256] = "";
    struct store_config cfg = {.path = f->path};
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "in use by another broker"));
    store_destroy(&s);
    s = open_ok(f->path, STORE_FULL); /* the lock went with the first */
    store_destroy(&s);
}

static void test_newer_schema_is_refused(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    struct store_config cfg = {.path = f->path};
    assert_null(store_open(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "newer"));
}

static void test_not_a_database_is_refused(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++) fputs("this is not a database at all\n", fp);
    fclose(fp);
    char err[256] = "";
    struct store_config cfg = {.path = f->path};
    assert_null(store_open(&cfg, err, sizeof err));
    assert_true(strlen(err) > 0);
}

static void test_missing_directory_is_refused(void **state)
{
    struct fixture *f = *state;
    char path[200];
    snprintf(path, sizeof path, "%s/no/such/dir/chat.db", f->dir);
    char err[256] = "";
    struct store_config cfg = {.path = path};
    assert_null(store_open(&cfg, err, sizeof err));
    assert_true(strlen(err) > 0);
}

static void test_failure_refuses_until_recover(void **state)
{
    struct fixture *f = *state;
    struct store *s = open_ok(f->path, STORE_FULL);
    struct done d = {0};
    assert_int_equal(store_append(s, "r", 1, 1, "alice", "one", NULL, (void *)1), 0);
    wait_done(s, &d, 1);
    /* A duplicate (room, seq) makes the transaction fail like a broken disk. */
    assert_int_equal(store_append(s, "r", 1, 1, "alice", "dup", NULL, (void *)2), 0);
    wait_done(s, &d, 2);
    assert_int_equal(d.ok, 1);
    assert_int_equal(store_append(s, "r", 2, 1, "alice", "two", NULL, (void *)3), -1);
    store_recover(s);
    assert_int_equal(store_append(s, "r", 2, 1, "alice", "two", NULL, (void *)3), 0);
    wait_done(s, &d, 3);
    assert_int_equal(d.ok, 2);
    struct store_stats st;
    store_get_stats(s, &st);
    assert_int_equal(st.committed, 2);
    assert_int_equal(st.failed, 1);
    store_destroy(&s);
}

static void test_retention_keeps_newest(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";
    struct store_config cfg = {.path = f->path, .retain_messages = 2};
    struct store *s = store_open(&cfg, err, sizeof err);
    assert_non_null(s);
    struct done d = {0};
    for (int i = 1; i <= 6; i++)
        assert_int_equal(store_append(s, "r", (uint64_t)i, 1, "alice", "x", NULL, NULL), 0);
    wait_done(s, &d, 6);
    store_destroy(&s);
    /* A fresh store runs retention right after its first commit. */
    s = store_open(&cfg, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(store_append(s, "r", 7, 1, "alice", "x", NULL, NULL), 0);
    wait_done(s, &d, 7);
    store_destroy(&s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*), min(seq) FROM messages", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    assert_int_equal(sqlite3_column_int(st, 1), 6);
    sqlite3_finalize(st);
    sqlite3_close(db);
    s = store_open(&cfg, err, sizeof err);
    char rooms[64] = "";
    store_rooms(s, collect_room, rooms);
    assert_string_equal(rooms, "r=7;"); /* the last seq survives retention */
    store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_commit_read_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_refuses_until_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_keeps_newest, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
