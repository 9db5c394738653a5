"""Durable history when the database is bad or the disk fails.

At start: a file that is not a database, a schema from a newer broker, a
database held by another broker, a missing directory and a read-only file
system each stop the broker at once with one clear error line on stderr and
a non-zero exit.

While running: when commits fail (a full disk: a small tmpfs filled up; or,
without mount rights, a file-size limit lowered with prlimit) senders get
`unavailable` and never an ack, nothing is delivered, the broker keeps
serving everything else, and once writes succeed again the room's seq goes
on right after the last acknowledged message (persist/store.h: "no seq is
ever skipped or reused").

A disk turning read-only under a running broker cannot be staged: Linux
refuses `mount -o remount,ro` (EBUSY) while the broker holds the database
open for writing, so read-only is tested at start only.
"""

import asyncio
import hashlib
import os
import shutil
import sqlite3
import subprocess
import time

import pytest

from conftest import (BROKER_BIN, HOST, Proc, db_integrity, db_last_seq, db_rows, describe_rc,
                      free_port)

START_FAIL_TIMEOUT = 5.0   # "within a few seconds"
FAIL_MODE = os.environ.get("E2E_HISTORY_FAIL_MODE", "")   # "" (tmpfs, else prlimit) or "prlimit"


# ----------------------------------------------------------------------------- start-up failures

def broker_start_fails(db, *extra):
    """Runs a broker on db; it must exit non-zero within START_FAIL_TIMEOUT,
    printing exactly one error line on stderr. Returns that line."""
    argv = [BROKER_BIN, "--listen", f"tcp://{HOST}:{free_port()}", "--log-level", "info",
            "--history", str(db)] + list(extra)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=START_FAIL_TIMEOUT)
    except subprocess.TimeoutExpired as e:   # run() has killed it
        raise AssertionError(f"broker on {db} still running after {START_FAIL_TIMEOUT} s; "
                             f"stderr: {e.stderr!r}") from None
    took = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode == 1, \
        f"broker on a bad database: expected exit status 1 (docs/history.md), " \
        f"got {describe_rc(p.returncode)}; stderr: {err!r}"
    errors = [ln for ln in err.splitlines() if "level=error" in ln]
    assert len(errors) == 1, f"expected one error line on stderr, got: {err!r}"
    assert str(db) in errors[0], f"the error does not name the file: {errors[0]!r}"
    assert took < START_FAIL_TIMEOUT
    return errors[0]


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.mark.parametrize("content", ["random", "text"])
def test_start_fails_on_a_file_that_is_not_a_database(tmp_path, content):
    db = tmp_path / "chat.db"
    if content == "random":
        data = os.urandom(16384)
        data = b"X" + data[1:]          # never the SQLite header by chance
    else:
        data = b"this is chat.db, but a text file\nwith two lines\n"
    db.write_bytes(data)
    line = broker_start_fails(db)
    assert "not a database" in line, line
    assert db.read_bytes() == data, "the broker changed a file it refused"


