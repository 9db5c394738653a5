"""ZeroMQ high-water marks (--hwm): when the link to the broker cannot take
more, the gateway answers `unavailable` (nothing accepted), counts the hit in
chat_gateway_hwm_hits_total and logs it; nothing is dropped silently: every
command gets exactly one answer."""

import asyncio
import json
import os
import signal

from conftest import metric, scrape

# A tiny queue, and a broker timeout long enough that the link stays "up"
# while the broker is stopped, so refusals come from the high-water mark.
GATEWAY_ARGS = ["--hwm", "1", "--broker-timeout", "60000"]
TEXT = "h" * 3900
N = 3000  # about 12 MB: more than the socket buffers between the processes


async def test_hwm_hits_are_answered_counted_and_logged(chat, cluster):
    room = chat.room()
    a = await chat.user("A")
    await a.join(room)
    before = scrape(cluster.ports["A"])[0]
    os.kill(cluster.broker.p.pid, signal.SIGSTOP)
    try:
        for i in range(N):
            await a.ws.send(json.dumps({"type": "msg", "room": room, "text": TEXT,
                                        "id": f"h{i}"}))
        # Refusals are answered at once, while the broker is still stopped.
        first = await a.recv(timeout=10)
        assert first["type"] == "error" and first["code"] == "unavailable", first
    finally:
        os.kill(cluster.broker.p.pid, signal.SIGCONT)
    answers = {first["id"]: first}
    while len(answers) < N:
        r = await a.recv(timeout=30, skip=("presence", "msg"))
        assert r["type"] in ("ack", "error"), r
        assert r["id"] not in answers, f"two answers for {r['id']}"
        answers[r["id"]] = r
    acked = [r for r in answers.values() if r["type"] == "ack"]
    refused = [r for r in answers.values() if r["type"] == "error"]
    assert all(r["code"] == "unavailable" for r in refused), refused[:3]
    assert acked and refused, (len(acked), len(refused))
    # The acked ones are exactly the room's messages, seqs without a gap.
    seqs = sorted(r["seq"] for r in acked)
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    after = scrape(cluster.ports["A"])[0]
    hits = metric(after, "chat_gateway_hwm_hits_total") - metric(before, "chat_gateway_hwm_hits_total")
    assert hits >= len(refused), (hits, len(refused))
    assert metric(after, "chat_gateway_unavailable_total") \
        - metric(before, "chat_gateway_unavailable_total") == len(refused)
    await asyncio.sleep(0.1)
    with open(cluster.gateways["A"].logpath, encoding="utf-8", errors="replace") as f:
        assert "event=link_send_refused" in f.read()
