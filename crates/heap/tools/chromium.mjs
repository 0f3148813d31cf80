// Shared by the heap tools: a headless Chromium on a fresh profile that
// listens on 127.0.0.1 only, a minimal CDP client, and the page scripts that
// build the benchmark heaps. Needs Node 20 with --experimental-websocket (or
// Node 22+) for its WebSocket client.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForPort(profile, deadlineMs) {
  const file = join(profile, "DevToolsActivePort");
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (existsSync(file)) {
      const lines = readFileSync(file, "utf8").split("\n");
      if (lines.length >= 2 && lines[0]) return Number(lines[0]);
    }
    await sleep(50);
  }
  throw new Error(`no DevToolsActivePort in ${profile} after ${deadlineMs} ms`);
}

export class Cdp {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(JSON.stringify(msg.error)));
        else p.resolve(msg.result);
      } else {
        const l = this.listeners.get(msg.method);
        if (l) l(msg.params);
      }
    };
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws.onopen = resolve;
      this.ws.onerror = reject;
    });
  }
  on(method, fn) {
    this.listeners.set(method, fn);
  }
  send(method, params = {}) {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
}

// Three ordinary classes with a mix of fields (numbers, short strings, arrays,
// links between objects and closures), so the snapshot looks like an app heap.
export const allocate = (n) => `
  (() => {
    class OrderLine { constructor(i) { this.id = i; this.sku = 'sku-' + (i % 5000); this.qty = i % 7; } }
    class Customer { constructor(i, line) { this.name = 'customer ' + i; this.lines = [line]; this.meta = { tier: i % 3 }; } }
    class Session { constructor(i, c) { this.customer = c; this.onTick = () => c.name.length + i; } }
    const keep = (globalThis.__keep = globalThis.__keep || []);
    for (let i = 0; i < ${n}; i++) {
      const line = new OrderLine(i);
      const c = new Customer(i, line);
      keep.push(new Session(i, c));
    }
    return keep.length;
  })()`;

export const leak = (n) => `
  (() => {
    class LeakedItem { constructor(i) { this.index = i; this.payload = [i, i + 1]; } }
    const sink = (globalThis.__leak = []);
    for (let i = 0; i < ${n}; i++) sink.push(new LeakedItem(i));
    return sink.length;
  })()`;

// Intervals whose callbacks close over a payload, as a leaking poll does.
export const timers = (n) => `
  (() => {
    class PollState { constructor(i) { this.operation = 'op-' + i; this.attempts = 0; } }
    for (let i = 0; i < ${n}; i++) {
      const state = new PollState(i);
      setInterval(function pollStatus() { state.attempts++; }, 60000);
    }
    return ${n};
  })()`;

// Starts headless Chromium and returns its debugging port, the first page
// target, and a function that stops the browser and removes its profile.
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), "leakscope-snap-"));
  const chrome = spawn("/usr/bin/chromium", [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${profile}`, "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0", "--js-flags=--max-old-space-size=8192", "about:blank",
  ], { stdio: "ignore" });
  const stop = async () => {
    if (chrome.exitCode === null && chrome.signalCode === null) {
      chrome.kill("SIGTERM");
      await new Promise((r) => chrome.once("exit", r));
    }
    // Chromium's helper processes can still write to the profile for a moment
    // after the browser exits, which makes a single rmSync fail with ENOTEMPTY.
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  try {
    const port = await waitForPort(profile, 20000);
    let target;
    for (let i = 0; i < 100 && !target; i++) {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      target = list.find((t) => t.type === "page");
      if (!target) await sleep(100);
    }
    if (!target) throw new Error("no page target");
    return { port, target, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
