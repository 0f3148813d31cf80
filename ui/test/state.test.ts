import { describe, expect, it } from "vitest";
import type { SessionInfo } from "../src/contract";
import {
  type AppState,
  initialState,
  MAX_NOTICES,
  mergeLiveView,
  mergeRows,
  reduce,
  sameShallow,
  upsertProgress,
} from "../src/state";
import { liveView, poll } from "./fixtures";

const session: SessionInfo = {
  target: { id: "T1", title: "Demo editor", url: "http://127.0.0.1:9000/" },
  recordingPath: "/tmp/rec.jsonl",
  startedAtMs: 0,
  agentInstalled: true,
  agentLate: false,
};

function attached(): AppState {
  return reduce(initialState, { type: "attached", session });
}

describe("mergeLiveView", () => {
  it("returns the new view when there is no previous one", () => {
    const next = liveView(1);
    expect(mergeLiveView(undefined, next)).toBe(next);
  });

  it("reuses unchanged lists and objects", () => {
    const prev = liveView(1);
    const merged = mergeLiveView(prev, liveView(1.1));
    expect(merged.polls).toBe(prev.polls);
    expect(merged.timers).toBe(prev.timers);
    expect(merged.requests).toBe(prev.requests);
    expect(merged.counters).toBe(prev.counters);
    expect(merged.target).toBe(prev.target);
    expect(merged.t).toBe(1.1);
  });

  it("replaces only the rows that changed", () => {
    const prev = liveView(1);
    const next = liveView(2, { polls: [poll(1, 6), poll(2, 3)] });
    const merged = mergeLiveView(prev, next);
    expect(merged.polls).not.toBe(prev.polls);
    expect(merged.polls[0]).toBe(next.polls[0]);
    expect(merged.polls[1]).toBe(prev.polls[1]);
    expect(merged.polls[0]?.attempts).toBe(6);
  });

  it("notices a change inside a flags list", () => {
    const prev = liveView(1);
    const merged = mergeLiveView(prev, liveView(2, { polls: [poll(1, 5, ["runaway"]), poll(2, 3)] }));
    expect(merged.polls[0]?.flags).toEqual(["runaway"]);
    expect(merged.polls).not.toBe(prev.polls);
  });

  it("follows the new order and length of the rows", () => {
    const prev = liveView(1);
    const merged = mergeLiveView(prev, liveView(2, { polls: [poll(3, 1), poll(2, 3), poll(1, 5)] }));
    expect(merged.polls.map((row) => row.id)).toEqual([3, 2, 1]);
    expect(merged.polls[1]).toBe(prev.polls[1]);
    expect(merged.polls[2]).toBe(prev.polls[0]);
  });

  it("replaces counters when one value changed", () => {
    const prev = liveView(1);
    const next = liveView(2, { counters: { ...prev.counters, heapUsed: 11_000_000 } });
    expect(mergeLiveView(prev, next).counters.heapUsed).toBe(11_000_000);
  });
});

