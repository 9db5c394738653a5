"""The broker's per-nick rate limit (--nick-rate, --nick-burst): it spans
every connection of a nick, so reconnecting (or opening connections on other
gateways) does not refill it; other nicks are unaffected."""

import asyncio
import json

from conftest import metric, scrape

BROKER_ARGS = ["--nick-rate", "5", "--nick-burst", "5"]


async def burst(client, n, prefix):
    for i in range(n):
        await client.ws.send(json.dumps({"type": "who", "id": f"{prefix}{i}"}))
    return [await client.recv(skip=("presence",)) for _ in range(n)]


async def test_limit_spans_reconnects_and_gateways(chat, cluster):
    before = scrape(cluster.broker_http_port)[0]
    a = await chat.user("A")
    answers = await burst(a, 8, "a")
    ok = [r for r in answers if r["type"] == "who"]
    limited = [r for r in answers if r["type"] == "error"]
    assert len(ok) <= 5 and len(limited) >= 3, answers
    for r in limited:
        assert r["code"] == "rate_limited" and 0 < r["retry_after_ms"] <= 1000, r
    # Reconnecting, on the other gateway, does not refill the nick's bucket.
    nick = a.nick
    await a.close(1000)
    b = await chat.connect("B")
    await b.hello(nick)
    r = await b.request({"type": "who", "id": "again"})
    assert r["type"] == "error" and r["code"] == "rate_limited", r
    # Someone else is not limited by it.
    other = await chat.user("A")
    assert (await other.request({"type": "who", "id": "o"}))["type"] == "who"
    # After the advised wait, the nick may go on.
    await asyncio.sleep(r["retry_after_ms"] / 1000 + 0.05)
    assert (await b.request({"type": "who", "id": "later"}))["type"] == "who"
    after = scrape(cluster.broker_http_port)[0]
    assert metric(after, "chat_broker_rate_limited_total") \
        - metric(before, "chat_broker_rate_limited_total") >= 4
