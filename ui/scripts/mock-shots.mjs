// Drives the UI in headless Chromium over the DevTools protocol, against the
// Vite dev server with the mock backend, and saves a screenshot of each view
// and state. It also measures input delay while live events stream in.
//
//   npm run dev                                      # in another terminal
//   node --experimental-websocket scripts/mock-shots.mjs [connect|live|snapshots|replay|repro|stress]...
//
// With no scenario it runs all but `stress`. Screenshots go to $SHOTS_DIR
// (default /tmp/leakscope-ui-shots). `stress` reads ROWS (extra timer rows,
// default 400) and RATE (live events per second, default 10). Node 22 has
// WebSocket built in; Node 20 needs the flag above. Only loopback is used.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, existsSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BASE = process.env.UI_URL ?? "http://127.0.0.1:5173/";
if (new URL(BASE).hostname !== "127.0.0.1") {
  console.error(`UI_URL ${BASE} is not on 127.0.0.1; this script drives a local dev server only`);
  process.exit(2);
}
const OUT = process.env.SHOTS_DIR ?? "/tmp/leakscope-ui-shots";
mkdirSync(OUT, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "ui-cdp-"));
const chrome = spawn("/usr/bin/chromium", [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
  `--user-data-dir=${profile}`, "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
  "--window-size=1280,800", "about:blank",
], { stdio: "ignore" });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let port;
for (let i = 0; i < 100 && port === undefined; i++) {
  const file = join(profile, "DevToolsActivePort");
  if (existsSync(file)) port = readFileSync(file, "utf8").split("\n")[0];
  else await sleep(100);
}
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
const page = targets.find((t) => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r, { once: true }));
let nextId = 1;
const pending = new Map();
ws.addEventListener("message", (event) => {
  const msg = JSON.parse(event.data);
  if (msg.id && pending.has(msg.id)) {
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    msg.error ? reject(new Error(JSON.stringify(msg.error))) : resolve(msg.result);
  }
  if (msg.method === "Runtime.exceptionThrown") console.log("page exception:", JSON.stringify(msg.params.exceptionDetails).slice(0, 400));
  if (msg.method === "Runtime.consoleAPICalled" && msg.params.type === "error") console.log("console error:", JSON.stringify(msg.params.args).slice(0, 300));
});
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});
await send("Runtime.enable");
await send("Page.enable");
await send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false });

const evaluate = async (expression) => {
  const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails) throw new Error(`eval failed: ${expression}: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
  return r.result.value;
};
const waitFor = async (selector, ms = 8000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await evaluate(`!!document.querySelector(${JSON.stringify(selector)})`)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${selector}`);
};
const click = async (selector) => {
  await waitFor(selector);
  await evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
};
const type = async (selector, text) => {
  await waitFor(selector);
  await evaluate(`(() => { const el = document.querySelector(${JSON.stringify(selector)}); el.focus(); el.value = ${JSON.stringify(text)}; el.dispatchEvent(new Event('input', { bubbles: true })); })()`);
};
const box = async (selector) => evaluate(`(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height }; })()`);
const mouse = (type, x, y, buttons = 0) => send("Input.dispatchMouseEvent", { type, x, y, button: type === "mouseMoved" && buttons === 0 ? "none" : "left", buttons, clickCount: 1 });
const shot = async (name, full = false) => {
  const r = await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: full });
  writeFileSync(`${OUT}/${name}.png`, Buffer.from(r.data, "base64"));
  console.log("shot", name);
};
const go = async (query, hash) => {
  await send("Page.navigate", { url: `${BASE}?${query}#${hash}` });
  await sleep(300);
  await waitFor(`[data-testid="view-${hash}"]`);
};