def make_newer_db(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE rooms(name TEXT PRIMARY KEY, last_seq INTEGER NOT NULL)")
    con.execute("CREATE TABLE future(x)")
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()


def test_start_fails_on_a_schema_from_a_newer_version(tmp_path):
    db = tmp_path / "chat.db"
    make_newer_db(db)
    line = broker_start_fails(db)
    assert "newer" in line and "99" in line, line
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 99
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def test_a_refused_newer_database_is_left_unchanged(tmp_path):
    """A broker that refuses a newer file must not write to it (the newer
    broker owns its format)."""
    db = tmp_path / "chat.db"
    make_newer_db(db)
    before = md5(db)
    broker_start_fails(db)
    con = sqlite3.connect(db)
    try:
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        con.close()
    assert (md5(db), mode) == (before, "delete"), \
        f"the refused newer database was modified (journal_mode is now {mode!r})"


def test_start_fails_when_the_database_is_in_use(tmp_path):
    db = tmp_path / "chat.db"
    first = Proc("broker 1", [BROKER_BIN, "--listen", f"tcp://{HOST}:{free_port()}",
                              "--log-level", "info", "--history", str(db)],
                 str(tmp_path / "broker1.log"))
    third = None
    try:
        wait_log(first, "broker_listening")
        line = broker_start_fails(db)
        assert "in use" in line, line
        assert first.alive(), "the running broker died when a second one tried its database"
        assert first.stop() is None
        # The lock goes with its holder: now the file opens.
        third = Proc("broker 3", [BROKER_BIN, "--listen", f"tcp://{HOST}:{free_port()}",
                                  "--log-level", "info", "--history", str(db)],
                     str(tmp_path / "broker3.log"))
        wait_log(third, "broker_listening")
        assert third.stop() is None
    finally:
        first.kill()
        if third:
            third.kill()
    assert db_integrity(db) == "ok"


def wait_log(proc, word, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if word in proc.tail():
            return
        assert proc.alive(), f"{proc.name} died: {describe_rc(proc.p.returncode)}\n{proc.tail()}"
        time.sleep(0.05)
    raise AssertionError(f"{proc.name}: no {word} in its log within {timeout} s\n{proc.tail()}")


def test_start_fails_in_a_missing_directory(tmp_path):
    db = tmp_path / "no-such-dir" / "chat.db"
    line = broker_start_fails(db)
    assert "No such file or directory" in line, line
    assert not (tmp_path / "no-such-dir").exists()


# ----------------------------------------------------------------------------- a small disk

def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=10)


class SmallDisk:
    """A 2 MiB tmpfs at tmp_path/disk (tests run as root)."""

    def __init__(self, path):
        self.path = str(path)
        os.mkdir(self.path)
        self.mounted = False
        self.why_not = None
        try:
            r = run("mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", self.path)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.why_not = repr(e)
            return
        if r.returncode != 0:
            self.why_not = f"mount -t tmpfs failed ({r.returncode}): {r.stderr.strip()}"
            return
        self.mounted = True
        self.filler = os.path.join(self.path, "filler")

    def fill(self):
        """dd zeros into a filler file until ENOSPC."""
        r = run("dd", "if=/dev/zero", f"of={self.filler}", "bs=4k")
        assert r.returncode != 0 and "No space left" in r.stderr, \
            f"dd did not fill the tmpfs: rc {r.returncode} {r.stderr!r}"
        st = os.statvfs(self.path)
        assert st.f_bavail == 0, f"tmpfs not full: {st.f_bavail} blocks left"

    def free(self):
        os.remove(self.filler)

    def remount(self, opt):
        return run("mount", "-o", f"remount,{opt}", self.path)

    def unmount(self):
        if not self.mounted:
            return
        r = run("umount", self.path)
        if r.returncode != 0:      # leave nothing mounted whatever happened
            run("umount", "-l", self.path)
        self.mounted = False


@pytest.fixture
def small_disk(tmp_path):
    d = SmallDisk(tmp_path / "disk")
    try:
        yield d
    finally:
        d.unmount()


def test_start_fails_on_a_read_only_file_system(tmp_path, small_disk):
    if not small_disk.mounted:
        pytest.skip(f"cannot mount a tmpfs: {small_disk.why_not}")
    db = os.path.join(small_disk.path, "chat.db")
    # A good database, made by a broker, on a file system then made read-only.
    b = Proc("broker", [BROKER_BIN, "--listen", f"tcp://{HOST}:{free_port()}",
                        "--log-level", "info", "--history", db], str(tmp_path / "broker.log"))
    try:
        wait_log(b, "broker_listening")
        assert b.stop() is None
    finally:
        b.kill()
    r = small_disk.remount("ro")
    assert r.returncode == 0, f"remount ro: {r.stderr}"
    line = broker_start_fails(db)
    assert "read-only" in line.lower(), line
    assert small_disk.remount("rw").returncode == 0
    assert db_integrity(db) == "ok"


class WriteFailer:
    """Makes the broker's writes fail and succeed again: a full tmpfs, or
    (E2E_HISTORY_FAIL_MODE=prlimit, or no mount rights) RLIMIT_FSIZE of the
    broker lowered to 1 byte with prlimit (the broker ignores SIGXFSZ)."""

    def __init__(self, disk, fallback_dir):
        self.disk = disk
        if disk.mounted and FAIL_MODE != "prlimit":
            self.mode, self.dir = "tmpfs", disk.path
        else:
            if not shutil.which("prlimit"):
                pytest.skip(f"neither a tmpfs ({disk.why_not or 'not wanted'}) nor prlimit")
            self.mode, self.dir = "prlimit", str(fallback_dir)

    def block(self, pid):
        if self.mode == "tmpfs":
            self.disk.fill()
        else:
            r = run("prlimit", f"--pid={pid}", "--fsize=1:unlimited")
            if r.returncode != 0:
                pytest.skip(f"prlimit failed: {r.stderr.strip()}")

    def unblock(self, pid):
        if self.mode == "tmpfs":
            self.disk.free()
        elif os.path.exists(f"/proc/{pid}"):   # a limit dies with its process
            r = run("prlimit", f"--pid={pid}", "--fsize=unlimited:unlimited")
            assert r.returncode == 0, r.stderr


async def expect_unavailable(client, replies):
    for r in replies:
        assert r["type"] == "error" and r["code"] == "unavailable", \
            f"{client}: a message sent while writes fail must get unavailable, got {r}"
        assert isinstance(r.get("message"), str) and r["message"]


@pytest.mark.timeout_s(40)
async def test_failed_writes_answer_unavailable_and_seq_resumes_without_gaps(
        tmp_path, small_disk, hchat):
    fail = WriteFailer(small_disk, tmp_path)
    cl = hchat.cluster
    cl.db_path = os.path.join(fail.dir, "chat.db")
    cl.start(broker_args=["--ring", "5"])
    pid = cl.broker.p.pid
    acked = {}   # seq -> (nick, text, ts, id)

    def note(ack, who, text, id_):
        assert ack["type"] == "ack" and ack["seq"] not in acked, ack
        acked[ack["seq"]] = (who.nick, text, ack["ts"], id_)

    a = await hchat.user("A")
    b = await hchat.user("B")
    room = await hchat.together(hchat.room(), a, b)
    for i in range(1, 4):
        note(await a.msg(room, f"ok {i}", f"ok{i}"), a, f"ok {i}", f"ok{i}")
        assert (await b.recv_type("msg"))["seq"] == i
    note(await b.msg(room, "ok 4", "ok4"), b, "ok 4", "ok4")
    assert (await a.recv_type("msg"))["seq"] == 4

    blocked = True
    fail.block(pid)
    try:
        # One at a time, from both gateways.
        await a.expect_error({"type": "msg", "room": room, "text": "lost 1", "id": "f1"},
                             "unavailable")
        await b.expect_error({"type": "msg", "room": room, "text": "lost 2", "id": "f2"},
                             "unavailable")
        await b.expect_error({"type": "msg", "room": room, "text": "lost 3"}, "unavailable")
        # A burst: every one refused, none acked.
        ids = [f"burst{i}" for i in range(6)]
        for i in ids:
            await a.send({"type": "msg", "room": room, "text": f"lost {i}", "id": i})
        replies = [await a.recv() for _ in ids]
        await expect_unavailable(a, replies)
        assert sorted(x.get("id") for x in replies) == sorted(ids), replies
        # A retry of a refused id is refused again (it was never accepted).
        await a.expect_error({"type": "msg", "room": room, "text": "lost 1", "id": "f1"},
                             "unavailable")
        # Nothing was delivered.
        await a.expect_nothing(300)
        await b.expect_nothing(300)
        # The broker serves everything else.
        assert cl.broker.alive()
        await a.ping()
        await b.ping()
        w = await b.request({"type": "who", "room": room, "id": "w"}, "who")
        assert sorted(w["members"]) == sorted([a.nick, b.nick])
        w = await a.request({"type": "who", "id": "w"}, "who")
        assert a.nick in w["users"] and b.nick in w["users"]
        h = await a.request({"type": "history", "room": room, "id": "h"}, "history")
        assert [m["seq"] for m in h["messages"]] == [1, 2, 3, 4]
        c = await hchat.user("B")
        j = await c.join(room)
        assert j["seq"] == 4, f"joined must show the last committed seq: {j}"
        for x in (a, b):
            await x.recv_type("presence")
        await a.dm(c.nick, "a DM needs no disk", "dm1")
        assert (await c.recv_type("dm"))["text"] == "a DM needs no disk"
        fail.unblock(pid)
        blocked = False
    finally:
        if blocked:
            fail.unblock(pid)

    # Writes succeed again: the next message is acked with seq 5, right after
    # the last acked one, and everyone gets it.
    ack = await a.msg(room, "back 5", "f1")   # the refused id, now a new message
    assert ack["seq"] == 5, f"first message after recovery: {ack}, expected seq 5"
    note(ack, a, "back 5", "f1")
    for x in (b, c):
        m = await x.recv_type("msg")
        assert (m["seq"], m["text"]) == (5, "back 5"), m
    note(await b.msg(room, "back 6", "b6"), b, "back 6", "b6")
    for x in (a, c):
        assert (await x.recv_type("msg"))["seq"] == 6
    again = await a.request({"type": "msg", "room": room, "text": "dup", "id": "f1"}, "ack")
    assert (again["seq"], again["ts"]) == (5, acked[5][2]), again
    await b.expect_nothing(200)
    h = await b.request({"type": "history", "room": room, "limit": 200}, "history")
    assert [(m["seq"], m["text"]) for m in h["messages"]] == \
        [(s, acked[s][1]) for s in sorted(acked)]

    assert cl.stop() == []
    assert db_integrity(cl.db_path) == "ok"
    rows = db_rows(cl.db_path)
    assert rows == [(room, s) + acked[s] for s in sorted(acked)], \
        f"the table must hold exactly the acknowledged messages: {rows}"
    assert db_last_seq(cl.db_path, room) == 6
    assert not any(r[3].startswith("lost") for r in rows)


@pytest.mark.timeout_s(40)
async def test_sigterm_while_writes_fail_exits_0_and_a_restart_goes_on(
        tmp_path, small_disk, hchat):
    fail = WriteFailer(small_disk, tmp_path)
    cl = hchat.cluster
    cl.db_path = os.path.join(fail.dir, "chat.db")
    cl.start(broker_args=["--ring", "5"])
    pid = cl.broker.p.pid
    a = await hchat.user("A")
    b = await hchat.user("B")
    room = await hchat.together(hchat.room(), a, b)
    acks = []
    for i in (1, 2):
        acks.append(await a.msg(room, f"kept {i}", f"k{i}"))
        await b.recv_type("msg")
    fail.block(pid)
    try:
        await a.expect_error({"type": "msg", "room": room, "text": "lost", "id": "x"},
                             "unavailable")
        # Stopping while the disk is full: a clean exit all the same.
        cl.stop_broker("term")
    finally:
        fail.unblock(pid)
    cl.start_broker()
    for c in (a, b):
        code = await c.wait_closed(8)
        assert code == 1012, f"{c}: expected 1012 after the broker restarted, got {code}"
    a = await hchat.connect("A")
    deadline = time.monotonic() + 10
    while True:
        w = await a.request({"type": "hello", "nick": hchat.nick()})
        if w["type"] == "welcome" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert w["type"] == "welcome", w
    a.nick = w["nick"]
    assert (await a.join(room))["seq"] == 2
    ack = await a.msg(room, "kept 3", "k3")
    assert ack["seq"] == 3, ack

    assert cl.stop() == []
    assert db_integrity(cl.db_path) == "ok"
    rows = db_rows(cl.db_path)
    assert [(r[1], r[3], r[5]) for r in rows] == \
        [(1, "kept 1", "k1"), (2, "kept 2", "k2"), (3, "kept 3", "k3")], rows
    assert [r[4] for r in rows] == [x["ts"] for x in acks + [ack]]
