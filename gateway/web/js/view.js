// view.js: everything that touches the DOM. User text only ever goes through
// textContent, never innerHTML.

const $ = (id) => document.getElementById(id);

export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const STATUS_TEXT = {
  connecting: 'connecting…',
  identifying: 'connected, identifying…',
  online: 'connected',
  unavailable: 'chat server unavailable, waiting for it…',
  reconnecting: 'reconnecting…',
  'taken-over': 'opened in another window',
};

export function status(state, detail) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = (STATUS_TEXT[state] || state) + (detail ? ' ' + detail : '');
  document.body.dataset.conn = state;
}

export function online(n) {
  if (typeof n === 'number') $('online').textContent = n + ' online';
}

export function me(nick) {
  $('me').hidden = !nick;
  $('me-nick').textContent = nick || '';
}

// ---- the nick panel ---------------------------------------------------------
export function askNick(prompt, error, suggestion, cancellable) {
  $('nick-panel').hidden = false;
  $('nick-prompt').textContent = prompt;
  $('nick-error').textContent = error || '';
  $('nick-cancel').hidden = !cancellable;
  const input = $('nick-input');
  if (suggestion !== undefined && suggestion !== null) input.value = suggestion;
  input.focus();
  input.select();
}

export function hideNick() { $('nick-panel').hidden = true; }

// ---- conversation lists ----------------------------------------------------
export function convList(convs, currentKey) {
  const rooms = $('rooms'), dms = $('dms');
  rooms.replaceChildren();
  dms.replaceChildren();
  for (const c of convs) {
    const li = el('li', c.key === currentKey ? 'current' : '');
    li.dataset.key = c.key;
    const open = el('button', 'open', (c.kind === 'room' ? '#' : '@') + c.name);
    open.type = 'button';
    li.appendChild(open);
    if (c.unread) li.appendChild(el('span', 'badge', String(c.unread)));
    const close = el('button', 'close', '×');
    close.type = 'button';
    close.title = c.kind === 'room' ? 'leave #' + c.name : 'close';
    li.appendChild(close);
    (c.kind === 'room' ? rooms : dms).appendChild(li);
  }
}

export function members(conv, myNick) {
  const ul = $('members');
  ul.replaceChildren();
  const names = conv && conv.kind === 'room' ? [...conv.members] : [];
  names.sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  $('member-count').textContent = conv && conv.kind === 'room' ? '(' + names.length + ')' : '';
  for (const n of names) {
    const li = el('li');
    if (n === myNick) {
      li.className = 'me';
      li.textContent = n;
    } else {
      const b = el('button', 'member', n);
      b.type = 'button';
      b.title = 'send a private message to ' + n;
      b.dataset.nick = n;
      li.appendChild(b);
    }
    ul.appendChild(li);
  }
}

export function title(conv) {
  $('title').textContent = !conv ? 'no conversation' : conv.kind === 'room' ? '#' + conv.name : 'private: ' + conv.name;
  $('msg-input').placeholder = !conv ? 'join a room first'
    : conv.kind === 'room' ? 'message #' + conv.name + ', or /nick name, /join room, /leave'
      : 'private message to ' + conv.name;
}

export function typing(conv) {
  const names = conv ? [...conv.typers.keys()] : [];
  let t = '';
  if (names.length === 1) t = names[0] + ' is typing…';
  else if (names.length === 2) t = names[0] + ' and ' + names[1] + ' are typing…';
  else if (names.length === 3) t = names[0] + ', ' + names[1] + ' and ' + names[2] + ' are typing…';
  else if (names.length > 3) t = names[0] + ', ' + names[1] + ' and ' + (names.length - 2) + ' others are typing…';
  $('typing').textContent = t;
}

// ---- messages ------------------------------------------------------------------
function fmtTime(ts) {
  if (!ts) return '';
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function itemEl(it) {
  const li = el('li');
  it.el = li;
  const time = el('time', 'time', fmtTime(it.ts));
  if (it.ts) { time.dateTime = new Date(it.ts).toISOString(); time.title = new Date(it.ts).toLocaleString(); }
  li.appendChild(time);
  if (it.notice) {
    li.className = 'notice';
    li.appendChild(el('span', 'text', it.notice));
    return li;
  }
  if (it.seq !== undefined) li.dataset.seq = it.seq;
  li.appendChild(el('span', 'nick', it.from));
  li.appendChild(el('span', 'text', it.text));
  if (it.mine) {
    li.appendChild(el('span', 'state'));
    const retry = el('button', 'retry', 'retry');
    retry.type = 'button';
    li.appendChild(retry);
  }
  refresh(it);
  return li;
}

// Re-renders the parts of an item that change: time, state, seq.
export function refresh(it) {
  const li = it.el;
  if (!li || it.notice) return;
  li.className = 'msg' + (it.mine ? ' mine ' + it.state : '');
  if (it.seq !== undefined) li.dataset.seq = it.seq;
  li.querySelector('.time').textContent = fmtTime(it.ts);
  if (!it.mine) return;
  const state = li.querySelector('.state');
  state.textContent = it.state === 'pending' ? 'sending…' : it.state === 'failed' ? 'not sent: ' + it.error : '✓';
  state.title = it.state === 'ok' ? 'delivered' : '';
  li.querySelector('.retry').hidden = it.state !== 'failed';
}

function nearBottom(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 60; }

export function showConv(conv) {
  const list = $('messages');
  list.replaceChildren();
  if (conv) for (const it of conv.items) list.appendChild(it.el || itemEl(it));
  list.scrollTop = list.scrollHeight;
}

// Adds conv.items[index] to the list on screen. Keeps the reader's place:
// stays at the bottom if they were there, holds still if they scrolled up.
export function inserted(conv, index) {
  const list = $('messages');
  const it = conv.items[index];
  const next = conv.items[index + 1];
  const bottom = nearBottom(list);
  const before = list.scrollHeight;
  list.insertBefore(it.el || itemEl(it), next && next.el && next.el.parentNode === list ? next.el : null);
  if (bottom || (!next && it.mine)) list.scrollTop = list.scrollHeight;
  else if (next) list.scrollTop += list.scrollHeight - before;
}

export function removed(items) {
  for (const it of items) if (it.el) it.el.remove();
}

export function atTop() { return $('messages').scrollTop < 40; }

export function menu(open) {
  document.body.classList.toggle('menu-open', open);
  $('menu-button').setAttribute('aria-expanded', String(open));
}
