// Leakscope demo editor.
//
// A small video editor page with four generation flows. Each flow's panel
// starts a job with a POST, then polls the job's status endpoint until the
// job ends. The `variant` URL parameter picks how the page cleans up:
//
// - fixed: a poll stops on completion, on failure, on an HTTP or network
//   error, on the client timeout (`timeout_ms`) and when its panel closes.
//   Closing clears the poll's timer, aborts its request in flight (one
//   AbortController per request) and ends the poll in the health monitor
//   with reason "unmount".
// - leaky: closing only hides the panel. The timer keeps running, the
//   request in flight is not aborted, and the poll is never ended in the
//   health monitor. The poll also ignores "complete" and "failed", so it runs
//   until the page unloads. Every status response is also kept in `window.__pollHistory` as a
//   `PollResult` of about `leak_kb` KB, so the heap grows by a steady amount
//   per poll.
//
// Timers: video and upscale poll with a setTimeout chain, which schedules
// the next poll after the previous request settled. Suno and minimax poll
// with setInterval, whose tick fires whether or not the previous request
// settled. The fixed variant skips a tick while a request is in flight.
//
// Query parameters are checked strictly: a bad value or a repeated name
// shows an error in the page, logs console.error naming the parameter and
// the value, and leaves the editor disabled instead of falling back. An
// unknown name only gets a warning (shown and logged with console.warn),
// because callers add their own markers to the URL, for example to find a
// page load in the server's request log.
'use strict';

