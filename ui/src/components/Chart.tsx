// The overview chart: an SVG the backend draws with plotters, fetched at the
// container's pixel size. While live it is re-fetched at most every
// CHART_REFRESH_MS with never more than one request in flight. On top of the
// SVG an overlay handles drag-to-zoom, wheel zoom and the hover readout
// (`valuesAt`, also one request in flight, latest position wins), and draws
// the highlighted poll lane and the replay cursor.

import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import * as api from "../api";
import type { AppError, ChartView, Readout } from "../contract";
import { formatBytes, formatClock, formatCount } from "../format";
import {
  type Axis,
  chartRequestSize,
  clampRange,
  dragToRange,
  insidePlot,
  selectionBox,
  type TimeRange,
  tToX,
  xToT,
} from "../range";
import { ErrorBox } from "./Notices";

/** Minimum time between two chart fetches while live: at most 2 per second. */
export const CHART_REFRESH_MS = 500;

/** Zoom factor of one wheel step. */
const WHEEL_ZOOM = 1.25;

export interface ChartProps {
  /** Identity of the charted data (a recording or bundle path); a change resets the zoom. */
  source: string;
  /** Re-fetch periodically because new data arrives. */
  live: boolean;
  height: number;
  /** Length of the whole recording in seconds, the limit of zooming out. */
  durationS: number;
  highlightPoll?: number;
  /** Replay position, drawn as a vertical line. */
  cursorT?: number;
}

interface Loaded {
  view: ChartView;
  svg: string;
  /** Requested SVG width; displayed width divided by it is the scale. */
  width: number;
}

interface Hover {
  x: number;
  t: number;
  readout?: Readout;
}

