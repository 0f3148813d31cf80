'use strict';
function noop() {}

// The timer and fetch functions as the page found them. Leakscope attaches
// after this script ran, so these stay the browser's own functions while the
// globals become the agent's wrappers, and one document can time both.
var ownFunctions = {
  setTimeout: window.setTimeout,
  clearTimeout: window.clearTimeout,
  fetch: window.fetch,
};

// The saved functions, or the current globals when `wrapped` is true.
function functionsFor(wrapped) {
  return wrapped ? window : ownFunctions;
}

// Microseconds per setTimeout + clearTimeout pair, over `n` pairs.
function benchTimers(n, wrapped) {
  var set = functionsFor(wrapped).setTimeout;
  var clear = functionsFor(wrapped).clearTimeout;
  var start = performance.now();
  for (var i = 0; i < n; i++) {
    clear(set(noop, 1000));
  }
  return ((performance.now() - start) * 1000) / n;
}

// Microseconds per setTimeout + clearTimeout pair made `depth` calls below
// the caller, as in an application whose timers start deep in framework code.
function benchTimersDeep(n, depth, wrapped) {
  return nest(depth, function () {
    return benchTimers(n, wrapped);
  });
}

function nest(depth, body) {
  return depth === 0 ? body() : nest(depth - 1, body);
}

// Milliseconds per sequential fetch of `url` (body read included), over `n`
// fetches of each kind: the saved fetch and the wrapped one take turns, so
// that drift in the network stack's speed hits both alike. Returns
// [saved, wrapped].
async function benchFetch(url, n) {
  var totals = [0, 0];
  for (var i = 0; i < 2 * n; i++) {
    var get = functionsFor(i % 2 === 1).fetch;
    var start = performance.now();
    var response = await get(url);
    await response.text();
    totals[i % 2] += performance.now() - start;
  }
  return [totals[0] / n, totals[1] / n];
}

// Keeps `n` timers pending for an hour.
var heldTimers = [];
function holdTimers(n) {
  for (var i = 0; i < n; i++) {
    heldTimers.push(setTimeout(noop, 3600000));
  }
  return heldTimers.length;
}
