/* Tests for broker/typing.c: typing indicators with refresh coalescing and
 * expiry, driven by an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "typing.h"

#define TIMEOUT 5000

/* Typers, rooms and DM recipients are opaque pointers: any distinct addresses
 * will do. A session can be both a typer and a DM target. */
static int alice_s, bob_s, carol_s, lobby_r, dev_r;
#define ALICE ((void *)&alice_s)
#define BOB ((void *)&bob_s)
#define CAROL ((void *)&carol_s)
#define LOBBY ((void *)&lobby_r)
#define DEV ((void *)&dev_r)

/* The injected clock: tests move it by hand. */
struct fixture {
    struct typing t;
    uint64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    typing_init(&f->t, TIMEOUT);
    f->now = 1700000000000ull; /* a wall-clock-like start, far from 0 */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    typing_clear(&f->t);
    free(f);
    return 0;
}

static int start(struct fixture *f, void *who, void *target, int is_dm)
{
    return typing_start(&f->t, who, target, is_dm, f->now);
}

/* Removes and returns the entry expired at now, checking it is (who, target). */
static void expect_expired(struct fixture *f, void *who, void *target)
{
    struct typing_entry *e = typing_expired(&f->t, f->now);
    assert_non_null(e);
    assert_ptr_equal(e->who, who);
    assert_ptr_equal(e->target, target);
    unsigned count = f->t.count;
    typing_remove(&f->t, e);
    assert_int_equal(f->t.count, count - 1);
}

static void test_empty(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->t.count, 0);
    assert_null(typing_expired(&f->t, f->now));
    assert_null(typing_expired(&f->t, UINT64_MAX));
    assert_int_equal(typing_next_expiry(&f->t), UINT64_MAX);
    assert_int_equal(typing_stop(&f->t, ALICE, LOBBY), 0);
    typing_forget(&f->t, ALICE, NULL, NULL);
    assert_int_equal(f->t.count, 0);
}

static void test_start_then_refresh(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(f->t.count, 1);
    f->now += 100;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 0);
    f->now += 100;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 0);
    assert_int_equal(f->t.count, 1);

    /* Other pairs are other entries. */
    assert_int_equal(start(f, ALICE, DEV, 0), 1);
    assert_int_equal(start(f, BOB, LOBBY, 0), 1);
    assert_int_equal(start(f, ALICE, BOB, 1), 1);
    assert_int_equal(start(f, BOB, ALICE, 1), 1);
    assert_int_equal(f->t.count, 5);
    assert_int_equal(start(f, BOB, ALICE, 1), 0);
    assert_int_equal(f->t.count, 5);
}

static void test_entry_fields(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = f->now;
    assert_int_equal(start(f, ALICE, BOB, 1), 1);
    struct typing_entry *e = f->t.oldest;
    assert_non_null(e);
    assert_ptr_equal(e->who, ALICE);
    assert_ptr_equal(e->target, BOB);
    assert_int_equal(e->is_dm, 1);
    assert_int_equal(e->refreshed_ms, t0);
    f->now += 1234;
    assert_int_equal(start(f, ALICE, BOB, 1), 0);
    assert_ptr_equal(f->t.oldest, e); /* a refresh keeps the entry */
    assert_int_equal(e->refreshed_ms, t0 + 1234);

    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(f->t.oldest->next->is_dm, 0);
}

static void test_expiry_after_timeout(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = f->now;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(typing_next_expiry(&f->t), t0 + TIMEOUT);

    assert_null(typing_expired(&f->t, t0));
    assert_null(typing_expired(&f->t, t0 + 1));
    assert_null(typing_expired(&f->t, t0 + TIMEOUT - 1));
    /* Expired once timeout_ms have passed, and from then on. */
    assert_ptr_equal(typing_expired(&f->t, t0 + TIMEOUT), f->t.oldest);
    assert_ptr_equal(typing_expired(&f->t, t0 + 10 * TIMEOUT), f->t.oldest);
    assert_int_equal(f->t.count, 1); /* typing_expired does not remove */

    f->now = t0 + TIMEOUT;
    expect_expired(f, ALICE, LOBBY);
    assert_null(typing_expired(&f->t, f->now));
    assert_int_equal(typing_next_expiry(&f->t), UINT64_MAX);
    assert_int_equal(f->t.count, 0);

    /* Starting again after expiry is a new start. */
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
}

static void test_refresh_moves_expiry(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = f->now;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    f->now = t0 + 4000;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 0);
    assert_int_equal(typing_next_expiry(&f->t), t0 + 4000 + TIMEOUT);
    assert_null(typing_expired(&f->t, t0 + TIMEOUT));
    assert_null(typing_expired(&f->t, t0 + 4000 + TIMEOUT - 1));
    assert_non_null(typing_expired(&f->t, t0 + 4000 + TIMEOUT));

    /* Refreshing over and over keeps it alive indefinitely. */
    for (int i = 0; i < 100; i++) {
        f->now += TIMEOUT - 1;
        assert_null(typing_expired(&f->t, f->now));
        assert_int_equal(start(f, ALICE, LOBBY, 0), 0);
        assert_int_equal(typing_next_expiry(&f->t), f->now + TIMEOUT);
    }
    assert_int_equal(f->t.count, 1);
}

