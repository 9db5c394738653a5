"""RawWS: a hand-made WebSocket client for the end-to-end tests (re-exported
by conftest, whose constants it uses)."""

import asyncio
import base64
import json
import os
import socket
import struct

import conftest


class RawWS:
    """A hand-made WebSocket client for what websockets refuses to send:
    invalid UTF-8 in a text frame, over-long frames, odd fragmentation."""

    def __init__(self, reader, writer, status, head):
        self.reader = reader
        self.writer = writer
        self.status = status
        self.head = head

    @classmethod
    async def open(cls, port, path="/ws", host=None, timeout=5.0, origin=None):
        host = host or conftest.HOST
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n"
               + (f"Origin: {origin}\r\n" if origin is not None else "") + "\r\n")
        writer.write(req.encode())
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except asyncio.IncompleteReadError as e:
            head = e.partial
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        return cls(reader, writer, status, head.decode("latin-1"))

    @staticmethod
    def frame(opcode, payload, fin=True, mask=True):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        mbit = 0x80 if mask else 0
        if n < 126:
            hdr = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, mbit | 127, n)
        if not mask:
            return hdr + payload
        key = os.urandom(4)
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return hdr + key + masked

    async def send_frame(self, opcode, payload, fin=True):
        self.writer.write(self.frame(opcode, payload, fin))
        await self.writer.drain()

    async def send_text(self, data):
        """A text frame with exactly these bytes (str is UTF-8 encoded)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        await self.send_frame(0x1, data)

    async def send_json(self, obj):
        await self.send_text(conftest.dumps(obj))

    async def recv_frame(self, timeout=None):
        """(opcode, payload) of the next whole message; answers pings."""
        timeout = conftest.RECV_TIMEOUT if timeout is None else timeout
        async def read():
            buf = b""
            first_op = None
            while True:
                h = await self.reader.readexactly(2)
                fin, op = h[0] & 0x80, h[0] & 0x0F
                n = h[1] & 0x7F
                if n == 126:
                    n = struct.unpack("!H", await self.reader.readexactly(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
                if h[1] & 0x80:
                    k = await self.reader.readexactly(4)
                    p = bytes(b ^ k[i % 4] for i, b in enumerate(await self.reader.readexactly(n)))
                else:
                    p = await self.reader.readexactly(n)
                if op == 0x9:
                    await self.send_frame(0xA, p)
                    continue
                if op == 0xA:
                    continue
                if op == 0x8:
                    return op, p
                if first_op is None:
                    first_op = op
                buf += p
                if fin:
                    return first_op, buf
        return await asyncio.wait_for(read(), timeout)

    async def recv_json(self, timeout=None):
        timeout = conftest.RECV_TIMEOUT if timeout is None else timeout
        try:
            op, p = await self.recv_frame(timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"raw client: no frame within {timeout} s") from None
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            raise AssertionError(f"raw client: connection lost while waiting for a frame: {e!r}")
        if op == 0x8:
            code = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
            raise AssertionError(f"raw client: server closed (code {code}, reason {p[2:]!r}) "
                                 "instead of answering")
        assert op == 0x1, f"raw client: expected a text frame, got opcode {op}: {p[:100]!r}"
        return json.loads(p.decode("utf-8"))

    async def recv_close(self, timeout=None):
        """Reads until the server's close frame; returns its code (None if the
        close frame had no code). Fails if the connection ends without one."""
        timeout = conftest.RECV_TIMEOUT if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        frames = []
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"raw client: no close within {timeout} s; got {frames}")
            try:
                op, p = await self.recv_frame(remaining)
            except asyncio.TimeoutError:
                raise AssertionError(f"raw client: no close within {timeout} s; got {frames}") \
                    from None
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                raise AssertionError(f"raw client: connection ended without a close frame "
                                     f"({e!r}); got {frames}") from None
            if op == 0x8:
                return struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
            frames.append((op, p[:200]))

    def abort(self):
        self.writer.transport.abort()

    async def close(self):
        try:
            if not self.writer.is_closing():
                self.writer.write(self.frame(0x8, struct.pack("!H", 1000)))
                await asyncio.wait_for(self.writer.drain(), 1)
        except (OSError, asyncio.TimeoutError):
            pass
        self.writer.transport.abort()


def upgrade_request(host, port, path="/ws"):
    """The bytes of a WebSocket upgrade request."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode()


def blocking_ws(port, rcvbuf=None, timeout=5):
    """A plain blocking socket upgraded to a WebSocket (for clients that must
    misbehave: never read, never answer a close). rcvbuf shrinks its receive
    buffer before connecting."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect((conftest.HOST, port))
    s.sendall(upgrade_request(conftest.HOST, port))
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return s
