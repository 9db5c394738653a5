"""The online count: welcome, global who and the pushed "online" event.

Every test here gets a cluster of its own, so counts are exact."""

import time

import pytest

from conftest import cluster_lifetime

PUSH_WITHIN = 2.0  # "within 1 s of it differing", plus slack for a loaded machine


@pytest.fixture
def cluster(request, tmp_path_factory):
    yield from cluster_lifetime(request, tmp_path_factory)


async def user(chat, gw):
    """A client that sees every frame, online pushes included."""
    return await chat.user(gw, ignore=())


async def test_welcome_online_is_exact(chat):
    a = await user(chat, "A")
    assert a.welcome["online"] == 1
    b = await user(chat, "B")
    assert b.welcome["online"] == 2
    c = await user(chat, "A")
    assert c.welcome["online"] == 3


async def test_online_pushed_when_count_changes(chat):
    a = await user(chat, "A")
    t0 = time.monotonic()
    b = await user(chat, "B")
    p = await a.recv(timeout=PUSH_WITHIN)
    assert p == {"type": "online", "count": 2}
    assert time.monotonic() - t0 <= PUSH_WITHIN


async def test_no_push_to_a_client_whose_count_is_current(chat):
    a = await user(chat, "A")
    b = await user(chat, "B")  # its welcome already said 2
    await a.recv_type("online", timeout=PUSH_WITHIN)
    await b.expect_nothing(2500)


async def test_online_push_not_repeated_when_unchanged(chat):
    a = await user(chat, "A")
    b = await user(chat, "B")
    assert (await a.recv_type("online", timeout=PUSH_WITHIN))["count"] == 2
    await a.expect_nothing(2500)


async def test_online_pushed_on_disconnect(chat):
    a = await user(chat, "A")
    b = await user(chat, "B")
    assert (await a.recv_type("online", timeout=PUSH_WITHIN))["count"] == 2
    await b.close(1000)
    t0 = time.monotonic()
    assert await a.recv(timeout=PUSH_WITHIN) == {"type": "online", "count": 1}
    assert time.monotonic() - t0 <= PUSH_WITHIN


async def test_dropped_connection_is_not_online(chat):
    # a resumable session without a live connection does not count
    a = await user(chat, "A")
    b = await user(chat, "B")
    assert (await a.recv_type("online", timeout=PUSH_WITHIN))["count"] == 2
    b.drop()
    assert await a.recv(timeout=PUSH_WITHIN) == {"type": "online", "count": 1}
    w = await a.request({"type": "who"}, "who")
    assert w["online"] == 1 and w["users"] == [a.nick]


async def test_unidentified_connections_do_not_count(chat):
    a = await user(chat, "A")
    idle = await chat.connect("B", ignore=())
    idle2 = await chat.raw("A")
    await idle.ping()
    await a.expect_nothing(2000)
    w = await a.request({"type": "who"}, "who")
    assert w["online"] == 1
    await idle.expect_nothing(100)  # no online push before hello either


async def test_global_who_is_exact(chat):
    a = await user(chat, "A")
    b = await user(chat, "B")
    c = await user(chat, "B")
    w = await a.request({"type": "who", "id": "all"}, "who", skip=("online",))
    assert w["online"] == 3
    assert sorted(w["users"]) == sorted([a.nick, b.nick, c.nick])
    assert w.get("truncated", False) is False


async def test_online_push_follows_several_changes(chat):
    a = await user(chat, "A")
    others = [await user(chat, gw) for gw in ("B", "A", "B")]
    # the count went 2, 3, 4 quickly; a gets the current value (pushes may coalesce)
    deadline = time.monotonic() + 3 * PUSH_WITHIN
    last = None
    while last != 4:
        assert time.monotonic() < deadline, f"no online push reached 4 (last {last})"
        p = await a.recv_type("online", timeout=PUSH_WITHIN + 0.5)
        last = p["count"]
    await a.expect_nothing(1500)
    for o in others:
        await o.close(1000)
    deadline = time.monotonic() + 3 * PUSH_WITHIN
    while last != 1:
        assert time.monotonic() < deadline, f"no online push reached 1 (last {last})"
        p = await a.recv_type("online", timeout=PUSH_WITHIN + 0.5)
        last = p["count"]
