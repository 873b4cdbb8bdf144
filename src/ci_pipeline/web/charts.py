"""Charts drawn on the server as SVG, so they read without JavaScript: lines of values per day
(duration percentiles) and bars of a share per day (failure rate).

Every chart carries a ``<title>`` and a ``<desc>`` that say in words what it shows; the pages put
the same figures in a table beside it for screen readers. Values are scaled into a fixed view box
and a missing value (None) leaves a gap, so any input draws inside the chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
#: Line styles per series, told apart by dash as well as colour (not colour alone).
STYLES = (("#0969da", ""), ("#9a6700", "6 3"), ("#cf222e", "2 3"), ("#1a7f37", "8 3 2 3"))


@dataclass(frozen=True)
class Scale:
    """Maps a value in ``[0, top]`` to a y coordinate, and a day's index to an x coordinate."""

    top: float
    count: int

    def y(self, value: float) -> float:
        """The y coordinate of ``value`` (clamped into the plot)."""
        share = min(max(value / self.top, 0.0), 1.0) if self.top > 0 else 0.0
        return round(HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM), 2)

    def x(self, index: int) -> float:
        """The x coordinate of the middle of day ``index``."""
        step = (WIDTH - LEFT - RIGHT) / max(self.count, 1)
        return round(LEFT + step * (index + 0.5), 2)

    @property
    def step(self) -> float:
        """The width of one day."""
        return (WIDTH - LEFT - RIGHT) / max(self.count, 1)


def nice_top(value: float) -> float:
    """A round number at least ``value`` (1, 2 or 5 times a power of ten) for the top of an axis."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next((f * power for f in (1, 2, 5, 10) if value <= f * power < math.inf), value)


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def _frame(title: str, desc: str, ident: str, scale: Scale, days: Sequence[str], label: str) -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{ident}-t {ident}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-t">{escape(title)}</title><desc id="{ident}-d">{escape(desc)}</desc>',
    ]
    for share in (0.0, 0.5, 1.0):
        y = scale.y(scale.top * share)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4}" text-anchor="end">'
                     f"{escape(label_of(scale.top * share, label))}</text>")
    for index in {0, len(days) // 2, len(days) - 1} if days else set():
        parts.append(f'<text class="tick" x="{scale.x(index)}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f"{escape(days[index][5:])}</text>")
    return parts


def label_of(value: float, unit: str) -> str:
    """An axis label: seconds as s/min/h, a share as a percentage."""
    if unit == "%":
        return f"{value * 100:.0f}%"
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:.3g} s"


def line_chart(
    ident: str, title: str, days: Sequence[str], series: Mapping[str, Sequence[float | None]]
) -> str:
    """Durations (s) per day, one line per series (a series' value per day, None where missing)."""
    values = [v for line in series.values() for v in _finite(line)]
    scale = Scale(nice_top(max(values, default=0.0)), len(days))
    desc = f"{', '.join(series)} per day over {len(days)} days; the highest value is " + (
        label_of(max(values), "s") if values else "none (no data)")
    parts = _frame(title, desc, ident, scale, days, "s")
    for (name, line), (colour, dash) in zip(series.items(), STYLES, strict=False):
        points = [
            f"{scale.x(i)},{scale.y(v)}" for i, v in enumerate(line[: len(days)])
            if v is not None and math.isfinite(v)
        ]
        if points:
            dashes = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2"{dashes} '
                         f'points="{" ".join(points)}"><title>{escape(name)}</title></polyline>')
            # A dot per day as well, so a day alone (no line to its neighbours) is seen too.
            parts.extend(f'<circle class="dot" cx="{x}" cy="{y}" r="3" fill="{colour}"/>'
                         for x, y in (point.split(",") for point in points))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(ident: str, title: str, days: Sequence[str], shares: Sequence[float | None]) -> str:
    """A share in [0, 1] per day as bars (None: no bar, nothing ended that day)."""
    finite = _finite(shares)
    scale = Scale(1.0, len(days))
    worst = max(finite, default=0.0)
    desc = f"Failure rate per day over {len(days)} days; the highest is {label_of(min(worst, 1.0), '%')}"
    parts = _frame(title, desc, ident, scale, days, "%")
    width = round(max(scale.step * 0.7, 1.0), 2)
    bottom = scale.y(0.0)
    for index, share in enumerate(shares[: len(days)]):
        if share is None or not math.isfinite(share):
            continue
        y = scale.y(share)
        parts.append(f'<rect class="bar" x="{round(scale.x(index) - width / 2, 2)}" y="{y}" width="{width}" '
                     f'height="{round(bottom - y, 2)}"><title>{escape(days[index])}: '
                     f"{escape(label_of(min(max(share, 0.0), 1.0), '%'))}</title></rect>")
    parts.append("</svg>")
    return "".join(parts)
