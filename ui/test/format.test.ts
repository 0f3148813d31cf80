import { describe, expect, it } from "vitest";
import {
  baseName,
  formatBytes,
  formatBytesDelta,
  formatClock,
  formatCount,
  formatCountDelta,
  formatDuration,
  formatMs,
  formatPercent,
  MISSING,
} from "../src/format";

describe("formatBytes", () => {
  it("keeps whole bytes under 1 KB", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
  });

  it("uses binary steps with three significant digits", () => {
    expect(formatBytes(1024)).toBe("1.00 KB");
    expect(formatBytes(1536)).toBe("1.50 KB");
    expect(formatBytes(15 * 1024 * 1024 + 512 * 1024)).toBe("15.5 MB");
    expect(formatBytes(200 * 1024 * 1024)).toBe("200 MB");
    expect(formatBytes(4 * 1024 ** 3)).toBe("4.00 GB");
  });

  it("stops at TB", () => {
    expect(formatBytes(3 * 1024 ** 5)).toBe("3072 TB");
  });

  it("keeps the sign of negative sizes", () => {
    expect(formatBytes(-2048)).toBe("-2.00 KB");
  });

  it("shows missing and non-finite values as a dash", () => {
    expect(formatBytes(undefined)).toBe(MISSING);
    expect(formatBytes(Number.NaN)).toBe(MISSING);
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe(MISSING);
  });

  it("marks growth with a plus in deltas", () => {
    expect(formatBytesDelta(4800)).toBe("+4.69 KB");
    expect(formatBytesDelta(-640)).toBe("-640 B");
    expect(formatBytesDelta(0)).toBe("0 B");
  });
});

describe("formatDuration", () => {
  it("uses milliseconds below a second", () => {
    expect(formatDuration(0.85)).toBe("850 ms");
    expect(formatDuration(0)).toBe("0 ms");
  });

  it("uses one decimal below ten seconds", () => {
    expect(formatDuration(4.25)).toBe("4.3 s");
  });

  it("uses whole seconds below a minute", () => {
    expect(formatDuration(42.4)).toBe("42 s");
  });

  it("uses minutes and padded seconds below an hour", () => {
    expect(formatDuration(185)).toBe("3m 05s");
  });

  it("uses hours and padded minutes above an hour", () => {
    expect(formatDuration(2 * 3600 + 7 * 60 + 59)).toBe("2h 07m");
  });

  it("shows missing values as a dash", () => {
    expect(formatDuration(undefined)).toBe(MISSING);
  });

  it("formats milliseconds through the same rules", () => {
    expect(formatMs(250)).toBe("250 ms");
    expect(formatMs(1500)).toBe("1.5 s");
    expect(formatMs(undefined)).toBe(MISSING);
  });
});

describe("formatClock", () => {
  it("shows minutes, seconds and tenths under an hour", () => {
    expect(formatClock(7.5)).toBe("0:07.5");
    expect(formatClock(723)).toBe("12:03.0");
  });

  it("truncates to tenths instead of rounding up past the second", () => {
    expect(formatClock(59.99)).toBe("0:59.9");
  });

  it("keeps tenths exact for binary fractions", () => {
    expect(formatClock(0.3)).toBe("0:00.3");
  });

  it("drops tenths from an hour on", () => {
    expect(formatClock(3723.4)).toBe("1:02:03");
  });

  it("shows missing values as a dash", () => {
    expect(formatClock(undefined)).toBe(MISSING);
  });
});

describe("counts and other text", () => {
  it("groups thousands", () => {
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(undefined)).toBe(MISSING);
  });

  it("marks growth in count deltas", () => {
    expect(formatCountDelta(50)).toBe("+50");
    expect(formatCountDelta(-4)).toBe("-4");
  });

  it("clamps percentages", () => {
    expect(formatPercent(0.426)).toBe("43%");
    expect(formatPercent(1.7)).toBe("100%");
    expect(formatPercent(-1)).toBe("0%");
  });

  it("takes the last component of Unix and Windows paths", () => {
    expect(baseName("/a/b/c.zip")).toBe("c.zip");
    expect(baseName("C:\\x\\y.heapsnapshot")).toBe("y.heapsnapshot");
    expect(baseName("plain")).toBe("plain");
  });
});
