// Writes real Chromium heap snapshots for the parser benchmarks.
//
// Launches headless Chromium on a fresh profile, allocates about the asked
// number of small objects in a few classes through `Runtime.evaluate`, and
// streams `HeapProfiler.addHeapSnapshotChunk` chunks straight to disk.
// With `--leak N OUT2` it then allocates N more `LeakedItem` objects on the
// same page and writes a second snapshot, so node ids match across the pair
// (that is what the diff benchmark needs).
//
// Usage (Node 20 needs the flag for its WebSocket client):
//   node --experimental-websocket make_snapshot.mjs --objects 1000000 OUT \
//        [--timers N] [--leak 10000 OUT2]
// Talks only to 127.0.0.1.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, createWriteStream, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function parseArgs(argv) {
  const out = { objects: 100000, leak: 0, timers: 0, files: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--objects") out.objects = Number(argv[++i]);
    else if (argv[i] === "--leak") out.leak = Number(argv[++i]);
    else if (argv[i] === "--timers") out.timers = Number(argv[++i]);
    else out.files.push(argv[i]);
  }
  if (out.files.length < 1 || (out.leak > 0 && out.files.length < 2)) {
    console.error("usage: make_snapshot.mjs --objects N OUT [--leak N OUT2]");
    process.exit(2);
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

class Cdp {
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
const allocate = (n) => `
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

const leak = (n) => `
  (() => {
    class LeakedItem { constructor(i) { this.index = i; this.payload = [i, i + 1]; } }
    const sink = (globalThis.__leak = []);
    for (let i = 0; i < ${n}; i++) sink.push(new LeakedItem(i));
    return sink.length;
  })()`;

// Intervals whose callbacks close over a payload, as a leaking poll does.
const timers = (n) => `
  (() => {
    class PollState { constructor(i) { this.operation = 'op-' + i; this.attempts = 0; } }
    for (let i = 0; i < ${n}; i++) {
      const state = new PollState(i);
      setInterval(function pollStatus() { state.attempts++; }, 60000);
    }
    return ${n};
  })()`;

async function snapshot(cdp, path) {
  const out = createWriteStream(path);
  let bytes = 0;
  cdp.on("HeapProfiler.addHeapSnapshotChunk", ({ chunk }) => {
    bytes += Buffer.byteLength(chunk);
    out.write(chunk);
  });
  const started = Date.now();
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  await new Promise((r) => out.end(r));
  console.error(`${path}: ${(bytes / 1e6).toFixed(1)} MB in ${Date.now() - started} ms`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const profile = mkdtempSync(join(tmpdir(), "leakscope-snap-"));
  const chrome = spawn("/usr/bin/chromium", [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${profile}`, "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0", "--js-flags=--max-old-space-size=8192", "about:blank",
  ], { stdio: "ignore" });
  try {
    const port = await waitForPort(profile, 20000);
    let target;
    for (let i = 0; i < 100 && !target; i++) {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      target = list.find((t) => t.type === "page");
      if (!target) await sleep(100);
    }
    if (!target) throw new Error("no page target");
    const cdp = new Cdp(target.webSocketDebuggerUrl);
    await cdp.open();
    const made = await cdp.send("Runtime.evaluate", { expression: allocate(args.objects), returnByValue: true });
    console.error(`allocated ${made.result.value} sessions`);
    if (args.timers > 0) {
      await cdp.send("Runtime.evaluate", { expression: timers(args.timers), returnByValue: true });
    }
    await snapshot(cdp, args.files[0]);
    if (args.leak > 0) {
      const leaked = await cdp.send("Runtime.evaluate", { expression: leak(args.leak), returnByValue: true });
      console.error(`leaked ${leaked.result.value} LeakedItem objects`);
      await snapshot(cdp, args.files[1]);
    }
    cdp.ws.close();
  } finally {
    chrome.kill("SIGTERM");
    await new Promise((r) => chrome.once("exit", r));
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
