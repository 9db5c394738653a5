"""Broker crashes under load, with durable SQLite history.

One broker (`--history <tmp>/chat.db`, parametrized `--durability full` and
`normal`) and gateways A and B. Six clients, three on each gateway, each in
two of three rooms, send messages continuously (a few in flight at once),
each with a unique id "<client>-<n>" that also appears in its text. Meanwhile
the test SIGKILLs the broker five times at random moments (0.3-2 s after it
was (re)started) and starts it again on the same endpoint and the same file.

The clients cope as a real client would: on a close (1012 "service
restarting" is the expected one), a lost connection, an `unavailable` or
`not_identified` error or a reply that never comes, they reconnect (to
either gateway), say hello again (a new nick only if the old one is taken),
join their rooms again with `since` = the last seq they saw, and go on
sending NEW ids. Nothing is ever retried.

What may happen to a message, by what its sender saw:

- acknowledged (`ack` with room, seq, ts): it is stored, exactly once, with
  that seq, ts, nick and text, whatever crashes follow ("full": also across
  a power loss; "normal": across a process crash, which is what is tested).
- answered with an error (`unavailable`, `not_identified`): nothing was
  accepted, so it is not in the table.
- unacknowledged (no answer before the connection ended, e.g. the broker
  was killed with it in flight): it may be stored or not. If stored, it is
  there exactly once, in its room, with its text and a seq of its own. In
  no case is it delivered to anyone without being stored: every `msg`
  event any client received, live or in a `join since` replay, is in the
  table with that seq, nick, text and ts.

After the last restart and a quiet period in which every client gets acks
again, the clients stop (every message still in flight must be answered),
then:

1. a fresh client joins each room: `joined.seq` is the table's last seq,
   and `history` (paged back to seq 1 with `before`) returns exactly the
   table's rows, the first page (limit 200) and the default page (50)
   being the newest ones;
2. the broker gets SIGTERM and must exit 0;
3. the SQLite file: `PRAGMA integrity_check` is ok; no (room, seq) twice;
   each room's seqs are 1..last with no gap or duplicate (seq goes up by 1)
   and `rooms.last_seq` equals the last; no client id twice; every row is a
   message some client sent (same room, nick, text); every acked message is
   there once by client id and by (room, seq) with the acked seq, ts and
   text; acked seqs are distinct within a room; errored ids are absent;
   every received `msg` event matches its row;
4. the broker is started again on the file (a clean restart) and a fresh
   client's history again equals the table.

Checked live, on each connection: acks and `msg` events of one room arrive
in strictly increasing seq; acks come in the order the messages were sent; an ack's seq is above every seq acked in that
room before the message was sent (no seq reused after a restart);
`joined.seq` is at least the room's highest acked seq; a `join` with
`since` replays exactly since+1 .. joined.seq in order; no unexpected
frames or error codes.

Set CHAT_CRASH_SEED to replay a schedule (the seed is printed on failure).
"""

import asyncio
import collections
import json
import os
import random
import sqlite3
import time

import pytest
import websockets.exceptions

from conftest import Proc, cluster_lifetime, describe_rc, new_nick, new_room

N_CLIENTS = 6
N_ROOMS = 3
KILLS = 5
KILL_DELAY = (0.3, 2.0)      # broker uptime before each SIGKILL
DEAD_TIME = (0.0, 0.3)       # broker downtime before the restart
WARMUP = 1.0                 # s of sending before the first kill's delay starts
WINDOW = 8                   # messages in flight per connection
SEND_GAP = (0.002, 0.02)     # s between two sends of one client
CONTROL_TIMEOUT = 5.0        # s for welcome / joined
STALL = 6.0                  # s without an answer to a message: reconnect
QUIET_MIN = 2.0              # s of quiet after the last restart, at least
QUIET_ACKS = 15              # acks each client must get after the last restart
QUIET_MAX = 20.0             # s to get them
DRAIN = 5.0                  # s for in-flight messages to be answered at the stop
RECONNECT_ON = ("unavailable", "not_identified")
PAGE = 200

