/* Tests for broker/ring.c: the in-memory history of one room, checked by hand
 * at its edges (wrap-around, growth, cap 0) and against a simple model for a
 * long random run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ring.h"

static int setup(void **state)
{
    struct ring *r = calloc(1, sizeof *r);
    if (!r) return -1;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct ring *r = *state;
    ring_clear(r);
    free(r);
    return 0;
}

/* The text and sender stored for seq, so any message can be checked later.
 * Lengths vary with seq. */
static void text_of(uint64_t seq, char *buf, size_t size)
{
    snprintf(buf, size, "message %llu %.*s", (unsigned long long)seq, (int)(seq % 23),
             "abcdefghijklmnopqrstuvwxyz");
}

static void from_of(uint64_t seq, char *buf, size_t size)
{
    snprintf(buf, size, "user%llu", (unsigned long long)(seq % 7));
}

static void push(struct ring *r, uint64_t seq)
{
    char text[64], from[32];
    text_of(seq, text, sizeof text);
    from_of(seq, from, sizeof from);
    assert_int_equal(ring_push(r, seq, seq * 1000, from, text), 0);
}

static void check_msg(const struct ring *r, uint64_t seq)
{
    char text[64], from[32];
    text_of(seq, text, sizeof text);
    from_of(seq, from, sizeof from);
    const struct stored_msg *m = ring_get(r, seq);
    assert_non_null(m);
    assert_int_equal(m->seq, seq);
    assert_int_equal(m->ts, seq * 1000);
    assert_string_equal(m->text, text);
    assert_string_equal(m->from, from);
}

/* The ring holds exactly [first, last]. */
static void check_range(const struct ring *r, uint64_t first, uint64_t last)
{
    assert_int_equal(r->size, last - first + 1);
    assert_int_equal(ring_first_seq(r), first);
    assert_int_equal(ring_last_seq(r), last);
    for (uint64_t s = first; s <= last; s++) check_msg(r, s);
    assert_null(ring_get(r, first - 1));
    assert_null(ring_get(r, last + 1));
}

/* ring_before returns count and, when count > 0, [from, to]; when count is 0
 * from and to are left as they were. */
static void check_before(const struct ring *r, uint64_t before, size_t limit, size_t count,
                         uint64_t from, uint64_t to)
{
    uint64_t f = 0xdead, t = 0xbeef;
    size_t n = ring_before(r, before, limit, &f, &t);
    assert_int_equal(n, count);
    if (count) {
        assert_int_equal(f, from);
        assert_int_equal(t, to);
        assert_int_equal(t - f + 1, n);
    } else {
        assert_int_equal(f, 0xdead);
        assert_int_equal(t, 0xbeef);
    }
}

static void test_empty(void **state)
{
    struct ring *r = *state;
    ring_init(r, 10);
    assert_int_equal(r->size, 0);
    assert_int_equal(ring_first_seq(r), 0);
    assert_int_equal(ring_last_seq(r), 0);
    assert_null(ring_get(r, 0));
    assert_null(ring_get(r, 1));
    check_before(r, 0, 10, 0, 0, 0);
    check_before(r, 5, 10, 0, 0, 0);
    assert_null(r->slots); /* nothing allocated before the first push */
}

static void test_push_get(void **state)
{
    struct ring *r = *state;
    ring_init(r, 10);
    char text[] = "hello", from[] = "alice";
    assert_int_equal(ring_push(r, 1, 111, from, text), 0);
    text[0] = 'j'; /* the ring holds copies */
    from[0] = 'e';
    assert_int_equal(ring_push(r, 2, 222, "bob", ""), 0);
    assert_int_equal(ring_push(r, 3, 333, "", "x y z"), 0);

    assert_int_equal(r->size, 3);
    assert_int_equal(ring_first_seq(r), 1);
    assert_int_equal(ring_last_seq(r), 3);

    const struct stored_msg *m = ring_get(r, 1);
    assert_non_null(m);
    assert_int_equal(m->seq, 1);
    assert_int_equal(m->ts, 111);
    assert_string_equal(m->text, "hello");
    assert_string_equal(m->from, "alice");
    m = ring_get(r, 2);
    assert_non_null(m);
    assert_int_equal(m->seq, 2);
    assert_int_equal(m->ts, 222);
    assert_string_equal(m->text, "");
    assert_string_equal(m->from, "bob");
    m = ring_get(r, 3);
    assert_non_null(m);
    assert_int_equal(m->seq, 3);
    assert_int_equal(m->ts, 333);
    assert_string_equal(m->text, "x y z");
    assert_string_equal(m->from, "");

    assert_null(ring_get(r, 0));
    assert_null(ring_get(r, 4));
    assert_null(ring_get(r, UINT64_MAX));
}

