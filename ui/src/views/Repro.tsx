// The Repro panel runs an action and its undo a number of times on the
// attached tab and shows each iteration's progress. The result lists the
// measures that grow per iteration and the leak candidates with their
// retainer paths, with links to the Snapshots and Polls views. The run's events are kept in the
// app state, so leaving this view does not lose them.

import { useState } from "preact/hooks";
import * as api from "../api";
import type { ReproCandidate, ReproMeasure, ReproPathStep, ReproReport, RetainerStep } from "../contract";
import type { ReproRun } from "../state";
import { useDispatch } from "../context";
import { ErrorBox } from "../components/Notices";
import { Progress } from "../components/Progress";
import { formatBytes, formatBytesDelta, formatCount } from "../format";
import { RetainerPathList } from "./Snapshots";

/** Iterations by default: a multiple-of-N filter needs N above the noise of one-off allocations. */
const DEFAULT_ITERATIONS = 7;
const DEFAULT_WARMUP = 1;
const MAX_ITERATIONS = 100;
const MAX_WARMUP = 20;

export interface ReproFormValues {
  action: string;
  undo: string;
  iterations: string;
  warmup: string;
}

/**
 * Checks the form and builds the settings, or returns the message of the first
 * invalid field. The steps themselves are checked by the backend, which
 * reads a JSON list (or one step object) as steps and any other text as a
 * JavaScript expression, and names the step at fault.
 */
export function parseReproForm(values: ReproFormValues): api.ReproSettings | { invalid: string } {
  const action = values.action.trim();
  const undo = values.undo.trim();
  if (action === "") {
    return { invalid: "the action is empty; give a JavaScript expression or a JSON list of steps" };
  }
  if (undo === "") {
    return { invalid: "the undo is empty; give the expression or steps that reverse the action" };
  }
  const iterations = wholeNumber(values.iterations, DEFAULT_ITERATIONS);
  if (iterations === undefined || iterations < 2 || iterations > MAX_ITERATIONS) {
    return { invalid: `invalid iterations "${values.iterations}"; give a whole number from 2 to ${MAX_ITERATIONS}` };
  }
  const warmup = wholeNumber(values.warmup, DEFAULT_WARMUP);
  if (warmup === undefined || warmup < 0 || warmup > MAX_WARMUP) {
    return { invalid: `invalid warm-up "${values.warmup}"; give a whole number from 0 to ${MAX_WARMUP}` };
  }
  return { action, undo, iterations, warmup };
}

/** Demo flows by the `flow` URL parameter, with the element ids of their panel. */
const DEMO_FLOW_IDS: Record<string, string> = {
  video: "video",
  suno: "suno",
  upscale: "upscale",
  minimax: "minimax",
  audio: "minimax",
};

/**
 * Returns the demo editor's built-in action and undo, as `leakscope demo
 * --repro` runs them. The action opens the flow's panel, starts a job and
 * waits for its first status, and the undo closes the panel. Returns
 * undefined when `url` is not the demo editor on a single flow.
 */
export function demoSteps(url: string): { action: string; undo: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const local = parsed.hostname === "127.0.0.1" || parsed.hostname === "localhost";
  const flow = DEMO_FLOW_IDS[parsed.searchParams.get("flow") ?? ""];
  if (!local || parsed.pathname !== "/" || !parsed.searchParams.has("variant") || flow === undefined) {
    return undefined;
  }
  const action = [{ click: `#open-${flow}` }, { click: `#generate-${flow}` }, { waitFor: `#status-${flow}.processing` }];
  const undo = [{ click: `#close-${flow}` }];
  return { action: JSON.stringify(action), undo: JSON.stringify(undo) };
}

function wholeNumber(text: string, fallback: number): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") {
    return fallback;
  }
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

