// The types of the desktop app's IPC contract: command results, arguments and
// event payloads exactly as the Rust shell serialises them (camelCase JSON).
// Times `t` are seconds since the recording started, `*Ms` are milliseconds,
// sizes are bytes. Only types live here; `api.ts` makes the calls.

/** Stable error codes; the UI branches on these, never on the message text. */
export type ErrorCode =
  | "not_found"
  | "connect_failed"
  | "attach_failed"
  | "no_session"
  | "busy"
  | "cancelled"
  | "snapshot_failed"
  | "bundle_invalid"
  | "io"
  | "bad_input"
  | "launch_failed"
  | "internal";

/** The rejection value of every command; `message` names the bad value and the next step. */
export interface AppError {
  code: ErrorCode;
  message: string;
}

export interface Target {
  id: string;
  title: string;
  url: string;
}

export interface TabEntry {
  id: string;
  title: string;
  url: string;
  faviconUrl?: string;
}

export interface BrowserEntry {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  source: "port" | "file" | "launched";
  /** For example "port 9222" or the DevToolsActivePort path. */
  sourceDetail: string;
  product?: string;
  tabs: TabEntry[];
  error?: string;
}

export interface Discovery {
  browsers: BrowserEntry[];
  /** Steps that make Chrome debuggable; empty when a browser was found. */
  hints: string[];
}

export type DemoVariant = "leaky" | "fixed";
export type DemoFlow = "video" | "suno" | "upscale" | "audio";

export interface OpenDemoArgs {
  variant: DemoVariant;
  flow: DemoFlow;
  params?: Record<string, string>;
}

export interface SessionInfo {
  target: Target;
  recordingPath: string;
  /** Epoch milliseconds. */
  startedAtMs: number;
  agentInstalled: boolean;
  agentLate: boolean;
}

export interface StopSummary {
  recordingPath: string;
  durationS: number;
  samples: number;
  verdict: string;
}

export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface LaneBox {
  pollId: number;
  top: number;
  height: number;
}

export interface ChartArgs {
  fromT?: number;
  toT?: number;
  width: number;
  height: number;
}

export interface ChartView {
  svg: string;
  fromT: number;
  toT: number;
  /** Plot area in SVG pixels, used to map x to t. */
  plot: PlotArea;
  lanes: LaneBox[];
}

export interface PollStateAt {
  id: number;
  state: string;
}

export interface Readout {
  t: number;
  heapUsed?: number;
  heapLimit?: number;
  domNodes?: number;
  listeners?: number;
  timersLive?: number;
  requestsInFlight?: number;
  controllersLive?: number;
  polls: PollStateAt[];
}

export interface Marker {
  t: number;
  label: string;
}

export interface SnapshotEntry {
  id: string;
  path: string;
  bytes: number;
  t?: number;
  takenAtMs: number;
  durationMs: number;
  gc: boolean;
  label: string;
}

export interface ExportResult {
  path: string;
  bytes: number;
  files: number;
}

export interface ClassRow {
  name: string;
  count: number;
  selfSize: number;
  retainedSize: number;
}

export interface SnapshotSummary {
  nodes: number;
  edges: number;
  selfSize: number;
  nodeTypes: Record<string, number>;
  classes: ClassRow[];
  detachedNodes: number;
  detached: ClassRow[];
}

export interface DiffRow {
  name: string;
  countDelta: number;
  sizeDelta: number;
  added: number;
  removed: number;
}

export interface SnapshotDiff {
  classes: DiffRow[];
}

export interface RetainersArgs {
  id: string;
  className?: string;
  nodeId?: number;
  paths?: number;
}

/** One step of a path from a GC root to the object. */
export interface RetainerStep {
  nodeId: number;
  name: string;
  nodeType: string;
  /** Edge name or index. */
  edge: string;
  edgeType: string;
  selfSize: number;
}

export interface RetainerPaths {
  paths: RetainerStep[][];
}

export type RecentKind = "bundle" | "recording";

export interface RecentFile {
  path: string;
  kind: RecentKind;
  bytes: number;
  modifiedMs: number;
  title: string;
}

export interface ReplayInfo {
  path: string;
  target: Target;
  durationS: number;
  snapshots: SnapshotEntry[];
  endReason?: string;
}

export interface ReproSettings {
  /** A JavaScript expression or a JSON list of steps. */
  action: string;
  undo: string;
  iterations?: number;
  warmup?: number;
}

export type SessionState = "attached" | "ended" | "reconnecting";

export interface Counters {
  heapUsed?: number;
  heapLimit?: number;
  domNodes?: number;
  listeners?: number;
  timersLive: number;
  timeoutsLive: number;
  intervalsLive: number;
  requestsInFlight: number;
  controllersLive: number;
}