(function () {
  const FLOWS = {
    video: {
      title: 'Generate video',
      startPath: '/api/video/generate',
      statusPath: '/api/video/status',
      pollType: 'video',
      timer: 'timeout',
      prompt: 'A slow drone shot over a neon city at night',
    },
    suno: {
      title: 'Suno audio',
      startPath: '/api/audio/suno/generate',
      statusPath: '/api/audio/suno/status',
      pollType: 'audio-suno',
      timer: 'interval',
      prompt: 'Lo-fi beat, 90 bpm, warm tape hiss',
    },
    upscale: {
      title: 'Upscale (Topaz)',
      startPath: '/api/video/upscale',
      statusPath: '/api/video/upscale-status',
      pollType: 'upscale',
      timer: 'timeout',
      prompt: 'city-night.mp4 to 4K',
    },
    minimax: {
      title: 'Audio from video (MiniMax)',
      startPath: '/api/video/generate-audio',
      statusPath: '/api/video/generate-audio-status',
      pollType: 'audio-minimax',
      timer: 'interval',
      prompt: 'Ambient sound for city-night.mp4',
    },
  };
  const FLOW_NAMES = Object.keys(FLOWS);

  // Max poll attempts per poll type before the health monitor reports a
  // runaway poll; the values of the editor team's PollingHealthMonitor.
  const MAX_ATTEMPTS = { video: 60, 'audio-suno': 60, 'audio-minimax': 60, upscale: 120 };

  // ---------------------------------------------------------------- params

  // `fallback: null` leaves the value to the server's default job settings.
  // The interval's 300 ms fallback compresses time so that a one-minute demo
  // run passes the editor's attempt limits: the third flow's poll (upscale,
  // 120 attempts) starts about 8 s into the cycles and passes its limit after
  // about 36 s more. A fixed job (5 "processing" answers) finishes in about
  // 2 s, while its panel is still open.
  const PARAMETERS = {
    variant: { kind: 'enum', values: ['leaky', 'fixed'], fallback: 'leaky' },
    flow: { kind: 'enum', values: FLOW_NAMES.concat(['all']), fallback: 'all' },
    interval: { kind: 'int', min: 1, fallback: 300, meaning: 'poll interval in milliseconds' },
    cycles: { kind: 'int', min: 0, fallback: 0, meaning: 'open, generate and close cycles to run' },
    cycle_ms: { kind: 'int', min: 0, fallback: 3000, meaning: 'milliseconds a panel stays open per cycle' },
    gap_ms: { kind: 'int', min: 0, fallback: 1000, meaning: 'milliseconds between cycles' },
    complete_after: { kind: 'int', min: 0, fallback: null, meaning: '"processing" responses before the outcome' },
    job: { kind: 'enum', values: ['complete', 'never', 'failed', 'error', 'hang'], fallback: null },
    error_status: { kind: 'int', min: 400, max: 599, fallback: null, meaning: 'HTTP status of an error job' },
    timeout_ms: { kind: 'int', min: 1, fallback: 60000, meaning: 'client timeout of the fixed variant in milliseconds' },
    health_ms: { kind: 'int', min: 1, fallback: 30000, meaning: 'health report period in milliseconds' },
    leak_kb: { kind: 'int', min: 0, fallback: 256, meaning: 'kilobytes the leaky variant keeps per poll' },
  };

  function parseParameters(search) {
    const query = new URLSearchParams(search);
    const values = {};
    const errors = [];
    const warnings = [];
    for (const name of Object.keys(PARAMETERS)) {
      values[name] = PARAMETERS[name].fallback;
    }
    const seen = new Set();
    for (const [name, raw] of query) {
      const rule = PARAMETERS[name];
      if (!rule) {
        warnings.push(`unknown URL parameter ${name}="${raw}" is ignored; valid names: ${Object.keys(PARAMETERS).join(', ')}`);
        continue;
      }
      if (seen.has(name)) {
        errors.push(`URL parameter ${name} is given more than once; give it once`);
        continue;
      }
      seen.add(name);
      const checked = checkValue(name, rule, raw);
      if (checked.error) {
        errors.push(checked.error);
      } else {
        values[name] = checked.value;
      }
    }
    return { values, errors, warnings };
  }

  function checkValue(name, rule, raw) {
    if (rule.kind === 'enum') {
      if (rule.values.includes(raw)) {
        return { value: raw };
      }
      return { error: `invalid URL parameter ${name}="${raw}"; valid values: ${rule.values.join(', ')}` };
    }
    const bounds = rule.max === undefined ? `>= ${rule.min}` : `from ${rule.min} to ${rule.max}`;
    const expected = `expected a whole number ${bounds} (${rule.meaning})`;
    if (!/^[0-9]+$/.test(raw)) {
      return { error: `invalid URL parameter ${name}="${raw}"; ${expected}` };
    }
    const value = Number(raw);
    const tooBig = !Number.isSafeInteger(value) || (rule.max !== undefined && value > rule.max);
    if (value < rule.min || tooBig) {
      return { error: `invalid URL parameter ${name}="${raw}"; ${expected}` };
    }
    return { value };
  }

  const parsed = parseParameters(location.search);
  const params = parsed.values;
  const errors = parsed.errors;
  const warnings = parsed.warnings;
  const leaky = params.variant === 'leaky';

  // -------------------------------------------------------- health monitor

  // Logs the same lines as the editor team's PollingHealthMonitor, so tools
  // that read `[PollingHealth]` console output treat the demo like the editor.
  class PollingHealthMonitor {
    constructor(reportMs) {
      this.activePolls = new Map();
      this.reportTimer = setInterval(() => this.sendHealthReport(), reportMs);
    }

    startPolling(operationId, type) {
      const now = Date.now();
      this.activePolls.set(operationId, {
        id: operationId,
        type,
        startTime: now,
        pollCount: 0,
        lastPollTime: now,
      });
    }

    incrementPoll(operationId) {
      const poll = this.activePolls.get(operationId);
      if (!poll) {
        return;
      }
      poll.pollCount++;
      poll.lastPollTime = Date.now();
      if (poll.pollCount > (MAX_ATTEMPTS[poll.type] || 60)) {
        console.error('[PollingHealth] Runaway poll detected:', { ...poll });
      }
    }

    endPolling(operationId, reason) {
      const poll = this.activePolls.get(operationId);
      if (!poll) {
        return;
      }
      const duration = Date.now() - poll.startTime;
      console.info('[PollingHealth] Polling completed:', { ...poll, duration, reason });
      this.activePolls.delete(operationId);
    }

    sendHealthReport() {
      const now = Date.now();
      const report = {
        activePolls: this.activePolls.size,
        polls: Array.from(this.activePolls.values()).map((poll) => ({
          id: poll.id,
          type: poll.type,
          age: now - poll.startTime,
          pollCount: poll.pollCount,
        })),
        timestamp: now,
      };
      console.log('[PollingHealth]', report);
      if (report.activePolls > 5) {
        console.warn('[PollingHealth] High number of active polls:', report.activePolls);
      }
    }
  }

  // ------------------------------------------------------------ the leak

  // One status response as the leaky variant keeps it. The distinctive class
  // name is what a heap snapshot diff shows growing.
  class PollResult {
    constructor(operationName, attempt, response, kilobytes) {
      this.operationName = operationName;
      this.attempt = attempt;
      this.receivedAt = Date.now();
      this.response = response;
      // Doubles in a plain Array live on the V8 heap at 8 bytes each, while a
      // typed array's buffer would be outside it and not show in
      // Runtime.getHeapUsage. Growing by push keeps the elements packed
      // doubles, because `new Array(n)` with a large n can start in
      // dictionary mode.
      const count = Math.floor((kilobytes * 1024) / 8);
      const waveform = [];
      for (let i = 0; i < count; i++) {
        waveform.push(Math.random());
      }
      this.waveform = waveform;
    }
  }

  if (leaky) {
    window.__pollHistory = [];
  }

  function keepResponse(poll, body) {
    if (leaky) {
      window.__pollHistory.push(new PollResult(poll.op, poll.attempts, body, params.leak_kb));
    } else {
      poll.latest = body;
    }
  }

  // --------------------------------------------------------------- polls

  // Operation ids of the polls still running. Ids, not the polls, so that
  // the only thing keeping a leaked poll alive is its timer's callback, as in
  // the editor this demo reproduces.
  const livePolls = new Set();
  let monitor = null;

  // One job's poll. A class rather than an object literal so that heap
  // snapshots name it: each poll the leaky variant leaves behind shows as one
  // more `StatusPoll` in a snapshot diff, retained by its timer's callback.
  class StatusPoll {
    constructor(flow, op) {
      this.flow = flow;
      this.op = op;
      this.attempts = 0;
      this.timerId = null;
      this.deadlineId = null;
      this.controller = null;
      this.ended = null;
      this.latest = null;
    }
  }

  function startPolling(flow, op) {
    const spec = FLOWS[flow];
    const poll = new StatusPoll(flow, op);
    livePolls.add(poll.op);
    monitor.startPolling(op, spec.pollType);
    if (!leaky) {
      poll.deadlineId = setTimeout(() => endPoll(poll, 'timeout'), params.timeout_ms);
    }
    if (spec.timer === 'interval') {
      poll.timerId = setInterval(() => pollOnce(poll), params.interval);
    }
    pollOnce(poll);
    renderStatusbar();
    return poll;
  }

  async function pollOnce(poll) {
    const spec = FLOWS[poll.flow];
    if (poll.ended) {
      return;
    }
    if (!leaky && poll.controller) {
      // An interval tick while the previous request is still open: skip it
      // so requests to a slow server do not pile up.
      return;
    }
    poll.attempts++;
    monitor.incrementPoll(poll.op);
    renderPoll(poll, { note: `request ${poll.attempts} sent` });

    const controller = new AbortController();
    poll.controller = controller;
    const url = `${spec.statusPath}?operationName=${encodeURIComponent(poll.op)}`;
    let outcome = null;
    try {
      const response = await fetch(url, { signal: controller.signal, cache: 'no-store' });
      const text = await response.text();
      if (!response.ok) {
        throw new Error(`GET ${spec.statusPath} returned HTTP ${response.status}: ${text.slice(0, 120)}`);
      }
      const body = JSON.parse(text);
      keepResponse(poll, body);
      renderPoll(poll, { status: body.status, progress: body.progress, note: '' });
      if (body.status === 'complete') {
        outcome = 'complete';
      } else if (body.status === 'failed') {
        outcome = 'error';
      }
    } catch (error) {
      if (error.name === 'AbortError') {
        // Only the fixed variant aborts, and only when it ends the poll.
        return;
      }
      renderPoll(poll, { status: 'error', note: error.message });
      outcome = 'error';
    } finally {
      if (poll.controller === controller) {
        poll.controller = null;
      }
    }

    if (outcome && !leaky) {
      endPoll(poll, outcome);
      return;
    }
    // The leaky variant has no "done" check here, so a finished or failed
    // job is polled again and again.
    if (spec.timer === 'timeout' && !poll.ended) {
      poll.timerId = setTimeout(() => pollOnce(poll), params.interval);
    }
  }

  // Ends a poll of the fixed variant: clears its timers, aborts its request
  // in flight and ends it in the health monitor with `reason`.
  function endPoll(poll, reason) {
    if (poll.ended) {
      return;
    }
    poll.ended = reason;
    if (FLOWS[poll.flow].timer === 'interval') {
      clearInterval(poll.timerId);
    } else {
      clearTimeout(poll.timerId);
    }
    clearTimeout(poll.deadlineId);
    poll.timerId = null;
    poll.deadlineId = null;
    if (poll.controller) {
      poll.controller.abort();
      poll.controller = null;
    }
    monitor.endPolling(poll.op, reason);
    livePolls.delete(poll.op);
    const finalStatus = { complete: 'complete', error: 'failed', timeout: 'timeout', unmount: 'closed' }[reason];
    renderPoll(poll, { status: finalStatus, note: `polling stopped: ${reason}` });
    renderStatusbar();
  }

  // -------------------------------------------------------------- panels

  const panels = {};

  function buildPanels() {
    const template = document.getElementById('panel-template');
    const container = document.querySelector('.panels');
    for (const flow of FLOW_NAMES) {
      const spec = FLOWS[flow];
      const element = template.content.firstElementChild.cloneNode(true);
      element.id = `panel-${flow}`;
      element.dataset.testid = `panel-${flow}`;
      element.querySelector('.panel-title').textContent = spec.title;
      element.querySelector('.prompt').value = spec.prompt;
      const parts = {
        generate: element.querySelector('.generate'),
        close: element.querySelector('.close'),
        op: element.querySelector('.op'),
        attempts: element.querySelector('.attempts'),
        status: element.querySelector('.status'),
        progress: element.querySelector('.progress'),
        fill: element.querySelector('.progress-fill'),
        note: element.querySelector('.panel-note'),
        prompt: element.querySelector('.prompt'),
      };
      const ids = { generate: 'generate', close: 'close', op: 'op', attempts: 'attempts', status: 'status', progress: 'progress' };
      for (const [part, prefix] of Object.entries(ids)) {
        parts[part].id = `${prefix}-${flow}`;
        parts[part].dataset.testid = `${prefix}-${flow}`;
      }
      parts.generate.addEventListener('click', () => generate(flow));
      parts.close.addEventListener('click', () => close(flow));
      container.appendChild(element);
      // `mount` counts openings, so a response that arrives for an earlier
      // opening of the panel is recognised as stale.
      panels[flow] = { element, parts, open: false, mount: 0, poll: null, starting: null, startController: null };
    }
  }

  function flowPath(flow) {
    return (flow ? `/${flow}` : '/') + location.search;
  }

  function checkFlowName(flow) {
    if (!Object.prototype.hasOwnProperty.call(FLOWS, flow)) {
      throw new Error(`unknown flow "${flow}"; valid flows: ${FLOW_NAMES.join(', ')}`);
    }
  }

  function checkUsable() {
    if (errors.length > 0) {
      throw new Error(`the demo editor is disabled by invalid URL parameters: ${errors.join('; ')}`);
    }
  }

  // Opens a flow's panel with a same-document route change. One panel is
  // open at a time, as with a modal route, so opening one closes another.
  function open(flow, options = {}) {
    checkUsable();
    checkFlowName(flow);
    const panel = panels[flow];
    if (panel.open) {
      return;
    }
    for (const other of FLOW_NAMES) {
      if (other !== flow && panels[other].open) {
        close(other, { routeChange: false });
      }
    }
    panel.open = true;
    panel.mount++;
    panel.poll = null;
    panel.element.hidden = false;
    renderPanel(flow, { op: 'none', attempts: 0, status: 'idle', progress: 0, note: '' });
    if (options.routeChange !== false) {
      history.pushState({ flow }, '', flowPath(flow));
    }
    renderChrome();
  }

  // Closes a flow's panel and goes back to `/`. Only the fixed variant
  // cleans up what the panel started.
  function close(flow, options = {}) {
    checkFlowName(flow);
    const panel = panels[flow];
    if (!panel.open) {
      return;
    }
    panel.open = false;
    panel.element.hidden = true;
    if (!leaky) {
      if (panel.startController) {
        panel.startController.abort();
      }
      if (panel.poll) {
        endPoll(panel.poll, 'unmount');
      }
    }
    // leaky: the missing cleanup. The poll's timer, its request in flight
    // and its health monitor entry are all left behind.
    panel.poll = null;
    if (options.routeChange !== false) {
      history.pushState({}, '', flowPath(null));
    }
    renderChrome();
  }

  // Starts a job in a flow's panel (opening it first if needed) and
  // resolves to the new operation id, or to null when the start failed or
  // the panel closed first. While the panel's job is running it resolves to
  // that job's id.
  function generate(flow) {
    checkUsable();
    checkFlowName(flow);
    const panel = panels[flow];
    if (!panel.open) {
      open(flow);
    }
    if (panel.poll && !panel.poll.ended) {
      return Promise.resolve(panel.poll.op);
    }
    if (panel.starting) {
      return panel.starting;
    }
    const spec = FLOWS[flow];
    const mount = panel.mount;
    const controller = new AbortController();
    panel.startController = controller;
    renderPanel(flow, { op: 'starting', attempts: 0, status: 'starting', progress: 0, note: '' });

    const request = { prompt: panel.parts.prompt.value };
    for (const name of ['complete_after', 'job', 'error_status']) {
      if (params[name] !== null) {
        request[name] = params[name];
      }
    }

    panel.starting = (async () => {
      try {
        const response = await fetch(spec.startPath, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(request),
          signal: controller.signal,
        });
        const text = await response.text();
        if (!response.ok) {
          throw new Error(`POST ${spec.startPath} returned HTTP ${response.status}: ${text.slice(0, 200)}`);
        }
        const op = JSON.parse(text).operationName;
        if (!leaky && (panel.mount !== mount || !panel.open)) {
          return null;
        }
        // leaky: a start that resolves after the panel closed still polls,
        // with no panel left to stop it.
        const poll = startPolling(flow, op);
        if (panel.mount === mount && panel.open) {
          panel.poll = poll;
          renderPoll(poll, {});
        }
        return op;
      } catch (error) {
        if (error.name === 'AbortError') {
          return null;
        }
        console.error(`[demo] failed to start a ${flow} job: ${error.message}`);
        if (panel.mount === mount) {
          renderPanel(flow, { op: 'none', status: 'error', note: error.message });
        }
        return null;
      } finally {
        if (panel.startController === controller) {
          panel.startController = null;
        }
        panel.starting = null;
      }
    })();
    return panel.starting;
  }

  // ----------------------------------------------------------- rendering

  function renderPoll(poll, fields) {
    const panel = panels[poll.flow];
    if (panel.poll !== poll || !panel.open) {
      return;
    }
    renderPanel(poll.flow, { op: poll.op, attempts: poll.attempts, ...fields });
    renderStatusbar();
  }

  function renderPanel(flow, fields) {
    const parts = panels[flow].parts;
    if (fields.op !== undefined) {
      parts.op.textContent = fields.op;
    }
    if (fields.attempts !== undefined) {
      parts.attempts.textContent = String(fields.attempts);
    }
    if (fields.status !== undefined) {
      parts.status.textContent = fields.status;
      parts.status.className = `status ${fields.status}`;
    }
    if (fields.status === 'complete') {
      fields.progress = 100;
    }
    if (typeof fields.progress === 'number') {
      parts.fill.style.width = `${Math.max(0, Math.min(100, fields.progress))}%`;
      parts.progress.setAttribute('aria-valuenow', String(fields.progress));
    }
    if (fields.note !== undefined) {
      parts.note.textContent = fields.note;
    }
    const running = panels[flow].poll && !panels[flow].poll.ended;
    parts.generate.disabled = Boolean(running || panels[flow].starting);
  }

  function renderChrome() {
    const anyOpen = FLOW_NAMES.some((flow) => panels[flow].open);
    document.getElementById('panels-empty').hidden = anyOpen;
    for (const flow of FLOW_NAMES) {
      document.getElementById(`open-${flow}`).classList.toggle('active', panels[flow].open);
    }
    renderStatusbar();
  }

  function renderStatusbar() {
    const count = livePolls.size;
    document.getElementById('active-polls').textContent = `${count} active poll${count === 1 ? '' : 's'}`;
    const history = window.__pollHistory;
    document.getElementById('history-size').textContent = history ? `__pollHistory: ${history.length}` : '';
  }

  function renderRunInfo() {
    const info = document.getElementById('run-info');
    if (errors.length > 0) {
      info.textContent = 'invalid URL parameters: editor disabled';
      return;
    }
    const variant = document.createElement('span');
    variant.className = `variant-${params.variant}`;
    variant.textContent = params.variant;
    info.replaceChildren(
      variant,
      ` · flow ${params.flow} · interval ${params.interval} ms · cycles ${params.cycles}`,
    );
  }

  function showParameterErrors() {
    const banner = document.getElementById('param-error');
    banner.textContent = errors.join('\n');
    banner.hidden = false;
    for (const message of errors) {
      console.error(`[demo] ${message}`);
    }
    for (const button of document.querySelectorAll('button')) {
      button.disabled = true;
    }
  }

  function showParameterWarnings() {
    const banner = document.getElementById('param-warning');
    banner.textContent = warnings.join('\n');
    banner.hidden = false;
    for (const message of warnings) {
      console.warn(`[demo] ${message}`);
    }
  }

  // -------------------------------------------------------------- cycles

  let cyclesDone = false;

  function pause(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  // Runs `cycles` rounds; in each, every selected flow in turn is opened,
  // generates, stays open `cycle_ms`, closes, and waits `gap_ms`.
  async function runCycles() {
    const flows = params.flow === 'all' ? FLOW_NAMES : [params.flow];
    const state = document.getElementById('cycle-state');
    for (let cycle = 1; cycle <= params.cycles; cycle++) {
      for (const flow of flows) {
        state.textContent = `cycle ${cycle}/${params.cycles}: ${flow}`;
        open(flow);
        generate(flow);
        await pause(params.cycle_ms);
        close(flow);
        await pause(params.gap_ms);
      }
    }
    cyclesDone = true;
    state.textContent = `cycles done (${params.cycles})`;
    console.info(`[demo] ${params.cycles} cycles done`);
  }

  // ----------------------------------------------------------------- api

  function state() {
    const panelStates = {};
    for (const flow of FLOW_NAMES) {
      const panel = panels[flow];
      panelStates[flow] = {
        open: panel.open,
        operationName: panel.poll ? panel.poll.op : null,
        attempts: panel.poll ? panel.poll.attempts : 0,
        status: panel.parts.status.textContent,
      };
    }
    return {
      variant: params.variant,
      params: { ...params },
      errors: errors.slice(),
      warnings: warnings.slice(),
      route: location.pathname,
      cyclesDone,
      activePolls: livePolls.size,
      pollHistory: window.__pollHistory ? window.__pollHistory.length : null,
      panels: panelStates,
    };
  }

  window.demo = { open, close, generate, state, errors: errors.slice(), warnings: warnings.slice() };

  // --------------------------------------------------------------- start

  function start() {
    buildPanels();
    renderRunInfo();
    renderStatusbar();
    for (const flow of FLOW_NAMES) {
      document.getElementById(`open-${flow}`).addEventListener('click', () => open(flow));
    }
    if (warnings.length > 0) {
      showParameterWarnings();
    }
    if (errors.length > 0) {
      showParameterErrors();
      return;
    }
    monitor = new PollingHealthMonitor(params.health_ms);

    // Back and forward buttons move between `/` and a flow's route.
    window.addEventListener('popstate', () => {
      const routeFlow = location.pathname.slice(1);
      for (const flow of FLOW_NAMES) {
        if (panels[flow].open && flow !== routeFlow) {
          close(flow, { routeChange: false });
        }
      }
      if (FLOW_NAMES.includes(routeFlow)) {
        open(routeFlow, { routeChange: false });
      }
    });

    const initialFlow = location.pathname.slice(1);
    if (FLOW_NAMES.includes(initialFlow)) {
      open(initialFlow, { routeChange: false });
    }
    if (params.cycles > 0) {
      runCycles();
    } else {
      cyclesDone = true;
    }
  }

  start();
})();
