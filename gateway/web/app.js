// Minimal chat client for the protocol in docs/protocol.md.
// All user-supplied text is rendered with textContent only.
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

const WS_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
const TYPING_REPEAT_MS = 3000;
const MAX_KEPT = 500; // messages kept per room

let ws = null;
let nick = null;        // confirmed nick (after welcome)
let wantNick = null;    // nick to send in hello
let session = null;
let identified = false;
let attempt = 0;        // reconnect attempt counter
let reconnectTimer = null;
let switchOnJoin = null; // room the user asked to join: show it when joined
let current = null;     // current room name
let idSeq = 0;
const idPrefix = Math.random().toString(36).slice(2, 8);
const rooms = new Map(); // name -> room state
const pending = new Map(); // msg id -> message object
let typingSentAt = 0;   // when typing active:true was last sent
let typingRoom = null;  // room we told the server we are typing in

function newId(p) { return p + idPrefix + (++idSeq); }

function room(name) {
  let r = rooms.get(name);
  if (!r) {
    r = { name, msgs: [], seen: new Set(), lastSeq: 0, synced: false, members: new Set(),
          typers: new Map(), unread: 0, joined: false };
    rooms.set(name, r);
  }
  return r;
}

function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(obj)); return true; }
  return false;
}

function setStatus(text, cls) {
  $('status').textContent = text;
  $('status').className = cls || '';
}

// ---------- connection ----------
function connect() {
  clearTimeout(reconnectTimer);
  setStatus(attempt ? 'reconnecting…' : 'connecting…');
  ws = new WebSocket(WS_URL);
  ws.onopen = () => {
    setStatus(wantNick ? 'connected, identifying…' : 'connected — choose a nick', 'ok');
    if (wantNick) hello();
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m && typeof m.type === 'string' && handlers[m.type]) handlers[m.type](m);
  };
  ws.onclose = (ev) => {
    ws = null;
    identified = false;
    typingRoom = null;
    for (const r of rooms.values()) { r.joined = false; r.typers.forEach(clearTimeout); r.typers.clear(); }
    renderTyping();
    if (ev.code === 4001) {
      setStatus('disconnected: session taken over by another window (reload to reconnect)', 'bad');
      return;
    }
    const delay = Math.min(15000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    attempt++;
    setStatus('disconnected (' + (ev.code || 'error') + '), retrying in ' + Math.round(delay / 1000) + ' s…', 'bad');
    reconnectTimer = setTimeout(connect, delay);
  };
}

function hello() {
  const msg = { type: 'hello', nick: wantNick, id: 'hello' };
  if (session && nick && wantNick === nick) {
    const seqs = {};
    for (const r of rooms.values()) seqs[r.name] = r.lastSeq;
    msg.resume = { session, rooms: seqs };
  }
  send(msg);
}

function join(name) {
  const r = rooms.get(name); // state is created only once the server says "joined"
  const msg = { type: 'join', room: name, id: 'j:' + name };
  if (r && r.synced) msg.since = r.lastSeq;
  send(msg);
}

