// A fake backend for the Vite dev server, installed only when the page is
// opened with `?mock` in development (main.tsx drops the import from
// production builds). It serves every command of the IPC contract with
// canned, time-driven data and emits `live` events, so the views can be
// looked at and screenshotted without the Rust shell or a browser to attach
// to. URL switches:
//   attached      start attached to the demo editor (for Live screenshots)
//   replay        start with a bundle open in Replay
//   empty         discovery finds no browser (shows the hints)
//   rows=N        N timer sites in every live view (render load)
//   rate=N        live events per second (default 10, the backend's cap)
//   norepro       startRepro is missing, as in a shell that has no repro yet
//   fail=CMD      CMD rejects with a sample error

import { emit } from "@tauri-apps/api/event";
import { mockIPC } from "@tauri-apps/api/mocks";
import type {
  AlertRow,
  ChartView,
  LiveView,
  PollRow,
  ReproReport,
  RequestRow,
  SessionInfo,
  SnapshotEntry,
  TimerRow,
} from "../contract";

const ORIGIN = "http://127.0.0.1:41731";
const TARGET = { id: "E1B6C0A7D2", title: "Demo editor (leaky, video)", url: `${ORIGIN}/?variant=leaky&flow=video` };
const MB = 1024 * 1024;

interface MockState {
  attachedAt?: number;
  /** Session time when the session ended, if it did. */
  endedT?: number;
  replay: boolean;
  snapshots: SnapshotEntry[];
  markers: { t: number; label: string }[];
  pendingSnapshot?: (error: unknown) => void;
  pendingAnalysis?: (error: unknown) => void;
  reproCancel?: () => void;
}

