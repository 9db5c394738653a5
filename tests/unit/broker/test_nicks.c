/* Tests for broker/nicks.c: claim, release and lookup, with nicks compared
 * case-insensitively (ASCII folding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nicks.h"

/* Owners are opaque pointers (sessions in the broker); any distinct
 * addresses will do. */
static int alice_s, bob_s, carol_s;
#define ALICE ((void *)&alice_s)
#define BOB ((void *)&bob_s)
#define CAROL ((void *)&carol_s)

static int setup(void **state)
{
    struct nicks *n = calloc(1, sizeof *n);
    if (!n) return -1;
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct nicks *n = *state;
    nicks_clear(n);
    free(n);
    return 0;
}

static void test_empty(void **state)
{
    struct nicks *n = *state;
    assert_null(nicks_owner(n, "alice"));
    assert_int_equal(n->count, 0);
    nicks_release(n, "alice", ALICE); /* releasing what nobody holds is harmless */
    assert_int_equal(n->count, 0);
}

static void test_claim_owner_release(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "alice", ALICE), 0);
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);
    assert_int_equal(n->count, 1);

    assert_int_equal(nicks_claim(n, "bob", BOB), 0);
    assert_ptr_equal(nicks_owner(n, "bob"), BOB);
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);
    assert_int_equal(n->count, 2);

    nicks_release(n, "alice", ALICE);
    assert_null(nicks_owner(n, "alice"));
    assert_ptr_equal(nicks_owner(n, "bob"), BOB);
    assert_int_equal(n->count, 1);

    /* A released nick is free for anyone. */
    assert_int_equal(nicks_claim(n, "alice", CAROL), 0);
    assert_ptr_equal(nicks_owner(n, "alice"), CAROL);
    assert_int_equal(n->count, 2);
}

static void test_nick_is_copied(void **state)
{
    struct nicks *n = *state;
    char buf[] = "alice";
    assert_int_equal(nicks_claim(n, buf, ALICE), 0);
    buf[0] = 'x';
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);
    assert_null(nicks_owner(n, "xlice"));
}

static void test_case_insensitive_uniqueness(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "Alice", ALICE), 0);
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);
    assert_ptr_equal(nicks_owner(n, "ALICE"), ALICE);
    assert_ptr_equal(nicks_owner(n, "aLiCe"), ALICE);

    assert_int_equal(nicks_claim(n, "alice", BOB), -1);
    assert_int_equal(nicks_claim(n, "ALICE", BOB), -1);
    assert_int_equal(nicks_claim(n, "Alice", BOB), -1);
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);
    assert_int_equal(n->count, 1);

    /* Only letters fold: the other nick characters stay distinct. */
    assert_int_equal(nicks_claim(n, "a_b", ALICE), 0);
    assert_int_equal(nicks_claim(n, "a-b", BOB), 0);
    assert_int_equal(nicks_claim(n, "a.b", CAROL), 0);
    assert_int_equal(nicks_claim(n, "A_B9", BOB), 0);
    assert_int_equal(nicks_claim(n, "a_b9", CAROL), -1);
    assert_ptr_equal(nicks_owner(n, "a_b"), ALICE);
    assert_ptr_equal(nicks_owner(n, "a-b"), BOB);
    assert_ptr_equal(nicks_owner(n, "a.b"), CAROL);
    assert_ptr_equal(nicks_owner(n, "a_B9"), BOB);
    assert_int_equal(n->count, 5);
}

static void test_prefixes_are_distinct(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "al", ALICE), 0);
    assert_int_equal(nicks_claim(n, "alice", BOB), 0);
    assert_int_equal(nicks_claim(n, "alice2", CAROL), 0);
    assert_ptr_equal(nicks_owner(n, "al"), ALICE);
    assert_ptr_equal(nicks_owner(n, "alice"), BOB);
    assert_ptr_equal(nicks_owner(n, "alice2"), CAROL);
    assert_null(nicks_owner(n, "a"));
    assert_null(nicks_owner(n, "alic"));
    assert_int_equal(n->count, 3);
}

