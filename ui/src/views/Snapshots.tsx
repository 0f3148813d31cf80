// The Snapshots view lists the captures of the live session or the replayed
// bundle. For one capture it shows the summary by class and the detached DOM
// nodes, for two a diff, and retainer paths for a class or a node id. Each
// analysis shows the backend's progress and can be cancelled.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import type {
  AnalysisProgress,
  AppError,
  ClassRow,
  DiffRow,
  RetainerPaths,
  SnapshotDiff,
  SnapshotEntry,
  SnapshotProgress,
  SnapshotSummary,
} from "../contract";
import { useDispatch } from "../context";
import { ErrorBox } from "../components/Notices";
import { Progress } from "../components/Progress";
import { type Column, Table } from "../components/Table";
import {
  formatBytes,
  formatBytesDelta,
  formatClock,
  formatCount,
  formatCountDelta,
  formatDate,
  formatMs,
  formatPercent,
} from "../format";
import { SnapshotControl } from "./Live";

/** Classes asked for in a summary or diff; the table caps what it renders. */
const TOP_CLASSES = 200;

/** Retainer paths asked for by default. */
const DEFAULT_PATHS = 5;

type Panel = "summary" | "detached" | "diff" | "retainers";

export interface SnapshotsProps {
  /** Live session or replay: `undefined` when neither is open. */
  source?: string;
  /** Snapshots the latest live view or replay lists; a change reloads the list. */
  known: readonly SnapshotEntry[];
  canCapture: boolean;
  snapshotRunning: boolean;
  snapshotProgress?: SnapshotProgress;
}

interface Analysis {
  label: string;
  progress?: AnalysisProgress;
}

