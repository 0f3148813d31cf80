// @vitest-environment jsdom
// The whole app in a DOM (jsdom) against Tauri's IPC mock, which replaces
// the Rust shell because the shell cannot run inside Vitest. Each test drives
// the app through its data-testid hooks, as the end-to-end tests do.

import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { render } from "preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { AppContext } from "../src/context";
import * as api from "../src/api";
import type { SessionInfo } from "../src/contract";
import { initialState, type AppState } from "../src/state";
import { createStore, type Store } from "../src/store";
import { liveView, poll } from "./fixtures";

const session: SessionInfo = {
  target: { id: "T1", title: "Demo editor", url: "http://127.0.0.1:9000/" },
  recordingPath: "/tmp/leakscope/recordings/demo.jsonl",
  startedAtMs: 0,
  agentInstalled: true,
  agentLate: false,
};

let root: HTMLElement | undefined;

/** Waits for a condition with a deadline that allows for a loaded machine. */
function until(check: () => void): Promise<void> {
  return vi.waitFor(check, { timeout: 5000, interval: 20 });
}

afterEach(() => {
  if (root) {
    render(null, root);
    root.remove();
    root = undefined;
  }
  clearMocks();
  window.location.hash = "";
});

/** Mounts the app on a store that renders on the next macrotask. */
function mountApp(initial: AppState = initialState): { store: Store; root: HTMLElement } {
  const store = createStore(initial, (flush) => setTimeout(flush, 0));
  const container = document.createElement("div");
  document.body.append(container);
  root = container;
  const context = { dispatch: store.dispatch };
  store.subscribe((state) =>
    render(
      <AppContext.Provider value={context}>
        <App state={state} />
      </AppContext.Provider>,
      container,
    ),
  );
  return { store, root: container };
}

function byTestId(container: HTMLElement, id: string): HTMLElement | null {
  return container.querySelector(`[data-testid="${id}"]`);
}

/** Installs a backend that serves each command from `handlers`, rejecting unknown ones as Tauri does. */
function backend(handlers: Record<string, (args: Record<string, unknown>) => unknown>) {
  const calls: { command: string; args: Record<string, unknown> }[] = [];
  mockIPC(
    (command, args) => {
      const input = (args ?? {}) as Record<string, unknown>;
      calls.push({ command, args: input });
      const handler = handlers[command];
      if (handler === undefined) {
        throw `command ${command} not found`;
      }
      return handler(input);
    },
    { shouldMockEvents: true },
  );
  return calls;
}

const idleConnect = {
  discover: () => ({
    browsers: [
      {
        endpoint: "http://127.0.0.1:9222",
        source: "port",
        sourceDetail: "port 9222",
        tabs: [{ id: "T1", title: "Demo editor", url: "http://127.0.0.1:9000/" }],
      },
    ],
    hints: [],
  }),
  recentFiles: () => [],
};

