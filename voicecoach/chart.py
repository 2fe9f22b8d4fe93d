"""A PNG progress chart drawn in pure Python (zlib only, no plotting library).

Why not matplotlib: on a Raspberry Pi it is a large install (and a slow build
where no wheel exists) for two simple panels. This module draws bars, lines,
dots and a small bitmap font into an RGB buffer and encodes it as PNG with
zlib. It also returns the geometry it drew, so tests (and curious users) can
check every plotted point against the journal.

Top panel: perfect reps per session (bars). Bottom panel: the level over time
(variation bands, stop point steps inside a band), one dot per session.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

from .knowledge import STOP_POINTS, VARIATION_SLUGS, Level

RGB = tuple[int, int, int]
BACKGROUND: RGB = (255, 255, 255)
AXIS: RGB = (60, 60, 60)
GRID: RGB = (225, 225, 225)
BAR: RGB = (46, 117, 182)
LINE: RGB = (250, 170, 90)
DOT: RGB = (214, 96, 20)
TEXT: RGB = (30, 30, 30)
BAND_TEXT: RGB = (150, 150, 150)

# 3x5 bitmap font: each glyph is five rows of three pixels.
_FONT_SRC = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001010010010", "8": "111101111101111",
    "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111",
    "F": "111100110100100", "G": "011100101101011", "H": "101101111101101",
    "I": "111010010010111", "J": "001001001101010", "K": "101101110101101",
    "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011",
    "R": "110101110101101", "S": "011100010001110", "T": "111010010010010",
    "U": "101101101101111", "V": "101101101101010", "W": "101101111111101",
    "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    "-": "000000111000000", ".": "000000000000010", ":": "000010000010000",
    "/": "001001010100100", "(": "010100100100010", ")": "010001001001010",
    " ": "000000000000000",
}
FONT_SCALE = 2
GLYPH_W = 4 * FONT_SCALE  # 3 pixels and a gap, scaled


@dataclass(frozen=True)
class ChartPoint:
    label: str
    """Session date (MM-DD)."""
    perfect: int
    level: Level


@dataclass(frozen=True)
class Chart:
    """A drawn chart: the PNG bytes and where each value was plotted (pixels)."""

    width: int
    height: int
    png: bytes
    points: tuple[ChartPoint, ...]
    bars: tuple[tuple[int, int, int, int], ...]
    """Per session: x0, y_top, x1, y_base of the perfect-reps bar (inclusive pixels)."""
    dots: tuple[tuple[int, int], ...]
    """Per session: x, y centre of the level dot."""
    reps_scale: float
    """Pixels per perfect rep in the top panel."""

    def write(self, f: BinaryIO) -> None:
        f.write(self.png)


def level_rank(level: Level) -> int:
    """Position on the whole ladder: variation first, then stop point (0 = easiest)."""
    return VARIATION_SLUGS.index(level.variation) * len(STOP_POINTS) + STOP_POINTS.index(
        level.stop_deg
    )


class _Canvas:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.buf = bytearray(bytes(BACKGROUND) * (w * h))

    def px(self, x: int, y: int, c: RGB) -> None:
        if 0 <= x < self.w and 0 <= y < self.h:
            i = (y * self.w + x) * 3
            self.buf[i: i + 3] = bytes(c)

    def rect(self, x0: int, y0: int, x1: int, y1: int, c: RGB) -> None:
        x0, x1 = max(min(x0, x1), 0), min(max(x0, x1), self.w - 1)
        row = bytes(c) * (x1 - x0 + 1)
        for y in range(max(min(y0, y1), 0), min(max(y0, y1), self.h - 1) + 1):
            i = (y * self.w + x0) * 3
            self.buf[i: i + len(row)] = row

    def line(self, x0: int, y0: int, x1: int, y1: int, c: RGB, width: int = 1) -> None:
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.rect(x0, y0, x0 + width - 1, y0 + width - 1, c)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def dot(self, cx: int, cy: int, r: int, c: RGB) -> None:
        for y in range(-r, r + 1):
            for x in range(-r, r + 1):
                if x * x + y * y <= r * r:
                    self.px(cx + x, cy + y, c)

    def text(self, x: int, y: int, s: str, c: RGB = TEXT) -> None:
        for ch in s.upper():
            bits = _FONT_SRC.get(ch, _FONT_SRC[" "])
            for k, b in enumerate(bits):
                if b == "1":
                    gx, gy = x + (k % 3) * FONT_SCALE, y + (k // 3) * FONT_SCALE
                    self.rect(gx, gy, gx + FONT_SCALE - 1, gy + FONT_SCALE - 1, c)
            x += GLYPH_W

    def png(self) -> bytes:
        stride = self.w * 3
        raw = b"".join(
            b"\x00" + bytes(self.buf[y * stride: (y + 1) * stride]) for y in range(self.h)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        ihdr = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


_ABBREV = {slug: "".join(w[0] for w in slug.split("-")).upper() for slug in VARIATION_SLUGS}
LEFT, RIGHT, TOP, GAP, BOTTOM = 70, 20, 34, 56, 34
TOP_H, LEVEL_H = 180, 170


def draw(points: Sequence[ChartPoint]) -> Chart:
    """Draw the progress chart of ``points`` (oldest first; at least one)."""
    if not points:
        raise ValueError("nothing to chart: the journal has no sessions for this user")
    n = len(points)
    plot_w = max(600, 8 * n)
    w, h = LEFT + plot_w + RIGHT, TOP + TOP_H + GAP + LEVEL_H + BOTTOM
    cv = _Canvas(w, h)
    slot = plot_w / n
    xs = [LEFT + int(slot * (i + 0.5)) for i in range(n)]
    half = max(int(slot * 0.3), 1)

    # Top panel: perfect reps per session.
    base = TOP + TOP_H
    top_max = max(5, -(-max(p.perfect for p in points) // 5) * 5)
    scale = (TOP_H - 4) / top_max
    cv.text(LEFT, 8, "PERFECT REPS PER SESSION")
    for v in (0, top_max // 2, top_max):
        y = base - round(v * scale)
        cv.line(LEFT, y, LEFT + plot_w, y, GRID)
        cv.text(LEFT - 8 - GLYPH_W * len(str(v)), y - 5, str(v))
    bars = []
    for x, p in zip(xs, points, strict=True):
        top = base - round(p.perfect * scale)
        if p.perfect > 0:
            cv.rect(x - half, top, x + half, base - 1, BAR)
        bars.append((x - half, top, x + half, base - 1))
    cv.line(LEFT, TOP, LEFT, base, AXIS)
    cv.line(LEFT, base, LEFT + plot_w, base, AXIS)

    # Bottom panel: level (variation bands, stop-point steps).
    ranks = [level_rank(p.level) for p in points]
    per = len(STOP_POINTS)
    lo_v, hi_v = min(ranks) // per, max(ranks) // per
    r_lo, r_n = lo_v * per, (hi_v - lo_v + 1) * per
    top2 = base + GAP
    base2 = top2 + LEVEL_H
    step = LEVEL_H / r_n
    cv.text(LEFT, top2 - 22, "LEVEL: VARIATION AND STOP POINT")
    for v in range(lo_v, hi_v + 1):
        y_band = base2 - round((v * per - r_lo) * step)
        cv.line(LEFT, y_band, LEFT + plot_w, y_band, GRID)
        cv.text(LEFT + 6, y_band - round(per * step) + 4, VARIATION_SLUGS[v], BAND_TEXT)
        for k, deg in enumerate(STOP_POINTS):
            if step >= 12 or len(STOP_POINTS) * step < 12:
                label = "H" if deg == STOP_POINTS[-1] else str(deg)
                if step < 12:
                    label = _ABBREV[VARIATION_SLUGS[v]]
                    if k:
                        break
                y = y_band - round((k + 0.5) * step) - 5
                cv.text(LEFT - 8 - GLYPH_W * len(label), y, label)
    dots = [(x, base2 - round((r - r_lo + 0.5) * step)) for x, r in zip(xs, ranks, strict=True)]
    for a, b in itertools.pairwise(dots):
        cv.line(a[0], a[1], b[0], b[1], LINE, 2)
    for x, y in dots:
        cv.dot(x, y, 4, DOT)
    cv.line(LEFT, top2, LEFT, base2, AXIS)
    cv.line(LEFT, base2, LEFT + plot_w, base2, AXIS)

    # Dates under the bottom panel, as many as fit.
    every = max(1, -(-(GLYPH_W * 6) // max(int(slot), 1)))
    for i in range(0, n, every):
        label = points[i].label
        cv.text(xs[i] - GLYPH_W * len(label) // 2, base2 + 10, label)
    return Chart(w, h, cv.png(), tuple(points), tuple(bars), tuple(dots), scale)
