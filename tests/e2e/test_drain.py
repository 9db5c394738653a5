"""Graceful shutdown (SIGTERM).

A gateway stops being ready and refuses new WebSocket upgrades, closes its
clients with 1012 (their sessions detached, so they resume on another
gateway with nothing lost), waits at most --drain-timeout for the closes and
exits 0. The broker flushes history and exits 0 (test_history_persist covers
what it keeps)."""

import asyncio
import os
import signal
import socket
import time

import pytest

from conftest import HOST, Cluster, http_get
from rawws import blocking_ws, upgrade_request

DRAIN_TIMEOUT_MS = 4000


@pytest.fixture
def fresh(tmp_path):
    c = Cluster(str(tmp_path), gateway_args=["--drain-timeout", str(DRAIN_TIMEOUT_MS)])
    c.start()
    yield c
    c.kill()


def silent_socket(port):
    """An identified-less WebSocket that will never answer a close."""
    return blocking_ws(port)


def upgrade_status(port):
    """The status line's code of a WebSocket upgrade, or None when refused."""
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except OSError:
        return None
    try:
        s.sendall(upgrade_request(HOST, port))
        data = s.recv(200)
        parts = data.split(b" ")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    except OSError:
        return None
    finally:
        s.close()


async def test_sigterm_closes_with_1012_and_clients_resume_elsewhere(fresh):
    from conftest import Chat
    chat = Chat(fresh)
    try:
        room = chat.room()
        a = await chat.user("A")
        b = await chat.user("B")
        await chat.together(room, a, b)
        m1 = await a.msg(room, "before the drain", "x1")
        await b.recv_type("msg")
        stalled = silent_socket(fresh.ports["A"])  # never answers its close

        gw = fresh.gateways["A"]
        os.kill(gw.p.pid, signal.SIGTERM)
        assert await a.wait_closed(timeout=5) == 1012
        # Draining or gone: not ready, and no new WebSocket clients.
        try:
            st = http_get(fresh.ports["A"], "/readyz", timeout=2)[0]
        except OSError:
            st = None  # already exited
        assert st != 200, st
        assert upgrade_status(fresh.ports["A"]) != 101
        # B's member saw A's client leave; messages sent meanwhile wait for it.
        p = await b.recv_type("presence")
        assert p["nick"] == a.nick and p["event"] == "leave", p
        m2 = await b.msg(room, "while a was away", "y1")

        # The gateway exits 0 within the drain timeout (plus slack).
        deadline = time.monotonic() + DRAIN_TIMEOUT_MS / 1000 + 5
        while gw.alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not gw.alive(), "gateway still running after its drain timeout"
        assert gw.p.returncode == 0, gw.p.returncode
        stalled.close()

        # The client resumes on B with its nick, its room and what it missed.
        c = await chat.connect("B")
        w = await c.hello(a.nick, resume={"session": a.session, "rooms": {room: m1["seq"]}})
        assert w["resumed"] is True, w
        j = await c.recv_type("joined")
        assert j["room"] == room and sorted(j["members"]) == sorted([a.nick, b.nick]), j
        got = await c.recv_type("msg")
        assert got["seq"] == m2["seq"] and got["text"] == "while a was away", got
        # ... and the retry of an acknowledged id is not a second message.
        again = await c.msg(room, "before the drain", "x1")
        assert again["seq"] == m1["seq"], again
    finally:
        await chat.aclose()