describe("Connect", () => {
  it("lists tabs and attaches to the clicked one", async () => {
    const calls = backend({
      ...idleConnect,
      attach: () => session,
      liveView: () => liveView(1),
      chart: () => ({ svg: "<svg xmlns='http://www.w3.org/2000/svg'/>", fromT: 0, toT: 1, plot: { left: 0, top: 0, width: 1, height: 1 }, lanes: [] }),
    });
    const { root: app, store } = mountApp();
    await until(() => expect(byTestId(app, "btn-attach")).not.toBeNull());
    byTestId(app, "btn-attach")?.click();

    await until(() => expect(byTestId(app, "view-live")).not.toBeNull());
    expect(calls.find((call) => call.command === "attach")?.args).toEqual({ endpoint: "http://127.0.0.1:9222", targetId: "T1" });
    expect(store.getState().session?.recordingPath).toBe(session.recordingPath);
  });

  it("shows the steps when no browser is found", async () => {
    backend({ discover: () => ({ browsers: [], hints: ["Quit Chrome.", "Start it with --remote-debugging-port=9222."] }), recentFiles: () => [] });
    const { root: app } = mountApp();
    await until(() => expect(app.querySelectorAll('[data-testid="hint"]')).toHaveLength(2));
    expect(byTestId(app, "hints")?.tagName).toBe("OL");
  });

  it("shows an attach failure with its code", async () => {
    backend({
      ...idleConnect,
      attach: () => {
        throw { code: "attach_failed", message: "target T1 closed; refresh the tab list" };
      },
    });
    const { root: app } = mountApp();
    await until(() => expect(byTestId(app, "btn-attach")).not.toBeNull());
    byTestId(app, "btn-attach")?.click();

    await until(() => expect(byTestId(app, "notice-error")).not.toBeNull());
    expect(byTestId(app, "notice-error")?.getAttribute("data-code")).toBe("attach_failed");
    expect(byTestId(app, "notice-error")?.textContent).toContain("target T1 closed");
    expect(byTestId(app, "view-connect")).not.toBeNull();
  });

  it("opens a recent file in Replay without a dialog", async () => {
    const calls = backend({
      discover: () => ({ browsers: [], hints: [] }),
      recentFiles: () => [{ path: "/tmp/b.zip", kind: "bundle", bytes: 10, modifiedMs: 0, title: "Demo" }],
      openReplay: (args) => ({ path: args.path, target: session.target, durationS: 30, snapshots: [] }),
      replayView: (args) => liveView(Number(args.t), { state: "replay" }),
      chart: () => ({ svg: "<svg xmlns='http://www.w3.org/2000/svg'/>", fromT: 0, toT: 30, plot: { left: 0, top: 0, width: 1, height: 1 }, lanes: [] }),
    });
    const { root: app } = mountApp();
    await until(() => expect(byTestId(app, "recent-file")).not.toBeNull());
    byTestId(app, "recent-file")?.click();

    await until(() => expect(byTestId(app, "replay-scrubber")).not.toBeNull());
    await until(() => expect(byTestId(app, "counter-heap")).not.toBeNull());
    expect(calls.find((call) => call.command === "openReplay")?.args).toEqual({ path: "/tmp/b.zip" });
    expect(calls.find((call) => call.command === "replayView")?.args).toEqual({ t: 30 });
    expect(calls.some((call) => call.command === "pickOpenPath")).toBe(false);
  });
});