SEED = int(os.environ.get("CHAT_CRASH_SEED") or random.randrange(1, 10**9))


@pytest.fixture(params=["full", "normal"])
def cluster(request, tmp_path_factory):
    """A cluster of its own per durability mode, its broker on a fresh file."""
    dbdir = tmp_path_factory.mktemp(f"crashdb-{request.param}")
    db = os.path.join(str(dbdir), "chat.db")
    args = ["--history", db, "--durability", request.param, "--log-level", "info"]
    for c in cluster_lifetime(request, tmp_path_factory, broker_args=args,
                              gateway_args=["--log-level", "info"]):
        c.db_path = db
        c.durability = request.param
        yield c


# --------------------------------------------------------------------------- bookkeeping

class Sent:
    __slots__ = ("id", "n", "room", "text", "nick", "t", "floor")

    def __init__(self, id_, n, room, text, nick, t, floor):
        self.id, self.n, self.room, self.text, self.nick = id_, n, room, text, nick
        self.t = t          # time.monotonic() when sent
        self.floor = floor  # the room's highest acked seq when sent


class Run:
    """State shared by the clients and the crash schedule."""

    def __init__(self, chat, rng):
        self.chat = chat
        self.rng = rng
        self.t0 = time.monotonic()
        self.max_acked = collections.defaultdict(int)  # room -> highest acked seq
        self.problems = []                             # protocol violations seen live
        self.events = []                               # kills, restarts (for the report)
        self.last_restart = None                       # time.monotonic() of the last restart
        self.settled_after = None                      # msgs sent after this must be answered

    def now(self):
        return time.monotonic() - self.t0

    def problem(self, text):
        self.problems.append(f"[{self.now():6.2f}s] {text}")


class Conn:
    """One WebSocket connection of a worker."""

    def __init__(self, client, gw, n):
        self.c = client
        self.gw = gw
        self.label = f"conn{n}@{gw}"
        self.nick = None
        self.waiters = {}                 # control id -> future
        self.join_since = {}              # join id -> since (or None)
        self.outstanding = {}             # msg id -> Sent
        self.last = {}                    # room -> last seq seen here (acks and msgs)
        self.joined_seq = {}              # room -> seq in joined
        self.replay = {}                  # room -> deque of seqs the replay still owes
        self.end = None                   # why the connection ended
        self.trouble = None               # error code that makes us reconnect
        self.changed = asyncio.Event()


