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
import threading
import time

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


# ----------------------------------------------------------------------------- recovery
# chat-bench against a cluster that fails under it: the broker restarted
# (SIGTERM, then the same argv: the history file keeps the seqs), a gateway
# SIGKILLed. History-backed clusters of the test's own (hchat).

def start_bench(bench, *args):
    """chat-bench in the background; the returned event is set once it says
    it is sending (its stderr is kept in the list)."""
    p = subprocess.Popen([bench, *args, "--json"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sending, err = threading.Event(), []

    def read():
        for line in p.stderr:
            err.append(line)
            if "sending:" in line or line.startswith("READY"):
                sending.set()
        sending.set()  # it ended

    threading.Thread(target=read, daemon=True).start()
    return p, sending, err


def finish_bench(p, err, timeout=90):
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise AssertionError("chat-bench did not end by itself\n" + "".join(err))
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, f"exit {p.returncode}, stdout {out!r}\n" + "".join(err)
    return p.returncode, json.loads(lines[0])


@pytest.mark.parametrize("ws", ["own", "lws"])
def test_recovers_from_a_broker_restart_and_a_gateway_loss(hchat, bench, ws):
    cl = hchat.cluster.start()
    p, sending, err = start_bench(
        bench, "--url", urls(cl), "--ws", ws, "--conns", "20", "--rooms", "1", "--senders", "4",
        "--rate", "20", "--warmup", "0.5", "--duration", "8", "--drain-timeout", "20",
        "--nick-prefix", "rec")
    assert sending.wait(30), "chat-bench never started sending\n" + "".join(err)
    time.sleep(2.5)                    # inside the measured window
    cl.restart_broker("term")          # every session gone: 1012, resumed false, re-join
    time.sleep(2.5)
    cl.gateways["A"].kill()            # its clients drop: reconnect to B, resumed true
    rc, out = finish_bench(p, err)
    m, rec = out["messages"], out["recovery"]
    info = json.dumps(out, indent=1) + "\n" + "".join(err)
    assert rc == 0, info
    assert out["connect"]["ready"] == 20 and out["lost"] == 0, info
    assert out["connect"]["started"] == 20, info  # reconnects are not new connections
    assert rec["enabled"] is True and rec["reconnects"] > 0, info
    # The broker restart closed every identified client with 1012; the new
    # broker did not know their sessions. Then A's clients lost their TCP
    # connection and resumed at B, whose broker still held their sessions.
    # (lws 4.1's own client reports 1012 as 1002: it thinks the code reserved.)
    assert out["closes"].get("1012" if ws == "own" else "1002", 0) == 20, info
    assert out["closes"].get("1006", 0) > 0, info
    assert rec["resumed"]["false"] >= 20 and rec["resumed"]["true"] > 0, info
    assert rec["seq_resets"] == 0, info
    # Every message of the window acknowledged once, and every acknowledged
    # message delivered once to each of the 19 other members.
    assert m["sent"] > 0 and m["acked"] == m["sent"] and m["refused"] == 0, info
    assert m["expected"] == 19 * m["acked"], info
    assert m["delivery_ratio"] == 1.0 and m["drained"] is True, info
    assert set(out["errors"]) <= {"unavailable"}, info
    assert out["frames"]["not_understood"] == 0, info
    assert out["complete"] is True, info


def test_no_reconnect_counts_the_closes_and_goes_on_without(hchat, bench):
    cl = hchat.cluster.start()
    p, ready, err = start_bench(bench, "--url", urls(cl), "--conns", "6", "--idle", "3",
                                "--no-reconnect", "--nick-prefix", "norec")
    assert ready.wait(30), "chat-bench never got ready\n" + "".join(err)
    cl.restart_broker("term")
    rc, out = finish_bench(p, err)
    info = json.dumps(out, indent=1) + "\n" + "".join(err)
    assert rc == 1, info               # connections were lost
    assert out["config"]["reconnect"] is False, info
    assert out["closes"] == {"1012": 6} and out["unexpected_closes"] == 6, info
    assert out["lost"] == 6 and out["complete"] is False, info
    rec = out["recovery"]
    assert rec["enabled"] is False and rec["attempts"] == 0 and rec["reconnects"] == 0, info


def test_reconnect_flag_values(bench):
    assert run(bench, "--reconnect", "2").returncode == 2
    assert run(bench, "--no-reconnect=1").returncode == 2
    r = run(bench, "--help")
    assert "--reconnect" in r.stdout and "--no-reconnect" in r.stdout
