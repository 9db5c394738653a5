"""Sessions and resume: the grace period after a lost connection.

PROTOCOL.md, "Resume" and "Sessions and resume": a close with 1000 ends the
session at once; any other end (1001, an abnormal drop, a gateway loss)
detaches it: presence leaves go out at once, but the session, its nick, its
rooms and its dedupe memory are kept for --grace ms (30 s by default). A
`hello` with `resume` naming it (and its nick) gets it back on any gateway:
`welcome` with resumed:true, then per room `joined` and the missed messages.

Most tests share the module's cluster (default --grace); the grace-expiry
tests use a cluster with a short --grace, and the gateway-loss tests a
cluster of their own whose gateways they kill or stop.
"""

import asyncio
import os
import signal
import time

import pytest

from conftest import Chat, cluster_lifetime

SHORT_GRACE_MS = 1500
PRESENCE_WITHIN = 1.5       # "at once (within 1 s)", plus slack
GATEWAY_LOSS_WITHIN = 5.0   # --gateway-timeout 3 s, checked every 500 ms, plus slack
RESET_CLOSE_WITHIN = 10.0   # a stopped gateway, continued, closes its clients with 1012


# ----------------------------------------------------------------------------- helpers

async def lose(client, how):
    """Ends client's connection without a clean close: "drop" resets the TCP
    connection (no close frame), "1001" is a close with code 1001."""
    if how == "drop":
        client.drop()
    else:
        await client.close(int(how))


async def pair(chat):
    """a on gateway A and b on gateway B, together in a new room: (a, b, room)."""
    a = await chat.user("A")
    b = await chat.user("B")
    return a, b, await chat.together(chat.room(), a, b)


async def lost(a, b, room, how="drop"):
    """a's connection ends (see lose); b, alone with it in room, sees it leave."""
    await lose(a, how)
    await expect_leave(b, room, a.nick, 1)


async def expect_leave(client, room, nick, count):
    p = await client.recv_type("presence", timeout=PRESENCE_WITHIN, skip=("typing",))
    assert p == {"type": "presence", "room": room, "nick": nick, "event": "leave",
                 "count": count}, f"{client}: expected the leave of {nick}, got {p}"


async def expect_join(client, room, nick, count):
    p = await client.recv_type("presence")
    assert p == {"type": "presence", "room": room, "nick": nick, "event": "join",
                 "count": count}, f"{client}: expected the join of {nick}, got {p}"


async def resume(chat, gw, old, rooms=None, nick=None, id_="h"):
    """A new connection on gw saying hello with resume of old's session.
    Returns (client, welcome); the welcome must echo id_."""
    c = await chat.connect(gw)
    res = {"session": old.session}
    if rooms is not None:
        res["rooms"] = rooms
    w = await c.hello(nick or old.nick, resume=res, id=id_)
    assert w.get("id") == id_, f"{c}: welcome did not echo the hello's id: {w}"
    assert isinstance(w["session"], str) and w["session"], w
    assert isinstance(w["online"], int) and w["online"] >= 1, w
    return c, w


async def restored(client, want):
    """Reads what follows a resumed welcome. want maps each restored room to
    (members, seq, [msg events]): for every room, in any room order, exactly
    `joined` (no id) then its messages in order; then nothing more."""
    n = len(want) + sum(len(m) for _, _, m in want.values())
    frames = await client.recv_n(n)
    got = {}
    current = None
    for f in frames:
        if f["type"] == "joined":
            assert f["room"] in want and f["room"] not in got, \
                f"{client}: unexpected joined {f}; all: {frames}"
            assert "id" not in f, f"{client}: a restored joined echoes an id: {f}"
            current = f["room"]
            got[current] = (f, [])
        else:
            assert f["type"] == "msg" and current is not None and f["room"] == current, \
                f"{client}: expected joined or a msg of {current}, got {f}; all: {frames}"
            got[current][1].append(f)
    for room, (members, seq, msgs) in want.items():
        j, replay = got[room]
        assert sorted(j["members"]) == sorted(members) and j["seq"] == seq, \
            f"{client}: joined {room}: {j}, expected members {members} and seq {seq}"
        assert replay == msgs, f"{client}: replay of {room}: {replay} != {msgs}"
    await client.expect_nothing(300)


