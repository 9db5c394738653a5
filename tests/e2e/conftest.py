"""End-to-end test harness: a real chat-broker and two real chat-gateways.

Each test module gets its own cluster (one broker, gateways "A" and "B" on
free ports of 127.0.0.1), started once and stopped with SIGTERM at the end of
the module; a clean shutdown (exit code 0 within 5 s) is part of the contract.
A module may set BROKER_ARGS / GATEWAY_ARGS (lists of extra flags) to get a
differently configured cluster.

Tests are plain `async def` functions; the pytest_pyfunc_call hook below runs
them with asyncio.run (no pytest-asyncio needed) and closes every client the
test opened through the `chat` fixture, also when the test fails.

Only Debian's python3-pytest and python3-websockets (10.4) are used.
"""

import asyncio
import http.client
import inspect
import itertools
import json
import os
import random
import resource
import signal
import socket
import string
import subprocess
import time

import pytest
import websockets
import websockets.client
import websockets.exceptions

import promtext
from promtext import metric  # noqa: F401  (re-exported for the tests)
from rawws import RawWS  # noqa: F401  (rawws uses this module's constants at call time)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BROKER_BIN = os.environ.get("CHAT_BROKER_BIN", os.path.join(ROOT, "build", "chat-broker"))
GATEWAY_BIN = os.environ.get("CHAT_GATEWAY_BIN", os.path.join(ROOT, "build", "chat-gateway"))
WEB_DIR = os.environ.get("CHAT_WEB_DIR", os.path.join(ROOT, "gateway", "web"))
LOG_LEVEL = os.environ.get("CHAT_E2E_LOG_LEVEL", "debug")

HOST = "127.0.0.1"

# Tests that open thousands of sockets need descriptors, and so do the
# servers they start (they inherit the limit).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < min(_hard, 16384):
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 16384), _hard))
RECV_TIMEOUT = 3.0          # generous timeout for any expected frame
TYPING_TIMEOUT_MS = 6000    # the broker's --typing-timeout in every cluster
STOP_TIMEOUT = 5.0          # SIGTERM -> exit 0 within this
DEFAULT_TEST_TIMEOUT = 45.0

# Limits of the default configuration (PROTOCOL.md).
MAX_FRAME = 16384
MAX_TEXT = 4000
MAX_NICK = 32
MAX_ROOM = 64
MAX_ID = 64
MAX_ROOMS = 100


