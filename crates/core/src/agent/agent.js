// Leakscope in-page agent.
//
// Injected by the Leakscope session into every document of the inspected tab
// (and loadable with a plain <script> tag in tests). It wraps setTimeout,
// setInterval, clearTimeout, clearInterval, fetch, the body reads of Response
// (json, text, ...), XMLHttpRequest, AbortController, AbortSignal.timeout /
// AbortSignal.any, history.pushState / replaceState and console.log / info /
// warn / error. It keeps registries of the timers, requests and controllers
// that are live. It reports batched events as a JSON string through the CDP
// binding window.__leakscopeReport.
//
// Contract with page code: every wrapped function returns what the original
// returns (the same timer ids), throws what it throws, passes `this` and all
// arguments on, and keeps its name, length and native-looking toString. The
// agent's memory is bounded by what is live: entries leave the registries when
// a request settles, a one-shot timer fires or is cleared, or a controller is
// garbage collected.
//
// Wire format (one binding call): {"v":2,"doc":<document token>,"seq":<n>,
// "origin":<the document's time origin, epoch milliseconds>,"dropped":<events
// lost because the binding was missing>,"events":[...]}. An event is an
// object with "k" (its kind) and "t" (whole milliseconds since "origin":
// integers serialise faster than epoch fractions), or, for the frequent timer
// events, a compact array of numbers (see "Timers" below). A timer event
// whose clear or firing happened before its batch left carries that too,
// instead of a second event. The Rust decoder in mod.rs is the other half of
// this format.
(function () {
  'use strict';

  var BINDING = '__leakscopeReport';
  var MARKER = Symbol.for('leakscope.agent');
  // Batches leave after FLUSH_DELAY_MS, or at once when MAX_BATCH events wait.
  var FLUSH_DELAY_MS = 100;
  var MAX_BATCH = 500;
  // Events kept while the binding is missing; older ones are dropped and counted.
  var MAX_QUEUE = 20000;
  // Response and request bodies larger than this are never read for fields.
  var MAX_BODY_BYTES = 65536;
  var SECRET_NAME = /token|key|secret|passw|auth|session|signature|code/i;
  var POLL_PREFIX = '[PollingHealth]';

  var global = window;

  // A second injection into the same document must not wrap twice. It asks
  // the running agent to send its site table and live registries again, for a
  // session that attached after the agent started.
  if (global[MARKER]) {
    global[MARKER].resync();
    return;
  }

  // Originals, captured before page code can replace them.
  var reflectApply = Reflect.apply;
  var reflectConstruct = Reflect.construct;
  var defineProperty = Object.defineProperty;
  var getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  var NativeError = Error;
  var captureStackTrace = Error.captureStackTrace;
  var jsonStringify = JSON.stringify;
  var jsonParse = JSON.parse;
  var NativeMap = Map;
  var NativeWeakMap = WeakMap;
  var NativeURL = URL;
  var promiseThen = Promise.prototype.then;
  var arraySlice = Array.prototype.slice;
  var functionToString = Function.prototype.toString;
  var addEventListener = EventTarget.prototype.addEventListener;
  var perf = global.performance;
  // Bound once: a bound call allocates nothing, unlike Reflect.apply's argument list.
  var perfNow = perf.now.bind(perf);
  var timeOrigin = perf.timeOrigin;
  var nativeSetTimeout = global.setTimeout;
  var nativeSetInterval = global.setInterval;
  var nativeClearTimeout = global.clearTimeout;
  var nativeClearInterval = global.clearInterval;
  var nativeFetch = global.fetch;
  var NativeResponse = global.Response;
  var responseClone = NativeResponse ? NativeResponse.prototype.clone : null;
  var scheduler = global.scheduler;
  var postTask = scheduler && typeof scheduler.postTask === 'function' ? scheduler.postTask : null;
  var queueMicrotask = typeof global.queueMicrotask === 'function' ? global.queueMicrotask : null;
  var visibilityGetter = (getOwnPropertyDescriptor(Document.prototype, 'visibilityState') || {}).get;

  // Page clock in whole milliseconds since timeOrigin (the batch's "origin").
  function pageNow() {
    return Math.round(perfNow());
  }

  // ---- Native-looking wrappers -------------------------------------------

  // wrapper -> original, read by the patched Function.prototype.toString.
  var originals = new NativeWeakMap();

  function disguise(wrapper, original) {
    defineProperty(wrapper, 'name', { value: original.name, configurable: true });
    defineProperty(wrapper, 'length', { value: original.length, configurable: true });
    originals.set(wrapper, original);
    return wrapper;
  }

  // Replaces owner[key] keeping the property's attributes.
  function replace(owner, key, wrapper) {
    var descriptor = getOwnPropertyDescriptor(owner, key);
    if (!descriptor || typeof descriptor.value !== 'function') return false;
    disguise(wrapper, descriptor.value);
    descriptor.value = wrapper;
    defineProperty(owner, key, descriptor);
    return true;
  }

  var toStringWrapper = {
    toString() {
      var original = originals.get(this);
      return reflectApply(functionToString, original === undefined ? this : original, []);
    },
  }.toString;
  replace(Function.prototype, 'toString', toStringWrapper);

  // ---- Event queue and batching ------------------------------------------

  var docToken = Math.random().toString(36).slice(2) + '-' + Math.round(timeOrigin).toString(36);
  var queue = [];
  var sequence = 0;
  var dropped = 0;
  var flushPending = false;
  var microtaskPending = false;

  function binding() {
    var fn = global[BINDING];
    return typeof fn === 'function' ? fn : null;
  }

  // CDP installs the binding as an enumerable global; page code that lists
  // window's keys should not see it.
  var bindingDescriptor = getOwnPropertyDescriptor(global, BINDING);
  if (bindingDescriptor && bindingDescriptor.enumerable && bindingDescriptor.configurable) {
    bindingDescriptor.enumerable = false;
    defineProperty(global, BINDING, bindingDescriptor);
  }

  // Runs the delayed flush that scheduleFlush() set up.
  function flush() {
    flushPending = false;
    sendBatch();
  }

  // Runs the flush that emit() set up for the end of the current task.
  function flushSoon() {
    microtaskPending = false;
    sendBatch();
  }

  function sendBatch() {
    expireStringTimers();
    expireUnreadBodies();
    if (queue.length === 0) return;
    var send = binding();
    if (send === null) {
      if (queue.length > MAX_QUEUE) {
        dropped += queue.length - MAX_QUEUE;
        queue.splice(0, queue.length - MAX_QUEUE);
      }
      scheduleFlush();
      return;
    }
    var batch = { v: 2, doc: docToken, seq: sequence++, origin: timeOrigin, dropped: dropped, events: queue };
    queue = [];
    // The timer events just serialised can no longer take a clear or a firing.
    for (var i = 0; i < unsentTimers.length; i++) unsentTimers[i].event = null;
    unsentTimers = [];
    try {
      send(jsonStringify(batch));
    } catch (error) {
      // A binding that throws (for example after the session detached) loses
      // this batch; the sequence gap lets the session count it.
    }
  }

  function isHidden() {
    return visibilityGetter !== undefined && reflectApply(visibilityGetter, document, []) === 'hidden';
  }

  // Whether the document is hidden, kept by a listener so that emit() reads
  // no DOM property per event.
  var hidden = isHidden();
  reflectApply(addEventListener, document, [
    'visibilitychange',
    function () {
      hidden = isHidden();
    },
  ]);

  // Schedules a flush without creating a timer, because timers share their id
  // counter with the page: an agent timer would shift the ids the page sees.
  function scheduleFlush() {
    if (flushPending) return;
    flushPending = true;
    if (postTask !== null) {
      reflectApply(postTask, scheduler, [flush, { delay: FLUSH_DELAY_MS }]);
    } else {
      // NOTE: without scheduler.postTask the agent's own timer takes ids from
      // the page's counter.
      reflectApply(nativeSetTimeout, global, [flush, FLUSH_DELAY_MS]);
    }
  }

  // A hidden document sends its events at the end of the current task,
  // because the browser delays its tasks to about one a second, and events
  // that late would reach Leakscope after navigations that followed them.
  function emit(event) {
    queue.push(event);
    if (queue.length >= MAX_BATCH) {
      sendBatch();
    } else if (hidden && queueMicrotask !== null) {
      if (!microtaskPending) {
        microtaskPending = true;
        reflectApply(queueMicrotask, global, [flushSoon]);
      }
    } else {
      scheduleFlush();
    }
  }

  // ---- Creation sites ----------------------------------------------------

  // script name -> (character position -> site id). Two levels, so a lookup
  // builds no key string.
  var siteIds = new NativeMap();
  var sites = []; // site events, for a resync
  var capturedFrame = null;

  // Stack capture is the agent's largest cost per call, and formatting the
  // stack as text costs as much again. The structured frames give the script
  // and the character position, which identify a site. Line, column and text
  // are computed only the first time a site is seen.
  function keepFrame(error, frames) {
    capturedFrame = frames.length > 0 ? frames[0] : null;
    return undefined;
  }

  // Returns the site id of the caller of `fn` (the frame just below it).
  function siteOf(fn) {
    var limit = NativeError.stackTraceLimit;
    var prepare = NativeError.prepareStackTrace;
    NativeError.stackTraceLimit = 1;
    NativeError.prepareStackTrace = keepFrame;
    var holder = {};
    captureStackTrace(holder, fn);
    // Reading `stack` runs keepFrame; its value is not needed.
    holder.stack;
    NativeError.stackTraceLimit = limit;
    NativeError.prepareStackTrace = prepare;
    var frame = capturedFrame;
    capturedFrame = null;
    if (frame === null) return null;
    var script = frame.getScriptNameOrSourceURL();
    if (!script) return null;
    var position = frame.getPosition();
    var positions = siteIds.get(script);
    if (positions === undefined) {
      positions = new NativeMap();
      siteIds.set(script, positions);
    }
    var known = positions.get(position);
    if (known !== undefined) return known;
    var entry = siteFromFrame(frame, script);
    positions.set(position, entry.id);
    return entry.id;
  }

  function siteFromFrame(frame, script) {
    var fnName = frame.getFunctionName() || '';
    if (!fnName && frame.getMethodName()) fnName = (frame.getTypeName() || '') + '.' + frame.getMethodName();
    var url = redactUrl(script);
    var line = frame.getLineNumber() || 0;
    var column = frame.getColumnNumber() || 0;
    var location = url + ':' + line + ':' + column;
    var raw = 'at ' + location;
    if (fnName) raw = 'at ' + (frame.isConstructor() ? 'new ' : '') + fnName + ' (' + location + ')';
    var entry = {
      k: 'site',
      id: sites.length + 1,
      url: url,
      line: line,
      column: column,
      fn: fnName,
      raw: raw,
      t: pageNow(),
    };
    sites.push(entry);
    emit(entry);
    return entry;
  }

  // ---- URL redaction and JSON fields --------------------------------------

  function absoluteUrl(value) {
    try {
      return new NativeURL(value, document.baseURI).href;
    } catch (error) {
      return String(value);
    }
  }

  // Replaces query values with secret-looking names by REDACTED, and drops
  // credentials, leaving the rest of the URL byte for byte.
  function redactUrl(href) {
    var text = String(href);
    var scheme = text.indexOf('://');
    if (scheme > 0) {
      var authorityEnd = text.slice(scheme + 3).search(/[/?#]/);
      var authority = authorityEnd < 0 ? text.slice(scheme + 3) : text.slice(scheme + 3, scheme + 3 + authorityEnd);
      var at = authority.lastIndexOf('@');
      if (at >= 0) text = text.slice(0, scheme + 3) + text.slice(scheme + 3 + at + 1);
    }
    var query = text.indexOf('?');
    if (query < 0) return text;
    var hash = text.indexOf('#', query);
    var end = hash < 0 ? text.length : hash;
    var parts = text.slice(query + 1, end).split('&');
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      var name = eq < 0 ? parts[i] : parts[i].slice(0, eq);
      var decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch (error) {
        // Keep the raw name.
      }
      if (eq >= 0 && SECRET_NAME.test(decoded)) parts[i] = name + '=REDACTED';
    }
    return text.slice(0, query + 1) + parts.join('&') + text.slice(end);
  }

  // Returns the top-level string, number and boolean fields of a parsed JSON
  // value as strings, reading at most `maxKeys` keys when it is given.
  function scalarFields(value, maxKeys) {
    var fields = null;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
    var seen = 0;
    for (var key in value) {
      if (maxKeys !== undefined && ++seen > maxKeys) break;
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      var field = value[key];
      var type = typeof field;
      if (type === 'string' || type === 'number' || type === 'boolean') {
        if (fields === null) fields = {};
        fields[key] = type === 'string' ? field.slice(0, 200) : String(field);
      }
    }
    return fields;
  }

  function jsonFields(text) {
    if (typeof text !== 'string' || text.length > MAX_BODY_BYTES) return null;
    var first = text.trim().charAt(0);
    if (first !== '{') return null;
    try {
      return scalarFields(jsonParse(text));
    } catch (error) {
      return null;
    }
  }

  function isJsonType(contentType) {
    return typeof contentType === 'string' && /[/+]json\b/i.test(contentType);
  }

  // ---- Timers ------------------------------------------------------------

  var TIMEOUT = 'timeout';
  var INTERVAL = 'interval';
  // Timer events, the most frequent ones, are arrays of numbers: as JSON they
  // take about a third of the bytes of objects. 0 stands for no site or parent.
  //   [COMPACT_TIMER, id, kind (0 timeout, 1 interval), delay, site, parent, t,
  //    ended (0, ENDED_CLEARED or ENDED_FIRED), ended at, clear site]
  //   [COMPACT_CLEAR, id, site, t]
  //   [COMPACT_FIRED, id, t]
  var COMPACT_TIMER = 0;
  var COMPACT_CLEAR = 1;
  var COMPACT_FIRED = 2;
  var ENDED_CLEARED = 1;
  var ENDED_FIRED = 2;
  // id -> entry {id, kind, delay, site, created (ms since timeOrigin), parent,
  // event}. `event` is the entry's creation event while it waits in the queue,
  // so that a clear or a firing before the next flush is written into it.
  var timers = new NativeMap();
  // Entries whose `event` is set; flush() unsets them once the batch has left.
  var unsentTimers = [];
  // ids of one-shot timers with a string body, whose firing cannot be observed.
  var stringTimers = new NativeMap();
  // The id of the timer whose callback is running, 0 outside timer callbacks.
  var currentTimer = 0;

  function delayOf(value) {
    var delay = +value;
    return delay > 0 ? delay : 0;
  }

  var NO_ARGUMENTS = Object.freeze([]);

  // The one callback the agent gives the native timers. The page's handler
  // and the agent's entry travel as the native timer's extra arguments, ahead
  // of the page's own extra arguments, so no closure is allocated per timer.
  // The native timer calls it with the same `this` it would give the handler.
  function timerCallback(handler, entry) {
    var previous = currentTimer;
    currentTimer = entry.id;
    if (entry.kind === TIMEOUT && timers.get(entry.id) === entry) {
      timers.delete(entry.id);
      if (entry.event !== null) {
        entry.event[7] = ENDED_FIRED;
        entry.event[8] = pageNow();
      } else {
        emit([COMPACT_FIRED, entry.id, pageNow()]);
      }
    }
    try {
      if (arguments.length === 2) return reflectApply(handler, this, NO_ARGUMENTS);
      return reflectApply(handler, this, reflectApply(arraySlice, arguments, [2]));
    } finally {
      currentTimer = previous;
    }
  }

  function startTimer(kind, native, wrapper, self, args) {
    var site = siteOf(wrapper);
    var handler = args[0];
    var entry = {
      id: 0,
      kind: kind,
      delay: delayOf(args[1]),
      site: site,
      created: pageNow(),
      parent: currentTimer,
      event: null,
    };
    var isFunction = typeof handler === 'function';
    var id;
    if (isFunction) {
      if (args.length <= 2) {
        id = reflectApply(native, self, [timerCallback, args[1], handler, entry]);
      } else {
        var copy = [timerCallback, args[1], handler, entry];
        for (var i = 2; i < args.length; i++) copy[copy.length] = args[i];
        id = reflectApply(native, self, copy);
      }
    } else {
      // A string body (or anything else the timer converts to a string) goes
      // to the native timer unchanged, so it compiles exactly as before.
      id = reflectApply(native, self, args);
    }
    entry.id = id;
    timers.set(id, entry);
    if (!isFunction && kind === TIMEOUT) {
      stringTimers.set(id, entry.created + entry.delay);
      scheduleFlush();
    }
    var event = [COMPACT_TIMER, id, kind === TIMEOUT ? 0 : 1, entry.delay, site || 0, entry.parent, entry.created, 0, 0, 0];
    entry.event = event;
    unsentTimers.push(entry);
    emit(event);
    return id;
  }

  // One-shot timers with a string body leave the registry once their delay
  // has passed, because their firing runs no agent code.
  // NOTE: one that is still queued behind a busy main thread is counted as
  // fired a little early.
  function expireStringTimers() {
    if (stringTimers.size === 0) return;
    var now = perfNow();
    stringTimers.forEach(function (due, id) {
      if (due > now) {
        scheduleFlush();
        return;
      }
      stringTimers.delete(id);
      if (timers.has(id)) {
        timers.delete(id);
        emit([COMPACT_FIRED, id, Math.round(due)]);
      }
    });
  }

  function clearTimer(native, wrapper, self, args) {
    var result = reflectApply(native, self, args);
    var value = args[0];
    var type = typeof value;
    if (type !== 'number' && type !== 'string') return result;
    var id = +value | 0;
    var entry = timers.get(id);
    if (entry === undefined) return result;
    timers.delete(id);
    stringTimers.delete(id);
    // Clearing timeouts is frequent (debouncing), clearing intervals rare:
    // only the latter pays for a stack capture.
    var site = entry.kind === INTERVAL ? siteOf(wrapper) : null;
    if (entry.event !== null) {
      entry.event[7] = ENDED_CLEARED;
      entry.event[8] = pageNow();
      entry.event[9] = site || 0;
    } else {
      emit([COMPACT_CLEAR, id, site || 0, pageNow()]);
    }
    return result;
  }

  // Method definitions have no prototype and cannot be called with `new`,
  // like the native functions; the object literal is only their holder.
  var timerWrappers = {
    setTimeout(handler, timeout) {
      return startTimer(TIMEOUT, nativeSetTimeout, timerWrappers.setTimeout, this, arguments);
    },
    setInterval(handler, timeout) {
      return startTimer(INTERVAL, nativeSetInterval, timerWrappers.setInterval, this, arguments);
    },
    clearTimeout(id) {
      return clearTimer(nativeClearTimeout, timerWrappers.clearTimeout, this, arguments);
    },
    clearInterval(id) {
      return clearTimer(nativeClearInterval, timerWrappers.clearInterval, this, arguments);
    },
  };
  replace(global, 'setTimeout', timerWrappers.setTimeout);
  replace(global, 'setInterval', timerWrappers.setInterval);
  replace(global, 'clearTimeout', timerWrappers.clearTimeout);
  replace(global, 'clearInterval', timerWrappers.clearInterval);

  // ---- AbortController and AbortSignal -------------------------------------

  var NativeAbortController = global.AbortController;
  var NativeAbortSignal = global.AbortSignal;
  var signalGetter = NativeAbortController
    ? getOwnPropertyDescriptor(NativeAbortController.prototype, 'signal').get
    : null;
  var abortedGetter = NativeAbortSignal
    ? getOwnPropertyDescriptor(NativeAbortSignal.prototype, 'aborted').get
    : null;
  var nextController = 1;
  // signal -> controller id (weak, so the agent never keeps a signal alive).
  var signalIds = new NativeWeakMap();
  // controller id -> {site, api, aborted, requests (count in flight)}.
  var controllers = new NativeMap();
  var collected =
    typeof FinalizationRegistry === 'function'
      ? new FinalizationRegistry(function (id) {
          if (!controllers.has(id)) return;
          controllers.delete(id);
          emit({ k: 'ctl_gc', id: id, t: pageNow() });
        })
      : null;

  function isAborted(signal) {
    try {
      return reflectApply(abortedGetter, signal, []) === true;
    } catch (error) {
      return false;
    }
  }

  // api: null for an AbortController, 'timeout' or 'any' for AbortSignal statics.
  function registerController(owner, signal, site, api) {
    var id = nextController++;
    var aborted = isAborted(signal);
    controllers.set(id, { site: site, api: api, aborted: aborted, requests: 0, created: pageNow() });
    signalIds.set(signal, id);
    if (collected !== null) collected.register(owner, id);
    emit({ k: 'ctl', id: id, site: site, api: api, t: pageNow() });
    if (api !== null && !aborted) {
      reflectApply(addEventListener, signal, ['abort', onSignalAbort, { once: true }]);
    }
    return id;
  }

  // Abort of an AbortSignal.timeout / AbortSignal.any signal, which has no
  // abort() call to wrap.
  function onSignalAbort() {
    markAborted(signalIds.get(this), null);
  }

  function markAborted(id, site) {
    var entry = id === undefined ? undefined : controllers.get(id);
    if (entry === undefined || entry.aborted) return;
    entry.aborted = true;
    emit({ k: 'ctl_abort', id: id, site: site, t: pageNow() });
  }

  if (NativeAbortController && signalGetter) {
    var constructTrap = {
      construct(target, args, newTarget) {
        var controller = reflectConstruct(target, args, newTarget);
        var signal = reflectApply(signalGetter, controller, []);
        registerController(controller, signal, siteOf(constructTrap.construct), null);
        return controller;
      },
    };
    var ControllerProxy = new Proxy(NativeAbortController, constructTrap);
    originals.set(ControllerProxy, NativeAbortController);
    var constructorDescriptor = getOwnPropertyDescriptor(NativeAbortController.prototype, 'constructor');
    constructorDescriptor.value = ControllerProxy;
    defineProperty(NativeAbortController.prototype, 'constructor', constructorDescriptor);
    var globalDescriptor = getOwnPropertyDescriptor(global, 'AbortController');
    globalDescriptor.value = ControllerProxy;
    defineProperty(global, 'AbortController', globalDescriptor);

    var nativeAbort = NativeAbortController.prototype.abort;
    var abortWrapper = {
      abort(reason) {
        var signal = null;
        try {
          signal = reflectApply(signalGetter, this, []);
        } catch (error) {
          // Not a controller: the native call below throws as it would have.
        }
        var result = reflectApply(nativeAbort, this, arguments);
        if (signal !== null) markAborted(signalIds.get(signal), siteOf(abortWrapper.abort));
        return result;
      },
    };
    replace(NativeAbortController.prototype, 'abort', abortWrapper.abort);
  }

  if (NativeAbortSignal) {
    var signalStatics = {
      timeout(milliseconds) {
        var signal = reflectApply(nativeSignalTimeout, this, arguments);
        registerController(signal, signal, siteOf(signalStatics.timeout), 'timeout');
        return signal;
      },
      any(signals) {
        var signal = reflectApply(nativeSignalAny, this, arguments);
        registerController(signal, signal, siteOf(signalStatics.any), 'any');
        return signal;
      },
    };
    var nativeSignalTimeout = NativeAbortSignal.timeout;
    var nativeSignalAny = NativeAbortSignal.any;
    if (typeof nativeSignalTimeout === 'function') replace(NativeAbortSignal, 'timeout', signalStatics.timeout);
    if (typeof nativeSignalAny === 'function') replace(NativeAbortSignal, 'any', signalStatics.any);
  }

  function controllerOf(signal) {
    if (signal === null || typeof signal !== 'object') return null;
    var id = signalIds.get(signal);
    return id === undefined ? null : id;
  }

  // ---- Requests ----------------------------------------------------------

  var nextRequest = 1;
  // request id -> {api, method, url, site, controller, created}.
  var requests = new NativeMap();

  function startRequest(api, method, url, site, signal, bodyFields) {
    var id = nextRequest++;
    var controller = controllerOf(signal);
    var preAborted = signal !== null && signal !== undefined && isAborted(signal);
    var reported = redactUrl(absoluteUrl(url));
    requests.set(id, { api: api, method: method, url: reported, site: site, controller: controller, created: pageNow() });
    if (controller !== null) {
      var entry = controllers.get(controller);
      if (entry !== undefined) entry.requests++;
    }
    emit({
      k: 'req',
      id: id,
      api: api,
      method: method,
      url: reported,
      site: site,
      ctl: controller,
      pre: preAborted,
      timer: currentTimer || null,
      body: bodyFields,
      t: pageNow(),
    });
    return id;
  }

  // outcome: 'completed' (with status), 'aborted' or 'failed' (with error).
  function endRequest(id, outcome, status, error, fields, time) {
    var request = requests.get(id);
    if (request === undefined) return;
    requests.delete(id);
    if (request.controller !== null) {
      var entry = controllers.get(request.controller);
      if (entry !== undefined) entry.requests--;
    }
    emit({ k: 'end', id: id, outcome: outcome, status: status, error: error, fields: fields, t: time });
  }

  function errorText(error) {
    try {
      if (error && typeof error === 'object' && typeof error.name === 'string') {
        return error.message ? error.name + ': ' + error.message : error.name;
      }
      return String(error);
    } catch (failure) {
      return 'unprintable rejection';
    }
  }

  // A JSON fetch ends when the page's own json() or text() resolves, and its
  // end event carries the fields of the result. The agent reads no body
  // itself, because the page's read of a cloned (teed) body is much slower.
  // response, or a clone the page made of it -> pending end {id, status, time,
  // reading, sent}.
  var unreadBodies = new NativeWeakMap();
  // Pending ends not sent yet, oldest first.
  var pendingEnds = [];
  // Time after which a response whose body the page has not started to read
  // ends without fields.
  var READ_WAIT_MS = 1000;
  // Maximum number of top-level keys of a parsed JSON body that the agent reads.
  var MAX_FIELD_KEYS = 1000;

  // Checks headers only, because reading `response.body` makes the page's own
  // json() or text() go through a stream object, which is slower.
  // NOTE: a page that reads the body from `response.body` or blob() gives no
  // fields, so its polls show no status.
  function wantsFields(response) {
    var headers = response.headers;
    var length = headers.get('content-length');
    return isJsonType(headers.get('content-type')) && (length === null || +length <= MAX_BODY_BYTES);
  }

  function finishBody(pending, fields) {
    if (pending.sent) return;
    pending.sent = true;
    endRequest(pending.id, 'completed', pending.status, null, fields, pending.time);
  }

  // Ends the pending requests whose body the page left unread for READ_WAIT_MS.
  function expireUnreadBodies() {
    if (pendingEnds.length === 0) return;
    var now = perfNow();
    var stillPending = [];
    for (var i = 0; i < pendingEnds.length; i++) {
      var pending = pendingEnds[i];
      if (pending.sent) continue;
      if (!pending.reading && now - pending.time >= READ_WAIT_MS) {
        finishBody(pending, null);
        continue;
      }
      stillPending.push(pending);
    }
    pendingEnds = stillPending;
    if (stillPending.length > 0) scheduleFlush();
  }

  function parsedFields(value) {
    return scalarFields(value, MAX_FIELD_KEYS);
  }

  var textDecoder = typeof TextDecoder === 'function' ? new TextDecoder() : null;

  // Fields of a body read as bytes (arrayBuffer() or bytes()), decoded as UTF-8.
  function byteFields(bytes) {
    if (textDecoder === null || bytes.byteLength > MAX_BODY_BYTES) return null;
    return jsonFields(textDecoder.decode(bytes));
  }

  // Wraps a body-reading method of Response. `fields` turns the read's result
  // into fields. It is null for reads the agent does not parse (blob,
  // formData), and those end the request at once.
  function bodyRead(native, fields) {
    var wrapper = {
      read() {
        var result = reflectApply(native, this, arguments);
        var pending = unreadBodies.get(this);
        if (pending === undefined || pending.sent) return result;
        unreadBodies.delete(this);
        if (fields === null) {
          finishBody(pending, null);
          return result;
        }
        pending.reading = true;
        return reflectApply(promiseThen, result, [
          function (value) {
            finishBody(pending, fields(value));
            return value;
          },
          function (error) {
            finishBody(pending, null);
            throw error;
          },
        ]);
      },
    }.read;
    return wrapper;
  }

  if (NativeResponse) {
    var responseProto = NativeResponse.prototype;
    var bodyMethods = ['json', 'text', 'arrayBuffer', 'blob', 'formData', 'bytes'];
    var bodyParsers = [parsedFields, jsonFields, byteFields, null, null, byteFields];
    for (var m = 0; m < bodyMethods.length; m++) {
      var nativeRead = getOwnPropertyDescriptor(responseProto, bodyMethods[m]);
      if (nativeRead && typeof nativeRead.value === 'function') {
        replace(responseProto, bodyMethods[m], bodyRead(nativeRead.value, bodyParsers[m]));
      }
    }
    if (typeof responseClone === 'function') {
      var cloneWrapper = {
        clone() {
          var copy = reflectApply(responseClone, this, arguments);
          var pending = unreadBodies.get(this);
          if (pending !== undefined) unreadBodies.set(copy, pending);
          return copy;
        },
      };
      replace(responseProto, 'clone', cloneWrapper.clone);
    }
  }

  function fetchDetails(input, init) {
    var isRequest = typeof Request === 'function' && input instanceof Request;
    var method = 'GET';
    var url;
    var signal = null;
    var bodyFields = null;
    if (isRequest) {
      method = input.method;
      url = input.url;
      signal = input.signal;
    } else {
      url = String(input);
    }
    if (init !== null && typeof init === 'object') {
      if (init.method !== undefined) method = String(init.method).toUpperCase();
      if (init.signal !== undefined) signal = init.signal;
      if (typeof init.body === 'string') bodyFields = jsonFields(init.body);
    }
    return { method: method, url: url, signal: signal, body: bodyFields };
  }

  if (typeof nativeFetch === 'function') {
    var fetchWrapper = {
      fetch(input, init) {
        var site = siteOf(fetchWrapper.fetch);
        var details = null;
        try {
          details = fetchDetails(input, init);
        } catch (error) {
          // The native fetch below meets the same input and rejects as before.
        }
        var promise = reflectApply(nativeFetch, this, arguments);
        if (details === null) return promise;
        var id = startRequest('fetch', details.method, details.url, site, details.signal, details.body);
        var signal = details.signal;
        return reflectApply(promiseThen, promise, [
          function (response) {
            var time = pageNow();
            var status = response.status;
            if (!wantsFields(response)) {
              endRequest(id, 'completed', status, null, null, time);
              return response;
            }
            var pending = { id: id, status: status, time: time, reading: false, sent: false };
            unreadBodies.set(response, pending);
            pendingEnds.push(pending);
            scheduleFlush();
            return response;
          },
          function (error) {
            var aborted =
              (signal !== null && signal !== undefined && isAborted(signal)) ||
              (error !== null && typeof error === 'object' && error.name === 'AbortError');
            endRequest(id, aborted ? 'aborted' : 'failed', null, aborted ? null : errorText(error), null, pageNow());
            throw error;
          },
        ]);
      },
    };
    replace(global, 'fetch', fetchWrapper.fetch);
  }

  // XMLHttpRequest: open records method and URL; send starts the request;
  // the load / abort / error / timeout events decide the outcome at loadend.
  var NativeXHR = global.XMLHttpRequest;
  var xhrState = new NativeWeakMap(); // xhr -> {method, url, request, outcome, listening}

  function onXhrEvent(event) {
    var state = xhrState.get(this);
    if (state === undefined || state.request === 0) return;
    var type = event.type;
    if (type === 'abort') state.outcome = 'aborted';
    else if (type === 'error') state.outcome = 'failed:network error';
    else if (type === 'timeout') state.outcome = 'failed:timeout';
    else if (type === 'load') state.outcome = 'completed';
    else if (type === 'loadend') {
      var id = state.request;
      state.request = 0;
      var outcome = state.outcome || 'failed:unknown';
      if (outcome === 'completed') {
        endRequest(id, 'completed', this.status, null, xhrFields(this), pageNow());
      } else if (outcome === 'aborted') {
        endRequest(id, 'aborted', null, null, null, pageNow());
      } else {
        endRequest(id, 'failed', null, outcome.slice(7), null, pageNow());
      }
    }
  }

  function xhrFields(xhr) {
    try {
      var type = xhr.responseType;
      if (!isJsonType(xhr.getResponseHeader('content-type'))) return null;
      if (type === 'json') return parsedFields(xhr.response);
      if (type === '' || type === 'text') return jsonFields(xhr.responseText);
    } catch (error) {
      // Unreadable response: no fields.
    }
    return null;
  }

  if (typeof NativeXHR === 'function') {
    var xhrProto = NativeXHR.prototype;
    var nativeOpen = xhrProto.open;
    var nativeSend = xhrProto.send;
    var xhrWrappers = {
      open(method, url) {
        var result = reflectApply(nativeOpen, this, arguments);
        var state = xhrState.get(this);
        if (state === undefined) {
          state = { method: 'GET', url: '', request: 0, outcome: null, listening: false };
          xhrState.set(this, state);
        }
        state.method = String(method).toUpperCase();
        state.url = String(url);
        return result;
      },
      send(body) {
        var state = xhrState.get(this);
        if (state === undefined || state.request !== 0) return reflectApply(nativeSend, this, arguments);
        if (!state.listening) {
          state.listening = true;
          var types = ['load', 'abort', 'error', 'timeout', 'loadend'];
          for (var i = 0; i < types.length; i++) reflectApply(addEventListener, this, [types[i], onXhrEvent]);
        }
        var fields = typeof body === 'string' ? jsonFields(body) : null;
        state.outcome = null;
        state.request = startRequest('xhr', state.method, state.url, siteOf(xhrWrappers.send), null, fields);
        try {
          return reflectApply(nativeSend, this, arguments);
        } catch (error) {
          // send threw before the request started (for example InvalidStateError).
          var id = state.request;
          state.request = 0;
          endRequest(id, 'failed', null, errorText(error), null, pageNow());
          throw error;
        }
      },
    };
    replace(xhrProto, 'open', xhrWrappers.open);
    replace(xhrProto, 'send', xhrWrappers.send);
  }

  // ---- Poll signals: page API and [PollingHealth] console lines -------------

  function pollSignal(signal, operation, type, reason, source, extra) {
    var event = {
      k: 'poll',
      signal: signal,
      op: operation === undefined || operation === null ? '' : String(operation),
      type: type === undefined || type === null ? null : String(type),
      reason: reason === undefined || reason === null ? null : String(reason),
      source: source,
      t: pageNow(),
    };
    if (extra) {
      event.attempts = extra.attempts;
      event.age = extra.age;
    }
    emit(event);
  }

  function numberOrNull(value) {
    return typeof value === 'number' && isFinite(value) ? value : null;
  }

  // Reads a [PollingHealth] console call. The object arguments are the live
  // objects the page logged, so nothing is truncated as a console preview is.
  function readPollingHealth(args) {
    var message = args[0];
    var data = args.length > 1 ? args[1] : undefined;
    var hasObject = data !== null && typeof data === 'object';
    var lower = message.toLowerCase();
    if (hasObject && Array.isArray(data.polls)) {
      for (var i = 0; i < data.polls.length; i++) {
        var poll = data.polls[i];
        if (poll === null || typeof poll !== 'object') continue;
        pollSignal('report', poll.id, poll.type, null, 'console', {
          attempts: numberOrNull(poll.pollCount),
          age: numberOrNull(poll.age),
        });
      }
      return;
    }
    if (!hasObject) return;
    var operation = data.id !== undefined ? data.id : data.operationId;
    var extra = { attempts: numberOrNull(data.pollCount), age: numberOrNull(data.duration) };
    if (lower.indexOf('runaway') >= 0) {
      pollSignal('runaway', operation, data.type, 'runaway', 'console', extra);
    } else if (lower.indexOf('complet') >= 0 || lower.indexOf('ended') >= 0 || lower.indexOf('stopped') >= 0) {
      pollSignal('end', operation, data.type, data.reason, 'console', extra);
    } else if (lower.indexOf('start') >= 0) {
      pollSignal('start', operation, data.type, null, 'console', extra);
    }
  }

  var consoleObject = global.console;
  if (consoleObject) {
    ['log', 'info', 'warn', 'error'].forEach(function (level) {
      var nativeLog = consoleObject[level];
      if (typeof nativeLog !== 'function') return;
      // A method definition, like the native function, has no prototype.
      var holder = {
        [level](...args) {
          var first = args[0];
          if (typeof first === 'string' && first.indexOf(POLL_PREFIX) === 0) {
            try {
              readPollingHealth(args);
            } catch (error) {
              // A malformed line is still logged below; it just yields no signal.
            }
          }
          return reflectApply(nativeLog, this, args);
        },
      };
      replace(consoleObject, level, holder[level]);
    });
  }

  var pollApi = {
    start(operationId, type) {
      pollSignal('start', operationId, type, null, 'api');
    },
    attempt(operationId) {
      pollSignal('attempt', operationId, null, null, 'api');
    },
    end(operationId, reason) {
      pollSignal('end', operationId, null, reason, 'api');
    },
    unmount(scope) {
      pollSignal('unmount', scope, null, null, 'api');
    },
  };
  if (global.leakscope === undefined) {
    defineProperty(global, 'leakscope', {
      value: Object.freeze({ poll: Object.freeze(pollApi) }),
      writable: false,
      enumerable: false,
      configurable: true,
    });
  }

  // ---- History -------------------------------------------------------------

  // A same-document navigation reaches Leakscope at once, so the events queued
  // before it leave first. Otherwise a poll's last request could arrive after
  // the route change and count as sent by an orphaned poll.
  var NativeHistory = global.History;
  if (NativeHistory) {
    var nativePushState = NativeHistory.prototype.pushState;
    var nativeReplaceState = NativeHistory.prototype.replaceState;
    var historyWrappers = {
      pushState(data, unused) {
        sendBatch();
        return reflectApply(nativePushState, this, arguments);
      },
      replaceState(data, unused) {
        sendBatch();
        return reflectApply(nativeReplaceState, this, arguments);
      },
    };
    replace(NativeHistory.prototype, 'pushState', historyWrappers.pushState);
    replace(NativeHistory.prototype, 'replaceState', historyWrappers.replaceState);
  }

  // ---- Injection, resync and page exit ------------------------------------

  // Injected into a document whose own scripts may already have run: timers
  // and requests created before now are invisible to the agent.
  function isLate() {
    if (document.readyState !== 'loading') return true;
    var scripts = document.scripts;
    var own = document.currentScript;
    for (var i = 0; i < scripts.length; i++) {
      if (scripts[i] !== own) return true;
    }
    return false;
  }

  function snapshotEvents(resync) {
    var top = true;
    try {
      top = global.top === global;
    } catch (error) {
      top = false;
    }
    emit({ k: 'injected', url: redactUrl(location.href), late: resync || isLate(), top: top, resync: resync, t: pageNow() });
    if (!resync) return;
    for (var i = 0; i < sites.length; i++) emit(sites[i]);
    controllers.forEach(function (entry, id) {
      emit({ k: 'ctl', id: id, site: entry.site, api: entry.api, t: entry.created, resync: true });
      if (entry.aborted) emit({ k: 'ctl_abort', id: id, site: null, t: entry.created, resync: true });
    });
    timers.forEach(function (entry, id) {
      emit({
        k: 'timer',
        id: id,
        kind: entry.kind,
        delay: entry.delay,
        site: entry.site,
        parent: entry.parent || null,
        t: entry.created,
        resync: true,
      });
    });
    requests.forEach(function (entry, id) {
      emit({
        k: 'req',
        id: id,
        api: entry.api,
        method: entry.method,
        url: entry.url,
        site: entry.site,
        ctl: entry.controller,
        pre: false,
        timer: null,
        body: null,
        t: entry.created,
        resync: true,
      });
    });
  }

  defineProperty(global, MARKER, {
    value: Object.freeze({
      resync: function () {
        snapshotEvents(true);
        flush();
      },
      // Counts for tests and benchmarks: what the registries hold right now.
      live: function () {
        return { timers: timers.size, requests: requests.size, controllers: controllers.size, sites: sites.length };
      },
      flush: flush,
    }),
    enumerable: false,
    configurable: false,
    writable: false,
  });

  // Sends the pending ends without fields, because a page that goes away reads
  // no more bodies, then flushes.
  function onPageHide() {
    for (var i = 0; i < pendingEnds.length; i++) finishBody(pendingEnds[i], null);
    pendingEnds = [];
    flush();
  }

  reflectApply(addEventListener, global, ['pagehide', onPageHide]);
  snapshotEvents(false);
  flush();
})();
