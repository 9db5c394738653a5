/* Tests for broker/rooms.c: rooms, membership on both sides (the room's table
 * and the member's list of rooms), per-gateway member counts and seq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rooms.h"

#define NWHO 8
#define NGW 6
#define RING_CAP 50

/* Members (sessions) and gateways are opaque pointers: any distinct addresses
 * will do. Each member has its own list of rooms, as a session does. */
struct fixture {
    struct rooms rs;
    int who[NWHO];
    int gw[NGW];
    struct member *who_rooms[NWHO];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    rooms_init(&f->rs, RING_CAP);
    *state = f;
    return 0;
}

/* As the broker does: members' own lists first, then the rooms. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < NWHO; i++) HASH_CLEAR(hh_who, f->who_rooms[i]);
    rooms_clear(&f->rs);
    free(f);
    return 0;
}

static int add(struct fixture *f, struct room *r, int who, int gw)
{
    return rooms_add(r, &f->who[who], &f->gw[gw], &f->who_rooms[who]);
}

static int del(struct fixture *f, struct room *r, int who, int gw)
{
    return rooms_remove(r, &f->who[who], &f->gw[gw], &f->who_rooms[who]);
}

/* r's member count on gateway gw, or -1 when r has no entry for gw. */
static long gw_members(struct fixture *f, const struct room *r, int gw)
{
    long found = -1;
    for (size_t i = 0; i < r->ngws; i++) {
        if (r->gws[i].gw != &f->gw[gw]) continue;
        assert_int_equal(found, -1); /* at most one entry per gateway */
        found = r->gws[i].members;
    }
    return found;
}

/* The entries of r->gws: no zero counts, and they add up to r->count. */
static void check_gws(const struct room *r)
{
    uint64_t sum = 0;
    assert_true(r->ngws <= r->capgws);
    for (size_t i = 0; i < r->ngws; i++) {
        assert_true(r->gws[i].members > 0);
        sum += r->gws[i].members;
    }
    assert_int_equal(sum, r->count);
}

static struct member *in_who_rooms(struct fixture *f, int who, struct room *r)
{
    struct member *m;
    HASH_FIND(hh_who, f->who_rooms[who], &r, sizeof r, m);
    return m;
}

static void test_create_find(void **state)
{
    struct fixture *f = *state;
    assert_null(rooms_find(&f->rs, "#lobby"));

    char name[] = "#lobby";
    struct room *r = rooms_get(&f->rs, name);
    assert_non_null(r);
    name[1] = 'x'; /* the room keeps its own copy of the name */
    assert_string_equal(r->name, "#lobby");
    assert_ptr_equal(rooms_find(&f->rs, "#lobby"), r);
    assert_null(rooms_find(&f->rs, "#xobby"));
    assert_ptr_equal(rooms_get(&f->rs, "#lobby"), r); /* found, not created again */

    assert_int_equal(r->seq, 0);
    assert_int_equal(r->count, 0);
    assert_null(r->members);
    assert_int_equal(r->ngws, 0);
    assert_int_equal(r->ring.cap, RING_CAP);
    assert_int_equal(r->ring.size, 0);

    struct room *r2 = rooms_get(&f->rs, "#lobby2");
    struct room *r3 = rooms_get(&f->rs, "#lob");
    assert_non_null(r2);
    assert_non_null(r3);
    assert_true(r2 != r && r3 != r && r2 != r3);
    assert_ptr_equal(rooms_find(&f->rs, "#lobby"), r);
    assert_ptr_equal(rooms_find(&f->rs, "#lobby2"), r2);
    assert_ptr_equal(rooms_find(&f->rs, "#lob"), r3);
    assert_int_equal(HASH_COUNT(f->rs.by_name), 3);
}

static void test_room_names_case_sensitive(void **state)
{
    /* Room names are lower case by the protocol; the table does not fold. */
    struct fixture *f = *state;
    struct room *r = rooms_get(&f->rs, "dev");
    assert_non_null(r);
    assert_null(rooms_find(&f->rs, "DEV"));
}

