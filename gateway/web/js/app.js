// app.js: the chat client. Speaks the protocol of docs/protocol.md over the
// Link, keeps conversations in the store, and asks the view to draw them.
import { Link } from './link.js';
import { Conv, convKey, saved } from './store.js';
import * as view from './view.js';

const $ = (id) => document.getElementById(id);
const WS_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
const TYPING_REFRESH_MS = 3000;  // PROTOCOL.md: repeat active:true every 3 s
const TYPING_SHOW_MS = 8000;     // forget a typer we hear nothing more from
const HISTORY_PAGE = 50;
const PRESENCE_NOTICES_MAX = 100; // bigger rooms do not show joins and leaves
const HELLO_RETRY_MS = 2000;     // hello answered `unavailable`: try again
const NICK_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const ROOM_RE = /^[a-z0-9_.#-]{1,64}$/;

const convs = new Map();   // key -> Conv, in the order shown
const pending = new Map(); // id -> our message item awaiting its ack
let nick = null;           // our nick, once welcomed
let wantNick = saved.nick();
let session = saved.session();
let identified = false;
let current = null;        // key of the conversation on screen
let switchOnJoin = null;   // room the user asked for: show it once joined
let typingIn = null;       // key of the conversation we said we type in
let typingAt = 0;
let idSeq = 0;
const idPrefix = Math.random().toString(36).slice(2, 8);
const newId = (p) => p + idPrefix + '.' + ++idSeq;

const link = new Link(WS_URL, { onOpen, onMessage, onClose });

// ---- conversations ---------------------------------------------------------------
function roomConv(name, create) {
  let c = convs.get(convKey('room', name));
  if (!c && create) {
    c = new Conv('room', name);
    convs.set(c.key, c);
  }
  return c;
}

function dmConv(who, create) {
  let c = convs.get(convKey('dm', who));
  if (!c && create) {
    c = new Conv('dm', who);
    convs.set(c.key, c);
    c.historyDone = true; // DMs are live only: the server keeps no DM history
  }
  return c;
}

function currentConv() { return current ? convs.get(current) || null : null; }

function drawLists() { view.convList(convs.values(), current); }

function switchTo(key) {
  stopTyping();
  const conv = key ? convs.get(key) : null;
  current = conv ? key : null;
  if (conv) conv.unread = 0;
  saved.setCurrent(current);
  view.title(conv);
  view.showConv(conv);
  view.members(conv, nick);
  view.typing(conv);
  drawLists();
  view.menu(false);
  if (conv && conv.kind === 'room' && conv.joined && conv.oldestSeq() === null) loadHistory(conv);
}

function firstConvKey() { return convs.size ? convs.keys().next().value : null; }

function dropConv(conv) {
  for (const t of conv.typers.values()) clearTimeout(t);
  convs.delete(conv.key);
  if (current === conv.key) switchTo(firstConvKey());
  else drawLists();
  persistSoon();
}

// Puts an item into a conversation and on screen; false for a duplicate.
function addItem(conv, it) {
  const i = conv.insert(it);
  if (i < 0) return false;
  if (conv.key === current) {
    view.inserted(conv, i);
    view.removed(conv.trim());
  } else {
    conv.trim();
    if (!it.notice && !it.mine) {
      conv.unread++;
      drawLists();
    }
  }
  if (it.seq !== undefined) persistSoon();
  return true;
}

function notice(conv, text) { if (conv) addItem(conv, { notice: text, ts: Date.now() }); }

let persistTimer = null;
function persistSoon() {
  if (persistTimer === null) persistTimer = setTimeout(persistNow, 1000);
}
function persistNow() {
  clearTimeout(persistTimer);
  persistTimer = null;
  saved.setRooms(convs.values());
}
window.addEventListener('pagehide', persistNow);

// ---- typing --------------------------------------------------------------------------
function typingTarget(conv) {
  return conv.kind === 'room' ? { room: conv.name } : { to: conv.name };
}

function stopTyping() {
  const conv = typingIn ? convs.get(typingIn) : null;
  if (conv && identified) link.send({ type: 'typing', ...typingTarget(conv), active: false });
  typingIn = null;
}

function onInput() {
  const conv = currentConv();
  const text = $('msg-input').value;
  if (!conv || !identified || !text.trim() || text.startsWith('/')) { stopTyping(); return; }
  if (conv.kind === 'room' && !conv.joined) return;
  const now = Date.now();
  if (typingIn === conv.key && now - typingAt < TYPING_REFRESH_MS) return;
  if (typingIn !== conv.key) stopTyping();
  if (link.send({ type: 'typing', ...typingTarget(conv), active: true })) {
    typingIn = conv.key;
    typingAt = now;
  }
}

function setTyper(conv, who, active) {
  const t = conv.typers.get(who);
  if (t !== undefined) clearTimeout(t);
  conv.typers.delete(who);
  if (active) conv.typers.set(who, setTimeout(() => setTyper(conv, who, false), TYPING_SHOW_MS));
  if (conv.key === current) view.typing(conv);
}

// ---- connection ------------------------------------------------------------------------
function onOpen() {
  if (wantNick) {
    view.status('identifying');
    hello();
  } else {
    view.status('online');
    view.askNick('Choose a nickname');
  }
}

function hello() {
  const msg = { type: 'hello', nick: wantNick, id: 'hello' };
  if (session && session.nick && session.nick.toLowerCase() === wantNick.toLowerCase()) {
    const rooms = {};
    for (const c of convs.values()) if (c.kind === 'room' && c.lastSeq > 0) rooms[c.name] = c.lastSeq;
    msg.resume = { session: session.session, rooms };
  }
  link.send(msg);
}

function onClose(code, reason, retryMs) {
  identified = false;
  typingIn = null;
  for (const c of convs.values()) {
    c.joined = false;
    for (const who of [...c.typers.keys()]) setTyper(c, who, false);
  }
  if (retryMs === null) {
    view.status('taken-over', '(click to use it here)');
    return;
  }
  const why = code === 1012 ? 'server restarting' : code === 1013 ? 'too slow' : code === 1008 ? 'too many requests' : '';
  view.status('reconnecting', (why ? '(' + why + ') ' : '') + 'in ' + Math.max(1, Math.round(retryMs / 1000)) + ' s');
}

// Our messages leave one at a time: the next once the previous is answered,
// so they reach the room in the order they were written even when the
// server refuses some. One answered `rate_limited` stays pending and goes
// again after the retry_after_ms the server asked for.
let slowUntil = 0;    // nothing leaves before this (ms since the epoch)
let slowTimer = null;

function inFlight() {
  for (const x of pending.values()) if (x.sent) return true;
  return false;
}

function pump() {
  if (slowTimer || inFlight()) return;
  const next = [...pending.values()].find((x) => !x.sent);
  if (!next) return;
  const wait = slowUntil - Date.now();
  if (wait > 0) {
    slowTimer = setTimeout(() => { slowTimer = null; pump(); }, wait);
    return;
  }
  transmit(next);
}

function sendItem(it) {
  it.sent = false;
  pump();
}

function transmit(it) {
  const conv = convs.get(it.conv);
  if (!conv || !identified) return; // stays pending; sent after the next welcome
  const cmd = conv.kind === 'room' ? { type: 'msg', room: conv.name } : { type: 'dm', to: conv.name };
  cmd.text = it.text;
  cmd.id = it.id;
  it.sent = link.send(cmd);
}

// Sends again what is pending after a (re)connect. Commands are handled in
// order, so these come after the joins sent just before.
function resend(resumed) {
  for (const it of [...pending.values()]) {
    // After a resume the session remembers our ids: resending is safe.
    // Otherwise only what never left this page may be sent again.
    if (resumed) it.sent = false;
    else if (it.sent) failItem(it, 'connection lost before it was confirmed');
  }
  pump();
}

function failItem(it, text) {
  pending.delete(it.id);
  it.state = 'failed';
  it.error = text;
  view.refresh(it);
  pump();
}

function join(name) {
  const c = roomConv(name, false);
  const msg = { type: 'join', room: name, id: 'j:' + name };
  if (c && c.lastSeq > 0) msg.since = c.lastSeq;
  link.send(msg);
}

function loadHistory(conv) {
  if (conv.historyBusy || conv.historyDone || !conv.joined) return;
  const msg = { type: 'history', room: conv.name, limit: HISTORY_PAGE, id: 'h:' + conv.name };
  const oldest = conv.oldestSeq();
  if (oldest !== null) {
    if (oldest <= 1) { conv.historyDone = true; return; }
    msg.before = oldest;
  }
  conv.historyBusy = link.send(msg);
}

const FRIENDLY = {
  not_in_room: 'you are not in this room',
  no_such_user: 'nobody by that nick is online',
  too_large: 'message too long',
  unavailable: 'chat server unavailable',
  not_identified: 'not connected',
};

function errorText(m) {
  if (m.code === 'rate_limited' && m.retry_after_ms) return 'sending too fast, wait ' + Math.ceil(m.retry_after_ms / 1000) + ' s';
  return FRIENDLY[m.code] || m.message || m.code;
}

// ---- server events ---------------------------------------------------------------------------
const handlers = {
  welcome(m) {
    identified = true;
    link.healthy();
    nick = wantNick = m.nick;
    session = { session: m.session, nick: m.nick };
    saved.setNick(nick);
    saved.setSession(m.session, nick, convs.values());
    view.hideNick();
    view.me(nick);
    view.online(m.online);
    view.status('online');
    if (m.resumed) {
      link.send({ type: 'ping', id: 'resync' }); // answered after the restored rooms
    } else {
      let rooms = 0;
      for (const c of convs.values()) if (c.kind === 'room') { join(c.name); rooms++; }
      if (!rooms) { switchOnJoin = 'general'; join('general'); }
      resend(false);
    }
    if (current) view.members(currentConv(), nick);
  },
  pong(m) {
    if (m.id !== 'resync') return;
    for (const c of convs.values()) if (c.kind === 'room' && !c.joined) join(c.name);
    resend(true);
  },
  joined(m) {
    const conv = roomConv(m.room, true);
    const fresh = conv.lastSeq === 0;
    conv.joined = true;
    conv.members = new Set(m.members);
    if (fresh) conv.lastSeq = m.seq; // nothing before this is "missed"
    $('room-error').textContent = '';
    if ($('status').dataset.state === 'unavailable') view.status('online');
    persistSoon();
    if (!current || switchOnJoin === m.room || current === conv.key) {
      if (switchOnJoin === m.room) switchOnJoin = null;
      switchTo(conv.key);
    } else {
      drawLists();
      if (conv.oldestSeq() === null) loadHistory(conv);
    }
  },
  left(m) {
    const conv = roomConv(m.room, false);
    if (conv) dropConv(conv);
  },
  msg(m) {
    const conv = roomConv(m.room, false);
    if (!conv) return;
    setTyper(conv, m.from, false);
    addItem(conv, { seq: m.seq, key: m.seq, from: m.from, text: m.text, ts: m.ts });
  },
  dm(m) {
    const conv = dmConv(m.from, true);
    if (conv.name !== m.from) conv.name = m.from; // the nick's current spelling
    setTyper(conv, m.from, false);
    addItem(conv, { from: m.from, text: m.text, ts: m.ts, key: m.ts });
  },
  ack(m) {
    if (m.id && m.id.startsWith('n:')) { view.hideNick(); return; }
    const it = pending.get(m.id);
    if (!it) return;
    pending.delete(m.id);
    pump();
    it.state = 'ok';
    it.ts = m.ts;
    const conv = convs.get(it.conv);
    if (!conv) return;
    conv.remove(it);
    if (typeof m.seq === 'number') {
      it.seq = m.seq;
      it.key = m.seq;
      if (conv.seen.has(m.seq)) { // already shown (replayed after a resume)
        if (it.el) it.el.remove();
        return;
      }
    } else {
      it.key = m.ts;
    }
    if (it.el) it.el.remove();
    addItem(conv, it);
    view.refresh(it);
    if ($('status').dataset.state === 'unavailable') view.status('online');
  },
  presence(m) {
    const conv = roomConv(m.room, false);
    if (!conv) return;
    if (m.event === 'join') {
      conv.members.add(m.nick);
    } else {
      conv.members.delete(m.nick);
      setTyper(conv, m.nick, false);
    }
    if (conv.members.size <= PRESENCE_NOTICES_MAX) notice(conv, m.nick + (m.event === 'join' ? ' joined' : ' left'));
    if (conv.key === current) view.members(conv, nick);
  },
  nick(m) {
    if (m.old === nick) {
      nick = wantNick = m.new;
      saved.setNick(nick);
      if (session) saved.setSession(session.session, nick, convs.values());
      session = saved.session();
      view.me(nick);
    }
    const renamed = m.old + ' is now known as ' + m.new;
    for (const c of convs.values()) {
      if (c.kind === 'room' && c.members.delete(m.old)) {
        c.members.add(m.new);
        if (c.typers.has(m.old)) { setTyper(c, m.old, false); }
        notice(c, renamed);
      }
    }
    const dm = dmConv(m.old, false);
    if (dm) {
      convs.delete(dm.key);
      dm.name = m.new;
      convs.set(dm.key, dm);
      if (current === convKey('dm', m.old)) current = dm.key;
      notice(dm, renamed);
      view.title(currentConv());
    }
    drawLists();
    if (current) view.members(currentConv(), nick);
  },
  typing(m) {
    const conv = m.room ? roomConv(m.room, false) : dmConv(m.nick, false);
    if (conv) setTyper(conv, m.nick, m.active === true);
  },
  history(m) {
    const conv = roomConv(m.room, false);
    if (!conv) return;
    conv.historyBusy = false;
    for (const h of m.messages) addItem(conv, { seq: h.seq, key: h.seq, from: h.from, text: h.text, ts: h.ts });
    if (m.messages.length < HISTORY_PAGE || conv.oldestSeq() === 1) conv.historyDone = true;
    if (conv.key === current && !conv.historyDone && view.atTop()) loadHistory(conv);
  },
  online(m) { view.online(m.count); },
  who(m) { if (typeof m.online === 'number') view.online(m.online); },
  error(m) {
    const id = typeof m.id === 'string' ? m.id : '';
    if (m.code === 'unavailable') view.status('unavailable');
    if (id === 'hello') {
      if (m.code === 'unavailable') { setTimeout(() => { if (!identified && link.isOpen()) hello(); }, HELLO_RETRY_MS); return; }
      const tried = wantNick;
      wantNick = null;
      view.status('online');
      if (m.code === 'nick_taken') view.askNick('“' + tried + '” is taken. Choose another nickname', '', tried);
      else if (m.code === 'nick_invalid') view.askNick('Choose another nickname', '“' + tried + '” is not a valid nickname', tried);
      else view.askNick('Choose a nickname', errorText(m), tried);
    } else if (id.startsWith('n:')) {
      view.askNick('Change your nickname', m.code === 'nick_taken' ? 'that nick is taken' : errorText(m), undefined, true);
    } else if (id.startsWith('j:')) {
      $('room-error').textContent = '#' + id.slice(2) + ': ' + (m.code === 'room_invalid' ? 'not a valid room name' : errorText(m));
    } else if (id.startsWith('l:')) {
      const conv = roomConv(id.slice(2), false);
      if (conv && m.code === 'not_in_room') dropConv(conv);
    } else if (id.startsWith('h:')) {
      const conv = roomConv(id.slice(2), false);
      if (conv) conv.historyBusy = false;
    } else if (pending.has(id) && m.code === 'rate_limited') {
      pending.get(id).sent = false;
      slowUntil = Date.now() + Math.max(m.retry_after_ms || 1000, 10);
      pump();
    } else if (pending.has(id)) {
      failItem(pending.get(id), errorText(m));
    } else if (m.code !== 'unavailable' && m.code !== 'no_such_user') {
      notice(currentConv(), 'error: ' + errorText(m));
    }
  },
};

function onMessage(m) {
  const h = handlers[m.type];
  if (h) h(m);
}

// ---- user actions ----------------------------------------------------------------------------
function joinRoom(input) {
  const name = input.trim().replace(/^#(?=.)/, '').toLowerCase();
  if (!ROOM_RE.test(name)) {
    $('room-error').textContent = 'room names are 1–64 of a-z 0-9 _ . # -';
    return;
  }
  $('room-error').textContent = '';
  const conv = roomConv(name, false);
  if (conv && conv.joined) { switchTo(conv.key); return; }
  if (!identified) { $('room-error').textContent = 'not connected yet'; return; }
  switchOnJoin = name;
  join(name);
}

function leave(conv) {
  if (conv.kind === 'dm' || !identified) { dropConv(conv); return; }
  stopTyping();
  link.send({ type: 'leave', room: conv.name, id: 'l:' + conv.name });
}

function changeNick(n) {
  if (!NICK_RE.test(n)) {
    view.askNick('Change your nickname', 'nicks are 1–32 letters, digits, _ . or -', n, true);
    return;
  }
  link.send({ type: 'nick', nick: n, id: newId('n:') });
}

function openDm(who) {
  const conv = dmConv(who, true);
  switchTo(conv.key);
  $('msg-input').focus();
}

function command(line) {
  const [cmd, ...rest] = line.slice(1).split(/\s+/);
  const arg = rest.join(' ');
  switch (cmd.toLowerCase()) {
  case 'nick': if (arg) changeNick(arg); else view.askNick('Change your nickname', '', nick, true); return;
  case 'join': joinRoom(arg); return;
  case 'leave': case 'part': { const c = arg ? roomConv(arg.replace(/^#/, ''), false) : currentConv(); if (c) leave(c); return; }
  case 'msg': case 'dm': {
    const [to, ...words] = rest;
    if (!to || !words.length) break;
    openDm(to);
    post(words.join(' '));
    return;
  }
  default: break;
  }
  notice(currentConv(), 'commands: /nick name, /join room, /leave [room], /msg nick text');
}

function post(text) {
  const conv = currentConv();
  if (!conv) return;
  typingIn = null; // sending stops typing at the server
  const it = { id: newId('m'), conv: conv.key, from: nick, text, ts: Date.now(), key: Infinity, state: 'pending', mine: true, sent: false };
  pending.set(it.id, it);
  addItem(conv, it);
  sendItem(it);
}

$('msg-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('msg-input');
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  if (text.startsWith('/') && !text.startsWith('//')) command(text.trim());
  else post(text.startsWith('//') ? text.slice(1) : text);
});

$('msg-input').addEventListener('input', onInput);

$('nick-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const n = $('nick-input').value.trim();
  if (identified) { changeNick(n); return; }
  if (!NICK_RE.test(n)) {
    $('nick-error').textContent = 'nicks are 1–32 letters, digits, _ . or -';
    return;
  }
  $('nick-error').textContent = '';
  wantNick = n;
  if (link.isOpen()) { view.status('identifying'); hello(); } else link.retryNow();
});

$('nick-cancel').addEventListener('click', () => view.hideNick());
$('nick-change').addEventListener('click', () => view.askNick('Change your nickname', '', nick, true));

$('room-form').addEventListener('submit', (e) => {
  e.preventDefault();
  joinRoom($('room-input').value);
  $('room-input').value = '';
});

for (const list of [$('rooms'), $('dms')]) {
  list.addEventListener('click', (e) => {
    const li = e.target.closest('li');
    const conv = li && convs.get(li.dataset.key);
    if (!conv) return;
    if (e.target.closest('.close')) leave(conv); else switchTo(conv.key);
  });
}

$('members').addEventListener('click', (e) => {
  const b = e.target.closest('button.member');
  if (b) openDm(b.dataset.nick);
});

$('messages').addEventListener('click', (e) => {
  const b = e.target.closest('button.retry');
  if (!b) return;
  const conv = currentConv();
  const it = conv && conv.items.find((x) => x.el === b.parentNode);
  if (!it || it.state !== 'failed') return;
  it.state = 'pending';
  it.sent = false;
  pending.set(it.id, it);
  view.refresh(it);
  sendItem(it);
});

$('messages').addEventListener('scroll', () => {
  const conv = currentConv();
  if (conv && conv.kind === 'room' && view.atTop()) loadHistory(conv);
});

$('menu-button').addEventListener('click', () => view.menu(!document.body.classList.contains('menu-open')));
$('status').addEventListener('click', () => { if ($('status').dataset.state === 'taken-over') link.retryNow(); });

// ---- start -------------------------------------------------------------------------------------
for (const name of saved.rooms()) {
  const c = roomConv(name, true);
  const seq = session && session.rooms ? session.rooms[name] : 0;
  if (Number.isInteger(seq) && seq > 0) c.lastSeq = seq;
}
const last = saved.current();
switchTo(last && convs.has(last) ? last : firstConvKey());
view.status('connecting');
if (!wantNick) view.askNick('Choose a nickname');
link.open();
