// The only module that talks to the backend. Every command of the app's IPC
// contract has one typed function here, every event one `on*` subscriber, and
// every rejection is turned into an `AppError` with a stable code, so views
// never see Tauri's raw error shapes.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AnalysisProgress,
  AppError,
  ChartArgs,
  ChartView,
  Discovery,
  BrowserEntry,
  ErrorCode,
  ExportResult,
  LiveView,
  Marker,
  OpenDemoArgs,
  Readout,
  RecentFile,
  ReplayInfo,
  ReproDone,
  ReproProgress,
  ReproSettings,
  RetainerPaths,
  RetainersArgs,
  SessionInfo,
  SessionStateEvent,
  SnapshotDiff,
  SnapshotEntry,
  SnapshotProgress,
  SnapshotSummary,
  StopSummary,
} from "./contract";

export type * from "./contract";

const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "not_found",
  "connect_failed",
  "attach_failed",
  "no_session",
  "busy",
  "cancelled",
  "snapshot_failed",
  "bundle_invalid",
  "io",
  "bad_input",
  "launch_failed",
  "internal",
]);

/** Tauri's own rejection when the shell has no handler for a command. */
const MISSING_COMMAND = /^command (\S+) not found$/;

/** An `AppError` thrown as an exception, so `catch` blocks keep the code. */
export class BackendError extends Error implements AppError {
  readonly code: ErrorCode;

  constructor(error: AppError) {
    super(error.message);
    this.name = "BackendError";
    this.code = error.code;
  }
}

/**
 * Converts whatever a rejected `invoke` produced into an `AppError`.
 *
 * The shell rejects with `{ code, message }`. Tauri itself rejects with a
 * plain string (an unknown command, a denied permission, a bad argument), and
 * a broken bridge throws an `Error`. Unknown codes become `internal` and keep
 * the original code in the message, so no part of the backend's message is lost.
 */
export function decodeError(raw: unknown, command?: string): AppError {
  if (raw instanceof BackendError) {
    return { code: raw.code, message: raw.message };
  }
  if (isRecord(raw) && typeof raw.message === "string") {
    const code = typeof raw.code === "string" ? raw.code : undefined;
    if (code !== undefined && ERROR_CODES.has(code)) {
      return { code: code as ErrorCode, message: raw.message };
    }
    const prefix = code === undefined ? "" : `(code ${code}) `;
    return { code: "internal", message: prefix + raw.message };
  }
  if (typeof raw === "string") {
    const missing = MISSING_COMMAND.exec(raw.trim());
    if (missing) {
      return {
        code: "internal",
        message: `this build of the app has no '${missing[1]}' command; update Leakscope, or use the leakscope command line for this action`,
      };
    }
    return { code: "internal", message: raw };
  }
  if (raw instanceof Error) {
    return { code: "internal", message: raw.message };
  }
  const what = command === undefined ? "a command" : `'${command}'`;
  return {
    code: "internal",
    message: `${what} failed without an error message; see the app's log for details`,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Calls one command; rejects with a `BackendError`. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw new BackendError(decodeError(raw, command));
  }
}

/** Drops `undefined` fields, so optional arguments are absent, not null. */
function defined(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

// Connect

export const discover = (): Promise<Discovery> => call("discover");
export const launchChrome = (): Promise<BrowserEntry> => call("launchChrome");
export const openDemo = (args: OpenDemoArgs): Promise<SessionInfo> =>
  call("openDemo", defined({ ...args }));
export const attach = (endpoint: string, targetId: string): Promise<SessionInfo> =>
  call("attach", { endpoint, targetId });
export const detach = (): Promise<StopSummary> => call("detach");

// Live

export const liveView = (): Promise<LiveView> => call("liveView");
export const chart = (args: ChartArgs): Promise<ChartView> => call("chart", defined({ ...args }));
export const valuesAt = (t: number): Promise<Readout> => call("valuesAt", { t });
export const forceGc = (): Promise<null> => call("forceGc");
export const addMarker = (label: string): Promise<Marker> => call("addMarker", { label });
export const reloadPage = (): Promise<null> => call("reloadPage");
export const takeSnapshot = (gc?: boolean): Promise<SnapshotEntry> =>
  call("takeSnapshot", defined({ gc }));
export const cancelSnapshot = (): Promise<null> => call("cancelSnapshot");
export const exportBundle = (path?: string): Promise<ExportResult> =>
  call("exportBundle", defined({ path }));

// Snapshots

export const listSnapshots = (): Promise<SnapshotEntry[]> => call("listSnapshots");
export const snapshotSummary = (id: string, top?: number): Promise<SnapshotSummary> =>
  call("snapshotSummary", defined({ id, top }));
export const snapshotDiff = (before: string, after: string, top?: number): Promise<SnapshotDiff> =>
  call("snapshotDiff", defined({ before, after, top }));
export const retainers = (args: RetainersArgs): Promise<RetainerPaths> =>
  call("retainers", defined({ ...args }));
export const cancelAnalysis = (): Promise<null> => call("cancelAnalysis");

// Files and replay

export const pickOpenPath = (): Promise<string | null> => call("pickOpenPath", { kind: "bundle" });
export const pickSavePath = (suggested: string): Promise<string | null> =>
  call("pickSavePath", { kind: "bundle", suggested });
export const recentFiles = (): Promise<RecentFile[]> => call("recentFiles");
export const openReplay = (path: string): Promise<ReplayInfo> => call("openReplay", { path });
export const replayView = (t: number): Promise<LiveView> => call("replayView", { t });
export const closeReplay = (): Promise<null> => call("closeReplay");

// Repro

export const startRepro = (settings: ReproSettings): Promise<null> =>
  call("startRepro", defined({ ...settings }));
export const cancelRepro = (): Promise<null> => call("cancelRepro");

// Events

function on<T>(event: string, handler: (payload: T) => void): Promise<UnlistenFn> {
  return listen<T>(event, (message) => handler(message.payload));
}

export const onLive = (handler: (view: LiveView) => void) => on("live", handler);
export const onSessionState = (handler: (event: SessionStateEvent) => void) =>
  on("session-state", handler);
export const onSnapshotProgress = (handler: (event: SnapshotProgress) => void) =>
  on("snapshot-progress", handler);
export const onAnalysisProgress = (handler: (event: AnalysisProgress) => void) =>
  on("analysis-progress", handler);
export const onReproProgress = (handler: (event: ReproProgress) => void) =>
  on("repro-progress", handler);
export const onReproDone = (handler: (event: ReproDone) => void) => on("repro-done", handler);

/** Tells an error payload of `repro-done` from a report. */
export function isReproError(done: ReproDone): done is { error: AppError } {
  return isRecord(done) && "error" in done && isRecord(done.error);
}