def dumps(obj):
    """Compact JSON, UTF-8 kept as is (so 'é' is 2 bytes on the wire, not 6)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- names

_RUN = "".join(random.choice(string.ascii_lowercase) for _ in range(4))
_counter = itertools.count(1)


def padded_ping(size):
    """A ping frame of exactly `size` bytes (padding in an unknown field)."""
    base = {"type": "ping", "id": "big", "pad": ""}
    n = size - len(dumps(base).encode())
    assert n >= 0
    base["pad"] = "p" * n
    data = dumps(base).encode()
    assert len(data) == size
    return data


def new_nick(prefix="u"):
    """A nick unique in this pytest run: [A-Za-z0-9_.-], at most 32 code points."""
    n = f"{prefix}_{_RUN}{next(_counter)}"
    assert len(n) <= MAX_NICK, n
    return n


def new_room(prefix="r"):
    """A room unique in this pytest run: [a-z0-9_.#-], at most 64 code points."""
    r = f"{prefix.lower()}-{_RUN}{next(_counter)}"
    assert len(r) <= MAX_ROOM, r
    return r


# --------------------------------------------------------------------------- processes

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def describe_rc(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            return f"signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"signal {-rc}"
    return f"exit code {rc}"


def http_get(port, path, timeout=5.0, headers=None, ssl_context=None):
    """(status, headers dict with lower-case names, body bytes); HTTPS when
    an ssl_context is given."""
    if ssl_context is not None:
        conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=ssl_context)
    else:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def scrape(port, path="/metrics"):
    """GET /metrics, parsed strictly (promtext.parse)."""
    status, headers, body = http_get(port, path)
    assert status == 200, (status, body[:200])
    assert headers.get("content-type", "").startswith("text/plain; version=0.0.4"), headers
    return promtext.parse(body.decode("utf-8"))


class Proc:
    def __init__(self, name, argv, logpath):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self._log = open(logpath, "ab")
        self._log.write(("$ " + " ".join(argv) + "\n").encode())
        self._log.flush()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                  stderr=subprocess.STDOUT)

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait. Returns None if it exited 0 in time, else a problem string."""
        try:
            if not self.alive():
                return f"{self.name} had already died ({describe_rc(self.p.returncode)})"
            self.p.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            try:
                rc = self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return f"{self.name} did not exit within {timeout} s of SIGTERM (killed)"
            if rc != 0:
                return (f"{self.name} exited with {describe_rc(rc)} after SIGTERM "
                        f"({time.monotonic() - t0:.2f} s)")
            return None
        finally:
            self._log.close()

    def kill(self):
        if self.alive():
            self.p.kill()
            self.p.wait()
        if not self._log.closed:
            self._log.close()

    def tail(self, nbytes=6000):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - nbytes))
                data = f.read().decode("utf-8", "replace")
        except OSError as e:
            return f"(cannot read {self.logpath}: {e})"
        return ("...\n" if size > nbytes else "") + data


class Cluster:
    """One broker and gateways A and B on free ports. With an ssl_context
    (gateways started with --tls-cert), clients and probes use wss:// and
    https:// trusting it."""

    def __init__(self, logdir, broker_args=(), gateway_args=(), gateways=("A", "B"),
                 ssl_context=None):
        self.logdir = logdir
        self.ssl_context = ssl_context
        self.broker_args = list(broker_args)
        self.gateway_args = list(gateway_args)
        self.gw_names = list(gateways)
        self.broker = None
        self.gateways = {}
        self.ports = {}
        self.broker_port = None
        self.broker_http_port = None
        self.generation = 0

    def start(self):
        for b in (BROKER_BIN, GATEWAY_BIN):
            if not os.access(b, os.X_OK):
                pytest.skip(f"binary not built: {b}")
        self.generation += 1
        g = self.generation
        self.broker_port = free_port()
        self.broker_http_port = free_port()
        broker_url = f"tcp://{HOST}:{self.broker_port}"
        self.broker = Proc("broker", [BROKER_BIN, "--listen", broker_url,
                                      "--http-port", str(self.broker_http_port),
                                      "--http-bind", HOST,
                                      # per-nick rate limit off unless asked for
                                      "--nick-rate", "0",
                                      "--typing-timeout", str(TYPING_TIMEOUT_MS),
                                      "--log-level", LOG_LEVEL] + self.broker_args,
                           os.path.join(self.logdir, f"broker.{g}.log"))
        self.gateways = {}
        self.ports = {}
        for name in self.gw_names:
            port = free_port()
            self.ports[name] = port
            self.gateways[name] = Proc(
                f"gateway {name}",
                [GATEWAY_BIN, "--port", str(port), "--broker", broker_url, "--id", f"gw{name}",
                 "--web", WEB_DIR, "--log-level", LOG_LEVEL,
                 # No command rate limit unless a module asks (test_limits.py
                 # tests the defaults); a later flag overrides this one.
                 "--rate", "0"] + self.gateway_args,
                os.path.join(self.logdir, f"gateway{name}.{g}.log"))
        self.wait_ready()

    def procs(self):
        return [self.broker] + [self.gateways[n] for n in self.gw_names]

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        pending = dict(self.ports)
        last = {}
        while pending:
            for p in self.procs():
                if not p.alive():
                    self.kill()
                    pytest.fail(f"{p.name} died at startup ({describe_rc(p.p.returncode)})\n"
                                + self.logs(), pytrace=False)
            for name, port in list(pending.items()):
                try:
                    st, _, _ = http_get(port, "/readyz", timeout=1.0,
                                        ssl_context=self.ssl_context)
                    last[name] = st
                    if st == 200:
                        del pending[name]
                except OSError as e:
                    last[name] = repr(e)
            if not pending:
                break
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"gateways not ready within {timeout} s: {last}\n" + self.logs(),
                            pytrace=False)
            time.sleep(0.05)

    def alive(self):
        return all(p.alive() for p in self.procs())

    def dead_report(self):
        return ", ".join(f"{p.name}: {describe_rc(p.p.returncode)}"
                         for p in self.procs() if not p.alive())

    def stop(self):
        """Gateways first, then the broker. Returns the list of problems."""
        problems = []
        for p in [self.gateways[n] for n in self.gw_names] + [self.broker]:
            if p is None:
                continue
            r = p.stop()
            if r:
                problems.append(r)
        return problems

    def kill(self):
        for p in self.procs():
            if p is not None:
                p.kill()

    def logs(self, nbytes=6000):
        out = []
        for p in self.procs():
            if p is not None:
                out.append(f"----- {p.name} ({p.logpath}) -----\n{p.tail(nbytes)}")
        return "\n".join(out)

    def ws_url(self, gw="A", path="/ws"):
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{HOST}:{self.ports[gw]}{path}"


