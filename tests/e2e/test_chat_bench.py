"""chat-bench, the load tester, against a real cluster.

It must run to its end by itself, and what its --json says must add up:
every connection ready, every message of the measured window acknowledged,
every acknowledged message delivered to each other member of its room.
Behaviour only: no figure of speed is asserted.

The binary is $CHAT_BENCH_BIN, else the chat-bench next to $CHAT_BROKER_BIN
(the build the cluster comes from), else build/chat-bench.
"""

import json
import os
import subprocess

import pytest

from conftest import BROKER_BIN, ROOT


def bench_bin():
    env = os.environ.get("CHAT_BENCH_BIN")
    if env:
        return env
    sibling = os.path.join(os.path.dirname(BROKER_BIN), "chat-bench")
    if os.access(sibling, os.X_OK):
        return sibling
    return os.path.join(ROOT, "build", "chat-bench")


BENCH = bench_bin()


@pytest.fixture(scope="module")
def bench():
    if not os.access(BENCH, os.X_OK):
        pytest.skip(f"binary not built: {BENCH}")
    return BENCH


def run(bench, *args, timeout=90):
    return subprocess.run([bench, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def run_json(bench, *args):
    r = run(bench, *args, "--json")
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, f"want one JSON object on stdout, got: {r.stdout!r}"
    return json.loads(lines[0])


def urls(cluster):
    return f"{cluster.ws_url('A')},{cluster.ws_url('B')}"


def test_help_exits_zero(bench):
    r = run(bench, "--help")
    assert r.returncode == 0, r.stderr
    for flag in ("--url", "--conns", "--rooms", "--senders", "--rate", "--duration", "--json",
                 "--proto", "--storm", "--idle"):
        assert flag in r.stdout, f"--help does not mention {flag}"


def test_bad_usage_exits_2(bench):
    assert run(bench, "--no-such-flag").returncode == 2
    assert run(bench, "--proto", "carrier-pigeon").returncode == 2
    assert run(bench, "--conns", "2", "--rooms", "3").returncode == 2


@pytest.mark.parametrize("ws", ["own", "lws"])
def test_load_in_two_rooms_adds_up(cluster, bench, ws):
    """--ws own: chat-bench's WebSocket framing; --ws lws: libwebsockets'."""
    out = run_json(bench, "--url", urls(cluster), "--ws", ws, "--conns", "20", "--rooms", "2",
                   "--senders", "4", "--rate", "20", "--duration", "2", "--warmup", "0.5")
    c, m = out["connect"], out["messages"]
    assert (out["proto"], out["scenario"]) == ("chat", "load")
    assert c["ready"] == 20 and c["failed"] == 0
    assert m["sent"] > 0
    assert m["acked"] == m["sent"], m
    assert m["refused"] == 0
    assert m["delivered"] > 0
    # Rooms of 10: each acknowledged message reaches the 9 other members.
    assert m["expected"] == 9 * m["acked"], m
    assert m["delivery_ratio"] == 1.0, m
    assert m["drained"] is True
    assert out["errors_total"] == 0, out["errors"]
    assert out["unexpected_closes"] == 0, out["closes"]
    assert out["frames"]["not_understood"] == 0
    lat = out["latency_ms"]
    assert lat["delivery"]["n"] == m["delivered"]
    assert lat["ack"]["n"] == m["acked"]
    assert 0 <= lat["delivery"]["p50"] <= lat["delivery"]["p99"] <= lat["delivery"]["max"]
    assert out["cpu"]["window"]["user_s"] + out["cpu"]["window"]["sys_s"] >= 0
    assert out["complete"] is True


def test_storm_connects_everyone_and_ends(cluster, bench):
    out = run_json(bench, "--url", urls(cluster), "--storm", "--conns", "30", "--rooms", "3",
                   "--concurrency", "8")
    assert out["scenario"] == "storm"
    assert out["connect"]["ready"] == 30 and out["connect"]["failed"] == 0
    assert out["connect"]["per_s"] > 0
    assert out["messages"]["sent"] == 0
    assert out["unexpected_closes"] == 0 and out["errors_total"] == 0


def test_idle_says_ready_then_ends(cluster, bench, tmp_path):
    ready = tmp_path / "ready"
    out = run_json(bench, "--url", urls(cluster), "--idle", "1", "--conns", "10",
                   "--ready-file", str(ready))
    assert out["scenario"] == "idle"
    assert out["connect"]["ready"] == 10
    assert ready.read_text().split() == ["READY", "10"]
    assert out["idle_s"] >= 0.9
    assert out["unexpected_closes"] == 0


def test_sessions_end_when_the_bench_leaves(cluster, bench):
    """Its closes are clean (1000): the same nicks are free again at once."""
    args = ("--url", urls(cluster), "--conns", "6", "--nick-prefix", "cbreuse",
            "--storm")
    first = run_json(bench, *args)
    again = run_json(bench, *args)
    assert first["connect"]["ready"] == 6
    assert again["connect"]["ready"] == 6, again["connect"]["errors"]
