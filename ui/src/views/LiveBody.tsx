// The part of Live and Replay that shows one LiveView: the counters, the
// overview chart and the Polls / Timers / Requests / Alerts tabs. Replay passes a
// cursor time and no refresh; Live refreshes the chart as data arrives.

import { memo } from "preact/compat";
import { useCallback, useState } from "preact/hooks";
import { Chart } from "../components/Chart";
import type { Counters, LiveView, PollRow } from "../contract";
import { useDispatch } from "../context";
import { formatBytes, formatCount } from "../format";
import type { LiveTab } from "../state";
import { AlertsTable, PollsTable, RequestsTable, TimersTable, topAlertLevel } from "./tables";

/** Height of the overview chart in CSS pixels; fits 1280x800 with a table below. */
const CHART_HEIGHT = 320;

export interface LiveBodyProps {
  view: LiveView;
  tab: LiveTab;
  /** Identity of the charted recording; resets the chart's zoom when it changes. */
  source: string;
  live: boolean;
  durationS: number;
  cursorT?: number;
}

export function LiveBody(props: LiveBodyProps) {
  const { view } = props;
  const dispatch = useDispatch();
  const [selectedPoll, setSelectedPoll] = useState<number | undefined>(undefined);
  const onSelectPoll = useCallback(
    (row: PollRow) => setSelectedPoll((current) => (current === row.id ? undefined : row.id)),
    [],
  );
  const setTab = (tab: LiveTab) => dispatch({ type: "navigate", view: props.live ? "live" : "replay", tab });
  const alertLevel = topAlertLevel(view.alerts);
  const tabs: { id: LiveTab; label: string; count: number; extra?: string }[] = [
    { id: "polls", label: "Polls", count: view.polls.length },
    { id: "timers", label: "Timers", count: view.counters.timersLive },
    { id: "requests", label: "Requests", count: view.counters.requestsInFlight },
    { id: "alerts", label: "Alerts", count: view.alerts.length, extra: alertLevel ? `level-${alertLevel}` : undefined },
  ];

  return (
    <>
      <CounterTiles counters={view.counters} />
      <Chart
        source={props.source}
        live={props.live}
        height={CHART_HEIGHT}
        durationS={props.durationS}
        highlightPoll={selectedPoll}
        cursorT={props.cursorT}
      />
      <div class="tabs" role="tablist">
        {tabs.map((tab) => (
          <button
            type="button"
            role="tab"
            key={tab.id}
            aria-selected={props.tab === tab.id}
            class={`tab ${props.tab === tab.id ? "active" : ""}`}
            data-testid={`tab-${tab.id}`}
            onClick={() => setTab(tab.id)}
          >
            {tab.label}
            <span class={`badge ${tab.extra ?? ""}`} data-testid={`tab-${tab.id}-count`}>
              {formatCount(tab.count)}
            </span>
          </button>
        ))}
      </div>
      <div class="tab-panel" role="tabpanel">
        {props.tab === "polls" && <PollsTable rows={view.polls} selected={selectedPoll} onSelect={onSelectPoll} />}
        {props.tab === "timers" && <TimersTable rows={view.timers} />}
        {props.tab === "requests" && <RequestsTable rows={view.requests} />}
        {props.tab === "alerts" && <AlertsTable rows={view.alerts} />}
      </div>
    </>
  );
}

export const CounterTiles = memo(function CounterTiles({ counters }: { counters: Counters }) {
  const heapRatio =
    counters.heapUsed !== undefined && counters.heapLimit ? counters.heapUsed / counters.heapLimit : undefined;
  return (
    <div class="counters" data-testid="counters">
      <Tile
        testid="counter-heap"
        raw={counters.heapUsed}
        label="JS heap used"
        value={formatBytes(counters.heapUsed)}
        sub={counters.heapLimit ? `of ${formatBytes(counters.heapLimit)} limit` : "limit unknown"}
        warn={heapRatio !== undefined && heapRatio > 0.8}
      />
      <Tile testid="counter-dom" raw={counters.domNodes} label="DOM nodes" value={formatCount(counters.domNodes)} />
      <Tile testid="counter-listeners" raw={counters.listeners} label="Listeners" value={formatCount(counters.listeners)} />
      <Tile
        testid="counter-timers"
        raw={counters.timersLive}
        label="Timers live"
        value={formatCount(counters.timersLive)}
        sub={`${formatCount(counters.timeoutsLive)} timeouts`}
      />
      <Tile testid="counter-intervals" raw={counters.intervalsLive} label="Intervals live" value={formatCount(counters.intervalsLive)} />
      <Tile testid="counter-requests" raw={counters.requestsInFlight} label="Requests in flight" value={formatCount(counters.requestsInFlight)} />
      <Tile testid="counter-controllers" raw={counters.controllersLive} label="AbortControllers" value={formatCount(counters.controllersLive)} />
    </div>
  );
});

/** Shows one counter; `data-value` carries the raw number for tests, empty when unknown. */
function Tile(props: { testid: string; raw?: number; label: string; value: string; sub?: string; warn?: boolean }) {
  return (
    <div class={`tile ${props.warn ? "warn" : ""}`}>
      <div class="tile-label">{props.label}</div>
      <div class="tile-value" data-testid={props.testid} data-value={props.raw ?? ""}>
        {props.value}
      </div>
      {props.sub && <div class="tile-sub">{props.sub}</div>}
    </div>
  );
}
