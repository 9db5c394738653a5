// browser.mjs: Debian's Chromium driven by playwright-core, and the actions
// a person takes on the chat page.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARTIFACTS, until } from './cluster.mjs';

const CHROMIUM = process.env.CHAT_CHROMIUM || '/usr/bin/chromium';

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

// Records, in the page, every connection state the status line shows and
// every Content-Security-Policy violation, so a test can look back at them.
function recorder() {
  window.__states = [];
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
  document.addEventListener('DOMContentLoaded', () => {
    const s = document.getElementById('status');
    const note = () => {
      const st = s.dataset.state;
      if (window.__states[window.__states.length - 1] !== st) window.__states.push(st);
    };
    note();
    new MutationObserver(note).observe(s, { attributes: true, attributeFilter: ['data-state'] });
  });
}

// One person: a browser context (its own storage) with one page.
export class Person {
  static async open(browser, url, opts = {}) {
    const p = new Person();
    p.context = await browser.newContext(opts);
    p.page = await p.context.newPage();
    p.errors = [];
    p.dialogs = [];
    p.page.on('pageerror', (e) => p.errors.push(String(e)));
    p.page.on('dialog', (d) => { p.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    await p.page.addInitScript(recorder);
    p.response = await p.page.goto(url);
    return p;
  }

  get $() { return (sel) => this.page.locator(sel); }

  async state() { return this.page.locator('#status').getAttribute('data-state'); }

  async waitOnline(timeoutMs = 10000) {
    await until(async () => (await this.state()) === 'online' && (await this.page.locator('#nick-panel').isHidden()),
      'the page to be connected and identified', timeoutMs);
  }

  async pickNick(nick) {
    await this.page.locator('#nick-input').fill(nick);
    await this.page.locator('#nick-button').click();
  }

  async myNick() { return this.page.locator('#me-nick').textContent(); }

  async join(room) {
    await this.page.locator('#room-input').fill(room);
    await this.page.locator('#join-button').click();
    await until(async () => (await this.title()) === '#' + room, `#${room} to be the open conversation`);
  }

  async title() { return this.page.locator('#title').textContent(); }

  async type(text) { await this.page.locator('#msg-input').fill(text); }

  async send(text) {
    await this.type(text);
    await this.page.locator('#msg-input').press('Enter');
  }

  // Texts of the messages (not notices) in the open conversation.
  async texts() { return this.page.locator('#messages li.msg .text').allTextContents(); }

  async notices() { return this.page.locator('#messages li.notice .text').allTextContents(); }

  async members() { return this.page.locator('#members li').allTextContents(); }

  async typingLine() { return this.page.locator('#typing').textContent(); }

  async badge(key) {
    const b = this.page.locator(`.convs li[data-key="${key}"] .badge`);
    return (await b.count()) ? b.textContent() : null;
  }

  async states() { return this.page.evaluate(() => window.__states); }

  async cspViolations() { return this.page.evaluate(() => window.__cspViolations); }

  async shot(name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await this.page.screenshot({ path: path.join(ARTIFACTS, name + '.png') });
  }

  async close() { await this.context.close(); }
}
