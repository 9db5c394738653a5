"""The gateway's event loops and its receive buffer.

The module's cluster runs lws's poll() loop with the smallest receive buffer
(--event-loop poll --rx-buffer 256); a second one the defaults (libev).
Messages much longer than the buffer arrive in pieces and must be assembled
whole, --max-frame still holds, and a burst of frames queued to one client
(written several per send) arrives intact and in order on both loops. Bad
values are refused with exit status 2."""

import subprocess

import pytest

from conftest import GATEWAY_BIN, MAX_FRAME, MAX_TEXT, Chat, cluster_lifetime, padded_ping

RX_BUFFER = 256
GATEWAY_ARGS = ["--event-loop", "poll", "--rx-buffer", str(RX_BUFFER)]
BURST = 300


@pytest.fixture(scope="module")
def default_cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory, gateway_args=[])


@pytest.fixture(params=["poll", "ev"])
def either(request, cluster, default_cluster):
    return Chat(cluster if request.param == "poll" else default_cluster)


async def test_each_cluster_runs_its_loop(chat, default_cluster):
    assert "event_loop=poll rx_buffer=256" in chat.cluster.logs()
    assert "event_loop=ev rx_buffer=1024" in default_cluster.logs()


async def test_long_message_assembled_from_pieces(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    c = await chat.user("A")
    room = await chat.together(chat.room(), a, b, c)
    text = "\u00e9" * MAX_TEXT  # 8,000 bytes: over 30 receive buffers
    await a.msg(room, text)
    for other in (b, c):
        assert (await other.recv_type("msg"))["text"] == text


async def test_frame_at_limit_answered_then_over_limit_closes_1009(chat):
    raw = await chat.raw("B")
    await raw.send_text(padded_ping(MAX_FRAME))
    f = await raw.recv_json()
    while f["type"] == "online":
        f = await raw.recv_json()
    assert f == {"type": "pong", "id": "big"}
    await raw.send_text(padded_ping(MAX_FRAME + 1))
    assert await raw.recv_close() == 1009


@pytest.mark.timeout_s(60)
async def test_burst_arrives_whole_and_in_order(either):
    a = await either.user("A")
    near = await either.user("A")
    far = await either.user("B")
    room = await either.together(either.room(), a, near, far)
    # Sent without waiting: the answers and deliveries queue up at the gateways.
    texts = [f"burst {i} " + "x" * (i % 700) for i in range(BURST)]
    for i, t in enumerate(texts):
        await a.send({"type": "msg", "room": room, "text": t, "id": str(i)})
    acks = await a.recv_n(BURST)
    assert [k["id"] for k in acks] == [str(i) for i in range(BURST)]
    seqs = [k["seq"] for k in acks]
    assert seqs == list(range(seqs[0], seqs[0] + BURST))
    for other in (near, far):
        got = await other.recv_n(BURST)
        assert [m["text"] for m in got] == texts
        assert [m["seq"] for m in got] == seqs


@pytest.mark.parametrize("args, complaint", [
    (["--event-loop", "epoll"], "--event-loop must be ev or poll"),
    (["--rx-buffer", "100"], "rx-buffer"),
])
def test_bad_values_refused(args, complaint):
    p = subprocess.run([GATEWAY_BIN, "--port", "0"] + args, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2, p
    assert complaint in p.stderr, p.stderr


def test_help_names_the_flags():
    out = subprocess.run([GATEWAY_BIN, "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    assert "--event-loop" in out and "default ev" in out
    assert "--rx-buffer" in out and "default 1024" in out
