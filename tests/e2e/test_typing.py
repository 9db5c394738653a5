"""Typing indicators: forwarding, repeats, every stop rule, errors."""

import asyncio
import time

import pytest

from conftest import TYPING_TIMEOUT_MS


def typing(room=None, nick=None, active=True):
    ev = {"type": "typing", "nick": nick, "active": active}
    if room is not None:
        ev["room"] = room
    return ev


async def pair_in_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    return a, b, room


async def test_room_typing_reaches_others_not_self(chat):
    a, b, room = await pair_in_room(chat)
    c = await chat.user("A")
    await c.join(room)
    await a.recv_type("presence")
    await b.recv_type("presence")
    await a.send({"type": "typing", "room": room, "active": True})
    for other in (b, c):
        assert await other.recv_type("typing") == typing(room, a.nick, True)
    await a.expect_nothing(400)


async def test_dm_typing_has_no_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    await a.send({"type": "typing", "to": b.nick, "active": True})
    t = await b.recv_type("typing")
    assert t == {"type": "typing", "nick": a.nick, "active": True}
    await a.expect_nothing(300)


async def test_dm_typing_to_is_case_insensitive(chat):
    a = await chat.user("A")
    b = await chat.user("B", nick=chat.nick("TypeCase"))
    await a.send({"type": "typing", "to": b.nick.upper(), "active": True})
    assert await b.recv_type("typing") == {"type": "typing", "nick": a.nick, "active": True}
    await a.send({"type": "typing", "to": b.nick.lower(), "active": False})
    assert await b.recv_type("typing") == {"type": "typing", "nick": a.nick, "active": False}


async def test_repeated_active_true_is_not_forwarded(chat):
    a, b, room = await pair_in_room(chat)
    for _ in range(3):
        await a.send({"type": "typing", "room": room, "active": True})
    await a.ping()  # all three handled
    assert await b.recv_type("typing") == typing(room, a.nick, True)
    await b.expect_nothing(800)