static void test_stop(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(start(f, BOB, LOBBY, 0), 1);
    assert_int_equal(typing_stop(&f->t, ALICE, DEV), 0);   /* other target */
    assert_int_equal(typing_stop(&f->t, CAROL, LOBBY), 0); /* other typer */
    assert_int_equal(typing_stop(&f->t, LOBBY, ALICE), 0); /* the pair is ordered */
    assert_int_equal(f->t.count, 2);

    assert_int_equal(typing_stop(&f->t, ALICE, LOBBY), 1);
    assert_int_equal(f->t.count, 1);
    assert_int_equal(typing_stop(&f->t, ALICE, LOBBY), 0);
    assert_int_equal(f->t.count, 1);

    /* BOB's entry is now the oldest, and the only one. */
    assert_ptr_equal(f->t.oldest->who, BOB);
    assert_null(f->t.oldest->next);

    assert_int_equal(start(f, ALICE, LOBBY, 0), 1); /* stop, then start: forwarded again */
    assert_int_equal(typing_stop(&f->t, BOB, LOBBY), 1);
    assert_int_equal(typing_stop(&f->t, ALICE, LOBBY), 1);
    assert_int_equal(f->t.count, 0);
    assert_int_equal(typing_next_expiry(&f->t), UINT64_MAX);
}

static void test_stop_after_expiry(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    f->now += TIMEOUT;
    expect_expired(f, ALICE, LOBBY);
    assert_int_equal(typing_stop(&f->t, ALICE, LOBBY), 0); /* already reported inactive */
}

static void test_expiry_order(void **state)
{
    struct fixture *f = *state;
    uint64_t t0 = f->now;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1); /* t0 */
    f->now = t0 + 100;
    assert_int_equal(start(f, BOB, LOBBY, 0), 1); /* t0 + 100 */
    f->now = t0 + 200;
    assert_int_equal(start(f, CAROL, DEV, 0), 1); /* t0 + 200 */
    f->now = t0 + 300;
    assert_int_equal(start(f, ALICE, BOB, 1), 1); /* t0 + 300 */
    f->now = t0 + 400;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 0); /* refreshed: now the newest */
    assert_int_equal(typing_next_expiry(&f->t), t0 + 100 + TIMEOUT);

    /* Nothing yet just before the oldest expiry. */
    f->now = t0 + 100 + TIMEOUT - 1;
    assert_null(typing_expired(&f->t, f->now));

    /* At t0 + 250 + TIMEOUT: BOB and CAROL, in that order, then nothing. */
    f->now = t0 + 250 + TIMEOUT;
    expect_expired(f, BOB, LOBBY);
    assert_int_equal(typing_next_expiry(&f->t), t0 + 200 + TIMEOUT);
    expect_expired(f, CAROL, DEV);
    assert_null(typing_expired(&f->t, f->now));
    assert_int_equal(typing_next_expiry(&f->t), t0 + 300 + TIMEOUT);

    /* Much later: the DM, then ALICE's refreshed room entry. */
    f->now = t0 + 1000 + TIMEOUT;
    expect_expired(f, ALICE, BOB);
    assert_int_equal(typing_next_expiry(&f->t), t0 + 400 + TIMEOUT);
    expect_expired(f, ALICE, LOBBY);
    assert_null(typing_expired(&f->t, f->now));
    assert_int_equal(f->t.count, 0);
}

static void test_expiry_many(void **state)
{
    /* Many entries started and refreshed at pseudo-random times: draining
     * yields them in order of last refresh, each once. */
    struct fixture *f = *state;
    enum { N = 64 };
    static int who[N];
    uint64_t last[N] = {0};
    int active[N] = {0};
    uint64_t t0 = f->now;
    uint32_t x = 7;
    for (int step = 0; step < 1000; step++) {
        x = x * 1103515245u + 12345u;
        int i = (int)((x >> 16) % N);
        f->now += (x >> 8) % 7;
        assert_int_equal(start(f, &who[i], LOBBY, 0), active[i] ? 0 : 1);
        active[i] = 1;
        last[i] = f->now;
    }
    unsigned n = 0;
    for (int i = 0; i < N; i++) n += (unsigned)active[i];
    assert_int_equal(f->t.count, n);

    f->now += TIMEOUT * 2;
    uint64_t prev = t0;
    struct typing_entry *e;
    while ((e = typing_expired(&f->t, f->now))) {
        int i = (int)((int *)e->who - who);
        assert_true(i >= 0 && i < N);
        assert_true(active[i]);
        assert_int_equal(e->refreshed_ms, last[i]);
        assert_true(e->refreshed_ms >= prev);
        assert_int_equal(typing_next_expiry(&f->t), last[i] + TIMEOUT);
        prev = e->refreshed_ms;
        active[i] = 0;
        typing_remove(&f->t, e);
        n--;
    }
    assert_int_equal(n, 0);
    assert_int_equal(f->t.count, 0);
}

