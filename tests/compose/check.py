#!/usr/bin/env python3
"""check.py: the chat checks of tests/compose/run.sh.

Talks to a cluster started from deploy/docker-compose.yml only through
HAProxy's published port, and acts on it only through docker / compose
commands on the containers of its own project:

    check.py --url 127.0.0.1:PORT --project NAME --compose "docker-compose -p NAME -f FILE"

Steps, in order (the first failure ends the run):
  ready    /readyz through HAProxy answers 200, and the X-Chat-Gateway ids
           seen there are exactly "<container id>-1" of each gateway
           container (hostname = container id, pid 1): one id per replica.
  spread   six clients identify and join a room; they land on at least two
           gateways.
  chat     each sends messages; every client sees every message (its own
           by ack, the others' as events) with seqs 1..n, nothing else.
  kill     `docker kill` of the gateway holding most clients: its clients'
           connections end; they reconnect through HAProxy (to another
           gateway), resume their sessions (resumed:true) and get what the
           others sent meanwhile; every acknowledged message is in every
           client's view.
  broker   the broker container restarts: every client is closed with 1012,
           identifies again, joins with `since`; `joined.seq` and `history`
           (SQLite in the `history` volume) hold every message sent before.
  scale    `up -d --scale gateway=4`: connections are opened until one
           lands on the new container's gateway, and it chats.

Only Debian's python3-websockets (10.4) is used. Every wait is bounded.
"""

import argparse
import asyncio
import http.client
import itertools
import json
import shlex
import subprocess
import sys
import time

import websockets.client
import websockets.exceptions

ROOM = "compose"
TIMEOUT = 5.0          # one reply
CLOSE_TIMEOUT = 30.0   # a connection ending after a kill or restart
RECONNECT_TIME = 45.0  # finding a ready gateway through HAProxy again
N_CLIENTS = 6


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


# --------------------------------------------------------------------------- docker

class Docker:
    def __init__(self, project, compose):
        self.project = project
        self.compose = shlex.split(compose)

    def run(self, argv, timeout=120):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Fail(f"{' '.join(argv)}: no end within {timeout} s") from None
        if p.returncode != 0:
            raise Fail(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-2000:]}")
        return p.stdout

    def containers(self, service, all_=False):
        """Short ids (12 hex digits, as the hostname) of a service's containers."""
        argv = ["docker", "ps", "-q", "--no-trunc",
                "--filter", f"label=com.docker.compose.project={self.project}",
                "--filter", f"label=com.docker.compose.service={service}"]
        if all_:
            argv.insert(2, "-a")
        return {line[:12] for line in self.run(argv).split()}

    def compose_cmd(self, *args, timeout=180):
        return self.run(self.compose + list(args), timeout)


def gateway_container(gw_id):
    """The container of a gateway id "<hostname>-<pid>" (hostname = short id)."""
    return gw_id.rsplit("-", 1)[0]


# --------------------------------------------------------------------------- clients

class Closed(Exception):
    def __init__(self, code):
        super().__init__(f"connection closed (code {code})")
        self.code = code