describe("Live", () => {
  const liveBackend = {
    liveView: () => liveView(1),
    chart: () => ({ svg: "<svg xmlns='http://www.w3.org/2000/svg'/>", fromT: 0, toT: 1, plot: { left: 0, top: 0, width: 1, height: 1 }, lanes: [] }),
  };

  function attachedState(): AppState {
    return { ...initialState, view: "live", session, connection: { state: "attached" } };
  }

  it("shows counters and polls from live events", async () => {
    backend(liveBackend);
    const { root: app, store } = mountApp(attachedState());
    await api.onLive((view) => store.dispatch({ type: "live", view }));
    await emit("live", liveView(5, { polls: [poll(1, 40, ["runaway"]), poll(2, 3)], losses: { undecoded: 2, dropped: 7 } }));

    await until(() => expect(byTestId(app, "live-dropped")?.getAttribute("data-value")).toBe("7"));
    expect(byTestId(app, "counter-heap")?.getAttribute("data-value")).toBe("10000000");
    expect(byTestId(app, "live-undecoded")?.getAttribute("data-value")).toBe("2");
    expect(app.querySelectorAll('[data-testid="polls-table-row"]')).toHaveLength(2);
    expect(byTestId(app, "poll-flag")?.textContent).toBe("runaway");
  });

  it("updates counters as live events arrive", async () => {
    backend(liveBackend);
    const { root: app, store } = mountApp(attachedState());
    store.dispatch({ type: "live", view: liveView(1) });
    await until(() => expect(byTestId(app, "counter-timers")?.getAttribute("data-value")).toBe("2"));
    const base = liveView(2);
    store.dispatch({ type: "live", view: { ...base, counters: { ...base.counters, timersLive: 9 } } });
    await until(() => expect(byTestId(app, "counter-timers")?.getAttribute("data-value")).toBe("9"));
  });

  it("stops the session and shows the summary", async () => {
    const calls = backend({
      ...liveBackend,
      ...idleConnect,
      detach: () => ({ recordingPath: session.recordingPath, durationS: 12, samples: 12, verdict: "leak" }),
    });
    const { root: app, store } = mountApp(attachedState());
    store.dispatch({ type: "live", view: liveView(1) });
    await until(() => expect(byTestId(app, "btn-stop")).not.toBeNull());
    byTestId(app, "btn-stop")?.click();

    await until(() => expect(byTestId(app, "stop-summary")).not.toBeNull());
    expect(byTestId(app, "stop-verdict")?.textContent).toBe("leak");
    expect(calls.some((call) => call.command === "detach")).toBe(true);
    expect(store.getState().session).toBeUndefined();
  });

  it("rejects an empty marker label without calling the backend", async () => {
    const calls = backend(liveBackend);
    const { root: app, store } = mountApp(attachedState());
    store.dispatch({ type: "live", view: liveView(1) });
    await until(() => expect(byTestId(app, "btn-add-marker")).not.toBeNull());
    byTestId(app, "btn-add-marker")?.click();

    await until(() => expect(byTestId(app, "notice-error")?.getAttribute("data-code")).toBe("bad_input"));
    expect(calls.some((call) => call.command === "addMarker")).toBe(false);
  });

  it("shows snapshot progress and cancels it", async () => {
    let rejectSnapshot: (error: unknown) => void = () => undefined;
    const calls = backend({
      ...liveBackend,
      takeSnapshot: () =>
        new Promise((_, reject) => {
          rejectSnapshot = reject;
        }),
      cancelSnapshot: () => {
        rejectSnapshot({ code: "cancelled", message: "the snapshot was cancelled" });
        return null;
      },
    });
    const { root: app, store } = mountApp(attachedState());
    await api.onSnapshotProgress((progress) => store.dispatch({ type: "snapshot-progress", progress }));
    store.dispatch({ type: "live", view: liveView(1) });
    await until(() => expect(byTestId(app, "btn-snapshot")).not.toBeNull());
    byTestId(app, "btn-snapshot")?.click();
    await until(() => expect(byTestId(app, "snapshot-progress")).not.toBeNull());
    await emit("snapshot-progress", { done: 5, total: 10, bytes: 2048, phase: "capture" });

    await until(() => expect(byTestId(app, "snapshot-progress-label")?.textContent).toBe("capture 2.00 KB"));
    byTestId(app, "snapshot-progress-cancel")?.click();
    await until(() => expect(byTestId(app, "btn-snapshot")).not.toBeNull());
    expect(calls.find((call) => call.command === "takeSnapshot")?.args).toEqual({ gc: true });
    expect(byTestId(app, "notice-info")?.textContent).toContain("cancelled");
    expect(byTestId(app, "notice-error")).toBeNull();
  });
});

describe("Repro", () => {
  it("shows the error when the shell has no repro command", async () => {
    backend({});
    const { root: app } = mountApp({ ...initialState, view: "repro", session });
    const type = (id: string, text: string) => {
      const field = byTestId(app, id) as HTMLTextAreaElement;
      field.value = text;
      field.dispatchEvent(new Event("input", { bubbles: true }));
    };
    await until(() => expect(byTestId(app, "repro-action")).not.toBeNull());
    type("repro-action", "open()");
    type("repro-undo", "close()");
    await new Promise((resolve) => setTimeout(resolve, 0));
    byTestId(app, "btn-repro-start")?.click();

    await until(() => expect(byTestId(app, "repro-error")).not.toBeNull());
    expect(byTestId(app, "repro-error")?.textContent).toContain("'startRepro'");
    expect(byTestId(app, "btn-repro-start")).not.toBeNull();
  });
});
