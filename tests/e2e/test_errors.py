"""Framing, bad input, validation order, errors that never close, 1009."""

import pytest

from conftest import MAX_FRAME, MAX_ID, MAX_TEXT, Chat, cluster_lifetime, dumps, padded_ping


async def raw_recv(raw, skip=("online",)):
    while True:
        f = await raw.recv_json()
        if f["type"] not in skip:
            return f


def check_error(f, code):
    assert f["type"] == "error" and f["code"] == code, f"expected error {code}, got {f}"
    assert isinstance(f.get("message"), str) and f["message"], f"error without message: {f}"


# ------------------------------------------------------------------------- bad_json

@pytest.mark.parametrize("frame", [
    "{not json", "", "   ", "[]", "[{\"type\":\"ping\"}]", "42", "null", "true", '"ping"',
    '{"type":"ping"', '{"type":"ping"} {"type":"ping"}', '{"type":"ping",}',
    "{'type':'ping'}",
    '{"type":"ping","id":"\\ud800"}', '{"type":"ping","id":"\\udc00"}',
    '{"type":"ping","id":"\\ud800\\u0041"}', '{"type":"hello","nick":"a\\ud800"}',
], ids=["garbage", "empty", "blank", "array", "array-of-object", "number", "null", "true",
        "string", "truncated", "two-objects", "trailing-comma", "single-quotes",
        "lone-high-surrogate", "lone-low-surrogate", "high-then-letter", "surrogate-in-nick"])
async def test_not_one_json_object_is_bad_json(chat, frame):
    c = await chat.connect("A")
    await c.expect_error(frame, "bad_json", echo=False)
    await c.ping()


