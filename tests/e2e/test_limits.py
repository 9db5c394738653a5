"""Rate limits at the gateway, with the default flags (--rate 20 --burst 40
--flood-close 100): a token bucket per connection answers `rate_limited` with
`retry_after_ms`; a client that keeps flooding is closed with 1008; pings are
never limited; other clients are unaffected."""

import asyncio
import json

from conftest import metric, scrape

GATEWAY_ARGS = ["--rate", "20", "--burst", "40", "--flood-close", "100"]


async def blast(client, n, make):
    """Sends n commands without waiting, then reads the n answers."""
    for i in range(n):
        await client.ws.send(json.dumps(make(i)))
    return [await client.recv(skip=("presence",)) for _ in range(n)]


async def test_burst_then_rate_limited_with_retry_after(chat):
    a = await chat.user("A")  # hello took one token
    answers = await blast(a, 60, lambda i: {"type": "who", "id": f"w{i}"})
    ok = [r for r in answers if r["type"] == "who"]
    limited = [r for r in answers if r["type"] == "error"]
    assert len(ok) + len(limited) == 60
    assert 39 <= len(ok) <= 45, [r["type"] for r in answers]
    assert limited, answers
    for r in limited:
        assert r["code"] == "rate_limited" and r["message"], r
        assert isinstance(r["retry_after_ms"], int) and 0 < r["retry_after_ms"] <= 1000, r
        assert r["id"].startswith("w"), r
    # Answers keep the order the commands were sent in.
    assert [r["id"] for r in answers] == [f"w{i}" for i in range(60)]
    # After the advised wait, a command goes through again.
    await asyncio.sleep(limited[-1]["retry_after_ms"] / 1000 + 0.05)
    w = await a.request({"type": "who", "id": "again"})
    assert w["type"] == "who", w


async def test_pings_are_never_limited(chat):
    a = await chat.user("A")
    answers = await blast(a, 120, lambda i: {"type": "ping", "id": f"p{i}"})
    assert answers == [{"type": "pong", "id": f"p{i}"} for i in range(120)]


async def test_flooding_closes_with_1008_and_others_keep_chatting(chat, cluster):
    before = scrape(cluster.ports["A"])[0]
    room = chat.room()
    flooder = await chat.user("A")
    b = await chat.user("A")
    c = await chat.user("B")
    await chat.together(room, b, c)
    for i in range(400):
        try:
            await flooder.ws.send(json.dumps({"type": "who", "id": f"f{i}"}))
        except Exception:  # noqa: BLE001 - closed under our feet: that is the point
            break
    # The close frame says 1008; a client still blasting may instead see the
    # TCP reset that its unread commands cause when the socket closes.
    assert await flooder.wait_closed(timeout=5) in (1008, None)
    after = scrape(cluster.ports["A"])[0]
    assert metric(after, "chat_gateway_closes_total", code="1008") \
        - metric(before, "chat_gateway_closes_total", code="1008") == 1
    assert metric(after, "chat_gateway_rate_limited_total") \
        - metric(before, "chat_gateway_rate_limited_total") >= 100
    # Everyone else is unharmed.
    ack = await b.msg(room, "still here")
    got = await c.recv_type("msg")
    assert got["seq"] == ack["seq"] and got["text"] == "still here"
