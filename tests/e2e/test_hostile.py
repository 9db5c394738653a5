"""Hostile input: each abuse gets its documented error or close, nothing
crashes, memory stays bounded, and a well-behaved pair of clients (the
canary, on the other gateway) keeps chatting, every message delivered in
order, while it happens. Invalid UTF-8, binary frames, over-long frames and
fragments are covered in test_errors.py; rate limits in test_limits.py."""

import asyncio
import json
import socket

import pytest

from conftest import HOST, RawWS, metric, scrape

GATEWAY_ARGS = ["--handshake-timeout", "2000"]


class Canary:
    """Two clients on gateway B sending and receiving while the test runs."""

    def __init__(self, chat):
        self.chat = chat
        self.sent = self.got = 0

    async def start(self):
        self.room = self.chat.room("canary")
        self.a = await self.chat.user("B")
        self.b = await self.chat.user("B")
        await self.chat.together(self.room, self.a, self.b)
        self.task = asyncio.create_task(self.loop())
        return self

    async def loop(self):
        while True:
            ack = await self.a.msg(self.room, f"c{self.sent}")
            self.sent += 1
            m = await self.b.recv_type("msg", timeout=10)
            assert m["seq"] == ack["seq"] and m["text"] == f"c{self.sent - 1}", m
            self.got += 1
            await asyncio.sleep(0.02)

    async def stop(self):
        await asyncio.sleep(0.2)
        assert not self.task.done(), self.task.exception()
        self.task.cancel()
        assert self.got >= 3 and self.got >= self.sent - 1, (self.sent, self.got)


def rss(cluster, gw="A"):
    return metric(scrape(cluster.ports[gw])[0], "process_resident_memory_bytes")


def broker_rss(cluster):
    return metric(scrape(cluster.broker_http_port)[0], "process_resident_memory_bytes")


async def test_one_mib_frame_closes_1009(chat):
    canary = await Canary(chat).start()
    raw = await chat.raw("A")
    await raw.send_text(json.dumps({"type": "ping", "pad": "x" * (1 << 20)}))
    assert await raw.recv_close() == 1009
    await canary.stop()


@pytest.mark.parametrize("frame,code", [
    ("[" * 8000 + "]" * 8000, "bad_json"),                                   # deep nesting
    ('{"type":"ping","a":' + "[" * 5000 + "]" * 5000 + "}", "bad_request"),  # too deep inside
    ('{"type":"join","room":[' + "1," * 5000 + "1]}", "bad_request"),      # huge array
    ('{"type":"who","rooms":[' + '"x",' * 3000 + '"x"]}', "who"),          # ignored extra
    ('{"type":"msg","room":"r","text":"a\\u0000b"}', "bad_request"),      # NUL escape
    ('{"type":"msg","room":"r","text":"a\x00b"}', "bad_json"),            # raw NUL byte
])
async def test_malformed_structures(chat, frame, code):
    a = await chat.user("A")
    await a.ws.send(frame)
    r = await a.recv()
    assert r["type"] == code or r.get("code") == code, r
    await a.ping()  # still connected and answering


@pytest.mark.parametrize("nick", ["a\x01b", "a\nb", "a\tb", "\x7f", "a\u200bb", "a b", "<b>"])
async def test_control_and_odd_characters_in_nicks(chat, nick):
    c = await chat.connect("A")
    await c.expect_error({"type": "hello", "nick": nick, "id": "h"}, "nick_invalid")
    await c.hello(chat.nick())  # the connection can still identify


async def test_script_in_text_is_delivered_as_text(chat):
    room = chat.room()
    a = await chat.user("A")
    b = await chat.user("B")
    await chat.together(room, a, b)
    evil = '<script>alert(1)</script><img src=x onerror=alert(1)>"\'&'
    await a.msg(room, evil)
    m = await b.recv_type("msg")
    assert m["text"] == evil


async def test_nick_squatting(chat):
    a = await chat.user("A")
    for variant in (a.nick, a.nick.upper(), a.nick.lower(), a.nick.capitalize()):
        c = await chat.connect("B")
        await c.expect_error({"type": "hello", "nick": variant, "id": "h"}, "nick_taken")
    # Dropped without a clean close: reserved for the grace period, for its
    # owner only.
    session = a.session
    a.drop()
    await asyncio.sleep(0.3)
    squatter = await chat.connect("B")
    await squatter.expect_error({"type": "hello", "nick": a.nick, "id": "h"}, "nick_taken")
    await squatter.expect_error({"type": "hello", "nick": a.nick, "id": "h2",
                                 "resume": {"session": "0" * 32}}, "nick_taken")
    owner = await chat.connect("A")
    w = await owner.hello(a.nick, resume={"session": session})
    assert w["resumed"] is True


@pytest.mark.timeout_s(120)
async def test_ten_thousand_joins(chat, cluster):
    canary = await Canary(chat).start()
    before = broker_rss(cluster)
    a = await chat.user("A")
    n = 10000
    for i in range(n):
        await a.ws.send(json.dumps({"type": "join", "room": f"flood-{i}", "id": f"j{i}"}))
    joined = limited = 0
    for _ in range(n):
        r = await a.recv(timeout=30, skip=("presence",))
        if r["type"] == "joined":
            joined += 1
        else:
            assert r["code"] == "too_many_rooms", r
            limited += 1
    assert joined == 100 and limited == n - 100, (joined, limited)
    await canary.stop()
    assert broker_rss(cluster) - before < 64 << 20


@pytest.mark.timeout_s(120)
async def test_thousands_of_half_open_connections(chat, cluster):
    canary = await Canary(chat).start()
    before = rss(cluster)
    socks = []
    try:
        for i in range(2000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((HOST, cluster.ports["A"]))
            if i % 2:  # half say part of a request, half say nothing
                try:
                    s.send(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
                except OSError:
                    pass
            socks.append(s)
            if i % 200 == 0:
                await asyncio.sleep(0)
        # Meanwhile the gateway still serves: a new client on A chats too.
        room = chat.room()
        x = await chat.user("A")
        y = await chat.user("B")
        await chat.together(room, x, y)
        await x.msg(room, "through the crowd")
        assert (await y.recv_type("msg"))["text"] == "through the crowd"
        assert rss(cluster) - before < 64 << 20
        # After the handshake timeout the gateway has dropped them all.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        open_ = len(socks)
        while loop.time() < deadline and open_:
            await asyncio.sleep(0.5)
            open_ = 0
            for s in socks:
                try:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        continue
                    open_ += 1
                except BlockingIOError:
                    open_ += 1
                except OSError:
                    continue
        assert open_ == 0, f"{open_} half-open connections still held"
    finally:
        for s in socks:
            s.close()
    await canary.stop()


async def test_raw_garbage_before_the_upgrade(chat, cluster):
    """Not HTTP at all: the connection is dropped, the gateway goes on."""
    canary = await Canary(chat).start()
    s = socket.create_connection((HOST, cluster.ports["A"]))
    s.sendall(bytes(range(256)) * 64)
    s.settimeout(5)
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    w = await RawWS.open(cluster.ports["A"])
    assert w.status == 101
    w.abort()
    await canary.stop()