static void test_add_remove(void **state)
{
    struct fixture *f = *state;
    struct room *r = rooms_get(&f->rs, "dev");
    assert_non_null(r);
    assert_null(rooms_member(r, &f->who[0]));

    assert_int_equal(add(f, r, 0, 0), 1);
    struct member *m = rooms_member(r, &f->who[0]);
    assert_non_null(m);
    assert_ptr_equal(m->room, r);
    assert_ptr_equal(m->who, &f->who[0]);
    assert_int_equal(r->count, 1);
    assert_ptr_equal(in_who_rooms(f, 0, r), m); /* the same record on both sides */
    assert_int_equal(HASH_CNT(hh_who, f->who_rooms[0]), 1);

    assert_int_equal(add(f, r, 1, 0), 1);
    assert_int_equal(r->count, 2);
    assert_int_equal(HASH_CNT(hh_room, r->members), 2);
    assert_null(f->who_rooms[2]);

    assert_int_equal(del(f, r, 0, 0), 1);
    assert_null(rooms_member(r, &f->who[0]));
    assert_non_null(rooms_member(r, &f->who[1]));
    assert_null(f->who_rooms[0]);
    assert_int_equal(r->count, 1);

    assert_int_equal(del(f, r, 0, 0), 0); /* no longer a member */
    assert_int_equal(del(f, r, 2, 0), 0); /* never a member */
    assert_int_equal(r->count, 1);

    assert_int_equal(del(f, r, 1, 0), 1);
    assert_int_equal(r->count, 0);
    assert_null(r->members);
    assert_null(f->who_rooms[1]);

    /* Rejoining after leaving works. */
    assert_int_equal(add(f, r, 0, 0), 1);
    assert_int_equal(r->count, 1);
    assert_ptr_equal(in_who_rooms(f, 0, r), rooms_member(r, &f->who[0]));
}

static void test_duplicate_add(void **state)
{
    struct fixture *f = *state;
    struct room *r = rooms_get(&f->rs, "dev");
    assert_non_null(r);
    assert_int_equal(add(f, r, 0, 0), 1);
    struct member *m = rooms_member(r, &f->who[0]);
    assert_int_equal(add(f, r, 0, 0), 0);
    assert_int_equal(add(f, r, 0, 1), 0); /* even if claimed from another gateway */
    assert_int_equal(r->count, 1);
    assert_ptr_equal(rooms_member(r, &f->who[0]), m);
    assert_int_equal(HASH_CNT(hh_who, f->who_rooms[0]), 1);
    assert_int_equal(r->ngws, 1);
    assert_int_equal(gw_members(f, r, 0), 1);
    assert_int_equal(gw_members(f, r, 1), -1);
    check_gws(r);
}

static void test_who_rooms_list(void **state)
{
    struct fixture *f = *state;
    struct room *a = rooms_get(&f->rs, "a"), *b = rooms_get(&f->rs, "b"),
                *c = rooms_get(&f->rs, "c");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);

    assert_int_equal(add(f, a, 0, 0), 1);
    assert_int_equal(add(f, b, 0, 0), 1);
    assert_int_equal(add(f, c, 0, 0), 1);
    assert_int_equal(add(f, b, 1, 0), 1);
    assert_int_equal(HASH_CNT(hh_who, f->who_rooms[0]), 3);
    assert_int_equal(HASH_CNT(hh_who, f->who_rooms[1]), 1);

    /* Walking the list yields each room once, each record being who's. */
    int seen_a = 0, seen_b = 0, seen_c = 0;
    struct member *m, *tmp;
    HASH_ITER(hh_who, f->who_rooms[0], m, tmp)
    {
        assert_ptr_equal(m->who, &f->who[0]);
        assert_ptr_equal(rooms_member(m->room, &f->who[0]), m);
        seen_a += m->room == a;
        seen_b += m->room == b;
        seen_c += m->room == c;
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    assert_int_equal(seen_c, 1);

    assert_int_equal(del(f, b, 0, 0), 1);
    assert_int_equal(HASH_CNT(hh_who, f->who_rooms[0]), 2);
    assert_null(in_who_rooms(f, 0, b));
    assert_non_null(in_who_rooms(f, 0, a));
    assert_non_null(in_who_rooms(f, 0, c));
    /* who 1 in b is untouched */
    assert_ptr_equal(in_who_rooms(f, 1, b), rooms_member(b, &f->who[1]));
    assert_int_equal(b->count, 1);

    /* A session leaving: remove it from every room on its list. */
    HASH_ITER(hh_who, f->who_rooms[0], m, tmp)
    {
        assert_int_equal(rooms_remove(m->room, &f->who[0], &f->gw[0], &f->who_rooms[0]), 1);
    }
    assert_null(f->who_rooms[0]);
    assert_int_equal(a->count, 0);
    assert_int_equal(c->count, 0);
    assert_int_equal(a->ngws, 0);
    assert_int_equal(c->ngws, 0);
    assert_ptr_equal(rooms_find(&f->rs, "a"), a); /* rooms stay */
}

