// Builds a heap of many small objects on request. V8 spends its snapshot time
// per object and per reference, so many small objects make a slow capture for
// a given heap size. Every object stays reachable from `window.bigHeap.kept`.
'use strict';

(function () {
  // One record: a map word, properties, elements and three fields, 24 bytes
  // with pointer compression, plus its slot in a row array. A heap snapshot
  // writes about 200 bytes of JSON per cell.
  class Cell {
    constructor(index, previous) {
      this.index = index;
      this.previous = previous;
      this.bucket = index & 1023;
    }
  }

  // Cells per array. Arrays of this size keep each elements store well below
  // the large-object threshold, so they are ordinary heap objects too.
  const ROW = 100000;

  const kept = [];

  // Allocates `cells` more cells and returns the number now kept.
  function grow(cells) {
    let row = [];
    let previous = null;
    for (let i = 0; i < cells; i++) {
      previous = new Cell(i, i % 16 === 0 ? null : previous);
      row.push(previous);
      if (row.length === ROW) {
        kept.push(row);
        row = [];
      }
    }
    if (row.length > 0) {
      kept.push(row);
    }
    return count();
  }

  function count() {
    let total = 0;
    for (const row of kept) {
      total += row.length;
    }
    return total;
  }

  window.bigHeap = { grow, count, kept };
})();
