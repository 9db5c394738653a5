"""Auth (PROTOCOL.md "Auth (when on)"): hello carries an HS256 JWT whose sub is
the nick. Gateways A and B run with --auth-secret-file; tokens are minted here
with the standard library (hmac, hashlib), as an application would."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time

import pytest

from conftest import GATEWAY_BIN, WEB_DIR, cluster_lifetime
from spawn import spawn_gateway

SECRET = "e2e-auth-secret-" + "k" * 32          # 48 bytes
OTHER_SECRET = "another-e2e-secret-" + "q" * 32
LEEWAY = 30


@pytest.fixture(scope="module")
def cluster(request, tmp_path_factory):
    d = tmp_path_factory.mktemp("auth")
    path = d / "secret"
    path.write_text(SECRET + "\n")              # one final newline, as editors write it
    os.chmod(path, 0o600)
    yield from cluster_lifetime(request, tmp_path_factory,
                                gateway_args=["--auth-secret-file", str(path)])


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(claims, secret=SECRET, header=None):
    header = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(sig)}"


def claims(nick, **kw):
    now = int(time.time())
    c = {"sub": nick, "iat": now, "exp": now + 300}
    c.update(kw)
    return c


def token(nick, **kw):
    return mint(claims(nick, **kw))


# --------------------------------------------------------------------------- accepted

async def test_valid_token_gets_welcome(chat):
    c = await chat.connect("A")
    nick = chat.nick("Al")
    w = await c.request({"type": "hello", "nick": nick, "token": token(nick), "id": "h1"},
                        "welcome")
    assert w["nick"] == nick and w["resumed"] is False and w["id"] == "h1"


async def test_authenticated_users_chat_across_gateways(chat):
    a, b = await chat.connect("A"), await chat.connect("B")
    await a.hello(na := chat.nick(), token=token(na))
    await b.hello(nb := chat.nick(), token=token(nb))
    room = await chat.together(chat.room(), a, b)
    ack = await a.msg(room, "signed in", "m1")
    m = await b.recv_type("msg")
    assert (m["from"], m["text"], m["seq"]) == (na, "signed in", ack["seq"])
    await b.dm(na, "psst")
    d = await a.recv_type("dm")
    assert d["from"] == nb


async def test_sub_matches_nick_case_insensitively(chat):
    c = await chat.connect("B")
    nick = chat.nick("MiXed")
    w = await c.hello(nick, token=token(nick.upper()))
    assert w["nick"] == nick


async def test_exp_and_nbf_have_30s_leeway(chat):
    now = int(time.time())
    c = await chat.connect("A")
    nick = chat.nick()
    await c.hello(nick, token=token(nick, exp=now - LEEWAY + 10, nbf=now + LEEWAY - 10))


async def test_token_with_fractional_times_and_no_iat(chat):
    now = time.time()
    c = await chat.connect("A")
    nick = chat.nick()
    await c.hello(nick, token=mint({"sub": nick, "exp": now + 60.5, "nbf": now - 0.5}))


async def test_extra_header_and_claims_are_ignored(chat):
    c = await chat.connect("A")
    nick = chat.nick()
    t = mint(claims(nick, iss="app", aud="chat", room_hint="x"),
             header={"alg": "HS256", "typ": "JWT", "kid": "k1"})
    await c.hello(nick, token=t)


# --------------------------------------------------------------------------- refused

async def test_missing_token_is_auth_required(chat):
    c = await chat.connect("A")
    await c.expect_error({"type": "hello", "nick": chat.nick(), "id": "h1"}, "auth_required")
    await c.ping()


async def test_refused_hello_leaves_connection_usable(chat):
    c = await chat.connect("B")
    nick = chat.nick()
    await c.expect_error({"type": "hello", "nick": nick, "token": token(nick, exp=1)},
                         "auth_failed")
    await c.expect_error({"type": "join", "room": chat.room()}, "not_identified")
    await c.hello(nick, token=token(nick))           # nick not taken by the refused hello
    await c.join(chat.room())


async def test_expired_token(chat):
    now = int(time.time())
    c = await chat.connect("A")
    nick = chat.nick()
    r = await c.expect_error({"type": "hello", "nick": nick, "id": "x",
                              "token": token(nick, exp=now - LEEWAY - 30)}, "auth_failed")
    assert "expired" in r["message"], r


async def test_not_yet_valid_token(chat):
    now = int(time.time())
    c = await chat.connect("A")
    nick = chat.nick()
    r = await c.expect_error({"type": "hello", "nick": nick,
                              "token": token(nick, nbf=now + LEEWAY + 60)}, "auth_failed")
    assert "not yet valid" in r["message"], r


async def test_token_for_another_nick(chat):
    c = await chat.connect("A")
    nick, other = chat.nick(), chat.nick()
    r = await c.expect_error({"type": "hello", "nick": nick, "token": token(other)},
                             "auth_failed")
    assert "another nick" in r["message"], r
    await c.expect_error({"type": "hello", "nick": nick, "token": token(nick + "x")},
                         "auth_failed")


async def test_tampered_tokens(chat):
    c = await chat.connect("B")
    nick, other = chat.nick(), chat.nick()
    good = token(nick)
    h, p, s = good.split(".")
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    # The signature of another token, the payload of another nick, a signature
    # made with another secret, a truncated and an empty signature.
    forged_payload = b64url(json.dumps(claims(other)).encode())
    for bad in (f"{h}.{p}.{flipped}", f"{h}.{forged_payload}.{s}",
                mint(claims(nick), secret=OTHER_SECRET), f"{h}.{p}.{s[:-1]}", f"{h}.{p}."):
        r = await c.expect_error({"type": "hello", "nick": nick, "token": bad}, "auth_failed")
        assert "signature" in r["message"], (bad, r)
    await c.expect_error({"type": "hello", "nick": other, "token": f"{h}.{forged_payload}.{s}"},
                         "auth_failed")
    await c.hello(nick, token=good)


@pytest.mark.parametrize("header", [
    {"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"alg": "HS512"}, {"alg": "RS256"},
    {"alg": "hs256"}, {"typ": "JWT"}, {"alg": "HS256", "crit": ["exp"]}, {"alg": ["HS256"]},
], ids=["none", "None", "HS512", "RS256", "lowercase", "no-alg", "crit", "alg-array"])
async def test_other_algorithms_are_refused(chat, header):
    c = await chat.connect("A")
    nick = chat.nick()
    # Signed with the right secret all the same: the header alone refuses it.
    signed = mint(claims(nick), header=header)
    r = await c.expect_error({"type": "hello", "nick": nick, "token": signed}, "auth_failed")
    assert "HS256" in r["message"], r
    if header.get("alg") in ("none", "None"):
        unsigned = signed.rsplit(".", 1)[0] + "."
        await c.expect_error({"type": "hello", "nick": nick, "token": unsigned}, "auth_failed")


def _malformed(nick):
    h = b64url(b'{"alg":"HS256","typ":"JWT"}')
    p = b64url(json.dumps(claims(nick)).encode())
    s = mint(claims(nick)).rsplit(".", 1)[1]
    sign = lambda hh, pp: f"{hh}.{pp}." + b64url(  # noqa: E731
        hmac.new(SECRET.encode(), f"{hh}.{pp}".encode(), hashlib.sha256).digest())
    return {
        "empty": "",
        "one-part": "abc",
        "two-parts": f"{h}.{p}",
        "four-parts": f"{h}.{p}.{s}.{s}",
        "padded": sign(base64.urlsafe_b64encode(b'{"alg":"HS256","x":10}').decode(), p),
        "std-alphabet": f"{h}.{p}.{s.replace('-', '+').replace('_', '/')}"
        if ("-" in s or "_" in s) else f"{h}.{p}.{s[:-1]}+",
        "space": f" {h}.{p}.{s}",
        "header-not-json": sign(b64url(b"not json"), p),
        "header-array": sign(b64url(b'["HS256"]'), p),
        "payload-not-json": sign(h, b64url(b"{sub:1}")),
        "payload-array": sign(h, b64url(b"[]")),
        "duplicate-sub": sign(h, b64url(('{"sub":"%s","sub":"%s","exp":%d}'
                                         % (nick, nick, time.time() + 60)).encode())),
        "no-exp": sign(h, b64url(json.dumps({"sub": nick}).encode())),
        "no-sub": sign(h, b64url(json.dumps({"exp": time.time() + 60}).encode())),
        "exp-string": sign(h, b64url(json.dumps({"sub": nick, "exp": "tomorrow"}).encode())),
        "nbf-null": sign(h, b64url(json.dumps({"sub": nick, "exp": time.time() + 60,
                                                "nbf": None}).encode())),
        "sub-number": sign(h, b64url(json.dumps({"sub": 7, "exp": time.time() + 60}).encode())),
        "huge": f"{h}.{p}.{s}" + "A" * 9000,
    }


async def test_malformed_tokens(chat):
    c = await chat.connect("A")
    nick = chat.nick()
    cases = _malformed(nick)
    assert cases["padded"].split(".")[0].endswith("=="), cases["padded"]
    for name, bad in cases.items():
        r = await c.expect_error({"type": "hello", "nick": nick, "token": bad, "id": name},
                                 "auth_failed")
        assert r["message"], (name, r)
    await c.hello(nick, token=token(nick))


async def test_token_of_wrong_json_type_is_bad_request(chat):
    c = await chat.connect("A")
    nick = chat.nick()
    for bad in (42, None, {"jwt": token(nick)}, [token(nick)]):
        await c.expect_error({"type": "hello", "nick": nick, "token": bad}, "bad_request")


async def test_validation_errors_come_before_auth(chat):
    c = await chat.connect("B")
    await c.expect_error({"type": "hello", "nick": "bad nick"}, "nick_invalid")
    await c.expect_error({"type": "hello", "nick": "bad nick", "token": "x"}, "nick_invalid")


async def test_nick_change_is_auth_required(chat):
    c = await chat.connect("A")
    nick = chat.nick()
    await c.hello(nick, token=token(nick))
    await c.expect_error({"type": "nick", "nick": chat.nick(), "id": "n1"}, "auth_required")
    await c.expect_error({"type": "nick", "nick": "bad nick"}, "nick_invalid")
    w = await c.request({"type": "who"}, "who")
    assert nick in w["users"]


async def test_nick_before_hello_is_not_identified(chat):
    c = await chat.connect("A")
    await c.expect_error({"type": "nick", "nick": chat.nick()}, "not_identified")


# --------------------------------------------------------------------------- resume

async def test_resume_needs_a_valid_token(chat):
    a, b = await chat.connect("A"), await chat.connect("B")
    nick = chat.nick()
    await a.hello(nick, token=token(nick))
    await b.hello(nb := chat.nick(), token=token(nb))
    room = await chat.together(chat.room(), a, b)
    session = a.session
    a.drop()
    await b.recv_type("presence")                    # a's leave
    ack = await b.msg(room, "while you were away")

    c = await chat.connect("B")
    resume = {"session": session, "rooms": {room: 0}}
    await c.expect_error({"type": "hello", "nick": nick, "resume": resume}, "auth_required")
    await c.expect_error({"type": "hello", "nick": nick, "resume": resume,
                          "token": token(nick, exp=1)}, "auth_failed")
    await c.expect_error({"type": "hello", "nick": nick, "resume": resume,
                          "token": token(chat.nick())}, "auth_failed")
    w = await c.hello(nick, resume=resume, token=token(nick))
    assert w["resumed"] is True, w
    j = await c.recv_type("joined")
    assert j["room"] == room
    m = await c.recv_type("msg")
    assert (m["seq"], m["text"]) == (ack["seq"], "while you were away")


# --------------------------------------------------------------------------- flags

async def test_secret_from_the_command_line(chat):
    """A gateway given --auth-secret (not the file) checks against that value."""
    proc, _ = spawn_gateway(chat.cluster, "C", ["--auth-secret", OTHER_SECRET])
    try:
        c = await chat.connect("C")
        nick = chat.nick()
        await c.expect_error({"type": "hello", "nick": nick, "token": token(nick)}, "auth_failed")
        await c.hello(nick, token=mint(claims(nick), secret=OTHER_SECRET))
        await c.close()
    finally:
        problem = proc.stop()
    assert problem is None, problem


def run_gateway(*args, env=None):
    return subprocess.run([GATEWAY_BIN, "--port", "0", "--web", WEB_DIR, *args],
                          capture_output=True, text=True,
                          timeout=10, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("args,says", [
    (["--auth-secret", "short"], "at least 32"),
    (["--auth-secret", SECRET, "--auth-secret-file", "/nonexistent"], "not both"),
    (["--auth-secret-file", "/nonexistent/secret"], "No such file"),
], ids=["short", "both", "missing-file"])
def test_bad_auth_flags_exit_2(args, says):
    if not os.access(GATEWAY_BIN, os.X_OK):
        pytest.skip(f"binary not built: {GATEWAY_BIN}")
    r = run_gateway(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert says in r.stderr, r.stderr


def test_help_names_the_flags_and_hides_the_secret():
    if not os.access(GATEWAY_BIN, os.X_OK):
        pytest.skip(f"binary not built: {GATEWAY_BIN}")
    r = subprocess.run([GATEWAY_BIN, "--help"], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, CHAT_AUTH_SECRET=SECRET))
    assert r.returncode == 0
    for flag in ("--auth-secret", "--auth-secret-file", "CHAT_AUTH_SECRET",
                 "CHAT_AUTH_SECRET_FILE"):
        assert flag in r.stdout, flag
    assert SECRET not in r.stdout