static void test_gateway_counts(void **state)
{
    struct fixture *f = *state;
    struct room *r = rooms_get(&f->rs, "dev");
    assert_non_null(r);

    assert_int_equal(add(f, r, 0, 0), 1);
    assert_int_equal(r->ngws, 1);
    assert_int_equal(gw_members(f, r, 0), 1);
    assert_int_equal(add(f, r, 1, 0), 1);
    assert_int_equal(r->ngws, 1);
    assert_int_equal(gw_members(f, r, 0), 2);
    assert_int_equal(add(f, r, 2, 1), 1);
    assert_int_equal(r->ngws, 2);
    assert_int_equal(gw_members(f, r, 1), 1);
    assert_int_equal(add(f, r, 3, 2), 1);
    assert_int_equal(add(f, r, 4, 2), 1);
    assert_int_equal(add(f, r, 5, 2), 1);
    assert_int_equal(r->ngws, 3);
    assert_int_equal(gw_members(f, r, 0), 2);
    assert_int_equal(gw_members(f, r, 1), 1);
    assert_int_equal(gw_members(f, r, 2), 3);
    check_gws(r);

    /* Shrinking: the entry of gateway 0 (the first) goes at 0, the others keep
     * their counts. */
    assert_int_equal(del(f, r, 0, 0), 1);
    assert_int_equal(gw_members(f, r, 0), 1);
    assert_int_equal(r->ngws, 3);
    assert_int_equal(del(f, r, 1, 0), 1);
    assert_int_equal(gw_members(f, r, 0), -1);
    assert_int_equal(r->ngws, 2);
    assert_int_equal(gw_members(f, r, 1), 1);
    assert_int_equal(gw_members(f, r, 2), 3);
    check_gws(r);

    /* A removal that is not a membership does not touch the counts. */
    assert_int_equal(del(f, r, 0, 2), 0);
    assert_int_equal(gw_members(f, r, 2), 3);
    check_gws(r);

    assert_int_equal(del(f, r, 4, 2), 1);
    assert_int_equal(gw_members(f, r, 2), 2);
    assert_int_equal(del(f, r, 2, 1), 1);
    assert_int_equal(gw_members(f, r, 1), -1);
    assert_int_equal(r->ngws, 1);
    check_gws(r);
    assert_int_equal(del(f, r, 3, 2), 1);
    assert_int_equal(del(f, r, 5, 2), 1);
    assert_int_equal(r->ngws, 0);
    assert_int_equal(r->count, 0);

    /* Growing again from nothing. */
    assert_int_equal(add(f, r, 5, 1), 1);
    assert_int_equal(r->ngws, 1);
    assert_int_equal(gw_members(f, r, 1), 1);
    check_gws(r);
}