class Worker:
    def __init__(self, run, idx, rooms):
        self.run = run
        self.idx = idx
        self.name = f"c{idx}"
        self.home = idx % 2               # 0: A, 1: B
        self.rooms = rooms
        self.nick = new_nick(self.name)
        self.n = 0
        self.nconn = 0
        self.stop = False
        self.sent = {}                    # id -> Sent
        self.acks = {}                    # id -> (room, seq, ts)
        self.errors = []                  # (id or command, code, room)
        self.unacked = set()
        self.received = []                # (room, seq, from, text, ts, conn label)
        self.closes = collections.Counter()
        self.reasons = collections.Counter()
        self.last_seen = {}               # room -> highest seq seen (for since)

    def acks_since(self, t):
        return sum(1 for id_ in self.acks if self.sent[id_].t > t)

    # ---- frames

    def on_frame(self, conn, obj):
        run = self.run
        t = obj.get("type")
        id_ = obj.get("id")
        where = f"{self.name} {conn.label} ({conn.nick})"
        if t == "ack":
            rec = conn.outstanding.pop(id_, None)
            if rec is None:
                run.problem(f"{where}: ack for an id not in flight: {obj}")
                return
            room, seq, ts = obj.get("room"), obj.get("seq"), obj.get("ts")
            if room != rec.room or not isinstance(seq, int) or not isinstance(ts, int):
                run.problem(f"{where}: sent msg {rec.id} to {rec.room}, got ack {obj}")
            self.acks[rec.id] = (room, seq, ts)
            earlier = [o.id for o in conn.outstanding.values()
                       if o.room == rec.room and o.n < rec.n]
            if earlier:
                run.problem(f"{where}: ack of {rec.id} came before the answers to {earlier}, "
                            f"sent earlier to {rec.room} on this connection")
            if isinstance(seq, int):
                if seq <= rec.floor:
                    run.problem(f"{where}: msg {rec.id} to {room} acked with seq {seq}, but seq "
                                f"{rec.floor} had been acked in that room before it was sent "
                                "(seq reused)")
                self.seen_seq(conn, room, seq, f"ack of {rec.id}", live=True)
                if seq > run.max_acked[room]:
                    run.max_acked[room] = seq
        elif t == "msg":
            room, seq = obj.get("room"), obj.get("seq")
            self.received.append((room, seq, obj.get("from"), obj.get("text"), obj.get("ts"),
                                  conn.label))
            if room not in conn.joined_seq:
                run.problem(f"{where}: msg event for a room not joined here: {obj}")
            elif isinstance(seq, int):
                pend = conn.replay.get(room)
                if seq <= conn.joined_seq[room] and pend:
                    skipped = []
                    while pend and pend[0] < seq:
                        skipped.append(pend.popleft())
                    if pend and pend[0] == seq:
                        pend.popleft()
                    if skipped:
                        run.problem(f"{where}: join replay of {room} skipped seqs "
                                    f"{skipped[:10]}{'...' if len(skipped) > 10 else ''} "
                                    f"({len(skipped)}), then sent {obj}")
                self.seen_seq(conn, room, seq, "msg event", live=seq > conn.joined_seq[room])
            else:
                run.problem(f"{where}: msg event without an integer seq: {obj}")
        elif t == "error":
            code = obj.get("code")
            rec = conn.outstanding.pop(id_, None) if id_ is not None else None
            if rec is not None:
                self.errors.append((rec.id, code, rec.room))
                if code in RECONNECT_ON:
                    conn.trouble = conn.trouble or code
                else:
                    run.problem(f"{where}: msg {rec.id} to {rec.room}: unexpected error {obj}")
            elif id_ in conn.waiters:
                conn.waiters.pop(id_).set_result(obj)
            else:
                run.problem(f"{where}: error frame for nothing we sent: {obj}")
        elif t in ("welcome", "joined") and id_ in conn.waiters:
            if t == "joined":
                room, seq = obj.get("room"), obj.get("seq")
                since = conn.join_since.get(id_)
                if not isinstance(seq, int):
                    run.problem(f"{where}: joined without an integer seq: {obj}")
                    seq = 0
                conn.joined_seq[room] = seq
                if since is not None and seq < since:
                    run.problem(f"{where}: joined {room} says seq {seq}, but seq {since} had "
                                "been delivered there")
                if since is not None and since < seq:
                    conn.replay[room] = collections.deque(range(since + 1, seq + 1))
                conn.last[room] = since if since is not None else seq
            conn.waiters.pop(id_).set_result(obj)
        elif t in ("presence", "online", "typing", "nick", "pong"):
            pass
        else:
            run.problem(f"{where}: unexpected frame {obj}")
        conn.changed.set()

    def seen_seq(self, conn, room, seq, what, live):
        """Per connection and room, seqs (acks and msgs) strictly increase."""
        last = conn.last.get(room, 0)
        if seq <= last:
            self.run.problem(f"{self.name} {conn.label}: {what} in {room} has seq {seq}, "
                             f"not above the previous {last} on this connection")
        conn.last[room] = max(last, seq)
        if seq > self.last_seen.get(room, 0):
            self.last_seen[room] = seq
        if live and conn.replay.get(room):
            self.run.problem(f"{self.name} {conn.label}: join replay of {room} incomplete: "
                             f"seqs {list(conn.replay[room])[:10]} never came before {what} "
                             f"with seq {seq}")
            conn.replay[room].clear()

    async def reader(self, conn):
        try:
            while True:
                raw = await conn.c.ws.recv()
                if isinstance(raw, bytes):
                    self.run.problem(f"{self.name} {conn.label}: binary frame {raw[:80]!r}")
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError:
                    self.run.problem(f"{self.name} {conn.label}: non-JSON frame {raw[:200]!r}")
                    continue
                self.on_frame(conn, obj)
        except websockets.exceptions.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else None
            conn.end = conn.end or f"closed {code}"
            self.closes[code] += 1
        finally:
            conn.end = conn.end or "reader ended"
            for f in conn.waiters.values():
                if not f.done():
                    f.set_result(None)
            conn.waiters.clear()
            conn.changed.set()

    # ---- commands

    async def control(self, conn, cmd, kind):
        """Sends a hello / join and waits for its reply: the frame, or None if
        the connection ended or no reply came."""
        self.n += 1
        id_ = f"{kind}{self.n}"
        cmd = dict(cmd, id=id_)
        fut = asyncio.get_running_loop().create_future()
        conn.waiters[id_] = fut
        if cmd["type"] == "join":
            conn.join_since[id_] = cmd.get("since")
        try:
            await conn.c.send(cmd)
        except websockets.exceptions.ConnectionClosed:
            return None
        try:
            return await asyncio.wait_for(fut, CONTROL_TIMEOUT)
        except asyncio.TimeoutError:
            self.reasons[f"no reply to {cmd['type']}"] += 1
            return None

    async def send_loop(self, conn):
        run = self.run
        k = 0
        while conn.end is None and conn.trouble is None:
            if self.stop:
                return
            if len(conn.outstanding) >= WINDOW:
                oldest = min(r.t for r in conn.outstanding.values())
                if time.monotonic() - oldest > STALL:
                    self.reasons["stalled"] += 1
                    if run.settled_after is not None and oldest > run.settled_after:
                        run.problem(f"{self.name} {conn.label}: no answer within {STALL} s to "
                                    f"{sorted(conn.outstanding)} (sent after the last restart)")
                    return
                conn.changed.clear()
                try:
                    await asyncio.wait_for(conn.changed.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
                continue
            self.n += 1
            k += 1
            id_ = f"{self.name}-{self.n}"
            room = self.rooms[k % len(self.rooms)]
            text = f"{id_} from {conn.nick} to {room} \u2192 #{k} " + "x" * run.rng.randrange(0, 40)
            rec = Sent(id_, self.n, room, text, conn.nick, time.monotonic(), run.max_acked[room])
            self.sent[id_] = rec
            conn.outstanding[id_] = rec
            try:
                await conn.c.send({"type": "msg", "room": room, "text": text, "id": id_})
            except websockets.exceptions.ConnectionClosed:
                return
            await asyncio.sleep(run.rng.uniform(*SEND_GAP))

    async def drain(self, conn):
        """At the stop: every message in flight must be answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN
        while conn.outstanding and conn.end is None and loop.time() < deadline:
            conn.changed.clear()
            try:
                await asyncio.wait_for(conn.changed.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        if conn.outstanding:
            self.run.problem(f"{self.name} {conn.label}: at the stop (broker up for a while), "
                             f"no answer within {DRAIN} s to {sorted(conn.outstanding)[:10]} "
                             f"({conn.end or 'connection open'})")

    # ---- one connection

    async def one_connection(self, gw):
        self.nconn += 1
        try:
            client = await asyncio.wait_for(self.run.chat.connect(gw), 3)
        except Exception as e:  # refused, timed out, handshake failed: try again
            self.reasons[f"connect: {type(e).__name__}"] += 1
            return
        conn = Conn(client, gw, self.nconn)
        reader = asyncio.create_task(self.reader(conn))
        try:
            w = await self.control(conn, {"type": "hello", "nick": self.nick}, "h")
            if w is None:
                return
            if w["type"] != "welcome":
                self.errors.append(("hello", w.get("code"), None))
                self.reasons[f"hello: {w.get('code')}"] += 1
                if w.get("code") == "nick_taken":
                    self.nick = new_nick(self.name)
                elif w.get("code") not in RECONNECT_ON:
                    self.run.problem(f"{self.name} {conn.label}: hello got {w}")
                return
            conn.nick = w["nick"]
            for room in self.rooms:
                cmd = {"type": "join", "room": room}
                if room in self.last_seen:
                    cmd["since"] = self.last_seen[room]
                floor = self.run.max_acked[room]
                j = await self.control(conn, cmd, "j")
                if j is None:
                    return
                if j["type"] != "joined":
                    self.errors.append(("join", j.get("code"), room))
                    self.reasons[f"join: {j.get('code')}"] += 1
                    if j.get("code") not in RECONNECT_ON:
                        self.run.problem(f"{self.name} {conn.label}: join {room} got {j}")
                    return
                if isinstance(j.get("seq"), int) and j["seq"] < floor:
                    self.run.problem(f"{self.name} {conn.label}: joined {room} says seq "
                                     f"{j['seq']}, but seq {floor} had been acked there")
            await self.send_loop(conn)
            if self.stop and conn.end is None and conn.trouble is None:
                await self.drain(conn)
        finally:
            if conn.trouble:
                self.reasons[conn.trouble] += 1
            if conn.end is None:
                try:
                    await asyncio.wait_for(client.ws.close(1000), 2)
                except Exception:
                    client.ws.transport.abort()
            try:
                await asyncio.wait_for(reader, 2)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
            self.unacked.update(conn.outstanding)
            conn.outstanding.clear()

    async def main(self):
        attempt = 0
        while not self.stop:
            gw = "AB"[(self.home + attempt) % 2]
            attempt += 1
            await self.one_connection(gw)
            if not self.stop:
                await asyncio.sleep(self.run.rng.uniform(0.05, 0.25))


# --------------------------------------------------------------------------- the broker

def kill_broker(cluster):
    """SIGKILL. Fails if the broker had died on its own."""
    b = cluster.broker
    assert b.alive(), f"the broker died on its own ({describe_rc(b.p.returncode)})\n" \
        + cluster.logs()
    b.kill()
    assert b.p.returncode == -9, describe_rc(b.p.returncode)


def start_broker(cluster, label):
    """A new broker process with the same arguments (endpoint and file)."""
    old = cluster.broker
    cluster.broker = Proc("broker", old.argv,
                          os.path.join(cluster.logdir, f"broker.{cluster.generation}.{label}.log"))


async def crash_schedule(cluster, run):
    await asyncio.sleep(WARMUP)
    for k in range(1, KILLS + 1):
        await asyncio.sleep(run.rng.uniform(*KILL_DELAY))
        for name in cluster.gw_names:
            g = cluster.gateways[name]
            assert g.alive(), f"gateway {name} died ({describe_rc(g.p.returncode)})\n" \
                + cluster.logs()
        kill_broker(cluster)
        run.events.append(f"{run.now():.2f}s kill {k}")
        await asyncio.sleep(run.rng.uniform(*DEAD_TIME))
        start_broker(cluster, f"restart{k}")
        run.last_restart = time.monotonic()
        run.events.append(f"{run.now():.2f}s restart {k}")


# --------------------------------------------------------------------------- fresh clients

async def fresh_history(chat, gw, rooms, tries_for=15.0):
    """A new client joins every room and reads all of its history, paging
    back with before. Returns {room: (joined seq, default page, first page,
    every message as returned, oldest page first)}. Retries (a new
    connection) while the gateways are still meeting a new broker: a 1012
    close, `unavailable`, `not_identified`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + tries_for
    while True:
        c = None
        try:
            c = await chat.connect(gw)
            await c.hello(new_nick("fresh"))
            out = {}
            for room in rooms:
                j = await c.join(room)
                default = await c.request({"type": "history", "room": room, "id": "hd"},
                                          "history", skip=("presence",))
                pages, before = [], None
                for _ in range(1000):
                    cmd = {"type": "history", "room": room, "limit": PAGE, "id": "hp"}
                    if before is not None:
                        cmd["before"] = before
                    page = (await c.request(cmd, "history", skip=("presence",)))["messages"]
                    if not page:
                        break
                    pages.append(page)
                    low = min(m["seq"] for m in page)
                    if low <= 1 or (before is not None and low >= before):
                        break
                    before = low
                every = [m for page in reversed(pages) for m in page]
                out[room] = (j["seq"], default["messages"], pages[0] if pages else [], every)
            await c.close(1000)
            return out
        except (AssertionError, OSError, asyncio.TimeoutError,
                websockets.exceptions.WebSocketException):
            if c is not None:
                c.drop()
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.3)