describe("mergeRows and sameShallow", () => {
  it("returns the previous list when nothing changed", () => {
    const prev = [{ k: "a", v: 1 }];
    expect(mergeRows(prev, [{ k: "a", v: 1 }], (row) => row.k)).toBe(prev);
  });

  it("detects a removed row", () => {
    const prev = [{ k: "a", v: 1 }, { k: "b", v: 2 }];
    const merged = mergeRows(prev, [{ k: "a", v: 1 }], (row) => row.k);
    expect(merged).toHaveLength(1);
    expect(merged[0]).toBe(prev[0]);
  });

  it("treats a field that appears as a change", () => {
    expect(sameShallow({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameShallow({ a: [1, 2] }, { a: [1, 2] })).toBe(true);
    expect(sameShallow({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe("reduce", () => {
  it("shows Live on attach and clears a previous stop", () => {
    const state = attached();
    expect(state.view).toBe("live");
    expect(state.session).toBe(session);
    expect(state.connection?.state).toBe("attached");
  });

  it("ignores live events without a session", () => {
    expect(reduce(initialState, { type: "live", view: liveView(1) })).toBe(initialState);
  });

  it("merges live events and counts them", () => {
    let state = attached();
    state = reduce(state, { type: "live", view: liveView(1) });
    const polls = state.live?.polls;
    state = reduce(state, { type: "live", view: liveView(2) });
    expect(state.liveEvents).toBe(2);
    expect(state.live?.t).toBe(2);
    expect(state.live?.polls).toBe(polls);
  });

  it("applies a first-paint view only before live events", () => {
    const painted = reduce(attached(), { type: "live-initial", view: liveView(1) });
    expect(painted.live?.t).toBe(1);
    const newer = reduce(attached(), { type: "live", view: liveView(5) });
    expect(reduce(newer, { type: "live-initial", view: liveView(1) }).live?.t).toBe(5);
    expect(reduce(initialState, { type: "live-initial", view: liveView(1) }).live).toBeUndefined();
  });

  it("drops the session on stop and keeps the summary", () => {
    let state = reduce(attached(), { type: "live", view: liveView(1) });
    state = reduce(state, { type: "stopped", summary: { recordingPath: "/tmp/rec.jsonl", durationS: 9, samples: 9, verdict: "leak" } });
    expect(state.session).toBeUndefined();
    expect(state.live).toBeUndefined();
    expect(state.view).toBe("connect");
    expect(state.lastStop?.verdict).toBe("leak");
    expect(reduce(state, { type: "live", view: liveView(3) }).live).toBeUndefined();
  });

  it("returns the same state for a navigation to the current view", () => {
    const state = attached();
    expect(reduce(state, { type: "navigate", view: "live" })).toBe(state);
    expect(reduce(state, { type: "navigate", view: "live", tab: "alerts" }).liveTab).toBe("alerts");
  });

  it("records snapshot progress only while a snapshot runs", () => {
    const progress = { done: 1, total: 4, bytes: 10, phase: "capture" as const };
    expect(reduce(attached(), { type: "snapshot-progress", progress }).snapshotProgress).toBeUndefined();
    let state = reduce(attached(), { type: "snapshot-started" });
    state = reduce(state, { type: "snapshot-progress", progress });
    expect(state.snapshotProgress).toEqual(progress);
    state = reduce(state, { type: "snapshot-finished" });
    expect(state.snapshotRunning).toBe(false);
    expect(state.snapshotProgress).toBeUndefined();
  });

  it("opens and closes a replay", () => {
    const info = { path: "/tmp/b.zip", target: session.target, durationS: 30, snapshots: [] };
    let state = reduce(initialState, { type: "replay-opened", info });
    expect(state.view).toBe("replay");
    state = reduce(state, { type: "replay-view", view: liveView(10, { state: "replay" }) });
    expect(state.replayView?.t).toBe(10);
    state = reduce(state, { type: "replay-closed" });
    expect(state.replay).toBeUndefined();
    expect(state.replayView).toBeUndefined();
    expect(state.view).toBe("connect");
  });

  it("keeps the newest notices and gives each an id", () => {
    let state = initialState;
    for (let i = 0; i < MAX_NOTICES + 2; i += 1) {
      state = reduce(state, { type: "error", action: "attach", error: { code: "attach_failed", message: `m${i}` } });
    }
    expect(state.notices).toHaveLength(MAX_NOTICES);
    expect(state.notices[0]?.text).toBe("m2");
    expect(state.notices.at(-1)?.code).toBe("attach_failed");
    const id = state.notices[0]?.id ?? -1;
    expect(reduce(state, { type: "dismiss", id }).notices.some((notice) => notice.id === id)).toBe(false);
  });

  it("tracks a repro run from start to result", () => {
    let state = reduce(attached(), { type: "repro-started" });
    state = reduce(state, { type: "repro-progress", progress: { iteration: 2, iterations: 3, step: "undo", phase: "running" } });
    state = reduce(state, { type: "repro-progress", progress: { iteration: 1, iterations: 3, step: "action", phase: "running" } });
    state = reduce(state, { type: "repro-progress", progress: { iteration: 2, iterations: 3, step: "measure", phase: "done" } });
    expect(state.repro.progress.map((entry) => `${entry.iteration}:${entry.step}`)).toEqual(["1:action", "2:measure"]);
    state = reduce(state, { type: "repro-done", report: { verdict: "leak", iterations: 3, measures: [], candidates: [] } });
    expect(state.repro.running).toBe(false);
    expect(state.repro.report?.verdict).toBe("leak");
  });

  it("ends a repro run on failure with its error", () => {
    let state = reduce(attached(), { type: "repro-started" });
    state = reduce(state, { type: "repro-failed", error: { code: "internal", message: "no repro" } });
    expect(state.repro.running).toBe(false);
    expect(state.repro.error?.message).toBe("no repro");
  });
});

describe("upsertProgress", () => {
  it("keeps one entry per iteration in order", () => {
    const a = { iteration: 3, iterations: 3, step: "a", phase: "p" };
    const b = { iteration: 1, iterations: 3, step: "b", phase: "p" };
    expect(upsertProgress([a], b).map((entry) => entry.iteration)).toEqual([1, 3]);
  });
});