// ---------- server events ----------
const handlers = {
  welcome(m) {
    identified = true;
    attempt = 0;
    nick = wantNick = m.nick;
    session = m.session;
    $('nick-error').textContent = '';
    $('nick-form').hidden = true;
    $('me').textContent = 'you are ' + nick;
    setOnline(m.online);
    setStatus(m.resumed ? 'connected (resumed)' : 'connected', 'ok');
    if (m.resumed) {
      for (const p of pending.values()) send({ type: 'msg', room: p.room, text: p.text, id: p.id });
    } else {
      for (const p of pending.values()) markFailed(p, 'not confirmed (connection lost)');
      if (rooms.size === 0) { switchOnJoin = 'general'; join('general'); }
      else for (const name of rooms.keys()) join(name);
    }
  },
  joined(m) {
    const r = room(m.room);
    r.joined = true;
    r.members = new Set(m.members || []);
    if (!r.synced) { r.synced = true; r.lastSeq = Math.max(r.lastSeq, m.seq || 0); } // fresh join: no backlog
    if (!current || switchOnJoin === m.room) { switchOnJoin = null; switchTo(m.room); }
    $('room-error').textContent = '';
    renderRooms(); if (m.room === current) renderMembers();
  },
  left(m) {
    rooms.delete(m.room);
    if (current === m.room) current = null;
    switchTo(current || (rooms.size ? rooms.keys().next().value : null));
  },
  msg(m) {
    const r = room(m.room);
    if (r.seen.has(m.seq)) return;
    addMsg(r, { seq: m.seq, from: m.from, text: m.text, ts: m.ts });
    clearTyper(r, m.from);
  },
  ack(m) {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    p.state = 'ok'; p.seq = m.seq; p.ts = m.ts;
    const r = room(p.room);
    if (typeof m.seq === 'number') { r.seen.add(m.seq); r.lastSeq = Math.max(r.lastSeq, m.seq); }
    updateMsgEl(p);
  },
  presence(m) {
    const r = room(m.room);
    if (m.event === 'join') r.members.add(m.nick); else { r.members.delete(m.nick); clearTyper(r, m.nick); }
    addMsg(r, { notice: m.nick + (m.event === 'join' ? ' joined' : ' left'), ts: Date.now() }, true);
    if (m.room === current) renderMembers();
  },
  nick(m) {
    if (m.old === nick) { nick = wantNick = m.new; $('me').textContent = 'you are ' + nick; }
    for (const r of rooms.values()) {
      if (!r.members.delete(m.old)) continue;
      r.members.add(m.new);
      addMsg(r, { notice: m.old + ' is now ' + m.new, ts: Date.now() }, true);
    }
    renderMembers();
  },
  typing(m) {
    if (!m.room) return; // DM typing: not shown in this minimal page
    const r = room(m.room);
    clearTyper(r, m.nick);
    if (m.active) r.typers.set(m.nick, setTimeout(() => clearTyper(r, m.nick), 8000));
    if (m.room === current) renderTyping();
  },
  dm(m) {
    if (current) addMsg(room(current), { from: '[DM] ' + m.from, text: m.text, ts: m.ts, dm: true }, true);
  },
  online(m) { setOnline(m.count); },
  who(m) { if (typeof m.online === 'number') setOnline(m.online); },
  error(m) {
    const text = m.code + (m.message ? ': ' + m.message : '');
    if (m.id === 'hello' || /^nick_|^auth_/.test(m.code)) {
      $('nick-form').hidden = false;
      $('nick-error').textContent = text;
      setStatus('connected — choose a nick', 'ok');
      wantNick = null;
    } else if (m.id && m.id.startsWith('j:')) {
      $('room-error').textContent = text;
    } else if (m.id && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      markFailed(p, text);
    } else {
      setStatus('error ' + text, 'bad');
    }
  },
};

// ---------- state helpers ----------
function setOnline(n) { if (typeof n === 'number') $('online').textContent = 'online: ' + n; }

function addMsg(r, m, local) {
  if (!local && typeof m.seq === 'number') {
    r.seen.add(m.seq);
    r.lastSeq = Math.max(r.lastSeq, m.seq);
  }
  r.msgs.push(m);
  if (r.msgs.length > MAX_KEPT) r.msgs.shift();
  if (r.name === current) {
    const list = $('messages');
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.appendChild(msgEl(m));
    if (list.children.length > MAX_KEPT) list.removeChild(list.firstChild);
    if (atBottom || m.mine) list.scrollTop = list.scrollHeight;
  } else if (!m.notice) {
    r.unread++;
    renderRooms();
  }
}

function markFailed(p, text) { p.state = 'failed'; p.error = text; updateMsgEl(p); }

function clearTyper(r, who) {
  const t = r.typers.get(who);
  if (t === undefined) return;
  clearTimeout(t);
  r.typers.delete(who);
  if (r.name === current) renderTyping();
}

// ---------- rendering (textContent only) ----------
function fmtTime(ts) {
  return ts ? new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
}

