#!/usr/bin/python3
"""A broker (SQLite history) and one gateway under valgrind, through a short
session of every command; fails on any valgrind error or definite/indirect
leak, in either process.

    session.py BUILD_DIR [WORK_DIR]

tests/valgrind/run.sh builds BUILD_DIR (a plain debug build) and calls this.
Valgrind's reports and the processes' logs are left in WORK_DIR (default: a
new directory under /tmp, printed). Processes, clients and the helpers come
from tests/e2e/conftest.py; timeouts are generous, as everything runs 20 to
50 times slower under valgrind, but every wait is bounded.
"""

import asyncio
import os
import re
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import websockets.client  # noqa: E402

from conftest import HOST, Client, Proc, free_port, http_get  # noqa: E402

T = 20.0                # any one expected frame
READY_TIMEOUT = 60.0    # valgrind start-up of both processes
STOP_TIMEOUT = 60.0     # SIGTERM -> exit, leak check included
PUSHES = ("presence", "typing", "nick", "msg", "dm")

VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
            "--num-callers=30"]


def under_valgrind(name, argv, work):
    vg = VALGRIND + [f"--log-file={os.path.join(work, name + '.valgrind.log')}"]
    return Proc(name, vg + argv, os.path.join(work, name + ".log"))


def wait_ready(port, procs):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise AssertionError(f"{p.name} died at startup:\n{p.tail()}")
        try:
            if http_get(port, "/readyz", timeout=2.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the gateway was not ready within {READY_TIMEOUT} s")


async def connect(port, label):
    ws = await websockets.client.connect(
        f"ws://{HOST}:{port}/ws", compression=None, ping_interval=None, max_size=None,
        close_timeout=T, open_timeout=T)
    return Client(ws, "V", label)


async def reply(client, obj, type_):
    """Sends obj; the next frame that is not a push must be of type_."""
    r = await client.request(obj, timeout=T, skip=PUSHES if type_ not in PUSHES else ())
    assert r["type"] == type_, f"{client}: sent {obj}, expected {type_!r}, got {r}"
    return r


async def push(client, type_):
    """The next push of type_ (other pushes are skipped)."""
    return await client.recv_type(type_, timeout=T, skip=tuple(p for p in PUSHES if p != type_))


async def session(port):
    room = "valgrind"
    a = await connect(port, "alice")
    b = await connect(port, "bob")
    w = await reply(a, {"type": "hello", "nick": "alice", "id": "h1"}, "welcome")
    token = w["session"]
    await reply(b, {"type": "hello", "nick": "bob"}, "welcome")
    await reply(a, {"type": "ping", "id": "p1"}, "pong")

    await reply(a, {"type": "join", "room": room, "id": "j1"}, "joined")
    await reply(b, {"type": "join", "room": room}, "joined")
    await push(a, "presence")
    ack = await reply(a, {"type": "msg", "room": room, "text": "héllo 👋", "id": "m1"}, "ack")
    assert (await push(b, "msg"))["text"] == "héllo 👋"
    again = await reply(a, {"type": "msg", "room": room, "text": "retry", "id": "m1"}, "ack")
    assert again["seq"] == ack["seq"], (again, ack)
    await reply(a, {"type": "dm", "to": "BOB", "text": "psst", "id": "d1"}, "ack")
    assert (await push(b, "dm"))["from"] == "alice"

    await a.send({"type": "typing", "room": room, "active": True})
    assert (await push(b, "typing"))["active"] is True
    await b.send({"type": "typing", "to": "alice", "active": True})
    assert (await push(a, "typing"))["nick"] == "bob"
    await b.send({"type": "typing", "to": "alice", "active": False})
    assert (await push(a, "typing"))["active"] is False

    h = await reply(b, {"type": "history", "room": room, "limit": 10, "id": "hi"}, "history")
    assert [m["text"] for m in h["messages"]] == ["héllo 👋"], h
    who = await reply(a, {"type": "who", "room": room}, "who")
    assert sorted(who["members"]) == ["alice", "bob"], who
    await reply(a, {"type": "who"}, "who")
    n = await reply(b, {"type": "nick", "nick": "bobby", "id": "n1"}, "ack")
    assert n.get("id") == "n1", n
    assert (await push(a, "nick"))["new"] == "bobby"
    await reply(b, {"type": "leave", "room": room}, "left")
    await push(a, "presence")

    # Bad commands: refused at the edge and by the broker.
    assert (await reply(a, "{not json", "error"))["code"] == "bad_json"
    assert (await reply(a, {"type": "shout"}, "error"))["code"] == "bad_request"
    assert (await reply(b, {"type": "msg", "room": room, "text": "x"}, "error"))["code"] \
        == "not_in_room"
    assert (await reply(b, {"type": "dm", "to": "nobody", "text": "x"}, "error"))["code"] \
        == "no_such_user"

    # A dropped connection, resumed on a new one with what it missed.
    a.drop()
    await reply(b, {"type": "join", "room": room}, "joined")
    await reply(b, {"type": "msg", "room": room, "text": "while you were away"}, "ack")
    a2 = await connect(port, "alice again")
    w = await reply(a2, {"type": "hello", "nick": "alice",
                         "resume": {"session": token, "rooms": {room: ack["seq"]}}}, "welcome")
    assert w["resumed"] is True, w
    await a2.recv_type("joined", timeout=T, skip=PUSHES)
    assert (await push(a2, "msg"))["text"] == "while you were away"
    await reply(a2, {"type": "msg", "room": room, "text": "back"}, "ack")

    await a2.close(1000)
    await b.close(1000)


def valgrind_summary(path):
    """(ok, lines worth printing) from one valgrind log."""
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError as e:
        return False, [f"cannot read {path}: {e}"]
    keep = [ln for ln in text.splitlines()
            if re.search(r"ERROR SUMMARY|definitely lost:|indirectly lost:|possibly lost:|"
                         r"still reachable:|All heap blocks were freed", ln)]
    m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
    return bool(m) and m.group(1) == "0", keep


def print_report(path, max_lines=200):
    """The valgrind log (its head: the first errors matter most), to stderr."""
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        return
    print(f"----- {path} -----", file=sys.stderr)
    for ln in lines[:max_lines]:
        print(ln, file=sys.stderr)
    if len(lines) > max_lines:
        print(f"... ({len(lines) - max_lines} more lines)", file=sys.stderr)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    work = sys.argv[2] if len(sys.argv) == 3 else tempfile.mkdtemp(prefix="chat-valgrind.")
    os.makedirs(work, exist_ok=True)
    broker_url = f"tcp://{HOST}:{free_port()}"
    port = free_port()
    print(f"valgrind: logs in {work}", flush=True)
    t0 = time.monotonic()
    broker = under_valgrind("broker", [
        os.path.join(build, "chat-broker"), "--listen", broker_url,
        "--history", os.path.join(work, "history.db"), "--grace", "10000",
        "--gateway-timeout", "20000", "--log-level", "debug"], work)
    gateway = under_valgrind("gateway", [
        os.path.join(build, "chat-gateway"), "--port", str(port), "--broker", broker_url,
        "--id", "gwV", "--web", os.path.join(ROOT, "gateway", "web"),
        "--broker-timeout", "20000", "--log-level", "debug"], work)
    failures = []
    try:
        wait_ready(port, [broker, gateway])
        print(f"valgrind: ready after {time.monotonic() - t0:.1f} s; running the session",
              flush=True)
        asyncio.run(asyncio.wait_for(session(port), 90))
    except Exception as e:  # whatever went wrong, the processes are stopped below
        traceback.print_exc()
        failures.append(f"session: {e!r}")
    for p in (gateway, broker):
        problem = p.stop(STOP_TIMEOUT)
        if problem:
            failures.append(problem)
    for name in ("broker", "gateway"):
        ok, lines = valgrind_summary(os.path.join(work, name + ".valgrind.log"))
        print(f"valgrind: {name}: " + ("clean" if ok else "ERRORS"))
        for ln in lines:
            print("    " + ln.split("== ", 1)[-1])
        if not ok:
            failures.append(f"{name}: valgrind reported errors (see {name}.valgrind.log)")
            print_report(os.path.join(work, name + ".valgrind.log"))
    print(f"valgrind: {time.monotonic() - t0:.1f} s in all")
    if failures:
        for f in failures:
            print("valgrind: FAILED: " + f, file=sys.stderr)
        for p in (broker, gateway):
            print(f"----- {p.name} ({p.logpath}) -----\n{p.tail()}", file=sys.stderr)
        return 1
    print("valgrind: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
