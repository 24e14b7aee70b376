"""The demo's outputs: the summary table for the terminal, ``report.html`` with a timeline SVG.

The SVG is drawn from the acts' start/end times and the samples of the MN's SA (which HA,
if any, served its HoA), through a Jinja2 template: no JavaScript, opens in any browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .peers import render, render_text

if TYPE_CHECKING:
    from .acts import SaSample
    from .runner import Summary

WIDTH, LEFT = 960, 30
COLOURS = {"ha1": "#2b6cb0", "ha2": "#805ad5"}


def table(summary: Summary) -> str:
    """The summary as a fixed-width text table."""
    rows = [("act", "what was checked", "seconds", "ok")]
    rows += [(a.name, a.checked, f"{a.seconds:.1f}", "ok" if a.ok else "NOT OK")
             for a in summary.acts]
    w0 = max(len(r[0]) for r in rows)
    w1 = min(max(len(r[1]) for r in rows), 110)
    lines = [f"{r[0]:<{w0}}  {r[1][:w1]:<{w1}}  {r[2]:>7}  {r[3]}" for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def spans(samples: list[SaSample]) -> list[tuple[float, float, str]]:
    """Runs of consecutive samples with the same serving HA: (start, end, ha)."""
    out: list[tuple[float, float, str]] = []
    current: tuple[float, str] | None = None
    last = 0.0
    for s in samples:
        if current is not None and s.ha != current[1]:
            out.append((current[0], s.t, current[1]))
            current = None
        if current is None and s.ha is not None:
            current = (s.t, s.ha)
        last = s.t
    if current is not None:
        out.append((current[0], last, current[1]))
    return out


def svg(summary: Summary, samples: list[SaSample], total: float) -> str:
    scale = (WIDTH - LEFT - 20) / max(total, 1.0)

    def x(t: float) -> float:
        return round(LEFT + t * scale, 1)

    acts: list[dict[str, Any]] = [
        {"x": x(a.start), "w": max(round(a.seconds * scale, 1), 2.0), "ok": a.ok,
         "label": a.name.split()[0]} for a in summary.acts]
    sa = [{"x": x(s), "w": max(round((e - s) * scale, 1), 1.0), "ha": ha}
          for s, e, ha in spans(samples)]
    step = 5 if total <= 60 else 10 if total <= 150 else 30
    ticks = [{"x": x(t), "label": str(t)} for t in range(0, int(total) + 1, step)]
    return render_text("timeline.svg.j2", width=WIDTH, height=130, left=LEFT, acts=acts,
                       spans=sa, ticks=ticks, colours=COLOURS)


def write(root: Path, summary: Summary, samples: list[SaSample], total: float) -> Path:
    """Write ``root/report.html`` (and ``timeline.svg`` beside it); return the report's path."""
    picture = svg(summary, samples, total)
    (root / "timeline.svg").write_text(picture)
    return render("report.html.j2", root / "report.html", tag=summary.tag, total=total,
                  failure=summary.failure, acts=summary.acts, svg=picture)