# --------------------------------------------------------------------------- clients

class Client:
    """A WebSocket client speaking PROTOCOL.md.

    Frames whose type is in `ignore` (by default only "online", whose pushes
    depend on every other test sharing the cluster) are kept aside in
    self.ignored and never returned by recv(); `skip` on a call discards
    further types for that call only.
    """

    def __init__(self, ws, gw, label, ignore=("online",)):
        self.ws = ws
        self.gw = gw
        self.label = label
        self.ignore = set(ignore)
        self.ignored = []
        self.seen = []          # every frame received, for failure messages
        self.nick = None
        self.session = None
        self.welcome = None

    def __repr__(self):
        return f"<client {self.nick or self.label}@gw{self.gw}>"

    # ---- sending

    async def send(self, obj):
        """A dict is sent as compact JSON; a str is sent verbatim as a text
        frame; bytes as a binary frame."""
        if isinstance(obj, (str, bytes)):
            await self.ws.send(obj)
        else:
            await self.ws.send(dumps(obj))

    # ---- receiving

    async def _frame(self, timeout):
        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except asyncio.TimeoutError:
            raise
        except websockets.exceptions.ConnectionClosed as e:
            raise AssertionError(
                f"{self}: connection closed (code {e.code}, reason {e.reason!r}) while waiting "
                f"for a frame; frames seen: {self.seen[-8:]}") from None
        if isinstance(raw, bytes):
            raise AssertionError(f"{self}: server sent a binary frame: {raw[:100]!r}")
        try:
            obj = json.loads(raw)
        except ValueError:
            raise AssertionError(f"{self}: server sent a non-JSON text frame: {raw[:200]!r}")
        assert isinstance(obj, dict) and isinstance(obj.get("type"), str), \
            f"{self}: server frame is not an object with a string type: {raw[:200]!r}"
        self.seen.append(obj)
        return obj

    async def recv(self, timeout=RECV_TIMEOUT, skip=()):
        """The next frame not ignored or skipped; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self}: no frame within {timeout} s; "
                                     f"last frames seen: {self.seen[-8:]}")
            try:
                obj = await self._frame(remaining)
            except asyncio.TimeoutError:
                raise AssertionError(f"{self}: no frame within {timeout} s; "
                                     f"last frames seen: {self.seen[-8:]}") from None
            t = obj["type"]
            if t in self.ignore:
                self.ignored.append(obj)
                continue
            if t in skip:
                continue
            return obj

    async def recv_type(self, type_, timeout=RECV_TIMEOUT, skip=()):
        """The next frame, which must be of type_ (types in skip are discarded)."""
        obj = await self.recv(timeout, skip)
        assert obj["type"] == type_, f"{self}: expected a {type_!r} frame, got {obj}"
        return obj

    async def recv_n(self, n, timeout=RECV_TIMEOUT, skip=()):
        """The next n frames (timeout applies to each)."""
        return [await self.recv(timeout, skip) for _ in range(n)]

    async def recv_set(self, types, timeout=RECV_TIMEOUT, skip=()):
        """The next len(types) frames, whose types must be exactly `types` in
        any order. Returns a dict type -> frame."""
        frames = await self.recv_n(len(types), timeout, skip)
        got = sorted(f["type"] for f in frames)
        assert got == sorted(types), f"{self}: expected frames {sorted(types)}, got {frames}"
        return {f["type"]: f for f in frames}

    async def expect_nothing(self, ms=500, skip=()):
        """Asserts that no frame (other than ignored / skipped ones) arrives
        within ms milliseconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ms / 1000.0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                obj = await self._frame(remaining)
            except asyncio.TimeoutError:
                return
            if obj["type"] in self.ignore:
                self.ignored.append(obj)
                continue
            if obj["type"] in skip:
                continue
            raise AssertionError(f"{self}: expected no frame, got {obj}")

    # ---- requests

    async def request(self, obj, type_=None, timeout=RECV_TIMEOUT, skip=()):
        """Sends obj and returns the next frame (checking its type if given)."""
        await self.send(obj)
        reply = await self.recv(timeout, skip)
        if type_ is not None:
            assert reply["type"] == type_, f"{self}: sent {obj}, expected {type_!r}, got {reply}"
        return reply

    async def expect_error(self, obj, code, echo=True, timeout=RECV_TIMEOUT):
        """Sends obj, expects an error with that code. When obj is a dict with a
        string "id" and echo is true, the id must be echoed; when echo is false,
        the error must carry no id. Then checks the connection is still usable."""
        reply = await self.request(obj, timeout=timeout)
        assert reply["type"] == "error", f"{self}: sent {obj!r:.300}, expected error {code}, got {reply}"
        assert reply.get("code") == code, \
            f"{self}: sent {obj!r:.300}, expected error code {code!r}, got {reply}"
        assert isinstance(reply.get("message"), str) and reply["message"], \
            f"{self}: error without a message: {reply}"
        if isinstance(obj, dict) and "id" in obj:
            if echo:
                assert reply.get("id") == obj["id"], f"{self}: error did not echo id: {reply}"
            else:
                assert "id" not in reply, f"{self}: error echoed an invalid id: {reply}"
        elif not echo:
            assert "id" not in reply, f"{self}: error has an id: {reply}"
        return reply

    async def ping(self, id_=None):
        """Round trip proving the connection is open and answering."""
        id_ = id_ or f"p{random.randrange(10**9)}"
        r = await self.request({"type": "ping", "id": id_})
        assert r == {"type": "pong", "id": id_}, f"{self}: bad pong {r}"

    async def hello(self, nick, **extra):
        cmd = {"type": "hello", "nick": nick}
        cmd.update(extra)
        w = await self.request(cmd)
        assert w["type"] == "welcome", f"{self}: hello {nick!r} got {w}"
        self.nick = w["nick"]
        self.session = w.get("session")
        self.welcome = w
        return w

    async def join(self, room, **extra):
        cmd = {"type": "join", "room": room}
        cmd.update(extra)
        j = await self.request(cmd)
        assert j["type"] == "joined" and j.get("room") == room, f"{self}: join {room} got {j}"
        return j

    async def leave(self, room, **extra):
        cmd = {"type": "leave", "room": room}
        cmd.update(extra)
        r = await self.request(cmd)
        assert r["type"] == "left" and r.get("room") == room, f"{self}: leave {room} got {r}"
        return r

    async def msg(self, room, text, id_=None):
        cmd = {"type": "msg", "room": room, "text": text}
        if id_ is not None:
            cmd["id"] = id_
        a = await self.request(cmd)
        assert a["type"] == "ack", f"{self}: msg to {room} got {a}"
        return a

    async def dm(self, to, text, id_=None):
        cmd = {"type": "dm", "to": to, "text": text}
        if id_ is not None:
            cmd["id"] = id_
        a = await self.request(cmd)
        assert a["type"] == "ack", f"{self}: dm to {to} got {a}"
        return a

    # ---- closing

    async def close(self, code=1000, reason=""):
        try:
            await asyncio.wait_for(self.ws.close(code, reason), 5)
        except (asyncio.TimeoutError, OSError):
            self.ws.transport.abort()

    def drop(self):
        """An abnormal end: the TCP connection is reset, no close frame."""
        self.ws.transport.abort()

    async def wait_closed(self, timeout=RECV_TIMEOUT):
        """Waits for the server to close the connection; returns the close code
        (None if there was no close frame). Frames before the close are kept in
        self.seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self}: connection still open after {timeout} s")
            try:
                raw = await asyncio.wait_for(self.ws.recv(), remaining)
                self.seen.append(raw)
            except asyncio.TimeoutError:
                raise AssertionError(f"{self}: connection still open after {timeout} s") from None
            except websockets.exceptions.ConnectionClosed as e:
                if e.rcvd is None:
                    return None
                return e.rcvd.code


class Chat:
    """Per-test factory of clients on one cluster; closes them all at the end."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.clients = []
        self.raws = []

    def nick(self, prefix="u"):
        return new_nick(prefix)

    def room(self, prefix="r"):
        return new_room(prefix)

    async def connect(self, gw="A", ignore=("online",), path="/ws", **kwargs):
        """kwargs go to websockets.client.connect (origin=..., extra_headers=...)."""
        if self.cluster.ssl_context is not None:
            kwargs.setdefault("ssl", self.cluster.ssl_context)
        ws = await websockets.client.connect(
            self.cluster.ws_url(gw, path), compression=None, ping_interval=None,
            max_size=None, close_timeout=3, open_timeout=5, **kwargs)
        c = Client(ws, gw, f"conn{len(self.clients)}", ignore)
        self.clients.append(c)
        return c

    async def user(self, gw="A", nick=None, prefix="u", ignore=("online",)):
        c = await self.connect(gw, ignore)
        await c.hello(nick or new_nick(prefix))
        return c

    async def raw(self, gw="A", path="/ws", origin=None):
        r = await RawWS.open(self.cluster.ports[gw], path, origin=origin)
        self.raws.append(r)
        return r

    async def together(self, room, *clients):
        """Joins the clients to room one after the other; every earlier member
        receives (and this consumes) the presence join of each later one."""
        inside = []
        for c in clients:
            j = await c.join(room)
            for i, other in enumerate(inside):
                p = await other.recv_type("presence")
                assert p == {"type": "presence", "room": room, "nick": c.nick, "event": "join",
                             "count": len(inside) + 1}, f"{other}: bad presence {p}"
            inside.append(c)
        return room

    async def aclose(self):
        closes = [c.close() for c in self.clients if not c.ws.closed]
        if closes:
            await asyncio.gather(*closes, return_exceptions=True)
        for r in self.raws:
            r.abort()


