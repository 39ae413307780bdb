"""A line chart of page views by day, as numbers a template turns into SVG.

Everything is computed on the server: no JavaScript, no chart library, no
CDN. The template draws the paths, grid lines and labels given here.

The chart is drawn twice: 760 units wide for a desktop card and 360 wide for
a phone (CSS shows one). An SVG scales its text with its width, so one drawing
cannot serve both: at 390 px a 760-unit chart's 11-unit labels would be 5 px,
and labels enlarged to stay readable run into each other. Each drawing places
its labels from its own font size, with room for the widest of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask_adobe_oauth.analytics import PageViewsByDay

#: Width of a label character, in ems, erring wide: DejaVu Sans (Linux's
#: usual system-ui) has 0.64 em digits; most other sans-serif fonts are narrower.
CHAR_EM = 0.65
#: Height of a line of text in ems (ascent and descent); where it sits on its baseline.
ASCENT_EM, DESCENT_EM = 0.93, 0.24
#: Most x labels on a chart, however wide it is.
MAX_X_LABELS = 8


@dataclass(frozen=True)
class Size:
    """A drawing's size and font size, in SVG user units."""

    width: int
    height: int
    font: float


#: A desktop card (about 780 px wide): units are about pixels.
WIDE = Size(760, 280, 11)
#: A phone (the card is 332 px wide at 390): 13.5 units are about 12.5 px there.
NARROW = Size(360, 240, 13.5)


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
    font: float = WIDE.font
    #: x of the y tick labels' right end; their baseline is ``tick.at + tick_dy``.
    tick_x: float = 0.0
    tick_dy: float = 0.0
    #: Baseline of the x tick labels.
    x_label_y: float = 0.0
    #: Baseline of the rotated "Page views" (an x, read after the rotation).
    y_title_at: float = 0.0
    #: The same chart drawn for a phone-width screen.
    narrow: Chart | None = None


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


def text_width(text: str, font: float) -> float:
    """An upper estimate of ``text``'s width at ``font`` units."""
    return len(text) * CHAR_EM * font


def line_chart(series: PageViewsByDay) -> Chart:
    """The chart of ``series`` for a desktop card, with its phone drawing as ``narrow``."""
    return draw(series, WIDE, narrow=draw(series, NARROW))


def draw(series: PageViewsByDay, size: Size = WIDE, narrow: Chart | None = None) -> Chart:
    """``series`` drawn at ``size``: one point per day, y from zero to a round maximum.

    Left to right: the rotated "Page views", the y tick labels, the plot. Below
    the plot, the x tick labels, a line and a half under the "0" so that the two
    never touch, and only as many as fit side by side.
    """
    width, height, font = size.width, size.height, size.font
    values = [d.page_views for d in series.days]
    step = nice_step(max(values, default=0))
    y_max = max(step, math.ceil(max(values, default=0) / step) * step)
    y_values = _frange(0, y_max, step)
    y_labels = [compact(v) for v in y_values]

    line_em = ASCENT_EM + DESCENT_EM
    gap = round(0.6 * font, 1)
    y_title_at = round(2 + ASCENT_EM * font, 1)  # the title's line spans 2 .. 2 + line_em * font
    tick_x = math.ceil(2 + line_em * font + gap + max(text_width(t, font) for t in y_labels))
    left = math.ceil(tick_x + gap)
    top = 16
    right = 16
    # A y tick label is centred on its grid line; the "0"'s line ends half a
    # line below the axis; the x labels' line starts a gap below that.
    tick_dy = round(0.35 * font, 1)
    x_label_dy = math.ceil(tick_dy + DESCENT_EM * font + gap + ASCENT_EM * font)
    bottom = x_label_dy + math.ceil(DESCENT_EM * font) + 6

    plot_w, plot_h = width - left - right, height - top - bottom
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
    y_ticks = tuple(Tick(y_at(v), label) for v, label in zip(y_values, y_labels, strict=True))

    dates = [f"{d.day.strftime('%b')} {d.day.day}" for d in series.days]
    widest = max((text_width(t, font) for t in dates), default=0.0)
    every = max(1, math.ceil(count / MAX_X_LABELS), math.ceil((widest + font) / slot))
    x_ticks = tuple(
        Tick(x_at(i), label)
        for i, label in enumerate(dates)
        if i % every == 0 and x_at(i) + text_width(label, font) / 2 <= width
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
        count <= 45 and slot >= 8,
        font=font,
        tick_x=tick_x,
        tick_dy=tick_dy,
        x_label_y=base + x_label_dy,
        y_title_at=y_title_at,
        narrow=narrow,
    )


def _frange(start: float, stop: float, step: float) -> list[float]:
    values, n = [], 0
    while start + n * step <= stop + step / 1000:
        values.append(start + n * step)
        n += 1
    return values
