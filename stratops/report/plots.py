"""The report's plots: each section of a :class:`~stratops.report.model.Report` as inline SVG.

:data:`PLOT_IDS` names every plot a report page carries, in page order (the browser test
checks each is present).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from stratops.analytics.regimes import HOURS_PER_WEEK, WEEKDAYS
from stratops.report import svg, text
from stratops.report.model import SHORTFALL_PARTS, Curve, Report, WaterfallStep

PLOT_IDS: Final = (
    "plot-equity",
    "plot-underwater",
    "plot-pnl-waterfall",
    "plot-shortfall-waterfall",
    "plot-markouts",
    "plot-cost-by-regime",
    "plot-hour-of-week",
)
TIME_TICKS: Final = 6


def _time_labels(curve: Curve) -> list[tuple[float, str]]:
    if not curve.times_ns:
        return []
    ticks = np.linspace(curve.times_ns[0], curve.times_ns[-1], TIME_TICKS)
    return [(float(t), text.short_moment(float(t))) for t in ticks]


def _time_line(plot_id: str, title: str, curve: Curve, fill: bool, fmt: svg.Formatter) -> str:
    line = svg.Line(
        title, [float(t) for t in curve.times_ns], list(curve.values), fill_to_zero=fill
    )
    return svg.line_chart(plot_id, title, [line], x_labels=_time_labels(curve), y_format=fmt)


def _steps(steps: tuple[WaterfallStep, ...]) -> list[svg.Step]:
    return [svg.Step(s.label, s.amount, s.total) for s in steps]


def _compact(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def equity(report: Report) -> str:
    return _time_line("plot-equity", "Equity (quote currency)", report.equity, False, _compact)


def underwater(report: Report) -> str:
    return _time_line(
        "plot-underwater", "Underwater (drawdown from peak)", report.underwater, True, text.percent
    )


def pnl_waterfall(report: Report) -> str:
    return svg.waterfall(
        "plot-pnl-waterfall",
        "P&L: paper alpha to net (quote currency)",
        _steps(report.pnl_waterfall),
        y_format=_compact,
    )


def shortfall_waterfall(report: Report) -> str:
    return svg.waterfall(
        "plot-shortfall-waterfall",
        "Implementation shortfall (quote currency, positive = cost)",
        _steps(report.shortfall_waterfall),
        y_format=_compact,
        rise_is_good=False,
    )


def markout_curve(report: Report) -> str:
    points = report.markouts
    lines = [
        svg.Line("mean", list(range(len(points))), [p.mean_bps for p in points]),
        svg.Line("median", list(range(len(points))), [p.median_bps for p in points]),
    ]
    return svg.line_chart(
        "plot-markouts",
        "Markouts by horizon (bps, positive = the price moved our way)",
        lines,
        x_labels=[(float(i), p.label) for i, p in enumerate(points)],
        y_format=lambda v: f"{v:.2f}",
        markers=True,
    )


def cost_by_regime(report: Report) -> str:
    rows = report.cost_by_regime
    return svg.grouped_bars(
        "plot-cost-by-regime",
        "Shortfall by liquidity regime (bps of decision notional)",
        [row.group for row in rows],
        [
            (part, [getattr(row, f"{part}_bps") for row in rows])
            for part in (*SHORTFALL_PARTS, "total")
        ],
        y_format=lambda v: f"{v:.2f}",
    )


def hour_of_week(report: Report) -> str:
    grid = np.full(HOURS_PER_WEEK, math.nan)
    for cost in report.hour_of_week:
        grid[int(cost.group)] = cost.total_bps
    return svg.heat_map(
        "plot-hour-of-week",
        "Shortfall by hour of week, UTC (bps of decision notional)",
        WEEKDAYS,
        [f"{h:02d}" for h in range(24)],
        grid.reshape(7, 24).tolist(),
        value_format=lambda v: f"{v:.2f} bps",
    )


def all_plots(report: Report) -> dict[str, str]:
    """Every plot of the report by id, in :data:`PLOT_IDS` order."""
    makers = (
        equity,
        underwater,
        pnl_waterfall,
        shortfall_waterfall,
        markout_curve,
        cost_by_regime,
        hour_of_week,
    )
    return dict(zip(PLOT_IDS, (make(report) for make in makers), strict=True))
