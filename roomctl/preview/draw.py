"""Drawing primitives for the session preview: the palette, the page geometry, SVG elements
(text, rectangles, lines) and the layout of labels and runs of samples.  No knowledge of
sessions or devices; the chart (svg.py) is built from these."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from xml.sax.saxutils import escape

from roomctl.model.color import RGB8

__all__ = [
    "BG",
    "CLIMATE",
    "FAINT",
    "FONT",
    "GRID",
    "LEFT",
    "MARK",
    "MUSIC",
    "MUTED",
    "NEUTRAL",
    "PANEL",
    "PANEL_ALT",
    "RIGHT",
    "TEXT",
    "TOP",
    "WIDTH",
    "Frame",
    "Overlay",
    "attr",
    "hex_colour",
    "labels",
    "line",
    "rect",
    "runs",
    "settled",
    "text",
    "text_width",
]

WIDTH, LEFT, RIGHT, TOP = 1200, 170, 36, 148
BG, PANEL, PANEL_ALT = "#14161a", "#181b20", "#1c1f25"
TEXT, MUTED, FAINT, GRID = "#d8dbe0", "#8d939c", "#5c626b", "#2a2e35"
MUSIC, CLIMATE, MARK = "#8fb8c9", "#d9a17a", "#b7a6d9"
FONT = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif"
NEUTRAL: RGB8 = (236, 230, 218)  # a white-only light


@dataclass(frozen=True, slots=True)
class Frame:
    """Where an overlay draws: wall times `start`..`end` map to x `x0`..`x1`; the lanes span
    y `top`..`bottom`; the overlay's own strip begins at `strip_top` (its height was asked
    for with `overlay_h`)."""

    start: float
    end: float
    x0: float
    x1: float
    top: float
    bottom: float
    strip_top: float
    t0: float | None  # the dose (wall time) the x axis is labelled from

    def x(self, t: float) -> float:
        return self.x0 + (t - self.start) / (self.end - self.start) * (self.x1 - self.x0)


# Something drawn over the chart (the session record draws what really happened).
Overlay = Callable[[Frame], Sequence[str]]


def hex_colour(c: RGB8) -> str:
    return f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}"


def attr(s: str) -> str:
    return escape(s, {'"': "&quot;"})


def text(
    x: float,
    y: float,
    s: str,
    size: float = 11,
    fill: str = MUTED,
    *,
    anchor: str = "start",
    extra: str = "",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" '
        f'text-anchor="{anchor}"{extra}>{escape(s)}</text>'
    )


def rect(x: float, y: float, w: float, h: float, attrs: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" {attrs}/>'


def line(x1: float, y1: float, x2: float, y2: float, attrs: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" {attrs}/>'


def text_width(s: str, size: float) -> float:
    return len(s) * size * 0.56  # rough: enough to keep labels apart


def runs(
    xs: Sequence[float],
    keys: Sequence[str | None],
    x_end: float,
) -> list[tuple[str, float, float]]:
    """(key, x from, x to) of each stretch of consecutive samples with the same non-None key."""
    out: list[tuple[str, float, float]] = []
    i = 0
    for key, run in groupby(keys):
        n = len(list(run))
        if key is not None:
            out.append((key, xs[i], xs[i + n] if i + n < len(xs) else x_end))
        i += n
    return out


def labels(
    items: Sequence[tuple[float, float, str]],
    size: float,
    fill: str,
    *,
    rows: int = 1,
    row_h: float = 12,
    x_max: float = WIDTH - RIGHT,
) -> list[str]:
    """Text at (x, y), moved a row down when it would overlap the previous; dropped if no row
    has room."""
    ends = [-1e9] * rows
    out: list[str] = []
    for want, y, s in sorted(items):
        x = min(want, x_max - text_width(s, size))
        for row in range(rows):
            if x >= ends[row] + 6:
                ends[row] = x + text_width(s, size)
                out.append(text(x, y + row * row_h, s, size, fill))
                break
    return out


def settled(values: Sequence[str | None], min_run: int) -> list[int]:
    """Where a value settles: the first index of each run of at least `min_run` equal values
    that differs from the previous such run."""
    out: list[int] = []
    last, i = None, 0
    for value, run in groupby(values):
        n = len(list(run))
        if n >= min_run and value is not None and value != last:
            out.append(i)
            last = value
        i += n
    return out