export function Snapshots(props: SnapshotsProps) {
  const dispatch = useDispatch();
  const [list, setList] = useState<SnapshotEntry[]>([]);
  const [listError, setListError] = useState<AppError | undefined>(undefined);
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [compare, setCompare] = useState<string[]>([]);
  const [panel, setPanel] = useState<Panel>("summary");
  const [summary, setSummary] = useState<SnapshotSummary | undefined>(undefined);
  const [diff, setDiff] = useState<SnapshotDiff | undefined>(undefined);
  const [diffPair, setDiffPair] = useState<{ before: string; after: string } | undefined>(undefined);
  const [paths, setPaths] = useState<RetainerPaths | undefined>(undefined);
  const [analysis, setAnalysis] = useState<Analysis | undefined>(undefined);
  const [panelError, setPanelError] = useState<AppError | undefined>(undefined);
  const [className, setClassName] = useState("");
  const [nodeId, setNodeId] = useState("");
  const [pathCount, setPathCount] = useState(String(DEFAULT_PATHS));

  const knownKey = props.known.map((entry) => entry.id).join(",");
  useEffect(() => {
    if (props.source === undefined) {
      return;
    }
    let stale = false;
    api.listSnapshots().then(
      (entries) => {
        if (!stale) {
          setList(entries);
          setListError(undefined);
        }
      },
      (raw) => !stale && setListError(api.decodeError(raw, "listSnapshots")),
    );
    return () => {
      stale = true;
    };
  }, [props.source, knownKey]);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let unmounted = false;
    void api
      .onAnalysisProgress((progress) => setAnalysis((current) => (current ? { ...current, progress } : current)))
      .then((stop) => (unmounted ? stop() : (unlisten = stop)));
    return () => {
      unmounted = true;
      unlisten?.();
    };
  }, []);

  /** Runs one analysis at a time; the backend rejects a second one with `busy`. */
  const analyse = async <T,>(label: string, work: () => Promise<T>): Promise<T | undefined> => {
    setAnalysis({ label });
    setPanelError(undefined);
    try {
      return await work();
    } catch (raw) {
      const error = api.decodeError(raw);
      setPanelError(error);
      if (error.code === "cancelled") {
        dispatch({ type: "info", action: label, text: "cancelled" });
      }
      return undefined;
    } finally {
      setAnalysis(undefined);
    }
  };

  const select = async (id: string) => {
    setSelected(id);
    setSummary(undefined);
    setPaths(undefined);
    if (panel === "diff") {
      setPanel("summary");
    }
    const result = await analyse("summarise snapshot", () => api.snapshotSummary(id, TOP_CLASSES));
    if (result !== undefined) {
      setSummary(result);
    }
  };

  const toggleCompare = (id: string) => {
    setCompare((current) => {
      if (current.includes(id)) {
        return current.filter((other) => other !== id);
      }
      // Keep the newest two picks: picking a third replaces the oldest pick.
      return [...current, id].slice(-2);
    });
  };

  const runDiff = async () => {
    const [before, after] = orderByTime(compare, list);
    if (before === undefined || after === undefined) {
      return;
    }
    setPanel("diff");
    setDiff(undefined);
    const result = await analyse("diff snapshots", () => api.snapshotDiff(before, after, TOP_CLASSES));
    if (result !== undefined) {
      setDiff(result);
      setDiffPair({ before, after });
    }
  };

  /** Finds retainer paths in snapshot `id`, by default the selected one. */
  const findRetainers = async (query: { className?: string; nodeId?: number }, id = selected) => {
    if (id === undefined) {
      return;
    }
    if (id !== selected) {
      setSelected(id);
      setSummary(undefined);
    }
    const count = Number.parseInt(pathCount, 10);
    setPanel("retainers");
    setPaths(undefined);
    const result = await analyse("find retainers", () =>
      api.retainers({ id, ...query, paths: Number.isFinite(count) && count > 0 ? count : DEFAULT_PATHS }),
    );
    if (result !== undefined) {
      setPaths(result);
    }
  };

  const onRetainersSubmit = (event: Event) => {
    event.preventDefault();
    const id = nodeId.trim();
    if (id !== "") {
      if (!/^\d+$/.test(id)) {
        setPanelError({ code: "bad_input", message: `invalid node id "${id}"; give the number shown as @id in a path` });
        return;
      }
      void findRetainers({ nodeId: Number(id) });
      return;
    }
    if (className.trim() === "") {
      setPanelError({ code: "bad_input", message: "give a class name (such as Detached HTMLDivElement) or a node id" });
      return;
    }
    void findRetainers({ className: className.trim() });
  };

  const retainClass = (row: ClassRow) => {
    setClassName(row.name);
    setNodeId("");
    void findRetainers({ className: row.name });
  };

  // New objects of a class exist in the later snapshot, so search there.
  const retainDiffClass = (row: DiffRow) => {
    setClassName(row.name);
    setNodeId("");
    void findRetainers({ className: row.name }, diffPair?.after);
  };

  if (props.source === undefined) {
    return (
      <section class="view empty-view" data-testid="view-snapshots">
        <p>Attach to a tab or open a bundle to see its heap snapshots.</p>
        <button type="button" class="btn primary" onClick={() => dispatch({ type: "navigate", view: "connect" })}>
          Go to Connect
        </button>
      </section>
    );
  }

  const selectedEntry = list.find((entry) => entry.id === selected);
  return (
    <section class="view snapshots" data-testid="view-snapshots">
      <div class="snapshot-side panel">
        <div class="panel-head">
          <h2>Snapshots</h2>
          <span class="spacer" />
          {props.canCapture && <SnapshotControl running={props.snapshotRunning} progress={props.snapshotProgress} />}
        </div>
        {listError && <ErrorBox error={listError} testid="snapshot-list-error" />}
        <ul class="snapshot-list" data-testid="snapshot-list">
          {list.length === 0 && <li class="muted">No snapshots yet. Take one with Snapshot.</li>}
          {list.map((entry) => (
            <li
              key={entry.id}
              class={`snapshot-item ${entry.id === selected ? "selected" : ""}`}
              data-testid="snapshot-item"
              data-id={entry.id}
            >
              <input
                type="checkbox"
                title="pick two snapshots to diff"
                data-testid="snapshot-compare"
                checked={compare.includes(entry.id)}
                onChange={() => toggleCompare(entry.id)}
              />
              <button type="button" class="snapshot-open" data-testid="snapshot-open" onClick={() => select(entry.id)}>
                <span class="snapshot-label">{entry.label || entry.id}</span>
                <span class="muted">
                  {entry.t !== undefined ? formatClock(entry.t) : formatDate(entry.takenAtMs)} · {formatBytes(entry.bytes)}
                  {entry.gc ? " · after GC" : ""} · {formatMs(entry.durationMs)}
                </span>
              </button>
            </li>
          ))}
        </ul>
        <button
          type="button"
          class="btn"
          data-testid="btn-diff"
          disabled={compare.length !== 2 || analysis !== undefined}
          onClick={runDiff}
        >
          Diff the two picked ({compare.length}/2)
        </button>
      </div>
      <div class="snapshot-main panel">
        <div class="tabs" role="tablist">
          {(["summary", "detached", "diff", "retainers"] as Panel[]).map((name) => (
            <button
              type="button"
              role="tab"
              key={name}
              class={`tab ${panel === name ? "active" : ""}`}
              aria-selected={panel === name}
              data-testid={`snapshot-tab-${name}`}
              onClick={() => setPanel(name)}
            >
              {PANEL_LABELS[name]}
            </button>
          ))}
          <span class="spacer" />
          {selectedEntry && (
            <span class="muted mono tab-path" title={selectedEntry.path}>
              {selectedEntry.path}
            </span>
          )}
        </div>
        {analysis && (
          <Progress
            testid="analysis-progress"
            label={`${analysis.label}${analysis.progress ? `: ${analysis.progress.phase} ${formatPercent(analysis.progress.fraction)}` : "…"}`}
            fraction={analysis.progress?.fraction}
            onCancel={() => void api.cancelAnalysis().catch((raw) => setPanelError(api.decodeError(raw, "cancelAnalysis")))}
          />
        )}
        {panelError && <ErrorBox error={panelError} testid="snapshot-error" />}
        {panel === "summary" && <SummaryPanel summary={summary} selected={selected} onClass={retainClass} />}
        {panel === "detached" && <DetachedPanel summary={summary} selected={selected} onClass={retainClass} />}
        {panel === "diff" && (
          <DiffPanel
            diff={diff}
            pair={diffPair && { before: labelOf(diffPair.before, list), after: labelOf(diffPair.after, list) }}
            onClass={retainDiffClass}
          />
        )}
        {panel === "retainers" && (
          <div>
            <form class="form-row retainer-form" onSubmit={onRetainersSubmit}>
              <label>
                Class
                <input type="text" data-testid="retainers-class" value={className} placeholder="e.g. PollJob" onInput={(event) => setClassName((event.currentTarget as HTMLInputElement).value)} />
              </label>
              <label>
                or node id
                <input type="text" inputMode="numeric" data-testid="retainers-node" value={nodeId} placeholder="e.g. 4021" onInput={(event) => setNodeId((event.currentTarget as HTMLInputElement).value)} />
              </label>
              <label>
                Paths
                <input type="number" min={1} max={50} data-testid="retainers-count" value={pathCount} onInput={(event) => setPathCount((event.currentTarget as HTMLInputElement).value)} />
              </label>
              <button type="submit" class="btn primary" data-testid="btn-retainers" disabled={selected === undefined || analysis !== undefined}>
                Find retainers
              </button>
            </form>
            {selected === undefined && <p class="muted">Select a snapshot on the left first.</p>}
            {paths && <RetainerPathList paths={paths} />}
          </div>
        )}
      </div>
    </section>
  );
}

