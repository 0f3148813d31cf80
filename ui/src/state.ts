// The app-wide state and its reducer: the session, the latest live view, the
// replay, long-running actions and the notices bar. Live views arrive up to
// ten times a second, so `mergeLiveView` keeps every row object and list that
// did not change. Memoised components compare by reference and skip those.
// View-local state (forms, sorting, chart zoom) stays in the components.

import type {
  AppError,
  LiveView,
  ReproProgress,
  ReproReport,
  ReplayInfo,
  SessionInfo,
  SessionStateEvent,
  SnapshotProgress,
  StopSummary,
} from "./contract";

export type ViewName = "connect" | "live" | "snapshots" | "replay" | "repro";

export const VIEW_NAMES: readonly ViewName[] = ["connect", "live", "snapshots", "replay", "repro"];

export type LiveTab = "polls" | "timers" | "requests" | "alerts";

export interface Notice {
  id: number;
  kind: "error" | "info";
  /** The user's action, such as "attach" or "export bundle". */
  action: string;
  text: string;
  code?: string;
}

/** At most this many notices are kept; older ones drop off the bar. */
export const MAX_NOTICES = 5;

/** The Repro panel's run: progress per iteration and the result. */
export interface ReproRun {
  running: boolean;
  /** The latest progress event of each iteration, in iteration order. */
  progress: ReproProgress[];
  report?: ReproReport;
  error?: AppError;
}

export const idleRepro: ReproRun = { running: false, progress: [] };

export interface AppState {
  view: ViewName;
  /** The table shown under the chart in Live and Replay. */
  liveTab: LiveTab;
  session?: SessionInfo;
  connection?: SessionStateEvent;
  live?: LiveView;
  /** How many live events arrived; the stats hook reports it. */
  liveEvents: number;
  replay?: ReplayInfo;
  replayView?: LiveView;
  snapshotProgress?: SnapshotProgress;
  /** True from `takeSnapshot` until it resolves or rejects. */
  snapshotRunning: boolean;
  lastStop?: StopSummary;
  repro: ReproRun;
  notices: Notice[];
  nextNoticeId: number;
}

export const initialState: AppState = {
  view: "connect",
  liveTab: "polls",
  liveEvents: 0,
  snapshotRunning: false,
  repro: idleRepro,
  notices: [],
  nextNoticeId: 1,
};

export type Action =
  | { type: "navigate"; view: ViewName; tab?: LiveTab }
  | { type: "attached"; session: SessionInfo }
  | { type: "live"; view: LiveView }
  /** The `liveView` command's result for a first paint; ignored once a live event arrived. */
  | { type: "live-initial"; view: LiveView }
  | { type: "session-state"; event: SessionStateEvent }
  | { type: "stopped"; summary: StopSummary }
  | { type: "replay-opened"; info: ReplayInfo }
  | { type: "replay-view"; view: LiveView }
  | { type: "replay-closed" }
  | { type: "snapshot-started" }
  | { type: "snapshot-progress"; progress: SnapshotProgress }
  | { type: "snapshot-finished" }
  | { type: "repro-started" }
  | { type: "repro-progress"; progress: ReproProgress }
  | { type: "repro-done"; report: ReproReport }
  | { type: "repro-failed"; error: AppError }
  | { type: "error"; action: string; error: AppError }
  | { type: "info"; action: string; text: string }
  | { type: "dismiss"; id: number };

