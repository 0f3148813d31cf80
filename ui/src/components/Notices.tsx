// The notices: errors (with their stable code) and confirmations of finished
// actions, newest last. Errors stay until dismissed because their message
// names the next step. Information notices go after a few seconds.

import { useEffect } from "preact/hooks";
import type { AppError } from "../contract";
import { useDispatch } from "../context";
import type { Notice } from "../state";

/** How long an information notice stays, in milliseconds. */
const INFO_TIMEOUT_MS = 6000;

export function Notices({ notices }: { notices: readonly Notice[] }) {
  const dispatch = useDispatch();
  useEffect(() => {
    const timers = notices
      .filter((notice) => notice.kind === "info")
      .map((notice) => setTimeout(() => dispatch({ type: "dismiss", id: notice.id }), INFO_TIMEOUT_MS));
    return () => timers.forEach(clearTimeout);
  }, [notices, dispatch]);

  if (notices.length === 0) {
    return null;
  }
  return (
    <div class="notices" data-testid="notices">
      {notices.map((notice) => (
        <div
          key={notice.id}
          class={`notice ${notice.kind}`}
          role={notice.kind === "error" ? "alert" : "status"}
          data-testid={notice.kind === "error" ? "notice-error" : "notice-info"}
          data-code={notice.code}
        >
          <span class="notice-action">{notice.action}</span>
          {notice.code && <code class="notice-code">{notice.code}</code>}
          <span class="notice-text">{notice.text}</span>
          <button
            type="button"
            class="btn ghost small"
            aria-label="Dismiss"
            data-testid="notice-dismiss"
            onClick={() => dispatch({ type: "dismiss", id: notice.id })}
          >
            ✕
          </button>
        </div>
      ))}
    </div>
  );
}

/** Shows an error in place, for a panel whose content failed to load. */
export function ErrorBox({ error, testid }: { error: AppError; testid: string }) {
  return (
    <div class="error-box" role="alert" data-testid={testid} data-code={error.code}>
      <code class="notice-code">{error.code}</code> {error.message}
    </div>
  );
}
