'use strict';
(function () {
  var variant = new URLSearchParams(location.search).get('variant') || 'A';
  var url = '/api/video/status?operationName=hang-1';

  function pollOnce() {
    return fetch(url).then(function (r) { return r.json(); }).catch(function () {});
  }

  if (variant === 'A') {
    pollOnce();
    setInterval(pollOnce, 1000);
  } else {
    var chain = function () {
      pollOnce().then(function () { setTimeout(chain, 1000); });
    };
    chain();
  }
})();
