// Entry point: creates the store, subscribes to the backend's events, keeps
// the URL hash and the current view in step, and renders the app. In a dev
// server opened with `?mock`, a fake backend with canned data is installed
// first; production builds drop that branch (`import.meta.env.DEV` is false).

import { options, render } from "preact";
import * as api from "./api";
import { App } from "./App";
import { AppContext } from "./context";
import { initialState, VIEW_NAMES, type ViewName } from "./state";
import { createStore } from "./store";
import "./styles.css";

async function boot() {
  const params = new URLSearchParams(window.location.search);
  if (import.meta.env.DEV && params.has("mock")) {
    const { installMockBackend } = await import("./dev/mock");
    installMockBackend(params);
  }

  const store = createStore(initialState);
  window.__leakscopeStats = store.stats;
  // Preact batches component updates (sorting, chart fetches, hover) into one
  // deferred pass; timing that pass puts them in the same stats as store renders.
  options.debounceRendering = (pass) =>
    queueMicrotask(() => {
      const started = performance.now();
      pass();
      store.recordRender(performance.now() - started);
    });
  const context = { dispatch: store.dispatch };
  const root = document.getElementById("app");
  if (root === null) {
    throw new Error("index.html has no #app element");
  }

  const viewFromHash = (): ViewName | undefined => {
    const name = window.location.hash.replace(/^#\/?/, "");
    return VIEW_NAMES.find((view) => view === name);
  };
  // Read before the first render, which rewrites the hash to the current view.
  const initial = viewFromHash();
  window.addEventListener("hashchange", () => {
    const view = viewFromHash();
    if (view !== undefined) {
      store.dispatch({ type: "navigate", view });
    }
  });

  store.subscribe((state) => {
    if (viewFromHash() !== state.view) {
      history.replaceState(null, "", `#${state.view}`);
    }
    render(
      <AppContext.Provider value={context}>
        <App state={state} />
      </AppContext.Provider>,
      root,
    );
  });

  await Promise.all([
    api.onLive((view) => store.dispatch({ type: "live", view })),
    api.onSessionState((event) => {
      store.dispatch({ type: "session-state", event });
      if (event.state === "ended") {
        store.dispatch({ type: "info", action: "session", text: `the session ended${event.reason ? `: ${event.reason}` : ""}` });
      }
    }),
    api.onSnapshotProgress((progress) => store.dispatch({ type: "snapshot-progress", progress })),
    api.onReproProgress((progress) => store.dispatch({ type: "repro-progress", progress })),
    api.onReproDone((done) => {
      if (api.isReproError(done)) {
        store.dispatch({ type: "repro-failed", error: api.decodeError(done.error, "startRepro") });
      } else {
        store.dispatch({ type: "repro-done", report: done });
      }
    }),
  ]);

  await restoreSession(store.dispatch);

  if (initial !== undefined) {
    store.dispatch({ type: "navigate", view: initial });
  }
}

/**
 * Restores a session the backend still keeps after a reload of the webview,
 * from its live view. `no_session` is the normal rejection at start.
 */
async function restoreSession(dispatch: (action: import("./state").Action) => void) {
  try {
    const view = await api.liveView();
    dispatch({
      type: "attached",
      session: {
        target: view.target,
        // The live view does not carry the path; the target id keys the chart instead.
        recordingPath: `session:${view.target.id}`,
        startedAtMs: Date.now() - view.t * 1000,
        agentInstalled: view.agent.installed,
        agentLate: view.agent.late,
      },
    });
    dispatch({ type: "live-initial", view });
  } catch (raw) {
    const error = api.decodeError(raw, "liveView");
    if (error.code !== "no_session") {
      dispatch({ type: "error", action: "restore session", error });
    }
  }
}

void boot().catch((raw) => {
  const error = api.decodeError(raw);
  document.body.textContent = `Leakscope failed to start (${error.code}): ${error.message}`;
});
