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

import { createWriteStream } from "node:fs";
import { Cdp, allocate, launchChromium, leak, timers } from "./chromium.mjs";

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
  const { target, stop } = await launchChromium();
  try {
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
    await stop();
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
