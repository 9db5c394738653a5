/* Tests for broker/dedupe.c: remembered command ids and their acks, the
 * oldest forgotten past cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dedupe.h"

/* Rooms are opaque pointers here. */
static int lobby_r, dev_r;
#define LOBBY ((const void *)&lobby_r)
#define DEV ((const void *)&dev_r)

static int setup(void **state)
{
    struct dedupe *d = calloc(1, sizeof *d);
    if (!d) return -1;
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    struct dedupe *d = *state;
    dedupe_clear(d);
    free(d);
    return 0;
}

static void expect_ack(const struct dedupe *d, const char *id, const void *room, uint64_t seq,
                       uint64_t ts)
{
    const struct dedupe_entry *e = dedupe_find(d, id);
    assert_non_null(e);
    assert_string_equal(e->id, id);
    assert_ptr_equal(e->room, room);
    assert_int_equal(e->seq, seq);
    assert_int_equal(e->ts, ts);
}

static void id_of(int i, char *buf, size_t size)
{
    snprintf(buf, size, "c-%d", i);
}

static void test_empty(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 4);
    assert_null(dedupe_find(d, "c1"));
    assert_int_equal(d->size, 0);
    assert_null(d->fifo); /* allocated on first use */
}

static void test_find_after_add(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 4);
    char id[] = "c1";
    assert_int_equal(dedupe_add(d, id, LOBBY, 17, 1700000000123ull), 0);
    id[1] = '9'; /* the id is copied */
    expect_ack(d, "c1", LOBBY, 17, 1700000000123ull);
    assert_null(dedupe_find(d, "c9"));

    assert_int_equal(dedupe_add(d, "c2", NULL, 0, 42), 0); /* a dm: no room */
    expect_ack(d, "c2", NULL, 0, 42);
    expect_ack(d, "c1", LOBBY, 17, 1700000000123ull);
    assert_int_equal(d->size, 2);

    /* ids are compared whole and case-sensitively */
    assert_int_equal(dedupe_add(d, "c10", DEV, 3, 4), 0);
    assert_null(dedupe_find(d, "c"));
    assert_null(dedupe_find(d, "C1"));
    expect_ack(d, "c1", LOBBY, 17, 1700000000123ull);
    expect_ack(d, "c10", DEV, 3, 4);
}

static void test_duplicate_keeps_first(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 4);
    assert_int_equal(dedupe_add(d, "c1", LOBBY, 5, 500), 0);
    assert_int_equal(dedupe_add(d, "c1", DEV, 9, 900), 0);
    assert_int_equal(dedupe_add(d, "c1", NULL, 10, 1000), 0);
    expect_ack(d, "c1", LOBBY, 5, 500);
    assert_int_equal(d->size, 1);
}

static void test_duplicate_does_not_refresh(void **state)
{
    /* A retry is not a new command: it neither takes a slot nor makes its id
     * younger, so the original is still the first to be forgotten. */
    struct dedupe *d = *state;
    dedupe_init(d, 2);
    assert_int_equal(dedupe_add(d, "a", LOBBY, 1, 1), 0);
    assert_int_equal(dedupe_add(d, "b", LOBBY, 2, 2), 0);
    assert_int_equal(dedupe_add(d, "a", LOBBY, 3, 3), 0);
    assert_int_equal(d->size, 2);
    assert_int_equal(dedupe_add(d, "c", LOBBY, 4, 4), 0);
    assert_null(dedupe_find(d, "a"));
    expect_ack(d, "b", LOBBY, 2, 2);
    expect_ack(d, "c", LOBBY, 4, 4);
}