def compare_history(label, hist, rows_by_room, failures):
    for room, (jseq, default, first, every) in hist.items():
        rows = rows_by_room.get(room, [])
        want = [{"seq": r[1], "from": r[2], "text": r[3], "ts": r[4]} for r in rows]
        top = want[-1]["seq"] if want else 0
        if jseq != top:
            failures.append(f"{label}: joined {room} says seq {jseq}, the table's last is {top}")
        got = [{k: m.get(k) for k in ("seq", "from", "text", "ts")} for m in every]
        if got != want:
            gs = {m["seq"]: m for m in got}
            ws = {m["seq"]: m for m in want}
            missing = sorted(set(ws) - set(gs))[:10]
            extra = sorted(set(gs) - set(ws))[:10]
            differ = [(ws[s], gs[s]) for s in sorted(set(ws) & set(gs)) if ws[s] != gs[s]][:3]
            failures.append(f"{label}: history of {room} (paged) differs from the table: "
                            f"{len(got)} messages vs {len(want)} rows; missing seqs {missing}, "
                            f"extra seqs {extra}, differing {differ}")
        if [{k: m.get(k) for k in ("seq", "from", "text", "ts")} for m in first] != want[-PAGE:]:
            failures.append(f"{label}: history of {room} with limit {PAGE} is not the table's "
                            f"newest {PAGE}: got seqs {[m['seq'] for m in first][:5]}.."
                            f" expected {[m['seq'] for m in want[-PAGE:]][:5]}..")
        if [{k: m.get(k) for k in ("seq", "from", "text", "ts")} for m in default] != want[-50:]:
            failures.append(f"{label}: default history of {room} is not the table's newest 50: "
                            f"got seqs {[m['seq'] for m in default]}")


