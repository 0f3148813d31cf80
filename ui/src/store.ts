// The state container: actions are reduced at once, but subscribers run at
// most once per animation frame, so a burst of live events costs one render.
// Render timings go to `window.__leakscopeStats`, where the end-to-end tests
// read them to measure rendering against the 100 ms input budget.

import { type Action, type AppState, reduce } from "./state";

export interface RenderStats {
  /** Completed renders since start: store flushes and component updates. */
  renders: number;
  /** Duration of the latest render, in milliseconds. */
  lastRenderMs: number;
  /** Maximum render duration since start, in milliseconds. */
  maxRenderMs: number;
  /** Live events received since start. */
  liveEvents: number;
  /** Actions dispatched since start; many actions share one render. */
  actions: number;
}

declare global {
  interface Window {
    __leakscopeStats?: RenderStats;
  }
}

export interface Store {
  getState(): AppState;
  dispatch(action: Action): void;
  /** Runs `render` now and after each frame in which the state changed. */
  subscribe(render: (state: AppState) => void): void;
  /** Adds one render of `ms` milliseconds to the stats (component updates). */
  recordRender(ms: number): void;
  stats: RenderStats;
}

type Schedule = (callback: () => void) => void;

const nextFrame: Schedule = (callback) => {
  if (typeof requestAnimationFrame === "function") {
    requestAnimationFrame(() => callback());
  } else {
    setTimeout(callback, 16);
  }
};

export function createStore(initial: AppState, schedule: Schedule = nextFrame): Store {
  let state = initial;
  let pending = false;
  const renders: Array<(state: AppState) => void> = [];
  const stats: RenderStats = { renders: 0, lastRenderMs: 0, maxRenderMs: 0, liveEvents: 0, actions: 0 };

  const recordRender = (ms: number) => {
    stats.renders += 1;
    stats.lastRenderMs = ms;
    stats.maxRenderMs = Math.max(stats.maxRenderMs, ms);
  };

  const flush = () => {
    pending = false;
    const started = performance.now();
    for (const render of renders) {
      render(state);
    }
    recordRender(performance.now() - started);
  };

  return {
    getState: () => state,
    dispatch(action) {
      stats.actions += 1;
      if (action.type === "live") {
        stats.liveEvents += 1;
      }
      const next = reduce(state, action);
      if (next === state) {
        return;
      }
      state = next;
      if (!pending) {
        pending = true;
        schedule(flush);
      }
    },
    subscribe(render) {
      renders.push(render);
      render(state);
    },
    recordRender,
    stats,
  };
}
