// Text forms of the numbers the views show: byte sizes, durations, session
// times and counts. Missing values render as an en dash so a table column
// never shows "undefined" or "NaN".

export const MISSING = "–";

const BYTE_UNITS = ["B", "KB", "MB", "GB", "TB"];

/**
 * Formats a byte count with binary steps (1 KB = 1024 B), as Chrome DevTools
 * does for heap sizes: three significant digits, no decimals for bytes.
 */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes)) {
    return MISSING;
  }
  const sign = bytes < 0 ? "-" : "";
  let value = Math.abs(bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${sign}${Math.round(value)} B`;
  }
  let digits = 2;
  if (value >= 100) {
    digits = 0;
  } else if (value >= 10) {
    digits = 1;
  }
  return `${sign}${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** Formats a signed byte delta, with "+" for growth. */
export function formatBytesDelta(bytes: number): string {
  const text = formatBytes(bytes);
  return bytes > 0 ? `+${text}` : text;
}

/**
 * Formats a duration in seconds for tables: "850 ms", "4.2 s", "3m 05s",
 * "2h 07m". Sub-second values keep millisecond precision.
 */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) {
    return MISSING;
  }
  const sign = seconds < 0 ? "-" : "";
  const abs = Math.abs(seconds);
  if (abs < 1) {
    return `${sign}${Math.round(abs * 1000)} ms`;
  }
  if (abs < 60) {
    return `${sign}${abs < 10 ? abs.toFixed(1) : Math.round(abs).toString()} s`;
  }
  const total = Math.floor(abs);
  if (total < 3600) {
    const minutes = Math.floor(total / 60);
    return `${sign}${minutes}m ${pad2(total % 60)}s`;
  }
  const hours = Math.floor(total / 3600);
  return `${sign}${hours}h ${pad2(Math.floor((total % 3600) / 60))}m`;
}

/** Formats milliseconds, for timer delays and capture times. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) {
    return MISSING;
  }
  return ms < 1000 ? `${Math.round(ms)} ms` : formatDuration(ms / 1000);
}

/**
 * Formats a session time (seconds since the recording started) as a clock:
 * "0:07.5", "12:03.0", "1:02:03". Tenths are shown under an hour because the
 * live event arrives up to ten times a second.
 */
export function formatClock(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) {
    return MISSING;
  }
  const sign = seconds < 0 ? "-" : "";
  const abs = Math.abs(seconds);
  const tenths = Math.floor(abs * 10 + 1e-6);
  const whole = Math.floor(tenths / 10);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  if (hours > 0) {
    return `${sign}${hours}:${pad2(minutes)}:${pad2(secs)}`;
  }
  return `${sign}${minutes}:${pad2(secs)}.${tenths % 10}`;
}

/** Formats an epoch time in milliseconds as local "HH:MM:SS". */
export function formatWallClock(epochMs: number): string {
  const date = new Date(epochMs);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

/** Formats an epoch time as local "YYYY-MM-DD HH:MM". */
export function formatDate(epochMs: number): string {
  const date = new Date(epochMs);
  const day = `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())}`;
  return `${day} ${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** Formats a count with thousands separators ("12,345"). */
export function formatCount(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) {
    return MISSING;
  }
  return Math.round(value).toLocaleString("en-US");
}

/** Formats a signed count delta, with "+" for growth. */
export function formatCountDelta(value: number): string {
  const text = formatCount(value);
  return value > 0 ? `+${text}` : text;
}

/** Formats a fraction (0 to 1) as a whole percentage, clamped. */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) {
    return MISSING;
  }
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

/** Returns the last path component, for showing long file paths in lists. */
export function baseName(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return cut >= 0 ? path.slice(cut + 1) : path;
}

function pad2(value: number): string {
  return value.toString().padStart(2, "0");
}
