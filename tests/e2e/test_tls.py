"""--tls-cert / --tls-key: the gateways serve wss:// and https:// on their one
port, with a self-signed certificate made here by `openssl req -x509`; clients
trust exactly that certificate. Plain ws:// and http:// to the port fail."""

import http.client
import os
import ssl
import subprocess

import pytest
import websockets.client
import websockets.exceptions

from conftest import GATEWAY_BIN, HOST, WEB_DIR, cluster_lifetime, http_get


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory, tls_files):
    cert, key = tls_files
    ctx = ssl.create_default_context(cafile=cert)   # trusts this certificate only
    yield from cluster_lifetime(request, tmp_path_factory,
                                gateway_args=["--tls-cert", cert, "--tls-key", key],
                                ssl_context=ctx)


async def test_wss_clients_chat(chat):
    assert chat.cluster.ws_url("A").startswith("wss://")
    a, b = await chat.connect("A"), await chat.connect("B")
    await a.hello(chat.nick())
    await b.hello(nb := chat.nick())
    room = await chat.together(chat.room(), a, b)
    ack = await a.msg(room, "encrypted hello", "m1")
    m = await b.recv_type("msg")
    assert (m["text"], m["seq"]) == ("encrypted hello", ack["seq"])
    await a.dm(nb, "psst")
    assert (await b.recv_type("dm"))["text"] == "psst"


async def test_https_serves_the_page_and_health(chat):
    ctx = chat.cluster.ssl_context
    st, _, body = http_get(chat.cluster.ports["A"], "/healthz", ssl_context=ctx)
    assert (st, body) == (200, b"ok\n")
    st, headers, body = http_get(chat.cluster.ports["B"], "/", ssl_context=ctx)
    assert st == 200 and b"<html" in body.lower()


async def test_plain_ws_to_the_tls_port_fails(chat):
    url = f"ws://{HOST}:{chat.cluster.ports['A']}/ws"
    # The gateway's TLS layer takes the HTTP request for a bad handshake and
    # hangs up: no HTTP response, no WebSocket.
    with pytest.raises((websockets.exceptions.InvalidHandshake, OSError)):
        ws = await websockets.client.connect(url, open_timeout=5, close_timeout=1)
        await ws.close()
    # The gateway is unharmed.
    c = await chat.connect("A")
    await c.ping()


async def test_plain_http_to_the_tls_port_fails(chat):
    conn = http.client.HTTPConnection(HOST, chat.cluster.ports["B"], timeout=5)
    try:
        with pytest.raises((OSError, http.client.HTTPException)):
            conn.request("GET", "/healthz")
            conn.getresponse()
    finally:
        conn.close()


async def test_untrusted_client_refuses_the_certificate(chat):
    url = chat.cluster.ws_url("B")
    with pytest.raises(ssl.SSLCertVerificationError):
        await websockets.client.connect(url, ssl=ssl.create_default_context(), open_timeout=5)


@pytest.mark.parametrize("which", ["cert-only", "key-only", "missing-file"])
def test_bad_tls_flags_exit_2(which, tls_files, tmp_path):
    if not os.access(GATEWAY_BIN, os.X_OK):
        pytest.skip(f"binary not built: {GATEWAY_BIN}")
    cert, key = tls_files
    args = {"cert-only": ["--tls-cert", cert], "key-only": ["--tls-key", key],
            "missing-file": ["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", key]}[which]
    r = subprocess.run([GATEWAY_BIN, "--port", "0", "--web", WEB_DIR, *args],
                       capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--tls-" in r.stderr, r.stderr
