'use strict';
(function () {
  var variant = new URLSearchParams(location.search).get('variant') || 'bug';
  var url = '/api/video/status?operationName=abort-1';
  var controller = new AbortController();
  window.abortResults = [];

  function poll() {
    if (variant === 'fixed') controller = new AbortController();
    var started = performance.now();
    fetch(url, { signal: controller.signal })
      .then(function (r) { return r.json(); })
      .then(
        function () { window.abortResults.push({ ok: true, ms: performance.now() - started }); },
        function (e) { window.abortResults.push({ ok: false, name: e.name, ms: performance.now() - started }); }
      );
  }

  document.getElementById('cancel').addEventListener('click', function () {
    controller.abort();
  });

  poll();
  setInterval(poll, 1000);
})();
