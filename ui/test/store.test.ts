import { describe, expect, it } from "vitest";
import type { SessionInfo } from "../src/contract";
import { initialState } from "../src/state";
import { createStore } from "../src/store";
import { liveView } from "./fixtures";

const session: SessionInfo = {
  target: { id: "T1", title: "Demo", url: "http://127.0.0.1:9000/" },
  recordingPath: "/tmp/r.jsonl",
  startedAtMs: 0,
  agentInstalled: true,
  agentLate: false,
};

/** Creates a scheduler the test runs by hand, in place of requestAnimationFrame. */
function manualFrames() {
  const queue: (() => void)[] = [];
  return {
    schedule: (callback: () => void) => queue.push(callback),
    runFrame: () => queue.splice(0).forEach((callback) => callback()),
    pending: () => queue.length,
  };
}

describe("createStore", () => {
  it("renders once at subscribe", () => {
    const frames = manualFrames();
    const store = createStore(initialState, frames.schedule);
    const seen: number[] = [];
    store.subscribe((state) => seen.push(state.liveEvents));
    expect(seen).toEqual([0]);
  });

  it("renders a burst of live events once per frame, with the latest state", () => {
    const frames = manualFrames();
    const store = createStore(initialState, frames.schedule);
    const seen: number[] = [];
    store.subscribe((state) => seen.push(state.live?.t ?? -1));
    store.dispatch({ type: "attached", session });
    for (let i = 1; i <= 50; i += 1) {
      store.dispatch({ type: "live", view: liveView(i / 10) });
    }
    expect(frames.pending()).toBe(1);
    frames.runFrame();
    expect(seen).toEqual([-1, 5]);
    expect(store.stats.renders).toBe(1);
    expect(store.stats.liveEvents).toBe(50);
    expect(store.stats.actions).toBe(51);
  });

  it("schedules nothing for an action that changes nothing", () => {
    const frames = manualFrames();
    const store = createStore(initialState, frames.schedule);
    store.dispatch({ type: "navigate", view: "connect" });
    expect(frames.pending()).toBe(0);
  });

  it("records render durations", () => {
    const frames = manualFrames();
    const store = createStore(initialState, frames.schedule);
    store.subscribe(() => {
      const end = performance.now() + 3;
      while (performance.now() < end) {
        // Busy-wait so the render takes a measurable time.
      }
    });
    store.dispatch({ type: "navigate", view: "live" });
    frames.runFrame();
    expect(store.stats.lastRenderMs).toBeGreaterThanOrEqual(3);
    expect(store.stats.maxRenderMs).toBeGreaterThanOrEqual(store.stats.lastRenderMs);
  });

  it("counts component renders in the same stats", () => {
    const store = createStore(initialState, manualFrames().schedule);
    store.recordRender(12);
    store.recordRender(4);
    expect(store.stats.renders).toBe(2);
    expect(store.stats.lastRenderMs).toBe(4);
    expect(store.stats.maxRenderMs).toBe(12);
  });
});
