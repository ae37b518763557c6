"""The judge: schedule, incremental ticks, digests, telemetry errors and the run's action."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from canary_builders import STARTED, at, canary, telemetry, template
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.canary import (
    AnalysisRun,
    CanaryTelemetry,
    MeasurementPhase,
    RunAction,
    RunPhase,
    judge,
)
from stratops.model.analysis import CanaryMetric

M = CanaryMetric


def test_nothing_is_measured_before_a_full_window() -> None:
    run = judge(canary(), at(0.99))
    assert run.measurements == () and run.phase is RunPhase.RUNNING
    assert run.action is RunAction.CONTINUE


def test_a_healthy_canary_passes_once_min_duration_is_covered() -> None:
    early = judge(canary(), at(1.75))
    assert early.phase is RunPhase.RUNNING
    assert early.reason.startswith("running: 1h 45m of minDuration 2h analysed;")
    run = judge(canary(), at(2.1))
    assert run.phase is RunPhase.PASSED and run.action is RunAction.PROMOTE
    assert run.decided_at == at(2)
    assert run.reason.startswith("passed: 2h analysed >= minDuration 2h")


def test_judging_tick_by_tick_equals_judging_at_once() -> None:
    tpl = template(minDuration="5h", minPassed=10)
    subject = canary(2, template=tpl)
    previous = None
    for minutes in [*range(0, 6 * 60, 7), 6 * 60]:
        previous = judge(canary(2, template=tpl, previous=previous), at(minutes / 60))
    assert previous is not None
    once = judge(subject, at(6))
    assert previous.measurements == once.measurements
    assert previous.canonical == once.canonical
    assert once.phase is RunPhase.PASSED


def test_same_inputs_same_bytes_and_the_stored_run_round_trips() -> None:
    first, second = judge(canary(4), at(3)), judge(canary(4), at(3))
    assert first.canonical == second.canonical and first.digest == second.digest
    stored = json.loads(json.dumps(first.to_storage()))
    back = AnalysisRun.from_storage(stored)
    assert back.digest == first.digest
    other = judge(canary(5), at(3))
    assert other.digest != first.digest
    assert {m.telemetry_digest for m in first.measurements}.isdisjoint(
        {m.telemetry_digest for m in other.measurements}
    )


def test_a_halt_on_breach_fails_at_once_and_asks_for_a_halt() -> None:
    tel = telemetry(6)
    crash = tel.pnl.copy()
    late = crash["ts"] >= pd.Timestamp(at(2.5))
    crash.loc[late & (crash["ts"] < pd.Timestamp(at(2.6))), "net"] = -1_000.0  # 12 % in 6 min
    tpl = template(halt_on=[{"metric": "drawdown", "above": 0.05}], minDuration="5h")
    crashed = CanaryTelemetry(tel.fills, tel.orders, tel.latency, crash)
    run = judge(canary(6, template=tpl, telemetry=crashed), at(5))
    assert run.phase is RunPhase.FAILED and run.halt and run.action is RunAction.HALT
    assert run.decided_at == at(2.75)  # the first window holding the crash's 6 minutes
    assert run.reason.startswith("failed: haltOn drawdown 0.1")
    assert run.reason.endswith("> 0.05")
    assert run.measured_until() == at(2.75)  # nothing measured after the decision


def test_unreadable_telemetry_is_an_error_that_holds_never_rolls_back() -> None:
    broken = CanaryTelemetry.failed_to_read("s3://telemetry/btc-trend: connection refused")
    run = judge(canary(telemetry=broken), at(3))
    # 5 errors in a row (> consecutiveErrorLimit 4) at 01:00 ... 02:00
    assert run.phase is RunPhase.ERROR and run.action is RunAction.HOLD
    assert run.reason == (
        "error: slippage_bps 5 consecutive errors > consecutiveErrorLimit 4 "
        "(telemetry unreadable: s3://telemetry/btc-trend: connection refused)"
    )
    assert run.decided_at == at(2)
    assert {m.phase for m in run.measurements} == {MeasurementPhase.ERROR}
    assert run.measurements[0].note.endswith("connection refused")


def test_errors_broken_by_a_good_measurement_do_not_add_up() -> None:
    tel = telemetry(8)
    complete = CanaryTelemetry(tel.fills, tel.orders, tel.latency, tel.pnl)
    broken = CanaryTelemetry.failed_to_read("flaky")
    run, tpl = None, template(minDuration="5h")
    for hours, source in [(1.75, broken), (2.0, complete), (2.75, broken)]:
        run = judge(canary(8, telemetry=source, previous=run, template=tpl), at(hours))
    assert run is not None
    phases = [m.phase for m in run.measurements if m.metric is M.SLIPPAGE_BPS]
    assert (
        phases
        == [MeasurementPhase.ERROR] * 4 + [MeasurementPhase.PASSED] + [MeasurementPhase.ERROR] * 3
    )
    assert run.phase is RunPhase.RUNNING


def test_a_window_waits_for_late_telemetry_for_one_interval_then_is_an_error() -> None:
    tel = telemetry(9)
    lagging = CanaryTelemetry(tel.fills, tel.orders, tel.latency, tel.pnl, complete_until=at(1.1))
    assert judge(canary(9, telemetry=lagging), at(1.2)).measured_until() == at(1)
    waited = judge(canary(9, telemetry=lagging), at(1.3))  # 01:15 was due at 01:15
    assert waited.measured_until() == at(1)
    late = judge(canary(9, telemetry=lagging), at(1.5))
    assert late.measured_until() == at(1.25)
    last = [m for m in late.measurements if m.end == at(1.25)]
    assert {m.phase for m in last} == {MeasurementPhase.ERROR}
    assert last[0].note.startswith("telemetry incomplete: complete until 2024-08-05T01:06:00")


def test_a_missing_column_or_replay_is_an_error_of_that_metric_only() -> None:
    tel = telemetry(10)
    no_markouts = CanaryTelemetry(
        tel.fills.drop(columns=["mid_after_1m"]), tel.orders, tel.latency, tel.pnl
    )
    run = judge(canary(10, telemetry=no_markouts, replay=None), at(1))
    phases = {m.metric: (m.phase, m.note) for m in run.measurements}
    assert phases[M.MARKOUT_1M_BPS] == (
        MeasurementPhase.ERROR,
        "telemetry incomplete: fills has no column mid_after_1m",
    )
    assert phases[M.PNL_VS_BACKTEST][0] is MeasurementPhase.ERROR
    assert "no replay" in phases[M.PNL_VS_BACKTEST][1]
    assert phases[M.SLIPPAGE_BPS][0] is MeasurementPhase.PASSED


HOURLY_MARKOUT = "markout_1m_bps not measurable on 1h bars: its 1m horizon is shorter than a bar"


def test_a_markout_shorter_than_the_bar_is_inconclusive_never_an_error() -> None:
    tel = telemetry(10)
    hourly = CanaryTelemetry(
        tel.fills.drop(columns=["mid_after_1m"]), tel.orders, tel.latency, tel.pnl, bar_seconds=3600
    )
    tpl = template(inconclusiveLimit=3, minDuration="24h")
    run = judge(canary(10, telemetry=hourly, template=tpl), at(3))
    markouts = [m for m in run.measurements if m.metric is M.MARKOUT_1M_BPS]
    assert {(m.phase, m.note) for m in markouts} == {
        (MeasurementPhase.INCONCLUSIVE, HOURLY_MARKOUT)
    }
    assert not any(m.phase is MeasurementPhase.ERROR for m in run.measurements)
    others = {m.phase for m in run.measurements if m.metric is M.SLIPPAGE_BPS}
    assert others == {MeasurementPhase.PASSED}  # the other metrics are judged as before
    # the fourth window exceeds inconclusiveLimit 3: held for a person, with the reason
    assert run.phase is RunPhase.INCONCLUSIVE and run.action is RunAction.HOLD
    assert run.decided_at == at(1.75)
    assert run.reason == (
        "inconclusive: markout_1m_bps 4 inconclusive measurements > inconclusiveLimit 3 "
        f"({HOURLY_MARKOUT})"
    )


@pytest.mark.parametrize(
    ("bar_seconds", "drop", "expected"),
    [
        (3600.0, False, MeasurementPhase.INCONCLUSIVE),  # the bar decides, not the column
        (61.0, True, MeasurementPhase.INCONCLUSIVE),
        (60.0, True, MeasurementPhase.ERROR),  # 1m bars have the mid: its absence is a fault
        (60.0, False, MeasurementPhase.PASSED),
        (None, True, MeasurementPhase.ERROR),  # bar unknown (imported fills): the column counts
    ],
)
def test_only_bars_longer_than_the_horizon_make_a_metric_not_measurable(
    bar_seconds: float | None, drop: bool, expected: MeasurementPhase
) -> None:
    tel = telemetry(11)
    fills = tel.fills.drop(columns=["mid_after_1m"]) if drop else tel.fills
    given = CanaryTelemetry(fills, tel.orders, tel.latency, tel.pnl, bar_seconds=bar_seconds)
    tpl = template(metrics=(M.MARKOUT_1M_BPS, M.SLIPPAGE_BPS), minDuration="24h")
    run = judge(canary(11, telemetry=given, template=tpl), at(1.5))
    assert {m.phase for m in run.measurements if m.metric is M.MARKOUT_1M_BPS} == {expected}
    assert {m.phase for m in run.measurements if m.metric is M.SLIPPAGE_BPS} == {
        MeasurementPhase.PASSED
    }


def test_truncated_or_unreadable_telemetry_on_coarse_bars_is_still_an_error() -> None:
    tel = telemetry(12)
    fills = tel.fills.drop(columns=["mid_after_1m"])
    lagging = CanaryTelemetry(
        fills, tel.orders, tel.latency, tel.pnl, complete_until=at(1.1), bar_seconds=3600
    )
    run = judge(canary(12, telemetry=lagging), at(3))
    late = [m for m in run.measurements if m.end >= at(1.25)]
    assert late and {m.phase for m in late} == {MeasurementPhase.ERROR}
    assert all(m.note.startswith("telemetry incomplete: complete until") for m in late)
    on_time = [m for m in run.measurements if m.end == at(1) and m.metric is M.MARKOUT_1M_BPS]
    assert [(m.phase, m.note) for m in on_time] == [(MeasurementPhase.INCONCLUSIVE, HOURLY_MARKOUT)]
    empty = CanaryTelemetry.failed_to_read("bucket unreachable")
    broken = CanaryTelemetry(
        empty.fills, empty.orders, empty.latency, empty.pnl, unreadable="bucket unreachable",
        bar_seconds=3600,
    )  # fmt: skip
    errors = judge(canary(12, telemetry=broken), at(3))
    assert errors.phase is RunPhase.ERROR and errors.action is RunAction.HOLD
    assert {m.phase for m in errors.measurements} == {MeasurementPhase.ERROR}
    assert errors.reason.endswith("(telemetry unreadable: bucket unreachable)")


def test_a_not_measurable_metric_keeps_the_run_deterministic_tick_by_tick() -> None:
    tel = telemetry(13)
    hourly = CanaryTelemetry(tel.fills, tel.orders, tel.latency, tel.pnl, bar_seconds=3600)
    tpl = template(minDuration="5h", inconclusiveLimit=50)
    previous = None
    for minutes in [*range(0, 5 * 60, 40), 5 * 60]:
        previous = judge(
            canary(13, telemetry=hourly, template=tpl, previous=previous), at(minutes / 60)
        )
    once = judge(canary(13, telemetry=hourly, template=tpl), at(5))
    assert previous is not None and previous.canonical == once.canonical
    assert previous.digest == once.digest
    coarse = judge(canary(13, telemetry=hourly, template=tpl), at(5))
    fine = judge(canary(13, telemetry=tel, template=tpl), at(5))
    assert coarse.digest == once.digest and fine.digest != coarse.digest


def test_thresholds_fail_measurements_and_the_limit_is_named() -> None:
    tpl = template(metrics=(M.SLIPPAGE_BPS,), minDuration="24h")
    strict = tpl.model_copy(
        update={
            "spec": tpl.spec.model_copy(
                update={
                    "metrics": [
                        tpl.spec.metrics[0].model_copy(
                            update={
                                "thresholds": tpl.spec.metrics[0].thresholds.model_copy(
                                    update={"normal": 0.5}
                                )
                            }
                        )
                    ]
                }
            )
        }
    )
    run = judge(canary(template=strict), at(5))
    assert run.phase is RunPhase.FAILED and not run.halt and run.action is RunAction.ROLLBACK
    assert run.reason == (
        "failed: slippage_bps 3 consecutive failed measurements > consecutiveFailureLimit 2"
    )
    failed = run.measurements[0]
    assert (failed.threshold, failed.condition, failed.regime.value) == (0.5, "max", "normal")
    assert failed.note.endswith("> 0.5 (normal)")


def test_steps_ramp_before_they_promote() -> None:
    tpl = template(steps=[{"allocation": 10_000}, {"allocation": 50_000, "minDuration": "3h"}])
    first = judge(canary(template=tpl, allocation=10_000.0), at(2))
    assert first.phase is RunPhase.PASSED and first.action is RunAction.RAMP
    second = canary(template=tpl, allocation=50_000.0, step=1, started=at(2))
    assert judge(second, at(4.5)).phase is RunPhase.RUNNING  # the step's 3h, not 2h
    last = judge(second, at(5))
    assert last.phase is RunPhase.PASSED and last.action is RunAction.PROMOTE
    assert (last.step, last.steps) == (1, 2)


def test_the_longer_min_duration_of_template_and_stage_applies() -> None:
    assert judge(canary(min_duration="3h"), at(2.5)).phase is RunPhase.RUNNING
    assert judge(canary(min_duration="30m"), at(2)).phase is RunPhase.PASSED


def test_a_previous_run_of_another_canary_is_refused() -> None:
    previous = judge(canary(), at(1.5))
    with pytest.raises(ValueError, match="start a new run"):
        judge(canary(version=8, previous=previous), at(2))
    with pytest.raises(ValueError, match="has no steps"):
        judge(canary(step=1), at(2))
    with pytest.raises(ValueError, match="timezone-aware"):
        judge(canary(), at(2).replace(tzinfo=None))


def test_a_final_run_stays_as_it_was() -> None:
    done = judge(canary(), at(2.1))
    later = judge(canary(previous=done), at(6))
    assert later.measurements == done.measurements and later.phase is RunPhase.PASSED
    assert later.as_of == at(6)


def test_a_quiet_window_is_inconclusive_not_failed() -> None:
    tel = telemetry(12, fills_per_hour=40)
    quiet = tel.fills[tel.fills["ts"] < pd.Timestamp(STARTED + timedelta(hours=1))]
    run = judge(
        canary(12, telemetry=CanaryTelemetry(quiet, tel.orders, tel.latency, tel.pnl),
               template=template(minSamples=5, inconclusiveLimit=3, minDuration="6h")),
        at(6),
    )  # fmt: skip
    assert run.phase is RunPhase.INCONCLUSIVE and run.action is RunAction.HOLD
    assert run.reason.startswith("inconclusive: slippage_bps 4 inconclusive measurements")
    assert not any(m.phase is MeasurementPhase.FAILED for m in run.measurements)
    assert np.isfinite([m.value for m in run.measurements if m.metric is M.DRAWDOWN]).all()


def test_a_window_overlapping_a_volatility_shock_is_judged_thin() -> None:
    hours = pd.date_range(STARTED - timedelta(hours=1), periods=8, freq="h", tz="UTC")
    volatility = np.ones(hours.size)
    volatility[3] = 10.0  # 02:00-03:00, ten times its bucket's volatility (1 in the profile)
    hourly = pd.DataFrame({"volatility": volatility}, index=hours)
    run = judge(canary(hourly=hourly, template=template(minDuration="24h")), at(4.5))
    by_end = {m.end: (m.regime.value, m.shock) for m in run.measurements}
    assert by_end[at(2)] == ("normal", False)  # [01:00, 02:00) ends as the shock begins
    assert by_end[at(2.25)] == ("thin", True)
    assert by_end[at(3.75)] == ("thin", True)
    assert by_end[at(4)] == ("normal", False)  # [03:00, 04:00) is after it
    assert (
        judge(canary(template=template(minDuration="24h")), at(3)).measurements[-1].shock is False
    )


@settings(max_examples=15, deadline=None)
@given(ticks=st.lists(st.integers(0, 6 * 60), min_size=1, max_size=8))
def test_any_sequence_of_ticks_gives_the_run_judging_once_gives(ticks: list[int]) -> None:
    tpl = template(minDuration="5h", minPassed=10)
    previous = None
    for minutes in sorted(ticks):
        previous = judge(canary(2, template=tpl, previous=previous), at(minutes / 60))
    assert previous is not None
    assert previous.canonical == judge(canary(2, template=tpl), at(max(ticks) / 60)).canonical