export function Chart(props: ChartProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [range, setRange] = useState<TimeRange | undefined>(undefined);
  const [loaded, setLoaded] = useState<Loaded | undefined>(undefined);
  const [error, setError] = useState<AppError | undefined>(undefined);
  const [drag, setDrag] = useState<{ startX: number; x: number } | undefined>(undefined);
  const [hover, setHover] = useState<Hover | undefined>(undefined);
  const readoutQueue = useRef<{ busy: boolean; nextT?: number }>({ busy: false });

  useEffect(() => {
    const box = boxRef.current;
    if (box === null) {
      return;
    }
    const measure = () => setWidth(Math.floor(box.clientWidth));
    measure();
    if (typeof ResizeObserver === "undefined") {
      // Older webviews lack ResizeObserver; the window's size is the next best signal.
      window.addEventListener("resize", measure);
      return () => window.removeEventListener("resize", measure);
    }
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    setRange(undefined);
    setLoaded(undefined);
  }, [props.source]);

  useEffect(() => {
    if (width <= 0) {
      return;
    }
    let stopped = false;
    let inFlight = false;
    const size = chartRequestSize(width, props.height);
    const load = async () => {
      if (inFlight) {
        return;
      }
      inFlight = true;
      try {
        const view = await api.chart({ fromT: range?.fromT, toT: range?.toT, ...size });
        if (!stopped) {
          setLoaded({ view, svg: sanitizeSvg(view.svg, size.width, size.height), width: size.width });
          setError(undefined);
        }
      } catch (raw) {
        if (!stopped) {
          setError(api.decodeError(raw, "chart"));
        }
      } finally {
        inFlight = false;
      }
    };
    void load();
    const timer = props.live ? setInterval(() => void load(), CHART_REFRESH_MS) : undefined;
    return () => {
      stopped = true;
      if (timer !== undefined) {
        clearInterval(timer);
      }
    };
  }, [width, props.height, range, props.live, props.source]);

  const scale = loaded && width > 0 ? width / loaded.width : 1;
  const axis: Axis | undefined = loaded ? loaded.view : undefined;

  const requestReadout = useCallback((t: number) => {
    const queue = readoutQueue.current;
    queue.nextT = t;
    if (queue.busy) {
      return;
    }
    queue.busy = true;
    void (async () => {
      while (queue.nextT !== undefined) {
        const at = queue.nextT;
        queue.nextT = undefined;
        try {
          const readout = await api.valuesAt(at);
          setHover((current) => (current === undefined ? current : { ...current, readout }));
        } catch {
          // A failed readout leaves the last one; the chart's own fetch shows errors.
        }
      }
      queue.busy = false;
    })();
  }, []);

  const pointerX = (event: MouseEvent) => {
    const target = event.currentTarget as HTMLElement;
    return event.clientX - target.getBoundingClientRect().left;
  };

  const onMouseDown = (event: MouseEvent) => {
    if (axis === undefined || event.button !== 0) {
      return;
    }
    const x = pointerX(event);
    if (!insidePlot(x, axis, scale)) {
      return;
    }
    event.preventDefault();
    setDrag({ startX: x, x });
  };

  const onMouseMove = (event: MouseEvent) => {
    if (axis === undefined) {
      return;
    }
    const x = pointerX(event);
    if (drag !== undefined) {
      setDrag({ ...drag, x });
    }
    if (!insidePlot(x, axis, scale)) {
      setHover(undefined);
      return;
    }
    const t = xToT(x, axis, scale);
    setHover((current) => ({ x, t, readout: current?.readout }));
    requestReadout(t);
  };

  const finishDrag = useCallback(
    (endX: number) => {
      if (drag === undefined || axis === undefined) {
        return;
      }
      const picked = dragToRange(drag.startX, endX, axis, scale);
      setDrag(undefined);
      if (picked !== undefined) {
        setRange(picked);
      }
    },
    [drag, axis, scale],
  );

  useEffect(() => {
    if (drag === undefined) {
      return;
    }
    // A release outside the chart still ends the drag, at the last position.
    const onUp = () => finishDrag(drag.x);
    window.addEventListener("mouseup", onUp);
    return () => window.removeEventListener("mouseup", onUp);
  }, [drag, finishDrag]);

  const onWheel = (event: WheelEvent) => {
    if (axis === undefined || !event.ctrlKey) {
      return;
    }
    event.preventDefault();
    const x = pointerX(event);
    const centre = xToT(x, axis, scale);
    const factor = event.deltaY < 0 ? 1 / WHEEL_ZOOM : WHEEL_ZOOM;
    const fromT = centre - (centre - axis.fromT) * factor;
    const toT = centre + (axis.toT - centre) * factor;
    const whole = { fromT: 0, toT: Math.max(props.durationS, axis.toT) };
    if (fromT <= whole.fromT && toT >= whole.toT) {
      setRange(undefined);
      return;
    }
    setRange(clampRange({ fromT, toT }, whole));
  };

  const lane =
    props.highlightPoll === undefined
      ? undefined
      : loaded?.view.lanes.find((candidate) => candidate.pollId === props.highlightPoll);
  const box = drag && selectionBox(drag.startX, drag.x);

  return (
    <div class="chart-panel" data-testid="chart">
      <div class="chart-bar">
        <span class="chart-range" data-testid="chart-range">
          {loaded
            ? `${formatClock(loaded.view.fromT)} – ${formatClock(loaded.view.toT)}`
            : "loading chart…"}
          {range ? " (zoomed)" : ""}
        </span>
        <span class="hint">drag to zoom, Ctrl + wheel to zoom around the pointer</span>
        <button
          type="button"
          class="btn small"
          data-testid="chart-reset-zoom"
          disabled={range === undefined}
          onClick={() => setRange(undefined)}
        >
          Reset zoom
        </button>
      </div>
      <div class="chart-box" ref={boxRef} style={{ height: `${props.height}px` }}>
        {loaded && (
          <div class="chart-svg" data-testid="chart-svg" dangerouslySetInnerHTML={{ __html: loaded.svg }} />
        )}
        {error && <ErrorBox error={error} testid="chart-error" />}
        <div
          class={`chart-overlay ${drag ? "dragging" : ""}`}
          data-testid="chart-overlay"
          onMouseDown={onMouseDown}
          onMouseMove={onMouseMove}
          onMouseLeave={() => setHover(undefined)}
          onWheel={onWheel}
        >
          {lane && loaded && (
            <div
              class="chart-lane"
              data-testid="chart-lane-highlight"
              data-poll-id={lane.pollId}
              style={{
                left: `${loaded.view.plot.left * scale}px`,
                width: `${loaded.view.plot.width * scale}px`,
                top: `${lane.top * scale}px`,
                height: `${Math.max(2, lane.height * scale)}px`,
              }}
            />
          )}
          {box && (
            <div class="chart-selection" data-testid="chart-selection" style={{ left: `${box.left}px`, width: `${box.width}px` }} />
          )}
          {props.cursorT !== undefined && axis && (
            <div class="chart-cursor" data-testid="chart-cursor" style={{ left: `${tToX(props.cursorT, axis, scale)}px` }} />
          )}
          {hover && <div class="chart-hover-line" style={{ left: `${hover.x}px` }} />}
          {hover && <ReadoutBox hover={hover} width={width} />}
        </div>
      </div>
    </div>
  );
}

