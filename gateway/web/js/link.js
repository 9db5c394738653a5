// link.js: one WebSocket to the gateway that serves this page, reconnected
// with exponential backoff and jitter. Knows nothing about chat semantics.

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;

export class Link {
  // handlers: onOpen(), onMessage(obj), onClose(code, reason, retryMs)
  // (retryMs is null when the link will not reconnect by itself).
  constructor(url, handlers) {
    this.url = url;
    this.h = handlers;
    this.ws = null;
    this.failures = 0; // connections in a row that ended before the app said "ok"
    this.timer = null;
  }

  open() {
    clearTimeout(this.timer);
    this.timer = null;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => this.h.onOpen();
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m && typeof m === 'object' && typeof m.type === 'string') this.h.onMessage(m);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      let retry = null;
      if (ev.code !== 4001) {
        // 1012 (service restart): the cluster asks us to come back at once;
        // spread the herd over a short window. Anything else: backoff.
        retry = ev.code === 1012 ? 250 + Math.random() * 750 : this.backoff();
        this.failures++;
        this.timer = setTimeout(() => this.open(), retry);
      }
      this.h.onClose(ev.code, ev.reason, retry);
    };
  }

  // "Full jitter" (AWS architecture blog): a random delay up to the capped
  // exponential, never below half of it, so clients do not retry in step.
  backoff() {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.failures);
    return ceiling / 2 + Math.random() * ceiling / 2;
  }

  healthy() { this.failures = 0; }

  retryNow() {
    if (this.ws) return;
    this.failures = 0;
    this.open();
  }

  isOpen() { return this.ws !== null && this.ws.readyState === WebSocket.OPEN; }

  send(obj) {
    if (!this.isOpen()) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }
}
