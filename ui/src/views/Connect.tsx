// The Connect view: debuggable browsers and their tabs with Attach, launching
// Chrome with its own profile, the built-in demo editor, opening a bundle and
// the recent files. When no browser is found it shows the backend's steps for
// making Chrome debuggable on this system.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import type { BrowserEntry, DemoFlow, DemoVariant, Discovery, RecentFile, StopSummary } from "../contract";
import { useDispatch, useRunner } from "../context";
import { formatBytes, formatDate, formatDuration, formatCount } from "../format";

const FLOWS: { id: DemoFlow; label: string }[] = [
  { id: "video", label: "Video generation" },
  { id: "suno", label: "Suno audio" },
  { id: "upscale", label: "Video upscale" },
  { id: "audio", label: "Generate audio for video" },
];

export function Connect({ lastStop }: { lastStop?: StopSummary }) {
  const run = useRunner();
  const [discovery, setDiscovery] = useState<Discovery | undefined>(undefined);
  const [discovering, setDiscovering] = useState(false);
  const [busy, setBusy] = useState<string | undefined>(undefined);

  const refresh = async () => {
    setDiscovering(true);
    const found = await run("discover browsers", api.discover);
    setDiscovering(false);
    if (found !== undefined) {
      setDiscovery(found);
    }
  };

  useEffect(() => {
    void refresh();
  }, []);

  const launch = async () => {
    setBusy("launch");
    const browser = await run("launch Chrome", api.launchChrome);
    setBusy(undefined);
    if (browser !== undefined) {
      setDiscovery((current) => ({
        browsers: [browser, ...(current?.browsers ?? []).filter((entry) => entry.endpoint !== browser.endpoint)],
        hints: [],
      }));
    }
  };

  const browsers = discovery?.browsers ?? [];
  return (
    <section class="view connect" data-testid="view-connect">
      {lastStop && <StopCard summary={lastStop} />}
      <div class="connect-grid">
        <div class="panel">
          <div class="panel-head">
            <h2>Browsers</h2>
            <span class="spacer" />
            <button type="button" class="btn" data-testid="btn-discover" disabled={discovering} onClick={refresh}>
              {discovering ? "Looking…" : "Refresh"}
            </button>
            <button type="button" class="btn primary" data-testid="btn-launch-chrome" disabled={busy !== undefined} onClick={launch}>
              {busy === "launch" ? "Launching…" : "Launch Chrome for debugging"}
            </button>
          </div>
          <div data-testid="browser-list">
            {discovery === undefined && discovering && <p class="muted">Looking for debuggable browsers…</p>}
            {browsers.map((browser) => (
              <BrowserCard key={browser.endpoint} browser={browser} />
            ))}
            {discovery !== undefined && browsers.length === 0 && <NoBrowser hints={discovery.hints} />}
          </div>
        </div>
        <div class="side">
          <DemoCard />
          <RecentFiles />
        </div>
      </div>
    </section>
  );
}

