import { describe, expect, it } from "vitest";
import {
  type Axis,
  chartRequestSize,
  clampRange,
  dragToRange,
  insidePlot,
  MIN_SPAN_S,
  selectionBox,
  tToX,
  xToT,
} from "../src/range";

// A plot area from x = 100 to x = 500 in SVG pixels, covering 10 s to 50 s.
const axis: Axis = { fromT: 10, toT: 50, plot: { left: 100, top: 0, width: 400, height: 200 } };

describe("xToT and tToX", () => {
  it("maps the plot's edges to the axis ends", () => {
    expect(xToT(100, axis)).toBe(10);
    expect(xToT(500, axis)).toBe(50);
  });

  it("maps linearly inside the plot", () => {
    expect(xToT(300, axis)).toBe(30);
    expect(tToX(20, axis)).toBe(200);
  });

  it("clamps positions outside the plot", () => {
    expect(xToT(0, axis)).toBe(10);
    expect(xToT(900, axis)).toBe(50);
    expect(tToX(-5, axis)).toBe(100);
    expect(tToX(99, axis)).toBe(500);
  });

  it("accounts for a scaled display", () => {
    // Shown at half size: displayed x 150 is SVG x 300.
    expect(xToT(150, axis, 0.5)).toBe(30);
    expect(tToX(30, axis, 0.5)).toBe(150);
  });

  it("round-trips", () => {
    for (const t of [10, 12.5, 33.3, 50]) {
      expect(xToT(tToX(t, axis, 1.3), axis, 1.3)).toBeCloseTo(t, 9);
    }
  });

  it("falls back to the start on a degenerate axis", () => {
    const flat: Axis = { fromT: 5, toT: 5, plot: { left: 0, top: 0, width: 0, height: 0 } };
    expect(xToT(40, flat)).toBe(5);
    expect(tToX(40, flat)).toBe(0);
  });
});

describe("insidePlot", () => {
  it("accepts the plot and rejects the axis labels", () => {
    expect(insidePlot(100, axis)).toBe(true);
    expect(insidePlot(499, axis)).toBe(true);
    expect(insidePlot(99, axis)).toBe(false);
    expect(insidePlot(501, axis)).toBe(false);
  });
});

describe("dragToRange", () => {
  it("ignores a drag shorter than the click threshold", () => {
    expect(dragToRange(200, 203, axis)).toBeUndefined();
  });

  it("turns a drag into a range in either direction", () => {
    expect(dragToRange(200, 300, axis)).toEqual({ fromT: 20, toT: 30 });
    expect(dragToRange(300, 200, axis)).toEqual({ fromT: 20, toT: 30 });
  });

  it("clamps a drag that leaves the plot", () => {
    expect(dragToRange(40, 300, axis)).toEqual({ fromT: 10, toT: 30 });
    expect(dragToRange(300, 900, axis)).toEqual({ fromT: 30, toT: 50 });
  });

  it("widens a drag narrower than the minimum span", () => {
    // 6 px over a 400 px plot of 40 s is 0.6 s; at 10x the axis is 4 s wide.
    const zoomed: Axis = { fromT: 10, toT: 14, plot: axis.plot };
    const range = dragToRange(300, 306, zoomed);
    expect(range).toBeDefined();
    expect((range?.toT ?? 0) - (range?.fromT ?? 0)).toBeCloseTo(MIN_SPAN_S, 9);
  });
});

describe("clampRange", () => {
  const bounds = { fromT: 0, toT: 100 };

  it("keeps a range that fits", () => {
    expect(clampRange({ fromT: 10, toT: 20 }, bounds)).toEqual({ fromT: 10, toT: 20 });
  });

  it("orders reversed ends", () => {
    expect(clampRange({ fromT: 20, toT: 10 }, bounds)).toEqual({ fromT: 10, toT: 20 });
  });

  it("cuts a range at the bounds", () => {
    expect(clampRange({ fromT: -5, toT: 120 }, bounds)).toEqual({ fromT: 0, toT: 100 });
  });

  it("widens a narrow range around its centre", () => {
    const range = clampRange({ fromT: 50, toT: 50.1 }, bounds, 1);
    expect(range.fromT).toBeCloseTo(49.55, 9);
    expect(range.toT).toBeCloseTo(50.55, 9);
  });

  it("shifts a widened range back inside at the start", () => {
    const range = clampRange({ fromT: 0, toT: 0.1 }, bounds, 1);
    expect(range.fromT).toBe(0);
    expect(range.toT).toBeCloseTo(1, 9);
  });

  it("shifts a widened range back inside at the end", () => {
    const range = clampRange({ fromT: 99.9, toT: 100 }, bounds, 1);
    expect(range.fromT).toBeCloseTo(99, 9);
    expect(range.toT).toBe(100);
  });

  it("returns the bounds when they are narrower than the minimum", () => {
    expect(clampRange({ fromT: 1, toT: 1.1 }, { fromT: 0, toT: 0.2 }, 1)).toEqual({ fromT: 0, toT: 0.2 });
  });
});

describe("selectionBox and chartRequestSize", () => {
  it("measures a selection from either end", () => {
    expect(selectionBox(300, 200)).toEqual({ left: 200, width: 100 });
  });

  it("keeps chart sides within what the backend accepts", () => {
    expect(chartRequestSize(1250.6, 100)).toEqual({ width: 1251, height: 320 });
    expect(chartRequestSize(20000, Number.NaN)).toEqual({ width: 8000, height: 320 });
  });
});
