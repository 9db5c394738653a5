"""Connection limits of the gateway: --max-conns, --max-conns-per-ip,
--handshake-timeout, and the idle policy (--ping-interval, --idle-timeout):
refused upgrades are counted, half-open and silent connections are dropped,
live clients that answer pings stay."""

import asyncio
import socket

import websockets

from conftest import HOST, RawWS, metric, scrape

GATEWAY_ARGS = ["--max-conns", "6", "--max-conns-per-ip", "3", "--handshake-timeout", "1000",
                "--ping-interval", "1000", "--idle-timeout", "3000"]


async def ws_from(cluster, source_ip):
    return await websockets.connect(cluster.ws_url("A"), local_addr=(source_ip, 0),
                                    open_timeout=3, ping_interval=None)


async def refused(cluster, source_ip):
    try:
        ws = await ws_from(cluster, source_ip)
    except (websockets.exceptions.InvalidHandshake, OSError, asyncio.TimeoutError):
        return True
    await ws.close()
    return False


async def test_per_ip_and_total_limits(cluster):
    before = scrape(cluster.ports["A"])[0]
    held = []
    try:
        for _ in range(3):
            held.append(await ws_from(cluster, "127.0.0.1"))
        assert await refused(cluster, "127.0.0.1"), "a 4th connection from one address"
        for _ in range(3):
            held.append(await ws_from(cluster, "127.0.0.2"))
        assert await refused(cluster, "127.0.0.3"), "a 7th connection in all"
        # Closing one makes room again, for its address.
        await held.pop(0).close()
        await asyncio.sleep(0.2)
        held.append(await ws_from(cluster, "127.0.0.1"))
        after = scrape(cluster.ports["A"])[0]
        for reason in ("max_conns_per_ip", "max_conns"):
            assert metric(after, "chat_gateway_refused_connections_total", reason=reason) \
                - metric(before, "chat_gateway_refused_connections_total", reason=reason) == 1
    finally:
        for ws in held:
            await ws.close()


def closed_by_server(sock, timeout=8):
    """True when the server closes the socket (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_handshake_that_never_finishes_is_dropped(cluster):
    silent = socket.create_connection((HOST, cluster.ports["A"]))
    partial = socket.create_connection((HOST, cluster.ports["A"]))
    partial.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")  # never ends
    try:
        assert closed_by_server(silent)
        assert closed_by_server(partial)
    finally:
        silent.close()
        partial.close()


async def test_idle_client_is_pinged_then_closed_but_live_client_stays(chat, cluster):
    live = await chat.user("B")  # websockets answers pings by itself
    mute = await RawWS.open(cluster.ports["A"])  # never answers a ping
    assert mute.status == 101
    pings = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 8
    closed = False
    while loop.time() < deadline:
        try:
            hdr = await asyncio.wait_for(mute.reader.readexactly(2), deadline - loop.time())
        except (asyncio.IncompleteReadError, ConnectionError):
            closed = True
            break
        except asyncio.TimeoutError:
            break
        n = hdr[1] & 0x7F
        if n == 126:
            n = int.from_bytes(await mute.reader.readexactly(2), "big")
        await mute.reader.readexactly(n)
        if hdr[0] & 0x0F == 0x9:
            pings += 1
        if hdr[0] & 0x0F == 0x8:
            closed = True
            break
    mute.abort()
    assert pings >= 1, "the gateway never pinged a silent client"
    assert closed, "a client that never answers pings was not closed"
    await live.ping()  # the client that answered pings is still there
