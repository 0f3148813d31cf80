// @vitest-environment jsdom
// Behaviour of the view helpers and of the table in a real DOM (jsdom).

import { render } from "preact";
import { act } from "preact/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { sanitizeSvg, summarisePolls } from "../src/components/Chart";
import { type Column, Table } from "../src/components/Table";
import { suggestedBundleName } from "../src/views/Live";
import { demoSteps, measureFormatter, parseReproForm, toRetainerSteps } from "../src/views/Repro";
import { orderByTime } from "../src/views/Snapshots";

let root: HTMLElement | undefined;

afterEach(() => {
  if (root) {
    render(null, root);
    root.remove();
    root = undefined;
  }
});

function mount(node: preact.ComponentChild): HTMLElement {
  root = document.createElement("div");
  document.body.append(root);
  act(() => render(node, root as HTMLElement));
  return root;
}

interface Row {
  site: string;
  live: number;
}

const columns: Column<Row>[] = [
  { key: "site", label: "Site", value: (row) => row.site },
  { key: "live", label: "Live", value: (row) => row.live, numeric: true },
];

const rows: Row[] = [
  { site: "b.js", live: 2 },
  { site: "a.js", live: 9 },
  { site: "c.js", live: 5 },
];

function shownSites(container: HTMLElement): string[] {
  return [...container.querySelectorAll('[data-testid="t-row"]')].map((row) => row.getAttribute("data-key") ?? "");
}

describe("Table", () => {
  it("sorts by the default column", () => {
    const container = mount(<Table testid="t" rows={rows} columns={columns} rowKey={(row) => row.site} defaultSort={{ key: "live", direction: "desc" }} empty="none" />);
    expect(shownSites(container)).toEqual(["a.js", "c.js", "b.js"]);
  });

  it("sorts by a clicked header and flips on a second click", () => {
    const container = mount(<Table testid="t" rows={rows} columns={columns} rowKey={(row) => row.site} empty="none" />);
    const header = container.querySelector('[data-testid="t-sort-site"]') as HTMLElement;
    act(() => header.click());
    expect(shownSites(container)).toEqual(["a.js", "b.js", "c.js"]);
    act(() => header.click());
    expect(shownSites(container)).toEqual(["c.js", "b.js", "a.js"]);
    expect(header.getAttribute("aria-sort")).toBe("descending");
  });

  it("caps the rows and says how many are hidden", () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ site: `s${i}.js`, live: i }));
    const container = mount(<Table testid="t" rows={many} columns={columns} rowKey={(row) => row.site} limit={5} empty="none" />);
    expect(shownSites(container)).toHaveLength(5);
    expect(container.querySelector('[data-testid="t-hidden"]')?.textContent).toContain("7 more rows");
  });

  it("shows the empty text without rows", () => {
    const container = mount(<Table testid="t" rows={[]} columns={columns} rowKey={(row) => row.site} empty="no timers seen yet" />);
    expect(container.querySelector('[data-testid="t-empty"]')?.textContent).toBe("no timers seen yet");
  });

  it("reports row clicks and marks the selected row", () => {
    const clicked: string[] = [];
    const container = mount(
      <Table testid="t" rows={rows} columns={columns} rowKey={(row) => row.site} selectedKey="c.js" onRowClick={(row) => clicked.push(row.site)} empty="none" />,
    );
    const row = container.querySelector('[data-key="a.js"]') as HTMLElement;
    act(() => row.click());
    expect(clicked).toEqual(["a.js"]);
    expect(container.querySelector('[data-key="c.js"]')?.classList.contains("selected")).toBe(true);
  });
});

describe("sanitizeSvg", () => {
  it("removes scripts, foreign objects and event handlers", () => {
    const dirty =
      '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300" onload="alert(1)"><script>alert(2)</script>' +
      '<foreignObject><div>x</div></foreignObject><rect width="10" height="10" onclick="alert(3)"/>' +
      '<a href="javascript:alert(4)"><text>t</text></a></svg>';
    const clean = sanitizeSvg(dirty, 400, 300);
    expect(clean).not.toContain("script");
    expect(clean).not.toContain("foreignObject");
    expect(clean).not.toContain("onload");
    expect(clean).not.toContain("onclick");
    expect(clean).not.toContain("javascript:");
    expect(clean).toContain("<rect");
  });

  it("adds a viewBox from the size and drops the fixed size", () => {
    const clean = sanitizeSvg('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"></svg>', 1, 1);
    expect(clean).toContain('viewBox="0 0 400 300"');
    expect(clean).not.toContain('width="400"');
  });

  it("returns nothing for a document that is not an SVG", () => {
    expect(sanitizeSvg("<html></html>", 10, 10)).toBe("");
  });
});

