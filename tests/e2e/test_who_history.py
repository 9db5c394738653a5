"""who (room and global) and history."""

import asyncio
import resource
import time

import pytest
import websockets.client

from conftest import dumps, new_nick


# ----------------------------------------------------------------------------- who

async def test_who_room_lists_members(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    w = await a.request({"type": "who", "room": room, "id": "w1"}, "who")
    assert w["room"] == room and w["id"] == "w1"
    assert sorted(w["members"]) == sorted([a.nick, b.nick])


async def test_who_room_works_for_non_members(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    outsider = await chat.user("B")
    w = await outsider.request({"type": "who", "room": room}, "who")
    assert sorted(w["members"]) == sorted([a.nick, b.nick])
    await a.expect_nothing(200)


async def test_who_of_room_that_never_existed_is_empty(chat):
    a = await chat.user("A")
    room = chat.room("never")
    w = await a.request({"type": "who", "room": room, "id": "w0"}, "who")
    assert w == {"type": "who", "room": room, "members": [], "id": "w0"}


async def test_who_of_emptied_room_is_empty(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.leave(room)
    w = await b.request({"type": "who", "room": room}, "who")
    assert w["members"] == []


async def test_who_global(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    w = await a.request({"type": "who", "id": "w2"}, "who")
    assert w["id"] == "w2" and "room" not in w
    assert isinstance(w["online"], int) and w["online"] >= 2
    assert a.nick in w["users"] and b.nick in w["users"]
    assert len(w["users"]) == len(set(w["users"]))
    assert w.get("truncated", False) is False
    assert w["online"] >= len(w["users"]) or w.get("truncated")


async def test_who_global_drops_closed_sessions(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    await chat.together(chat.room(), a, b)
    await b.close(1000)
    await a.recv_type("presence", timeout=1.5)
    w = await a.request({"type": "who"}, "who")
    assert b.nick not in w["users"] and a.nick in w["users"]


@pytest.mark.parametrize("cmd,code", [
    ({"type": "who", "room": None}, "bad_request"),
    ({"type": "who", "room": 3}, "bad_request"),
    ({"type": "who", "room": "Bad Room"}, "room_invalid"),
], ids=["null", "number", "invalid"])
async def test_who_errors(chat, cmd, code):
    a = await chat.user("A")
    await a.expect_error(dict(cmd, id="we"), code)


@pytest.mark.timeout_s(120)
async def test_who_global_truncated_past_1000(chat):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200 and hard >= 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    elif soft < 1200:
        pytest.skip(f"needs ~1200 file descriptors, limit is {soft}/{hard}")
    gws = ["A", "B"]
    conns = []
    drains = []

    async def one(i):
        ws = await websockets.client.connect(chat.cluster.ws_url(gws[i % 2]), compression=None,
                                             ping_interval=None, max_size=None, open_timeout=20,
                                             close_timeout=5)
        conns.append(ws)
        await ws.send(dumps({"type": "hello", "nick": new_nick("m")}))
        while True:
            f = await asyncio.wait_for(ws.recv(), 20)
            if '"welcome"' in f:
                drains.append(asyncio.ensure_future(drain(ws)))
                return
            assert '"online"' in f, f

    async def drain(ws):
        # keep reading so no queue fills up (the server may close slow readers)
        try:
            async for _ in ws:
                pass
        except Exception:
            pass

    try:
        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(100)))
        first = time.monotonic() - t0
        if first > 3.0:
            pytest.skip(f"creating 100 sessions took {first:.1f} s; 1001 would be too slow")
        await asyncio.gather(*(one(i) for i in range(100, 1001)))
        a = await chat.user("A")
        w = await a.request({"type": "who", "id": "big"}, "who", timeout=10)
        assert w["online"] >= 1002, w["online"]
        assert w.get("truncated") is True
        assert len(w["users"]) == 1000
        assert len(set(w["users"])) == 1000
        rw = await a.request({"type": "who", "room": chat.room()}, "who")
        assert "truncated" not in rw
    finally:
        await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
        for d in drains:
            d.cancel()


# ------------------------------------------------------------------------- history

async def room_with_messages(chat, n, gw="A"):
    """A room with n messages sent by one member; returns (client, room, acks)."""
    a = await chat.user(gw)
    room = chat.room("hist")
    await a.join(room)
    for i in range(n):
        await a.send({"type": "msg", "room": room, "text": f"h{i + 1}", "id": f"h{i + 1}"})
    acks = await a.recv_n(n)
    assert [k["type"] for k in acks] == ["ack"] * n and [k["seq"] for k in acks] == \
        list(range(1, n + 1))
    return a, room, acks


async def test_history_needs_membership(chat):
    a, room, _ = await room_with_messages(chat, 2)
    b = await chat.user("B")
    await b.expect_error({"type": "history", "room": room, "id": "h"}, "not_in_room")
    await b.expect_error({"type": "history", "room": chat.room()}, "not_in_room")


async def test_history_returns_messages_ascending(chat):
    a, room, acks = await room_with_messages(chat, 5)
    b = await chat.user("B")
    await b.join(room)
    h = await b.request({"type": "history", "room": room, "id": "h1"}, "history")
    assert h["room"] == room and h["id"] == "h1"
    assert h["messages"] == [{"seq": k["seq"], "from": a.nick, "text": f"h{k['seq']}",
                              "ts": k["ts"]} for k in acks]


async def test_history_default_limit_50(chat):
    a, room, _ = await room_with_messages(chat, 60)
    b = await chat.user("B")
    await b.join(room)
    h = await b.request({"type": "history", "room": room}, "history")
    assert [m["seq"] for m in h["messages"]] == list(range(11, 61))


async def test_history_limit_clamped_to_200(chat):
    a, room, _ = await room_with_messages(chat, 210)
    h = await a.request({"type": "history", "room": room, "limit": 1000}, "history")
    assert [m["seq"] for m in h["messages"]] == list(range(11, 211))
    h = await a.request({"type": "history", "room": room, "limit": 201}, "history")
    assert len(h["messages"]) == 200
    h = await a.request({"type": "history", "room": room, "limit": 200}, "history")
    assert len(h["messages"]) == 200


async def test_history_explicit_limit(chat):
    a, room, _ = await room_with_messages(chat, 10)
    h = await a.request({"type": "history", "room": room, "limit": 3}, "history")
    assert [m["seq"] for m in h["messages"]] == [8, 9, 10]
    h = await a.request({"type": "history", "room": room, "limit": 1}, "history")
    assert [m["seq"] for m in h["messages"]] == [10]


async def test_history_before(chat):
    a, room, _ = await room_with_messages(chat, 30)
    h = await a.request({"type": "history", "room": room, "before": 20, "limit": 5}, "history")
    assert [m["seq"] for m in h["messages"]] == [15, 16, 17, 18, 19]
    h = await a.request({"type": "history", "room": room, "before": 4}, "history")
    assert [m["seq"] for m in h["messages"]] == [1, 2, 3]
    h = await a.request({"type": "history", "room": room, "before": 1}, "history")
    assert h["messages"] == []
    h = await a.request({"type": "history", "room": room, "before": 1000, "limit": 2}, "history")
    assert [m["seq"] for m in h["messages"]] == [29, 30]


async def test_history_of_room_without_messages_is_empty(chat):
    a = await chat.user("B")
    room = chat.room()
    await a.join(room)
    h = await a.request({"type": "history", "room": room}, "history")
    assert h["messages"] == [] and h["room"] == room


@pytest.mark.parametrize("extra", [
    {"limit": 0}, {"limit": -1}, {"limit": 5.0}, {"limit": "5"}, {"limit": None},
    {"before": "3"}, {"before": 2.0}, {"before": None},
], ids=["limit-0", "limit-neg", "limit-5.0", "limit-string", "limit-null", "before-string",
        "before-2.0", "before-null"])
async def test_history_bad_arguments_are_bad_request(chat, extra):
    a = await chat.user("A")
    room = chat.room()
    await a.join(room)
    await a.expect_error(dict({"type": "history", "room": room, "id": "hb"}, **extra),
                         "bad_request")


async def test_history_room_invalid(chat):
    a = await chat.user("A")
    await a.expect_error({"type": "history", "room": "UPPER"}, "room_invalid")


async def test_history_includes_messages_from_other_gateway(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    ka = await a.msg(room, "from A")
    await b.recv_type("msg")
    kb = await b.msg(room, "from B")
    await a.recv_type("msg")
    h = await a.request({"type": "history", "room": room}, "history")
    assert h["messages"] == [
        {"seq": 1, "from": a.nick, "text": "from A", "ts": ka["ts"]},
        {"seq": 2, "from": b.nick, "text": "from B", "ts": kb["ts"]},
    ]
