"""Prometheus metrics, /healthz and /readyz of the gateways and the broker
(docs/operations.md lists every name). Each check takes a scrape before and
after some traffic and asserts the exact change, since the cluster is shared
by the module's tests."""

import asyncio
import os
import signal
import tempfile
import time

from conftest import http_get, metric, scrape

BROKER_ARGS = ["--history", os.path.join(tempfile.mkdtemp(prefix="chat-metrics-"), "h.db")]


def both(cluster):
    return scrape(cluster.ports["A"])[0], scrape(cluster.ports["B"])[0], \
        scrape(cluster.broker_http_port)[0]


def test_format_and_families(cluster):
    for _ in range(50):  # the first heartbeat round trip
        if metric(scrape(cluster.ports["A"])[0], "chat_gateway_broker_rtt_seconds_count"):
            break
        time.sleep(0.1)
    for port, prefix in ((cluster.ports["A"], "chat_gateway_"),
                         (cluster.broker_http_port, "chat_broker_")):
        samples, types = scrape(port)
        ours = [f for f in types if f.startswith(prefix)]
        assert len(ours) >= 10, types
        for fam in types:
            assert fam.startswith(prefix) or fam.startswith("process_"), fam
        assert types["process_resident_memory_bytes"] == "gauge"
        assert metric(samples, "process_resident_memory_bytes") > 1 << 20
    g, _ = scrape(cluster.ports["A"])
    for name in ("chat_gateway_connections", "chat_gateway_queued_bytes",
                 "chat_gateway_broker_up", "chat_gateway_slow_reader_closes_total",
                 "chat_gateway_bytes_in_total", "chat_gateway_bytes_out_total",
                 "chat_gateway_broker_rtt_seconds_count"):
        assert (name, ()) in g, name
    assert metric(g, "chat_gateway_broker_up") == 1
    assert metric(g, "chat_gateway_broker_rtt_seconds_count") >= 1
    b, types = scrape(cluster.broker_http_port)
    assert types["chat_broker_persist_commit_seconds"] == "histogram"
    assert types["chat_broker_persist_batch_size"] == "histogram"
    assert metric(b, "chat_broker_gateways") == 2
    assert metric(b, "chat_broker_history_enabled") == 1


async def test_traffic_is_counted(chat, cluster):
    ga0, gb0, b0 = both(cluster)
    room = chat.room()
    a = await chat.user("A")
    c = await chat.user("B")
    await chat.together(room, a, c)
    n = 5
    for i in range(n):
        ack = await a.msg(room, f"m{i}")
        assert ack["type"] == "ack"
        got = await c.recv_type("msg")
        assert got["text"] == f"m{i}"
    await a.expect_error({"type": "join", "room": "bad room name!"}, "room_invalid")
    await a.ws.send("{not json")
    err = await a.recv_type("error")
    assert err["code"] == "bad_json"
    ga, gb, b = both(cluster)

    def d(after, before, name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    # Gateway A saw the sender's commands, gateway B delivered the messages.
    assert d(ga, ga0, "chat_gateway_frames_in_total", type="msg") == n
    assert d(ga, ga0, "chat_gateway_frames_in_total", type="hello") == 1
    # Refused at the edge (bad JSON, a bad room name): counted as invalid.
    assert d(ga, ga0, "chat_gateway_frames_in_total", type="invalid") == 2
    assert d(ga, ga0, "chat_gateway_frames_out_total", type="ack") == n
    assert d(gb, gb0, "chat_gateway_frames_out_total", type="msg") == n
    assert d(ga, ga0, "chat_gateway_errors_total", code="bad_json") == 1
    assert d(ga, ga0, "chat_gateway_errors_total", code="room_invalid") == 1
    assert d(ga, ga0, "chat_gateway_connections_opened_total") == 1
    assert metric(ga, "chat_gateway_connections") >= 1
    assert metric(ga, "chat_gateway_identified_connections") >= 1
    assert d(ga, ga0, "chat_gateway_bytes_in_total") > 0
    assert d(gb, gb0, "chat_gateway_bytes_out_total") > 0
    # The broker handled them and committed each message.
    assert d(b, b0, "chat_broker_commands_total", type="msg") == n
    assert d(b, b0, "chat_broker_messages_total") == n
    assert d(b, b0, "chat_broker_persist_committed_total") == n
    assert d(b, b0, "chat_broker_persist_commit_seconds_count") >= 1
    assert d(b, b0, "chat_broker_persist_batch_size_sum") == n
    assert metric(b, "chat_broker_sessions") >= 2
    assert metric(b, "chat_broker_rooms") >= 1
    # A broker-side error is counted by the broker and by the gateway.
    ga0, b0 = ga, b
    await a.expect_error({"type": "leave", "room": chat.room()}, "not_in_room")
    ga, _, b = both(cluster)
    assert d(b, b0, "chat_broker_errors_total", code="not_in_room") == 1
    assert d(ga, ga0, "chat_gateway_errors_total", code="not_in_room") == 1


def test_broker_health_endpoints(cluster):
    assert http_get(cluster.broker_http_port, "/healthz")[0] == 200
    assert http_get(cluster.broker_http_port, "/readyz")[0] == 200
    assert http_get(cluster.broker_http_port, "/nope")[0] == 404


async def test_readyz_follows_the_broker(cluster):
    """A stopped broker: the gateways' /readyz turns 503 and broker_up 0 once
    heartbeats go unanswered; /healthz stays 200; back when it resumes."""
    os.kill(cluster.broker.p.pid, signal.SIGSTOP)
    try:
        for _ in range(100):
            if http_get(cluster.ports["A"], "/readyz")[0] == 503:
                break
            await asyncio.sleep(0.1)
        assert http_get(cluster.ports["A"], "/readyz")[0] == 503
        assert http_get(cluster.ports["A"], "/healthz")[0] == 200
        assert metric(scrape(cluster.ports["A"])[0], "chat_gateway_broker_up") == 0
    finally:
        os.kill(cluster.broker.p.pid, signal.SIGCONT)
    for _ in range(100):
        if http_get(cluster.ports["A"], "/readyz")[0] == 200:
            break
        await asyncio.sleep(0.1)
    assert http_get(cluster.ports["A"], "/readyz")[0] == 200
    assert metric(scrape(cluster.ports["A"])[0], "chat_gateway_broker_up") == 1
