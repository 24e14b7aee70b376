"""Server-side SVG time charts for the dashboard: pure geometry, drawn by a Jinja2 template.

No script and no chart library in the browser: :func:`line` and
:func:`bars` turn store data into coordinates and labels, and
``templates/chart.svg`` writes the SVG.  Each chart carries a one-line
text summary for screen readers (the SVG's ``<desc>``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..services.stats import Point

WIDTH, HEIGHT = 360, 150
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 22
COLOURS = ("#0b5cad", "#b3121d", "#116329", "#7d4e00", "#6639ba", "#1b7c83")
"""Each at least 3:1 against white (WCAG non-text contrast)."""


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    colour: str
    points: str
    """SVG polyline points."""
    last: float
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    ident: str
    title: str
    summary: str
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT

    @property
    def empty(self) -> bool:
        return not self.lines and not self.bars


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for m in (1, 2, 2.5, 5, 10):
        if m * step >= value:
            return float(m * step)
    return float(10 * step)


def _fmt(value: float, unit: str = "") -> str:
    if unit == "s":
        if value >= 3600:
            return f"{value / 3600:.1f} h"
        if value >= 60:
            return f"{value / 60:.0f} min"
        return f"{value:.0f} s"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value != int(value):
        return f"{value:.1f}"
    return f"{value:.0f}"


def _y_ticks(top: float, unit: str) -> list[tuple[float, str]]:
    span = HEIGHT - BOTTOM - TOP
    return [(HEIGHT - BOTTOM - span * f, _fmt(top * f, unit)) for f in (0.0, 0.5, 1.0)]


def line(
    ident: str,
    title: str,
    series: Mapping[str, Sequence[Point]],
    now: dt.datetime,
    span: dt.timedelta,
    unit: str = "",
    dashed: Mapping[str, Sequence[Point]] | None = None,
) -> Chart:
    """Lines of ``series`` over the last ``span`` (x: time, y: 0 to a round maximum)."""
    dashed = dashed or {}
    every = [p.value for pts in (*series.values(), *dashed.values()) for p in pts]
    if not every:
        return Chart(ident, title, f"{title}: no samples yet.")
    top = _nice_max(max(every))
    start = now - span
    x_span = WIDTH - LEFT - RIGHT
    y_span = HEIGHT - BOTTOM - TOP

    def xy(p: Point) -> str:
        x = LEFT + x_span * max(0.0, min(1.0, (p.at - start) / span))
        y = HEIGHT - BOTTOM - y_span * (p.value / top)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for i, (label, pts) in enumerate(sorted(series.items())):
        colour = COLOURS[i % len(COLOURS)]
        lines.append(Line(label or title, colour, " ".join(xy(p) for p in pts), pts[-1].value))
        if label in dashed and dashed[label]:
            cap = dashed[label]
            lines.append(Line(f"{label} capacity", colour, " ".join(xy(p) for p in cap),
                              cap[-1].value, dashed=True))
    ticks = [(LEFT + x_span * f, (start + span * f).strftime("%m-%d %H:%M"))
             for f in (0.0, 0.5, 1.0)]
    now_text = "; ".join(f"{ln.label} {_fmt(ln.last, unit)}" for ln in lines if not ln.dashed)
    return Chart(ident, title, f"{title}, last {span.days or span.seconds // 3600}"
                 f"{' days' if span.days else ' hours'}: now {now_text}.", lines, [], ticks,
                 _y_ticks(top, unit))


def bars(ident: str, title: str, days: Sequence[tuple[dt.date, int]]) -> Chart:
    """One bar per day."""
    if not days:
        return Chart(ident, title, f"{title}: nothing yet.")
    top = _nice_max(max(n for _, n in days))
    x_span = WIDTH - LEFT - RIGHT
    y_span = HEIGHT - BOTTOM - TOP
    w = x_span / len(days)
    out = []
    for i, (day, n) in enumerate(days):
        h = y_span * n / top
        out.append(Bar(LEFT + i * w + 1, HEIGHT - BOTTOM - h, max(w - 2, 1), h,
                       f"{day.isoformat()}: {n:,}"))
    ticks = [(LEFT + w * i + w / 2, days[i][0].strftime("%m-%d"))
             for i in (0, len(days) // 2, len(days) - 1)]
    total = sum(n for _, n in days)
    return Chart(ident, title, f"{title}: {total:,} in the last {len(days)} days,"
                 f" {days[-1][1]:,} today.", [], out, ticks, _y_ticks(top, ""))
