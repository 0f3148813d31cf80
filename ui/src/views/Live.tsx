// The Live view: the attached tab's header (target, connection state, elapsed
// time, lost messages), the agent-late warning, the toolbar of session
// actions, and the shared counters, chart and tables.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import type { LiveView, SessionInfo, SessionStateEvent, SnapshotProgress } from "../contract";
import { useDispatch, useRunner } from "../context";
import { baseName, formatBytes, formatClock, formatCount } from "../format";
import type { LiveTab } from "../state";
import { LiveBody } from "./LiveBody";
import { Progress } from "../components/Progress";

export interface LiveProps {
  session?: SessionInfo;
  connection?: SessionStateEvent;
  view?: LiveView;
  tab: LiveTab;
  snapshotRunning: boolean;
  snapshotProgress?: SnapshotProgress;
}

export function Live(props: LiveProps) {
  const dispatch = useDispatch();
  const hasView = props.view !== undefined;
  const recordingPath = props.session?.recordingPath;

  // Paint at once after attaching instead of waiting for the first live event.
  useEffect(() => {
    if (recordingPath === undefined || hasView) {
      return;
    }
    let stale = false;
    api.liveView().then(
      (view) => !stale && dispatch({ type: "live-initial", view }),
      // On failure the next live event paints the view instead.
      () => undefined,
    );
    return () => {
      stale = true;
    };
  }, [recordingPath]);

  if (props.session === undefined) {
    return (
      <section class="view empty-view" data-testid="view-live">
        <p>Not attached to a tab.</p>
        <button type="button" class="btn primary" onClick={() => dispatch({ type: "navigate", view: "connect" })}>
          Go to Connect
        </button>
      </section>
    );
  }
  const view = props.view;
  return (
    <section class="view" data-testid="view-live">
      <LiveHeader session={props.session} connection={props.connection} view={view} />
      {view?.agent.late && <AgentLateWarning />}
      {!view?.agent.late && !props.session.agentInstalled && view?.agent.installed === false && (
        <div class="warning" data-testid="agent-missing">
          The in-page agent is not installed, so timers, requests and AbortControllers are not counted; heap and DOM
          samples still work. Reload the page to install it.
        </div>
      )}
      <Toolbar
        session={props.session}
        snapshotRunning={props.snapshotRunning}
        snapshotProgress={props.snapshotProgress}
        ended={props.connection?.state === "ended" || view?.state === "ended"}
      />
      {view === undefined ? (
        <p class="muted" data-testid="live-waiting">
          Waiting for the first sample…
        </p>
      ) : (
        <LiveBody view={view} tab={props.tab} source={props.session.recordingPath} live={view.state === "attached"} durationS={view.t} />
      )}
    </section>
  );
}

function LiveHeader(props: { session: SessionInfo; connection?: SessionStateEvent; view?: LiveView }) {
  const target = props.view?.target ?? props.session.target;
  const state = props.view?.state === "ended" ? "ended" : (props.connection?.state ?? "attached");
  const reason = props.view?.endReason ?? props.connection?.reason;
  const losses = props.view?.losses ?? { undecoded: 0, dropped: 0 };
  const verdict = props.view?.verdict;
  return (
    <header class="session-header" data-testid="live-header">
      <div class="target">
        <div class="target-title" data-testid="live-target-title" title={target.title}>
          {target.title || "(untitled tab)"}
        </div>
        <div class="target-url mono" data-testid="live-target-url" title={target.url}>
          {target.url}
        </div>
      </div>
      <span class={`chip state-chip state-${state}`} data-testid="live-state" data-state={state} title={reason}>
        {state}
        {reason ? `: ${reason}` : ""}
      </span>
      <span class="chip" title="time since the recording started">
        elapsed <b data-testid="live-elapsed" data-value={props.view?.t ?? 0}>{formatClock(props.view?.t ?? 0)}</b>
      </span>
      <span
        class={`chip ${losses.undecoded > 0 ? "bad" : ""}`}
        title="CDP messages that could not be decoded; their data is missing from the recording"
      >
        undecoded <b data-testid="live-undecoded" data-value={losses.undecoded}>{formatCount(losses.undecoded)}</b>
      </span>
      <span class={`chip ${losses.dropped > 0 ? "bad" : ""}`} title="events dropped because a queue was full">
        dropped <b data-testid="live-dropped" data-value={losses.dropped}>{formatCount(losses.dropped)}</b>
      </span>
      {verdict && (
        <span class={`chip verdict verdict-${verdict.verdict}`} data-testid="live-verdict" title={verdict.reason}>
          {verdict.verdict}
        </span>
      )}
    </header>
  );
}

function AgentLateWarning() {
  const run = useRunner();
  const dispatch = useDispatch();
  const [busy, setBusy] = useState(false);
  const reload = async () => {
    setBusy(true);
    const done = await run("reload page", api.reloadPage);
    setBusy(false);
    if (done !== undefined) {
      dispatch({ type: "info", action: "reload page", text: "page reloaded; counting from the start" });
    }
  };
  return (
    <div class="warning" data-testid="agent-late">
      The agent was installed after the page had started, so timers, requests and AbortControllers created before
      are not counted. Reload the page to count from the start.
      <button type="button" class="btn small" data-testid="agent-late-reload" disabled={busy} onClick={reload}>
        Reload page
      </button>
    </div>
  );
}

