"""The gateway's HTTP side: web page, health, readiness, 404, upgrade paths."""

import pytest

from conftest import RawWS, http_get


@pytest.mark.parametrize("gw", ["A", "B"])
def test_root_serves_html(cluster, gw):
    status, headers, body = http_get(cluster.ports[gw], "/")
    assert status == 200
    assert headers.get("content-type", "").startswith("text/html"), headers
    assert b"<" in body and b"html" in body.lower()


@pytest.mark.parametrize("gw", ["A", "B"])
def test_healthz(cluster, gw):
    status, _, _ = http_get(cluster.ports[gw], "/healthz")
    assert status == 200


@pytest.mark.parametrize("gw", ["A", "B"])
def test_readyz_when_linked(cluster, gw):
    status, _, _ = http_get(cluster.ports[gw], "/readyz")
    assert status == 200


@pytest.mark.parametrize("path", ["/no-such-page", "/nope/deeper.html", "/missing.js"])
def test_unknown_path_is_404(cluster, path):
    status, _, body = http_get(cluster.ports["A"], path)
    assert status == 404, (status, body[:200])


@pytest.mark.parametrize("path", ["/../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                                  "/..%2f..%2f..%2fetc/passwd"])
def test_path_traversal_is_refused(cluster, path):
    status, _, body = http_get(cluster.ports["B"], path)
    assert status >= 400, (status, body[:200])
    assert b"root:" not in body


async def test_websocket_upgrade_on_ws_path(chat):
    raw = await chat.raw("A", "/ws")
    assert raw.status == 101, raw.head
    await raw.send_json({"type": "ping", "id": "up"})
    assert await raw.recv_json() == {"type": "pong", "id": "up"}


@pytest.mark.parametrize("path", ["/", "/chat", "/healthz", "/ws2"])
async def test_websocket_upgrade_elsewhere_is_refused(chat, path):
    # refused either with an HTTP error status or by dropping the connection
    try:
        raw = await chat.raw("B", path)
    except ConnectionError:
        return
    assert raw.status != 101, f"upgrade accepted on {path}: {raw.head}"


@pytest.mark.parametrize("gw", ["A", "B"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_status_answers_name_the_gateway(cluster, gw, path):
    status, headers, _ = http_get(cluster.ports[gw], path)
    assert status == 200
    assert headers.get("x-chat-gateway") == f"gw{gw}", headers


@pytest.mark.parametrize("gw", ["A", "B"])
async def test_websocket_upgrade_names_the_gateway(chat, gw):
    # X-Chat-Gateway on the 101 carries the gateway's --id (conftest: "gw<name>")
    c = await chat.connect(gw)
    assert c.ws.response_headers.get("X-Chat-Gateway") == f"gw{gw}", \
        dict(c.ws.response_headers.raw_items())
    await c.ping()