# --------------------------------------------------------------------------- the test

def check_table(db, workers, failures):
    """The SQLite checks. Returns rows by room (ascending seq) and stats."""
    con = sqlite3.connect(db)
    try:
        ic = [r[0] for r in con.execute("PRAGMA integrity_check")]
        if ic != ["ok"]:
            failures.append(f"PRAGMA integrity_check: {ic[:10]}")
        rows = con.execute("SELECT room, seq, nick, text, ts, client_id FROM messages"
                           " ORDER BY room, seq").fetchall()
        last_seq = dict(con.execute("SELECT name, last_seq FROM rooms").fetchall())
        dup_keys = con.execute("SELECT room, seq, count(*) FROM messages GROUP BY room, seq"
                               " HAVING count(*) > 1").fetchall()
        dup_ids = con.execute("SELECT client_id, count(*) FROM messages WHERE client_id IS NOT"
                              " NULL GROUP BY client_id HAVING count(*) > 1").fetchall()
    finally:
        con.close()
    if dup_keys:
        failures.append(f"(room, seq) stored more than once: {dup_keys[:10]}")
    if dup_ids:
        failures.append(f"client ids stored more than once: {dup_ids[:10]}")

    rows_by_room = collections.defaultdict(list)
    by_key, by_cid = {}, collections.defaultdict(list)
    for r in rows:
        rows_by_room[r[0]].append(r)
        by_key[(r[0], r[1])] = r
        by_cid[r[5]].append(r)

    # seq goes up by 1: each room holds exactly 1..last, and rooms.last_seq is that last
    for room, rs in rows_by_room.items():
        seqs = [r[1] for r in rs]
        if seqs != list(range(1, len(seqs) + 1)):
            gaps = sorted(set(range(1, max(seqs) + 1)) - set(seqs))[:10]
            failures.append(f"room {room}: seqs are not 1..{max(seqs)} without gaps or "
                            f"duplicates ({len(seqs)} rows; missing {gaps})")
        if last_seq.get(room) != max(seqs):
            failures.append(f"room {room}: rooms.last_seq is {last_seq.get(room)}, the highest "
                            f"stored seq is {max(seqs)}")

    sent = {}
    for w in workers:
        sent.update(w.sent)
    # every row is a message a client sent, with its room, nick and text
    for r in rows:
        s = sent.get(r[5])
        if s is None:
            failures.append(f"row {r[:2]} has client_id {r[5]!r}, which no client sent: {r}")
        elif (r[0], r[2], r[3]) != (s.room, s.nick, s.text):
            failures.append(f"row {r} does not match what {s.id} sent: room {s.room}, "
                            f"nick {s.nick}, text {s.text!r}")

    # acknowledged: stored once, with the acked seq and ts; acked seqs distinct per room
    acked_keys = collections.defaultdict(list)
    for w in workers:
        for id_, (room, seq, ts) in w.acks.items():
            s = w.sent[id_]
            acked_keys[(room, seq)].append(id_)
            rs = by_cid.get(id_, [])
            if len(rs) != 1:
                failures.append(f"acked msg {id_} (room {room}, seq {seq}, ts {ts}) is stored "
                                f"{len(rs)} times: {rs}")
                continue
            r = rs[0]
            if (r[0], r[1], r[4], r[3], r[2]) != (room, seq, ts, s.text, s.nick):
                failures.append(f"acked msg {id_}: ack said room {room} seq {seq} ts {ts}, "
                                f"text {s.text!r} by {s.nick}; the table has {r}")
            k = by_key.get((room, seq))
            if k is None or k[5] != id_:
                failures.append(f"acked msg {id_}: ({room}, {seq}) in the table is {k}")
    for key, ids in acked_keys.items():
        if len(ids) > 1:
            failures.append(f"({key[0]}, seq {key[1]}) acknowledged to several messages: {ids}")

    # errors: nothing was accepted
    for w in workers:
        for id_, code, room in w.errors:
            if id_ in sent and by_cid.get(id_):
                failures.append(f"msg {id_} to {room} was answered {code} (nothing accepted) "
                                f"but is stored: {by_cid[id_]}")

    # unacknowledged: stored at most once (dup_ids above), or not at all
    unacked_stored = sum(1 for w in workers for i in w.unacked if by_cid.get(i))
    unacked = sum(len(w.unacked) for w in workers)

    # delivered => stored, with that seq, nick, text and ts
    nrecv = 0
    for w in workers:
        for room, seq, frm, text, ts, label in w.received:
            nrecv += 1
            r = by_key.get((room, seq))
            if r is None or (r[2], r[3], r[4]) != (frm, text, ts):
                failures.append(f"{w.name} {label} received msg room {room} seq {seq} from {frm} "
                                f"text {text!r} ts {ts}; the table has {r}")
    stats = {"rows": len(rows), "rooms": {k: len(v) for k, v in rows_by_room.items()},
             "unacked": unacked, "unacked_stored": unacked_stored, "received": nrecv}
    return rows_by_room, stats