describe("view helpers", () => {
  it("summarises poll states by count", () => {
    expect(summarisePolls([{ state: "active" }, { state: "active" }, { state: "complete" }])).toBe("2 active, 1 complete");
  });

  it("builds a file-safe bundle name", () => {
    const name = suggestedBundleName("Video editor – project Sunset!", new Date(2026, 11, 4, 9, 5, 7).getTime());
    expect(name).toBe("leakscope-video-editor-project-sunset-20261204-090507.zip");
    expect(suggestedBundleName("???", 0)).toMatch(/^leakscope-tab-/);
  });

  it("orders two picked snapshots by capture time", () => {
    const entries = [
      { id: "late", path: "", bytes: 0, takenAtMs: 2000, durationMs: 0, gc: true, label: "" },
      { id: "early", path: "", bytes: 0, takenAtMs: 1000, durationMs: 0, gc: true, label: "" },
    ];
    expect(orderByTime(["late", "early"], entries)).toEqual(["early", "late"]);
  });

  it("formats byte measures as sizes and others as counts", () => {
    expect(measureFormatter("bytes")(2048)).toBe("2.00 KB");
    expect(measureFormatter("count")(2048)).toBe("2,048");
  });

  it("converts report path steps, with an empty edge for the root", () => {
    const steps = toRetainerSteps([
      { edge: null, edge_type: null, node_type: "synthetic", name: "(GC roots)", node_id: 1 },
      { edge: "job", edge_type: "context", node_type: "object", name: "PollJob", node_id: 7 },
    ]);
    expect(steps[0]).toMatchObject({ edge: "", edgeType: "", name: "(GC roots)", nodeId: 1 });
    expect(steps[1]).toMatchObject({ edge: "job", edgeType: "context", nodeType: "object", nodeId: 7 });
  });
});

describe("parseReproForm", () => {
  const base = { action: "openPanel()", undo: "closePanel()", iterations: "7", warmup: "1" };

  it("builds settings from valid fields", () => {
    expect(parseReproForm(base)).toEqual({ action: "openPanel()", undo: "closePanel()", iterations: 7, warmup: 1 });
  });

  it("uses the defaults for empty numbers", () => {
    expect(parseReproForm({ ...base, iterations: "", warmup: " " })).toEqual({ action: "openPanel()", undo: "closePanel()", iterations: 7, warmup: 1 });
  });

  it("rejects an empty action or undo", () => {
    expect(parseReproForm({ ...base, action: "  " })).toEqual({ invalid: expect.stringContaining("action is empty") });
    expect(parseReproForm({ ...base, undo: "" })).toEqual({ invalid: expect.stringContaining("undo is empty") });
  });

  it("passes steps and expressions through for the backend to read", () => {
    expect(parseReproForm({ ...base, action: '[{"click": "#open"}]' })).toMatchObject({ action: '[{"click": "#open"}]' });
    expect(parseReproForm({ ...base, action: "[1, 2].forEach(open)" })).toMatchObject({ action: "[1, 2].forEach(open)" });
  });

  it("rejects iteration counts out of range or not whole", () => {
    expect(parseReproForm({ ...base, iterations: "1" })).toEqual({ invalid: expect.stringContaining('iterations "1"') });
    expect(parseReproForm({ ...base, iterations: "2.5" })).toEqual({ invalid: expect.stringContaining("whole number") });
    expect(parseReproForm({ ...base, warmup: "-1" })).toEqual({ invalid: expect.stringContaining("warm-up") });
  });
});

describe("demoSteps", () => {
  it("gives the flow's panel steps for the demo editor", () => {
    const steps = demoSteps("http://127.0.0.1:41765/?variant=leaky&flow=suno&cycles=0");
    expect(steps).toBeDefined();
    expect(JSON.parse(steps!.action)).toEqual([
      { click: "#open-suno" },
      { click: "#generate-suno" },
      { waitFor: "#status-suno.processing" },
    ]);
    expect(JSON.parse(steps!.undo)).toEqual([{ click: "#close-suno" }]);
  });

  it("maps the audio flow to its minimax panel", () => {
    const steps = demoSteps("http://127.0.0.1:9/?variant=fixed&flow=audio");
    expect(JSON.parse(steps!.undo)).toEqual([{ click: "#close-minimax" }]);
  });

  it("offers nothing for other pages, all flows or remote hosts", () => {
    expect(demoSteps("http://127.0.0.1:9/?variant=leaky&flow=all")).toBeUndefined();
    expect(demoSteps("http://127.0.0.1:9/?flow=video")).toBeUndefined();
    expect(demoSteps("https://editor.example.com/?variant=leaky&flow=video")).toBeUndefined();
    expect(demoSteps("http://127.0.0.1:9/app/?variant=leaky&flow=video")).toBeUndefined();
    expect(demoSteps("not a url")).toBeUndefined();
  });
});