function msgEl(m) {
  const li = el('li');
  m.el = li;
  li.appendChild(el('span', 'time', fmtTime(m.ts)));
  if (m.notice) { li.className = 'notice'; li.appendChild(el('span', 'text', m.notice)); return li; }
  if (m.dm) li.className = 'dm';
  li.appendChild(el('span', 'nick', m.from));
  li.appendChild(el('span', 'text', m.text));
  li.appendChild(el('span', 'state'));
  if (m.mine) updateMsgEl(m);
  return li;
}

function updateMsgEl(m) {
  const li = m.el;
  if (!li) return;
  li.className = m.state;
  li.firstChild.textContent = fmtTime(m.ts);
  li.lastChild.textContent = m.state === 'pending' ? '(sending…)' : m.state === 'failed' ? '(failed: ' + m.error + ')' : '✓';
}

function renderRooms() {
  const ul = $('rooms');
  ul.replaceChildren();
  for (const r of rooms.values()) {
    const li = el('li', r.name === current ? 'current' : '', '#' + r.name);
    if (r.unread) li.appendChild(el('span', 'unread', String(r.unread)));
    li.dataset.room = r.name;
    ul.appendChild(li);
  }
}

function renderMembers() {
  const ul = $('members');
  ul.replaceChildren();
  if (!current) return;
  for (const n of [...room(current).members].sort()) ul.appendChild(el('li', n === nick ? 'me' : '', n));
}

function renderTyping() {
  const names = current ? [...room(current).typers.keys()] : [];
  $('typing').textContent = names.length === 0 ? '' :
    names.length === 1 ? names[0] + ' is typing…' :
    names.length <= 3 ? names.join(', ') + ' are typing…' : 'several people are typing…';
}

function switchTo(name) {
  stopTyping();
  current = name;
  const list = $('messages');
  list.replaceChildren();
  $('room-title').textContent = name ? '#' + name : '–';
  if (name) {
    const r = room(name);
    r.unread = 0;
    for (const m of r.msgs) list.appendChild(msgEl(m));
    list.scrollTop = list.scrollHeight;
  }
  renderRooms(); renderMembers(); renderTyping();
}

// ---------- user actions ----------
function stopTyping() {
  if (typingRoom) send({ type: 'typing', room: typingRoom, active: false });
  typingRoom = null;
  typingSentAt = 0;
}

$('nick-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const n = $('nick-input').value.trim();
  if (!n) { $('nick-error').textContent = 'enter a nick'; return; }
  wantNick = n;
  $('nick-error').textContent = '';
  if (ws && ws.readyState === WebSocket.OPEN) hello();
  else if (!ws) { attempt = 0; connect(); }
});

$('room-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const name = $('room-input').value.trim().toLowerCase().replace(/^#/, '');
  if (!name) return;
  if (!identified) { $('room-error').textContent = 'choose a nick first'; return; }
  if (rooms.has(name) && room(name).joined) { switchTo(name); return; }
  switchOnJoin = name;
  join(name);
});

$('rooms').addEventListener('click', (e) => {
  const li = e.target.closest('li');
  if (li && li.dataset.room) switchTo(li.dataset.room);
});

$('msg-input').addEventListener('input', () => {
  if (!identified || !current) return;
  const text = $('msg-input').value;
  if (!text.trim()) { stopTyping(); return; }
  const now = Date.now();
  if (typingRoom !== current || now - typingSentAt >= TYPING_REPEAT_MS) {
    if (send({ type: 'typing', room: current, active: true })) { typingRoom = current; typingSentAt = now; }
  }
});

$('msg-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('msg-input');
  const text = input.value;
  if (!text.trim() || !current) return;
  if (!identified) { setStatus('not connected — message not sent', 'bad'); return; }
  stopTyping();
  const m = { id: newId('m'), room: current, from: nick, text, ts: Date.now(), state: 'pending', mine: true };
  pending.set(m.id, m);
  addMsg(room(current), m, true);
  send({ type: 'msg', room: m.room, text, id: m.id });
  input.value = '';
});

connect();
