// Table sorting and row capping, kept apart from the table component so the
// rules are unit-tested. Numbers compare numerically, and text by locale with
// numeric parts in order ("site 2" before "site 10"). Missing values come last
// in either direction, and ties keep their input order.

export type SortDirection = "asc" | "desc";

export type SortValue = number | string | boolean | undefined | null;

export interface SortState {
  key: string;
  direction: SortDirection;
}

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function isMissing(value: SortValue): value is undefined | null {
  return value === undefined || value === null || (typeof value === "number" && Number.isNaN(value));
}

/** Compares two present values; numbers before text when the types differ. */
export function compareValues(a: SortValue, b: SortValue): number {
  if (typeof a === "number" && typeof b === "number") {
    return a - b;
  }
  if (typeof a === "boolean" && typeof b === "boolean") {
    return Number(a) - Number(b);
  }
  if (typeof a === "number" && typeof b !== "number") {
    return -1;
  }
  if (typeof b === "number" && typeof a !== "number") {
    return 1;
  }
  return collator.compare(String(a), String(b));
}

/** Returns a sorted copy of `rows`; the input is not changed. */
export function sortRows<Row>(
  rows: readonly Row[],
  value: (row: Row) => SortValue,
  direction: SortDirection,
): Row[] {
  const sign = direction === "asc" ? 1 : -1;
  const keyed = rows.map((row, index) => ({ row, index, value: value(row) }));
  keyed.sort((left, right) => {
    const leftMissing = isMissing(left.value);
    const rightMissing = isMissing(right.value);
    if (leftMissing || rightMissing) {
      if (leftMissing && rightMissing) {
        return left.index - right.index;
      }
      return leftMissing ? 1 : -1;
    }
    const order = compareValues(left.value, right.value) * sign;
    return order !== 0 ? order : left.index - right.index;
  });
  return keyed.map((entry) => entry.row);
}

/**
 * Returns the next sort state after a click on column `key`: a new column
 * starts in its default direction (descending for numbers, where the largest
 * is the interesting row), the same column flips.
 */
export function nextSort(current: SortState | undefined, key: string, numeric: boolean): SortState {
  if (current === undefined || current.key !== key) {
    return { key, direction: numeric ? "desc" : "asc" };
  }
  return { key, direction: current.direction === "asc" ? "desc" : "asc" };
}

/** Splits off the first `limit` rows and counts the rest. */
export function capRows<Row>(rows: readonly Row[], limit: number): { shown: Row[]; hidden: number } {
  if (rows.length <= limit) {
    return { shown: rows.slice(), hidden: 0 };
  }
  return { shown: rows.slice(0, limit), hidden: rows.length - limit };
}
