"""hello / welcome, nick rules at identification, not_identified, sessions."""

import pytest

from conftest import MAX_NICK


async def test_hello_gets_welcome(chat):
    c = await chat.connect("A")
    nick = chat.nick("Al")
    w = await c.request({"type": "hello", "nick": nick, "id": "h1"}, "welcome")
    assert w["nick"] == nick
    assert isinstance(w["session"], str) and w["session"]
    assert isinstance(w["online"], int) and not isinstance(w["online"], bool) and w["online"] >= 1
    assert w["resumed"] is False
    assert w["id"] == "h1"


async def test_hello_without_id_has_no_id(chat):
    c = await chat.connect("B")
    w = await c.hello(chat.nick())
    assert "id" not in w


async def test_welcome_online_counts_sessions_on_both_gateways(chat):
    a = await chat.user("A")
    b = await chat.connect("B")
    w = await b.hello(chat.nick())
    assert w["online"] >= 2, w


async def test_sessions_are_distinct(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    assert a.session != b.session


async def test_hello_nick_taken(chat):
    a = await chat.user("A")
    b = await chat.connect("B")
    await b.expect_error({"type": "hello", "nick": a.nick, "id": "h2"}, "nick_taken")


async def test_hello_nick_taken_is_case_insensitive(chat):
    a = await chat.user("A", nick=chat.nick("MiXed"))
    b = await chat.connect("B")
    await b.expect_error({"type": "hello", "nick": a.nick.upper()}, "nick_taken")
    c = await chat.connect("A")
    await c.expect_error({"type": "hello", "nick": a.nick.lower()}, "nick_taken")


@pytest.mark.parametrize("nick", [
    "", "has space", "x" * (MAX_NICK + 1), "caf\u00e9", "semi;colon", "a/b", "hash#", "tab\t",
    "\u0430bc",  # Cyrillic a
], ids=["empty", "space", "33chars", "accent", "semicolon", "slash", "hash", "tab", "cyrillic"])
async def test_hello_nick_invalid(chat, nick):
    c = await chat.connect("A")
    await c.expect_error({"type": "hello", "nick": nick, "id": "hi"}, "nick_invalid")


async def test_hello_nick_with_every_allowed_char_and_max_length(chat):
    base = chat.nick("Az09_.-")
    nick = (base + "x" * MAX_NICK)[:MAX_NICK]
    assert len(nick) == MAX_NICK
    c = await chat.connect("B")
    w = await c.hello(nick)
    assert w["nick"] == nick


@pytest.mark.parametrize("cmd", [
    {"type": "hello"},
    {"type": "hello", "nick": 5},
    {"type": "hello", "nick": None},
    {"type": "hello", "nick": ["x"]},
], ids=["missing", "number", "null", "array"])
async def test_hello_nick_wrong_type_is_bad_request(chat, cmd):
    c = await chat.connect("A")
    await c.expect_error(dict(cmd, id="hb"), "bad_request")


async def test_hello_again_after_failed_hello(chat):
    a = await chat.user("A")
    b = await chat.connect("B")
    await b.expect_error({"type": "hello", "nick": a.nick}, "nick_taken")
    w = await b.hello(chat.nick())
    assert w["resumed"] is False


@pytest.mark.parametrize("cmd", [
    {"type": "join", "room": "general"},
    {"type": "leave", "room": "general"},
    {"type": "msg", "room": "general", "text": "hi"},
    {"type": "dm", "to": "somebody", "text": "hi"},
    {"type": "typing", "room": "general", "active": True},
    {"type": "nick", "nick": "somebody"},
    {"type": "who", "room": "general"},
    {"type": "who"},
    {"type": "history", "room": "general"},
], ids=lambda c: c["type"] + ("_room" if c["type"] == "who" and "room" in c else ""))
async def test_command_before_hello_is_not_identified(chat, cmd):
    c = await chat.connect("A")
    await c.expect_error(dict(cmd, id="x1"), "not_identified")


async def test_not_identified_after_failed_hello(chat):
    a = await chat.user("A")
    b = await chat.connect("B")
    await b.expect_error({"type": "hello", "nick": a.nick}, "nick_taken")
    await b.expect_error({"type": "join", "room": chat.room(), "id": "j"}, "not_identified")


async def test_ping_before_hello(chat):
    c = await chat.connect("B")
    r = await c.request({"type": "ping", "id": "p0"})
    assert r == {"type": "pong", "id": "p0"}


async def test_second_hello_is_bad_request(chat):
    c = await chat.user("A")
    await c.expect_error({"type": "hello", "nick": chat.nick(), "id": "again"}, "bad_request")
    await c.expect_error({"type": "hello", "nick": c.nick}, "bad_request")
    # still identified under the first nick
    room = chat.room()
    j = await c.join(room)
    assert j["members"] == [c.nick]


async def test_hello_extra_fields_ignored(chat):
    c = await chat.connect("B")
    nick = chat.nick()
    w = await c.request({"type": "hello", "nick": nick, "client": "e2e/1.0", "x": {"y": [1]}},
                        "welcome")
    assert w["nick"] == nick


async def test_resume_of_unknown_session_gives_fresh_session(chat):
    c = await chat.connect("A")
    fake = "no-such-session-0123456789"
    room = chat.room()
    w = await c.request({"type": "hello", "nick": chat.nick(),
                         "resume": {"session": fake, "rooms": {room: 5}}}, "welcome")
    assert w["resumed"] is False
    assert isinstance(w["session"], str) and w["session"] and w["session"] != fake
    # no rooms: nothing replayed, not a member of the room named in resume
    await c.expect_nothing(300)
    who = await c.request({"type": "who", "room": room}, "who")
    assert c.nick not in who["members"]


async def test_close_1000_frees_nick_at_once(chat):
    a = await chat.user("A")
    nick = a.nick
    await a.close(1000)
    b = await chat.connect("B")
    w = await b.hello(nick)
    assert w["nick"] == nick
