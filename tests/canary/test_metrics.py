"""The judge's metrics against straightforward per-window computations with other code.

Each window's rows are selected with pandas, and the metric is computed with the analytics'
own per-order functions (:func:`stratops.analytics.tca.shortfall_table`,
:func:`~stratops.analytics.tca.markouts`), ``numpy.percentile``,
:func:`stratops.analytics.returns.max_drawdown` and ``numpy.std``.
"""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from canary_builders import STARTED, canary, flat_profile, telemetry, template
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.analytics.returns import max_drawdown
from stratops.analytics.tca import aggregate_shortfall, shortfall_table
from stratops.canary import AnalysisRun, CanaryTelemetry, judge, judge_all
from stratops.canary.metrics import window_percentiles, window_std, window_sums
from stratops.model.analysis import CanaryMetric

M = CanaryMetric
NOW = pd.Timestamp("2024-08-05 06:00", tz="UTC").to_pydatetime()


def _window(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return frame[(frame["ts"] >= start) & (frame["ts"] < end)]


def _values(run: AnalysisRun, metric: CanaryMetric) -> list[tuple[pd.Timestamp, float | None]]:
    return [(pd.Timestamp(m.start), m.value) for m in run.measurements if m.metric is metric]


@pytest.fixture(scope="module")
def judged() -> tuple[AnalysisRun, CanaryTelemetry, pd.DataFrame]:
    subject = canary(3, template=template(minDuration="24h"))  # keeps measuring to the clock
    assert subject.replay is not None
    return judge(subject, NOW), subject.telemetry, subject.replay


def test_a_measurement_per_metric_per_interval_over_the_trailing_window(
    judged: tuple[AnalysisRun, CanaryTelemetry, pd.DataFrame],
) -> None:
    run, _, _ = judged
    ends = sorted({m.end for m in run.measurements})
    # first a full window (1 h) after the start, then every 15 minutes up to the clock
    assert [pd.Timestamp(e).strftime("%H:%M") for e in ends][:3] == ["01:00", "01:15", "01:30"]
    assert len(ends) == 21 and pd.Timestamp(ends[-1]) == pd.Timestamp(NOW)
    assert all((m.end - m.start).total_seconds() == 3600 for m in run.measurements)
    assert len(run.measurements) == 21 * len(CanaryMetric)


def test_shortfall_metrics_match_the_analytics_per_order_table(
    judged: tuple[AnalysisRun, CanaryTelemetry, pd.DataFrame],
) -> None:
    run, tel, _ = judged
    for start, slippage in _values(run, M.SLIPPAGE_BPS):
        fills = _window(tel.fills, start, start + pd.Timedelta(hours=1)).reset_index(drop=True)
        orders = pd.DataFrame(  # each fill fills its own order: no opportunity cost
            {
                "order_id": fills.index,
                "side": fills["side"],
                "quantity": fills["quantity"],
                "decision_price": fills["decision_price"],
                "arrival_price": fills["arrival_price"],
                "end_price": fills["arrival_price"],
                "strategy": "s",
            }
        )
        table = shortfall_table(
            orders, fills.assign(order_id=fills.index)[["order_id", "quantity", "price", "fee"]]
        )
        arrival_notional = (fills["quantity"] * fills["arrival_price"]).sum()
        assert slippage == pytest.approx(1e4 * table["trading"].sum() / arrival_notional, rel=1e-9)
        total = aggregate_shortfall(table, ["strategy"])["total_bps"].iloc[0]
        shortfall = dict(_values(run, M.IMPLEMENTATION_SHORTFALL_BPS))[start]
        assert shortfall == pytest.approx(total, rel=1e-9)


def test_markout_is_the_notional_weighted_mean_of_fills_with_a_mid_a_minute_later(
    judged: tuple[AnalysisRun, CanaryTelemetry, pd.DataFrame],
) -> None:
    run, tel, _ = judged
    for start, value in _values(run, M.MARKOUT_1M_BPS):
        fills = _window(tel.fills, start, start + pd.Timedelta(hours=1)).dropna()
        d = np.where(fills["side"] == "buy", 1.0, -1.0)
        per_fill = 1e4 * d * (fills["mid_after_1m"] - fills["price"]) / fills["price"]
        weights = fills["quantity"] * fills["price"]
        assert value == pytest.approx(np.average(per_fill, weights=weights), rel=1e-9)
        samples = [m.samples for m in run.measurements if m.metric is M.MARKOUT_1M_BPS]
        assert len(fills) in samples


def test_order_latency_and_pnl_metrics(
    judged: tuple[AnalysisRun, CanaryTelemetry, pd.DataFrame],
) -> None:
    run, tel, replay = judged
    bars = tel.pnl.groupby("ts")["net"].sum() / 100_000.0
    expected = replay.groupby("ts")["net"].sum() / 100_000.0
    by_metric = {metric: dict(_values(run, metric)) for metric in CanaryMetric}
    for start in by_metric[M.FILL_RATIO]:
        end = start + pd.Timedelta(hours=1)
        orders = _window(tel.orders, start, end)
        assert by_metric[M.FILL_RATIO][start] == pytest.approx(
            orders["filled_quantity"].sum() / orders["quantity"].sum(), rel=1e-12
        )
        assert by_metric[M.REJECT_RATE][start] == pytest.approx(
            (orders["status"] == "rejected").mean(), rel=1e-12
        )
        latency = _window(tel.latency, start, end)["tick_to_order_ms"]
        assert by_metric[M.LATENCY_P99_MS][start] == pytest.approx(
            np.percentile(latency, 99), rel=1e-12
        )
        own = bars[(bars.index >= start) & (bars.index < end)]
        drawdown = max_drawdown(own.to_numpy())
        assert by_metric[M.DRAWDOWN][start] == pytest.approx(drawdown, abs=1e-15)
        theirs = expected[(expected.index >= start) & (expected.index < end)]
        z = (own.sum() - theirs.sum()) / (np.std(theirs, ddof=1) * math.sqrt(len(theirs)))
        assert by_metric[M.PNL_VS_BACKTEST][start] == pytest.approx(z, rel=1e-9)


def _arrow(series: pd.Series) -> pa.Array:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return pa.array(series.dt.tz_convert(None).to_numpy(), type=pa.timestamp("ns", tz="UTC"))
    return pa.array(series.to_numpy())


def test_arrow_tables_and_pandas_frames_give_the_same_run() -> None:
    subject = canary(5)
    tel = subject.telemetry
    arrow = CanaryTelemetry(
        *(
            pa.table({name: _arrow(t[name]) for name in t.columns})
            for t in (tel.fills, tel.orders, tel.latency, tel.pnl)
        )
    )
    from_arrow = judge(canary(5, telemetry=arrow), NOW)
    assert from_arrow.canonical == judge(subject, NOW).canonical


def test_a_window_is_judged_the_same_alone_in_a_batch_or_with_more_history() -> None:
    """Sums over a window use its rows only: no running sums across canaries or history."""
    alone = judge(canary(7), NOW)
    batch = judge_all([canary(8, hours=30), canary(7), canary(9)], NOW)
    assert batch[1].canonical == alone.canonical
    mine = canary(7).telemetry
    before = telemetry(99, hours=20, start=STARTED - timedelta(days=3650))  # years of history
    longer = CanaryTelemetry(
        *(
            pd.concat([getattr(before, name), getattr(mine, name)], ignore_index=True)
            for name in ("fills", "orders", "latency", "pnl")
        )
    )
    assert judge(canary(7, telemetry=longer), NOW).canonical == alone.canonical


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60),
    bounds=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=8),
)
def test_window_sums_percentiles_and_std_match_numpy(
    values: list[float], bounds: list[tuple[int, int]]
) -> None:
    array = np.asarray(values)
    lo = np.array([min(a, b, array.size) for a, b in bounds], dtype=np.int64)
    hi = np.array([min(max(a, b), array.size) for a, b in bounds], dtype=np.int64)
    sums = window_sums(array, lo, hi)
    p99, counts = window_percentiles(array, lo, hi, 99.0)
    std = window_std(array, lo, hi)
    for k in range(lo.size):
        part = array[lo[k] : hi[k]]
        assert sums[k] == pytest.approx(part.sum(), rel=1e-12, abs=1e-6)
        assert counts[k] == part.size
        if part.size:
            assert p99[k] == pytest.approx(np.percentile(part, 99), rel=1e-12, abs=1e-9)
        else:
            assert math.isnan(p99[k])
        if part.size >= 2:
            assert std[k] == pytest.approx(np.std(part, ddof=1), rel=1e-9, abs=1e-6)
        else:
            assert math.isnan(std[k])


