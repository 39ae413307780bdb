"""A line chart of page views by day, as numbers a template turns into SVG.

Everything is computed on the server: no JavaScript, no chart library, no
CDN. The template draws the paths, grid lines and labels given here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_adobe_oauth.analytics import PageViewsByDay


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # "Mon, Jan 5, 2026: 18,432 page views"
    weekend: bool


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Geometry of one chart, in SVG user units."""

    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    line: str  # path data of the line
    area: str  # path data of the filled area below it
    points: tuple[Point, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    bar_width: float
    show_dots: bool


def compact(value: float) -> str:
    """``18432`` -> ``18.4k``; for axis labels."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{value:g}"


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` intervals."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return 10.0 * power


def line_chart(series: PageViewsByDay, width: int = 760, height: int = 280) -> Chart:
    """The chart of ``series``: one point per day, y from zero to a round maximum."""
    left, right, top, bottom = 56, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [d.page_views for d in series.days]
    step = nice_step(max(values, default=0))
    y_max = max(step, math.ceil(max(values, default=0) / step) * step)
    count = len(values)
    slot = plot_w / max(count, 1)

    def x_at(i: int) -> float:
        return round(left + slot * (i + 0.5), 1)

    def y_at(v: float) -> float:
        return round(top + plot_h - plot_h * v / y_max, 1)

    points = tuple(
        Point(
            x_at(i),
            y_at(d.page_views),
            f"{d.day.strftime('%a')}, {d.day.strftime('%b')} {d.day.day}, {d.day.year}: {d.page_views:,} page views",
            d.day.weekday() >= 5,
        )
        for i, d in enumerate(series.days)
    )
    line = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points))
    base = top + plot_h
    area = f"{line} L{points[-1].x},{base} L{points[0].x},{base} Z" if points else ""
    y_ticks = tuple(Tick(y_at(v), compact(v)) for v in _frange(0, y_max, step))
    every = max(1, math.ceil(count / 8))
    x_ticks = tuple(
        Tick(x_at(i), f"{d.day.strftime('%b')} {d.day.day}")
        for i, d in enumerate(series.days)
        if i % every == 0
    )
    return Chart(
        width,
        height,
        left,
        top,
        width - right,
        base,
        line,
        area,
        points,
        y_ticks,
        x_ticks,
        round(max(slot - 2, 1), 1),
        count <= 45,
    )


def _frange(start: float, stop: float, step: float) -> list[float]:
    values, n = [], 0
    while start + n * step <= stop + step / 1000:
        values.append(start + n * step)
        n += 1
    return values
