// cluster.mjs: a real chat-broker (SQLite history in a temp folder) and two
// real chat-gateways as child processes on free ports of 127.0.0.1, for the
// browser tests. Logs go to files in the artifacts folder.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
const BROKER_BIN = process.env.CHAT_BROKER_BIN || path.join(ROOT, 'build', 'chat-broker');
const GATEWAY_BIN = process.env.CHAT_GATEWAY_BIN || path.join(ROOT, 'build', 'chat-gateway');
const WEB_DIR = process.env.CHAT_WEB_DIR || path.join(ROOT, 'gateway', 'web');
export const ARTIFACTS = process.env.CHAT_ARTIFACTS || path.join(HERE, 'artifacts');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; fails with what it last saw.
export async function until(fn, what, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(50);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function ready(port) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`);
    return r.status === 200;
  } catch (e) {
    return false;
  }
}

class Proc {
  constructor(name, argv) {
    this.name = name;
    this.argv = argv;
    this.log = path.join(ARTIFACTS, name + '.log');
  }

  start() {
    const out = fs.openSync(this.log, 'a');
    this.p = spawn(this.argv[0], this.argv.slice(1), { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.exit = new Promise((resolve) => this.p.on('exit', (code, sig) => resolve({ code, sig })));
  }

  async stop(signal = 'SIGTERM', timeoutMs = 5000) {
    if (!this.p || this.p.exitCode !== null || this.p.signalCode !== null) return this.exit;
    this.p.kill(signal);
    const t = setTimeout(() => this.p.kill('SIGKILL'), timeoutMs);
    const r = await this.exit;
    clearTimeout(t);
    return r;
  }
}

export class Cluster {
  async start() {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-browser-'));
    this.brokerPort = await freePort();
    const endpoint = `tcp://127.0.0.1:${this.brokerPort}`;
    this.broker = new Proc('broker', [BROKER_BIN, '--listen', endpoint, '--history', path.join(this.dir, 'chat.db'),
      '--log-level', 'debug']);
    this.gateways = [];
    for (const id of ['gw-a', 'gw-b']) {
      const port = await freePort();
      const gw = new Proc(id, [GATEWAY_BIN, '--port', String(port), '--bind', '127.0.0.1', '--broker', endpoint,
        '--id', id, '--web', WEB_DIR, '--log-level', 'debug']);
      gw.port = port;
      gw.url = `http://127.0.0.1:${port}/`;
      this.gateways.push(gw);
    }
    this.broker.start();
    for (const gw of this.gateways) gw.start();
    await this.ready();
    return this;
  }

  async ready() {
    for (const gw of this.gateways) await until(() => ready(gw.port), `${gw.name} /readyz`, 15000);
  }

  get urls() { return this.gateways.map((g) => g.url); }

  // SIGKILL the broker and start a new one on the same port and database.
  async killBroker() {
    await this.broker.stop('SIGKILL');
    for (const gw of this.gateways) await until(async () => !(await ready(gw.port)), `${gw.name} to notice the broker is gone`, 15000);
  }

  async startBroker() {
    this.broker.start();
    await this.ready();
  }

  // Stops everything; returns the processes that did not exit cleanly.
  async stop() {
    const bad = [];
    for (const p of [...(this.gateways || []), this.broker]) {
      if (!p) continue;
      const r = await p.stop();
      if (r.code !== 0) bad.push(`${p.name} exited with ${r.code ?? r.sig}`);
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    return bad;
  }
}
