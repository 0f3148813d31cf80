// Each check records what page code observes (values, error names, identities),
// never whether the agent is present, so that the two runs must be equal.
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var jsonUrl = params.get('json') || '/api/video/status?operationName=sem-1';
  var hangUrl = params.get('hang') || '/api/video/status?operationName=sem-hang';
  var results = {};
  var caughtErrors = [];
  var unhandled = [];

  window.addEventListener('error', function (event) {
    caughtErrors.push(event.error);
    event.preventDefault();
  });
  window.addEventListener('unhandledrejection', function (event) {
    unhandled.push(event.reason);
    event.preventDefault();
  });

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function errorShape(error) {
    if (error === null || typeof error !== 'object') return { value: String(error) };
    return { name: error.name, message: error.message, ctor: error.constructor && error.constructor.name };
  }

  function describeFunction(fn) {
    return {
      name: fn.name,
      length: fn.length,
      toString: Function.prototype.toString.call(fn),
      string: String(fn),
      hasPrototype: Object.prototype.hasOwnProperty.call(fn, 'prototype'),
      constructible: (function () {
        try { Reflect.construct(String, [], fn); return true; } catch (e) { return false; }
      })(),
    };
  }

  var checks = [];
  function check(name, body) { checks.push([name, body]); }

  check('timer ids', async function () {
    var a = setTimeout(function () {}, 1000);
    var b = setTimeout(function () {}, 1000);
    var c = setInterval(function () {}, 1000);
    clearTimeout(a); clearTimeout(b); clearInterval(c);
    return { type: typeof a, step: b - a, intervalStep: c - b };
  });

  check('clear prevents firing', async function () {
    var fired = [];
    var a = setTimeout(function () { fired.push('a'); }, 10);
    var b = setInterval(function () { fired.push('b'); }, 10);
    var c = setTimeout(function () { fired.push('c'); }, 10);
    clearTimeout(a);
    clearTimeout(b); // clearTimeout and clearInterval share one id space
    clearInterval(c);
    await wait(60);
    return { fired: fired, clearReturns: [clearTimeout(12345678), clearInterval('x'), clearTimeout()] };
  });

  check('this and arguments', async function () {
    var seen = {};
    setTimeout(function (x, y) { seen.sloppyThis = this === window; seen.args = [x, y, arguments.length]; }, 0, 'a', 2);
    setTimeout(function () { 'use strict'; seen.strictThis = this === window; }, 0);
    setTimeout(function () { seen.noArgs = arguments.length; });
    var count = 0;
    var id = setInterval(function (z) { count++; seen.intervalArg = z; if (count === 3) clearInterval(id); }, 5, 'z');
    await wait(80);
    seen.intervalCount = count;
    return seen;
  });

  check('string body', async function () {
    window.__semanticsString = 0;
    setTimeout('window.__semanticsString += 1', 0);
    var id = setTimeout('window.__semanticsString += 10', 0);
    clearTimeout(id);
    var interval = setInterval('window.__semanticsString += 100; if (window.__semanticsString >= 201) clearInterval(window.__semanticsInterval)', 5);
    window.__semanticsInterval = interval;
    await wait(80);
    return { value: window.__semanticsString };
  });

  check('callback exceptions', async function () {
    caughtErrors.length = 0;
    var thrown = new RangeError('from callback');
    var after = false;
    setTimeout(function () { throw thrown; }, 0);
    setTimeout(function () { after = true; }, 0);
    await wait(30);
    return { same: caughtErrors[0] === thrown, count: caughtErrors.length, after: after };
  });

  check('invalid calls', async function () {
    var out = {};
    try { setTimeout.call({}, function () {}, 0); out.wrongThis = 'no error'; } catch (e) { out.wrongThis = errorShape(e); }
    try { new setTimeout(function () {}); out.construct = 'no error'; } catch (e) { out.construct = e.name; }
    try { var id = setTimeout(); clearTimeout(id); out.noArgs = typeof id; } catch (e) { out.noArgs = errorShape(e); }
    try { var id2 = setTimeout(undefined, 0); clearTimeout(id2); out.undefinedHandler = typeof id2; } catch (e) { out.undefinedHandler = errorShape(e); }
    return out;
  });

  check('order', async function () {
    var order = [];
    setTimeout(function () { order.push(1); }, 0);
    setTimeout(function () { order.push(2); }, 0);
    Promise.resolve().then(function () { order.push('micro'); });
    await wait(20);
    return order;
  });

  check('function identity', async function () {
    var names = {
      setTimeout: setTimeout, setInterval: setInterval, clearTimeout: clearTimeout, clearInterval: clearInterval,
      fetch: fetch, open: XMLHttpRequest.prototype.open, send: XMLHttpRequest.prototype.send,
      abort: AbortController.prototype.abort, log: console.log, warn: console.warn,
      signalTimeout: AbortSignal.timeout, signalAny: AbortSignal.any, toString: Function.prototype.toString,
      json: Response.prototype.json, text: Response.prototype.text, arrayBuffer: Response.prototype.arrayBuffer,
      blob: Response.prototype.blob, formData: Response.prototype.formData, clone: Response.prototype.clone,
      pushState: History.prototype.pushState, replaceState: History.prototype.replaceState,
    };
    var out = {};
    Object.keys(names).forEach(function (key) { out[key] = describeFunction(names[key]); });
    out.toStringOfToString = Function.prototype.toString.toString();
    try { Function.prototype.toString.call({}); out.toStringOnObject = 'no error'; } catch (e) { out.toStringOnObject = e.name; }
    var descriptor = Object.getOwnPropertyDescriptor(window, 'setTimeout');
    out.setTimeoutDescriptor = [descriptor.writable, descriptor.enumerable, descriptor.configurable];
    out.keysWithTimer = Object.keys(window).filter(function (k) { return /leakscope|Timeout/i.test(k); });
    return out;
  });

  check('abort controller', async function () {
    var controller = new AbortController();
    class Sub extends AbortController {}
    var sub = new Sub();
    var out = {
      instance: controller instanceof AbortController,
      ctor: controller.constructor === AbortController,
      name: AbortController.name,
      length: AbortController.length,
      string: String(AbortController),
      proto: Object.getPrototypeOf(controller) === AbortController.prototype,
      subInstance: sub instanceof Sub && sub instanceof AbortController,
      signalType: Object.prototype.toString.call(controller.signal),
    };
    try { AbortController(); out.call = 'no error'; } catch (e) { out.call = e.name; }
    var reason = { custom: true };
    var events = 0;
    controller.signal.addEventListener('abort', function () { events++; });
    controller.abort(reason);
    controller.abort('again');
    out.reasonSame = controller.signal.reason === reason;
    out.events = events;
    out.aborted = controller.signal.aborted;
    var timeout = AbortSignal.timeout(10);
    var any = AbortSignal.any([new AbortController().signal, timeout]);
    await wait(60);
    out.timeoutReason = errorShape(timeout.reason);
    out.anyAborted = any.aborted;
    return out;
  });

  check('fetch outcomes', async function () {
    var out = {};
    var response = await fetch(jsonUrl);
    out.status = response.status;
    out.bodyUsedBefore = response.bodyUsed;
    out.body = await response.json();
    out.bodyUsedAfter = response.bodyUsed;
    var posted = await fetch(jsonUrl, { method: 'POST', body: JSON.stringify({ operationName: 'sem-1' }), headers: { 'content-type': 'application/json' } });
    out.postStatus = posted.status;
    out.postText = (await posted.text()).length > 0;

    try { await fetch('http://127.0.0.1:1/unreachable'); out.network = 'resolved'; } catch (e) { out.network = errorShape(e); }

    var pre = new AbortController();
    var reason = new Error('pre-aborted reason');
    pre.abort(reason);
    try { await fetch(jsonUrl, { signal: pre.signal }); out.preAborted = 'resolved'; } catch (e) { out.preAborted = { same: e === reason }; }

    var plain = new AbortController();
    plain.abort();
    try { await fetch(jsonUrl, { signal: plain.signal }); out.plainAborted = 'resolved'; } catch (e) { out.plainAborted = errorShape(e); }

    var mid = new AbortController();
    var pending = fetch(hangUrl, { signal: mid.signal });
    setTimeout(function () { mid.abort(); }, 20);
    try { await pending; out.midAbort = 'resolved'; } catch (e) { out.midAbort = errorShape(e); }

    try { await fetch('bad-scheme://x'); out.badScheme = 'resolved'; } catch (e) { out.badScheme = errorShape(e); }
    try { await fetch(jsonUrl, { method: 'GET', body: 'x' }); out.getWithBody = 'resolved'; } catch (e) { out.getWithBody = errorShape(e); }
    try { await fetch.call({}, jsonUrl); out.wrongThis = 'resolved'; } catch (e) { out.wrongThis = errorShape(e); }

    var request = new Request(jsonUrl);
    var fromRequest = await fetch(request);
    out.fromRequest = fromRequest.status;
    await fromRequest.text();
    out.promiseType = Object.prototype.toString.call(fetch(jsonUrl).then(function (r) { return r.text(); }));
    return out;
  });

  check('response bodies', async function () {
    var out = {};
    var badJson = 'data:application/json,{not json';
    var response = await fetch(jsonUrl);
    var copy = response.clone();
    out.bodies = [await response.json(), await copy.text()];
    out.bodyUsed = [response.bodyUsed, copy.bodyUsed];
    try { await response.json(); out.readTwice = 'resolved'; } catch (e) { out.readTwice = errorShape(e); }
    try { await (await fetch(badJson)).json(); out.invalidJson = 'resolved'; } catch (e) { out.invalidJson = errorShape(e); }
    try { await Response.prototype.json.call({}); out.wrongThis = 'resolved'; } catch (e) { out.wrongThis = errorShape(e); }
    out.bytes = (await (await fetch(jsonUrl)).arrayBuffer()).byteLength > 0;
    var local = new Response('{"a":1}', { headers: { 'content-type': 'application/json' } });
    out.local = await local.json();
    unhandled.length = 0;
    fetch(badJson).then(function (r) { return r.json(); });
    await wait(300);
    out.unhandled = unhandled.map(errorShape);
    return out;
  });

  check('unhandled rejection', async function () {
    unhandled.length = 0;
    fetch('http://127.0.0.1:1/unhandled');
    await wait(300);
    return { count: unhandled.length, reason: unhandled.length ? errorShape(unhandled[0]) : null };
  });

  check('xhr', async function () {
    function run(url, abortAfter) {
      return new Promise(function (resolve) {
        var xhr = new XMLHttpRequest();
        var events = [];
        ['load', 'abort', 'error', 'loadend'].forEach(function (type) {
          xhr.addEventListener(type, function () {
            events.push(type);
            if (type === 'loadend') resolve({ events: events, status: xhr.status, text: xhr.responseText.length > 0 });
          });
        });
        xhr.open('GET', url);
        xhr.send();
        if (abortAfter !== undefined) setTimeout(function () { xhr.abort(); }, abortAfter);
      });
    }
    var out = {};
    out.ok = await run(jsonUrl);
    out.aborted = await run(hangUrl, 20);
    out.failed = await run('http://127.0.0.1:1/xhr');
    var unsent = new XMLHttpRequest();
    try { unsent.send(); out.unsent = 'no error'; } catch (e) { out.unsent = errorShape(e); }
    return out;
  });

  check('console', async function () {
    var out = {};
    out.returns = console.log('[PollingHealth] Polling started:', { id: 'sem-op', type: 'video' });
    out.name = console.log.name;
    return out;
  });

  // Last, because it changes the document's URL.
  check('history', async function () {
    var out = { length: history.length };
    var state = { step: 1 };
    out.pushReturns = history.pushState(state, '', '?history=1');
    out.pushed = [history.length - out.length, history.state === state, location.search];
    out.replaceReturns = history.replaceState({ step: 2 }, '', '?history=2');
    out.replaced = [history.length - out.length, history.state.step, location.search];
    try { history.pushState(function () {}, ''); out.cloneError = 'no error'; } catch (e) { out.cloneError = errorShape(e); }
    try { History.prototype.pushState.call({}, null, ''); out.wrongThis = 'no error'; } catch (e) { out.wrongThis = errorShape(e); }
    delete out.length;
    return out;
  });

  (async function () {
    for (var i = 0; i < checks.length; i++) {
      var name = checks[i][0];
      try {
        results[name] = await checks[i][1]();
      } catch (error) {
        results[name] = { threw: errorShape(error) };
      }
    }
    window.semanticsResult = JSON.stringify(results);
    document.title = 'done';
  })();
})();
