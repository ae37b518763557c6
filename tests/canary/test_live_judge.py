"""Live guardrails: the judge with ``live`` set applies only the template's ``haltOn``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from canary_builders import at, canary, telemetry
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
from stratops.canary.limits import guard
from stratops.canary.run import LIVE_FORMAT, RUN_FORMAT
from stratops.controller.analyses import AnalysisStore
from stratops.model.analysis import AnalysisTemplate, CanaryMetric

M = CanaryMetric
HALT_ON = [{"metric": "drawdown", "above": 0.05}, {"metric": "reject_rate", "above": 0.5}]


def strict() -> AnalysisTemplate:
    """A template whose slippage rule fails every window (a canary fails), and haltOn."""
    never = dict.fromkeys(("peak", "normal", "thin"), -1e9)
    spec = {
        "interval": "15m",
        "window": "1h",
        "minSamples": 1,
        "minDuration": "1h",
        "minPassed": 1,
        "metrics": [{"metric": "slippage_bps", "condition": "max", "thresholds": never}],
        "haltOn": HALT_ON,
    }
    return AnalysisTemplate.model_validate(
        {"kind": "AnalysisTemplate", "metadata": {"name": "test-canary"}, "spec": spec}
    )


def crashed(seed: int, start: float, end: float) -> CanaryTelemetry:
    """Random telemetry whose PnL loses 12 % of the allocation between ``start`` and ``end``."""
    tel = telemetry(seed)
    pnl = tel.pnl.copy()
    during = (pnl["ts"] >= pd.Timestamp(at(start))) & (pnl["ts"] < pd.Timestamp(at(end)))
    pnl.loc[during, "net"] = -1_000.0
    return CanaryTelemetry(tel.fills, tel.orders, tel.latency, pnl)


def test_only_halt_on_is_measured_and_no_verdict_is_reached() -> None:
    tpl = strict()
    as_canary = judge(canary(3, template=tpl), at(5))
    assert as_canary.phase is RunPhase.FAILED  # the slippage rule fails every window
    run = judge(canary(3, template=tpl, live=True), at(5))
    assert run.live and run.format == LIVE_FORMAT and not as_canary.live
    assert as_canary.format == RUN_FORMAT
    assert run.phase is RunPhase.RUNNING and run.action is RunAction.CONTINUE  # never passed
    assert {m.metric for m in run.measurements} == {M.DRAWDOWN, M.REJECT_RATE}
    assert {m.end for m in run.measurements} == {at(5)}  # the latest window only
    assert all(m.threshold is None and m.condition is None for m in run.measurements)
    assert {m.phase for m in run.measurements} == {MeasurementPhase.PASSED}
    assert run.reason == f"running: live, within every haltOn bound, up to {at(5).isoformat()}"
    assert run.min_duration_seconds == 0


def test_a_breach_fails_at_its_window_and_asks_for_a_halt() -> None:
    run = judge(canary(6, template=strict(), telemetry=crashed(6, 2.5, 2.6), live=True), at(5))
    assert run.phase is RunPhase.FAILED and run.halt and run.action is RunAction.HALT
    assert run.decided_at == at(2.75)
    assert run.reason.startswith("failed: haltOn drawdown 0.1") and run.reason.endswith("> 0.05")
    assert {m.end for m in run.measurements} == {at(2.75)}  # the breach's window is the report
    again = judge(canary(6, template=strict(), telemetry=crashed(6, 2.5, 2.6), live=True), at(5))
    assert again.digest == run.digest  # same inputs, same bytes
    back = AnalysisRun.from_storage(json.loads(json.dumps(run.to_storage())))
    assert back.live and back.digest == run.digest
    final = judge(canary(6, template=strict(), live=True, previous=run), at(6))
    assert final == run.model_copy(update={"as_of": at(6)})  # a final run measures nothing more


def test_tick_by_tick_equals_at_once() -> None:
    tel = crashed(2, 4.2, 4.3)
    previous = None
    for minutes in [*range(0, 6 * 60, 11), 359]:
        previous = judge(
            canary(2, template=strict(), telemetry=tel, live=True, previous=previous),
            at(minutes / 60),
        )
    once = judge(canary(2, template=strict(), telemetry=tel, live=True), at(359 / 60))
    assert previous is not None and previous.canonical == once.canonical
    assert once.phase is RunPhase.FAILED and once.decided_at is not None
    assert at(4.2) < once.decided_at <= at(4.5)  # a window holding (part of) the crash


def test_unreadable_telemetry_never_halts_live() -> None:
    broken = CanaryTelemetry.failed_to_read("bucket unreachable")
    run = judge(canary(template=strict(), telemetry=broken, live=True), at(12))
    assert run.phase is RunPhase.RUNNING and run.action is RunAction.CONTINUE
    assert {m.phase for m in run.measurements} == {MeasurementPhase.ERROR}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(MeasurementPhase)), st.booleans()), max_size=30))
def test_guard_fails_exactly_at_the_first_halt(
    sequence: list[tuple[MeasurementPhase, bool]],
) -> None:
    base = judge(canary(3, template=strict(), live=True), at(1)).measurements[0]
    measurements = [
        base.model_copy(
            update={
                "phase": phase,
                "halt": halt and phase is MeasurementPhase.FAILED,
                "end": at(1 + k / 4),
                "note": f"#{k}",
            }
        )
        for k, (phase, halt) in enumerate(sequence)
    ]
    first = next((m for m in measurements if m.halt), None)
    assessment = guard(measurements)
    if first is None:
        assert assessment.phase is RunPhase.RUNNING and not assessment.halt
    else:
        assert assessment.phase is RunPhase.FAILED and assessment.halt
        assert assessment.decided_at == first.end and assessment.reason.endswith(first.note)


def test_live_runs_are_stored_apart_from_the_canary_runs(tmp_path: Path) -> None:
    store = AnalysisStore(tmp_path)
    passed = judge(canary(), at(2.1))
    assert passed.phase is RunPhase.PASSED
    live = judge(canary(template=strict(), live=True), at(3))  # the same version, live
    store.save(passed)
    store.save(live)
    assert store.load("btc-trend", 7) == passed and store.load_live("btc-trend", 7) == live
    assert store.runs() == [passed]  # what `stratops canary status` lists
    assert store.passed_template("btc-trend", 7) == "test-canary"  # live's default template
    assert store.passed_template("btc-trend", 8) is None