function ReadoutBox({ hover, width }: { hover: Hover; width: number }) {
  const readout = hover.readout;
  // Keep the box inside the chart: flip to the pointer's left on the right half.
  const style = hover.x > width / 2 ? { right: `${width - hover.x + 12}px` } : { left: `${hover.x + 12}px` };
  const heap =
    readout?.heapUsed === undefined
      ? "–"
      : `${formatBytes(readout.heapUsed)}${readout.heapLimit ? ` / ${formatBytes(readout.heapLimit)}` : ""}`;
  return (
    <div class="chart-readout" data-testid="chart-readout" style={style}>
      <div class="readout-t">t = {formatClock(readout?.t ?? hover.t)}</div>
      <dl>
        <dt>heap</dt>
        <dd data-testid="readout-heap">{heap}</dd>
        <dt>DOM nodes</dt>
        <dd>{formatCount(readout?.domNodes)}</dd>
        <dt>listeners</dt>
        <dd>{formatCount(readout?.listeners)}</dd>
        <dt>timers</dt>
        <dd data-testid="readout-timers">{formatCount(readout?.timersLive)}</dd>
        <dt>requests</dt>
        <dd>{formatCount(readout?.requestsInFlight)}</dd>
        <dt>controllers</dt>
        <dd>{formatCount(readout?.controllersLive)}</dd>
        {readout && readout.polls.length > 0 && (
          <>
            <dt>polls</dt>
            <dd>{summarisePolls(readout.polls)}</dd>
          </>
        )}
      </dl>
    </div>
  );
}

/** "3 active, 1 complete" from the poll states at one time. */
export function summarisePolls(polls: readonly { state: string }[]): string {
  const counts = new Map<string, number>();
  for (const poll of polls) {
    counts.set(poll.state, (counts.get(poll.state) ?? 0) + 1);
  }
  return [...counts.entries()].map(([state, count]) => `${count} ${state}`).join(", ");
}

/**
 * Removes anything executable from the backend's SVG before it is inserted:
 * script and foreignObject elements and on* attributes. Plotters emits none,
 * so this only guards against a damaged or hostile recording in Replay. A
 * missing viewBox is added so CSS can scale the picture with its box.
 */
export function sanitizeSvg(svg: string, width: number, height: number): string {
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml");
  const root = doc.documentElement;
  if (root.nodeName.toLowerCase() !== "svg") {
    return "";
  }
  for (const element of Array.from(root.querySelectorAll("script, foreignObject"))) {
    element.remove();
  }
  for (const element of [root, ...Array.from(root.querySelectorAll("*"))]) {
    for (const attribute of Array.from(element.attributes)) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.trim().toLowerCase();
      if (name.startsWith("on") || ((name === "href" || name === "xlink:href") && value.startsWith("javascript:"))) {
        element.removeAttribute(attribute.name);
      }
    }
  }
  if (!root.hasAttribute("viewBox")) {
    const w = Number.parseFloat(root.getAttribute("width") ?? "") || width;
    const h = Number.parseFloat(root.getAttribute("height") ?? "") || height;
    root.setAttribute("viewBox", `0 0 ${w} ${h}`);
  }
  root.removeAttribute("width");
  root.removeAttribute("height");
  return new XMLSerializer().serializeToString(root);
}