# --------------------------------------------------------------------------- fixtures

def pytest_configure(config):
    config.addinivalue_line("markers", "timeout_s(seconds): overall time limit of an async test")


def cluster_lifetime(request, tmp_path_factory, broker_args=None, gateway_args=None,
                     ssl_context=None):
    """Generator body of a cluster fixture: start, yield, stop and insist on a
    clean shutdown. Modules needing their own scope or flags reuse it (a
    module's own `cluster` fixture may make files first, then pass flags)."""
    mod = request.module
    if broker_args is None:
        broker_args = getattr(mod, "BROKER_ARGS", ())
    if gateway_args is None:
        gateway_args = getattr(mod, "GATEWAY_ARGS", ())
    logdir = str(tmp_path_factory.mktemp(request.node.name.replace("/", "_")[:40]))
    c = Cluster(logdir, broker_args, gateway_args, ssl_context=ssl_context)
    c.start()
    try:
        yield c
    finally:
        problems = c.stop()
        if problems:
            pytest.fail("unclean shutdown: " + "; ".join(problems) + "\n" + c.logs(),
                        pytrace=False)


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory)


@pytest.fixture
def chat(cluster, request):
    if not cluster.alive():
        # A process died during an earlier test (that test failed for it):
        # start a fresh cluster so the rest of the module still means something.
        report = cluster.dead_report()
        cluster.kill()
        cluster.start()
        print(f"cluster restarted after a crash ({report})")
    yield Chat(cluster)
    if not cluster.alive():
        pytest.fail(f"a server process died during this test: {cluster.dead_report()}\n"
                    + cluster.logs(), pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    marker = pyfuncitem.get_closest_marker("timeout_s")
    limit = marker.args[0] if marker else DEFAULT_TEST_TIMEOUT

    async def runner():
        try:
            await asyncio.wait_for(fn(**args), limit)
        except asyncio.TimeoutError:
            raise AssertionError(f"test did not finish within {limit} s") from None
        finally:
            for v in args.values():
                if isinstance(v, Chat):
                    await v.aclose()

    asyncio.run(runner())
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        clusters = []
        for v in (getattr(item, "funcargs", None) or {}).values():
            if isinstance(v, Chat):
                v = v.cluster
            if isinstance(v, Cluster) and v not in clusters:
                clusters.append(v)
        for c in clusters:
            rep.sections.append(("server logs (tail)", c.logs()))


# --------------------------------------------------------------------------- durable history
# Additions for test_history_*.py: a cluster per test whose broker keeps its
# history in a real SQLite file and can be restarted (SIGTERM or SIGKILL) on
# the same endpoint while the gateways keep running.

import sqlite3  # noqa: E402  (kept with the history helpers)


def db_connect(path):
    """A read-only connection to a history database (never creates it)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def db_rows(path, room=None):
    """[(room, seq, nick, text, ts, client_id)] of the messages table, by room and seq."""
    con = db_connect(path)
    try:
        sql = "SELECT room, seq, nick, text, ts, client_id FROM messages"
        args = ()
        if room is not None:
            sql += " WHERE room = ?"
            args = (room,)
        return con.execute(sql + " ORDER BY room, seq", args).fetchall()
    finally:
        con.close()


def db_last_seq(path, room):
    con = db_connect(path)
    try:
        row = con.execute("SELECT last_seq FROM rooms WHERE name = ?", (room,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def db_integrity(path):
    """The result of PRAGMA integrity_check ("ok" when sound)."""
    con = sqlite3.connect(path, timeout=5)
    try:
        return "\n".join(r[0] for r in con.execute("PRAGMA integrity_check").fetchall())
    finally:
        con.close()


class HistoryCluster(Cluster):
    """A Cluster started by the test itself (start()), whose broker can be
    stopped and started again on the same endpoint (restart_broker())."""

    def __init__(self, logdir, db_path):
        super().__init__(logdir)
        self.db_path = db_path
        self.runs = 0
        self.started = False
        self.stopped = False

    def procs(self):
        ps = [self.broker] + [self.gateways.get(n) for n in self.gw_names]
        return [p for p in ps if p is not None]

    def start(self, history=None, broker_args=()):
        """Broker with --history (the test's db file unless given, "none" for
        none) and the extra broker_args, and gateways A and B."""
        assert not self.started, "HistoryCluster.start() called twice"
        self.started = True
        self.broker_args = ["--history", history or self.db_path] + list(broker_args)
        super().start()
        return self

    def stop_broker(self, how="term"):
        """SIGTERM (must exit 0 in time) or SIGKILL the broker."""
        if how == "kill":
            self.broker.kill()
            assert self.broker.p.returncode == -signal.SIGKILL, \
                f"broker ended with {describe_rc(self.broker.p.returncode)} on SIGKILL"
            return
        problem = self.broker.stop()
        assert problem is None, problem + "\n" + self.logs()

    def start_broker(self, extra_args=()):
        """A new broker process with the same argv (same endpoint, same db),
        plus extra_args (a flag given again overrides the earlier one)."""
        self.runs += 1
        argv = list(self.broker.argv) + list(extra_args)
        self.broker = Proc("broker", argv,
                           os.path.join(self.logdir, f"broker.{self.generation}.run{self.runs}.log"))
        time.sleep(0.05)
        if not self.broker.alive():
            pytest.fail(f"restarted broker died at once ({describe_rc(self.broker.p.returncode)})\n"
                        + self.logs(), pytrace=False)

    def restart_broker(self, how="term", extra_args=()):
        self.stop_broker(how)
        self.start_broker(extra_args)

    def stop(self):
        """Gateways, then the broker; once. Returns the list of problems."""
        if not self.started or self.stopped:
            return []
        self.stopped = True
        problems = []
        for p in [self.gateways.get(n) for n in self.gw_names] + [self.broker]:
            if p is None:
                continue
            if p._log.closed and not p.alive():
                continue  # stopped (or killed) by the test on purpose
            r = p.stop()
            if r:
                problems.append(r)
        return problems


@pytest.fixture
def hchat(request, tmp_path):
    """A Chat on a HistoryCluster of this test only, not yet started: the test
    calls hchat.cluster.start(...). Its database is tmp_path/"chat.db" unless
    the test sets hchat.cluster.db_path before starting. At the end every
    process is stopped and the broker must exit 0 on SIGTERM."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    c = HistoryCluster(str(logdir), str(tmp_path / "chat.db"))
    try:
        yield Chat(c)
    finally:
        problems = c.stop()
        c.kill()
        if problems:
            pytest.fail("unclean shutdown: " + "; ".join(problems) + "\n" + c.logs(),
                        pytrace=False)
