"""msg / ack, seq and ts rules, retries, since replays, ordering."""

import asyncio
import time

import pytest

from conftest import MAX_TEXT


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


async def test_msg_ack_and_delivery(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    before = int(time.time() * 1000)
    ack = await a.request({"type": "msg", "room": room, "text": "hi", "id": "m1"}, "ack")
    after = int(time.time() * 1000)
    assert ack["id"] == "m1" and ack["room"] == room and ack["seq"] == 1
    assert is_int(ack["ts"]) and before - 60000 <= ack["ts"] <= after + 60000, ack
    m = await b.recv_type("msg")
    assert m == {"type": "msg", "room": room, "seq": 1, "from": a.nick, "text": "hi",
                 "ts": ack["ts"]}


async def test_sender_does_not_get_own_msg(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await a.msg(room, "hello", "m")
    await b.recv_type("msg")
    await a.expect_nothing(500)


async def test_msg_reaches_members_on_both_gateways(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    c = await chat.user("A")
    room = await chat.together(chat.room(), a, b, c)
    ack = await a.msg(room, "to all")
    for other in (b, c):
        m = await other.recv_type("msg")
        assert m["seq"] == ack["seq"] and m["text"] == "to all" and m["from"] == a.nick


async def test_msg_not_delivered_to_non_members(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    outsider = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await a.msg(room, "private-ish")
    await b.recv_type("msg")
    await outsider.expect_nothing(400)


async def test_seq_strictly_increasing_by_one(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    seqs = []
    for i in range(5):
        ka = await a.msg(room, f"n{i}")
        mb = await b.recv_type("msg")
        kb = await b.msg(room, f"m{i}")
        ma = await a.recv_type("msg")
        assert mb["seq"] == ka["seq"] and ma["seq"] == kb["seq"]
        seqs += [ka["seq"], kb["seq"]]
    assert seqs == list(range(1, 11))


async def test_ack_ts_equals_msg_ts(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    acks = [await a.msg(room, f"t{i}", f"id{i}") for i in range(3)]
    msgs = await b.recv_n(3)
    assert [m["ts"] for m in msgs] == [x["ts"] for x in acks]
    assert [m["seq"] for m in msgs] == [x["seq"] for x in acks]
    assert all(acks[i]["ts"] <= acks[i + 1]["ts"] for i in range(2))


async def test_msg_without_id_is_acked_without_id(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    ack = await a.request({"type": "msg", "room": room, "text": "no id"}, "ack")
    assert "id" not in ack and ack["room"] == room and ack["seq"] == 1 and is_int(ack["ts"])
    m = await b.recv_type("msg")
    assert m["text"] == "no id"


async def test_retried_id_gets_same_ack_and_is_not_redelivered(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    first = await a.msg(room, "original", "dup1")
    m = await b.recv_type("msg")
    assert m["text"] == "original"
    again = await a.msg(room, "original", "dup1")
    assert again == first
    # even with different content
    third = await a.msg(room, "something else", "dup1")
    assert third == first
    await b.expect_nothing(500)
    # the room's seq did not move
    nxt = await a.msg(room, "next", "dup2")
    assert nxt["seq"] == first["seq"] + 1
    m = await b.recv_type("msg")
    assert m["seq"] == nxt["seq"] and m["text"] == "next"


async def test_same_id_from_another_session_is_not_a_retry(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    ka = await a.msg(room, "from a", "same")
    await b.recv_type("msg")
    kb = await b.msg(room, "from b", "same")
    assert kb["seq"] == ka["seq"] + 1
    m = await a.recv_type("msg")
    assert m["text"] == "from b" and m["seq"] == kb["seq"]


async def test_msg_to_room_not_joined_is_not_in_room(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await b.join(room)
    await a.expect_error({"type": "msg", "room": room, "text": "x", "id": "nr"}, "not_in_room")
    await a.expect_error({"type": "msg", "room": chat.room(), "text": "x"}, "not_in_room")
    await b.expect_nothing(300)


async def test_msg_after_leave_is_not_in_room(chat):
    a = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.leave(room)
    await a.expect_error({"type": "msg", "room": room, "text": "x"}, "not_in_room")


@pytest.mark.parametrize("text", ["", " ", "   \t\n  ", "\u00a0", "\u3000\u2003"],
                         ids=["empty", "space", "whitespace", "nbsp", "unicode-spaces"])
async def test_blank_text_is_bad_request(chat, text):
    a = await chat.user("A")
    room = chat.room()
    await a.join(room)
    await a.expect_error({"type": "msg", "room": room, "text": text, "id": "bl"}, "bad_request")


@pytest.mark.parametrize("cmd", [
    {"type": "msg", "text": "x"},
    {"type": "msg", "room": "ROOM"},
    {"type": "msg", "room": "ROOM", "text": 5},
    {"type": "msg", "room": "ROOM", "text": None},
    {"type": "msg", "room": "ROOM", "text": ["x"]},
    {"type": "msg", "room": None, "text": "x"},
    {"type": "msg", "room": 7, "text": "x"},
], ids=["no-room", "no-text", "text-number", "text-null", "text-array", "room-null",
        "room-number"])
async def test_msg_wrong_types_are_bad_request(chat, cmd):
    a = await chat.user("B")
    room = chat.room()
    await a.join(room)
    cmd = {k: (room if v == "ROOM" else v) for k, v in cmd.items()}
    await a.expect_error(dict(cmd, id="wt"), "bad_request")


@pytest.mark.parametrize("ch", ["\u00e9", "\U0001F600"], ids=["2-byte", "4-byte-emoji"])
async def test_text_of_4000_code_points_is_accepted(chat, ch):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    text = ch * MAX_TEXT
    ack = await a.msg(room, text, "big")
    m = await b.recv_type("msg")
    assert m["text"] == text and m["seq"] == ack["seq"]


@pytest.mark.parametrize("ch", ["a", "\u00e9", "\U0001F600"], ids=["ascii", "2-byte", "emoji"])
async def test_text_over_4000_code_points_is_too_large(chat, ch):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await a.expect_error({"type": "msg", "room": room, "text": ch * (MAX_TEXT + 1), "id": "tl"},
                         "too_large")
    await b.expect_nothing(300)


async def test_text_is_delivered_verbatim(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    text = 'quotes " and \\ backslash\nnew line\ttab <b>html</b> & \u00e9\u4e2d\U0001F600 '
    await a.msg(room, text)
    m = await b.recv_type("msg")
    assert m["text"] == text


async def test_surrogate_pair_escape_is_one_code_point(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    await a.send('{"type":"msg","room":"%s","text":"\\ud83d\\ude00","id":"sp"}' % room)
    ack = await a.recv_type("ack")
    assert ack["id"] == "sp"
    m = await b.recv_type("msg")
    assert m["text"] == "\U0001F600"


async def test_room_seq_never_reused_after_room_empties(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.msg(room, "1")
    await a.msg(room, "2")
    await a.leave(room)  # the room is now empty
    j = await b.join(room)
    assert j["seq"] == 2, j
    ack = await b.msg(room, "3")
    assert ack["seq"] == 3


async def test_join_with_since_replays_missed_messages(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    acks = [await a.msg(room, f"m{i}", f"i{i}") for i in range(1, 5)]
    j = await b.request({"type": "join", "room": room, "since": 1, "id": "js"}, "joined")
    assert j["seq"] == 4 and j["id"] == "js"
    replay = await b.recv_n(3)
    assert replay == [{"type": "msg", "room": room, "seq": k["seq"], "from": a.nick,
                       "text": f"m{k['seq']}", "ts": k["ts"]} for k in acks[1:]]
    await b.expect_nothing(300)
    await a.recv_type("presence")


async def test_join_with_since_0_replays_all(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    for i in range(3):
        await a.msg(room, f"x{i}")
    await b.request({"type": "join", "room": room, "since": 0}, "joined")
    assert [m["seq"] for m in await b.recv_n(3)] == [1, 2, 3]
    await b.expect_nothing(300)


async def test_join_with_since_current_replays_nothing(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.msg(room, "only")
    j = await b.request({"type": "join", "room": room, "since": 1}, "joined")
    assert j["seq"] == 1
    await b.expect_nothing(400)


async def test_join_without_since_replays_nothing(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = chat.room()
    await a.join(room)
    await a.msg(room, "old")
    j = await b.join(room)
    assert j["seq"] == 1
    await b.expect_nothing(400)


async def test_rejoin_with_since_replays_like_first_join(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    for i in range(3):
        await a.msg(room, f"r{i}")
    live = await b.recv_n(3)
    j = await b.request({"type": "join", "room": room, "since": 1}, "joined")
    assert j["seq"] == 3
    replay = await b.recv_n(2)
    assert replay == live[1:]
    await a.expect_nothing(300)


async def test_messages_from_several_senders_arrive_in_the_same_order_everywhere(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    c = await chat.user("A")
    d = await chat.user("B")
    room = await chat.together(chat.room(), a, b, c, d)
    senders = [a, b, c, d]
    n = 25

    async def burst(s):
        for i in range(n):
            await s.send({"type": "msg", "room": room, "text": f"{s.nick}:{i}", "id": f"o{i}"})

    await asyncio.gather(*(burst(s) for s in senders))
    total = n * len(senders)
    views = {}
    for s in senders:
        frames = await s.recv_n(total)  # n acks of its own + the others' messages
        acks = [f for f in frames if f["type"] == "ack"]
        msgs = [f for f in frames if f["type"] == "msg"]
        assert len(acks) == n and len(msgs) == total - n, frames
        # own commands handled in order: acks in id order with increasing seq
        assert [k["id"] for k in acks] == [f"o{i}" for i in range(n)]
        assert all(acks[i]["seq"] < acks[i + 1]["seq"] for i in range(n - 1))
        # received in increasing seq
        assert all(msgs[i]["seq"] < msgs[i + 1]["seq"] for i in range(len(msgs) - 1))
        seen = {m["seq"]: (m["from"], m["text"]) for m in msgs}
        seen.update({k["seq"]: (s.nick, f"{s.nick}:{k['id'][1:]}") for k in acks})
        views[s.nick] = seen
    ref = views[a.nick]
    assert sorted(ref) == list(range(1, total + 1))
    for nick, v in views.items():
        assert v == ref, f"{nick} saw a different order"
    # each sender's messages are in the order it sent them
    for s in senders:
        mine = [ref[q][1] for q in sorted(ref) if ref[q][0] == s.nick]
        assert mine == [f"{s.nick}:{i}" for i in range(n)]


async def test_commands_are_handled_in_order_sent(chat):
    a = await chat.user("A")
    room = chat.room()
    cmds = [
        {"type": "join", "room": room, "id": "c1"},
        {"type": "msg", "room": room, "text": "a", "id": "c2"},
        {"type": "who", "room": room, "id": "c3"},
        {"type": "msg", "room": room, "text": "b", "id": "c4"},
        {"type": "history", "room": room, "id": "c5"},
        {"type": "nick", "nick": a.nick, "id": "c6"},
        {"type": "leave", "room": room, "id": "c7"},
        {"type": "msg", "room": room, "text": "c", "id": "c8"},
    ]
    for c in cmds:
        await a.send(c)
    got = await a.recv_n(len(cmds))
    assert [(f["type"], f.get("id")) for f in got] == [
        ("joined", "c1"), ("ack", "c2"), ("who", "c3"), ("ack", "c4"), ("history", "c5"),
        ("ack", "c6"), ("left", "c7"), ("error", "c8")]
    assert got[1]["seq"] == 1 and got[3]["seq"] == 2
    assert [m["text"] for m in got[4]["messages"]] == ["a", "b"]
    assert got[7]["code"] == "not_in_room"


async def test_msg_extra_fields_ignored(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    ack = await a.request({"type": "msg", "room": room, "text": "x", "id": "e",
                           "format": "markdown", "reply_to": 3}, "ack")
    assert ack["id"] == "e"
    m = await b.recv_type("msg")
    assert m["text"] == "x"


async def test_ping_is_answered_in_order_with_other_commands(chat):
    # "A connection's commands are handled in the order sent": a pong must not
    # overtake the replies to commands sent before the ping.
    a = await chat.user("A")
    room = chat.room()
    await a.send({"type": "join", "room": room, "id": "o1"})
    await a.send({"type": "history", "room": room, "id": "o2"})
    await a.send({"type": "ping", "id": "o3"})
    got = await a.recv_n(3)
    assert [(f["type"], f.get("id")) for f in got] == [
        ("joined", "o1"), ("history", "o2"), ("pong", "o3")]


async def test_retry_window_covers_the_last_1000_ids(chat):
    a = await chat.user("A")
    b = await chat.user("B")
    room = await chat.together(chat.room(), a, b)
    n = 1001
    for i in range(n):
        await a.send({"type": "msg", "room": room, "text": f"w{i}", "id": f"w{i}"})
    acks = await a.recv_n(n)
    assert [k["id"] for k in acks] == [f"w{i}" for i in range(n)]
    assert [m["seq"] for m in await b.recv_n(n)] == list(range(1, n + 1))
    # w1 .. w1000 are the last 1,000 ids: retries of the oldest and newest of them
    for i in (1, 500, 1000):
        again = await a.msg(room, "retry", f"w{i}")
        assert again == acks[i]
    await b.expect_nothing(500)


async def test_gateway_detected_errors_are_answered_in_order(chat):
    # errors without an id (bad_json) can only be matched to their command by
    # order, so they must not overtake replies to earlier commands
    a = await chat.user("A")
    room = chat.room()
    await a.send({"type": "join", "room": room, "id": "e1"})
    await a.send("[]")
    await a.send({"type": "msg", "room": room, "text": "x", "id": "e3"})
    await a.send({"type": "msg", "room": room, "text": " ", "id": "e4"})
    got = await a.recv_n(4)
    assert [(f["type"], f.get("code"), f.get("id")) for f in got] == [
        ("joined", None, "e1"), ("error", "bad_json", None), ("ack", None, "e3"),
        ("error", "bad_request", "e4")]
