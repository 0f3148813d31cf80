'use strict';
// Produces a steady stream of agent events for the desktop app's
// responsiveness benchmark: each setTimeout and each clearTimeout is one
// event. A 10 ms tick runs as many pairs as the elapsed time calls for, so a
// late tick catches up instead of lowering the rate; one tick never runs more
// than 200 ms of backlog, so a stalled page does not turn into a burst.
(function () {
  var params = new URLSearchParams(location.search);
  var rate = Number(params.get('rate') || 10000);
  var TICK_MS = 10;
  var MAX_BACKLOG_MS = 200;
  function noop() {}

  var stats = { rate: rate, events: 0, startedAt: performance.now() };
  window.__stream = stats;
  var done = 0;
  var counter = document.getElementById('count');

  setInterval(function tick() {
    var elapsed = performance.now() - stats.startedAt;
    var due = Math.floor((elapsed * rate) / 1000);
    var floor = Math.floor(((elapsed - MAX_BACKLOG_MS) * rate) / 1000);
    if (done < floor) done = floor;
    while (done + 2 <= due) {
      clearTimeout(setTimeout(noop, 60000));
      done += 2;
      stats.events += 2;
    }
    counter.textContent = String(stats.events);
  }, TICK_MS);

  // The title carries the count too, so a test reads it from the browser's
  // /json/list without attaching a second client to the page.
  setInterval(function title() {
    document.title = 'stream ' + stats.events + ' events at ' + Math.round(performance.now()) + ' ms';
  }, 250);
})();