static void test_starts_at_any_seq(void **state)
{
    /* A room's first message in memory need not be seq 1 (e.g. after a
     * restart with history on disk). */
    struct ring *r = *state;
    ring_init(r, 4);
    for (uint64_t s = 1000000; s <= 1000005; s++) push(r, s);
    check_range(r, 1000002, 1000005);
    assert_null(ring_get(r, 1));
    assert_null(ring_get(r, 2));
    check_before(r, 1000004, 10, 2, 1000002, 1000003);
}

static void test_wrap_around(void **state)
{
    struct ring *r = *state;
    ring_init(r, 5);
    for (uint64_t s = 1; s <= 23; s++) {
        push(r, s);
        check_range(r, s > 5 ? s - 4 : 1, s);
    }
    assert_int_equal(r->alloc, 5); /* a small cap is allocated exactly */
}

static void test_growth(void **state)
{
    /* Slots start at 16 and double up to cap; old messages survive each
     * reallocation in order. */
    struct ring *r = *state;
    ring_init(r, 100);
    for (uint64_t s = 1; s <= 250; s++) {
        push(r, s);
        size_t want = s <= 16 ? 16 : s <= 32 ? 32 : s <= 64 ? 64 : 100;
        assert_int_equal(r->alloc, want);
        assert_true(r->size <= r->alloc);
        if (s == 16 || s == 17 || s == 33 || s == 65 || s == 100 || s == 101 || s == 250)
            check_range(r, s > 100 ? s - 99 : 1, s);
    }
    check_range(r, 151, 250);
}

static void test_growth_odd_caps(void **state)
{
    struct ring *r = *state;
    static const size_t caps[] = {1, 2, 15, 16, 17, 31, 33, 64, 65};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t cap = caps[i];
        ring_init(r, cap);
        for (uint64_t s = 1; s <= 3 * cap + 5; s++) {
            push(r, s);
            assert_true(r->alloc <= cap);
            check_range(r, s > cap ? s - cap + 1 : 1, s);
        }
        assert_int_equal(r->alloc, cap);
        ring_clear(r);
    }
}

static void test_before(void **state)
{
    struct ring *r = *state;
    ring_init(r, 10);
    for (uint64_t s = 1; s <= 20; s++) push(r, s); /* holds 11..20 */
    check_range(r, 11, 20);

    /* before == 0: the newest `limit` messages */
    check_before(r, 0, 3, 3, 18, 20);
    check_before(r, 0, 1, 1, 20, 20);
    check_before(r, 0, 10, 10, 11, 20);
    check_before(r, 0, 1000, 10, 11, 20);
    check_before(r, 0, SIZE_MAX, 10, 11, 20);

    /* limit 0: nothing, whatever before is */
    check_before(r, 0, 0, 0, 0, 0);
    check_before(r, 15, 0, 0, 0, 0);

    /* before inside the range */
    check_before(r, 15, 3, 3, 12, 14);
    check_before(r, 15, 4, 4, 11, 14);
    check_before(r, 15, 100, 4, 11, 14);
    check_before(r, 12, 5, 1, 11, 11);
    check_before(r, 20, 2, 2, 18, 19);
    check_before(r, 20, 100, 9, 11, 19);

    /* before at or below the oldest: nothing held is older */
    check_before(r, 11, 5, 0, 0, 0);
    check_before(r, 10, 5, 0, 0, 0);
    check_before(r, 1, 5, 0, 0, 0);

    /* before past the newest: as unbounded */
    check_before(r, 21, 3, 3, 18, 20);
    check_before(r, 22, 100, 10, 11, 20);
    check_before(r, UINT64_MAX, 2, 2, 19, 20);
}