function Toolbar(props: {
  session: SessionInfo;
  snapshotRunning: boolean;
  snapshotProgress?: SnapshotProgress;
  ended: boolean;
}) {
  const run = useRunner();
  const dispatch = useDispatch();
  const [label, setLabel] = useState("");
  const [busy, setBusy] = useState<string | undefined>(undefined);

  const act = async <T,>(name: string, work: () => Promise<T>, done: (result: T) => string) => {
    setBusy(name);
    const result = await run(name, work);
    setBusy(undefined);
    if (result !== undefined) {
      dispatch({ type: "info", action: name, text: done(result) });
    }
    return result;
  };

  const addMarker = async (event: Event) => {
    event.preventDefault();
    const text = label.trim();
    if (text === "") {
      dispatch({ type: "error", action: "add marker", error: { code: "bad_input", message: "the marker label is empty; type what you just did, such as \"opened the panel\"" } });
      return;
    }
    const marker = await act("add marker", () => api.addMarker(text), (m) => `marker "${m.label}" at ${formatClock(m.t)}`);
    if (marker !== undefined) {
      setLabel("");
    }
  };

  const exportAs = async () => {
    const suggested = suggestedBundleName(props.session.target.title, Date.now());
    const path = await run("export bundle", () => api.pickSavePath(suggested));
    if (path) {
      await act("export bundle", () => api.exportBundle(path), describeExport);
    }
  };

  const stop = async () => {
    setBusy("stop");
    const summary = await run("stop", api.detach);
    setBusy(undefined);
    if (summary !== undefined) {
      dispatch({ type: "stopped", summary });
    }
  };

  const disabled = busy !== undefined || props.ended;
  return (
    <div class="toolbar" data-testid="live-toolbar">
      <SnapshotControl running={props.snapshotRunning} progress={props.snapshotProgress} disabled={props.ended} />
      <button type="button" class="btn" data-testid="btn-force-gc" disabled={disabled} onClick={() => act("force GC", api.forceGc, () => "garbage collection done")}>
        Force GC
      </button>
      <form class="marker-form" onSubmit={addMarker}>
        <input
          type="text"
          data-testid="marker-label"
          placeholder="e.g. opened the panel"
          title="a label for what you just did, shown on the chart"
          value={label}
          maxLength={200}
          onInput={(event) => setLabel((event.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit" class="btn" data-testid="btn-add-marker" disabled={disabled}>
          Add marker
        </button>
      </form>
      <button type="button" class="btn" data-testid="btn-reload" disabled={disabled} onClick={() => act("reload page", api.reloadPage, () => "page reloaded; counting from the start")}>
        Reload page
      </button>
      <span class="spacer" />
      <button type="button" class="btn" data-testid="btn-export" disabled={busy !== undefined} onClick={() => act("export bundle", () => api.exportBundle(), describeExport)}>
        {busy === "export bundle" ? "Exporting…" : "Export bundle"}
      </button>
      <button type="button" class="btn" data-testid="btn-export-as" disabled={busy !== undefined} onClick={exportAs}>
        Export as…
      </button>
      <button type="button" class="btn danger" data-testid="btn-stop" disabled={busy !== undefined} onClick={stop}>
        {busy === "stop" ? "Stopping…" : "Stop"}
      </button>
    </div>
  );
}

function describeExport(result: api.ExportResult): string {
  return `bundle written to ${result.path} (${formatCount(result.files)} files, ${formatBytes(result.bytes)})`;
}

/** Builds a file name for "Export as…": the tab title made file-safe, then the local time. */
export function suggestedBundleName(title: string, epochMs: number): string {
  const slug =
    title
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 40) || "tab";
  const date = new Date(epochMs);
  const pad = (value: number) => value.toString().padStart(2, "0");
  const stamp = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  return `leakscope-${slug}-${stamp}.zip`;
}

/** Snapshot button, GC option and the capture's progress with Cancel. */
export function SnapshotControl(props: { running: boolean; progress?: SnapshotProgress; disabled?: boolean }) {
  const run = useRunner();
  const dispatch = useDispatch();
  const [gc, setGc] = useState(true);

  const take = async () => {
    dispatch({ type: "snapshot-started" });
    const entry = await run("take snapshot", () => api.takeSnapshot(gc));
    dispatch({ type: "snapshot-finished" });
    if (entry !== undefined) {
      dispatch({ type: "info", action: "take snapshot", text: `snapshot ${entry.label || baseName(entry.path)} saved (${formatBytes(entry.bytes)})` });
    }
  };

  if (props.running) {
    const progress = props.progress;
    const fraction = progress && progress.total > 0 ? progress.done / progress.total : undefined;
    const label = progress ? `${progress.phase} ${formatBytes(progress.bytes)}` : "starting snapshot…";
    return (
      <Progress
        testid="snapshot-progress"
        label={label}
        fraction={fraction}
        onCancel={() => void run("cancel snapshot", api.cancelSnapshot)}
      />
    );
  }
  return (
    <span class="snapshot-control">
      <button type="button" class="btn primary" data-testid="btn-snapshot" disabled={props.disabled} onClick={take}>
        Snapshot
      </button>
      <label class="check" title="collect garbage before the capture, so only reachable objects are counted">
        <input type="checkbox" data-testid="snapshot-gc" checked={gc} onChange={(event) => setGc((event.currentTarget as HTMLInputElement).checked)} />
        GC first
      </label>
    </span>
  );
}
