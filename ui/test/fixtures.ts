// Small LiveView builders for the reducer and store tests.

import type { LiveView, PollRow, TimerRow } from "../src/contract";

export function poll(id: number, attempts: number, flags: string[] = []): PollRow {
  return {
    id,
    type: "video",
    operation: `operations/op-${id}`,
    endpoint: "GET /api/video/status",
    attempts,
    maxAttempts: 60,
    cadenceS: 1,
    ageS: attempts,
    state: "active",
    flags,
    timerSite: "http://127.0.0.1:9000/editor.js:10:5 startPolling",
  };
}

export function timer(site: string, live: number): TimerRow {
  return { site, kind: "interval", live, created: live, cleared: 0, delayMs: 1000 };
}

export function liveView(t: number, overrides: Partial<LiveView> = {}): LiveView {
  return {
    state: "attached",
    t,
    target: { id: "T1", title: "Demo editor", url: "http://127.0.0.1:9000/" },
    losses: { undecoded: 0, dropped: 0 },
    agent: { installed: true, late: false },
    counters: {
      heapUsed: 10_000_000,
      heapLimit: 4_000_000_000,
      domNodes: 1000,
      listeners: 50,
      timersLive: 2,
      timeoutsLive: 1,
      intervalsLive: 1,
      requestsInFlight: 1,
      controllersLive: 1,
    },
    polls: [poll(1, 5), poll(2, 3)],
    timers: [timer("a.js:1:1 f", 1), timer("b.js:2:2 g", 1)],
    requests: [{ endpoint: "GET /api/video/status", inFlight: 1, completed: 4, aborted: 0, failed: 0 }],
    alerts: [],
    markers: [],
    snapshots: [],
    verdict: { verdict: "unknown", reason: "needs 60 s of samples" },
    ...overrides,
  };
}