export function reduce(state: AppState, action: Action): AppState {
  switch (action.type) {
    case "navigate": {
      const liveTab = action.tab ?? state.liveTab;
      return state.view === action.view && state.liveTab === liveTab
        ? state
        : { ...state, view: action.view, liveTab };
    }
    case "attached":
      return {
        ...state,
        view: "live",
        session: action.session,
        connection: { state: "attached" },
        live: undefined,
        lastStop: undefined,
      };
    case "live":
      // A late event after Stop must not bring the ended session back.
      if (state.session === undefined) {
        return state;
      }
      return {
        ...state,
        live: mergeLiveView(state.live, action.view),
        liveEvents: state.liveEvents + 1,
      };
    case "live-initial":
      // The command's result can arrive after a newer live event.
      return state.session === undefined || state.live !== undefined ? state : { ...state, live: action.view };
    case "session-state":
      return { ...state, connection: action.event };
    case "stopped":
      return {
        ...state,
        view: state.view === "live" || state.view === "snapshots" ? "connect" : state.view,
        session: undefined,
        connection: undefined,
        live: undefined,
        snapshotRunning: false,
        snapshotProgress: undefined,
        lastStop: action.summary,
      };
    case "replay-opened":
      return { ...state, view: "replay", replay: action.info, replayView: undefined };
    case "replay-view":
      return state.replay === undefined
        ? state
        : { ...state, replayView: mergeLiveView(state.replayView, action.view) };
    case "replay-closed":
      return {
        ...state,
        view: state.view === "replay" ? "connect" : state.view,
        replay: undefined,
        replayView: undefined,
      };
    case "snapshot-started":
      return { ...state, snapshotRunning: true, snapshotProgress: undefined };
    case "snapshot-progress":
      return state.snapshotRunning ? { ...state, snapshotProgress: action.progress } : state;
    case "snapshot-finished":
      return { ...state, snapshotRunning: false, snapshotProgress: undefined };
    case "repro-started":
      return { ...state, repro: { running: true, progress: [] } };
    case "repro-progress":
      return state.repro.running
        ? { ...state, repro: { ...state.repro, progress: upsertProgress(state.repro.progress, action.progress) } }
        : state;
    case "repro-done":
      return { ...state, repro: { ...state.repro, running: false, report: action.report, error: undefined } };
    case "repro-failed":
      return { ...state, repro: { ...state.repro, running: false, error: action.error } };
    case "error":
      return addNotice(state, {
        kind: "error",
        action: action.action,
        text: action.error.message,
        code: action.error.code,
      });
    case "info":
      return addNotice(state, { kind: "info", action: action.action, text: action.text });
    case "dismiss":
      return { ...state, notices: state.notices.filter((notice) => notice.id !== action.id) };
  }
}

/** Replaces the entry of the event's iteration, or inserts it in order. */
export function upsertProgress(list: readonly ReproProgress[], event: ReproProgress): ReproProgress[] {
  const others = list.filter((entry) => entry.iteration !== event.iteration);
  return [...others, event].sort((a, b) => a.iteration - b.iteration);
}

function addNotice(state: AppState, notice: Omit<Notice, "id">): AppState {
  const notices = [...state.notices, { ...notice, id: state.nextNoticeId }];
  return {
    ...state,
    notices: notices.slice(Math.max(0, notices.length - MAX_NOTICES)),
    nextNoticeId: state.nextNoticeId + 1,
  };
}

/**
 * Merges a new live view into the previous one, reusing every object whose
 * content is unchanged: the counters, each table row (matched by its key),
 * and whole lists when no row changed. The result equals `next` in content.
 */
export function mergeLiveView(prev: LiveView | undefined, next: LiveView): LiveView {
  if (prev === undefined) {
    return next;
  }
  const merged: LiveView = {
    ...next,
    target: sameShallow(prev.target, next.target) ? prev.target : next.target,
    losses: sameShallow(prev.losses, next.losses) ? prev.losses : next.losses,
    agent: sameShallow(prev.agent, next.agent) ? prev.agent : next.agent,
    counters: sameShallow(prev.counters, next.counters) ? prev.counters : next.counters,
    verdict: sameShallow(prev.verdict, next.verdict) ? prev.verdict : next.verdict,
    polls: mergeRows(prev.polls, next.polls, (row) => String(row.id)),
    timers: mergeRows(prev.timers, next.timers, (row) => `${row.kind} ${row.site}`),
    requests: mergeRows(prev.requests, next.requests, (row) => row.endpoint),
    alerts: mergeRows(prev.alerts, next.alerts, (row) => `${row.rule} ${row.subject}`),
    markers: mergeRows(prev.markers, next.markers, (row) => `${row.t} ${row.label}`),
    snapshots: mergeRows(prev.snapshots, next.snapshots, (row) => row.id),
  };
  return merged;
}

/**
 * Returns `next` with each row replaced by the previous row of the same key
 * when their fields are equal; returns `prev` itself when nothing changed.
 */
export function mergeRows<Row extends object>(
  prev: readonly Row[],
  next: readonly Row[],
  key: (row: Row) => string,
): Row[] {
  const byKey = new Map<string, Row>();
  for (const row of prev) {
    byKey.set(key(row), row);
  }
  let changed = prev.length !== next.length;
  const out = next.map((row, index) => {
    const old = byKey.get(key(row));
    const reused = old !== undefined && sameShallow(old, row) ? old : row;
    if (reused !== prev[index]) {
      changed = true;
    }
    return reused;
  });
  return changed ? out : (prev as Row[]);
}

/** Field-by-field equality, one level deep; arrays of primitives compare by items. */
export function sameShallow(a: object, b: object): boolean {
  if (a === b) {
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  if (keys.length !== Object.keys(right).length) {
    return false;
  }
  for (const k of keys) {
    const x = left[k];
    const y = right[k];
    if (x === y) {
      continue;
    }
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x.length !== y.length || x.some((item, i) => item !== y[i])) {
        return false;
      }
      continue;
    }
    return false;
  }
  return true;
}
