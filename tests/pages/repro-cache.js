'use strict';

// The cache holds about 4 MB of doubles on the V8 heap (8 bytes each), built
// once and reused by every later open.
(function () {
  const CACHE_DOUBLES = 512 * 1024;
  const store = new Map();

  function thumbnails() {
    let entry = store.get('thumbnails');
    if (!entry) {
      entry = [];
      for (let i = 0; i < CACHE_DOUBLES; i++) {
        entry.push(Math.random());
      }
      store.set('thumbnails', entry);
    }
    return entry;
  }

  function open() {
    const data = thumbnails();
    const view = document.getElementById('view');
    view.textContent = `opened with ${data.length} cached values`;
    return data.length;
  }

  function close() {
    document.getElementById('view').textContent = '';
  }

  window.cache = { open, close, size: () => store.size };
})();
