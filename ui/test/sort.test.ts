import { describe, expect, it } from "vitest";
import { capRows, compareValues, nextSort, sortRows } from "../src/sort";

interface Row {
  name: string;
  n?: number;
}

const rows: Row[] = [
  { name: "site 10", n: 3 },
  { name: "site 2", n: undefined },
  { name: "Site 1", n: 10 },
  { name: "site 3", n: 3 },
];

describe("sortRows", () => {
  it("orders numbers numerically, not as text", () => {
    const sorted = sortRows(rows, (row) => row.n, "desc");
    expect(sorted.map((row) => row.n)).toEqual([10, 3, 3, undefined]);
  });

  it("orders text with numeric parts in number order, ignoring case", () => {
    const sorted = sortRows(rows, (row) => row.name, "asc");
    expect(sorted.map((row) => row.name)).toEqual(["Site 1", "site 2", "site 3", "site 10"]);
  });

  it("keeps missing values last in both directions", () => {
    expect(sortRows(rows, (row) => row.n, "asc").at(-1)?.name).toBe("site 2");
    expect(sortRows(rows, (row) => row.n, "desc").at(-1)?.name).toBe("site 2");
  });

  it("keeps the input order of ties", () => {
    const asc = sortRows(rows, (row) => row.n, "asc");
    expect(asc.slice(0, 2).map((row) => row.name)).toEqual(["site 10", "site 3"]);
    const desc = sortRows(rows, (row) => row.n, "desc");
    expect(desc.slice(1, 3).map((row) => row.name)).toEqual(["site 10", "site 3"]);
  });

  it("treats NaN as missing", () => {
    const sorted = sortRows([{ v: Number.NaN }, { v: 1 }], (row) => row.v, "asc");
    expect(sorted.map((row) => row.v)).toEqual([1, Number.NaN]);
  });

  it("does not change its input", () => {
    const copy = rows.slice();
    sortRows(rows, (row) => row.name, "asc");
    expect(rows).toEqual(copy);
  });
});

describe("compareValues", () => {
  it("puts numbers before text when the types differ", () => {
    expect(compareValues(5, "a")).toBeLessThan(0);
    expect(compareValues("a", 5)).toBeGreaterThan(0);
  });

  it("orders false before true", () => {
    expect(compareValues(false, true)).toBeLessThan(0);
  });
});

describe("nextSort", () => {
  it("starts numeric columns descending and text columns ascending", () => {
    expect(nextSort(undefined, "live", true)).toEqual({ key: "live", direction: "desc" });
    expect(nextSort({ key: "live", direction: "desc" }, "site", false)).toEqual({ key: "site", direction: "asc" });
  });

  it("flips the direction on a second click", () => {
    expect(nextSort({ key: "live", direction: "desc" }, "live", true)).toEqual({ key: "live", direction: "asc" });
    expect(nextSort({ key: "live", direction: "asc" }, "live", true)).toEqual({ key: "live", direction: "desc" });
  });
});

describe("capRows", () => {
  it("returns every row under the limit", () => {
    expect(capRows([1, 2, 3], 5)).toEqual({ shown: [1, 2, 3], hidden: 0 });
  });

  it("cuts at the limit and counts the rest", () => {
    expect(capRows([1, 2, 3, 4, 5], 2)).toEqual({ shown: [1, 2], hidden: 3 });
  });
});
