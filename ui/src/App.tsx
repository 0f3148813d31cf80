// The app shell: the navigation bar, the notices and the current view. It
// receives the whole state from the store and hands each view only the parts
// it shows, so memoised parts skip renders when their inputs did not change.

import { useDispatch } from "./context";
import { Notices } from "./components/Notices";
import { formatClock } from "./format";
import type { AppState, ViewName } from "./state";
import { Connect } from "./views/Connect";
import { Live } from "./views/Live";
import { Replay } from "./views/Replay";
import { Repro } from "./views/Repro";
import { Snapshots } from "./views/Snapshots";

const NAV: { view: ViewName; label: string }[] = [
  { view: "connect", label: "Connect" },
  { view: "live", label: "Live" },
  { view: "snapshots", label: "Snapshots" },
  { view: "replay", label: "Replay" },
  { view: "repro", label: "Repro" },
];

export function App({ state }: { state: AppState }) {
  const dispatch = useDispatch();
  const connection = state.live?.state === "ended" ? "ended" : state.connection?.state;
  return (
    <div class="app">
      <nav class="nav" data-testid="nav">
        <span class="brand">Leakscope</span>
        {NAV.map((item) => (
          <button
            type="button"
            key={item.view}
            class={`nav-item ${state.view === item.view ? "active" : ""}`}
            aria-current={state.view === item.view ? "page" : undefined}
            data-testid={`nav-${item.view}`}
            onClick={() => dispatch({ type: "navigate", view: item.view })}
          >
            {item.label}
          </button>
        ))}
        <span class="spacer" />
        {state.session && (
          <span class={`nav-status state-${connection ?? "attached"}`} data-testid="nav-session" title={state.session.target.url}>
            ● {connection ?? "attached"} · {state.session.target.title || state.session.target.url} · {formatClock(state.live?.t ?? 0)}
          </span>
        )}
        {!state.session && state.replay && (
          <span class="nav-status state-replay" data-testid="nav-replay">
            replay · {state.replay.target.title || state.replay.path}
          </span>
        )}
      </nav>
      <Notices notices={state.notices} />
      <main class="main">{renderView(state)}</main>
    </div>
  );
}

function renderView(state: AppState) {
  switch (state.view) {
    case "connect":
      return <Connect lastStop={state.lastStop} />;
    case "live":
      return (
        <Live
          session={state.session}
          connection={state.connection}
          view={state.live}
          tab={state.liveTab}
          snapshotRunning={state.snapshotRunning}
          snapshotProgress={state.snapshotProgress}
        />
      );
    case "snapshots": {
      const source = state.session?.recordingPath ?? state.replay?.path;
      const known = state.session ? (state.live?.snapshots ?? []) : (state.replay?.snapshots ?? []);
      return (
        <Snapshots
          source={source}
          known={known}
          canCapture={state.session !== undefined && state.live?.state !== "ended"}
          snapshotRunning={state.snapshotRunning}
          snapshotProgress={state.snapshotProgress}
        />
      );
    }
    case "replay":
      return <Replay info={state.replay} view={state.replayView} tab={state.liveTab} />;
    case "repro":
      return <Repro run={state.repro} attached={state.session !== undefined && state.live?.state !== "ended"} targetUrl={state.session?.target.url} />;
  }
}