const scenarios = process.argv.slice(2);
const all = scenarios.length === 0;
try {
  if (all || scenarios.includes("connect")) {
    await go("mock", "connect");
    await waitFor('[data-testid="tab-entry"]');
    await shot("connect");
    await go("mock&empty", "connect");
    await waitFor('[data-testid="hints"]');
    await shot("connect-hints");
    await go("mock&fail=attach", "connect");
    await click('[data-testid="btn-attach"]');
    await waitFor('[data-testid="notice-error"]');
    await shot("connect-error");
  }
  if (all || scenarios.includes("live")) {
    await go("mock", "connect");
    await click('[data-testid="btn-open-demo"]');
    await waitFor('[data-testid="view-live"] [data-testid="chart-svg"]');
    await sleep(1200);
    await shot("live");
    // poll row click -> lane highlight
    await click('[data-testid="polls-table-row"][data-key="3"]');
    await waitFor('[data-testid="chart-lane-highlight"]');
    // hover readout
    const overlay = await box('[data-testid="chart-overlay"]');
    await mouse("mouseMoved", overlay.x + overlay.w * 0.6, overlay.y + 100);
    await waitFor('[data-testid="readout-heap"]');
    await sleep(300);
    await shot("live-hover-lane");
    // drag to zoom
    await mouse("mousePressed", overlay.x + overlay.w * 0.3, overlay.y + 80, 1);
    await mouse("mouseMoved", overlay.x + overlay.w * 0.45, overlay.y + 80, 1);
    await mouse("mouseMoved", overlay.x + overlay.w * 0.55, overlay.y + 80, 1);
    await shot("live-dragging");
    await mouse("mouseReleased", overlay.x + overlay.w * 0.55, overlay.y + 80, 0);
    await sleep(800);
    console.log("range after zoom:", await evaluate(`document.querySelector('[data-testid="chart-range"]').textContent`));
    console.log("reset enabled:", await evaluate(`!document.querySelector('[data-testid="chart-reset-zoom"]').disabled`));
    await shot("live-zoomed");
    // snapshot with progress
    await click('[data-testid="btn-snapshot"]');
    await waitFor('[data-testid="snapshot-progress"]');
    await sleep(700);
    await shot("live-snapshot-progress");
    await click('[data-testid="snapshot-progress-cancel"]');
    await waitFor('[data-testid="notice-info"]');
    console.log("after cancel:", await evaluate(`document.querySelector('[data-testid="notice-info"]').textContent`));
    await click('[data-testid="tab-alerts"]');
    await waitFor('[data-testid="alerts-table-row"]');
    await mouse("mouseMoved", 5, 5);
    await shot("live-alerts");
    await click('[data-testid="tab-timers"]');
    await click('[data-testid="timers-table-sort-created"]');
    await shot("live-timers");
    console.log("stats:", JSON.stringify(await evaluate("window.__leakscopeStats")));
    await type('[data-testid="marker-label"]', "opened panel");
    await click('[data-testid="btn-add-marker"]');
    await sleep(300);
    await click('[data-testid="btn-export"]');
    await sleep(600);
    await shot("live-notices");
    await click('[data-testid="btn-stop"]');
    await waitFor('[data-testid="stop-summary"]');
    await shot("connect-after-stop");
  }
  if (all || scenarios.includes("snapshots")) {
    await go("mock&attached", "snapshots");
    await waitFor('[data-testid="snapshot-item"]');
    await click('[data-testid="snapshot-open"]');
    await waitFor('[data-testid="analysis-progress"]');
    await shot("snapshots-analysing");
    await waitFor('[data-testid="classes-table"]');
    await shot("snapshots-summary");
    await click('[data-testid="snapshot-tab-detached"]');
    await waitFor('[data-testid="detached-table"]');
    await shot("snapshots-detached");
    await evaluate(`document.querySelectorAll('[data-testid="snapshot-compare"]').forEach((el) => el.click())`);
    await click('[data-testid="btn-diff"]');
    await waitFor('[data-testid="diff-table"]');
    await shot("snapshots-diff");
    await click('[data-testid="diff-table-row"][data-key="PollJob"]');
    await waitFor('[data-testid="retainer-path"]');
    await shot("snapshots-retainers");
  }
  if (all || scenarios.includes("replay")) {
    await go("mock", "connect");
    await click('[data-testid="recent-file"]');
    await waitFor('[data-testid="replay-scrubber"]');
    await waitFor('[data-testid="view-replay"] [data-testid="chart-svg"]');
    await sleep(500);
    await evaluate(`(() => { const el = document.querySelector('[data-testid="replay-scrubber"]'); el.value = '120'; el.dispatchEvent(new Event('input', { bubbles: true })); })()`);
    await sleep(800);
    console.log("replay time:", await evaluate(`document.querySelector('[data-testid="replay-time"]').textContent`));
    await shot("replay");
  }
  if (all || scenarios.includes("repro")) {
    await go("mock&attached", "repro");
    await type('[data-testid="repro-action"]', '[{"click": "#open-panel"}, {"click": "#generate"}]');
    await type('[data-testid="repro-undo"]', '[{"click": "#close-panel"}]');
    await click('[data-testid="btn-repro-start"]');
    await waitFor('[data-testid="repro-progress-bar"]');
    await sleep(1500);
    await shot("repro-running");
    await waitFor('[data-testid="repro-results"]', 15000);
    await shot("repro-results", true);
    await go("mock&attached&norepro", "repro");
    await type('[data-testid="repro-action"]', "open()");
    await type('[data-testid="repro-undo"]', "close()");
    await click('[data-testid="btn-repro-start"]');
    await waitFor('[data-testid="repro-error"]');
    await shot("repro-missing");
  }
  if (scenarios.includes("stress")) {
    const rows = process.env.ROWS ?? "400";
    const rate = process.env.RATE ?? "10";
    await go(`mock&attached&rows=${rows}&rate=${rate}`, "live");
    await click('[data-testid="tab-timers"]');
    await waitFor('[data-testid="timers-table-row"]');
    await sleep(1500);
    // Input delay: from the browser's timestamp of the mouse event to the
    // moment its click handler runs; live renders in between delay it.
    await evaluate(`window.__lat = []; document.addEventListener('click', (e) => window.__lat.push(performance.now() - e.timeStamp), true); 0`);
    const before = await evaluate("JSON.stringify(window.__leakscopeStats)");
    const b = await box('[data-testid="timers-table-sort-live"]');
    for (let i = 0; i < 40; i++) {
      await mouse("mousePressed", b.x + 5, b.y + 5, 1);
      await mouse("mouseReleased", b.x + 5, b.y + 5, 0);
      await sleep(137);
    }
    await sleep(300);
    const lat = await evaluate("window.__lat");
    const stats = await evaluate("window.__leakscopeStats");
    lat.sort((a, b) => a - b);
    console.log(`stress rows=${rows} rate=${rate}: before ${before}; after ${JSON.stringify(stats)}; clicks ${lat.length}, input delay ms median ${lat[Math.floor(lat.length / 2)].toFixed(1)} p95 ${lat[Math.floor(lat.length * 0.95)].toFixed(1)} max ${lat[lat.length - 1].toFixed(1)}`);
    await shot("live-stress");
  }
} catch (error) {
  console.log("failed:", error.message);
  await shot("failure").catch(() => {});
  process.exitCode = 1;
} finally {
  ws.close();
  chrome.kill();
  await sleep(300);
  rmSync(profile, { recursive: true, force: true });
}