async def test_repeated_dm_typing_is_not_forwarded(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    for _ in range(3):
        await a.send({"type": "typing", "to": b.nick, "active": True})
    await a.ping()
    await b.recv_type("typing")
    await b.expect_nothing(800)


async def test_active_false_when_not_active_is_ignored(chat):
    a, b, room = await pair_in_room(chat)
    await a.send({"type": "typing", "room": room, "active": False})
    await a.send({"type": "typing", "to": b.nick, "active": False})
    await a.ping()
    await b.expect_nothing(600)
    await a.expect_nothing(100)


async def test_explicit_stop(chat):
    a, b, room = await pair_in_room(chat)
    await a.send({"type": "typing", "room": room, "active": True})
    assert await b.recv_type("typing") == typing(room, a.nick, True)
    await a.send({"type": "typing", "room": room, "active": False})
    assert await b.recv_type("typing") == typing(room, a.nick, False)
    # a second stop is a stop when not active: ignored
    await a.send({"type": "typing", "room": room, "active": False})
    await b.expect_nothing(500)


async def test_typing_again_after_stop_is_forwarded(chat):
    a, b, room = await pair_in_room(chat)
    for active in (True, False, True):
        await a.send({"type": "typing", "room": room, "active": active})
        assert await b.recv_type("typing") == typing(room, a.nick, active)


async def test_msg_stops_typing(chat):
    a, b, room = await pair_in_room(chat)
    await a.send({"type": "typing", "room": room, "active": True})
    assert await b.recv_type("typing") == typing(room, a.nick, True)
    await a.msg(room, "done typing")
    got = await b.recv_set(["typing", "msg"])
    assert got["typing"] == typing(room, a.nick, False)
    assert got["msg"]["text"] == "done typing"
    await b.expect_nothing(300)


async def test_msg_without_typing_sends_no_stop(chat):
    a, b, room = await pair_in_room(chat)
    await a.msg(room, "just a message")
    await b.recv_type("msg")
    await b.expect_nothing(400)


async def test_msg_in_other_room_does_not_stop_typing(chat):
    a, b, room = await pair_in_room(chat)
    other = chat.room()
    await a.join(other)
    await a.send({"type": "typing", "room": room, "active": True})
    await b.recv_type("typing")
    await a.msg(other, "elsewhere")
    await b.expect_nothing(400)


async def test_dm_stops_dm_typing(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    await a.send({"type": "typing", "to": b.nick, "active": True})
    assert await b.recv_type("typing") == {"type": "typing", "nick": a.nick, "active": True}
    await a.dm(b.nick, "here it is")
    got = await b.recv_set(["typing", "dm"])
    assert got["typing"] == {"type": "typing", "nick": a.nick, "active": False}
    assert got["dm"]["text"] == "here it is"


async def test_leave_stops_typing(chat):
    a, b, room = await pair_in_room(chat)
    await a.send({"type": "typing", "room": room, "active": True})
    await b.recv_type("typing")
    await a.leave(room)
    got = await b.recv_set(["typing", "presence"])
    assert got["typing"] == typing(room, a.nick, False)
    assert got["presence"]["event"] == "leave"


async def test_disconnect_stops_room_typing(chat):
    a, b, room = await pair_in_room(chat)
    await a.send({"type": "typing", "room": room, "active": True})
    await b.recv_type("typing")
    await a.close(1000)
    got = await b.recv_set(["typing", "presence"], timeout=1.5)
    assert got["typing"] == typing(room, a.nick, False)
    assert got["presence"]["event"] == "leave"


async def test_abnormal_drop_stops_dm_typing(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    await a.send({"type": "typing", "to": b.nick, "active": True})
    await b.recv_type("typing")
    a.drop()
    t = await b.recv_type("typing", timeout=1.5)
    assert t == {"type": "typing", "nick": a.nick, "active": False}


@pytest.mark.timeout_s(30)
async def test_typing_expires_after_6s(chat):
    a, b, room = await pair_in_room(chat)
    await a.send({"type": "typing", "room": room, "active": True})
    await b.recv_type("typing")
    t0 = time.monotonic()
    t = await b.recv_type("typing", timeout=TYPING_TIMEOUT_MS / 1000 + 2.5)
    elapsed = time.monotonic() - t0
    assert t == typing(room, a.nick, False)
    assert elapsed >= TYPING_TIMEOUT_MS / 1000 - 0.5, f"stopped after only {elapsed:.2f} s"


@pytest.mark.timeout_s(30)
async def test_refresh_extends_typing(chat):
    # 6 s after the LAST refresh: refresh at 3 s, expect the stop near 9 s
    a = await chat.user("A")
    b = await chat.user("B")
    await a.send({"type": "typing", "to": b.nick, "active": True})
    await b.recv_type("typing")
    t0 = time.monotonic()
    await asyncio.sleep(3.0)  # the rule is about time: clients refresh every 3 s
    await a.send({"type": "typing", "to": b.nick, "active": True})
    t = await b.recv_type("typing", timeout=TYPING_TIMEOUT_MS / 1000 + 5.0)
    elapsed = time.monotonic() - t0
    assert t == {"type": "typing", "nick": a.nick, "active": False}
    assert elapsed >= 3.0 + TYPING_TIMEOUT_MS / 1000 - 0.5, f"stopped after {elapsed:.2f} s"


async def test_typing_to_room_not_joined_is_not_in_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await b.join(room)
    await a.expect_error({"type": "typing", "room": room, "active": True, "id": "t"},
                         "not_in_room")
    await b.expect_nothing(300)


async def test_typing_to_unknown_nick_is_no_such_user(chat):
    a = await chat.user("A")
    await a.expect_error({"type": "typing", "to": chat.nick("ghost"), "active": True, "id": "g"},
                         "no_such_user")


async def test_typing_room_invalid(chat):
    a = await chat.user("A")
    await a.expect_error({"type": "typing", "room": "No Such", "active": True}, "room_invalid")


async def test_typing_to_invalid_nick(chat):
    a = await chat.user("A")
    await a.expect_error({"type": "typing", "to": "bad nick", "active": True}, "nick_invalid")


@pytest.mark.parametrize("cmd", [
    {"type": "typing", "active": True},
    {"type": "typing", "room": "ROOM"},
    {"type": "typing", "room": "ROOM", "active": None},
    {"type": "typing", "room": "ROOM", "active": 1},
    {"type": "typing", "room": "ROOM", "active": "true"},
    {"type": "typing", "room": None, "active": True},
    {"type": "typing", "to": 5, "active": True},
], ids=["no-target", "no-active", "active-null", "active-1", "active-string", "room-null",
        "to-number"])
async def test_typing_wrong_types_are_bad_request(chat, cmd):
    a = await chat.user("A")
    room = chat.room()
    await a.join(room)
    cmd = {k: (room if v == "ROOM" else v) for k, v in cmd.items()}
    await a.expect_error(dict(cmd, id="tb"), "bad_request")
