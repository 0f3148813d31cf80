'use strict';
function noop() {}

// Microseconds per setTimeout + clearTimeout pair, over `n` pairs.
function benchTimers(n) {
  var start = performance.now();
  for (var i = 0; i < n; i++) {
    clearTimeout(setTimeout(noop, 1000));
  }
  return ((performance.now() - start) * 1000) / n;
}

// Microseconds per setTimeout + clearTimeout pair made `depth` calls below
// the caller, as in an application whose timers start deep in framework code.
function benchTimersDeep(n, depth) {
  return nest(depth, function () {
    return benchTimers(n);
  });
}

function nest(depth, body) {
  return depth === 0 ? body() : nest(depth - 1, body);
}

// Milliseconds per sequential fetch of `url` (body read included), over `n` fetches.
async function benchFetch(url, n) {
  var start = performance.now();
  for (var i = 0; i < n; i++) {
    var response = await fetch(url);
    await response.text();
  }
  return (performance.now() - start) / n;
}

// Keeps `n` timers pending for an hour.
var heldTimers = [];
function holdTimers(n) {
  for (var i = 0; i < n; i++) {
    heldTimers.push(setTimeout(noop, 3600000));
  }
  return heldTimers.length;
}