static void test_evicts_oldest(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 3);
    assert_int_equal(dedupe_add(d, "a", LOBBY, 1, 10), 0);
    assert_int_equal(dedupe_add(d, "b", LOBBY, 2, 20), 0);
    assert_int_equal(dedupe_add(d, "c", LOBBY, 3, 30), 0);
    expect_ack(d, "a", LOBBY, 1, 10);
    expect_ack(d, "b", LOBBY, 2, 20);
    expect_ack(d, "c", LOBBY, 3, 30);
    assert_int_equal(d->size, 3);

    assert_int_equal(dedupe_add(d, "d", LOBBY, 4, 40), 0);
    assert_int_equal(d->size, 3);
    assert_null(dedupe_find(d, "a"));
    expect_ack(d, "b", LOBBY, 2, 20);
    expect_ack(d, "c", LOBBY, 3, 30);
    expect_ack(d, "d", LOBBY, 4, 40);

    assert_int_equal(dedupe_add(d, "e", DEV, 1, 50), 0);
    assert_null(dedupe_find(d, "b"));
    expect_ack(d, "c", LOBBY, 3, 30);
    expect_ack(d, "d", LOBBY, 4, 40);
    expect_ack(d, "e", DEV, 1, 50);

    /* A forgotten id is new again, with its new ack. */
    assert_int_equal(dedupe_add(d, "a", DEV, 7, 70), 0);
    expect_ack(d, "a", DEV, 7, 70);
    assert_null(dedupe_find(d, "c"));
    assert_int_equal(d->size, 3);
}

static void test_cap_one(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 1);
    assert_int_equal(dedupe_add(d, "a", LOBBY, 1, 1), 0);
    expect_ack(d, "a", LOBBY, 1, 1);
    assert_int_equal(dedupe_add(d, "b", LOBBY, 2, 2), 0);
    assert_null(dedupe_find(d, "a"));
    expect_ack(d, "b", LOBBY, 2, 2);
    assert_int_equal(dedupe_add(d, "b", LOBBY, 3, 3), 0);
    expect_ack(d, "b", LOBBY, 2, 2);
    assert_int_equal(d->size, 1);
}

static void test_cap_zero(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 0);
    assert_int_equal(dedupe_add(d, "a", LOBBY, 1, 1), 0);
    assert_int_equal(dedupe_add(d, "b", NULL, 2, 2), 0);
    assert_null(dedupe_find(d, "a"));
    assert_null(dedupe_find(d, "b"));
    assert_int_equal(d->size, 0);
    assert_null(d->fifo);
    dedupe_clear(d);
    assert_int_equal(d->cap, 0);
}

static void test_many_wraps(void **state)
{
    /* Many more ids than cap: the fifo wraps many times and exactly the last
     * cap ids are remembered, each with its own ack. */
    struct dedupe *d = *state;
    enum { CAP = 64, N = 1000 };
    char id[32];
    dedupe_init(d, CAP);
    for (int i = 0; i < N; i++) {
        id_of(i, id, sizeof id);
        assert_int_equal(dedupe_add(d, id, i % 2 ? LOBBY : NULL, (uint64_t)i, (uint64_t)i * 3), 0);
        assert_int_equal(d->size, i + 1 < CAP ? i + 1 : CAP);
        if (i % 97 == 0 || i == N - 1) {
            for (int j = 0; j <= i; j++) {
                id_of(j, id, sizeof id);
                if (j > i - CAP)
                    expect_ack(d, id, j % 2 ? LOBBY : NULL, (uint64_t)j, (uint64_t)j * 3);
                else
                    assert_null(dedupe_find(d, id));
            }
        }
    }
    assert_int_equal(HASH_COUNT(d->by_id), CAP);
}

static void test_clear_reuse(void **state)
{
    struct dedupe *d = *state;
    dedupe_init(d, 5);
    char id[32];
    for (int i = 0; i < 12; i++) { /* head is not 0 when cleared */
        id_of(i, id, sizeof id);
        assert_int_equal(dedupe_add(d, id, LOBBY, (uint64_t)i, 0), 0);
    }
    dedupe_clear(d);
    assert_int_equal(d->cap, 5);
    assert_int_equal(d->size, 0);
    assert_null(d->by_id);
    assert_null(d->fifo);
    assert_null(dedupe_find(d, "c-11"));
    dedupe_clear(d); /* twice: harmless */

    assert_int_equal(dedupe_add(d, "c-11", DEV, 99, 98), 0);
    expect_ack(d, "c-11", DEV, 99, 98);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_after_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_keeps_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_does_not_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evicts_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_wraps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
