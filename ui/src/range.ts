// Time-axis geometry of the overview chart: mapping a pointer's x to a session
// time and back, turning a drag into a zoom range, and clamping ranges to the
// recording. The backend reports the plot area in SVG pixels; the SVG may be
// shown scaled, so every function takes the displayed-to-SVG `scale`.

import type { PlotArea } from "./contract";

/** The time span an SVG plot area covers, in session seconds. */
export interface Axis {
  fromT: number;
  toT: number;
  plot: PlotArea;
}

export interface TimeRange {
  fromT: number;
  toT: number;
}

/** A drag shorter than this many displayed pixels is a click, not a zoom. */
export const MIN_DRAG_PX = 4;

/** The narrowest zoom range, in seconds; one sample interval is about 1 s. */
export const MIN_SPAN_S = 0.5;

/**
 * Maps a displayed x (pixels from the SVG's left edge) to a session time,
 * clamped to the axis. `scale` is displayed width divided by SVG width.
 */
export function xToT(x: number, axis: Axis, scale = 1): number {
  const span = axis.toT - axis.fromT;
  if (axis.plot.width <= 0 || span <= 0 || scale <= 0) {
    return axis.fromT;
  }
  const fraction = (x / scale - axis.plot.left) / axis.plot.width;
  const clamped = Math.min(1, Math.max(0, fraction));
  return axis.fromT + clamped * span;
}

/** Maps a session time to a displayed x; times off the axis clamp to its ends. */
export function tToX(t: number, axis: Axis, scale = 1): number {
  const span = axis.toT - axis.fromT;
  const fraction = span > 0 ? Math.min(1, Math.max(0, (t - axis.fromT) / span)) : 0;
  return (axis.plot.left + fraction * axis.plot.width) * scale;
}

/** Tells whether a displayed x lies over the plot area (not over an axis label). */
export function insidePlot(x: number, axis: Axis, scale = 1): boolean {
  const svgX = x / scale;
  return svgX >= axis.plot.left && svgX <= axis.plot.left + axis.plot.width;
}

/**
 * Turns a drag from `startX` to `endX` (displayed pixels, either order) into
 * a time range, or `undefined` when the drag is too short to mean a zoom.
 */
export function dragToRange(
  startX: number,
  endX: number,
  axis: Axis,
  scale = 1,
): TimeRange | undefined {
  if (Math.abs(endX - startX) < MIN_DRAG_PX) {
    return undefined;
  }
  const a = xToT(startX, axis, scale);
  const b = xToT(endX, axis, scale);
  const range = { fromT: Math.min(a, b), toT: Math.max(a, b) };
  return clampRange(range, { fromT: axis.fromT, toT: axis.toT });
}

/**
 * Clamps a range into `bounds` and widens it to at least `MIN_SPAN_S`
 * (around its centre, shifted back inside the bounds). When the bounds
 * themselves are narrower than the minimum, the bounds are returned.
 */
export function clampRange(range: TimeRange, bounds: TimeRange, minSpan = MIN_SPAN_S): TimeRange {
  const boundsSpan = bounds.toT - bounds.fromT;
  if (boundsSpan <= minSpan) {
    return { fromT: bounds.fromT, toT: bounds.toT };
  }
  let fromT = Math.max(bounds.fromT, Math.min(range.fromT, range.toT));
  let toT = Math.min(bounds.toT, Math.max(range.fromT, range.toT));
  if (toT - fromT < minSpan) {
    const centre = (fromT + toT) / 2;
    fromT = centre - minSpan / 2;
    toT = centre + minSpan / 2;
    if (fromT < bounds.fromT) {
      toT += bounds.fromT - fromT;
      fromT = bounds.fromT;
    }
    if (toT > bounds.toT) {
      fromT -= toT - bounds.toT;
      toT = bounds.toT;
    }
  }
  return { fromT, toT };
}

/** Computes the displayed left edge and width of a selection between two x values. */
export function selectionBox(startX: number, endX: number): { left: number; width: number } {
  return { left: Math.min(startX, endX), width: Math.abs(endX - startX) };
}

/** Smallest and largest chart side the backend accepts, in pixels. */
export const CHART_MIN_SIDE = 320;
export const CHART_MAX_SIDE = 8000;

/** Computes the SVG size to request for a container, rounded and kept in the accepted bounds. */
export function chartRequestSize(width: number, height: number): { width: number; height: number } {
  const side = (value: number) =>
    Math.min(CHART_MAX_SIDE, Math.max(CHART_MIN_SIDE, Math.round(Number.isFinite(value) ? value : 0)));
  return { width: side(width), height: side(height) };
}
