"""Nick changes."""

import pytest

from conftest import MAX_NICK


async def change(c, new, id_="n1"):
    """Sends nick; returns (ack, nick event) as received by the renamed client,
    in whichever order they come."""
    await c.send({"type": "nick", "nick": new, "id": id_})
    got = await c.recv_set(["ack", "nick"])
    return got["ack"], got["nick"]


async def test_nick_change_acked_and_announced_to_self_and_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    old, new = a.nick, chat.nick("renamed")
    ack, ev = await change(a, new)
    assert ack == {"type": "ack", "id": "n1"}
    assert ev == {"type": "nick", "old": old, "new": new}
    assert await b.recv_type("nick") == {"type": "nick", "old": old, "new": new}
    await a.expect_nothing(200)
    await b.expect_nothing(200)


async def test_nick_change_not_sent_to_those_sharing_no_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    outsider = await chat.user("B")
    await chat.together(chat.room(), a, b)
    await outsider.join(chat.room())
    await change(a, chat.nick())
    await b.recv_type("nick")
    await outsider.expect_nothing(500)


async def test_nick_change_sent_once_when_sharing_several_rooms(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    await chat.together(chat.room(), a, b)
    await chat.together(chat.room(), a, b)
    await change(a, chat.nick())
    await b.recv_type("nick")
    await b.expect_nothing(500)


async def test_nick_change_alone_still_announced_to_self(chat):
    a = await chat.user("B")
    old, new = a.nick, chat.nick()
    ack, ev = await change(a, new, "solo")
    assert ack["id"] == "solo" and ev == {"type": "nick", "old": old, "new": new}


async def test_case_only_change_is_allowed_and_announced(chat):
    a = await chat.user("A", nick=chat.nick("lower"))
    b = await chat.user("B")
    await chat.together(chat.room(), a, b)
    old, new = a.nick, a.nick.upper()
    ack, ev = await change(a, new)
    assert ev == {"type": "nick", "old": old, "new": new}
    assert await b.recv_type("nick") == {"type": "nick", "old": old, "new": new}


async def test_identical_nick_is_acked_not_announced(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    await chat.together(chat.room(), a, b)
    ack = await a.request({"type": "nick", "nick": a.nick, "id": "same"}, "ack")
    assert ack == {"type": "ack", "id": "same"}
    await a.expect_nothing(400)
    await b.expect_nothing(100)


async def test_nick_taken(chat):
    a = await chat.user("A")
    b = await chat.user("B", nick=chat.nick("Taken"))
    room = await chat.together(chat.room(), a, b)
    await a.expect_error({"type": "nick", "nick": b.nick, "id": "t1"}, "nick_taken")
    await a.expect_error({"type": "nick", "nick": b.nick.upper(), "id": "t2"}, "nick_taken")
    await a.expect_error({"type": "nick", "nick": b.nick.lower(), "id": "t3"}, "nick_taken")
    await b.expect_nothing(300)
    # a keeps its nick
    await a.msg(room, "still me")
    assert (await b.recv_type("msg"))["from"] == a.nick


async def test_old_nick_becomes_free(chat):
    a = await chat.user("A")
    old = a.nick
    await change(a, chat.nick())
    c = await chat.connect("B")
    w = await c.hello(old)
    assert w["nick"] == old


async def test_new_nick_is_used_everywhere(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    old, new = a.nick, chat.nick("new")
    await change(a, new)
    await b.recv_type("nick")
    await a.msg(room, "from the new name")
    assert (await b.recv_type("msg"))["from"] == new
    w = await b.request({"type": "who", "room": room}, "who")
    assert sorted(w["members"]) == sorted([new, b.nick])
    await a.dm(b.nick, "dm")
    assert (await b.recv_type("dm"))["from"] == new
    await b.dm(new, "back")
    assert (await a.recv_type("dm"))["from"] == b.nick
    await b.expect_error({"type": "dm", "to": old, "text": "old?"}, "no_such_user")
    h = await b.request({"type": "history", "room": room}, "history")
    assert [m["from"] for m in h["messages"]] == [new]
    # a newcomer cannot take it
    c = await chat.connect("B")
    await c.expect_error({"type": "hello", "nick": new.upper()}, "nick_taken")


@pytest.mark.parametrize("nick", ["", "with space", "x" * (MAX_NICK + 1), "\u00e9t\u00e9"],
                         ids=["empty", "space", "33chars", "accents"])
async def test_nick_invalid(chat, nick):
    a = await chat.user("A")
    await a.expect_error({"type": "nick", "nick": nick, "id": "iv"}, "nick_invalid")


@pytest.mark.parametrize("cmd", [
    {"type": "nick"}, {"type": "nick", "nick": None}, {"type": "nick", "nick": 12},
], ids=["missing", "null", "number"])
async def test_nick_wrong_type_is_bad_request(chat, cmd):
    a = await chat.user("B")
    await a.expect_error(dict(cmd, id="wt"), "bad_request")
