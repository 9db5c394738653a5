// store.js: conversations (rooms and direct messages) and what is kept across
// reloads. No DOM here; the view renders what this holds.

const MAX_KEPT = 1000;  // items kept per conversation, oldest dropped first

// A conversation's items are kept sorted by `key`: a message's seq in a room,
// its ts in a DM, Infinity while one of ours is pending (it stays at the
// bottom until acknowledged), and for a notice the position it happened at.
export class Conv {
  constructor(kind, name) {
    this.kind = kind;            // 'room' | 'dm'
    this.name = name;            // room name, or the other person's nick
    this.items = [];
    this.seen = new Set();       // seqs (rooms) already shown
    this.lastSeq = 0;            // highest seq seen (rooms)
    this.members = new Set();
    this.typers = new Map();     // nick -> expiry timer
    this.unread = 0;
    this.joined = false;
    this.historyDone = false;    // nothing older to load
    this.historyBusy = false;
  }

  get key() { return convKey(this.kind, this.name); }

  oldestSeq() {
    for (const it of this.items) if (it.seq !== undefined) return it.seq;
    return null;
  }

  // Inserts an item at its place; returns its index, or -1 for a duplicate.
  insert(it) {
    if (it.seq !== undefined) {
      if (this.seen.has(it.seq)) return -1;
      this.seen.add(it.seq);
      if (it.seq > this.lastSeq) this.lastSeq = it.seq;
    }
    if (it.key === undefined) it.key = this.kind === 'room' ? this.lastSeq + 0.5 : Date.now();
    let i = this.items.length;
    while (i > 0 && this.items[i - 1].key > it.key) i--;
    this.items.splice(i, 0, it);
    return i;
  }

  remove(it) {
    const i = this.items.indexOf(it);
    if (i >= 0) this.items.splice(i, 1);
  }

  // Drops the oldest items past the cap; returns them (for the view).
  trim() {
    if (this.items.length <= MAX_KEPT) return [];
    this.historyDone = false;
    const gone = this.items.splice(0, this.items.length - MAX_KEPT);
    for (const it of gone) if (it.seq !== undefined) this.seen.delete(it.seq);
    return gone;
  }
}

export function convKey(kind, name) {
  return kind === 'room' ? '#' + name : '@' + name.toLowerCase();
}

// ---- persistence ----------------------------------------------------------
// localStorage (shared by the browser's tabs): the nick and the rooms, so a
// new tab comes back as the same person in the same rooms.
// sessionStorage (this tab, survives a reload): the session string and the
// last seq seen per room, for resume.

function load(storage, name, fallback) {
  try {
    const v = JSON.parse(storage.getItem(name));
    return v === null ? fallback : v;
  } catch (e) {
    return fallback;
  }
}

function save(storage, name, value) {
  try { storage.setItem(name, JSON.stringify(value)); } catch (e) { /* private mode, full */ }
}

export const saved = {
  nick: () => load(localStorage, 'chat.nick', null),
  rooms: () => load(localStorage, 'chat.rooms', []),
  current: () => load(localStorage, 'chat.current', null),
  session: () => load(sessionStorage, 'chat.session', null),
  setNick: (n) => save(localStorage, 'chat.nick', n),
  setCurrent: (key) => save(localStorage, 'chat.current', key),
  setRooms: (convs) => {
    const rooms = [], seqs = {};
    for (const c of convs) if (c.kind === 'room') { rooms.push(c.name); seqs[c.name] = c.lastSeq; }
    save(localStorage, 'chat.rooms', rooms);
    const s = load(sessionStorage, 'chat.session', null);
    if (s) { s.rooms = seqs; save(sessionStorage, 'chat.session', s); }
  },
  setSession: (session, nick, convs) => {
    const seqs = {};
    for (const c of convs) if (c.kind === 'room') seqs[c.name] = c.lastSeq;
    save(sessionStorage, 'chat.session', { session, nick, rooms: seqs });
  },
};
