"""--allowed-origins: browsers (which always send Origin on a WebSocket
upgrade) from other sites get HTTP 403 before any WebSocket opens; clients
that send no Origin (bots, the load tester) are not browsers and pass."""

import os
import subprocess

import pytest
import websockets.exceptions

from conftest import GATEWAY_BIN, WEB_DIR, http_get

ALLOWED = "https://chat.example.com"
GATEWAY_ARGS = ["--allowed-origins", f" {ALLOWED} , http://localhost:8080"]


async def test_allowed_origin_chats(chat):
    a = await chat.connect("A", origin=ALLOWED)
    b = await chat.connect("B", origin="http://localhost:8080")
    await a.hello(chat.nick())
    await b.hello(chat.nick())
    room = await chat.together(chat.room(), a, b)
    await a.msg(room, "from the right site")
    assert (await b.recv_type("msg"))["text"] == "from the right site"


async def test_origin_compares_scheme_and_host_case_insensitively(chat):
    c = await chat.connect("A", origin="HTTPS://Chat.Example.COM")
    await c.ping()


@pytest.mark.parametrize("origin", [
    "https://evil.example", "http://chat.example.com", "https://chat.example.com:8443",
    "https://chat.example.com.evil.example", "null", "https://chat.example.com/",
], ids=["other-site", "other-scheme", "other-port", "suffix", "null", "slash"])
async def test_other_origin_gets_403(chat, origin):
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        await chat.connect("A", origin=origin)
    assert e.value.status_code == 403


async def test_refusal_is_an_http_403_before_any_websocket(chat):
    r = await chat.raw("B", origin="https://evil.example")
    assert r.status == 403, r.head
    assert "upgrade: websocket" not in r.head.lower()


async def test_no_origin_is_not_a_browser_and_passes(chat):
    c = await chat.connect("B")        # websockets sends no Origin unless asked
    await c.hello(chat.nick())
    r = await chat.raw("A")
    assert r.status == 101, r.head


async def test_gateway_still_serves_after_refusals(chat):
    for _ in range(3):
        with pytest.raises(websockets.exceptions.InvalidStatusCode):
            await chat.connect("A", origin="https://evil.example")
    assert http_get(chat.cluster.ports["A"], "/healthz")[0] == 200
    c = await chat.connect("A", origin=ALLOWED)
    await c.hello(chat.nick())


@pytest.mark.parametrize("value", [
    "chat.example.com", "https://chat.example.com/", "https://ok.example,ftp://x", "*",
], ids=["no-scheme", "slash", "ftp", "star"])
def test_bad_allowed_origins_exit_2(value):
    if not os.access(GATEWAY_BIN, os.X_OK):
        pytest.skip(f"binary not built: {GATEWAY_BIN}")
    r = subprocess.run([GATEWAY_BIN, "--port", "0", "--web", WEB_DIR, "--allowed-origins", value],
                       capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "--allowed-origins" in r.stderr and "is not an origin" in r.stderr, r.stderr
