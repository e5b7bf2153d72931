"""Chart geometry (web.charts): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from web.charts import (
    LEFT,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    TOP,
    Series,
    bar_chart,
    filled,
    line_chart,
    number,
    periods,
    scale_top,
)

LABELS = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 4), (1, 4), (3, 4), (4, 4), (5, 8), (7, 8), (9, 20), (10, 20), (21, 40), (260, 400)],
)
def test_scales_of_counts_step_by_whole_numbers(value: float, top: float) -> None:
    assert scale_top(value) == top


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (0.012, 0.02), (0.3, 0.4), (0.9, 2), (4.1, 8), (12, 20)]
)
def test_scales_of_measures(value: float, top: float) -> None:
    assert scale_top(value, whole=False) == pytest.approx(top)


def test_numbers_as_shown() -> None:
    assert [number(1234567), number(2.5), number(0.0125), number(3.0)] == [
        "1,234,567",
        "2.5",
        "0.013",
        "3",
    ]


def test_periods_and_filling() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    hours = periods(start, start + timedelta(hours=3), timedelta(hours=1))
    assert len(hours) == 4 and hours[-1] == start + timedelta(hours=3)
    values = {hours[1]: 5.0, hours[3]: 9.0}
    assert filled(hours, values) == (0.0, 5.0, 0.0, 9.0)
    # A running total carries its last value over empty periods, from where it stood before.
    assert filled(hours, values, carry=2) == (2.0, 5.0, 5.0, 9.0)


def test_line_chart_spans_the_plot() -> None:
    chart = line_chart(
        slug="c",
        title="t",
        description="d",
        labels=LABELS,
        table_labels=LABELS,
        series=[Series("s", (0.0, 5.0, 10.0, 2.5))],
    )
    points = [tuple(map(float, p.split(","))) for p in chart.lines[0].points.split()]
    assert points[0] == (LEFT, TOP + PLOT_HEIGHT)  # 0 at the bottom left
    assert points[2] == (LEFT + PLOT_WIDTH * 2 / 3, TOP + PLOT_HEIGHT / 2)  # 10, half of 20
    assert points[-1][0] == LEFT + PLOT_WIDTH
    assert [t.label for t in chart.y_ticks] == ["0", "5", "10", "15", "20"]
    assert [row.values for row in chart.rows] == [("0",), ("5",), ("10",), ("2.5",)]
    assert not chart.empty


def test_bars_stack_series_and_skip_zeros() -> None:
    chart = bar_chart(
        slug="c",
        title="t",
        description="d",
        labels=LABELS,
        table_labels=["A", "B", "C", "D"],
        series=[Series("x", (1.0, 0.0, 3.0, 0.0)), Series("y", (1.0, 2.0, 2.0, 0.0))],
    )
    assert len(chart.bars) == 5  # zeros draw nothing
    third = [bar for bar in chart.bars if bar.title.startswith("C:")]
    lower, upper = sorted(third, key=lambda bar: -bar.y)
    assert (lower.series, upper.series) == (0, 1)
    assert upper.y + upper.height == pytest.approx(lower.y)  # stacked, no gap
    assert lower.y + lower.height == pytest.approx(TOP + PLOT_HEIGHT)
    assert upper.y == pytest.approx(TOP + PLOT_HEIGHT * 3 / 8)  # 5 of the scale's 8
    assert upper.title == "C: 2 y"
    assert chart.legend == ((0, "x"), (1, "y"))


def test_an_empty_chart_says_so() -> None:
    chart = bar_chart(
        slug="c",
        title="t",
        description="d",
        labels=LABELS,
        table_labels=LABELS,
        series=[Series("x", (0.0,) * 4)],
    )
    assert chart.empty and chart.bars == ()