static void test_before_one_message(void **state)
{
    struct ring *r = *state;
    ring_init(r, 10);
    push(r, 7);
    check_before(r, 0, 5, 1, 7, 7);
    check_before(r, 8, 5, 1, 7, 7);
    check_before(r, 7, 5, 0, 0, 0);
    check_before(r, 6, 5, 0, 0, 0);
}

static void test_cap_zero(void **state)
{
    struct ring *r = *state;
    ring_init(r, 0);
    for (uint64_t s = 1; s <= 5; s++) assert_int_equal(ring_push(r, s, s, "alice", "dropped"), 0);
    assert_int_equal(r->size, 0);
    assert_null(r->slots);
    assert_int_equal(ring_first_seq(r), 0);
    assert_int_equal(ring_last_seq(r), 0);
    assert_null(ring_get(r, 1));
    assert_null(ring_get(r, 5));
    check_before(r, 0, 10, 0, 0, 0);
    check_before(r, 3, 10, 0, 0, 0);
}

static void test_clear_reuse(void **state)
{
    struct ring *r = *state;
    ring_init(r, 8);
    for (uint64_t s = 1; s <= 30; s++) push(r, s);
    ring_clear(r);
    assert_int_equal(r->cap, 8); /* the cap survives */
    assert_int_equal(r->size, 0);
    assert_null(r->slots);
    assert_int_equal(ring_first_seq(r), 0);
    assert_null(ring_get(r, 30));
    ring_clear(r); /* twice: harmless */

    for (uint64_t s = 100; s <= 110; s++) push(r, s);
    check_range(r, 103, 110);
}

/* xorshift64: deterministic, so a failure reproduces. */
static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Compares the ring against a model: after pushing first0..last it must hold
 * [max(first0, last - cap + 1), last]. */
static void run_model(struct ring *r, size_t cap, uint64_t first0, unsigned pushes, uint64_t *x)
{
    ring_init(r, cap);
    uint64_t last = first0 - 1;
    for (unsigned i = 0; i < pushes; i++) {
        push(r, ++last);
        uint64_t first = last - first0 + 1 > cap ? last - cap + 1 : first0;
        size_t size = (size_t)(last - first + 1);
        assert_int_equal(r->size, size);
        assert_int_equal(ring_first_seq(r), first);
        assert_int_equal(ring_last_seq(r), last);

        /* a few random reads around and inside the held range */
        for (int k = 0; k < 4; k++) {
            uint64_t span = size + 4;
            uint64_t s = first - 2 + rnd(x) % span;
            if (s >= first && s <= last)
                check_msg(r, s);
            else
                assert_null(ring_get(r, s));
        }

        /* a few random history queries */
        for (int k = 0; k < 4; k++) {
            uint64_t before = rnd(x) % 4 == 0 ? 0 : first - 2 + rnd(x) % (size + 5);
            size_t limit = (size_t)(rnd(x) % (cap + 3));
            uint64_t hi = before == 0 || before - 1 > last ? last : before - 1;
            if (limit == 0 || (before != 0 && before <= first)) {
                check_before(r, before, limit, 0, 0, 0);
                continue;
            }
            uint64_t n = hi - first + 1;
            if (n > limit) n = limit;
            check_before(r, before, limit, (size_t)n, hi - n + 1, hi);
        }
    }
    check_range(r, last - r->size + 1, last);
    ring_clear(r);
}

static void test_random_model(void **state)
{
    struct ring *r = *state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    static const size_t caps[] = {1, 3, 16, 17, 40, 100, 500};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        uint64_t first0 = 1 + rnd(&x) % 3 * (rnd(&x) % 100000);
        unsigned pushes = (unsigned)(caps[i] * 3 + rnd(&x) % 200);
        run_model(r, caps[i], first0, pushes, &x);
    }
    /* and a long run with a random cap */
    run_model(r, (size_t)(50 + rnd(&x) % 200), 1, 20000, &x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starts_at_any_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_around, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_odd_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_one_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
