'use strict';
(function () {
  var variant = new URLSearchParams(location.search).get('variant') || 'bug';
  var url = '/api/video/status?operationName=zombie-1';

  function mountPoller() {
    var timeoutId = null;
    var cancelled = false;
    var controller = null;

    function poll() {
      controller = new AbortController();
      fetch(url, { signal: controller.signal })
        .then(function (r) { return r.json(); })
        .catch(function () {})
        .then(function () {
          if (variant === 'fixed' && cancelled) return;
          timeoutId = setTimeout(poll, 1000);
        });
    }

    poll();
    return function cleanup() {
      // Tells Leakscope (when it is attached) that the view on this route is gone.
      if (window.leakscope) window.leakscope.poll.unmount();
      clearTimeout(timeoutId);
      if (variant === 'fixed') {
        cancelled = true;
        controller.abort();
      }
    };
  }

  var cleanup = null;
  window.zombieMount = function () {
    cleanup = mountPoller();
  };
  window.zombieUnmount = function () {
    cleanup();
    cleanup = null;
  };
})();
