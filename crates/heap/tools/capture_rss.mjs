// Measures the memory of `leakscope snapshot` while it captures a large heap
// snapshot: the capture must stream chunks to disk, so its resident set size
// (VmRSS) should stay flat however big the snapshot is.
//
// Launches headless Chromium (127.0.0.1 only), allocates the benchmark heap
// of make_snapshot.mjs on its blank page, runs `leakscope snapshot` on that
// tab, and reads VmRSS from /proc/<pid>/status every 100 ms. The file on
// disk gives each sample its phase. In "walk" V8 walks the heap and nothing
// is written yet, in "stream" chunks arrive, in "validate" the `.partial`
// file has its final size and is checked, and "finish" follows the rename.
//
// Usage:
//   node --experimental-websocket capture_rss.mjs --leakscope BIN \
//        [--objects 390000] [--out DIR] [--trace FILE.csv]

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cdp, allocate, launchChromium } from "./chromium.mjs";

const SAMPLE_MS = 100;

function parseArgs(argv) {
  const out = { objects: 390000, leakscope: null, out: null, trace: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--objects") out.objects = Number(argv[++i]);
    else if (argv[i] === "--leakscope") out.leakscope = argv[++i];
    else if (argv[i] === "--out") out.out = argv[++i];
    else if (argv[i] === "--trace") out.trace = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!out.leakscope) {
    throw new Error("usage: capture_rss.mjs --leakscope BIN [--objects N] [--out DIR] [--trace FILE]");
  }
  return out;
}

// VmRSS of a process in KB, or null once it has exited.
function rssKb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const line = status.split("\n").find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

function sizeOf(path) {
  return existsSync(path) ? statSync(path).size : 0;
}

const mb = (kb) => (kb / 1024).toFixed(1);

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = args.out ?? mkdtempSync(join(tmpdir(), "leakscope-rss-"));
  const file = join(dir, "capture.heapsnapshot");
  const partial = `${file}.partial`;
  const { port, target, stop } = await launchChromium();
  try {
    const cdp = new Cdp(target.webSocketDebuggerUrl);
    await cdp.open();
    const made = await cdp.send("Runtime.evaluate", { expression: allocate(args.objects), returnByValue: true });
    console.error(`allocated ${made.result.value} sessions`);
    cdp.ws.close();

    const started = Date.now();
    const child = spawn(args.leakscope, [
      "snapshot", "--port", String(port), "--tab", target.id, "--out", file,
    ], { stdio: ["ignore", "inherit", "ignore"] });
    const samples = [];
    let code = null;
    child.once("exit", (c) => { code = c ?? -1; });
    child.once("error", (e) => { console.error(`error: ${e.message}`); code = -1; });
    while (code === null) {
      const rss = rssKb(child.pid);
      if (rss !== null) {
        const written = sizeOf(partial);
        let phase = "walk";
        if (existsSync(file)) phase = "finish";
        else if (written > 0) phase = "stream";
        samples.push({ ms: Date.now() - started, rss, written, phase });
      }
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    if (code !== 0) throw new Error(`leakscope snapshot exited with ${code}`);

    const total = sizeOf(file);
    for (const s of samples) {
      if (s.phase === "stream" && s.written === total) s.phase = "validate";
    }
    const phase = (name) => samples.filter((s) => s.phase === name).map((s) => s.rss);
    const walk = phase("walk");
    const busy = [...phase("stream"), ...phase("validate"), ...phase("finish")];
    if (walk.length === 0 || busy.length === 0) throw new Error("too few samples to compare");
    // Before: the last sample before the first chunk, when the process is
    // connected and waiting.
    const before = walk[walk.length - 1];
    const peak = Math.max(...busy);
    console.log(`snapshot: ${(total / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s, ${samples.length} samples every ${SAMPLE_MS} ms`);
    console.log(`VmRSS before the first chunk: ${mb(before)} MB`);
    for (const name of ["stream", "validate", "finish"]) {
      const rss = phase(name);
      if (rss.length > 0) {
        console.log(`VmRSS ${name}: ${rss.length} samples, min ${mb(Math.min(...rss))} MB, max ${mb(Math.max(...rss))} MB`);
      }
    }
    console.log(`growth over before: ${mb(peak - before)} MB`);
    if (args.trace) {
      const rows = samples.map((s) => `${s.ms},${s.phase},${s.rss},${s.written}`);
      writeFileSync(args.trace, ["ms,phase,vmrss_kb,bytes_written", ...rows].join("\n") + "\n");
    }
  } finally {
    await stop();
    rmSync(file, { force: true });
    rmSync(partial, { force: true });
    if (!args.out) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
