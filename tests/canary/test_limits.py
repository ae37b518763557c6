"""The limit rules of a canary analysis, against an independent reference written here.

The reference reads the rules off the issue text: a metric's measurement phases are a string
(``P`` passed, ``F`` failed, ``E`` error, ``I`` inconclusive; ``H`` a failed measurement that
tripped ``haltOn``), and a prefix of the run trips a limit when the string of a metric has more
``F``/``H`` than ``failureLimit``, a run of more than ``consecutiveFailureLimit`` of them, a run
of more than ``consecutiveErrorLimit`` ``E`` or more than ``inconclusiveLimit`` ``I``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.canary.limits import action, assess
from stratops.canary.run import Measurement, MeasurementPhase, RunAction, RunPhase
from stratops.model.analysis import AnalysisTemplateSpec, CanaryMetric, Regime

STARTED = datetime(2024, 8, 4, 0, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=5)
WINDOW = timedelta(hours=1)
METRICS = (CanaryMetric.SLIPPAGE_BPS, CanaryMetric.FILL_RATIO)
CODE = {
    "P": MeasurementPhase.PASSED,
    "F": MeasurementPhase.FAILED,
    "H": MeasurementPhase.FAILED,
    "E": MeasurementPhase.ERROR,
    "I": MeasurementPhase.INCONCLUSIVE,
}


def spec(**limits: object) -> AnalysisTemplateSpec:
    rules = [
        {"metric": m.value, "condition": "max", "thresholds": {"peak": 1, "normal": 1, "thin": 1}}
        for m in METRICS
    ]
    return AnalysisTemplateSpec.model_validate({"metrics": rules, **limits})


def end_of(k: int) -> datetime:
    return STARTED + WINDOW + k * INTERVAL


def measurements(rows: list[str]) -> list[Measurement]:
    """``rows[k][j]`` is the phase code of metric ``j`` at interval ``k``."""
    return [
        Measurement(
            metric=metric,
            start=end_of(k) - WINDOW,
            end=end_of(k),
            value=1.0,
            samples=50,
            regime=Regime.NORMAL,
            condition="max",
            threshold=1.0,
            phase=CODE[row[j]],
            halt=row[j] == "H",
            note="1 > 0.5" if row[j] == "H" else "",
            telemetry_digest="0" * 64,
        )
        for k, row in enumerate(rows)
        for j, metric in enumerate(METRICS)
    ]


def reference(
    rows: list[str],
    limits: dict[str, int],
    min_duration: timedelta,
) -> tuple[RunPhase, bool, int | None]:
    """(phase, halt, index of the deciding interval) by the rules, read off strings."""
    for k in range(len(rows)):
        seen = ["".join(row[j] for row in rows[: k + 1]) for j in range(len(METRICS))]
        if "H" in rows[k]:
            return RunPhase.FAILED, True, k
        for s in seen:
            failures = s.replace("H", "F")
            if failures.count("F") > limits["failureLimit"]:
                return RunPhase.FAILED, False, k
            if "F" * (limits["consecutiveFailureLimit"] + 1) in failures:
                return RunPhase.FAILED, False, k
        if any("E" * (limits["consecutiveErrorLimit"] + 1) in s for s in seen):
            return RunPhase.ERROR, False, k
        if any(s.count("I") > limits["inconclusiveLimit"] for s in seen):
            return RunPhase.INCONCLUSIVE, False, k
        long_enough = end_of(k) - STARTED >= min_duration
        if long_enough and min(s.count("P") for s in seen) >= limits["minPassed"]:
            return RunPhase.PASSED, False, k
    return RunPhase.RUNNING, False, None


LIMITS = st.fixed_dictionaries(
    {
        "failureLimit": st.integers(0, 5),
        "consecutiveFailureLimit": st.integers(0, 4),
        "consecutiveErrorLimit": st.integers(0, 5),
        "inconclusiveLimit": st.integers(0, 5),
        "minPassed": st.integers(1, 6),
    }
)
ROWS = st.lists(st.text(alphabet="PPPPFEIH", min_size=2, max_size=2), max_size=30)


@settings(max_examples=400, deadline=None)
@given(rows=ROWS, limits=LIMITS, minutes=st.integers(0, 240))
def test_any_sequence_of_phases_gives_the_phase_the_rules_say(
    rows: list[str], limits: dict[str, int], minutes: int
) -> None:
    min_duration = timedelta(minutes=minutes)
    got = assess(
        measurements(rows), spec(**limits), STARTED, min_duration.total_seconds()
    )  # fmt: skip
    phase, halt, decided = reference(rows, limits, min_duration)
    assert (got.phase, got.halt) == (phase, halt)
    assert got.decided_at == (None if decided is None else end_of(decided))


@settings(max_examples=200, deadline=None)
@given(rows=ROWS, limits=LIMITS)
def test_ending_early_is_never_a_pass(rows: list[str], limits: dict[str, int]) -> None:
    """However good the measurements, a run shorter than minDuration does not pass."""
    covered = end_of(len(rows) - 1) - STARTED if rows else timedelta(0)
    got = assess(
        measurements(rows), spec(**limits), STARTED, (covered + INTERVAL).total_seconds()
    )  # fmt: skip
    assert got.phase is not RunPhase.PASSED


@settings(max_examples=200, deadline=None)
@given(rows=ROWS, limits=LIMITS, hours=st.integers(0, 48))
def test_an_error_holds_and_never_rolls_back(
    rows: list[str], limits: dict[str, int], hours: int
) -> None:
    template = spec(**limits, onInconclusive="rollback")
    got = assess(measurements(rows), template, STARTED, 0.0)
    later = end_of(len(rows)) + timedelta(hours=hours)
    decided = action(got, template, later)
    if got.phase is RunPhase.ERROR:
        assert decided is RunAction.HOLD
    if decided is RunAction.ROLLBACK:
        assert got.phase in (RunPhase.FAILED, RunPhase.INCONCLUSIVE)


@pytest.mark.parametrize(
    ("column", "limit", "phase", "reason"),
    [
        ("FPFPFP", "failureLimit", RunPhase.RUNNING, None),
        ("FPFPFPF", "failureLimit", RunPhase.FAILED, "4 failed measurements > failureLimit 3"),
        ("PFFPP", "consecutiveFailureLimit", RunPhase.RUNNING, None),
        (
            "PFFF",
            "consecutiveFailureLimit",
            RunPhase.FAILED,
            "3 consecutive failed measurements > consecutiveFailureLimit 2",
        ),
        ("EEEEPEEEE", "consecutiveErrorLimit", RunPhase.RUNNING, None),
        ("EEEEE", "consecutiveErrorLimit", RunPhase.ERROR, "5 consecutive errors > "),
        ("IIIIIPP", "inconclusiveLimit", RunPhase.RUNNING, None),
        (
            "IIIIIII",
            "inconclusiveLimit",
            RunPhase.INCONCLUSIVE,
            "6 inconclusive measurements > inconclusiveLimit 5",
        ),
    ],
)
def test_limits_are_exceeded_not_reached(
    column: str, limit: str, phase: RunPhase, reason: str | None
) -> None:
    """Defaults: failureLimit 3, consecutiveFailureLimit 2, consecutiveErrorLimit 4,
    inconclusiveLimit 5; one metric carries the sequence, the other passes."""
    rows = [code + "P" for code in column]
    got = assess(measurements(rows), spec(minPassed=50), STARTED, 0.0)
    assert got.phase is phase
    if reason is not None:
        assert got.reason.startswith(f"{phase.value}: slippage_bps {reason}")
        assert limit in got.reason


def test_a_halt_fails_at_once_and_names_the_condition() -> None:
    got = assess(measurements(["PP", "HP", "PP"]), spec(), STARTED, 0.0)
    assert (got.phase, got.halt, got.decided_at) == (RunPhase.FAILED, True, end_of(1))
    assert got.reason == "failed: haltOn slippage_bps 1 > 0.5"
    assert action(got, spec(), end_of(1)) is RunAction.HALT


def test_passed_needs_min_duration_and_min_passed_of_every_metric() -> None:
    rows = ["PP"] * 13  # the last window ends 1 h + 12 * 5 m = 2 h after the start
    two_hours = timedelta(hours=2).total_seconds()
    passed = assess(measurements(rows), spec(minPassed=13), STARTED, two_hours)
    assert passed.phase is RunPhase.PASSED
    assert "fewest: slippage_bps 13" in passed.reason
    assert assess(measurements(rows), spec(minPassed=14), STARTED, 0.0).phase is RunPhase.RUNNING
    later = assess(measurements(rows), spec(), STARTED, two_hours + 1)
    assert later.phase is RunPhase.RUNNING
    assert later.reason.startswith("running: 2h of minDuration 2h 1s analysed;")
    one_metric_short = assess(measurements(["PP"] * 12 + ["PI"]), spec(minPassed=13), STARTED, 0)
    assert one_metric_short.phase is RunPhase.RUNNING
    assert "fill_ratio has 12 of minPassed 13" in one_metric_short.reason


def test_a_failure_is_judged_before_an_error_and_an_error_before_inconclusive() -> None:
    limits = {"failureLimit": 0, "consecutiveErrorLimit": 0, "inconclusiveLimit": 0}
    assert assess(measurements(["FE"]), spec(**limits), STARTED, 0).phase is RunPhase.FAILED
    assert assess(measurements(["IE"]), spec(**limits), STARTED, 0).phase is RunPhase.ERROR


@pytest.mark.parametrize(
    ("on_inconclusive", "after", "expected"),
    [
        ("hold", timedelta(hours=30), RunAction.HOLD),
        ("rollback", timedelta(hours=23, minutes=59), RunAction.HOLD),
        ("rollback", timedelta(hours=24), RunAction.ROLLBACK),
    ],
)
def test_inconclusive_holds_until_its_deadline_then_applies_on_inconclusive(
    on_inconclusive: str, after: timedelta, expected: RunAction
) -> None:
    template = spec(inconclusiveLimit=0, inconclusiveDeadline="24h", onInconclusive=on_inconclusive)
    got = assess(measurements(["PI"]), template, STARTED, 0.0)
    assert got.phase is RunPhase.INCONCLUSIVE
    assert re.match(r"inconclusive: fill_ratio 1 inconclusive measurements > inconc", got.reason)
    assert action(got, template, end_of(0) + after) is expected