@pytest.mark.timeout_s(100)
async def test_broker_crashes_lose_no_acknowledged_message(cluster, chat):
    rng = random.Random(f"{SEED}-{cluster.durability}")
    run = Run(chat, rng)
    rooms = [new_room("crash") for _ in range(N_ROOMS)]
    workers = [Worker(run, i, [rooms[i % N_ROOMS], rooms[(i + 1) % N_ROOMS]])
               for i in range(N_CLIENTS)]
    failures = []
    summary = {}

    def report():
        return (f"seed {SEED} (CHAT_CRASH_SEED), durability {cluster.durability}\n"
                f"schedule: {run.events}\nsummary: {json.dumps(summary, default=str)}\n"
                f"database: {cluster.db_path}\nlogs: {cluster.logdir}")

    tasks = [asyncio.create_task(w.main()) for w in workers]
    try:
        await crash_schedule(cluster, run)
        # quiet: every client gets acks again from the last broker
        t_quiet = time.monotonic()
        run.settled_after = run.last_restart + 1.0
        while time.monotonic() - t_quiet < QUIET_MAX:
            await asyncio.sleep(0.25)
            if time.monotonic() - t_quiet >= QUIET_MIN and \
                    all(w.acks_since(run.last_restart) >= QUIET_ACKS for w in workers):
                break
        summary["quiet_s"] = round(time.monotonic() - t_quiet, 2)
        slow = {w.name: w.acks_since(run.last_restart) for w in workers
                if w.acks_since(run.last_restart) < QUIET_ACKS}
        if slow:
            failures.append(f"{QUIET_MAX} s after the last restart, clients with fewer than "
                            f"{QUIET_ACKS} acks since: {slow}")
        for w in workers:
            w.stop = True
        await asyncio.wait_for(asyncio.gather(*tasks), DRAIN + 10)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        if not cluster.broker.alive():  # failed mid-schedule: leave a broker for teardown
            start_broker(cluster, "after-failure")

    summary.update({
        "chaos_s": round(run.now(), 2),
        "sent": sum(len(w.sent) for w in workers),
        "acked": sum(len(w.acks) for w in workers),
        "errors": dict(collections.Counter(c for w in workers for _, c, _ in w.errors)),
        "closes": dict(sum((w.closes for w in workers), collections.Counter())),
        "reconnect reasons": dict(sum((w.reasons for w in workers), collections.Counter())),
        "connections": sum(w.nconn for w in workers),
    })
    assert summary["acked"] >= 100, "too few messages were acknowledged to mean much\n" + report()

    # 1. a fresh client, on the broker that survived the last restart
    hist = await fresh_history(chat, "B", rooms)

    # 2. SIGTERM: exit 0
    t = time.monotonic()
    problem = cluster.broker.stop()
    summary["sigterm_s"] = round(time.monotonic() - t, 2)
    if problem:
        failures.append(f"SIGTERM: {problem}")

    # 3. the file
    rows_by_room, stats = check_table(cluster.db_path, workers, failures)
    summary.update(stats)
    compare_history("after the crash restarts", hist, rows_by_room, failures)

    # 4. a clean restart serves the same history, from SQLite alone
    start_broker(cluster, "final")
    hist2 = await fresh_history(chat, "A", rooms)
    compare_history("after a clean restart", hist2, rows_by_room, failures)

    print(report())
    problems = run.problems
    assert not problems and not failures, (
        f"{len(problems)} live protocol violation(s):\n  " + "\n  ".join(problems[:25])
        + f"\n{len(failures)} check(s) failed:\n  " + "\n  ".join(failures[:40])
        + "\n" + report())
