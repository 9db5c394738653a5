"""Durable history: the broker keeps room messages in SQLite (--history PATH).

Every test starts its own cluster (hchat fixture: one broker, gateways A and
B) on a database in its own tmp dir, with --ring 5 so that anything older
than the last 5 messages of a room, and everything after a restart, can only
come from SQLite. Restarts keep the gateways running: they see the new broker
instance and close their identified clients with 1012 (docs/architecture.md,
"The broker comes back"), after which clients identify again.
"""

import asyncio
import os
import sqlite3
import time

import pytest

from conftest import db_integrity, db_last_seq, db_rows

RING = ["--ring", "5"]
RESTART_CLOSE_TIMEOUT = 8.0   # broker gone -> identified clients closed with 1012
RECONNECT_TIMEOUT = 10.0


# ----------------------------------------------------------------------------- helpers

class Log:
    """What the broker acknowledged, per room: seq -> message as history shows it."""

    def __init__(self):
        self.rooms = {}
        self.ids = {}   # (room, seq) -> client id or None

    def add(self, room, ack, nick, text, id_=None):
        assert ack["type"] == "ack" and ack.get("room") == room, ack
        assert isinstance(ack.get("seq"), int) and isinstance(ack.get("ts"), int), ack
        msgs = self.rooms.setdefault(room, {})
        assert ack["seq"] not in msgs, f"seq {ack['seq']} of {room} acknowledged twice: {ack}"
        msgs[ack["seq"]] = {"seq": ack["seq"], "from": nick, "text": text, "ts": ack["ts"]}
        self.ids[(room, ack["seq"])] = id_

    def seqs(self, room):
        return sorted(self.rooms.get(room, {}))

    def history(self, room, lo=1, hi=None):
        """Messages with lo <= seq <= hi, ascending, in the wire format of history."""
        msgs = self.rooms.get(room, {})
        return [msgs[s] for s in sorted(msgs) if s >= lo and (hi is None or s <= hi)]

    def events(self, room, lo=1, hi=None):
        """history(room, lo, hi) as the msg events a replay delivers."""
        return [dict(m, type="msg", room=room) for m in self.history(room, lo, hi)]

    def rows(self):
        """What the messages table must hold, ordered like db_rows()."""
        out = []
        for room in sorted(self.rooms):
            for s in sorted(self.rooms[room]):
                m = self.rooms[room][s]
                out.append((room, s, m["from"], m["text"], m["ts"], self.ids[(room, s)]))
        return out


async def pair(hchat, *broker_args, history=None):
    """Starts the cluster (--ring 5 and broker_args; history as for
    HistoryCluster.start), identifies a on gateway A and b on gateway B and
    puts both in a new room. Returns (cluster, empty Log, room, a, b)."""
    cl = hchat.cluster.start(history=history, broker_args=RING + list(broker_args))
    room = hchat.room()
    a = await hchat.user("A")
    b = await hchat.user("B")
    await hchat.together(room, a, b)
    return cl, Log(), room, a, b


async def send(client, log, room, text, id_=None, receivers=()):
    """msg from client, acked; every receiver gets it as a msg event."""
    a = await client.msg(room, text, id_)
    log.add(room, a, client.nick, text, id_)
    want = {"type": "msg", "room": room, "seq": a["seq"], "from": client.nick, "text": text,
            "ts": a["ts"]}
    for r in receivers:
        got = await r.recv_type("msg")
        assert got == want, f"{r}: expected {want}, got {got}"
    return a


