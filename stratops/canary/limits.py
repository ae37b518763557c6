"""The limit rules: a run's phase from its measurements and its template, and what to do.

Counts are per metric (as Argo Rollouts counts per metric), every limit is *exceeded*, never
reached (``failureLimit: 3`` tolerates three failed measurements and fails on the fourth), and
measurements are taken in time order: the first window at which a limit is exceeded decides,
and the phase is final from then on. At one window, in this order:

1. **failed, halt**: a ``haltOn`` condition tripped on a measurement of the window;
2. **failed**: a metric's failed measurements exceed ``failureLimit``, or its consecutive
   failed measurements exceed ``consecutiveFailureLimit``;
3. **error**: a metric's consecutive errors exceed ``consecutiveErrorLimit`` (a telemetry
   outage; the canary is held, never rolled back);
4. **inconclusive**: a metric's inconclusive measurements exceed ``inconclusiveLimit``.

The reason of an error or inconclusive run ends with the note of the deciding measurement, in
parentheses: what the telemetry lacked, or why the metric could not be judged.

With no limit exceeded the run is **passed** at the first window that ends at least
``minDuration`` after ``started`` while every metric has at least ``minPassed`` passing
measurements; until then it is **running**. A canary that stops early is therefore never passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from stratops.canary.run import Measurement, MeasurementPhase, RunAction, RunPhase
from stratops.model.analysis import AnalysisTemplateSpec, CanaryMetric
from stratops.model.base import duration_seconds, human_duration


@dataclass(frozen=True)
class Assessment:
    """The phase of a run, the reason naming the limit, and when it became final."""

    phase: RunPhase
    reason: str
    halt: bool = False
    decided_at: datetime | None = None


@dataclass
class MetricCounts:
    failed: int = 0
    consecutive_failed: int = 0
    consecutive_errors: int = 0
    inconclusive: int = 0
    passed: int = 0
    seen: int = 0

    def add(self, phase: MeasurementPhase) -> None:
        self.seen += 1
        self.failed += phase is MeasurementPhase.FAILED
        self.inconclusive += phase is MeasurementPhase.INCONCLUSIVE
        self.passed += phase is MeasurementPhase.PASSED
        failed, error = phase is MeasurementPhase.FAILED, phase is MeasurementPhase.ERROR
        self.consecutive_failed = self.consecutive_failed + 1 if failed else 0
        self.consecutive_errors = self.consecutive_errors + 1 if error else 0


def count(measurements: Sequence[Measurement]) -> dict[CanaryMetric, MetricCounts]:
    """Per metric, in order of first appearance, the counts the limit rules keep."""
    counts: dict[CanaryMetric, MetricCounts] = {}
    for m in measurements:
        counts.setdefault(m.metric, MetricCounts()).add(m.phase)
    return counts


@dataclass
class _Tally:
    spec: AnalysisTemplateSpec
    counts: dict[CanaryMetric, MetricCounts] = field(default_factory=dict)

    def tripped(self, window: Sequence[Measurement]) -> tuple[RunPhase, str, bool] | None:
        for m in window:
            self.counts.setdefault(m.metric, MetricCounts()).add(m.phase)
        spec = self.spec
        for m in window:
            if m.halt:
                return RunPhase.FAILED, halt_reason(m), True
        for metric, c in self.counts.items():
            if c.failed > spec.failure_limit:
                return (
                    RunPhase.FAILED,
                    f"failed: {metric.value} {c.failed} failed measurements > failureLimit "
                    f"{spec.failure_limit}",
                    False,
                )
            if c.consecutive_failed > spec.consecutive_failure_limit:
                return (
                    RunPhase.FAILED,
                    f"failed: {metric.value} {c.consecutive_failed} consecutive failed "
                    f"measurements > consecutiveFailureLimit {spec.consecutive_failure_limit}",
                    False,
                )
        for metric, c in self.counts.items():
            if c.consecutive_errors > spec.consecutive_error_limit:
                return (
                    RunPhase.ERROR,
                    f"error: {metric.value} {c.consecutive_errors} consecutive errors > "
                    f"consecutiveErrorLimit {spec.consecutive_error_limit}{_why(window, metric)}",
                    False,
                )
        for metric, c in self.counts.items():
            if c.inconclusive > spec.inconclusive_limit:
                return (
                    RunPhase.INCONCLUSIVE,
                    f"inconclusive: {metric.value} {c.inconclusive} inconclusive measurements "
                    f"> inconclusiveLimit {spec.inconclusive_limit}{_why(window, metric)}",
                    False,
                )
        return None

    def fewest_passes(self, metrics: Sequence[CanaryMetric]) -> tuple[int, CanaryMetric]:
        """The metric with the fewest passing measurements (the first of equals), and them."""
        passes = [(self.counts[m].passed if m in self.counts else 0, m) for m in metrics]
        return min(passes, key=lambda item: item[0])


def _why(window: Sequence[Measurement], metric: CanaryMetric) -> str:
    """`` (note)`` of ``metric``'s measurement in the deciding window: why it was not judged."""
    notes = [m.note for m in window if m.metric is metric and m.note]
    return f" ({notes[0]})" if notes else ""


