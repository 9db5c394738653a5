"""CURVE between the gateways and the broker: keys made with chat-keygen, the
broker allowing only the gateway public keys in its --curve-clients folder
(CZMQ's zauth as ZAP handler). A gateway with another key, or without CURVE,
never gets a link: its clients get `unavailable` and the broker logs why."""

import os
import shutil
import stat
import subprocess
import time

import pytest

from conftest import BROKER_BIN, GATEWAY_BIN, HOST, WEB_DIR, cluster_lifetime, free_port, http_get
from spawn import spawn_gateway

KEYGEN_BIN = os.environ.get("CHAT_KEYGEN_BIN",
                            os.path.join(os.path.dirname(BROKER_BIN), "chat-keygen"))


def keygen(path, *extra):
    return subprocess.run([KEYGEN_BIN, "--out", path, *extra], capture_output=True, text=True,
                          timeout=10, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    if not os.access(KEYGEN_BIN, os.X_OK):
        pytest.skip(f"binary not built: {KEYGEN_BIN}")
    d = tmp_path_factory.mktemp("curve")
    clients = d / "clients"
    clients.mkdir()
    for name in ("broker", "gateways", "stranger"):
        r = keygen(str(d / name))
        assert r.returncode == 0, r.stderr
    shutil.copy(d / "gateways", clients / "gateways")   # the public key only
    return d


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory, keys):
    yield from cluster_lifetime(
        request, tmp_path_factory,
        broker_args=["--curve-secret-file", str(keys / "broker_secret"),
                     "--curve-clients", str(keys / "clients")],
        gateway_args=["--curve-secret-file", str(keys / "gateways_secret"),
                      "--curve-broker-public", str(keys / "broker")])


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def wait_log(proc, text, timeout=10.0, after=0):
    """Waits until proc's log (past byte offset `after`) contains text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in read(proc.logpath)[after:]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{proc.name}: no {text!r} in its log within {timeout} s\n"
                         + proc.tail())


async def assert_refused(chat, name, args, broker_says):
    """A gateway started with args never gets a link: the broker logs
    broker_says, its /readyz stays 503 and its clients get unavailable, while
    the allowed gateways go on serving."""
    cluster = chat.cluster
    mark = os.path.getsize(cluster.broker.logpath)   # only lines from now on count
    proc, port = spawn_gateway(cluster, name, args, wait_status=503)
    try:
        wait_log(cluster.broker, broker_says, after=mark)
        assert http_get(port, "/readyz")[0] == 503
        c = await chat.connect(name)
        await c.expect_error({"type": "hello", "nick": chat.nick(), "id": "h"}, "unavailable")
        await c.ping()
        a = await chat.connect("A")
        await a.hello(chat.nick())
    finally:
        problem = proc.stop()
    assert problem is None, problem


# --------------------------------------------------------------------------- with keys

async def test_chat_works_over_curve(chat):
    log = read(chat.cluster.broker.logpath)
    assert "event=curve_server" in log and "event=curve_clients" in log, log[-3000:]
    for name in ("A", "B"):
        assert "event=curve_client" in read(chat.cluster.gateways[name].logpath)
    a, b = await chat.connect("A"), await chat.connect("B")
    await a.hello(chat.nick())
    await b.hello(nb := chat.nick())
    room = await chat.together(chat.room(), a, b)
    ack = await a.msg(room, "over CURVE", "m1")
    m = await b.recv_type("msg")
    assert (m["text"], m["seq"]) == ("over CURVE", ack["seq"])
    await a.dm(nb, "psst")
    assert (await b.recv_type("dm"))["text"] == "psst"


async def test_unknown_gateway_key_is_refused(chat, keys):
    await assert_refused(chat, "X", ["--curve-secret-file", str(keys / "stranger_secret"),
                                     "--curve-broker-public", str(keys / "broker")],
                         "event=curve_auth_denied")


async def test_gateway_without_curve_is_refused(chat):
    await assert_refused(chat, "P", [], "event=curve_handshake_failed")


async def test_gateway_trusting_another_broker_key_is_refused(chat, keys):
    await assert_refused(chat, "W", ["--curve-secret-file", str(keys / "gateways_secret"),
                                     "--curve-broker-public", str(keys / "stranger")],
                         "event=curve_handshake_failed")


async def test_key_added_to_clients_folder_is_let_in_live(chat, keys, tmp_path):
    assert keygen(str(tmp_path / "late")).returncode == 0
    proc, port = spawn_gateway(
        chat.cluster, "L", ["--curve-secret-file", str(tmp_path / "late_secret"),
              "--curve-broker-public", str(keys / "broker")], wait_status=503)
    try:
        shutil.copy(tmp_path / "late", keys / "clients" / "late")
        deadline = time.monotonic() + 15
        while http_get(port, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "gateway not let in after its key was added\n" \
                + proc.tail()
            time.sleep(0.1)
        c = await chat.connect("L")
        await c.hello(chat.nick())
    finally:
        os.unlink(keys / "clients" / "late")
        problem = proc.stop()
    assert problem is None, problem


# --------------------------------------------------------------------------- keys and flags

def test_keygen_writes_a_private_pair_and_refuses_to_overwrite(tmp_path):
    if not os.access(KEYGEN_BIN, os.X_OK):
        pytest.skip(f"binary not built: {KEYGEN_BIN}")
    path = str(tmp_path / "k")
    r = keygen(path)
    assert r.returncode == 0, r.stderr
    pub, sec = read(path), read(path + "_secret")
    assert "public-key" in pub and "secret-key" not in pub
    assert "public-key" in sec and "secret-key" in sec
    assert stat.S_IMODE(os.stat(path + "_secret").st_mode) == 0o600
    r = keygen(path)
    assert r.returncode == 1 and "--force" in r.stderr, r.stderr
    assert read(path) == pub
    assert keygen(path, "--force").returncode == 0
    assert read(path) != pub
    assert keygen("").returncode == 2


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=15,
                          stdin=subprocess.DEVNULL)


def test_bad_curve_flags(keys, tmp_path):
    ep = f"tcp://{HOST}:{free_port()}"
    broker = [BROKER_BIN, "--listen", ep]
    # Half the broker's settings: CURVE without client authentication is refused.
    r = run(broker + ["--curve-secret-file", str(keys / "broker_secret")])
    assert r.returncode == 2 and "--curve-clients" in r.stderr, r.stderr
    r = run(broker + ["--curve-secret-file", str(keys / "broker_secret"),
                      "--curve-clients", str(tmp_path / "none")])
    assert r.returncode == 1 and "curve_clients_unreadable" in r.stderr, r.stderr
    r = run(broker + ["--curve-secret-file", str(keys / "broker_secret"), "--curve-clients", "*"])
    assert r.returncode == 1 and "curve_clients_unreadable" in r.stderr, r.stderr
    # A public key where the key pair belongs.
    shutil.copy(keys / "broker", tmp_path / "public-only")
    r = run(broker + ["--curve-secret-file", str(tmp_path / "public-only"),
                      "--curve-clients", str(keys / "clients")])
    assert r.returncode == 1 and "no secret-key" in r.stderr, r.stderr

    gateway = [GATEWAY_BIN, "--port", "0", "--web", WEB_DIR, "--broker", ep]
    r = run(gateway + ["--curve-secret-file", str(keys / "gateways_secret")])
    assert r.returncode == 2 and "--curve-broker-public" in r.stderr, r.stderr
    r = run(gateway + ["--curve-secret-file", str(tmp_path / "missing"),
                       "--curve-broker-public", str(keys / "broker")])
    assert r.returncode == 1 and "curve_key_unreadable" in r.stderr, r.stderr