const PANEL_LABELS: Record<Panel, string> = {
  summary: "Summary by class",
  detached: "Detached nodes",
  diff: "Diff",
  retainers: "Retainers",
};

/** Returns a snapshot's label, or its id when it has none or is not listed. */
function labelOf(id: string, entries: readonly SnapshotEntry[]): string {
  const entry = entries.find((candidate) => candidate.id === id);
  return entry?.label || id;
}

/** Orders two picked ids so the earlier capture is "before". */
export function orderByTime(ids: readonly string[], entries: readonly SnapshotEntry[]): string[] {
  const when = (id: string) => entries.find((entry) => entry.id === id)?.takenAtMs ?? 0;
  return [...ids].sort((a, b) => when(a) - when(b));
}

const classColumns: Column<ClassRow>[] = [
  { key: "name", label: "Class", value: (row) => row.name, className: "ellipsis mono wide" },
  { key: "count", label: "Count", value: (row) => row.count, numeric: true, render: (row) => formatCount(row.count) },
  { key: "self", label: "Self size", value: (row) => row.selfSize, numeric: true, render: (row) => formatBytes(row.selfSize) },
  { key: "retained", label: "Retained size", value: (row) => row.retainedSize, numeric: true, render: (row) => formatBytes(row.retainedSize) },
];

