/* Tests for broker/grace.c: sessions held for a resume, expiring oldest
 * first, driven by an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grace.h"

#define PERIOD 30000

/* Owners are opaque pointers: any distinct addresses will do. */
static int alice_s, bob_s, carol_s;
#define ALICE ((void *)&alice_s)
#define BOB ((void *)&bob_s)
#define CAROL ((void *)&carol_s)

struct fixture {
    struct grace g;
    struct grace_entry alice, bob, carol; /* embedded in their owners in the broker */
    uint64_t now;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    grace_init(&f->g, PERIOD);
    f->now = 1700000000000ull; /* a wall-clock-like start, far from 0 */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

/* Takes the entry expired at now, checking its owner, and releases it. */
static void expect_expired(struct fixture *f, void *owner)
{
    struct grace_entry *e = grace_expired(&f->g, f->now);
    assert_non_null(e);
    assert_ptr_equal(e->owner, owner);
    grace_release(&f->g, e);
    assert_false(grace_held(e));
}

static void test_empty(void **state)
{
    struct fixture *f = *state;
    assert_null(grace_expired(&f->g, f->now));
    assert_int_equal(grace_next_expiry(&f->g), UINT64_MAX);
    assert_int_equal(f->g.count, 0);
    assert_false(grace_held(&f->alice));
}

static void test_hold_expires_after_period(void **state)
{
    struct fixture *f = *state;
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    assert_true(grace_held(&f->alice));
    assert_int_equal(f->g.count, 1);
    assert_int_equal(grace_next_expiry(&f->g), f->now + PERIOD);
    f->now += PERIOD - 1;
    assert_null(grace_expired(&f->g, f->now));
    f->now += 1; /* exactly the period: over */
    expect_expired(f, ALICE);
    assert_int_equal(f->g.count, 0);
    assert_int_equal(grace_next_expiry(&f->g), UINT64_MAX);
}

static void test_expiry_in_hold_order(void **state)
{
    struct fixture *f = *state;
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    f->now += 100;
    grace_hold(&f->g, &f->bob, BOB, f->now);
    f->now += 100;
    grace_hold(&f->g, &f->carol, CAROL, f->now);
    assert_int_equal(f->g.count, 3);
    f->now += PERIOD - 100; /* alice and bob are over, carol is not */
    expect_expired(f, ALICE);
    expect_expired(f, BOB);
    assert_null(grace_expired(&f->g, f->now));
    assert_int_equal(grace_next_expiry(&f->g), f->now + 100);
    f->now += 100;
    expect_expired(f, CAROL);
    assert_null(grace_expired(&f->g, f->now));
}

static void test_release_resumes(void **state)
{
    struct fixture *f = *state;
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    grace_hold(&f->g, &f->bob, BOB, f->now + 10);
    grace_hold(&f->g, &f->carol, CAROL, f->now + 20);
    grace_release(&f->g, &f->bob); /* from the middle */
    assert_false(grace_held(&f->bob));
    assert_int_equal(f->g.count, 2);
    grace_release(&f->g, &f->alice); /* the head */
    assert_int_equal(grace_next_expiry(&f->g), f->now + 20 + PERIOD);
    f->now += 20 + PERIOD;
    expect_expired(f, CAROL);
    assert_null(f->g.oldest);
}

static void test_release_twice_and_unheld(void **state)
{
    struct fixture *f = *state;
    grace_release(&f->g, &f->alice); /* never held: nothing */
    assert_int_equal(f->g.count, 0);
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    grace_release(&f->g, &f->alice);
    grace_release(&f->g, &f->alice); /* twice: harmless */
    assert_int_equal(f->g.count, 0);
    assert_null(f->g.oldest);
}

static void test_hold_again_after_release(void **state)
{
    /* A session detached, resumed, and detached again gets a full new period. */
    struct fixture *f = *state;
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    grace_hold(&f->g, &f->bob, BOB, f->now + 5);
    f->now += 1000;
    grace_release(&f->g, &f->alice);
    f->now += 1000;
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    assert_int_equal(f->alice.expires_ms, f->now + PERIOD);
    f->now += PERIOD - 2000 + 5;
    expect_expired(f, BOB);
    assert_null(grace_expired(&f->g, f->now));
    f->now += 2000;
    expect_expired(f, ALICE);
}

static void test_many(void **state)
{
    struct fixture *f = *state;
    enum { N = 1000 };
    struct grace_entry *e = calloc(N, sizeof *e);
    assert_non_null(e);
    for (int i = 0; i < N; i++) grace_hold(&f->g, &e[i], &e[i], f->now + (uint64_t)i);
    for (int i = 0; i < N; i += 2) grace_release(&f->g, &e[i]); /* every other one resumes */
    assert_int_equal(f->g.count, N / 2);
    f->now += PERIOD + N;
    for (int i = 1; i < N; i += 2) expect_expired(f, &e[i]);
    assert_null(grace_expired(&f->g, f->now));
    assert_int_equal(f->g.count, 0);
    free(e);
}

static void test_period_zero(void **state)
{
    struct fixture *f = *state;
    grace_init(&f->g, 0);
    grace_hold(&f->g, &f->alice, ALICE, f->now);
    expect_expired(f, ALICE); /* over at once */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_expires_after_period, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_in_hold_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_twice_and_unheld, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_again_after_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_period_zero, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