export interface PollRow {
  id: number;
  type: string;
  operation: string;
  endpoint: string;
  attempts: number;
  maxAttempts: number;
  cadenceS?: number;
  ageS: number;
  /** active | complete | failed | timeout */
  state: string;
  /** runaway, orphaned, duplicated, stalled, overlapping, no-progress */
  flags: string[];
  timerSite?: string;
  requestSite?: string;
}

export interface TimerRow {
  /** "url:line:col fn" or "(unknown)" */
  site: string;
  kind: "timeout" | "interval";
  live: number;
  created: number;
  cleared: number;
  delayMs?: number;
}

export interface RequestRow {
  /** For example "GET /api/video/status". */
  endpoint: string;
  inFlight: number;
  oldestAgeS?: number;
  completed: number;
  aborted: number;
  failed: number;
}

export type AlertLevel = "warning" | "critical" | "emergency";

export interface AlertRow {
  level: AlertLevel;
  rule: string;
  subject: string;
  message: string;
  firstT: number;
  lastT: number;
  count: number;
}

export interface LiveView {
  state: "attached" | "ended" | "replay";
  endReason?: string;
  /** Elapsed seconds. */
  t: number;
  target: Target;
  losses: { undecoded: number; dropped: number };
  agent: { installed: boolean; late: boolean };
  counters: Counters;
  polls: PollRow[];
  timers: TimerRow[];
  requests: RequestRow[];
  alerts: AlertRow[];
  markers: Marker[];
  snapshots: SnapshotEntry[];
  verdict: { verdict: string; reason: string };
}

// Event payloads.

export interface SessionStateEvent {
  state: SessionState;
  reason?: string;
}

export interface SnapshotProgress {
  done: number;
  total: number;
  bytes: number;
  phase: "gc" | "capture" | "write" | "validate";
}

export interface AnalysisProgress {
  phase: string;
  /** 0 to 1. */
  fraction: number;
}

export interface ReproProgress {
  iteration: number;
  iterations: number;
  step: string;
  phase: string;
}

// The repro report keeps the snake_case field names of `leakscope repro
// --json`, because the shell forwards that JSON unchanged.

/** One measure of a repro run: baseline first, then one value per iteration. */
export interface ReproMeasure {
  /** heap_used, timers, requests_in_flight, controllers, active_polls, dom_nodes, listeners, detached_nodes */
  name: string;
  /** "bytes" or "count". */
  unit: string;
  values: number[];
  growing: boolean;
  /** Theil–Sen slope: growth per iteration, in `unit`. */
  per_iteration?: number | null;
  positive_deltas?: number;
  deltas?: number;
  threshold?: number;
  /** The reason the measure counts as growing or not. */
  reason?: string;
}

/** One step of a candidate's retainer path; `edge` is null for the root. */
export interface ReproPathStep {
  edge?: string | null;
  edge_type?: string | null;
  node_type: string;
  name: string;
  node_id: number;
}

export interface ReproCandidate {
  /** The class (constructor) name of the new objects. */
  class: string;
  /** Net new objects since the baseline. */
  count: number;
  per_iteration?: number;
  size_delta?: number;
  node_id?: number;
  retainer_path?: ReproPathStep[];
  /** The path on one line, `(root) → edge → node @id → …`. */
  retainer_line?: string;
}

/** A timer creation site whose live timers grow per iteration. */
export interface ReproSiteGrowth {
  site: string;
  live_at_baseline: number;
  live_at_end: number;
  per_iteration: number;
}

/** Poll lifecycles of one endpoint started after the baseline and never ended. */
export interface ReproPollGrowth {
  endpoint: string;
  poll_type: string;
  count: number;
  operations: string[];
  timer_site?: string | null;
  request_site?: string | null;
}

/** The repro report, the same JSON as `leakscope repro --json`. */
export interface ReproReport {
  /** "leak", "no-leak" or "inconclusive". */
  verdict: string;
  /** False when the run ended early; the fields then hold what was measured. */
  complete?: boolean;
  incomplete_reason?: string;
  iterations: number;
  requested_iterations?: number;
  warmup?: number;
  measures: ReproMeasure[];
  candidates: ReproCandidate[];
  timer_sites?: ReproSiteGrowth[];
  polls?: ReproPollGrowth[];
  snapshots?: { baseline?: string | null; target?: string | null; final?: string | null };
  /** The recording file of the run. */
  recording?: string;
  notes?: string[];
}

export type ReproDone = ReproReport | { error: AppError };
