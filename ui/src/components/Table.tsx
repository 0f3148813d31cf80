// A dense sortable table with a bounded row count. Sorting is memoised on the
// rows array, which the live reducer keeps identical while nothing changed,
// so a live event that touches no row costs no sort and no DOM work.

import type { ComponentChildren } from "preact";
import { memo } from "preact/compat";
import { useMemo, useState } from "preact/hooks";
import { capRows, nextSort, sortRows, type SortState, type SortValue } from "../sort";

export interface Column<Row> {
  key: string;
  label: string;
  /** The value sorted on; also shown when `render` is absent. */
  value: (row: Row) => SortValue;
  render?: (row: Row) => ComponentChildren;
  numeric?: boolean;
  /** Tooltip of the column header. */
  title?: string;
  className?: string;
}

/**
 * Rows beyond this are not rendered, and the footer counts them. Mounting 200
 * rows of six cells took up to about 100 ms in headless Chromium on a
 * two-core machine under heavy load, so more would break the input budget.
 */
export const DEFAULT_ROW_LIMIT = 200;

export interface TableProps<Row> {
  testid: string;
  rows: readonly Row[];
  columns: readonly Column<Row>[];
  rowKey: (row: Row) => string;
  defaultSort?: SortState;
  onRowClick?: (row: Row) => void;
  selectedKey?: string;
  rowClass?: (row: Row) => string | undefined;
  limit?: number;
  empty: string;
}

export function Table<Row>(props: TableProps<Row>) {
  const { rows, columns, defaultSort } = props;
  const [sort, setSort] = useState<SortState | undefined>(defaultSort);
  const sorted = useMemo(() => {
    const column = columns.find((candidate) => candidate.key === sort?.key);
    return column === undefined || sort === undefined
      ? rows.slice()
      : sortRows(rows, column.value, sort.direction);
  }, [rows, columns, sort]);
  const { shown, hidden } = capRows(sorted, props.limit ?? DEFAULT_ROW_LIMIT);

  return (
    <div class="table-wrap">
      <table class="grid" data-testid={props.testid}>
        <thead>
          <tr>
            {columns.map((column) => {
              const active = sort?.key === column.key;
              const ascending = sort?.direction === "asc";
              let arrow = "";
              let ariaSort: "ascending" | "descending" | "none" = "none";
              if (active) {
                arrow = ascending ? " ▲" : " ▼";
                ariaSort = ascending ? "ascending" : "descending";
              }
              return (
                <th
                  key={column.key}
                  class={`${column.numeric ? "num" : ""} ${active ? "sorted" : ""}`}
                  title={column.title}
                  data-testid={`${props.testid}-sort-${column.key}`}
                  aria-sort={ariaSort}
                  onClick={() => setSort(nextSort(sort, column.key, column.numeric === true))}
                >
                  {column.label}
                  {arrow}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {shown.length === 0 ? (
            <tr class="empty">
              <td colSpan={columns.length} data-testid={`${props.testid}-empty`}>
                {props.empty}
              </td>
            </tr>
          ) : (
            shown.map((row) => {
              const key = props.rowKey(row);
              return (
                <TableRow
                  key={key}
                  row={row}
                  rowKey={key}
                  testid={`${props.testid}-row`}
                  columns={columns as readonly Column<unknown>[]}
                  selected={key === props.selectedKey}
                  extraClass={props.rowClass?.(row)}
                  onClick={props.onRowClick as ((row: unknown) => void) | undefined}
                />
              );
            })
          )}
        </tbody>
      </table>
      {hidden > 0 && (
        <div class="table-more" data-testid={`${props.testid}-hidden`}>
          {hidden} more rows not shown; sort by another column to see them
        </div>
      )}
    </div>
  );
}

interface TableRowProps {
  row: unknown;
  rowKey: string;
  testid: string;
  columns: readonly Column<unknown>[];
  selected: boolean;
  extraClass?: string;
  onClick?: (row: unknown) => void;
}

/**
 * One row, memoised: the live reducer keeps unchanged rows identical, so only
 * rows whose data changed are diffed again. `columns` and `onClick` must be
 * stable (module constants or callbacks) for the memo to hold.
 */
const TableRow = memo(function TableRow(props: TableRowProps) {
  const classes = [props.extraClass, props.selected ? "selected" : undefined].filter(Boolean).join(" ");
  const onClick = props.onClick;
  return (
    <tr
      class={classes || undefined}
      data-testid={props.testid}
      data-key={props.rowKey}
      onClick={onClick ? () => onClick(props.row) : undefined}
    >
      {props.columns.map((column) => (
        <td key={column.key} class={`${column.numeric ? "num" : ""} ${column.className ?? ""}`}>
          {column.render ? column.render(props.row) : displayValue(column.value(props.row))}
        </td>
      ))}
    </tr>
  );
});

function displayValue(value: SortValue): string {
  if (value === undefined || value === null) {
    return "–";
  }
  return String(value);
}