export function Repro(props: { run: ReproRun; attached: boolean; targetUrl?: string }) {
  const dispatch = useDispatch();
  const [values, setValues] = useState<ReproFormValues>({
    action: "",
    undo: "",
    iterations: String(DEFAULT_ITERATIONS),
    warmup: String(DEFAULT_WARMUP),
  });
  const [invalid, setInvalid] = useState<string | undefined>(undefined);
  const run = props.run;

  const field = (name: keyof ReproFormValues) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement | HTMLTextAreaElement).value;
    setValues((current) => ({ ...current, [name]: value }));
  };

  const start = async (event: Event) => {
    event.preventDefault();
    const settings = parseReproForm(values);
    if ("invalid" in settings) {
      setInvalid(settings.invalid);
      return;
    }
    setInvalid(undefined);
    dispatch({ type: "repro-started" });
    try {
      await api.startRepro(settings);
    } catch (raw) {
      dispatch({ type: "repro-failed", error: api.decodeError(raw, "startRepro") });
    }
  };

  const cancel = async () => {
    try {
      await api.cancelRepro();
    } catch (raw) {
      dispatch({ type: "error", action: "cancel repro", error: api.decodeError(raw, "cancelRepro") });
    }
  };

  const demo = props.targetUrl === undefined ? undefined : demoSteps(props.targetUrl);
  const useDemoSteps = () => {
    if (demo !== undefined) {
      setValues((current) => ({ ...current, action: demo.action, undo: demo.undo }));
    }
  };

  const latest = run.progress[run.progress.length - 1];
  return (
    <section class="view repro" data-testid="view-repro">
      <form class="panel repro-form" onSubmit={start}>
        <div class="panel-head">
          <h2>Reproduce a leak</h2>
        </div>
        <p class="muted">
          Leakscope runs the action and its undo on the attached tab, takes a snapshot after the warm-up, after the last
          action and after the last undo, and reports what grows by the same amount each iteration. Each field takes a
          JavaScript expression, or a JSON list of steps such as{" "}
          <code>[{`{"click": "#open-panel"}, {"waitFor": ".job-row"}`}]</code>.
        </p>
        {demo !== undefined && (
          <p class="muted">
            This tab is the demo editor.{" "}
            <button type="button" class="btn small" data-testid="btn-repro-demo-steps" onClick={useDemoSteps}>
              Use the demo's steps
            </button>{" "}
            (open the panel and start a job; undo: close the panel). Open the demo with its own cycles off, so that only
            the run opens panels.
          </p>
        )}
        <label class="block">
          Action
          <textarea data-testid="repro-action" rows={3} value={values.action} placeholder={'document.querySelector("#open-panel").click()'} onInput={field("action")} />
        </label>
        <label class="block">
          Undo
          <textarea data-testid="repro-undo" rows={3} value={values.undo} placeholder={'document.querySelector("#close-panel").click()'} onInput={field("undo")} />
        </label>
        <div class="form-row">
          <label>
            Iterations
            <input type="number" min={2} max={MAX_ITERATIONS} data-testid="repro-iterations" value={values.iterations} onInput={field("iterations")} />
          </label>
          <label>
            Warm-up
            <input type="number" min={0} max={MAX_WARMUP} data-testid="repro-warmup" value={values.warmup} onInput={field("warmup")} />
          </label>
          <span class="spacer" />
          {run.running ? (
            <button type="button" class="btn danger" data-testid="btn-repro-cancel" onClick={cancel}>
              Cancel run
            </button>
          ) : (
            <button type="submit" class="btn primary" data-testid="btn-repro-start" disabled={!props.attached}>
              Start
            </button>
          )}
        </div>
        {!props.attached && <p class="muted">Attach to a tab first; the run drives that tab.</p>}
        {invalid && <ErrorBox error={{ code: "bad_input", message: invalid }} testid="repro-invalid" />}
      </form>

      {(run.running || run.progress.length > 0) && (
        <div class="panel" data-testid="repro-progress">
          {run.running && (
            <Progress
              testid="repro-progress-bar"
              label={latest ? `iteration ${latest.iteration} of ${latest.iterations}: ${latest.step} (${latest.phase})` : "starting…"}
              fraction={latest && latest.iterations > 0 ? (latest.iteration - 1) / latest.iterations : undefined}
              onCancel={cancel}
            />
          )}
          <ul class="repro-iterations">
            {run.progress.map((entry) => (
              <li key={entry.iteration} data-testid="repro-iteration">
                <b>#{entry.iteration}</b> {entry.step} <span class="muted">{entry.phase}</span>
              </li>
            ))}
          </ul>
        </div>
      )}

      {run.error && <ErrorBox error={run.error} testid="repro-error" />}
      {run.report && <ReproResults report={run.report} />}
    </section>
  );
}

