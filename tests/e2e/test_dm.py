"""Private messages."""

import time

import pytest

from conftest import MAX_NICK, MAX_TEXT


async def test_dm_ack_and_delivery(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    ack = await a.request({"type": "dm", "to": b.nick, "text": "psst", "id": "d1"}, "ack")
    assert ack["id"] == "d1"
    assert isinstance(ack["ts"], int) and abs(ack["ts"] - time.time() * 1000) < 60000
    assert "seq" not in ack and "room" not in ack
    d = await b.recv_type("dm")
    assert d == {"type": "dm", "from": a.nick, "text": "psst", "ts": ack["ts"]}
    await a.expect_nothing(300)


async def test_dm_to_is_case_insensitive(chat):
    a = await chat.user("A")
    b = await chat.user("B", nick=chat.nick("CamelCase"))
    for to in (b.nick.upper(), b.nick.lower()):
        ack = await a.dm(to, f"to {to}")
        d = await b.recv_type("dm")
        assert d["from"] == a.nick and d["text"] == f"to {to}" and d["ts"] == ack["ts"]


async def test_dm_to_oneself_is_bad_request(chat):
    a = await chat.user("A", nick=chat.nick("Self"))
    await a.expect_error({"type": "dm", "to": a.nick, "text": "me", "id": "s"}, "bad_request")


async def test_dm_to_oneself_in_other_case_is_bad_request(chat):
    a = await chat.user("B", nick=chat.nick("Self"))
    await a.expect_error({"type": "dm", "to": a.nick.upper(), "text": "me"}, "bad_request")
    await a.expect_error({"type": "dm", "to": a.nick.lower(), "text": "me"}, "bad_request")


async def test_dm_to_unknown_nick_is_no_such_user(chat):
    a = await chat.user("A")
    await a.expect_error({"type": "dm", "to": chat.nick("nobody"), "text": "hi", "id": "nu"},
                         "no_such_user")


async def test_dm_to_dropped_connection_is_no_such_user(chat):
    # the session may still be resumable, but DMs are live
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    b.drop()
    p = await a.recv_type("presence", timeout=1.5)
    assert p["event"] == "leave" and p["nick"] == b.nick
    await a.expect_error({"type": "dm", "to": b.nick, "text": "hello?"}, "no_such_user")


async def test_dm_to_closed_session_is_no_such_user(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await b.close(1000)
    await a.recv_type("presence", timeout=1.5)
    await a.expect_error({"type": "dm", "to": b.nick, "text": "hello?"}, "no_such_user")


async def test_dm_retry_same_id_same_ack_not_redelivered(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    first = await a.dm(b.nick, "once", "dd")
    await b.recv_type("dm")
    again = await a.dm(b.nick, "once", "dd")
    assert again == first
    other = await a.dm(b.nick, "different text", "dd")
    assert other == first
    await b.expect_nothing(500)


async def test_dm_without_id_is_acked_without_id(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    ack = await a.request({"type": "dm", "to": b.nick, "text": "anon"}, "ack")
    assert "id" not in ack and isinstance(ack["ts"], int)
    d = await b.recv_type("dm")
    assert d["ts"] == ack["ts"]


async def test_dm_text_limit(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    ok = "\u00e9" * MAX_TEXT
    await a.dm(b.nick, ok)
    assert (await b.recv_type("dm"))["text"] == ok
    await a.expect_error({"type": "dm", "to": b.nick, "text": "\u00e9" * (MAX_TEXT + 1)},
                         "too_large")
    await b.expect_nothing(300)


@pytest.mark.parametrize("text", ["", "  \n\t"], ids=["empty", "whitespace"])
async def test_dm_blank_text_is_bad_request(chat, text):
    a = await chat.user("A")
    b = await chat.user("B")
    await a.expect_error({"type": "dm", "to": b.nick, "text": text, "id": "bt"}, "bad_request")


@pytest.mark.parametrize("to", ["bad nick", "x" * (MAX_NICK + 1), "", "n\u00e9"],
                         ids=["space", "33chars", "empty", "accent"])
async def test_dm_to_invalid_nick_is_nick_invalid(chat, to):
    a = await chat.user("A")
    await a.expect_error({"type": "dm", "to": to, "text": "x", "id": "ni"}, "nick_invalid")


@pytest.mark.parametrize("cmd", [
    {"type": "dm", "text": "x"},
    {"type": "dm", "to": None, "text": "x"},
    {"type": "dm", "to": 3, "text": "x"},
    {"type": "dm", "to": "NICK"},
    {"type": "dm", "to": "NICK", "text": None},
    {"type": "dm", "to": "NICK", "text": {"a": 1}},
], ids=["no-to", "to-null", "to-number", "no-text", "text-null", "text-object"])
async def test_dm_wrong_types_are_bad_request(chat, cmd):
    a = await chat.user("A")
    b = await chat.user("B")
    cmd = {k: (b.nick if v == "NICK" else v) for k, v in cmd.items()}
    await a.expect_error(dict(cmd, id="w"), "bad_request")


async def test_dm_needs_no_shared_room_and_both_ways(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    ka = await a.dm(b.nick, "ping")
    assert (await b.recv_type("dm"))["ts"] == ka["ts"]
    kb = await b.dm(a.nick, "pong")
    d = await a.recv_type("dm")
    assert d == {"type": "dm", "from": b.nick, "text": "pong", "ts": kb["ts"]}