class Client:
    """A client of PROTOCOL.md. A reader task records the room's `msg` events
    (seq -> (from, text)) and queues every frame that carries an id (the
    replies; every command here has one)."""

    def __init__(self, nick, truth):
        self.nick = nick
        self.truth = truth      # seq -> (nick, text): every acked message
        self.seen = {}          # seq -> (nick, text): what this client knows
        self.ids = itertools.count(1)
        self.ws = None
        self.gw = None
        self.session = None
        self.close_code = None
        self.closed = None
        self.problems = []

    def __repr__(self):
        return f"<{self.nick}@{self.gw}>"

    async def open(self, url):
        self.ws = await websockets.client.connect(
            f"ws://{url}/ws", compression=None, ping_interval=None, max_size=None,
            open_timeout=10, close_timeout=2)
        self.gw = self.ws.response_headers.get("X-Chat-Gateway")
        check(self.gw, f"{self.nick}: the 101 has no X-Chat-Gateway header")
        self.frames = asyncio.Queue()
        self.close_code = None
        self.closed = asyncio.Event()
        self.reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws):
        try:
            async for raw in ws:
                f = json.loads(raw)
                if f.get("type") == "msg" and f.get("room") == ROOM:
                    self.record(f["seq"], f["from"], f["text"])
                if "id" in f:
                    self.frames.put_nowait(f)
        except websockets.exceptions.ConnectionClosed as e:
            self.close_code = e.rcvd.code if e.rcvd else None
        finally:
            self.frames.put_nowait(None)
            self.closed.set()

    def record(self, seq, frm, text):
        if seq in self.seen and self.seen[seq] != (frm, text):
            self.problems.append(f"seq {seq} seen as {self.seen[seq]} and as {(frm, text)}")
        self.seen[seq] = (frm, text)

    async def request(self, cmd, timeout=TIMEOUT):
        id_ = f"{self.nick}.{next(self.ids)}"
        await self.ws.send(json.dumps(dict(cmd, id=id_)))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail(f"{self}: no answer to {cmd} within {timeout} s")
            try:
                f = await asyncio.wait_for(self.frames.get(), left)
            except asyncio.TimeoutError:
                continue
            if f is None:
                raise Closed(self.close_code)
            if f.get("id") == id_:
                return f

    async def hello(self, resume=None, patience=0.0):
        """hello; `unavailable` (the gateway's broker link not up yet, as on
        a gateway just started) is retried for `patience` seconds."""
        cmd = {"type": "hello", "nick": self.nick}
        if resume:
            cmd["resume"] = resume
        deadline = time.monotonic() + patience
        while True:
            w = await self.request(cmd)
            if w.get("code") != "unavailable" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        check(w["type"] == "welcome", f"{self}: hello got {w}")
        self.session = w["session"]
        return w

    async def join(self, since=None):
        cmd = {"type": "join", "room": ROOM}
        if since is not None:
            cmd["since"] = since
        j = await self.request(cmd)
        check(j["type"] == "joined", f"{self}: join got {j}")
        return j

    async def msg(self, text):
        a = await self.request({"type": "msg", "room": ROOM, "text": text})
        check(a["type"] == "ack", f"{self}: msg got {a}")
        self.truth[a["seq"]] = (self.nick, text)
        self.record(a["seq"], self.nick, text)
        return a

    def last_seq(self):
        return max(self.seen, default=0)

    async def wait_closed(self, timeout=CLOSE_TIMEOUT):
        try:
            await asyncio.wait_for(self.closed.wait(), timeout)
        except asyncio.TimeoutError:
            raise Fail(f"{self}: connection still open after {timeout} s") from None
        return self.close_code

    async def close(self):
        if self.ws is not None:
            try:
                await asyncio.wait_for(self.ws.close(1000), 3)
            except (asyncio.TimeoutError, OSError):
                self.ws.transport.abort()


async def connect(url, nick, truth, avoid=None):
    """A client connected through HAProxy, retrying while no gateway is ready
    (HAProxy answers 503) or the one picked is `avoid`."""
    deadline = time.monotonic() + RECONNECT_TIME
    last = None
    while time.monotonic() < deadline:
        c = Client(nick, truth)
        try:
            await c.open(url)
            if avoid is None or c.gw != avoid:
                return c
            last = f"landed on {c.gw} again"
            await c.close()
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            last = repr(e)
        await asyncio.sleep(0.3)
    raise Fail(f"{nick}: no connection through HAProxy within {RECONNECT_TIME} s: {last}")


async def identify(url, nick, truth, since):
    """Connect, hello (retrying `unavailable` while a gateway's broker link
    comes back), join with since. Returns (client, joined)."""
    deadline = time.monotonic() + RECONNECT_TIME
    last = None
    while time.monotonic() < deadline:
        c = await connect(url, nick, truth)
        try:
            w = await c.request({"type": "hello", "nick": nick})
            if w["type"] == "welcome":
                c.session = w["session"]
                return c, await c.join(since)
            last = w
        except Closed as e:
            last = str(e)
        await c.close()
        await asyncio.sleep(0.5)
    raise Fail(f"{nick}: could not identify again within {RECONNECT_TIME} s: {last}")