function SummaryPanel(props: { summary?: SnapshotSummary; selected?: string; onClass: (row: ClassRow) => void }) {
  if (props.selected === undefined) {
    return <p class="muted">Select a snapshot on the left to see its classes.</p>;
  }
  const summary = props.summary;
  if (summary === undefined) {
    return <p class="muted">No summary loaded; click the snapshot on the left to load it.</p>;
  }
  const types = Object.entries(summary.nodeTypes).sort((a, b) => b[1] - a[1]);
  return (
    <div data-testid="snapshot-summary">
      <div class="summary-line">
        <span>
          <b data-testid="summary-nodes">{formatCount(summary.nodes)}</b> nodes
        </span>
        <span>
          <b>{formatCount(summary.edges)}</b> edges
        </span>
        <span>
          <b>{formatBytes(summary.selfSize)}</b> total self size
        </span>
        <span>
          <b data-testid="summary-detached">{formatCount(summary.detachedNodes)}</b> detached DOM nodes
        </span>
        <span class="muted">{types.map(([type, count]) => `${type} ${formatCount(count)}`).join(" · ")}</span>
      </div>
      <p class="hint">Click a class to find what retains it.</p>
      <Table
        testid="classes-table"
        rows={summary.classes}
        columns={classColumns}
        rowKey={(row) => row.name}
        defaultSort={{ key: "retained", direction: "desc" }}
        onRowClick={props.onClass}
        empty="no classes in this snapshot"
      />
    </div>
  );
}

function DetachedPanel(props: { summary?: SnapshotSummary; selected?: string; onClass: (row: ClassRow) => void }) {
  if (props.selected === undefined) {
    return <p class="muted">Select a snapshot on the left to see its detached DOM nodes.</p>;
  }
  if (props.summary === undefined) {
    return <p class="muted">No summary loaded; click the snapshot on the left to load it.</p>;
  }
  return (
    <div data-testid="snapshot-detached">
      <p>
        <b>{formatCount(props.summary.detachedNodes)}</b> DOM nodes are detached from the document but still reachable
        from JavaScript.
      </p>
      <Table
        testid="detached-table"
        rows={props.summary.detached}
        columns={classColumns}
        rowKey={(row) => row.name}
        defaultSort={{ key: "count", direction: "desc" }}
        onRowClick={props.onClass}
        empty="no detached DOM nodes"
      />
    </div>
  );
}

const diffColumns: Column<DiffRow>[] = [
  { key: "name", label: "Class", value: (row) => row.name, className: "ellipsis mono wide" },
  { key: "countDelta", label: "Count Δ", value: (row) => row.countDelta, numeric: true, render: (row) => formatCountDelta(row.countDelta) },
  { key: "sizeDelta", label: "Size Δ", value: (row) => row.sizeDelta, numeric: true, render: (row) => formatBytesDelta(row.sizeDelta) },
  { key: "added", label: "Added", value: (row) => row.added, numeric: true, render: (row) => formatCount(row.added) },
  { key: "removed", label: "Removed", value: (row) => row.removed, numeric: true, render: (row) => formatCount(row.removed) },
];

function DiffPanel(props: {
  diff?: SnapshotDiff;
  pair?: { before: string; after: string };
  onClass: (row: DiffRow) => void;
}) {
  if (props.diff === undefined) {
    return <p class="muted">Tick two snapshots on the left, then Diff. The earlier one is the baseline.</p>;
  }
  return (
    <div data-testid="snapshot-diff">
      {props.pair && (
        <p class="hint" data-testid="diff-pair">
          From <b>{props.pair.before}</b> to <b>{props.pair.after}</b>. Click a class to find what retains it in{" "}
          {props.pair.after}.
        </p>
      )}
      <Table
        testid="diff-table"
        rows={props.diff.classes}
        columns={diffColumns}
        rowKey={(row) => row.name}
        defaultSort={{ key: "sizeDelta", direction: "desc" }}
        onRowClick={props.onClass}
        rowClass={(row) => (row.countDelta > 0 ? "grew" : undefined)}
        empty="no difference between the two snapshots"
      />
    </div>
  );
}

export function RetainerPathList({ paths }: { paths: RetainerPaths }) {
  if (paths.paths.length === 0) {
    return <p class="muted" data-testid="retainer-paths">No path from a GC root was found: the object is unreachable and will be collected.</p>;
  }
  return (
    <ol class="retainer-paths" data-testid="retainer-paths">
      {paths.paths.map((path, index) => (
        <li key={index} data-testid="retainer-path">
          {path.map((step, stepIndex) => (
            <div key={stepIndex} class="retainer-step" style={{ paddingLeft: `${stepIndex * 12}px` }}>
              {stepIndex > 0 && (
                <span class="edge" title={step.edgeType}>
                  {step.edgeType === "element" ? `[${step.edge}]` : `.${step.edge}`} →{" "}
                </span>
              )}
              <span class="node-name mono">{step.name || "(anonymous)"}</span>{" "}
              <span class="muted">
                {step.nodeType} @{step.nodeId}
                {Number.isFinite(step.selfSize) ? ` · ${formatBytes(step.selfSize)}` : ""}
              </span>
            </div>
          ))}
        </li>
      ))}
    </ol>
  );
}
