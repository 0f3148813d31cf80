// @vitest-environment jsdom
// The calls go through Tauri's own IPC mock (`@tauri-apps/api/mocks`) in place
// of the webview's bridge, because the Rust shell cannot run inside Vitest.
// The shell's commands have their own tests on the Rust side.

import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, describe, expect, it } from "vitest";
import * as api from "../src/api";
import { BackendError, decodeError } from "../src/api";

afterEach(() => clearMocks());

describe("decodeError", () => {
  it("keeps a shell error with a known code", () => {
    expect(decodeError({ code: "no_session", message: "no tab is attached; attach to one in Connect" })).toEqual({
      code: "no_session",
      message: "no tab is attached; attach to one in Connect",
    });
  });

  it("maps an unknown code to internal and keeps it in the message", () => {
    expect(decodeError({ code: "weird", message: "x failed" })).toEqual({
      code: "internal",
      message: "(code weird) x failed",
    });
  });

  it("explains a command the shell does not have", () => {
    const error = decodeError("command startRepro not found");
    expect(error.code).toBe("internal");
    expect(error.message).toContain("'startRepro'");
    expect(error.message).toContain("leakscope command line");
  });

  it("keeps other plain-string rejections as they are", () => {
    expect(decodeError("invalid args `t` for command `valuesAt`")).toEqual({
      code: "internal",
      message: "invalid args `t` for command `valuesAt`",
    });
  });

  it("takes the message of a thrown Error", () => {
    expect(decodeError(new Error("bridge gone"))).toEqual({ code: "internal", message: "bridge gone" });
  });

  it("names the command when the rejection carries nothing", () => {
    expect(decodeError(undefined, "chart").message).toContain("'chart'");
    expect(decodeError(42).code).toBe("internal");
  });

  it("passes a BackendError through unchanged", () => {
    const error = new BackendError({ code: "busy", message: "a snapshot is being taken; wait for it or cancel it" });
    expect(decodeError(error)).toEqual({ code: "busy", message: "a snapshot is being taken; wait for it or cancel it" });
  });
});

describe("commands", () => {
  it("sends camelCase arguments and returns the result", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((command, args) => {
      calls.push([command, args]);
      return { id: "T1", title: "t", url: "u" };
    });
    await api.attach("http://127.0.0.1:9222", "T1");
    expect(calls[0]).toEqual(["attach", { endpoint: "http://127.0.0.1:9222", targetId: "T1" }]);
  });

  it("leaves out optional arguments that are not given", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((command, args) => {
      calls.push([command, args]);
      return null;
    });
    await api.chart({ width: 800, height: 320 });
    await api.exportBundle();
    await api.takeSnapshot(false);
    expect(calls[0]?.[1]).toEqual({ width: 800, height: 320 });
    expect(calls[1]?.[1]).toEqual({});
    expect(calls[2]?.[1]).toEqual({ gc: false });
  });

  it("rejects with a BackendError that carries the code", async () => {
    mockIPC(() => {
      throw { code: "attach_failed", message: "target T9 not found; refresh the tab list" };
    });
    const failure = api.attach("http://127.0.0.1:9222", "T9");
    await expect(failure).rejects.toBeInstanceOf(BackendError);
    await expect(failure).rejects.toMatchObject({ code: "attach_failed", message: "target T9 not found; refresh the tab list" });
  });

  it("delivers event payloads to subscribers", async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const seen: number[] = [];
    const unlisten = await api.onSnapshotProgress((event) => seen.push(event.done));
    const { emit } = await import("@tauri-apps/api/event");
    await emit("snapshot-progress", { done: 3, total: 10, bytes: 100, phase: "capture" });
    unlisten();
    await emit("snapshot-progress", { done: 4, total: 10, bytes: 100, phase: "capture" });
    expect(seen).toEqual([3]);
  });
});

describe("isReproError", () => {
  it("tells an error payload from a report", () => {
    expect(api.isReproError({ error: { code: "cancelled", message: "cancelled" } })).toBe(true);
    expect(api.isReproError({ verdict: "leak", iterations: 7, measures: [], candidates: [] })).toBe(false);
  });
});