def halt_reason(m: Measurement) -> str:
    """The reason of a run that a tripped ``haltOn`` measurement failed."""
    return f"failed: haltOn {m.metric.value} {m.note}"


def halt_metrics(spec: AnalysisTemplateSpec) -> tuple[CanaryMetric, ...]:
    """The metrics live guardrails measure: those ``haltOn`` names, in order."""
    return tuple(dict.fromkeys(h.metric for h in spec.halt_on))


def guard(measurements: Sequence[Measurement]) -> Assessment:
    """The phase of a live deployment's guardrails: only ``haltOn`` applies.

    **failed, halt** at the first window (in time order) with a tripped ``haltOn``
    measurement; **running** otherwise, whatever else the measurements say: live has no
    verdict to reach, no failure counts, and an error or a quiet window halts nothing.
    """
    for end, window in groupby(measurements, key=lambda m: m.end):
        tripped = next((m for m in window if m.halt), None)
        if tripped is not None:
            return Assessment(RunPhase.FAILED, halt_reason(tripped), True, end)
    until = (
        "no window measured yet"
        if not measurements
        else f"up to {measurements[-1].end.isoformat()}"
    )
    return Assessment(RunPhase.RUNNING, f"running: live, within every haltOn bound, {until}")


def measured_metrics(spec: AnalysisTemplateSpec) -> tuple[CanaryMetric, ...]:
    """The metrics a run measures: the template's rules, then haltOn-only metrics, in order."""
    named = [rule.metric for rule in spec.metrics] + [h.metric for h in spec.halt_on]
    return tuple(dict.fromkeys(named))


def assess(
    measurements: Sequence[Measurement],
    spec: AnalysisTemplateSpec,
    started: datetime,
    min_duration_seconds: float,
) -> Assessment:
    """The phase of a run whose measurements (in time order) are ``measurements``.

    See the module docstring for the rules.
    """
    tally = _Tally(spec)
    metrics = measured_metrics(spec)
    covered = 0.0
    for end, window in groupby(measurements, key=lambda m: m.end):
        tripped = tally.tripped(list(window))
        if tripped is not None:
            phase, reason, halt = tripped
            return Assessment(phase, reason, halt, end)
        covered = (end - started).total_seconds()
        fewest, metric = tally.fewest_passes(metrics)
        if covered >= min_duration_seconds and fewest >= spec.min_passed:
            return Assessment(
                RunPhase.PASSED,
                f"passed: {human_duration(covered)} analysed >= minDuration "
                f"{human_duration(min_duration_seconds)} and every metric has >= "
                f"{spec.min_passed} passing measurements (fewest: {metric.value} {fewest})",
                decided_at=end,
            )
    fewest, metric = tally.fewest_passes(metrics)
    return Assessment(
        RunPhase.RUNNING,
        f"running: {human_duration(covered)} of minDuration "
        f"{human_duration(min_duration_seconds)} analysed; {metric.value} has {fewest} of "
        f"minPassed {spec.min_passed} passing measurements",
    )


def action(
    assessment: Assessment,
    spec: AnalysisTemplateSpec,
    as_of: datetime,
    step: int = 0,
) -> RunAction:
    """What the controller does at ``as_of`` with a run in ``assessment``.

    Inconclusive holds the canary (no new risk) until ``inconclusiveDeadline`` after the run
    became inconclusive, then applies ``onInconclusive``. Error always holds.
    """
    phase = assessment.phase
    if phase is RunPhase.RUNNING:
        return RunAction.CONTINUE
    if phase is RunPhase.PASSED:
        return RunAction.RAMP if step + 1 < len(spec.steps) else RunAction.PROMOTE
    if phase is RunPhase.FAILED:
        return RunAction.HALT if assessment.halt else RunAction.ROLLBACK
    if phase is RunPhase.ERROR or assessment.decided_at is None:
        return RunAction.HOLD
    deadline = assessment.decided_at + timedelta(
        seconds=duration_seconds(spec.inconclusive_deadline)
    )
    if as_of >= deadline and spec.on_inconclusive == "rollback":
        return RunAction.ROLLBACK
    return RunAction.HOLD