function ReproResults({ report }: { report: ReproReport }) {
  const dispatch = useDispatch();
  const growing = report.measures.filter((measure) => measure.growing);
  const steady = report.measures.filter((measure) => !measure.growing);
  const snapshots = report.snapshots;
  return (
    <div class="panel" data-testid="repro-results">
      <div class="panel-head">
        <h2>Result</h2>
        <span class={`chip verdict verdict-${report.verdict}`} data-testid="repro-verdict" data-verdict={report.verdict}>
          {report.verdict.replace(/_/g, " ")}
        </span>
        <span class="muted">
          {formatCount(report.iterations)}
          {report.requested_iterations !== undefined ? ` of ${formatCount(report.requested_iterations)}` : ""} iterations
          {report.warmup ? `, ${report.warmup} warm-up` : ""}
        </span>
        {report.complete === false && (
          <span class="chip bad" data-testid="repro-incomplete">
            incomplete{report.incomplete_reason ? `: ${report.incomplete_reason}` : ""}; results are partial
          </span>
        )}
        <span class="spacer" />
        <button type="button" class="btn small" data-testid="repro-open-snapshots" onClick={() => dispatch({ type: "navigate", view: "snapshots" })}>
          Open in Snapshots
        </button>
        <button type="button" class="btn small" data-testid="repro-open-polls" onClick={() => dispatch({ type: "navigate", view: "live", tab: "polls" })}>
          Show polls
        </button>
      </div>

      <h3>Measures that grow each iteration</h3>
      <MeasureList measures={growing} testid="repro-growing" empty="nothing grows by a steady amount per iteration" />
      {steady.length > 0 && (
        <details>
          <summary>Measures that do not grow ({steady.length})</summary>
          <MeasureList measures={steady} testid="repro-steady" empty="" />
        </details>
      )}

      <h3>Leak candidates</h3>
      {report.verdict === "no-leak" && report.candidates.length > 0 && (
        <p class="muted" data-testid="repro-candidates-noise">
          No measure grows, so these classes are likely the browser's own bookkeeping rather than a leak.
        </p>
      )}
      {report.candidates.length === 0 ? (
        <p class="muted" data-testid="repro-no-candidates">
          No class gained objects in a multiple of the iteration count.
        </p>
      ) : (
        <ul class="candidates" data-testid="repro-candidates">
          {report.candidates.map((candidate, index) => (
            <li key={index} data-testid="repro-candidate" data-class={candidate.class}>
              <b class="mono">{candidate.class}</b>{" "}
              <span class="muted">
                +{formatCount(candidate.count)} objects
                {candidate.per_iteration !== undefined ? `, ${formatCount(candidate.per_iteration)} per iteration` : ""}
                {candidate.size_delta !== undefined ? `, ${formatBytesDelta(candidate.size_delta)}` : ""}
              </span>
              <CandidatePath candidate={candidate} />
            </li>
          ))}
        </ul>
      )}

      {report.timer_sites && report.timer_sites.length > 0 && (
        <>
          <h3>Timers created once per iteration and never cleared</h3>
          <table class="grid" data-testid="repro-timer-sites">
            <thead>
              <tr>
                <th>Creation site</th>
                <th class="num">Live at baseline</th>
                <th class="num">Live at end</th>
                <th class="num">Per iteration</th>
              </tr>
            </thead>
            <tbody>
              {report.timer_sites.map((site) => (
                <tr key={site.site}>
                  <td class="mono ellipsis wide">{site.site}</td>
                  <td class="num">{formatCount(site.live_at_baseline)}</td>
                  <td class="num">{formatCount(site.live_at_end)}</td>
                  <td class="num">+{site.per_iteration.toFixed(1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      {report.polls && report.polls.length > 0 && (
        <>
          <h3>Polls started each iteration and never ended</h3>
          <ul class="candidates" data-testid="repro-polls">
            {report.polls.map((poll) => (
              <li key={`${poll.poll_type} ${poll.endpoint}`}>
                <b class="mono">{poll.endpoint}</b> <span class="muted">({poll.poll_type})</span> {formatCount(poll.count)} still active
                {poll.timer_site && <div class="mono retainer-inline">driven by {poll.timer_site}</div>}
              </li>
            ))}
          </ul>
        </>
      )}

      {report.notes && report.notes.length > 0 && (
        <>
          <h3>Not measured</h3>
          <ul data-testid="repro-notes">
            {report.notes.map((note, index) => (
              <li key={index}>{note}</li>
            ))}
          </ul>
        </>
      )}
      {snapshots && (
        <p class="muted mono" data-testid="repro-snapshot-paths">
          snapshots: baseline {snapshots.baseline ?? "–"} · target {snapshots.target ?? "–"} · final {snapshots.final ?? "–"}
        </p>
      )}
      {report.recording && <p class="muted mono">recording: {report.recording}</p>}
    </div>
  );
}

function MeasureList(props: { measures: ReproMeasure[]; testid: string; empty: string }) {
  if (props.measures.length === 0) {
    return props.empty ? <p class="muted">{props.empty}</p> : null;
  }
  return (
    <table class="grid" data-testid={props.testid}>
      <thead>
        <tr>
          <th>Measure</th>
          <th class="num">Per iteration</th>
          <th>Baseline, then after each iteration</th>
          <th>Why</th>
        </tr>
      </thead>
      <tbody>
        {props.measures.map((measure) => {
          const show = measureFormatter(measure.unit);
          const slope = measure.per_iteration;
          return (
            <tr key={measure.name} data-testid={`${props.testid}-row`} data-key={measure.name}>
              <td class="mono">{measure.name}</td>
              <td class="num">{slope === undefined || slope === null ? "–" : `${slope > 0 ? "+" : ""}${show(slope)}`}</td>
              <td class="mono ellipsis">{measure.values.map(show).join(" → ")}</td>
              <td class="ellipsis wide" title={measure.reason}>
                {measure.reason ?? ""}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Byte measures are shown as sizes, every other unit as a count. */
export function measureFormatter(unit: string): (value: number) => string {
  return unit === "bytes" ? formatBytes : formatCount;
}

/** Converts the report's path steps to the retainer view's steps. */
export function toRetainerSteps(path: readonly ReproPathStep[]): RetainerStep[] {
  return path.map((step) => ({
    nodeId: step.node_id,
    name: step.name,
    nodeType: step.node_type,
    edge: step.edge ?? "",
    edgeType: step.edge_type ?? "",
    selfSize: Number.NaN,
  }));
}

function CandidatePath({ candidate }: { candidate: ReproCandidate }) {
  const path = candidate.retainer_path ?? [];
  if (path.length > 0) {
    return <RetainerPathList paths={{ paths: [toRetainerSteps(path)] }} />;
  }
  if (candidate.retainer_line) {
    return <div class="mono retainer-inline">{candidate.retainer_line}</div>;
  }
  return <div class="muted retainer-inline">no retainer path found</div>;
}
