// The four tables under the chart in Live and Replay: poll lifecycles, timers
// by creation site, requests by endpoint and alerts. Each is memoised on its
// rows array, which the live reducer keeps identical while nothing changed.

import { memo } from "preact/compat";
import type { AlertRow, PollRow, RequestRow, TimerRow } from "../contract";
import { formatClock, formatCount, formatDuration, formatMs } from "../format";
import { type Column, Table } from "../components/Table";

/** Flags that mean the poll is misbehaving, shown in red. */
const BAD_FLAGS = new Set(["runaway", "orphaned", "duplicated", "overlapping"]);

const LEVEL_RANK: Record<string, number> = { warning: 1, critical: 2, emergency: 3 };

const pollColumns: Column<PollRow>[] = [
  { key: "id", label: "#", value: (row) => row.id, numeric: true },
  { key: "type", label: "Type", value: (row) => row.type },
  {
    key: "operation",
    label: "Operation",
    value: (row) => row.operation,
    render: (row) => <span title={row.endpoint}>{row.operation || row.endpoint}</span>,
    className: "ellipsis",
  },
  {
    key: "attempts",
    label: "Attempts",
    value: (row) => row.attempts,
    numeric: true,
    render: (row) => (row.maxAttempts > 0 ? `${row.attempts} / ${row.maxAttempts}` : String(row.attempts)),
    title: "attempts so far / the app's maximum, when known",
  },
  {
    key: "cadence",
    label: "Cadence",
    value: (row) => row.cadenceS,
    numeric: true,
    render: (row) => formatDuration(row.cadenceS),
    title: "median time between two polls",
  },
  { key: "age", label: "Age", value: (row) => row.ageS, numeric: true, render: (row) => formatDuration(row.ageS) },
  {
    key: "state",
    label: "State",
    value: (row) => row.state,
    render: (row) => <span class={`state state-${row.state}`}>{row.state}</span>,
  },
  {
    key: "flags",
    label: "Flags",
    value: (row) => row.flags.join(" ") || undefined,
    render: (row) => (
      <span class="flags">
        {row.flags.map((flag) => (
          <span key={flag} class={`flag ${BAD_FLAGS.has(flag) ? "bad" : ""}`} data-testid="poll-flag">
            {flag}
          </span>
        ))}
      </span>
    ),
  },
  {
    key: "timerSite",
    label: "Driving timer",
    value: (row) => row.timerSite,
    render: (row) => <span title={row.requestSite ? `request: ${row.requestSite}` : undefined}>{row.timerSite ?? "–"}</span>,
    className: "ellipsis mono",
  },
];

export const PollsTable = memo(function PollsTable(props: {
  rows: readonly PollRow[];
  selected?: number;
  onSelect?: (row: PollRow) => void;
}) {
  return (
    <Table
      testid="polls-table"
      rows={props.rows}
      columns={pollColumns}
      rowKey={(row) => String(row.id)}
      defaultSort={{ key: "id", direction: "desc" }}
      selectedKey={props.selected === undefined ? undefined : String(props.selected)}
      onRowClick={props.onSelect}
      rowClass={(row) => (row.flags.some((flag) => BAD_FLAGS.has(flag)) ? "bad" : undefined)}
      empty="no poll lifecycles yet: they appear when the page polls a status endpoint"
    />
  );
});

const timerColumns: Column<TimerRow>[] = [
  { key: "site", label: "Creation site", value: (row) => row.site, className: "ellipsis mono" },
  { key: "kind", label: "Kind", value: (row) => row.kind },
  { key: "live", label: "Live", value: (row) => row.live, numeric: true, render: (row) => formatCount(row.live) },
  { key: "created", label: "Created", value: (row) => row.created, numeric: true, render: (row) => formatCount(row.created) },
  { key: "cleared", label: "Cleared", value: (row) => row.cleared, numeric: true, render: (row) => formatCount(row.cleared) },
  { key: "delay", label: "Delay", value: (row) => row.delayMs, numeric: true, render: (row) => formatMs(row.delayMs) },
];

export const TimersTable = memo(function TimersTable(props: { rows: readonly TimerRow[] }) {
  return (
    <Table
      testid="timers-table"
      rows={props.rows}
      columns={timerColumns}
      rowKey={(row) => `${row.kind} ${row.site}`}
      defaultSort={{ key: "live", direction: "desc" }}
      empty="no timers seen yet (timers are counted once the in-page agent is installed)"
    />
  );
});

const requestColumns: Column<RequestRow>[] = [
  { key: "endpoint", label: "Endpoint", value: (row) => row.endpoint, className: "ellipsis mono" },
  { key: "inFlight", label: "In flight", value: (row) => row.inFlight, numeric: true, render: (row) => formatCount(row.inFlight) },
  {
    key: "oldest",
    label: "Oldest",
    value: (row) => row.oldestAgeS,
    numeric: true,
    render: (row) => formatDuration(row.oldestAgeS),
    title: "age of the oldest request still in flight",
  },
  { key: "completed", label: "Completed", value: (row) => row.completed, numeric: true, render: (row) => formatCount(row.completed) },
  { key: "aborted", label: "Aborted", value: (row) => row.aborted, numeric: true, render: (row) => formatCount(row.aborted) },
  { key: "failed", label: "Failed", value: (row) => row.failed, numeric: true, render: (row) => formatCount(row.failed) },
];

export const RequestsTable = memo(function RequestsTable(props: { rows: readonly RequestRow[] }) {
  return (
    <Table
      testid="requests-table"
      rows={props.rows}
      columns={requestColumns}
      rowKey={(row) => row.endpoint}
      defaultSort={{ key: "inFlight", direction: "desc" }}
      empty="no requests seen yet"
    />
  );
});

const alertColumns: Column<AlertRow>[] = [
  {
    key: "level",
    label: "Level",
    value: (row) => LEVEL_RANK[row.level] ?? 0,
    numeric: true,
    render: (row) => <span class={`level level-${row.level}`}>{row.level}</span>,
  },
  { key: "rule", label: "Rule", value: (row) => row.rule, className: "mono" },
  { key: "subject", label: "Subject", value: (row) => row.subject, className: "ellipsis" },
  {
    key: "message",
    label: "Message",
    value: (row) => row.message,
    render: (row) => <span title={row.message}>{row.message}</span>,
    className: "ellipsis wide",
  },
  { key: "first", label: "First", value: (row) => row.firstT, numeric: true, render: (row) => formatClock(row.firstT) },
  { key: "last", label: "Last", value: (row) => row.lastT, numeric: true, render: (row) => formatClock(row.lastT) },
  { key: "count", label: "Count", value: (row) => row.count, numeric: true, render: (row) => formatCount(row.count) },
];

export const AlertsTable = memo(function AlertsTable(props: { rows: readonly AlertRow[] }) {
  return (
    <Table
      testid="alerts-table"
      rows={props.rows}
      columns={alertColumns}
      rowKey={(row) => `${row.rule} ${row.subject}`}
      defaultSort={{ key: "level", direction: "desc" }}
      rowClass={(row) => `level-row-${row.level}`}
      empty="no alerts: no rule has fired"
    />
  );
});

/** Finds the highest alert level present, for the tab's badge colour. */
export function topAlertLevel(rows: readonly AlertRow[]): string | undefined {
  let top: AlertRow | undefined;
  for (const row of rows) {
    if (top === undefined || (LEVEL_RANK[row.level] ?? 0) > (LEVEL_RANK[top.level] ?? 0)) {
      top = row;
    }
  }
  return top?.level;
}
