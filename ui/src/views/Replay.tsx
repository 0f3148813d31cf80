// The Replay view: an opened bundle or recording shown read-only, as of the
// time the scrubber points at. Scrubbing requests the state from `replayView` at
// that time with one request in flight; the latest position wins, so a fast
// drag never queues stale requests.

import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "../api";
import type { LiveView, ReplayInfo } from "../contract";
import { useDispatch, useRunner } from "../context";
import { formatClock, formatDuration } from "../format";
import type { LiveTab } from "../state";
import { LiveBody } from "./LiveBody";

/** Scrubber resolution in seconds. */
const SCRUB_STEP_S = 0.1;

export function Replay(props: { info?: ReplayInfo; view?: LiveView; tab: LiveTab }) {
  const dispatch = useDispatch();
  const run = useRunner();
  const info = props.info;
  const [t, setT] = useState(info?.durationS ?? 0);
  const queue = useRef<{ busy: boolean; next?: number }>({ busy: false });

  const request = (at: number) => {
    const state = queue.current;
    state.next = at;
    if (state.busy) {
      return;
    }
    state.busy = true;
    void (async () => {
      while (state.next !== undefined) {
        const target = state.next;
        state.next = undefined;
        const view = await run("replay", () => api.replayView(target));
        if (view !== undefined) {
          dispatch({ type: "replay-view", view });
        }
      }
      state.busy = false;
    })();
  };

  useEffect(() => {
    if (info !== undefined) {
      setT(info.durationS);
      request(info.durationS);
    }
  }, [info?.path]);

  const close = async () => {
    const done = await run("close replay", api.closeReplay);
    if (done !== undefined) {
      dispatch({ type: "replay-closed" });
    }
  };

  if (info === undefined) {
    return (
      <section class="view empty-view" data-testid="view-replay">
        <p>No bundle or recording is open. Open one from Connect: Open bundle…, or a file in the recent list.</p>
        <button type="button" class="btn primary" onClick={() => dispatch({ type: "navigate", view: "connect" })}>
          Go to Connect
        </button>
      </section>
    );
  }

  const onScrub = (event: Event) => {
    const value = Number((event.currentTarget as HTMLInputElement).value);
    setT(value);
    request(value);
  };

  return (
    <section class="view" data-testid="view-replay">
      <header class="session-header" data-testid="replay-header">
        <div class="target">
          <div class="target-title" data-testid="replay-target-title">
            {info.target.title || "(untitled tab)"}
          </div>
          <div class="target-url mono">{info.target.url}</div>
        </div>
        <span class="chip state-chip state-replay">replay, read only</span>
        <span class="chip">
          length <b data-testid="replay-duration">{formatDuration(info.durationS)}</b>
        </span>
        {info.endReason && (
          <span class="chip" data-testid="replay-end-reason">
            ended: {info.endReason}
          </span>
        )}
        <span class="chip mono" title={info.path} data-testid="replay-path">
          {info.path}
        </span>
        <button type="button" class="btn" data-testid="btn-close-replay" onClick={close}>
          Close replay
        </button>
      </header>
      <div class="scrubber">
        <span class="mono" data-testid="replay-time" data-value={t}>
          {formatClock(t)}
        </span>
        <input
          type="range"
          min={0}
          max={info.durationS}
          step={SCRUB_STEP_S}
          value={t}
          data-testid="replay-scrubber"
          aria-label="replay time"
          onInput={onScrub}
        />
        <span class="mono muted">{formatClock(info.durationS)}</span>
      </div>
      {props.view === undefined ? (
        <p class="muted">Loading…</p>
      ) : (
        <LiveBody view={props.view} tab={props.tab} source={info.path} live={false} durationS={info.durationS} cursorT={t} />
      )}
    </section>
  );
}