async def views_complete(clients, truth, timeout=10.0):
    """Every client knows exactly the acked messages: seqs 1..n, same sender
    and text. Waits for messages still in flight."""
    check(sorted(truth) == list(range(1, len(truth) + 1)),
          f"acked seqs are not 1..{len(truth)}: {sorted(truth)}")
    deadline = time.monotonic() + timeout
    for c in clients:
        while c.seen != truth and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        check(not c.problems, f"{c}: {c.problems}")
        missing = sorted(set(truth) - set(c.seen))
        extra = sorted(set(c.seen) - set(truth))
        wrong = [s for s in truth if s in c.seen and c.seen[s] != truth[s]]
        check(not (missing or extra or wrong),
              f"{c}: missing seqs {missing}, unexpected {extra}, different {wrong}")


async def round_of_messages(clients, tag, n=1):
    for i in range(n):
        for c in clients:
            await c.msg(f"{tag} {i} from {c.nick}")


# --------------------------------------------------------------------------- steps

def http_get(url, path):
    host, port = url.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("X-Chat-Gateway")
    finally:
        conn.close()


class Run:
    def __init__(self, args):
        self.url = args.url
        self.docker = Docker(args.project, args.compose)
        self.truth = {}
        self.clients = []
        self.tag = f"{int(time.time()) % 100000:05d}"

    def nick(self, i):
        return f"c{self.tag}_{i}"

    async def ready(self):
        want = {f"{cid}-1" for cid in self.docker.containers("gateway")}
        check(len(want) == 3, f"expected 3 gateway containers, found {sorted(want)}")
        seen, last = set(), None
        deadline = time.monotonic() + 60
        while seen != want and time.monotonic() < deadline:
            try:
                status, gw = http_get(self.url, "/readyz")
                last = (status, gw)
                if status == 200:
                    check(gw in want, f"/readyz answered by {gw!r}, not one of {sorted(want)}")
                    seen.add(gw)
            except OSError as e:
                last = repr(e)
            await asyncio.sleep(0.2)
        check(seen == want, f"within 60 s /readyz through HAProxy came from {sorted(seen)}, "
                            f"not all of {sorted(want)} (last answer {last})")
        status, _ = http_get(self.url, "/")
        check(status == 200, f"the web page through HAProxy: status {status}")
        return f"3 gateways ready: {', '.join(sorted(seen))}; the page is served"

    async def spread(self):
        for i in range(N_CLIENTS):
            c = await connect(self.url, self.nick(i), self.truth)
            self.clients.append(c)
            await c.hello()
            await c.join()
        gws = {c.gw for c in self.clients}
        check(len(gws) >= 2, f"all {N_CLIENTS} clients landed on {gws}")
        return "clients per gateway: " + ", ".join(
            f"{g}={sum(c.gw == g for c in self.clients)}" for g in sorted(gws))

    async def chat(self):
        await round_of_messages(self.clients, "hello", 2)
        await views_complete(self.clients, self.truth)
        return f"{len(self.truth)} messages, every client saw all"

    async def kill(self):
        counts = {}
        for c in self.clients:
            counts[c.gw] = counts.get(c.gw, 0) + 1
        victim = max(counts, key=counts.get)
        hit = [c for c in self.clients if c.gw == victim]
        rest = [c for c in self.clients if c.gw != victim]
        self.docker.run(["docker", "kill", gateway_container(victim)])
        for c in hit:
            await c.wait_closed()
        check(all(not c.closed.is_set() for c in rest),
              f"clients of other gateways lost their connection: {[c for c in rest if c.closed.is_set()]}")
        await round_of_messages(rest, "meanwhile")  # missed by the killed gateway's clients
        for c in hit:
            n = await connect(self.url, c.nick, self.truth, avoid=victim)
            n.seen = c.seen
            w = await n.hello(resume={"session": c.session, "rooms": {ROOM: c.last_seq()}},
                              patience=10)
            check(w.get("resumed") is True, f"{n}: resume after the kill got {w}")
            self.clients[self.clients.index(c)] = n
        await round_of_messages(self.clients, "after-kill")
        await views_complete(self.clients, self.truth)
        return (f"killed {victim} holding {len(hit)} clients; they resumed on "
                f"{sorted({c.gw for c in self.clients if c.nick in {h.nick for h in hit}})}; "
                f"{len(self.truth)} messages, none lost")

    async def broker(self):
        broker = self.docker.containers("broker")
        check(len(broker) == 1, f"expected one broker container, found {broker}")
        self.docker.run(["docker", "restart", "-t", "15", broker.pop()], timeout=60)
        codes = [await c.wait_closed() for c in self.clients]
        check(all(code == 1012 for code in codes),
              f"close codes after the broker restart: {codes}, expected 1012")
        last = max(self.truth)
        for i, c in enumerate(self.clients):
            n, j = await identify(self.url, c.nick, self.truth, c.last_seq())
            check(j["seq"] == last, f"{n}: joined.seq {j['seq']} after the restart, expected {last}")
            n.seen = c.seen
            self.clients[i] = n
        h = await self.clients[0].request({"type": "history", "room": ROOM, "limit": 200})
        got = {m["seq"]: (m["from"], m["text"]) for m in h.get("messages", [])}
        check(got == self.truth, f"history after the broker restart differs: missing "
                                 f"{sorted(set(self.truth) - set(got))}, extra "
                                 f"{sorted(set(got) - set(self.truth))}")
        await round_of_messages(self.clients, "after-restart")
        await views_complete(self.clients, self.truth)
        return f"all {len(codes)} clients got 1012, came back; history holds all {last} messages"

    async def scale(self):
        before = self.docker.containers("gateway", all_=True)
        self.docker.compose_cmd("up", "-d", "--scale", "gateway=4")
        now = self.docker.containers("gateway")
        new = now - before
        check(len(now) == 4 and len(new) >= 1,
              f"after --scale gateway=4: running {sorted(now)}, before {sorted(before)}")
        new_ids = {f"{cid}-1" for cid in new}
        extra, found = [], None
        deadline = time.monotonic() + 60
        while found is None and time.monotonic() < deadline and len(extra) < 40:
            c = await connect(self.url, self.nick(100 + len(extra)), self.truth)
            if c.gw in new_ids:
                found = c
            else:
                extra.append(c)  # kept open: leastconn sends the next elsewhere
                await asyncio.sleep(0.3)
        for c in extra:
            await c.close()
        check(found is not None, f"{len(extra)} connections, none on the new gateway {new_ids}")
        # HAProxy may pass it a connection just before its first health
        # check: a client then retries `unavailable`, as PROTOCOL.md says.
        await found.hello(patience=15)
        await found.join(since=0)  # replays the whole room
        self.clients.append(found)
        await round_of_messages(self.clients, "scaled")
        await views_complete(self.clients, self.truth)
        return f"new gateway {found.gw} took a connection after {len(extra)} elsewhere and chats"


async def main_async(args):
    run = Run(args)
    steps = [("ready", run.ready), ("spread", run.spread), ("chat", run.chat),
             ("kill", run.kill), ("broker", run.broker), ("scale", run.scale)]
    passed = 0
    try:
        for name, step in steps:
            t0 = time.monotonic()
            try:
                what = await asyncio.wait_for(step(), 150)
            except asyncio.TimeoutError:
                print(f"FAIL {name}: no end within 150 s", flush=True)
                return passed, 1
            except (Fail, Closed) as e:
                print(f"FAIL {name}: {e}", flush=True)
                return passed, 1
            print(f"ok   {name} ({time.monotonic() - t0:.1f} s): {what}", flush=True)
            passed += 1
        return passed, 0
    finally:
        await asyncio.gather(*(c.close() for c in run.clients), return_exceptions=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="HAProxy's published HOST:PORT")
    ap.add_argument("--project", required=True, help="the compose project name")
    ap.add_argument("--compose", required=True, help="compose command with -p and -f")
    args = ap.parse_args()
    passed, failed = asyncio.run(main_async(args))
    print(f"checks: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
