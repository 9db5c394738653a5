"""join / leave / presence, room names, the per-session room limit."""

import asyncio
import time

import pytest

from conftest import MAX_ROOM, MAX_ROOMS, Chat, cluster_lifetime


async def test_join_new_room(chat):
    a = await chat.user("A")
    room = chat.room()
    j = await a.request({"type": "join", "room": room, "id": "j1"}, "joined")
    assert j == {"type": "joined", "room": room, "members": [a.nick], "seq": 0, "id": "j1"}


async def test_join_existing_room_lists_members_and_sends_presence(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    j = await b.join(room)
    assert sorted(j["members"]) == sorted([a.nick, b.nick])
    assert j["seq"] == 0
    p = await a.recv_type("presence")
    assert p == {"type": "presence", "room": room, "nick": b.nick, "event": "join", "count": 2}


async def test_presence_reaches_members_on_both_gateways(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    c = await chat.user("A")
    room = await chat.together(chat.room(), a, b)
    await c.join(room)
    for other in (a, b):
        p = await other.recv_type("presence")
        assert p == {"type": "presence", "room": room, "nick": c.nick, "event": "join",
                     "count": 3}


async def test_joiner_never_gets_own_presence(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.expect_nothing(300)
    await b.join(room)
    await a.recv_type("presence")
    await b.expect_nothing(500)


async def test_leave(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    r = await b.request({"type": "leave", "room": room, "id": "l1"}, "left")
    assert r == {"type": "left", "room": room, "id": "l1"}
    p = await a.recv_type("presence")
    assert p == {"type": "presence", "room": room, "nick": b.nick, "event": "leave", "count": 1}
    await b.expect_nothing(300)
    w = await a.request({"type": "who", "room": room}, "who")
    assert w["members"] == [a.nick]


async def test_leave_room_not_joined_is_not_in_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    # an existing room b is not in
    await b.expect_error({"type": "leave", "room": room, "id": "l2"}, "not_in_room")
    # a room that never existed
    await b.expect_error({"type": "leave", "room": chat.room(), "id": "l3"}, "not_in_room")
    await a.expect_nothing(300)


async def test_leave_twice_is_not_in_room(chat):
    a = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.leave(room)
    await a.expect_error({"type": "leave", "room": room}, "not_in_room")


async def test_rejoin_same_room_answers_joined_without_presence(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await a.msg(room, "one")
    await b.recv_type("msg")
    j = await b.request({"type": "join", "room": room, "id": "again"}, "joined")
    assert j["room"] == room and j["id"] == "again" and j["seq"] == 1
    assert sorted(j["members"]) == sorted([a.nick, b.nick])
    await a.expect_nothing(500)
    await b.expect_nothing(200)


async def test_rejoin_does_not_count_twice(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    c = await chat.user("A")
    room = await chat.together(chat.room(), a, b)
    await b.join(room)
    await c.join(room)
    for other in (a, b):
        p = await other.recv_type("presence")
        assert p["nick"] == c.nick and p["count"] == 3, p
    await b.leave(room)
    for other in (a, c):
        p = await other.recv_type("presence")
        assert p["event"] == "leave" and p["nick"] == b.nick and p["count"] == 2, p
    # one leave was enough: b is out
    await b.expect_error({"type": "leave", "room": room}, "not_in_room")


@pytest.mark.parametrize("room", [
    "a", "x" * MAX_ROOM, "#general", "a.b_c-d#9", "0123456789",
], ids=["one", "64chars", "hash", "allchars", "digits"])
async def test_valid_room_names(chat, room):
    # each name is used by this test only, and every module has its own cluster
    a = await chat.user("B")
    j = await a.join(room)
    assert j["members"] == [a.nick]


@pytest.mark.parametrize("room", [
    "", "General", "with space", "x" * (MAX_ROOM + 1), "caf\u00e9", "room!", "a/b", "tab\t",
], ids=["empty", "upper", "space", "65chars", "accent", "bang", "slash", "tab"])
async def test_join_room_invalid(chat, room):
    a = await chat.user("A")
    await a.expect_error({"type": "join", "room": room, "id": "ri"}, "room_invalid")


@pytest.mark.parametrize("cmd", [
    {"type": "join"},
    {"type": "join", "room": 5},
    {"type": "join", "room": None},
    {"type": "join", "room": ["x"]},
    {"type": "join", "room": "ok", "since": "3"},
    {"type": "join", "room": "ok", "since": 5.0},
    {"type": "join", "room": "ok", "since": None},
    {"type": "join", "room": "ok", "since": True},
    {"type": "leave"},
    {"type": "leave", "room": None},
    {"type": "leave", "room": 1},
], ids=["join-missing", "join-number", "join-null", "join-array", "since-string",
        "since-5.0", "since-null", "since-bool", "leave-missing", "leave-null", "leave-number"])
async def test_join_leave_wrong_types_are_bad_request(chat, cmd):
    a = await chat.user("B")
    await a.expect_error(dict(cmd, id="bt"), "bad_request")


async def test_too_many_rooms(chat):
    a = await chat.user("A")
    rooms = [chat.room("many") for _ in range(MAX_ROOMS)]
    for i, r in enumerate(rooms):
        await a.send({"type": "join", "room": r, "id": f"j{i}"})
    for i, r in enumerate(rooms):
        j = await a.recv_type("joined")
        assert j["room"] == r and j["id"] == f"j{i}", j
    # joining one already joined is fine and does not count twice
    j = await a.request({"type": "join", "room": rooms[7]}, "joined")
    assert j["room"] == rooms[7]
    # the 101st
    await a.expect_error({"type": "join", "room": chat.room("over"), "id": "j101"},
                         "too_many_rooms")
    # validation comes first
    await a.expect_error({"type": "join", "room": "Not Valid"}, "room_invalid")
    # leaving one makes room for another
    await a.leave(rooms[0])
    await a.join(chat.room("after"))


async def test_too_many_rooms_counts_per_session_not_per_gateway(chat):
    # the limit belongs to each session: another session can still join
    a = await chat.user("B")
    b = await chat.user("A")
    for i in range(MAX_ROOMS):
        await a.send({"type": "join", "room": chat.room("lim")})
    for i in range(MAX_ROOMS):
        await a.recv_type("joined")
    await a.expect_error({"type": "join", "room": chat.room()}, "too_many_rooms")
    await b.join(chat.room())


async def test_disconnect_close_1000_sends_presence_leave_quickly(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    t0 = time.monotonic()
    await b.close(1000)
    p = await a.recv_type("presence", timeout=1.5)
    assert time.monotonic() - t0 <= 1.5
    assert p == {"type": "presence", "room": room, "nick": b.nick, "event": "leave", "count": 1}


async def test_abnormal_drop_sends_presence_leave_within_1s(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    t0 = time.monotonic()
    b.drop()
    p = await a.recv_type("presence", timeout=1.5)
    assert time.monotonic() - t0 <= 1.5
    assert p == {"type": "presence", "room": room, "nick": b.nick, "event": "leave", "count": 1}


async def test_disconnect_leaves_every_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    r1 = await chat.together(chat.room(), a, b)
    r2 = await chat.together(chat.room(), a, b)
    await b.close(1000)
    got = await a.recv_n(2, timeout=1.5)
    assert sorted((p["type"], p["room"], p["nick"], p["event"], p["count"]) for p in got) == \
        sorted([("presence", r1, b.nick, "leave", 1), ("presence", r2, b.nick, "leave", 1)])
    for r in (r1, r2):
        w = await a.request({"type": "who", "room": r}, "who")
        assert w["members"] == [a.nick]


async def test_join_extra_fields_ignored(chat):
    a = await chat.user("A")
    room = chat.room()
    j = await a.request({"type": "join", "room": room, "id": "jx", "password": "x", "v": 2},
                        "joined")
    assert j["room"] == room and j["id"] == "jx"


@pytest.fixture(scope="module")
def few_rooms_cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory, broker_args=["--max-rooms", "3"])


async def test_configured_max_rooms(few_rooms_cluster):
    chat = Chat(few_rooms_cluster)
    try:
        a = await chat.user("B")
        for _ in range(3):
            await a.join(chat.room())
        await a.expect_error({"type": "join", "room": chat.room(), "id": "j4"}, "too_many_rooms")
    finally:
        await chat.aclose()
