#!/usr/bin/python3
"""Chaos test: steady chat traffic across several gateways while gateways and
the broker are SIGKILLed (and gateways SIGTERMed) and restarted at random,
for a bounded time. Then it checks what PROTOCOL.md and docs/architecture.md
promise:

  * every acknowledged message reached every member of its room, who all
    stayed or resumed (none lost);
  * no (room, seq) ever named two different messages, and after
    deduplication by (room, seq) nothing is counted twice;
  * every member saw each room's messages in seq order;
  * each process's resident memory stayed under --max-rss-mb.

It also measures what each failure cost the clients (time without a working
connection, messages refused as `unavailable`), for the failure model in
docs/architecture.md. Clients follow the protocol's recovery rules: on a close
they reconnect with backoff and jitter to any gateway, `hello` with `resume`,
and when the session is gone (a new broker) `join` again with `since`; a
message without its ack is retried with the same `id`.

Real processes only: a chat-broker with SQLite history (durability full) and
--gateways chat-gateways on free ports of 127.0.0.1. Exit status 0 when every
check holds, 1 otherwise; --json prints the figures.

  tests/chaos/chaos.py --duration 20          # the short run in run-all.sh
  tests/chaos/run.sh --duration 600           # a long run
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets
import websockets.exceptions

HOST = "127.0.0.1"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Proc:
    """One server process; restartable with the same argv."""

    def __init__(self, name, argv, logdir):
        self.name, self.argv, self.logdir = name, argv, logdir
        self.p = None
        self.runs = 0
        self.max_rss = 0

    def start(self):
        self.runs += 1
        log = open(os.path.join(self.logdir, f"{self.name}.{self.runs}.log"), "wb")
        self.p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT)
        log.close()

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def signal(self, sig, timeout=10):
        if not self.alive():
            return None
        self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return "timeout"

    def sample(self):
        if self.alive():
            self.max_rss = max(self.max_rss, rss_kib(self.p.pid))


def http_ok(port, path="/readyz"):
    try:
        with socket.create_connection((HOST, port), timeout=1) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            return s.recv(64).split(b" ")[1] == b"200"
    except (OSError, IndexError):
        return False


class Client:
    """A chat user that keeps talking through failures, by the protocol."""

    def __init__(self, run, i, rooms):
        self.run, self.nick, self.rooms = run, f"chaos{run.tag}_{i}", rooms
        self.rng = random.Random(run.seed * 1000 + i)
        self.session = None
        self.last = {r: 0 for r in rooms}      # every seq up to this one was seen
        self.seen = {r: set() for r in rooms}  # (room) -> seqs received or acked
        self.order_bad = []                    # (room, seq after a higher one)
        self.first = {r: [] for r in rooms}    # first arrivals of msg frames, per room
        self.ws = None
        self.waiting = {}                      # id -> future of the answer
        self.connected = asyncio.Event()
        self.down_since = time.monotonic()
        self.down_cause = "start"
        self.outages = []                      # seconds without an identified connection
        self.stats = dict(reconnects=0, resumed=0, fresh=0, acked=0, retries=0,
                          unavailable=0, closes={})
        self.sent = 0

    # ------------------------------------------------------------------ receive
    def on_msg(self, m):
        room, seq = m["room"], m["seq"]
        if room not in self.seen:
            return
        key = (room, seq)
        prev = self.run.messages.setdefault(key, (m["from"], m["text"]))
        if prev != (m["from"], m["text"]):
            self.run.conflicts.append((key, prev, (m["from"], m["text"])))
        if seq not in self.seen[room]:
            if self.first[room] and seq < self.first[room][-1]:
                self.order_bad.append((room, seq, self.first[room][-1]))
            self.first[room].append(seq)
            self.seen[room].add(seq)
        self.advance(room)

    def advance(self, room):
        """last[room]: the end of the gap-free prefix of what was seen (what
        resume and `since` ask from), so a gap is always replayed."""
        while self.last[room] + 1 in self.seen[room]:
            self.last[room] += 1

    async def reader(self, ws):
        async for raw in ws:
            f = json.loads(raw)
            t = f.get("type")
            if t == "msg":
                self.on_msg(f)
            elif t == "joined" and f["room"] in self.seen and not self.seen[f["room"]]:
                # A first join: history before it is not this member's.
                self.seen[f["room"]].update(range(1, f["seq"] + 1))
                self.advance(f["room"])
            fut = self.waiting.pop(f.get("id"), None) if "id" in f else None
            if fut and not fut.done():
                fut.set_result(f)

    async def request(self, ws, cmd, timeout=5):
        fut = asyncio.get_running_loop().create_future()
        self.waiting[cmd["id"]] = fut
        await ws.send(json.dumps(cmd))
        return await asyncio.wait_for(fut, timeout)

    # ------------------------------------------------------------------ connect
    async def identify(self, ws):
        hello = {"type": "hello", "nick": self.nick, "id": f"h{self.rng.random()}"}
        if self.session:
            hello["resume"] = {"session": self.session, "rooms": dict(self.last)}
        w = await self.request(ws, hello)
        if w["type"] != "welcome":
            raise ConnectionError(f"hello: {w}")
        self.session = w["session"]
        if w.get("resumed"):
            self.stats["resumed"] += 1
            return
        self.stats["fresh"] += 1
        for r in self.rooms:
            cmd = {"type": "join", "room": r, "id": f"j{self.rng.random()}"}
            if self.last[r]:
                cmd["since"] = self.last[r]
            j = await self.request(ws, cmd)
            if j["type"] != "joined":
                raise ConnectionError(f"join: {j}")

    async def connection_loop(self):
        backoff = 0.1
        while not self.run.done:
            port = self.rng.choice(self.run.gateway_ports)
            reader = ws = None
            try:
                ws = await asyncio.wait_for(
                    websockets.connect(f"ws://{HOST}:{port}/ws", max_size=1 << 20,
                                       open_timeout=3, close_timeout=1), 4)
                reader = asyncio.create_task(self.reader(ws))
                await self.identify(ws)
                self.ws = ws
                self.outages.append((self.down_cause, time.monotonic() - self.down_since))
                self.connected.set()
                backoff = 0.1
                await reader
                code = ws.close_code
            except (OSError, ConnectionError, asyncio.TimeoutError,
                    websockets.exceptions.WebSocketException) as e:
                code = getattr(getattr(e, "rcvd", None), "code", type(e).__name__)
            finally:
                if reader:
                    reader.cancel()
                if ws is not None:
                    try:
                        await asyncio.wait_for(ws.close(), 2)
                    except Exception:  # noqa: BLE001 - closing a broken connection
                        pass
                if self.connected.is_set():
                    self.down_since = time.monotonic()
                    self.down_cause = self.run.last_failure
                self.connected.clear()
                self.ws = None
                for fut in self.waiting.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("closed"))
                        fut.add_done_callback(lambda f: f.exception())  # retrieved
                self.waiting.clear()
            if self.run.done:
                break
            self.stats["closes"][str(code)] = self.stats["closes"].get(str(code), 0) + 1
            self.stats["reconnects"] += 1
            await asyncio.sleep(backoff * (0.5 + self.rng.random()))
            backoff = min(backoff * 2, 2.0)

    # ------------------------------------------------------------------ send
    async def send_one(self, room, text, mid):
        """Sends until acknowledged (the same id every time). Returns the ack."""
        while True:
            await self.connected.wait()
            ws = self.ws
            try:
                a = await self.request(ws, {"type": "msg", "room": room, "text": text, "id": mid})
            except (ConnectionError, asyncio.TimeoutError,
                    websockets.exceptions.WebSocketException):
                self.stats["retries"] += 1
                await asyncio.sleep(0.05)
                continue
            if a["type"] == "ack":
                return a
            if a.get("code") == "unavailable":
                self.stats["unavailable"] += 1
                await asyncio.sleep(0.2)
                continue
            raise AssertionError(f"{self.nick}: msg got {a}")

    async def sender(self):
        k = 0
        while not self.run.sending_over:
            await asyncio.sleep(self.rng.uniform(0.1, 0.4))
            room = self.rng.choice(self.rooms)
            k += 1
            mid = f"{self.nick}-{k}"
            a = await self.send_one(room, f"{self.nick} says {k}", mid)
            self.stats["acked"] += 1
            self.run.acked[(a["room"], a["seq"])] = (self.nick, f"{self.nick} says {k}")
            self.seen[a["room"]].add(a["seq"])
            self.advance(a["room"])


class Run:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.tag = "%04x" % random.Random(args.seed).randrange(1 << 16)
        self.done = False
        self.sending_over = False
        self.messages = {}   # (room, seq) -> (from, text), first seen
        self.acked = {}      # (room, seq) -> (from, text)
        self.conflicts = []
        self.kills = {"gateway_sigkill": 0, "gateway_sigterm": 0, "broker_sigkill": 0,
                      "broker_sigterm": 0}
        self.bad_exits = []
        self.last_failure = "start"

    def start_cluster(self, logdir):
        a = self.args
        zport = free_port()
        self.broker_http = free_port()
        endpoint = f"tcp://{HOST}:{zport}"
        self.broker = Proc("broker", [a.broker, "--listen", endpoint, "--history",
                                      os.path.join(logdir, "history.db"),
                                      "--http-port", str(self.broker_http), "--http-bind", HOST,
                                      "--grace", "30000"], logdir)
        self.gateway_ports = [free_port() for _ in range(a.gateways)]
        self.gateways = [Proc(f"gateway{i}", [a.gateway, "--port", str(p), "--bind", HOST,
                                              "--broker", endpoint, "--id", f"chaos-gw{i}",
                                              "--web", a.web, "--drain-timeout", "2000"], logdir)
                         for i, p in enumerate(self.gateway_ports)]
        self.broker.start()
        for g in self.gateways:
            g.start()
        self.wait_ready()

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(http_ok(p) for p in self.gateway_ports):
                return
            time.sleep(0.05)
        raise SystemExit("chaos: cluster not ready")

    def procs(self):
        return [self.broker] + self.gateways

    async def chaos(self):
        rng = random.Random(self.seed)
        end = time.monotonic() + self.args.duration
        await asyncio.sleep(1.0)
        while time.monotonic() < end:
            await asyncio.sleep(rng.uniform(*self.args.interval))
            if time.monotonic() >= end:
                break
            what = rng.choices(["gateway_sigkill", "gateway_sigterm", "broker_sigkill",
                                "broker_sigterm"], weights=[4, 2, 2, 1])[0]
            victim = self.broker if what.startswith("broker") else rng.choice(self.gateways)
            sig = signal.SIGKILL if what.endswith("sigkill") else signal.SIGTERM
            self.last_failure = what
            rc = await asyncio.to_thread(victim.signal, sig)
            if sig == signal.SIGTERM and rc != 0:
                self.bad_exits.append(f"{victim.name} exited {rc} on SIGTERM")
            self.kills[what] += 1
            await asyncio.sleep(rng.uniform(0.2, 1.0))
            victim.start()

    async def sample(self):
        while not self.done:
            for p in self.procs():
                p.sample()
            await asyncio.sleep(0.5)

    async def main(self):
        a = self.args
        rooms = [f"chaos{self.tag}-{r}" for r in range(a.rooms)]
        clients = [Client(self, i, [rooms[i % a.rooms], rooms[(i + 1) % a.rooms]]
                          if a.rooms > 1 else [rooms[0]]) for i in range(a.clients)]
        sampler = asyncio.create_task(self.sample())
        conns = [asyncio.create_task(c.connection_loop()) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.connected.wait() for c in clients)), 20)
        for c in clients:
            c.outages.clear()  # the first connect is not an outage
        senders = [asyncio.create_task(c.sender()) for c in clients]
        await self.chaos()
        # Calm: everything up; stop sending once every pending message is acked.
        for p in self.procs():
            if not p.alive():
                p.start()
        self.sending_over = True
        await asyncio.wait_for(asyncio.gather(*senders), a.settle)
        # Every member catches up with every acked message of its rooms.
        deadline = time.monotonic() + a.settle
        while time.monotonic() < deadline and self.missing(clients):
            await asyncio.sleep(0.2)
        self.done = True
        for c in clients:
            if c.ws:
                await c.ws.close()
        for t in conns:
            t.cancel()
        sampler.cancel()
        return clients

    def missing(self, clients):
        out = []
        for (room, seq), _ in self.acked.items():
            for c in clients:
                if room in c.seen and seq not in c.seen[room]:
                    out.append((c.nick, room, seq))
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20, help="seconds of chaos (default 20)")
    ap.add_argument("--gateways", type=int, default=3)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--rooms", type=int, default=3)
    ap.add_argument("--interval", type=float, nargs=2, default=(1.5, 3.0),
                    help="seconds between failures, min max (default 1.5 3)")
    ap.add_argument("--settle", type=float, default=30, help="seconds allowed to catch up")
    ap.add_argument("--max-rss-mb", type=float, default=256,
                    help="fail if a process's resident memory passes this")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--logdir", default=None, help="keep process logs here")
    ap.add_argument("--broker", default=os.environ.get("CHAT_BROKER_BIN",
                                                       os.path.join(ROOT, "build", "chat-broker")))
    ap.add_argument("--gateway", default=os.environ.get(
        "CHAT_GATEWAY_BIN", os.path.join(ROOT, "build", "chat-gateway")))
    ap.add_argument("--web", default=os.environ.get("CHAT_WEB_DIR",
                                                    os.path.join(ROOT, "gateway", "web")))
    args = ap.parse_args()
    logdir = args.logdir or tempfile.mkdtemp(prefix="chat-chaos-")
    os.makedirs(logdir, exist_ok=True)
    run = Run(args)
    run.start_cluster(logdir)
    t0 = time.monotonic()
    try:
        clients = asyncio.run(run.main())
    finally:
        for p in run.procs():
            rc = p.signal(signal.SIGTERM)
            if rc not in (None, 0):
                run.bad_exits.append(f"{p.name} exited {rc} on the final SIGTERM")
    missing = run.missing(clients)
    order = [(c.nick,) + o for c in clients for o in c.order_bad]
    by_cause = {}
    for c in clients:
        for cause, secs in c.outages:
            by_cause.setdefault(cause, []).append(secs)
    outages = {k: {"count": len(v), "p50": round(sorted(v)[len(v) // 2], 2),
                   "max": round(max(v), 2)} for k, v in sorted(by_cause.items())}
    rss = {p.name: round(p.max_rss / 1024, 1) for p in run.procs()}
    over = {n: v for n, v in rss.items() if v > args.max_rss_mb}
    tot = {k: sum(c.stats[k] for c in clients)
           for k in ("reconnects", "resumed", "fresh", "acked", "retries", "unavailable")}
    closes = {}
    for c in clients:
        for k, v in c.stats["closes"].items():
            closes[k] = closes.get(k, 0) + v
    report = {
        "seed": args.seed, "seconds": round(time.monotonic() - t0, 1), "logdir": logdir,
        "failures": run.kills, **tot, "closes": closes,
        "outage_s": outages,
        "lost": len(missing), "seq_conflicts": len(run.conflicts), "out_of_order": len(order),
        "max_rss_mb": rss, "bad_exits": run.bad_exits,
    }
    ok = not missing and not run.conflicts and not order and not over and not run.bad_exits \
        and tot["acked"] > 0 and sum(run.kills.values()) > 0
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"chaos: {report['seconds']} s, seed {args.seed}, failures {run.kills}")
        print(f"  acked {tot['acked']}, reconnects {tot['reconnects']} (resumed {tot['resumed']},"
              f" fresh {tot['fresh']}), retries {tot['retries']},"
              f" unavailable {tot['unavailable']}, closes {closes}")
        for cause, o in outages.items():
            print(f"  outage after {cause}: {o['count']} reconnects, p50 {o['p50']} s,"
                  f" max {o['max']} s")
        print(f"  lost {len(missing)}, seq conflicts {len(run.conflicts)},"
              f" out of order {len(order)}, max RSS MB {rss}")
    for m in missing[:10]:
        print(f"  LOST: {m}", file=sys.stderr)
    for c in run.conflicts[:10]:
        print(f"  SEQ CONFLICT: {c}", file=sys.stderr)
    for o in order[:10]:
        print(f"  OUT OF ORDER: {o}", file=sys.stderr)
    for n, v in over.items():
        print(f"  MEMORY: {n} reached {v} MB > {args.max_rss_mb}", file=sys.stderr)
    for b in run.bad_exits:
        print(f"  EXIT: {b}", file=sys.stderr)
    print("chaos: " + ("PASS" if ok else f"FAIL (logs in {logdir})"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
