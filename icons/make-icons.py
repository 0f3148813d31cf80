#!/usr/bin/env python3
"""Draws Leakscope's app icon, a magnifier over a rising line, as RGBA PNGs.

Uses only the standard library (zlib and struct write the PNG), so the icons
can be regenerated on any machine: `python3 icons/make-icons.py`. Shapes are
defined on a unit square and sampled 4x4 per pixel for anti-aliasing.
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

# Outputs: file name and side in pixels. Tauri's bundle reads these names.
SIZES = [
    ("32x32.png", 32),
    ("128x128.png", 128),
    ("128x128@2x.png", 256),
    ("icon.png", 512),
]

BACKGROUND = (24, 44, 84)  # dark blue rounded square
LINE = (255, 170, 51)  # the rising heap line, orange
GLASS = (235, 242, 255)  # magnifier rim and handle
LENS = (120, 170, 240)  # tinted lens fill, drawn translucent

# The rising line, as points on the unit square (y grows downwards).
LINE_POINTS = [(0.12, 0.80), (0.28, 0.64), (0.42, 0.56), (0.56, 0.36), (0.88, 0.20)]
LENS_CENTRE = (0.42, 0.42)
LENS_RADIUS = 0.22
RIM_WIDTH = 0.055
HANDLE_FROM = (0.58, 0.58)
HANDLE_TO = (0.82, 0.82)
HANDLE_WIDTH = 0.09
LINE_WIDTH = 0.065
CORNER_RADIUS = 0.2
SUPERSAMPLE = 4


def segment_distance(px, py, ax, ay, bx, by):
    """Returns the distance from point p to the segment a-b."""
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    cx, cy = ax + t * dx, ay + t * dy
    return math.hypot(px - cx, py - cy)


def inside_rounded_square(x, y):
    r = CORNER_RADIUS
    cx = min(max(x, r), 1 - r)
    cy = min(max(y, r), 1 - r)
    return 0 <= x <= 1 and 0 <= y <= 1 and math.hypot(x - cx, y - cy) <= r


def shade(x, y):
    """Returns the straight-alpha RGBA colour at unit coordinates (x, y)."""
    if not inside_rounded_square(x, y):
        return (0, 0, 0, 0)
    colour = BACKGROUND
    on_line = any(
        segment_distance(x, y, *a, *b) <= LINE_WIDTH / 2
        for a, b in zip(LINE_POINTS, LINE_POINTS[1:])
    )
    if on_line:
        colour = LINE
    distance = math.hypot(x - LENS_CENTRE[0], y - LENS_CENTRE[1])
    if distance < LENS_RADIUS - RIM_WIDTH / 2:
        # A translucent lens: mix 30 % of the lens tint over what is below.
        colour = tuple(round(0.7 * c + 0.3 * l) for c, l in zip(colour, LENS))
    if abs(distance - LENS_RADIUS) <= RIM_WIDTH / 2:
        colour = GLASS
    if segment_distance(x, y, *HANDLE_FROM, *HANDLE_TO) <= HANDLE_WIDTH / 2:
        colour = GLASS
    return colour + (255,)


def render(side):
    rows = []
    for py in range(side):
        row = bytearray([0])  # PNG filter type 0 (none) for each row
        for px in range(side):
            total = [0, 0, 0, 0]
            for sy in range(SUPERSAMPLE):
                for sx in range(SUPERSAMPLE):
                    x = (px + (sx + 0.5) / SUPERSAMPLE) / side
                    y = (py + (sy + 0.5) / SUPERSAMPLE) / side
                    r, g, b, a = shade(x, y)
                    # Premultiply while averaging, so edges do not darken.
                    total[0] += r * a
                    total[1] += g * a
                    total[2] += b * a
                    total[3] += a
            alpha = total[3] / (SUPERSAMPLE * SUPERSAMPLE)
            if total[3] == 0:
                row += bytes(4)
            else:
                row += bytes(
                    [round(total[0] / total[3]), round(total[1] / total[3]), round(total[2] / total[3]), round(alpha)]
                )
        rows.append(bytes(row))
    return b"".join(rows)


def png(side, pixels):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    # Bit depth 8, colour type 6 (RGBA): Tauri requires RGBA icons.
    header = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 9))
        + chunk(b"IEND", b"")
    )


def main():
    for name, side in SIZES:
        path = os.path.join(HERE, name)
        with open(path, "wb") as out:
            out.write(png(side, render(side)))
        print(f"wrote {path} ({side}x{side})")


if __name__ == "__main__":
    main()
