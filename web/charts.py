"""Charts as geometry for inline SVG: the templates draw them, no chart library, no script.

A chart is a few series over the same periods (hours or days). ``line_chart`` draws each
series as a line (series that do not add up: started and verified challenges); ``bar_chart``
stacks them (series that do: entries per kind). Each chart also carries its data as table rows,
which the template shows beside the picture for screen readers and for exact figures.

Knows nothing of Django: periods in, coordinates out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WIDTH = 600
HEIGHT = 240
LEFT = 52  # room for the value labels
RIGHT = 8
TOP = 10
BOTTOM = 28  # room for the period labels
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
X_LABELS = 6
Y_TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    title: str


@dataclass(frozen=True)
class Line:
    series: int
    points: str


@dataclass(frozen=True)
class TableRow:
    label: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Chart:
    """What ``templates/web/chart.html`` draws."""

    slug: str
    title: str
    description: str
    series_names: tuple[str, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    rows: tuple[TableRow, ...]
    bars: tuple[Bar, ...] = ()
    lines: tuple[Line, ...] = ()
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    legend: tuple[tuple[int, str], ...] = ()
    empty: bool = True


def periods(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """The period starts from ``start`` (aligned by the caller) up to and including ``end``."""
    out = []
    at = start
    while at <= end:
        out.append(at)
        at += step
    return out


def filled(
    starts: Sequence[datetime], values: Mapping[datetime, float], *, carry: float | None = None
) -> tuple[float, ...]:
    """``values`` at each of ``starts``: 0 where missing, or the last value when ``carry``
    (the value before the first period) is given, as for a running total."""
    if carry is None:
        return tuple(float(values.get(start, 0.0)) for start in starts)
    out = []
    last = float(carry)
    for start in starts:
        last = float(values.get(start, last))
        out.append(last)
    return tuple(out)


def scale_top(value: float, *, whole: bool = True) -> float:
    """The top of a scale showing ``value``: ``Y_TICKS`` steps of 1, 2 or 5 times a power of
    ten. With ``whole`` (counts), a step is at least 1, so no tick reads "2.5 challenges"."""
    if value <= 0:
        return float(Y_TICKS) if whole else 1.0
    raw = value / Y_TICKS
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(step * power for step in (1, 2, 5, 10) if raw <= step * power * (1 + 1e-9))
    if whole:
        step = max(step, 1.0)
    return step * Y_TICKS


def number(value: float) -> str:
    """A figure as shown: thousands separated, at most three decimals, none when whole."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def _x_ticks(labels: Sequence[str], x_of: Iterable[float]) -> tuple[Tick, ...]:
    positions = list(x_of)
    if not labels:
        return ()
    every = max(1, math.ceil(len(labels) / X_LABELS))
    return tuple(Tick(positions[i], labels[i]) for i in range(0, len(labels), every))


def _y_ticks(top: float) -> tuple[Tick, ...]:
    return tuple(
        Tick(TOP + PLOT_HEIGHT - PLOT_HEIGHT * i / Y_TICKS, number(top * i / Y_TICKS))
        for i in range(Y_TICKS + 1)
    )


def _rows(table_labels: Sequence[str], series: Sequence[Series]) -> tuple[TableRow, ...]:
    return tuple(
        TableRow(label, tuple(number(s.values[i]) for s in series))
        for i, label in enumerate(table_labels)
    )


def line_chart(
    *,
    slug: str,
    title: str,
    description: str,
    labels: Sequence[str],
    table_labels: Sequence[str],
    series: Sequence[Series],
    whole: bool = True,
) -> Chart:
    """Each series as a line over the periods (``labels`` short, ``table_labels`` in full);
    ``whole`` when the values are counts."""
    count = len(labels)
    top = scale_top(max((v for s in series for v in s.values), default=0), whole=whole)
    step = PLOT_WIDTH / max(count - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + (i * step if count > 1 else PLOT_WIDTH / 2), 1)

    def y(v: float) -> float:
        return round(TOP + PLOT_HEIGHT - PLOT_HEIGHT * v / top, 1)

    lines = tuple(
        Line(n, " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(s.values)))
        for n, s in enumerate(series)
    )
    return Chart(
        slug=slug,
        title=title,
        description=description,
        series_names=tuple(s.name for s in series),
        x_ticks=_x_ticks(labels, (x(i) for i in range(count))),
        y_ticks=_y_ticks(top),
        rows=_rows(table_labels, series),
        empty=not any(v for s in series for v in s.values),
        lines=lines,
        legend=tuple(enumerate(s.name for s in series)),
    )


def bar_chart(
    *,
    slug: str,
    title: str,
    description: str,
    labels: Sequence[str],
    table_labels: Sequence[str],
    series: Sequence[Series],
) -> Chart:
    """The series stacked as bars, one bar per period."""
    count = len(labels)
    totals = [sum(s.values[i] for s in series) for i in range(count)]
    top = scale_top(max(totals, default=0))
    slot = PLOT_WIDTH / max(count, 1)
    width = max(round(slot * 0.8, 2), 0.5)
    bars = []
    for i in range(count):
        base = 0.0
        for n, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            height = PLOT_HEIGHT * value / top
            y = TOP + PLOT_HEIGHT - PLOT_HEIGHT * base / top - height
            bars.append(
                Bar(
                    x=round(LEFT + i * slot + (slot - width) / 2, 2),
                    y=round(y, 2),
                    width=width,
                    height=round(height, 2),
                    series=n,
                    title=f"{table_labels[i]}: {number(value)} {s.name}",
                )
            )
            base += value
    return Chart(
        slug=slug,
        title=title,
        description=description,
        series_names=tuple(s.name for s in series),
        x_ticks=_x_ticks(labels, (LEFT + i * slot + slot / 2 for i in range(count))),
        y_ticks=_y_ticks(top),
        rows=_rows(table_labels, series),
        empty=not any(v for s in series for v in s.values),
        bars=tuple(bars),
        legend=tuple(enumerate(s.name for s in series)),
    )
