"""The canary analysis charts of the strategy page: each metric against its regime threshold."""

from __future__ import annotations

import itertools
import math
from xml.etree import ElementTree

import pandas as pd
import pytest
from analysis_runs import (
    DRAWDOWN,
    REGIMES,
    SLIPPAGE,
    SLIPPAGE_THRESHOLDS,
    halted_run,
    measurement,
    window_end,
)
from hypothesis import given
from hypothesis import strategies as st

from stratops.canary import AnalysisRun, MeasurementPhase
from stratops.model.analysis import CanaryMetric
from stratops.report.svg import HEIGHT, MARGIN_BOTTOM
from stratops.status.analysis_charts import PHASE_COLOURS, run_charts, threshold_steps
from stratops.status.detail import detail

SVG = "{http://www.w3.org/2000/svg}"


def parse(chart: str) -> ElementTree.Element:
    return ElementTree.fromstring(chart)


def points(polyline: ElementTree.Element) -> list[tuple[float, float]]:
    return [
        (float(x), float(y)) for x, y in (p.split(",") for p in polyline.get("points", "").split())
    ]


def value_at(svg: ElementTree.Element):  # type: ignore[no-untyped-def]
    """The y axis as a function from pixel to value, read from two of its tick labels."""
    ticks = [
        (float(t.get("y", "")), float(t.text or ""))
        for t in svg.iter(f"{SVG}text")
        if t.get("dominant-baseline") == "middle"
    ]
    (y0, v0), (y1, v1) = ticks[0], ticks[-1]
    return lambda y: v0 + (y - y0) * (v1 - v0) / (y1 - y0)


def marks(svg: ElementTree.Element) -> list[ElementTree.Element]:
    return [c for c in svg.iter(f"{SVG}circle") if "mark" in c.get("class", "").split()]


@pytest.fixture(scope="module")
def run() -> AnalysisRun:
    return halted_run()


def test_a_chart_per_metric_with_its_value_series(run: AnalysisRun) -> None:
    charts = run_charts(run)
    assert list(charts) == ["slippage_bps", "drawdown"]
    for metric, chart in charts.items():
        svg = parse(chart)
        assert svg.get("id") == f"analysis-v1-step0-{metric}"
        [series] = [p for p in svg.iter(f"{SVG}polyline") if metric in p.get("class", "")]
        measured = [m.value for m in run.measurements if m.metric.value == metric]
        to_value = value_at(svg)
        finite = [v for v in measured if v is not None]
        assert [to_value(y) for _, y in points(series)] == pytest.approx(finite, abs=1e-6)


def test_the_threshold_is_a_step_line_through_the_regimes(run: AnalysisRun) -> None:
    svg = parse(run_charts(run)["slippage_bps"])
    [line] = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == "threshold"]
    drawn = points(line)
    to_value = value_at(svg)
    levels = [SLIPPAGE_THRESHOLDS[r] for r in REGIMES]  # 5, 5, 8, 8, 4
    expected = [levels[0]] + [v for a, b in itertools.pairwise(levels) for v in (a, b)]
    assert [to_value(y) for _, y in drawn] == pytest.approx([*expected, levels[-1]], abs=1e-6)
    ends = [float(c.get("cx", "")) for c in marks(svg)]  # the levels change at window ends
    assert [x for x, _ in drawn[1:-1]] == [x for x in ends[:-1] for _ in (0, 1)]
    assert drawn[-1][0] == ends[-1] and drawn[0][0] < ends[0]  # from the first window's start
    assert "threshold (max)" in chart_texts(svg)
    drawdown = parse(run_charts(run)["drawdown"])  # haltOn only: no threshold to draw
    assert not [p for p in drawdown.iter(f"{SVG}polyline") if p.get("class") == "threshold"]


def chart_texts(svg: ElementTree.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def test_points_are_coloured_by_phase_with_a_legend(run: AnalysisRun) -> None:
    svg = parse(run_charts(run)["slippage_bps"])
    found = marks(svg)
    assert [c.get("class") for c in found] == [f"mark {phase.value}" for _, phase in SLIPPAGE]
    assert [c.get("fill") for c in found] == [PHASE_COLOURS[p.value] for _, p in SLIPPAGE]
    bottom = HEIGHT - MARGIN_BOTTOM
    assert [float(c.get("cy", "")) for c in found[3:]] == [bottom, bottom]  # no value: on the axis
    tooltips = [c.findtext(f"{SVG}title") or "" for c in found]
    assert "6.25 (max 5 in normal), failed" in tooltips[1]
    assert tooltips[3].endswith("no value (max 8 in thin), inconclusive: inconclusive at 3")
    legend = chart_texts(svg)
    assert all(label in legend for label in ("value", "passed", "failed", "inconclusive", "error"))
    assert "halt" not in legend and not [
        c for c in svg.iter(f"{SVG}circle") if c.get("class") == "halt"
    ]


def test_the_halt_is_ringed(run: AnalysisRun) -> None:
    svg = parse(run_charts(run)["drawdown"])
    [ring] = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "halt"]
    failed = [c for c in marks(svg) if c.get("class") == "mark failed"]
    assert [(c.get("cx"), c.get("cy")) for c in failed] == [(ring.get("cx"), ring.get("cy"))]
    assert len(marks(svg)) == len(DRAWDOWN) and "halt" in chart_texts(svg)
    assert value_at(svg)(float(ring.get("cy", ""))) == pytest.approx(DRAWDOWN[-1], abs=1e-6)


def test_the_charts_are_a_pure_function_of_the_run(run: AnalysisRun) -> None:
    again = AnalysisRun.from_storage(run.to_storage())
    assert run_charts(again) == run_charts(run)
    assert threshold_steps(()) == ([], [])


def test_the_detail_lists_the_strategys_runs_newest_first() -> None:
    runs = [halted_run(version=1), halted_run(version=2), halted_run("other", 3)]
    found = detail("btc-trend", [], [], [], analyses=runs)
    assert [(a.run.version, a.digest) for a in found.analyses] == [
        (2, runs[1].digest),
        (1, runs[0].digest),
    ]
    assert window_end(0) == found.analyses[0].run.measurements[0].end


thresholds = st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=len(REGIMES))


@given(thresholds)
def test_each_window_holds_its_own_threshold_up_to_its_end(levels: list[float | None]) -> None:
    found = [
        measurement(k, CanaryMetric.SLIPPAGE_BPS, None, condition="max", threshold=level,
                    phase=MeasurementPhase.ERROR)
        for k, level in enumerate(levels)
    ]  # fmt: skip
    xs, ys = threshold_steps(found)
    starts = [pd.Timestamp(m.start).value for m in found]
    ends = [pd.Timestamp(m.end).value for m in found]
    assert xs == [starts[0], *(x for end in ends for x in (end, end))][: 2 * len(found)]
    expected = [math.nan if level is None else level for level in levels]
    assert ys[::2] == pytest.approx(expected, nan_ok=True)
    assert ys[1::2] == pytest.approx(expected, nan_ok=True)  # flat within a window
    run = halted_run().model_copy(update={"measurements": tuple(found)})
    svg = parse(run_charts(run)["slippage_bps"])  # well-formed, whatever the levels
    drawn = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == "threshold"]
    assert bool(drawn) == any(level is not None for level in levels)
    assert [c.get("class") for c in marks(svg)] == ["mark error"] * len(levels)  # all on the axis