async def history(client, room, **kw):
    cmd = {"type": "history", "room": room, "id": "h"}
    cmd.update(kw)
    h = await client.request(cmd, "history")
    assert h["room"] == room and h.get("id") == "h", h
    seqs = [m["seq"] for m in h["messages"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), \
        f"history not in ascending seq order: {seqs}"
    return h["messages"]


async def expect_1012(*clients):
    """Every client is closed by its gateway with 1012 (service restarting)."""
    codes = await asyncio.gather(*(c.wait_closed(RESTART_CLOSE_TIMEOUT) for c in clients))
    for c, code in zip(clients, codes):
        assert code == 1012, \
            f"{c}: after the broker restarted, expected close 1012, got {code}; seen {c.seen[-5:]}"


async def identify(chat, gw, nick, timeout=RECONNECT_TIMEOUT):
    """A new connection to gw identified as nick, retrying while the gateway
    still answers `unavailable` (its link to the new broker not yet up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        c = await chat.connect(gw)
        try:
            w = await c.request({"type": "hello", "nick": nick})
        except AssertionError as e:   # closed (1012 of a link reset) or silent
            last = str(e)
            await c.close()
            await asyncio.sleep(0.2)
            continue
        if w["type"] == "welcome":
            c.nick, c.session, c.welcome = w["nick"], w.get("session"), w
            return c
        last = w
        await c.close()
        assert w["type"] == "error" and w["code"] == "unavailable", \
            f"hello {nick} on gw{gw} after a broker restart got {w}"
        await asyncio.sleep(0.2)
    raise AssertionError(f"could not identify {nick} on gw{gw} within {timeout} s: {last}")


async def rejoin(chat, room, old_clients, since=None):
    """Identifies the nick of each old client again on its gateway and joins
    room (members see presence). With since, the caller expects no replay
    (else it would precede presence)."""
    clients = [await identify(chat, old.gw, old.nick) for old in old_clients]
    joined = []
    for c in clients:
        extra = {} if since is None else {"since": since}
        joined.append(await c.join(room, **extra))
    for i, c in enumerate(clients):
        for _ in clients[i + 1:]:
            await c.recv_type("presence")
    return clients, joined


async def restart_and_rejoin(hchat, room, a, b, how="term", since=None):
    """Restarts the broker (SIGTERM or SIGKILL): a and b are closed with 1012,
    then identify again and rejoin room. Returns ((a, b), joined)."""
    hchat.cluster.restart_broker(how)
    await expect_1012(a, b)
    return await rejoin(hchat, room, (a, b), since)


async def recv_msgs(client, n):
    """The next n frames, each a msg event."""
    return [await client.recv_type("msg") for _ in range(n)]


async def expect_replay(client, log, room, lo, hi, what=None):
    """client receives exactly the messages lo..hi of room, in order, as msg
    events, and nothing after them."""
    got = await recv_msgs(client, hi - lo + 1)
    assert got == log.events(room, lo, hi), what
    await client.expect_nothing(300)


async def wait_rows(path, want, timeout=15, interval=0.25):
    """db_rows(path) as soon as it equals want, else after timeout seconds
    (retention runs in the background)."""
    deadline = time.monotonic() + timeout
    rows = db_rows(path)
    while rows != want and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        rows = db_rows(path)
    return rows


def check_db(path, log):
    """Every acknowledged message is in the table exactly once, as acked, and
    nothing else is; the file is sound."""
    rows = db_rows(path)
    keys = [(r[0], r[1]) for r in rows]
    assert len(keys) == len(set(keys)), f"duplicate rows: {rows}"
    assert rows == log.rows(), f"messages table differs from the acks:\n{rows}\n!=\n{log.rows()}"
    assert db_integrity(path) == "ok"


def stop_and_check_db(cl, log):
    """Stops the cluster cleanly, then check_db."""
    assert cl.stop() == []
    check_db(cl.db_path, log)


def db_journal_mode(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        con.close()


# ----------------------------------------------------------------------------- tests

@pytest.mark.timeout_s(40)
async def test_seq_and_history_survive_sigterm_and_sigkill_restarts(hchat):
    cl, log, room, a, b = await pair(hchat)
    for i in range(1, 9):  # 8 > ring 5
        sender, other = (a, b) if i % 3 else (b, a)
        await send(sender, log, room, f"before restart {i}", f"m{i}", [other])
    assert log.seqs(room) == list(range(1, 9))

    n = 8
    for how in ("term", "kill"):
        (a, b), joined = await restart_and_rejoin(hchat, room, a, b, how)
        for j in joined:
            assert j["seq"] == n, f"after SIG{how.upper()} restart joined says {j}, expected seq {n}"
        # Nothing in memory: all of this comes from SQLite.
        got = await history(a, room)
        assert got == log.history(room), f"history after SIG{how.upper()} restart"
        assert await history(b, room, before=4, limit=2) == log.history(room, 2, 3)
        for k in range(3):
            n += 1
            sender, other = (a, b) if k % 2 == 0 else (b, a)
            ack = await send(sender, log, room, f"after {how} {k}", f"{how}{k}", [other])
            assert ack["seq"] == n, f"seq after SIG{how.upper()} restart: {ack}, expected {n}"
        assert await history(b, room) == log.history(room)
    assert log.seqs(room) == list(range(1, n + 1))

    stop_and_check_db(cl, log)
    assert db_last_seq(cl.db_path, room) == n


async def test_join_since_after_restart_replays_from_sqlite(hchat):
    cl, log, room, a, b = await pair(hchat)
    for i in range(1, 9):
        await send(a, log, room, f"t{i}", None, [b])

    cl.restart_broker("term")
    await expect_1012(a, b)
    a = await identify(hchat, "A", a.nick)
    j = await a.join(room, since=2)
    assert j["seq"] == 8 and j["members"] == [a.nick], j
    await expect_replay(a, log, room, 3, 8,
                        "join since=2 after a restart must replay 3..8 from SQLite, in order")

    b = await identify(hchat, "B", b.nick)
    j = await b.join(room, since=1)
    assert j["seq"] == 8
    assert [m["seq"] for m in await recv_msgs(b, 7)] == list(range(2, 9))
    await a.recv_type("presence")
    # Three more (in the ring now): a join since 1 spans SQLite and the ring.
    for i in range(9, 12):
        await send(a, log, room, f"t{i}", f"x{i}", [b])
    c = await identify(hchat, "A", hchat.nick())
    j = await c.join(room, since=1)
    assert j["seq"] == 11
    await expect_replay(c, log, room, 2, 11)
    # since at the newest: nothing replayed
    d = await identify(hchat, "B", hchat.nick())
    assert (await d.join(room, since=11))["seq"] == 11
    await d.expect_nothing(300, skip=("presence",))

    stop_and_check_db(cl, log)


async def test_replay_max_limits_a_replay_from_sqlite_to_the_newest(hchat):
    cl, log, room, a, b = await pair(hchat, "--replay-max", "3")
    for i in range(1, 9):
        await send(b, log, room, f"q{i}", f"q{i}", [a])
    cl.restart_broker("term")
    await expect_1012(a, b)
    a = await identify(hchat, "A", a.nick)
    assert (await a.join(room, since=1))["seq"] == 8
    await expect_replay(a, log, room, 6, 8)
    stop_and_check_db(cl, log)


async def test_history_before_spans_ring_and_sqlite(hchat):
    cl, log, room, a, b = await pair(hchat)
    for i in range(1, 13):  # the ring holds 8..12, SQLite 1..12
        sender, other = (a, b) if i % 2 else (b, a)
        await send(sender, log, room, f"m {i} ü", f"i{i}", [other])

    assert await history(a, room) == log.history(room)
    assert await history(b, room, before=11, limit=6) == log.history(room, 5, 10)  # both
    assert await history(a, room, before=8, limit=50) == log.history(room, 1, 7)   # SQLite
    assert await history(b, room, before=13, limit=3) == log.history(room, 10, 12)  # ring
    assert await history(a, room, before=2, limit=5) == log.history(room, 1, 1)
    assert await history(a, room, before=1) == []
    assert await history(b, room, before=1000, limit=4) == log.history(room, 9, 12)

    stop_and_check_db(cl, log)


async def test_every_ack_is_stored_once_with_its_client_id(hchat):
    cl, log, r1, a, b = await pair(hchat)
    r2 = await hchat.together(hchat.room(), b, a)
    await send(a, log, r1, "with id", "a1", [b])
    await send(b, log, r1, "no id", None, [a])
    await send(b, log, r2, "other room", "b1", [a])
    await send(a, log, r2, "same id, other room", "a1x", [b])
    await send(b, log, r1, "quote ' and \" and ; DROP TABLE messages;--", "b'2", [a])
    # A retry of a1 is acknowledged again, same seq and ts, and stored once.
    first = log.rooms[r1][1]
    again = await a.request({"type": "msg", "room": r1, "text": "changed", "id": "a1"}, "ack")
    assert (again["seq"], again["ts"]) == (1, first["ts"]), again
    await b.expect_nothing(300)
    # A DM is not room history.
    await a.dm(b.nick, "psst", "d1")
    await b.recv_type("dm")
    # Pipelined messages: each acked once, in order.
    texts = [f"burst {i}" for i in range(20)]
    for i, t in enumerate(texts):
        await a.send({"type": "msg", "room": r1, "text": t, "id": f"p{i}"})
    acks = [await a.recv_type("ack") for _ in texts]
    assert [x["id"] for x in acks] == [f"p{i}" for i in range(20)]
    assert [x["seq"] for x in acks] == list(range(4, 24))
    for i, (t, x) in enumerate(zip(texts, acks)):
        log.add(r1, x, a.nick, t, f"p{i}")
    got = await recv_msgs(b, len(texts))
    assert [m["seq"] for m in got] == list(range(4, 24))

    stop_and_check_db(cl, log)
    rows = db_rows(cl.db_path)
    assert sum(1 for r in rows if r[5] == "a1") == 1
    assert [r for r in rows if r[5] is None] == [(r1, 2, b.nick, "no id", log.rooms[r1][2]["ts"],
                                                  None)]
    assert db_last_seq(cl.db_path, r1) == 23 and db_last_seq(cl.db_path, r2) == 2


async def test_history_none_is_volatile(hchat):
    """--history none: memory only (documented: lost on restart); seq restarts at 1."""
    cl, log, room, a, b = await pair(hchat, history="none")
    for i in range(1, 5):
        await send(a, log, room, f"v{i}", f"v{i}", [b])
    assert await history(b, room) == log.history(room)

    (a, b), joined = await restart_and_rejoin(hchat, room, a, b, since=2)
    assert [j["seq"] for j in joined] == [0, 0], joined
    await a.expect_nothing(300)
    assert await history(a, room) == []
    ack = await a.msg(room, "first again", "n1")
    assert ack["seq"] == 1, ack
    m = await b.recv_type("msg")
    assert m["seq"] == 1 and m["text"] == "first again"
    assert os.listdir(os.path.dirname(cl.db_path)) == ["logs"], "--history none wrote files"


@pytest.mark.timeout_s(30)
async def test_durability_normal_keeps_acked_messages_across_sigkill(hchat):
    cl, log, room, a, b = await pair(hchat, "--durability", "normal")
    for i in range(1, 8):
        sender, other = (a, b) if i % 2 else (b, a)
        await send(sender, log, room, f"n{i}", f"n{i}", [other])
    assert await history(a, room, before=5, limit=2) == log.history(room, 3, 4)

    # SIGKILL, a process crash: normal must survive it
    (a, b), joined = await restart_and_rejoin(hchat, room, a, b, "kill")
    assert [j["seq"] for j in joined] == [7, 7]
    assert await history(b, room) == log.history(room)
    await send(b, log, room, "n8", "n8", [a])
    assert log.seqs(room) == list(range(1, 9))

    stop_and_check_db(cl, log)
    assert db_journal_mode(cl.db_path) == "wal"


@pytest.mark.timeout_s(40)
async def test_retain_messages_keeps_newest_per_room_and_seq_goes_on(hchat):
    cl, log, r1, a, b = await pair(hchat, "--retain-messages", "3")
    r2 = await hchat.together(hchat.room(), a, b)
    for i in range(1, 9):
        await send(a, log, r1, f"r{i}", f"r{i}", [b])
    await send(b, log, r2, "only 1", "o1", [a])
    await send(b, log, r2, "only 2", "o2", [a])

    # Retention runs at most every 10 s: poll the file for up to 15 s.
    want = [row for row in log.rows() if row[0] != r1 or row[1] >= 6]
    rows = await wait_rows(cl.db_path, want)
    assert rows == want, "after retention the table must hold the newest 3 of r1 and all of r2"
    assert db_last_seq(cl.db_path, r1) == 8

    ack = await send(b, log, r1, "r9", "r9", [a])
    assert ack["seq"] == 9
    # After a restart the seq goes on from rooms.last_seq, not from the rows left.
    (a, b), joined = await restart_and_rejoin(hchat, r1, a, b)
    assert [j["seq"] for j in joined] == [9, 9]
    # (The new broker's first retention pass, ~1 s after its start, may already
    # have deleted seq 6 = 9 - 3.)
    got = await history(a, r1)
    assert got in (log.history(r1, 6, 9), log.history(r1, 7, 9)), \
        f"after a restart history comes from SQLite and deleted messages stay deleted: {got}"
    ack = await send(a, log, r1, "r10", "r10", [b])
    assert ack["seq"] == 10

    assert cl.stop() == []
    seqs = [r[1] for r in db_rows(cl.db_path, r1)]
    assert seqs and seqs == list(range(seqs[0], 11)) and 6 <= seqs[0] <= 8, seqs
    assert all(r in log.rows() for r in db_rows(cl.db_path))
    assert db_integrity(cl.db_path) == "ok"


async def test_broker_restart_closes_identified_clients_1012_then_they_continue(hchat):
    cl, log, room, a, b = await pair(hchat)
    await send(a, log, room, "one", "1", [b])
    await send(b, log, room, "two", "2", [a])
    anon = await hchat.connect("B")     # connected, never identified
    await anon.ping()

    cl.restart_broker("term")
    await expect_1012(a, b)
    # The unidentified connection is not a session: it stays open and can identify.
    await anon.ping()
    # Old sessions are gone: the same nicks are free again, with fresh sessions.
    a2 = await identify(hchat, "A", a.nick)
    assert a2.welcome["resumed"] is False and a2.session != a.session
    b2 = await identify(hchat, "B", b.nick)
    await anon.hello(hchat.nick())
    # Not a member of anything any more: rooms must be joined again.
    await a2.expect_error({"type": "msg", "room": room, "text": "x", "id": "e"}, "not_in_room")
    j = await a2.join(room, since=2)
    assert j["seq"] == 2 and j["members"] == [a2.nick]
    await a2.expect_nothing(300)
    await b2.join(room, since=1)
    assert await recv_msgs(b2, 1) == log.events(room, 2, 2)
    await a2.recv_type("presence")
    await send(b2, log, room, "three", "3", [a2])
    assert log.seqs(room) == [1, 2, 3]

    stop_and_check_db(cl, log)


async def test_retain_days_deletes_old_messages_and_keeps_seq(hchat):
    cl, log, room, a, b = await pair(hchat)
    for i in range(1, 8):
        await send(a, log, room, f"d{i}", f"d{i}", [b])
    cl.stop_broker("term")
    # Make 1..5 ten days old (the broker is stopped: nobody else writes).
    old = int(time.time() * 1000) - 10 * 86400 * 1000
    con = sqlite3.connect(cl.db_path)
    with con:
        con.execute("UPDATE messages SET ts = ? WHERE room = ? AND seq <= 5", (old, room))
    con.close()
    for s in range(1, 6):
        log.rooms[room][s]["ts"] = old

    cl.start_broker(["--retain-days", "1"])
    await expect_1012(a, b)
    want = [row for row in log.rows() if row[1] >= 6]
    rows = await wait_rows(cl.db_path, want, interval=0.2)
    assert rows == want, "--retain-days 1 must delete the messages older than a day, only them"
    (a, b), joined = await rejoin(hchat, room, (a, b))
    assert [j["seq"] for j in joined] == [7, 7]
    assert await history(a, room) == log.history(room, 6, 7)
    c = await identify(hchat, "B", hchat.nick())
    assert (await c.join(room, since=0))["seq"] == 7
    assert await recv_msgs(c, 2) == log.events(room, 6, 7)
    for x in (a, b):
        await x.recv_type("presence")
    ack = await send(b, log, room, "d8", "d8", [a, c])
    assert ack["seq"] == 8

    assert cl.stop() == []
    assert db_rows(cl.db_path) == [row for row in log.rows() if row[1] >= 6]
    assert db_integrity(cl.db_path) == "ok"


@pytest.mark.parametrize("store", ["sqlite", "none"])
async def test_a_command_pipelined_after_a_msg_sees_it(hchat, store):
    """Commands of a connection are handled in the order sent (PROTOCOL.md):
    a history or who sent right after a msg, without waiting for its ack, is
    answered after that ack and the history includes the message. Holds with
    --history none; checked with SQLite too."""
    cl, _, room, a, b = await pair(hchat, history="none" if store == "none" else None)
    for k in range(1, 4):
        await a.send({"type": "msg", "room": room, "text": f"p{k}", "id": f"m{k}"})
        await a.send({"type": "history", "room": room, "id": f"h{k}"})
        await a.send({"type": "ping", "id": f"p{k}"})
        frames = [await a.recv() for _ in range(3)]
        got = [(f["type"], f.get("id")) for f in frames]
        assert got == [("ack", f"m{k}"), ("history", f"h{k}"), ("pong", f"p{k}")], \
            f"replies out of command order with --history {store}: {got}"
        assert [m["seq"] for m in frames[1]["messages"]] == list(range(1, k + 1)), \
            f"a history sent after msg {k} does not include it: {frames[1]}"
        assert (await b.recv_type("msg"))["seq"] == k
    assert cl.stop() == []
