"""Slow readers (--max-queue): a client that stops reading while its room is
busy is closed with 1013 once its queue passes the cap; the gateway's queue
never holds more than the cap (plus one frame); everyone else, on the same
gateway too, keeps receiving every message in order."""

import asyncio
import json

from conftest import RawWS, metric, scrape
from rawws import blocking_ws

MAX_QUEUE = 262144
GATEWAY_ARGS = ["--max-queue", str(MAX_QUEUE)]
TEXT = "x" * 3000
MESSAGES = 2500  # ~7.5 MB: well past the socket buffers and the cap
WINDOW = 20      # the sender stays this close to the watcher: a busy room that
                 # a reading client keeps up with


def stalled_client(port, nick, room):
    """A blocking socket with a tiny receive buffer that identifies, joins,
    and then reads nothing more."""
    s = blocking_ws(port, rcvbuf=4096)
    for cmd in ({"type": "hello", "nick": nick}, {"type": "join", "room": room, "id": "j"}):
        s.sendall(RawWS.frame(0x1, json.dumps(cmd).encode()))
    # Read until the joined answer, then stop reading for good.
    buf = b""
    while b'"joined"' not in buf:
        buf += s.recv(4096)
    return s


async def test_slow_reader_is_closed_and_others_keep_up(chat, cluster):
    room = chat.room()
    sender = await chat.user("A")
    watcher = await chat.user("B")  # on the slow reader's gateway
    await chat.together(room, sender, watcher)
    slow = await asyncio.to_thread(stalled_client, cluster.ports["B"], chat.nick(), room)
    try:
        before = scrape(cluster.ports["B"])[0]
        max_queued = 0

        seqs = []

        async def watch():
            while len(seqs) < MESSAGES:
                m = await watcher.recv_type("msg", timeout=20, skip=("presence",))
                seqs.append(m["seq"])

        async def sample_queue():
            nonlocal max_queued
            while True:
                g = scrape(cluster.ports["B"])[0]
                max_queued = max(max_queued, metric(g, "chat_gateway_queued_bytes"))
                await asyncio.sleep(0.05)

        watching = asyncio.create_task(watch())
        sampler = asyncio.create_task(sample_queue())
        acks = 0
        for i in range(MESSAGES):
            while len(seqs) < i - WINDOW:
                await asyncio.sleep(0.001)
            await sender.send({"type": "msg", "room": room, "text": TEXT, "id": f"s{i}"})
            if i % 50 == 49:  # keep the pipe moving: collect acks as we go
                while acks <= i - 25:
                    await sender.recv_type("ack", timeout=20, skip=("presence",))
                    acks += 1
        while acks < MESSAGES:
            await sender.recv_type("ack", timeout=20, skip=("presence",))
            acks += 1
        await asyncio.wait_for(watching, 60)
        sampler.cancel()
        # Everyone else got every message, in order, with no gap.
        assert seqs == list(range(seqs[0], seqs[0] + MESSAGES)), "watcher missed or reordered"
        after = scrape(cluster.ports["B"])[0]
        assert metric(after, "chat_gateway_slow_reader_closes_total") \
            - metric(before, "chat_gateway_slow_reader_closes_total") == 1
        assert metric(after, "chat_gateway_closes_total", code="1013") \
            - metric(before, "chat_gateway_closes_total", code="1013") == 1
        # The gateway never queued more than the cap plus one frame.
        assert max_queued <= MAX_QUEUE + len(TEXT) + 512, max_queued
        assert metric(after, "chat_gateway_queued_bytes") <= MAX_QUEUE
        # Its connection is dropped too (it never reads its close frame).
        for _ in range(100):
            if metric(scrape(cluster.ports["B"])[0], "chat_gateway_connections") == 1:
                break
            await asyncio.sleep(0.1)
        assert metric(scrape(cluster.ports["B"])[0], "chat_gateway_connections") == 1
        # The slow client's session was dropped: it is no longer in the room.
        who = await watcher.request({"type": "who", "room": room, "id": "w"}, "who")
        assert sorted(who["members"]) == sorted([sender.nick, watcher.nick]), who
    finally:
        slow.close()