function BrowserCard({ browser }: { browser: BrowserEntry }) {
  const run = useRunner();
  const dispatch = useDispatch();
  const [attaching, setAttaching] = useState<string | undefined>(undefined);

  const attach = async (targetId: string) => {
    setAttaching(targetId);
    const session = await run("attach", () => api.attach(browser.endpoint, targetId));
    setAttaching(undefined);
    if (session !== undefined) {
      dispatch({ type: "attached", session });
    }
  };

  return (
    <div class="browser" data-testid="browser" data-endpoint={browser.endpoint}>
      <div class="browser-head">
        <span class="product">{browser.product ?? "Chrome"}</span>
        <span class="mono">{browser.endpoint}</span>
        <span class={`chip source-${browser.source}`} title={browser.sourceDetail}>
          {browser.source === "launched" ? "launched by Leakscope" : browser.sourceDetail}
        </span>
      </div>
      {browser.error && (
        <div class="error-box" data-testid="browser-error">
          {browser.error}
        </div>
      )}
      {browser.tabs.length === 0 && !browser.error && <p class="muted">No open pages in this browser.</p>}
      <ul class="tabs-list">
        {browser.tabs.map((tab) => (
          <li key={tab.id} class="tab-entry" data-testid="tab-entry" data-target-id={tab.id} data-url={tab.url}>
            <Favicon url={tab.faviconUrl} />
            <div class="tab-text">
              <div class="tab-title" title={tab.title}>
                {tab.title || "(untitled)"}
              </div>
              <div class="tab-url mono" title={tab.url}>
                {tab.url}
              </div>
            </div>
            <button
              type="button"
              class="btn primary small"
              data-testid="btn-attach"
              disabled={attaching !== undefined}
              onClick={() => attach(tab.id)}
            >
              {attaching === tab.id ? "Attaching…" : "Attach"}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Shows a tab's favicon, or a placeholder when it fails to load (the CSP may forbid its host). */
function Favicon({ url }: { url?: string }) {
  const [failed, setFailed] = useState(false);
  if (url === undefined || url === "" || failed) {
    return <span class="favicon placeholder" />;
  }
  return <img class="favicon" src={url} alt="" width={16} height={16} onError={() => setFailed(true)} />;
}

function NoBrowser({ hints }: { hints: string[] }) {
  return (
    <div class="no-browser" data-testid="no-browser">
      <p>
        No debuggable Chrome was found. Launch one with the button above, open the demo editor, or make your own Chrome
        debuggable:
      </p>
      {hints.length > 0 && (
        <ol class="hints" data-testid="hints">
          {hints.map((hint, index) => (
            <li key={index} data-testid="hint">
              {hint}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function DemoCard() {
  const run = useRunner();
  const dispatch = useDispatch();
  const [variant, setVariant] = useState<DemoVariant>("leaky");
  const [flow, setFlow] = useState<DemoFlow>("video");
  const [pollInterval, setPollInterval] = useState("");
  const [cycles, setCycles] = useState(true);
  const [opening, setOpening] = useState(false);

  const open = async (event: Event) => {
    event.preventDefault();
    const params: Record<string, string> = {};
    const trimmed = pollInterval.trim();
    if (trimmed !== "") {
      if (!/^\d+$/.test(trimmed) || Number(trimmed) <= 0) {
        dispatch({
          type: "error",
          action: "open demo editor",
          error: { code: "bad_input", message: `invalid poll interval "${trimmed}"; give a whole number of milliseconds, such as 300` },
        });
        return;
      }
      params.interval = trimmed;
    }
    if (!cycles) {
      // For a repro run: only the run opens panels, and jobs never finish,
      // as a real generation job outlasts the run.
      params.cycles = "0";
      params.job = "never";
    }
    setOpening(true);
    const session = await run("open demo editor", () =>
      api.openDemo({ variant, flow, params: Object.keys(params).length > 0 ? params : undefined }),
    );
    setOpening(false);
    if (session !== undefined) {
      dispatch({ type: "attached", session });
    }
  };

  return (
    <form class="panel demo" data-testid="demo-card" onSubmit={open}>
      <div class="panel-head">
        <h2>Demo editor</h2>
      </div>
      <p class="muted">A built-in editor that polls generation jobs; the leaky variant never stops its polls.</p>
      <div class="form-row">
        <label>
          Variant
          <select data-testid="demo-variant" value={variant} onChange={(event) => setVariant((event.currentTarget as HTMLSelectElement).value as DemoVariant)}>
            <option value="leaky">leaky</option>
            <option value="fixed">fixed</option>
          </select>
        </label>
        <label>
          Flow
          <select data-testid="demo-flow" value={flow} onChange={(event) => setFlow((event.currentTarget as HTMLSelectElement).value as DemoFlow)}>
            {FLOWS.map((option) => (
              <option key={option.id} value={option.id}>
                {option.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Poll interval (ms)
          <input
            type="text"
            inputMode="numeric"
            data-testid="demo-interval"
            placeholder="300"
            value={pollInterval}
            onInput={(event) => setPollInterval((event.currentTarget as HTMLInputElement).value)}
          />
        </label>
      </div>
      <label class="check">
        <input
          type="checkbox"
          data-testid="demo-cycles"
          checked={cycles}
          onChange={(event) => setCycles((event.currentTarget as HTMLInputElement).checked)}
        />
        Open and close panels by itself (turn off for a repro run: then jobs never finish)
      </label>
      <button type="submit" class="btn primary" data-testid="btn-open-demo" disabled={opening}>
        {opening ? "Starting demo and Chromium…" : "Open demo editor"}
      </button>
    </form>
  );
}

function RecentFiles() {
  const run = useRunner();
  const dispatch = useDispatch();
  const [files, setFiles] = useState<RecentFile[] | undefined>(undefined);
  const [opening, setOpening] = useState<string | undefined>(undefined);

  const load = async () => {
    const list = await run("list recent files", api.recentFiles);
    if (list !== undefined) {
      setFiles(list);
    }
  };

  useEffect(() => {
    void load();
  }, []);

  const open = async (path: string) => {
    setOpening(path);
    const info = await run("open replay", () => api.openReplay(path));
    setOpening(undefined);
    if (info !== undefined) {
      dispatch({ type: "replay-opened", info });
    }
  };

  const pick = async () => {
    const path = await run("open bundle", api.pickOpenPath);
    if (path) {
      await open(path);
    }
  };

  return (
    <div class="panel recent">
      <div class="panel-head">
        <h2>Recordings and bundles</h2>
        <span class="spacer" />
        <button type="button" class="btn small" data-testid="btn-recent-refresh" onClick={load}>
          Refresh
        </button>
        <button type="button" class="btn" data-testid="btn-open-bundle" disabled={opening !== undefined} onClick={pick}>
          Open bundle…
        </button>
      </div>
      <ul class="recent-list" data-testid="recent-files">
        {files !== undefined && files.length === 0 && <li class="muted">No recordings or bundles yet.</li>}
        {(files ?? []).map((file) => (
          <li key={file.path}>
            <button
              type="button"
              class="recent-file"
              data-testid="recent-file"
              data-path={file.path}
              data-kind={file.kind}
              disabled={opening !== undefined}
              title={file.path}
              onClick={() => open(file.path)}
            >
              <span class={`chip kind-${file.kind}`}>{file.kind}</span>
              <span class="recent-title">{opening === file.path ? "Opening…" : file.title || file.path}</span>
              <span class="muted">{formatBytes(file.bytes)}</span>
              <span class="muted">{formatDate(file.modifiedMs)}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function StopCard({ summary }: { summary: StopSummary }) {
  const run = useRunner();
  const dispatch = useDispatch();
  const open = async () => {
    const info = await run("open replay", () => api.openReplay(summary.recordingPath));
    if (info !== undefined) {
      dispatch({ type: "replay-opened", info });
    }
  };
  return (
    <div class="panel stop-card" data-testid="stop-summary">
      <b>Session stopped.</b> Recorded {formatDuration(summary.durationS)}, {formatCount(summary.samples)} samples, verdict{" "}
      <span class={`chip verdict verdict-${summary.verdict}`} data-testid="stop-verdict">
        {summary.verdict}
      </span>
      <span class="mono muted" data-testid="stop-recording-path">
        {summary.recordingPath}
      </span>
      <button type="button" class="btn small" data-testid="btn-open-stopped" onClick={open}>
        Open in Replay
      </button>
    </div>
  );
}