def test_rows_with_nan_are_left_out_and_an_empty_window_is_inconclusive() -> None:
    tel = telemetry(11, hours=3)
    fills = tel.fills.copy()
    fills.loc[fills.index[:5], "price"] = np.nan
    quiet = fills[(fills["ts"] < pd.Timestamp("2024-08-05 01:00", tz="UTC"))]
    run = judge(
        canary(11, hours=3, telemetry=CanaryTelemetry(quiet, tel.orders, tel.latency, tel.pnl)),
        pd.Timestamp("2024-08-05 02:00", tz="UTC").to_pydatetime(),
    )
    first, last = (
        [m for m in run.measurements if m.metric is M.SLIPPAGE_BPS and m.end == end]
        for end in sorted({m.end for m in run.measurements})[::4]
    )
    n = int((quiet["ts"] < pd.Timestamp("2024-08-05 01:00", tz="UTC")).sum())
    assert first[0].samples == n - 5
    assert last[0].samples == 0 and last[0].value is None
    assert last[0].phase.value == "inconclusive"
    assert last[0].note == "0 samples < minSamples 1"
    assert flat_profile().regimes()[0].value == "normal"
    assert template().spec.min_samples == 1


def test_rows_in_any_order_give_the_same_run() -> None:
    tel = canary(13).telemetry
    shuffled = CanaryTelemetry(
        *(
            frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
            for frame in (tel.fills, tel.orders, tel.latency, tel.pnl)
        )
    )
    assert judge(canary(13, telemetry=shuffled), NOW).canonical == judge(canary(13), NOW).canonical