static void test_reclaim_by_same_owner(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "alice", ALICE), 0);
    assert_int_equal(nicks_claim(n, "alice", ALICE), 0);
    assert_int_equal(nicks_claim(n, "ALICE", ALICE), 0); /* another spelling, same nick */
    assert_int_equal(n->count, 1);
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);

    /* One release frees it: claims are not reference-counted. */
    nicks_release(n, "alice", ALICE);
    assert_null(nicks_owner(n, "alice"));
    assert_int_equal(n->count, 0);
}

static void test_one_owner_many_nicks(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "alice", ALICE), 0);
    assert_int_equal(nicks_claim(n, "alice_away", ALICE), 0);
    assert_int_equal(n->count, 2);
    nicks_release(n, "alice", ALICE);
    assert_null(nicks_owner(n, "alice"));
    assert_ptr_equal(nicks_owner(n, "alice_away"), ALICE);
    assert_int_equal(n->count, 1);
}

static void test_release_by_non_owner_is_noop(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "alice", ALICE), 0);
    nicks_release(n, "alice", BOB);
    nicks_release(n, "ALICE", BOB);
    nicks_release(n, "alice", NULL);
    assert_ptr_equal(nicks_owner(n, "alice"), ALICE);
    assert_int_equal(n->count, 1);
    assert_int_equal(nicks_claim(n, "alice", BOB), -1);
}

static void test_release_other_spelling(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "Alice", ALICE), 0);
    nicks_release(n, "aLICE", ALICE);
    assert_null(nicks_owner(n, "Alice"));
    assert_int_equal(n->count, 0);
    nicks_release(n, "Alice", ALICE); /* twice: no-op, count stays 0 */
    assert_int_equal(n->count, 0);
}

static void test_count_many(void **state)
{
    struct nicks *n = *state;
    char nick[32];
    static int owners[500];
    for (int i = 0; i < 500; i++) {
        snprintf(nick, sizeof nick, "User%d", i);
        assert_int_equal(nicks_claim(n, nick, &owners[i]), 0);
    }
    assert_int_equal(n->count, 500);
    for (int i = 0; i < 500; i++) {
        snprintf(nick, sizeof nick, "uSER%d", i);
        assert_ptr_equal(nicks_owner(n, nick), &owners[i]);
        assert_int_equal(nicks_claim(n, nick, &owners[(i + 1) % 500]), -1);
    }
    assert_int_equal(n->count, 500);
    for (int i = 0; i < 500; i += 2) {
        snprintf(nick, sizeof nick, "user%d", i);
        nicks_release(n, nick, &owners[i]);
        nicks_release(n, nick, &owners[i]);
    }
    assert_int_equal(n->count, 250);
    for (int i = 0; i < 500; i++) {
        snprintf(nick, sizeof nick, "user%d", i);
        if (i % 2)
            assert_ptr_equal(nicks_owner(n, nick), &owners[i]);
        else
            assert_null(nicks_owner(n, nick));
    }
}

static void test_clear(void **state)
{
    struct nicks *n = *state;
    assert_int_equal(nicks_claim(n, "alice", ALICE), 0);
    assert_int_equal(nicks_claim(n, "bob", BOB), 0);
    nicks_clear(n);
    assert_int_equal(n->count, 0);
    assert_null(nicks_owner(n, "alice"));
    assert_null(nicks_owner(n, "bob"));
    nicks_clear(n); /* clearing an empty table is harmless */
    assert_int_equal(n->count, 0);
    /* and the table is usable again */
    assert_int_equal(nicks_claim(n, "alice", BOB), 0);
    assert_ptr_equal(nicks_owner(n, "alice"), BOB);
    assert_int_equal(n->count, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_owner_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nick_is_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_insensitive_uniqueness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefixes_are_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reclaim_by_same_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_owner_many_nicks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_by_non_owner_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_other_spelling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