static void test_timeout_zero(void **state)
{
    struct fixture *f = *state;
    typing_init(&f->t, 0);
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(typing_next_expiry(&f->t), f->now);
    expect_expired(f, ALICE, LOBBY);
}

/* What the forget callback saw: the entries, still intact when it is called. */
struct seen {
    int n;
    void *who[8], *target[8];
    struct typing *t;
    unsigned count_at_call[8];
};

static void on_forget(struct typing_entry *e, void *arg)
{
    struct seen *s = arg;
    assert_true(s->n < 8);
    s->who[s->n] = e->who;
    s->target[s->n] = e->target;
    s->count_at_call[s->n] = s->t->count;
    s->n++;
}

static int seen_has(const struct seen *s, void *who, void *target)
{
    int k = 0;
    for (int i = 0; i < s->n; i++) k += s->who[i] == who && s->target[i] == target;
    return k;
}

static void test_forget_by_who_and_target(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(start(f, ALICE, DEV, 0), 1);
    assert_int_equal(start(f, BOB, LOBBY, 0), 1);
    assert_int_equal(start(f, BOB, ALICE, 1), 1); /* BOB typing a DM to ALICE */
    assert_int_equal(start(f, CAROL, BOB, 1), 1);
    assert_int_equal(start(f, CAROL, DEV, 0), 1);
    assert_int_equal(f->t.count, 6);

    /* ALICE disconnects: her typing and typing to her go. */
    struct seen s = {.t = &f->t};
    typing_forget(&f->t, ALICE, on_forget, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(seen_has(&s, ALICE, LOBBY), 1);
    assert_int_equal(seen_has(&s, ALICE, DEV), 1);
    assert_int_equal(seen_has(&s, BOB, ALICE), 1);
    /* the callback runs before each removal */
    assert_int_equal(s.count_at_call[0], 6);
    assert_int_equal(s.count_at_call[1], 5);
    assert_int_equal(s.count_at_call[2], 4);
    assert_int_equal(f->t.count, 3);
    assert_int_equal(typing_stop(&f->t, ALICE, LOBBY), 0);
    assert_int_equal(typing_stop(&f->t, BOB, ALICE), 0);

    /* The others are still there, still in order. */
    struct typing_entry *e = f->t.oldest;
    assert_ptr_equal(e->who, BOB);
    assert_ptr_equal(e->target, LOBBY);
    e = e->next;
    assert_ptr_equal(e->who, CAROL);
    assert_ptr_equal(e->target, BOB);
    e = e->next;
    assert_ptr_equal(e->who, CAROL);
    assert_ptr_equal(e->target, DEV);
    assert_null(e->next);

    /* By target: a room going away (e.g. DEV). */
    struct seen s2 = {.t = &f->t};
    typing_forget(&f->t, DEV, on_forget, &s2);
    assert_int_equal(s2.n, 1);
    assert_int_equal(seen_has(&s2, CAROL, DEV), 1);
    assert_int_equal(f->t.count, 2);

    /* BOB is both a typer and a DM target. */
    struct seen s3 = {.t = &f->t};
    typing_forget(&f->t, BOB, on_forget, &s3);
    assert_int_equal(s3.n, 2);
    assert_int_equal(seen_has(&s3, BOB, LOBBY), 1);
    assert_int_equal(seen_has(&s3, CAROL, BOB), 1);
    assert_int_equal(f->t.count, 0);
    assert_null(f->t.oldest);
    assert_int_equal(typing_next_expiry(&f->t), UINT64_MAX);
}

static void test_forget_null_callback(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(start(f, BOB, LOBBY, 0), 1);
    assert_int_equal(start(f, CAROL, DEV, 0), 1);
    typing_forget(&f->t, LOBBY, NULL, NULL);
    assert_int_equal(f->t.count, 1);
    assert_ptr_equal(f->t.oldest->who, CAROL);
    typing_forget(&f->t, LOBBY, NULL, NULL); /* nothing left to forget */
    assert_int_equal(f->t.count, 1);

    /* Forgotten entries can start again. */
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
    assert_int_equal(f->t.count, 2);
}

static void test_clear(void **state)
{
    struct fixture *f = *state;
    static int rooms[10];
    for (int i = 0; i < 10; i++) {
        assert_int_equal(start(f, ALICE, &rooms[i], 0), 1);
        f->now += 10;
    }
    typing_clear(&f->t);
    assert_int_equal(f->t.count, 0);
    assert_null(f->t.oldest);
    assert_null(f->t.by_key);
    assert_int_equal(typing_next_expiry(&f->t), UINT64_MAX);
    typing_clear(&f->t); /* twice: harmless */
    assert_int_equal(start(f, ALICE, LOBBY, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_then_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_after_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_moves_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_after_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_by_who_and_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_null_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