async def test_bad_json_after_hello_keeps_session(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await a.expect_error('{"type":"msg","room":"%s","text":"\\udfff"}' % room, "bad_json",
                         echo=False)
    await a.expect_error("[]", "bad_json", echo=False)
    await b.expect_nothing(300)
    await a.msg(room, "still here")
    assert (await b.recv_type("msg"))["from"] == a.nick


@pytest.mark.parametrize("payload", [
    b'{"type":"ping","id":"\xff"}',
    b'{"type":"ping","id":"\xc0\xaf"}',            # overlong "/"
    b'{"type":"ping","id":"\xe2\x82"}',             # truncated sequence
    b'{"type":"ping","id":"\xed\xa0\x80"}',         # UTF-8-encoded surrogate
    b'{"type":"ping","id":"\xf4\x90\x80\x80"}',     # above U+10FFFF
    b'\xfe\xff{"type":"ping"}',
], ids=["ff", "overlong", "truncated", "surrogate", "too-big", "bom-like"])
async def test_invalid_utf8_in_text_frame_is_bad_json(chat, payload):
    raw = await chat.raw("B")
    assert raw.status == 101
    await raw.send_text(payload)
    check_error(await raw_recv(raw), "bad_json")
    await raw.send_json({"type": "ping", "id": "after"})
    assert await raw_recv(raw) == {"type": "pong", "id": "after"}


async def test_invalid_utf8_after_hello_is_bad_json(chat):
    raw = await chat.raw("A")
    await raw.send_json({"type": "hello", "nick": chat.nick()})
    assert (await raw_recv(raw))["type"] == "welcome"
    room = chat.room()
    await raw.send_text(b'{"type":"join","room":"' + room.encode() + b'","x":"\x80"}')
    check_error(await raw_recv(raw), "bad_json")
    await raw.send_json({"type": "join", "room": room, "id": "j"})
    j = await raw_recv(raw)
    assert j["type"] == "joined" and j["id"] == "j"


async def test_valid_surrogate_pair_escape_is_fine(chat):
    c = await chat.connect("A")
    r = await c.request('{"type":"ping","id":"\\ud83d\\ude00"}')
    assert r == {"type": "pong", "id": "\U0001F600"}


# ----------------------------------------------------------------------- bad_request

@pytest.mark.parametrize("identified", [False, True], ids=["before-hello", "after-hello"])
async def test_binary_frame_is_bad_request(chat, identified):
    c = await chat.user("A") if identified else await chat.connect("A")
    await c.expect_error(b'{"type":"ping","id":"bin"}', "bad_request", echo=False)
    await c.expect_error(b"\x00\xff\x10garbage", "bad_request", echo=False)
    await c.ping()


@pytest.mark.parametrize("cmd", [
    {"id": "t"}, {"type": 5, "id": "t"}, {"type": None, "id": "t"}, {"type": "shout", "id": "t"},
    {"type": "", "id": "t"}, {"type": "PING", "id": "t"}, {"type": ["ping"], "id": "t"},
    {"type": "welcome", "id": "t"}, {"type": "pong", "id": "t"},
], ids=["missing", "number", "null", "unknown", "empty", "uppercase", "array", "server-type",
        "pong"])
async def test_bad_type_is_bad_request(chat, cmd):
    c = await chat.user("B")
    await c.expect_error(cmd, "bad_request")
    await c.ping()


async def test_unknown_type_before_hello_is_bad_request(chat):
    c = await chat.connect("A")
    await c.expect_error({"type": "shout", "id": "u"}, "bad_request")


async def test_id_of_64_code_points_is_echoed(chat):
    c = await chat.user("A")
    long_id = "\u00e9" * MAX_ID  # 64 code points, 128 bytes
    r = await c.request({"type": "ping", "id": long_id})
    assert r == {"type": "pong", "id": long_id}
    room = chat.room()
    j = await c.request({"type": "join", "room": room, "id": "x" * MAX_ID}, "joined")
    assert j["id"] == "x" * MAX_ID
    e = await c.expect_error({"type": "leave", "room": chat.room(), "id": "\U0001F600" * MAX_ID},
                             "not_in_room")


@pytest.mark.parametrize("bad_id", ["x" * (MAX_ID + 1), "\u00e9" * (MAX_ID + 1), 5, None, True,
                                    {"a": 1}, ["i"]],
                         ids=["65-ascii", "65-accented", "number", "null", "bool", "object",
                              "array"])
async def test_invalid_id_is_bad_request_and_not_echoed(chat, bad_id):
    a = await chat.user("A")
    room = chat.room()
    await a.expect_error({"type": "join", "room": room, "id": bad_id}, "bad_request", echo=False)
    # nothing was done
    w = await a.request({"type": "who", "room": room}, "who")
    assert w["members"] == []


async def test_invalid_id_on_ping_before_hello(chat):
    c = await chat.connect("B")
    await c.expect_error({"type": "ping", "id": "y" * (MAX_ID + 1)}, "bad_request", echo=False)


@pytest.mark.parametrize("num", ["5.0", "1e1", "1.5", "-0.0"])
async def test_non_integer_number_is_bad_request(chat, num):
    a = await chat.user("A")
    room = chat.room()
    await a.join(room)
    await a.expect_error('{"type":"history","room":"%s","limit":%s,"id":"n"}' % (room, num),
                         "bad_request")
    await a.expect_error('{"type":"join","room":"%s","since":%s,"id":"n"}' % (room, num),
                         "bad_request")


async def test_null_field_is_wrong_type(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    for cmd in ({"type": "msg", "room": room, "text": None},
                {"type": "msg", "room": None, "text": "x"},
                {"type": "dm", "to": None, "text": "x"},
                {"type": "typing", "room": room, "active": None},
                {"type": "nick", "nick": None},
                {"type": "history", "room": room, "before": None},
                {"type": "join", "room": room, "since": None}):
        await a.expect_error(dict(cmd, id="nul"), "bad_request")
    await b.expect_nothing(300)


async def test_unknown_extra_fields_are_ignored(chat):
    c = await chat.connect("A")
    r = await c.request({"type": "ping", "id": "p", "future": {"nested": [1, 2]}, "v": 2})
    assert r == {"type": "pong", "id": "p"}
    w = await c.request({"type": "hello", "nick": chat.nick(), "caps": ["x"]}, "welcome")
    room = chat.room()
    await c.request({"type": "join", "room": room, "since": 0, "extra": None}, "joined")
    await c.request({"type": "who", "room": room, "extra": True}, "who")
    await c.request({"type": "history", "room": room, "extra": "x"}, "history")


async def test_ping_without_id(chat):
    c = await chat.connect("B")
    assert await c.request({"type": "ping"}) == {"type": "pong"}
    await c.hello(chat.nick())
    assert await c.request({"type": "ping"}) == {"type": "pong"}


# ------------------------------------------------------------------ validation order

LONG = "a" * (MAX_TEXT + 1)

ORDER_CASES = [
    # (identified, command, expected code, why)
    (False, '{"type":"join","room":"Bad Room"', "bad_json", "bad_json before everything"),
    (False, {"type": "join"}, "bad_request", "bad_request before not_identified"),
    (False, {"type": "join", "room": "Bad Room", "since": "x"}, "bad_request",
     "bad_request before room_invalid"),
    (False, {"type": "join", "room": "Bad Room"}, "room_invalid",
     "room_invalid before not_identified"),
    (False, {"type": "nick", "nick": "bad nick"}, "nick_invalid",
     "nick_invalid before not_identified"),
    (False, {"type": "msg", "room": "fine", "text": LONG}, "too_large",
     "too_large before not_identified"),
    (False, {"type": "dm", "to": "someone", "text": " "}, "bad_request",
     "blank text before not_identified"),
    (False, {"type": "msg", "room": "fine", "text": "ok"}, "not_identified", "baseline"),
    (True, {"type": "msg", "room": "Not Valid", "text": "x"}, "room_invalid",
     "room_invalid before not_in_room"),
    (True, {"type": "msg", "room": "not-joined", "text": LONG}, "too_large",
     "too_large before not_in_room"),
    (True, {"type": "msg", "room": "not-joined", "text": ""}, "bad_request",
     "bad_request before not_in_room"),
    (True, {"type": "msg", "room": "Not Valid", "text": "  "}, "bad_request",
     "bad_request before room_invalid"),
    (True, {"type": "dm", "to": "bad nick!", "text": "x"}, "nick_invalid",
     "nick_invalid before no_such_user"),
    (True, {"type": "dm", "to": "bad nick!", "text": ""}, "bad_request",
     "bad_request before nick_invalid"),
    (True, {"type": "dm", "to": "nobody-here-xyz", "text": LONG}, "too_large",
     "too_large before no_such_user"),
    (True, {"type": "typing", "to": "bad nick!", "active": "yes"}, "bad_request",
     "bad_request before nick_invalid"),
    (True, {"type": "history", "room": "Not Valid", "limit": 0}, "bad_request",
     "bad_request before room_invalid"),
    (True, {"type": "history", "room": "not-joined", "limit": 0}, "bad_request",
     "bad_request before not_in_room"),
    (True, {"type": "join", "room": "x", "id": "i" * (MAX_ID + 1)}, "bad_request",
     "a bad id is bad_request"),
]


@pytest.mark.parametrize("identified,cmd,code,why", ORDER_CASES,
                         ids=[c[3].replace(" ", "-") for c in ORDER_CASES])
async def test_validation_order(chat, identified, cmd, code, why):
    c = await chat.user("A") if identified else await chat.connect("A")
    if isinstance(cmd, dict):
        cmd = dict(cmd)
        cmd.setdefault("id", "vo")
        bad_id = len(cmd["id"]) > MAX_ID
        await c.expect_error(cmd, code, echo=not bad_id)
    else:
        await c.expect_error(cmd, code, echo=False)


async def test_room_invalid_before_too_many_rooms_and_not_in_room(chat):
    # covered with a full session in test_rooms.test_too_many_rooms; here the
    # simpler not_in_room pairing for leave and history
    a = await chat.user("B")
    await a.expect_error({"type": "leave", "room": "NOPE"}, "room_invalid")
    await a.expect_error({"type": "history", "room": "NOPE"}, "room_invalid")
    await a.expect_error({"type": "typing", "room": "NOPE", "active": True}, "room_invalid")


# -------------------------------------------------------------- errors never close

async def test_errors_never_close_the_connection(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    bad = [
        ("{", "bad_json"), ("[]", "bad_json"), (b"bin", "bad_request"),
        ({"type": "nope"}, "bad_request"), ({"type": "join", "room": "BAD"}, "room_invalid"),
        ({"type": "msg", "room": chat.room(), "text": "x"}, "not_in_room"),
        ({"type": "dm", "to": chat.nick(), "text": "x"}, "no_such_user"),
        ({"type": "msg", "room": room, "text": LONG}, "too_large"),
        ({"type": "hello", "nick": chat.nick()}, "bad_request"),
        ({"type": "nick", "nick": b.nick}, "nick_taken"),
        ({"type": "history", "room": room, "limit": 0}, "bad_request"),
    ]
    for _ in range(3):
        for cmd, code in bad:
            await a.expect_error(cmd, code, echo=False)
    await a.ping()
    ack = await a.msg(room, "alive")
    m = await b.recv_type("msg")
    assert m["seq"] == ack["seq"] and m["from"] == a.nick
    await b.expect_nothing(200)


# ------------------------------------------------------------------ frame size, 1009

async def test_frame_at_limit_is_accepted(chat):
    raw = await chat.raw("A")
    await raw.send_text(padded_ping(MAX_FRAME))
    assert await raw_recv(raw) == {"type": "pong", "id": "big"}


async def test_frame_over_limit_closes_1009(chat):
    raw = await chat.raw("A")
    await raw.send_text(padded_ping(MAX_FRAME + 1))
    assert await raw.recv_close() == 1009


async def test_frame_over_limit_after_hello_closes_1009_and_others_unharmed(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    c = await chat.user("A")
    room = await chat.together(chat.room(), a, b, c)
    await c.send({"type": "msg", "room": room, "text": "x" * (MAX_FRAME + 10)})
    assert await c.wait_closed() == 1009
    for other in (a, b):
        p = await other.recv_type("presence", timeout=1.5)
        assert p["event"] == "leave" and p["nick"] == c.nick
    await a.msg(room, "fine")
    assert (await b.recv_type("msg"))["text"] == "fine"


async def test_fragmented_message_over_limit_closes_1009(chat):
    raw = await chat.raw("B")
    data = padded_ping(MAX_FRAME + 2000)
    half = len(data) // 2
    await raw.send_frame(0x1, data[:half], fin=False)
    await raw.send_frame(0x0, data[half:], fin=True)
    assert await raw.recv_close() == 1009


async def test_fragmented_message_under_limit_is_one_message(chat):
    raw = await chat.raw("B")
    data = dumps({"type": "ping", "id": "frag"}).encode()
    await raw.send_frame(0x1, data[:7], fin=False)
    await raw.send_frame(0x0, data[7:12], fin=False)
    await raw.send_frame(0x0, data[12:], fin=True)
    assert await raw_recv(raw) == {"type": "pong", "id": "frag"}


async def test_message_of_4000_emoji_fits_the_frame(chat):
    # 4000 four-byte characters: 16,000 bytes of text, under the 16 KiB frame
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    cmd = {"type": "msg", "room": room, "text": "\U0001F600" * MAX_TEXT}
    assert len(dumps(cmd).encode()) <= MAX_FRAME
    ack = await a.request(cmd, "ack")
    assert (await b.recv_type("msg"))["seq"] == ack["seq"]


# ------------------------------------------------------- configured (smaller) limits

SMALL_FRAME = 1024
SMALL_TEXT = 10


@pytest.fixture(scope="module")
def small_cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory, gateway_args=[
        "--max-frame", str(SMALL_FRAME), "--max-text", str(SMALL_TEXT)])


@pytest.fixture
def small(small_cluster):
    return Chat(small_cluster)


async def test_configured_max_text(small):
    a = await small.user("A")
    b = await small.user("B")
    room = await small.together(small.room(), a, b)
    await a.msg(room, "\u00e9" * SMALL_TEXT)
    assert (await b.recv_type("msg"))["text"] == "\u00e9" * SMALL_TEXT
    await a.expect_error({"type": "msg", "room": room, "text": "x" * (SMALL_TEXT + 1)},
                         "too_large")
    await a.expect_error({"type": "dm", "to": b.nick, "text": "x" * (SMALL_TEXT + 1)},
                         "too_large")


async def test_configured_max_frame(small):
    raw = await small.raw("B")
    await raw.send_text(padded_ping(SMALL_FRAME))
    assert await raw_recv(raw) == {"type": "pong", "id": "big"}
    await raw.send_text(padded_ping(SMALL_FRAME + 1))
    assert await raw.recv_close() == 1009
