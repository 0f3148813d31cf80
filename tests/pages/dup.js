'use strict';
(function () {
  var h = React.createElement;
  var variant = new URLSearchParams(location.search).get('variant') || 'A';
  var url = '/api/video/status?operationName=dup-1';
  // Variant C's first request is tied to the page, not to the effect, like a
  // query object that sent its first request and never scheduled the next.
  var firstRequestSent = false;

  function poll() {
    fetch(url).then(function (r) { return r.json(); }).catch(function () {});
  }

  function Poller() {
    React.useEffect(function () {
      if (variant === 'C') {
        if (!firstRequestSent) {
          firstRequestSent = true;
          poll();
        }
        return undefined;
      }
      var interval = setInterval(poll, 1000);
      if (variant === 'B') {
        return function () { clearInterval(interval); };
      }
      return undefined;
    }, []);
    return h('p', null, 'Polling dup-1');
  }

  var root = ReactDOM.createRoot(document.getElementById('root'));
  window.dupMount = function () {
    root.render(h(React.StrictMode, null, h(Poller)));
  };
  window.dupUnmount = function () {
    root.render(null);
  };
})();