export function installMockBackend(params: URLSearchParams): void {
  const rows = Number(params.get("rows") ?? "0");
  const rate = Math.max(1, Number(params.get("rate") ?? "10"));
  const fail = params.get("fail");
  const state: MockState = { replay: false, snapshots: [], markers: [] };
  const elapsed = () => {
    if (state.attachedAt === undefined) {
      return 0;
    }
    return state.endedT ?? (performance.now() - state.attachedAt) / 1000 + 95;
  };

  const session = (): SessionInfo => ({
    target: TARGET,
    recordingPath: "/home/dev/.local/share/leakscope/recordings/demo-editor-20261204-231502.jsonl",
    startedAtMs: Date.now() - elapsed() * 1000,
    agentInstalled: true,
    agentLate: false,
  });

  const attach = () => {
    state.attachedAt = performance.now();
    state.endedT = undefined;
    state.snapshots = [sampleSnapshot(1, 30), sampleSnapshot(2, 80)];
    void emit("session-state", { state: "attached" });
    return session();
  };

  mockIPC(
    async (command, args) => {
      const input = (args ?? {}) as Record<string, unknown>;
      if (fail === command) {
        throw { code: "connect_failed", message: `could not reach ${ORIGIN}: connection refused; start Chrome with --remote-debugging-port=9222 and try again` };
      }
      switch (command) {
        case "discover":
          return params.has("empty")
            ? {
                browsers: [],
                hints: [
                  "Quit every Chrome window (Chrome ignores the flag when it is already running).",
                  "Start Chrome from a terminal: google-chrome --remote-debugging-port=9222 --user-data-dir=$HOME/.config/chrome-debug",
                  "Open the page you want to inspect in that window, then press Refresh here.",
                ],
              }
            : {
                browsers: [
                  {
                    endpoint: "http://127.0.0.1:9222",
                    source: "port",
                    sourceDetail: "port 9222",
                    product: "Chrome/156.0.7430.2",
                    tabs: [
                      { id: "A1", title: "Video editor – project Sunset", url: "http://localhost:3000/editor/sunset" },
                      { id: "A2", title: "Editor docs", url: "http://localhost:3000/docs/polling" },
                    ],
                  },
                  {
                    endpoint: "http://127.0.0.1:41977",
                    source: "file",
                    sourceDetail: "/home/dev/.config/chromium/DevToolsActivePort",
                    product: "Chromium/156.0.7430.0",
                    tabs: [],
                    error: "the browser did not answer /json/list within 2 s; it may be busy, press Refresh to retry",
                  },
                ],
                hints: [],
              };
        case "launchChrome":
          return {
            endpoint: "http://127.0.0.1:45123",
            source: "launched",
            sourceDetail: "/tmp/leakscope-chrome-x1/DevToolsActivePort",
            product: "Chromium/156.0.7430.0",
            tabs: [{ id: "L1", title: "New Tab", url: "about:blank" }],
          };
        case "attach":
        case "openDemo":
          await delay(400);
          return attach();
        case "detach": {
          const t = elapsed();
          state.endedT = t;
          state.attachedAt = undefined;
          return { recordingPath: session().recordingPath, durationS: t, samples: Math.round(t), verdict: "leak" };
        }
        case "liveView":
          if (state.attachedAt === undefined) {
            throw { code: "no_session", message: "no tab is attached; attach to one in Connect" };
          }
          return liveView(elapsed(), rows, "attached", state);
        case "chart":
          return chart(input as { fromT?: number; toT?: number; width: number; height: number }, state.replay ? 300 : elapsed());
        case "valuesAt": {
          const t = Number(input.t);
          const view = liveView(t, 0, "attached", state);
          return {
            t,
            heapUsed: view.counters.heapUsed,
            heapLimit: view.counters.heapLimit,
            domNodes: view.counters.domNodes,
            listeners: view.counters.listeners,
            timersLive: view.counters.timersLive,
            requestsInFlight: view.counters.requestsInFlight,
            controllersLive: view.counters.controllersLive,
            polls: view.polls.map((poll) => ({ id: poll.id, state: poll.state })),
          };
        }
        case "forceGc":
        case "reloadPage":
          await delay(200);
          return null;
        case "addMarker": {
          const marker = { t: elapsed(), label: String(input.label) };
          state.markers.push(marker);
          return marker;
        }
        case "takeSnapshot":
          return takeSnapshot(state, elapsed(), input.gc !== false);
        case "cancelSnapshot":
          state.pendingSnapshot?.({ code: "cancelled", message: "the snapshot was cancelled; its partial file was removed" });
          return null;
        case "exportBundle":
          await delay(300);
          return {
            path: typeof input.path === "string" ? input.path : "/home/dev/.local/share/leakscope/exports/demo-editor-20261204-232010.zip",
            bytes: 3_481_220,
            files: 7,
          };
        case "listSnapshots":
          return state.snapshots;
        case "snapshotSummary":
          return analyse(state, () => snapshotSummary());
        case "snapshotDiff":
          return analyse(state, () => ({
            classes: [
              { name: "PollJob", countDelta: 50, sizeDelta: 4800, added: 50, removed: 0 },
              { name: "(closure)", countDelta: 150, sizeDelta: 10800, added: 162, removed: 12 },
              { name: "AbortController", countDelta: 50, sizeDelta: 1600, added: 50, removed: 0 },
              { name: "Detached HTMLDivElement", countDelta: 10, sizeDelta: 1440, added: 10, removed: 0 },
              { name: "Array", countDelta: -4, sizeDelta: -640, added: 20, removed: 24 },
            ],
          }));
        case "retainers":
          return analyse(state, () => ({ paths: [retainerPath(String(input.className ?? "PollJob")), retainerPath("(closure)")] }));
        case "cancelAnalysis":
          state.pendingAnalysis?.({ code: "cancelled", message: "the analysis was cancelled" });
          return null;
        case "pickOpenPath":
          return "/home/dev/bugs/editor-leak.zip";
        case "pickSavePath":
          return `/home/dev/Desktop/${String(input.suggested)}`;
        case "recentFiles":
          return [
            { path: "/home/dev/.local/share/leakscope/exports/demo-editor-20261204-232010.zip", kind: "bundle", bytes: 3_481_220, modifiedMs: Date.now() - 60_000, title: "Demo editor (leaky, video)" },
            { path: "/home/dev/.local/share/leakscope/recordings/editor-sunset-20261204-201133.jsonl", kind: "recording", bytes: 912_004, modifiedMs: Date.now() - 3 * 3600_000, title: "Video editor – project Sunset" },
          ];
        case "openReplay":
          state.replay = true;
          return { path: String(input.path), target: TARGET, durationS: 300, snapshots: [sampleSnapshot(1, 30), sampleSnapshot(2, 280)], endReason: "stopped by the user" };
        case "replayView":
          return liveView(Number(input.t), rows, "replay", state);
        case "closeReplay":
          state.replay = false;
          return null;
        case "startRepro":
          if (params.has("norepro")) {
            throw "command startRepro not found";
          }
          runRepro(state, input as { iterations?: number; warmup?: number });
          return null;
        case "cancelRepro":
          state.reproCancel?.();
          return null;
        default:
          throw `command ${command} not found`;
      }
    },
    { shouldMockEvents: true },
  );

  setInterval(() => {
    if (state.attachedAt !== undefined) {
      void emit("live", liveView(elapsed(), rows, "attached", state));
    }
  }, 1000 / rate);

  if (params.has("attached")) {
    attach();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sampleSnapshot(n: number, t: number): SnapshotEntry {
  return {
    id: `snap-${n}`,
    path: `/home/dev/.local/share/leakscope/snapshots/demo-editor-${n}.heapsnapshot`,
    bytes: 18 * MB + n * 2 * MB,
    t,
    takenAtMs: Date.now() - (300 - t) * 1000,
    durationMs: 1800 + n * 120,
    gc: true,
    label: `snapshot ${n}`,
  };
}

async function takeSnapshot(state: MockState, t: number, gc: boolean): Promise<SnapshotEntry> {
  let cancelled: unknown;
  state.pendingSnapshot = (error) => {
    cancelled = error;
  };
  const total = 40;
  const phases = ["gc", "capture", "write", "validate"] as const;
  for (let done = 0; done <= total; done += 2) {
    if (cancelled !== undefined) {
      state.pendingSnapshot = undefined;
      throw cancelled;
    }
    const phase = phases[Math.min(3, Math.floor((done / total) * 4))] ?? "capture";
    void emit("snapshot-progress", { done, total, bytes: done * 0.6 * MB, phase });
    await delay(150);
  }
  state.pendingSnapshot = undefined;
  const entry = { ...sampleSnapshot(state.snapshots.length + 1, t), gc };
  state.snapshots = [...state.snapshots, entry];
  return entry;
}

async function analyse<T>(state: MockState, result: () => T): Promise<T> {
  let cancelled: unknown;
  state.pendingAnalysis = (error) => {
    cancelled = error;
  };
  for (let step = 0; step <= 5; step += 1) {
    if (cancelled !== undefined) {
      state.pendingAnalysis = undefined;
      throw cancelled;
    }
    void emit("analysis-progress", { phase: step < 3 ? "parse" : "dominators", fraction: step / 5 });
    await delay(120);
  }
  state.pendingAnalysis = undefined;
  return result();
}

function snapshotSummary() {
  return {
    nodes: 412_337,
    edges: 1_802_114,
    selfSize: 21 * MB,
    nodeTypes: { object: 180_233, closure: 60_120, string: 98_442, code: 41_002, hidden: 20_540, array: 12_000 },
    classes: [
      { name: "(closure)", count: 60_120, selfSize: 4_328_640, retainedSize: 12 * MB },
      { name: "Object", count: 88_400, selfSize: 3_536_000, retainedSize: 9 * MB },
      { name: "PollJob", count: 350, selfSize: 33_600, retainedSize: 6 * MB },
      { name: "AbortController", count: 351, selfSize: 11_232, retainedSize: 140_000 },
      { name: "Promise", count: 2_210, selfSize: 70_720, retainedSize: 410_000 },
      { name: "HTMLDivElement", count: 1_420, selfSize: 204_480, retainedSize: 1_100_000 },
      { name: "Detached HTMLDivElement", count: 70, selfSize: 10_080, retainedSize: 380_000 },
    ],
    detachedNodes: 112,
    detached: [
      { name: "Detached HTMLDivElement", count: 70, selfSize: 10_080, retainedSize: 380_000 },
      { name: "Detached HTMLButtonElement", count: 28, selfSize: 4_032, retainedSize: 60_000 },
      { name: "Detached Text", count: 14, selfSize: 896, retainedSize: 896 },
    ],
  };
}

function retainerPath(name: string) {
  return [
    { nodeId: 1, name: "(GC roots)", nodeType: "synthetic", edge: "", edgeType: "element", selfSize: 0 },
    { nodeId: 41, name: "Window", nodeType: "object", edge: "2", edgeType: "element", selfSize: 120 },
    { nodeId: 5121, name: "setInterval handler", nodeType: "closure", edge: "timers", edgeType: "internal", selfSize: 32 },
    { nodeId: 9034, name: "system / Context", nodeType: "hidden", edge: "context", edgeType: "internal", selfSize: 88 },
    { nodeId: 12007, name, nodeType: "object", edge: "job", edgeType: "context", selfSize: 96 },
  ];
}

function runRepro(state: MockState, settings: { iterations?: number; warmup?: number }) {
  const iterations = settings.iterations ?? 7;
  let stopped = false;
  state.reproCancel = () => {
    stopped = true;
  };
  void (async () => {
    for (let iteration = 1; iteration <= iterations; iteration += 1) {
      for (const step of ["action", "undo", "gc + measure"]) {
        if (stopped) {
          void emit("repro-done", { error: { code: "cancelled", message: "the repro run was cancelled after iteration " + (iteration - 1) } });
          return;
        }
        void emit("repro-progress", { iteration, iterations, step, phase: step === "gc + measure" ? "measuring" : "running" });
        await delay(250);
      }
    }
    const values = (base: number, step: number) => range(iterations + 1).map((i) => base + i * step);
    const path = retainerPath("PollJob").map((step, index) => ({
      edge: index === 0 ? null : step.edge,
      edge_type: index === 0 ? null : step.edgeType,
      node_type: step.nodeType,
      name: step.name,
      node_id: step.nodeId,
    }));
    const report: ReproReport = {
      verdict: "leak",
      complete: true,
      iterations,
      requested_iterations: iterations,
      warmup: settings.warmup ?? 1,
      measures: [
        { name: "heap_used", unit: "bytes", values: values(18 * MB, 410_000), growing: true, per_iteration: 410_000, reason: "grows 400 KB per iteration in 7 of 7 steps (threshold 64.0 KB)" },
        { name: "timers", unit: "count", values: values(3, 1), growing: true, per_iteration: 1, reason: "grows 1 per iteration in 7 of 7 steps (threshold 0.5)" },
        { name: "active_polls", unit: "count", values: values(0, 1), growing: true, per_iteration: 1, reason: "grows 1 per iteration in 7 of 7 steps (threshold 0.5)" },
        { name: "dom_nodes", unit: "count", values: values(1420, 0), growing: false, per_iteration: 0, reason: "flat" },
      ],
      candidates: [
        { class: "PollJob", count: iterations, per_iteration: 1, size_delta: iterations * 96, node_id: 12007, retainer_path: path },
        { class: "AbortController", count: iterations, per_iteration: 1, size_delta: iterations * 32, retainer_line: "(GC roots) → [2] Window → .timers setInterval handler → .context AbortController @12011" },
      ],
      timer_sites: [{ site: SITES[0] ?? "", live_at_baseline: 1, live_at_end: 1 + iterations, per_iteration: 1 }],
      polls: [{ endpoint: "GET /api/video/status", poll_type: "video", count: iterations, operations: [], timer_site: SITES[0] ?? null, request_site: null }],
      snapshots: { baseline: "/home/dev/.local/share/leakscope/snapshots/repro-baseline.heapsnapshot", target: "/home/dev/.local/share/leakscope/snapshots/repro-target.heapsnapshot", final: "/home/dev/.local/share/leakscope/snapshots/repro-final.heapsnapshot" },
      recording: "/home/dev/.local/share/leakscope/recordings/repro-20261204.jsonl",
    };
    void emit("repro-done", report);
  })();
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

const SITES = [
  `${ORIGIN}/editor.js:412:17 startStatusPolling`,
  `${ORIGIN}/editor.js:388:9 pollOnce`,
  `${ORIGIN}/vendor/ui.js:1203:33 debounce`,
  "(unknown)",
];

function liveView(t: number, extraRows: number, mode: LiveView["state"], state: MockState): LiveView {
  const pollCount = Math.min(12, Math.floor(t / 12) + 1);
  const polls: PollRow[] = range(pollCount).map((i) => {
    const started = i * 12;
    const age = Math.max(0, t - started);
    const attempts = Math.floor(age / 1.0);
    const done = i % 4 === 3;
    let flags: string[] = [];
    if (!done && attempts > 30) {
      flags = ["runaway", "orphaned"];
    } else if (!done && attempts > 15) {
      flags = ["stalled"];
    }
    return {
      id: i + 1,
      type: "video",
      operation: `operations/gen-${(7301 + i * 17).toString(16)}`,
      endpoint: "GET /api/video/status",
      attempts: done ? Math.min(attempts, 9) : attempts,
      maxAttempts: 60,
      cadenceS: 1.0,
      ageS: age,
      state: done && attempts > 9 ? "complete" : "active",
      flags,
      timerSite: SITES[0],
      requestSite: `${ORIGIN}/editor.js:399:22 fetchStatus`,
    };
  });
  const active = polls.filter((poll) => poll.state === "active").length;
  const timers: TimerRow[] = [
    { site: SITES[0] ?? "", kind: "interval", live: active, created: pollCount, cleared: pollCount - active, delayMs: 1000 },
    { site: SITES[1] ?? "", kind: "timeout", live: 1, created: Math.floor(t * 3), cleared: Math.floor(t * 3) - 1, delayMs: 250 },
    { site: SITES[2] ?? "", kind: "timeout", live: 0, created: 411, cleared: 411, delayMs: 16 },
    { site: SITES[3] ?? "", kind: "timeout", live: 2, created: 12, cleared: 10 },
    ...range(extraRows).map((i) => ({
      site: `${ORIGIN}/chunk-${i}.js:${10 + i}:5 handler${i}`,
      kind: (i % 2 === 0 ? "timeout" : "interval") as TimerRow["kind"],
      live: (i * 7 + Math.floor(t)) % 5,
      created: 10 + i,
      cleared: 5 + i,
      delayMs: 100 * (i % 10),
    })),
  ];
  const requests: RequestRow[] = [
    { endpoint: "GET /api/video/status", inFlight: Math.min(active, 3), oldestAgeS: active > 0 ? 0.4 + (t % 1) : undefined, completed: Math.floor(t * active * 0.9), aborted: 0, failed: 2 },
    { endpoint: "POST /api/video/generate", inFlight: 0, completed: pollCount, aborted: 0, failed: 0 },
    { endpoint: "GET /api/project/sunset", inFlight: 0, completed: 3, aborted: 1, failed: 0 },
  ];
  const alerts: AlertRow[] =
    t > 20
      ? [
          { level: "critical", rule: "runaway-poll", subject: "GET /api/video/status", message: "poll 1 has made 31 attempts, more than its maximum of 30; it is never stopped", firstT: 42, lastT: t, count: Math.floor(t - 42) },
          { level: "warning", rule: "timer-growth", subject: SITES[0] ?? "", message: "live intervals from this site grew from 1 to 8 in 90 s without being cleared", firstT: 60, lastT: t, count: 4 },
        ]
      : [];
  const heapUsed = 14 * MB + t * 62_000 + Math.sin(t / 3) * 300_000;
  return {
    state: mode,
    t,
    target: TARGET,
    losses: { undecoded: 0, dropped: t > 100 ? 3 : 0 },
    agent: { installed: true, late: false },
    counters: {
      heapUsed: Math.round(heapUsed),
      heapLimit: 4096 * MB,
      domNodes: 1420 + Math.floor(t / 10),
      listeners: 310 + active * 2,
      timersLive: active + 3,
      timeoutsLive: 3,
      intervalsLive: active,
      requestsInFlight: Math.min(active, 3),
      controllersLive: active,
    },
    polls,
    timers,
    requests,
    alerts,
    markers: state.markers,
    snapshots: state.snapshots,
    verdict: t > 60 ? { verdict: "leak", reason: "heap after GC grows 61 KB/s over 5 windows" } : { verdict: "inconclusive", reason: "needs 60 s of samples" },
  };
}

/** Draws a chart in the rough shape of the backend's: heap line on top, poll lanes below. */
function chart(args: { fromT?: number; toT?: number; width: number; height: number }, now: number): ChartView {
  const width = args.width;
  const height = args.height;
  const fromT = args.fromT ?? 0;
  const toT = Math.max(fromT + 1, args.toT ?? now);
  const plot = { left: 64, top: 12, width: width - 120, height: height - 40 };
  const heapHeight = plot.height * 0.62;
  const x = (t: number) => plot.left + ((t - fromT) / (toT - fromT)) * plot.width;
  const points: string[] = [];
  const steps = Math.min(400, plot.width);
  for (let i = 0; i <= steps; i += 1) {
    const t = fromT + ((toT - fromT) * i) / steps;
    const heap = 14 + t * 0.059 + Math.sin(t / 3) * 0.28;
    const y = plot.top + heapHeight - (heap / 40) * heapHeight;
    points.push(`${x(t).toFixed(1)},${y.toFixed(1)}`);
  }
  const lanesTop = plot.top + heapHeight + 12;
  const pollCount = Math.min(12, Math.floor(now / 12) + 1);
  const laneHeight = Math.max(3, Math.min(12, (plot.top + plot.height - lanesTop) / pollCount - 2));
  const lanes = range(pollCount).map((i) => ({ pollId: i + 1, top: lanesTop + i * (laneHeight + 2), height: laneHeight }));
  const laneRects = lanes
    .map((lane, i) => {
      const start = Math.max(fromT, i * 12);
      const end = i % 4 === 3 ? Math.min(toT, start + 9) : toT;
      if (end <= start) {
        return "";
      }
      const fill = i % 4 === 3 ? "#81c995" : i * 12 + 30 < now ? "#f28b82" : "#8ab4f8";
      return `<rect x="${x(start)}" y="${lane.top}" width="${x(end) - x(start)}" height="${lane.height}" fill="${fill}"/><text x="${plot.left - 6}" y="${lane.top + laneHeight - 1}" font-size="${Math.min(10, laneHeight + 1)}" text-anchor="end" fill="#5f6368">#${lane.pollId}</text>`;
    })
    .join("");
  const ticks = range(6)
    .map((i) => {
      const t = fromT + ((toT - fromT) * i) / 5;
      return `<line x1="${x(t)}" x2="${x(t)}" y1="${plot.top}" y2="${plot.top + plot.height}" stroke="#eceff1"/><text x="${x(t)}" y="${height - 8}" font-size="10" text-anchor="middle" fill="#5f6368">${t.toFixed(0)} s</text>`;
    })
    .join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#fff"/>${ticks}<text x="${plot.left - 6}" y="${plot.top + 10}" font-size="10" text-anchor="end" fill="#5f6368">40 MB</text><text x="${plot.left - 6}" y="${plot.top + heapHeight}" font-size="10" text-anchor="end" fill="#5f6368">0</text><line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${plot.top + heapHeight}" y2="${plot.top + heapHeight}" stroke="#9aa0a6"/><polyline fill="none" stroke="#1a73e8" stroke-width="1.5" points="${points.join(" ")}"/>${laneRects}</svg>`;
  return { svg, fromT, toT, plot, lanes };
}