static void test_gateway_counts_many(void **state)
{
    /* More gateways than the initial capacity, joined and left in an
     * interleaved order; the counts always match the membership. */
    struct fixture *f = *state;
    struct room *r = rooms_get(&f->rs, "big");
    assert_non_null(r);
    long expect[NGW] = {0};
    int on[NWHO]; /* the gateway each member joined from, or -1 */
    for (int w = 0; w < NWHO; w++) on[w] = -1;

    uint32_t x = 12345;
    for (int step = 0; step < 2000; step++) {
        x = x * 1103515245u + 12345u;
        int w = (int)((x >> 16) % NWHO);
        if (on[w] < 0) {
            int g = (int)((x >> 8) % NGW);
            assert_int_equal(add(f, r, w, g), 1);
            on[w] = g;
            expect[g]++;
        } else {
            assert_int_equal(del(f, r, w, on[w]), 1);
            expect[on[w]]--;
            on[w] = -1;
        }
        size_t ngws = 0;
        uint32_t count = 0;
        for (int g = 0; g < NGW; g++) {
            assert_int_equal(gw_members(f, r, g), expect[g] ? expect[g] : -1);
            ngws += expect[g] > 0;
            count += (uint32_t)expect[g];
        }
        assert_int_equal(r->ngws, ngws);
        assert_int_equal(r->count, count);
        check_gws(r);
    }
}

static void test_seq(void **state)
{
    struct fixture *f = *state;
    struct room *r = rooms_get(&f->rs, "dev");
    struct room *other = rooms_get(&f->rs, "other");
    assert_non_null(r);
    assert_non_null(other);

    assert_int_equal(add(f, r, 0, 0), 1);
    assert_int_equal(rooms_next_seq(r), 1);
    assert_int_equal(r->seq, 1);
    assert_int_equal(rooms_next_seq(r), 2);
    assert_int_equal(rooms_next_seq(r), 3);
    assert_int_equal(r->seq, 3);
    assert_int_equal(other->seq, 0); /* each room counts on its own */
    assert_int_equal(rooms_next_seq(other), 1);

    /* The room empties; it is not deleted and its seq is not reused. */
    assert_int_equal(del(f, r, 0, 0), 1);
    assert_int_equal(r->count, 0);
    assert_ptr_equal(rooms_find(&f->rs, "dev"), r);
    assert_ptr_equal(rooms_get(&f->rs, "dev"), r);
    assert_int_equal(r->seq, 3);

    assert_int_equal(add(f, r, 1, 1), 1);
    assert_int_equal(rooms_next_seq(r), 4);
    assert_int_equal(r->seq, 4);
    assert_int_equal(del(f, r, 1, 1), 1);
    assert_int_equal(rooms_next_seq(r), 5);
}

static void test_clear_with_members_and_messages(void **state)
{
    /* rooms_clear frees members, rings and names (ASan reports leaks). */
    struct fixture *f = *state;
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "room%d", i);
        struct room *r = rooms_get(&f->rs, name);
        assert_non_null(r);
        for (int w = 0; w < NWHO; w += 1 + i % 3) assert_int_equal(add(f, r, w, w % NGW), 1);
        for (int k = 0; k < 60; k++) {
            uint64_t seq = rooms_next_seq(r);
            assert_int_equal(ring_push(&r->ring, seq, 1000 + seq, "alice", "hello"), 0);
        }
        assert_int_equal(r->ring.size, RING_CAP);
    }
    for (int w = 0; w < NWHO; w++) HASH_CLEAR(hh_who, f->who_rooms[w]);
    rooms_clear(&f->rs);
    assert_null(f->rs.by_name);
    assert_null(rooms_find(&f->rs, "room0"));
    rooms_clear(&f->rs); /* twice: harmless */

    /* usable again, with the same ring cap */
    struct room *r = rooms_get(&f->rs, "room0");
    assert_non_null(r);
    assert_int_equal(r->seq, 0);
    assert_int_equal(r->ring.cap, RING_CAP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_find, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_names_case_sensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_add, setup, teardown),
        cmocka_unit_test_setup_teardown(test_who_rooms_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gateway_counts_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_with_members_and_messages, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