async def send(client, room, text, receivers=(), id_=None):
    """msg from client; each receiver gets it. Returns the msg event."""
    a = await client.msg(room, text, id_)
    m = {"type": "msg", "room": room, "seq": a["seq"], "from": client.nick, "text": text,
         "ts": a["ts"]}
    for r in receivers:
        assert await r.recv_type("msg") == m
    return m


async def online_is(client, want, timeout=3.0):
    """Polls global who until online == want; returns the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        w = await client.request({"type": "who"}, "who")
        if w["online"] == want or loop.time() > deadline:
            return w
        await asyncio.sleep(0.1)


# ----------------------------------------------------------------------------- resume

@pytest.mark.parametrize("how", ["drop", "1001"])
@pytest.mark.parametrize("gw", ["A", "B"], ids=["same_gateway", "other_gateway"])
async def test_resume_restores_rooms_and_missed_messages(chat, gw, how):
    a = await chat.user("A")
    b = await chat.user("B")
    r1 = await chat.together(chat.room(), a, b)
    r2 = await chat.together(chat.room(), a, b)
    r3 = await chat.together(chat.room(), a, b)
    seen1 = (await send(b, r1, "before", [a]))["seq"]
    seen3 = (await send(b, r3, "before 3", [a]))["seq"]
    await lose(a, how)
    got = await b.recv_n(3, timeout=PRESENCE_WITHIN)
    assert sorted((p["type"], p["room"], p["nick"], p["event"], p["count"]) for p in got) == \
        sorted(("presence", r, a.nick, "leave", 1) for r in (r1, r2, r3))
    missed1 = [await send(b, r1, f"missed {i}") for i in range(3)]
    missed2 = [await send(b, r2, "missed in r2")]
    # r1: from the seq the client names; r2: not named, joined alone; r3: nothing new
    c, w = await resume(chat, gw, a, rooms={r1: seen1, r3: seen3, "not-mine": 0})
    assert w["resumed"] is True and w["nick"] == a.nick
    await restored(c, {r1: ([a.nick, b.nick], missed1[-1]["seq"], missed1),
                       r2: ([a.nick, b.nick], missed2[-1]["seq"], []),
                       r3: ([a.nick, b.nick], seen3, [])})
    got = await b.recv_n(3)
    assert sorted((p["type"], p["room"], p["nick"], p["event"], p["count"]) for p in got) == \
        sorted(("presence", r, a.nick, "join", 2) for r in (r1, r2, r3))
    # the resumed connection is a full member again, both ways
    await send(b, r1, "after", [c])
    await send(c, r2, "back", [b])
    assert (await c.request({"type": "who", "room": "not-mine"}, "who"))["members"] == []


async def test_resume_with_a_since_below_the_gap_replays_everything_missed(chat):
    a, b, room = await pair(chat)
    first = await send(b, room, "seen", [a])
    await lost(a, b, room)
    missed = [await send(b, room, f"m{i}") for i in range(5)]
    c, w = await resume(chat, "B", a, rooms={room: 0})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], missed[-1]["seq"], [first] + missed)})


async def test_resume_session_string_works_again(chat):
    a = await chat.user("A")
    room = chat.room()
    await a.join(room)
    a.drop()
    c, w = await resume(chat, "B", a, rooms={room: 0})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick], 0, [])})
    c.drop()
    d, w2 = await resume(chat, "A", c, rooms={room: 0})
    assert w2["resumed"] is True and w2["nick"] == a.nick
    await restored(d, {room: ([a.nick], 0, [])})


async def test_resume_nick_in_other_letter_case_keeps_the_sessions_nick(chat):
    a = await chat.user("A", nick=chat.nick("Mixed"))
    a.drop()
    await asyncio.sleep(0.3)
    c, w = await resume(chat, "A", a, nick=a.nick.upper())
    assert w["resumed"] is True and w["nick"] == a.nick


async def test_nick_is_reserved_during_grace(chat):
    a, b, room = await pair(chat)
    await lost(a, b, room)
    x = await chat.connect("B")
    await x.expect_error({"type": "hello", "nick": a.nick, "id": "n"}, "nick_taken")
    await x.expect_error({"type": "hello", "nick": a.nick.upper()}, "nick_taken")
    # a resume with the nick but another session is a new hello: nick_taken too
    await x.expect_error({"type": "hello", "nick": a.nick,
                          "resume": {"session": "0" * 32, "rooms": {room: 0}}}, "nick_taken")
    await b.expect_error({"type": "nick", "nick": a.nick, "id": "n2"}, "nick_taken")
    # DMs and DM typing are live: no connection, no such user
    await b.expect_error({"type": "dm", "to": a.nick, "text": "there?", "id": "d"},
                         "no_such_user")
    await b.expect_error({"type": "typing", "to": a.nick, "active": True}, "no_such_user")
    c, w = await resume(chat, "A", a, rooms={room: 0})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], 0, [])})
    await expect_join(b, room, a.nick, 2)
    await b.dm(a.nick, "welcome back")
    assert (await c.recv_type("dm"))["text"] == "welcome back"


async def test_close_1000_ends_the_session_and_frees_the_nick_at_once(chat):
    a, b, room = await pair(chat)
    await a.close(1000)
    await expect_leave(b, room, a.nick, 1)
    c, w = await resume(chat, "B", a, rooms={room: 0})
    assert w["resumed"] is False and w["session"] != a.session
    await c.expect_nothing(300)
    who = await c.request({"type": "who", "room": room}, "who")
    assert who["members"] == [b.nick]
    await b.expect_nothing(200)


async def test_takeover_closes_the_live_connection_with_4001(chat):
    a, b, room = await pair(chat)
    seen = (await send(b, room, "one", [a]))["seq"]
    c, w = await resume(chat, "B", a, rooms={room: seen})
    assert w["resumed"] is True and w["nick"] == a.nick
    assert await a.wait_closed() == 4001
    await restored(c, {room: ([a.nick, b.nick], seen, [])})
    # the old connection left and the new one joined
    await expect_leave(b, room, a.nick, 1)
    await expect_join(b, room, a.nick, 2)
    await send(b, room, "two", [c])
    w = await c.request({"type": "who", "id": "w"}, "who")
    assert w["users"].count(a.nick) == 1


async def test_takeover_on_the_same_gateway(chat):
    a = await chat.user("A")
    b = await chat.user("A")
    room = await chat.together(chat.room(), a, b)
    c, w = await resume(chat, "A", a, rooms={room: 0})
    assert w["resumed"] is True
    assert await a.wait_closed() == 4001
    await restored(c, {room: ([a.nick, b.nick], 0, [])})
    await expect_leave(b, room, a.nick, 1)
    await expect_join(b, room, a.nick, 2)
    await send(b, room, "only to the new one", [c])


async def test_resume_with_another_nick_is_a_new_session(chat):
    a, b, room = await pair(chat)
    await lost(a, b, room)
    other = chat.nick()
    c, w = await resume(chat, "B", a, rooms={room: 0}, nick=other)
    assert w["resumed"] is False and w["nick"] == other
    assert w["session"] != a.session
    await c.expect_nothing(300)   # no rooms
    await b.expect_nothing(200)   # no presence
    # a's session was not touched: it can still be resumed
    d, w2 = await resume(chat, "A", a, rooms={room: 0})
    assert w2["resumed"] is True
    await restored(d, {room: ([a.nick, b.nick], 0, [])})


async def test_resume_of_an_unknown_session_is_a_fresh_one(chat):
    c = await chat.connect("A")
    fake = "f" * 32
    room = chat.room()
    w = await c.hello(chat.nick(), resume={"session": fake, "rooms": {room: 3}})
    assert w["resumed"] is False
    assert isinstance(w["session"], str) and w["session"] and w["session"] != fake
    await c.expect_nothing(300)


async def test_retried_msg_after_resume_gets_the_original_ack(chat):
    a, b, room = await pair(chat)
    ack = await a.msg(room, "once", "m1")
    m = await b.recv_type("msg")
    assert (m["seq"], m["ts"]) == (ack["seq"], ack["ts"])
    await lost(a, b, room)
    c, w = await resume(chat, "B", a, rooms={room: ack["seq"]})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], ack["seq"], [])})
    await expect_join(b, room, a.nick, 2)
    again = await c.msg(room, "once (retried)", "m1")
    assert again == ack
    dm_ack = await c.dm(b.nick, "dm once", "d1")
    assert (await b.recv_type("dm"))["text"] == "dm once"
    await lost(c, b, room)
    d, _ = await resume(chat, "A", c, rooms={room: ack["seq"]})
    await restored(d, {room: ([a.nick, b.nick], ack["seq"], [])})
    await expect_join(b, room, a.nick, 2)
    assert await d.msg(room, "once", "m1") == ack
    assert await d.dm(b.nick, "dm once", "d1") == dm_ack
    await b.expect_nothing(500)   # neither is delivered twice


async def test_unacked_msg_at_the_drop_is_delivered_once_and_retry_gets_its_ack(chat):
    a, b, room = await pair(chat)
    await a.send({"type": "msg", "room": room, "text": "did it arrive?", "id": "lost"})
    m = await b.recv_type("msg")
    a.drop()                      # before a read its ack
    await expect_leave(b, room, a.nick, 1)
    c, w = await resume(chat, "B", a, rooms={room: m["seq"] - 1})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], m["seq"], [m])})
    ack = await c.msg(room, "did it arrive?", "lost")
    assert (ack["seq"], ack["ts"], ack["id"]) == (m["seq"], m["ts"], "lost")
    await expect_join(b, room, a.nick, 2)
    await b.expect_nothing(500)


async def test_typing_stops_and_online_drops_at_detach(hchat):
    chat = hchat
    chat.cluster.start(history="none")   # a cluster of its own: exact counts
    a, b, room = await pair(chat)
    before = 2
    await a.send({"type": "typing", "room": room, "active": True})
    await b.recv_type("typing")
    a.drop()
    got = await b.recv_set(["typing", "presence"], timeout=PRESENCE_WITHIN)
    assert got["typing"] == {"type": "typing", "room": room, "nick": a.nick, "active": False}
    assert got["presence"]["event"] == "leave"
    w = await online_is(b, before - 1)
    assert w["online"] == before - 1 and a.nick not in w["users"], w
    c, wel = await resume(chat, "A", a, rooms={room: 0})
    assert wel["resumed"] is True and wel["online"] == before, wel
    await restored(c, {room: ([a.nick, b.nick], 0, [])})
    await expect_join(b, room, a.nick, 2)
    w = await online_is(b, before)
    assert w["online"] == before and a.nick in w["users"], w


# ----------------------------------------------------------------------------- grace expiry

@pytest.fixture(scope="module")
def short_cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory,
                                broker_args=["--grace", str(SHORT_GRACE_MS)])


@pytest.fixture
def short(short_cluster):
    return Chat(short_cluster)


async def test_grace_expiry_frees_the_nick_and_the_session(short):
    a, b, room = await pair(short)
    t0 = time.monotonic()
    await lost(a, b, room)
    x = await short.connect("B")
    await x.expect_error({"type": "hello", "nick": a.nick}, "nick_taken")
    await asyncio.sleep(max(0.0, SHORT_GRACE_MS / 1000 + 0.5 - (time.monotonic() - t0)))
    c, w = await resume(short, "A", a, rooms={room: 0})
    assert w["resumed"] is False and w["session"] != a.session and w["nick"] == a.nick
    await c.expect_nothing(300)
    who = await c.request({"type": "who", "room": room}, "who")
    assert who["members"] == [b.nick]
    await b.expect_nothing(200)   # no presence join for a fresh session


async def test_nick_is_free_for_anyone_after_grace(short):
    a = await short.user("A")
    a.drop()
    await asyncio.sleep(SHORT_GRACE_MS / 1000 + 0.5)
    x = await short.user("B", nick=a.nick)
    assert x.welcome["resumed"] is False


async def test_resume_within_a_short_grace(short):
    a = await short.user("A")
    room = short.room()
    await a.join(room)
    await lose(a, "1001")
    await asyncio.sleep(SHORT_GRACE_MS / 1000 / 3)
    c, w = await resume(short, "B", a, rooms={room: 0})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick], 0, [])})
    # a new grace period starts at the next drop
    c.drop()
    await asyncio.sleep(SHORT_GRACE_MS / 1000 / 3)
    d, w = await resume(short, "A", c, rooms={room: 0})
    assert w["resumed"] is True


@pytest.fixture(scope="module")
def nograce_cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory, broker_args=["--grace", "0"])


@pytest.fixture
def nograce(nograce_cluster):
    return Chat(nograce_cluster)


async def test_grace_0_disables_resume(nograce):
    a, b, room = await pair(nograce)
    await lost(a, b, room)
    c, w = await resume(nograce, "B", a, rooms={room: 0})   # the nick is free at once
    assert w["resumed"] is False and w["session"] != a.session
    await c.expect_nothing(300)
    # no takeover either: a live session keeps its nick
    y = await nograce.connect("A")
    await y.expect_error({"type": "hello", "nick": c.nick, "resume": {"session": c.session}},
                         "nick_taken")


# ----------------------------------------------------------------------------- with history

async def test_resume_replays_messages_older_than_the_ring_from_sqlite(hchat):
    hchat.cluster.start(broker_args=["--ring", "3"])
    a, b, room = await pair(hchat)
    seen = (await send(b, room, "seen", [a]))["seq"]
    await lost(a, b, room)
    missed = [await send(b, room, f"missed {i}") for i in range(8)]
    c, w = await resume(hchat, "B", a, rooms={room: seen})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], missed[-1]["seq"], missed)})


async def test_msg_in_flight_at_the_drop_is_committed_and_retry_gets_its_ack(hchat):
    hchat.cluster.start(broker_args=["--ring", "3"])
    a, b, room = await pair(hchat)
    # the close follows the msg at once: it reaches the broker while the
    # message is still on its way through SQLite
    await a.send({"type": "msg", "room": room, "text": "in flight", "id": "f1"})
    await a.close(1001)
    got = await b.recv_n(2, timeout=PRESENCE_WITHIN)
    m = next(f for f in got if f["type"] == "msg")
    assert m["text"] == "in flight" and m["from"] == a.nick
    assert any(f["type"] == "presence" and f["event"] == "leave" for f in got), got
    c, w = await resume(hchat, "A", a, rooms={room: m["seq"]})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], m["seq"], [])})
    ack = await c.msg(room, "in flight", "f1")
    assert (ack["seq"], ack["ts"]) == (m["seq"], m["ts"])
    await expect_join(b, room, a.nick, 2)
    await b.expect_nothing(500)


# ----------------------------------------------------------------------------- gateway loss

async def lost_gateway_setup(hchat):
    """A cluster of this test only; a on gateway A and b on gateway B in a room."""
    hchat.cluster.start(history="none")
    a, b, room = await pair(hchat)
    seen = (await send(b, room, "before", [a]))["seq"]
    return a, b, room, seen


@pytest.mark.timeout_s(60)
async def test_gateway_killed_detaches_its_sessions_for_resume_elsewhere(hchat):
    a, b, room, seen = await lost_gateway_setup(hchat)
    t0 = time.monotonic()
    hchat.cluster.gateways["A"].kill()
    p = await b.recv_type("presence", timeout=GATEWAY_LOSS_WITHIN + 1)
    took = time.monotonic() - t0
    assert p == {"type": "presence", "room": room, "nick": a.nick, "event": "leave", "count": 1}
    assert took <= GATEWAY_LOSS_WITHIN, f"presence leave {took:.1f} s after the gateway died"
    x = await hchat.connect("B")
    await x.expect_error({"type": "hello", "nick": a.nick}, "nick_taken")
    missed = [await send(b, room, f"while gone {i}") for i in range(2)]
    c, w = await resume(hchat, "B", a, rooms={room: seen})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], missed[-1]["seq"], missed)})
    await expect_join(b, room, a.nick, 2)


@pytest.mark.timeout_s(60)
async def test_gateway_back_from_a_stall_closes_its_clients_1012_and_they_resume(hchat):
    a, b, room, seen = await lost_gateway_setup(hchat)
    gw = hchat.cluster.gateways["A"].p
    os.kill(gw.pid, signal.SIGSTOP)
    try:
        p = await b.recv_type("presence", timeout=GATEWAY_LOSS_WITHIN + 1)
        assert p == {"type": "presence", "room": room, "nick": a.nick, "event": "leave",
                     "count": 1}
        missed = [await send(b, room, "while stalled")]
    finally:
        os.kill(gw.pid, signal.SIGCONT)
    assert await a.wait_closed(RESET_CLOSE_WITHIN) == 1012
    c, w = await resume(hchat, "A", a, rooms={room: seen})
    assert w["resumed"] is True
    await restored(c, {room: ([a.nick, b.nick], missed[-1]["seq"], missed)})
    await expect_join(b, room, a.nick, 2)
