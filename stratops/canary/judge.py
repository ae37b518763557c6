"""The judge: canaries, their telemetry and the clock in; one :class:`AnalysisRun` each out.

Schedule
    Measurement ``k`` (``k = 0, 1, ...``) of a canary covers the trailing window
    ``[t_k - window, t_k)`` with ``t_k = started + window + k * interval``: the first once a full
    window has run, then one every interval. Every metric of the template (its rules, then
    the metrics only ``haltOn`` names) is measured at each ``t_k``.
When a measurement is taken
    Once ``now >= t_k`` and the telemetry is complete up to ``t_k``. If it is still incomplete
    an interval later (``now >= t_k + interval``), the measurement is taken anyway, as an
    *error*: a telemetry outage is an error, never a failure. Measurements are taken in order.
Phase of a measurement
    *error* when the telemetry is unreadable or incomplete for the window; else *inconclusive*
    when the metric is not measurable on the deployment's bars (its horizon, as the 1-minute
    markout's, is shorter than a bar: complete telemetry, coarser than the metric); else
    *error* when a column the metric needs is missing, or (``pnl_vs_backtest``) no replay was
    given; else *inconclusive* with fewer than ``minSamples`` samples (the fill, order and
    latency metrics; ``drawdown`` and ``pnl_vs_backtest`` need one bar) or when the value
    cannot be computed; else *failed* (with ``halt``) when a ``haltOn`` bound is crossed,
    *failed* when the threshold of the window's regime is, *passed* otherwise. The regime is
    the profile's at the window's midpoint (:func:`stratops.analytics.regimes.classify`), or
    *thin* when the window overlaps a volatility shock (in a crash the book thins, whatever
    the hour).
Phase of the run
    :func:`stratops.canary.limits.assess`; once final, no measurement is added.

Live guardrails
    A canary with ``live`` set is a live deployment: only the template's ``haltOn`` metrics are
    measured (no regime threshold), on the same schedule, and the run is
    :func:`stratops.canary.limits.guard`'s (running until a ``haltOn`` trips, then failed
    with ``halt``); it keeps only its latest window's measurements.

Incremental: pass the run the last tick returned as ``previous`` and only the new windows are
measured; the result equals judging the whole history at once. Many canaries are judged in one
call (:func:`judge_all`): their tables are concatenated and every metric is computed for every
window in a few vectorised passes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from stratops.analytics.regimes import classify, shocked
from stratops.canary.inputs import Canary, CanaryTelemetry, empty_table
from stratops.canary.limits import (
    Assessment,
    action,
    assess,
    guard,
    halt_metrics,
    measured_metrics,
)
from stratops.canary.metrics import (
    HORIZON_SECONDS,
    NEEDS,
    Bars,
    Stream,
    Values,
    Windows,
    fill_metrics,
    latency_metric,
    order_metrics,
    pnl_metrics,
)
from stratops.canary.run import (
    LIVE_FORMAT,
    RUN_FORMAT,
    AnalysisRun,
    Measurement,
    MeasurementPhase,
    RunAction,
    RunPhase,
    template_digest,
)
from stratops.model.analysis import (
    AnalysisTemplateSpec,
    CanaryMetric,
    HaltCondition,
    MetricRule,
    Regime,
)
from stratops.model.base import duration_seconds, human_duration

NS = 10**9
_BAR_METRICS = frozenset({CanaryMetric.DRAWDOWN, CanaryMetric.PNL_VS_BACKTEST})
_TABLES = ("fills", "orders", "latency", "pnl")
Verdict = tuple[MeasurementPhase, str]
"""A phase decided before the value is looked at, and its note."""


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()}: give a timezone-aware time (UTC)")
    return int(pd.Timestamp(moment).tz_convert("UTC").value)


def _time(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def min_duration_seconds(canary: Canary) -> float:
    """The minimum duration the run needs: the longest of template, step and stage (none
    live: live guardrails have no verdict to wait for)."""
    if canary.live:
        return 0.0
    spec = canary.template.spec
    given = [spec.min_duration, canary.min_duration]
    if spec.steps:
        given.append(spec.steps[canary.step].min_duration)
    return max(duration_seconds(d) for d in given if d is not None)


def _check(canary: Canary, digest: str) -> None:
    spec = canary.template.spec
    if spec.steps and not 0 <= canary.step < len(spec.steps):
        raise ValueError(
            f"step {canary.step} of template {canary.template.name!r}, which has "
            f"{len(spec.steps)} steps (0 to {len(spec.steps) - 1})"
        )
    if not spec.steps and canary.step != 0:
        raise ValueError(f"template {canary.template.name!r} has no steps; step must be 0")
    if not canary.allocation > 0:
        raise ValueError(f"allocation must be > 0, got {canary.allocation}")
    previous = canary.previous
    if previous is None:
        return
    mine = (canary.strategy, canary.version, digest, canary.step, canary.live)
    theirs = (
        previous.strategy,
        previous.version,
        previous.template_digest,
        previous.step,
        previous.live,
    )
    if mine != theirs or previous.started != canary.started:
        raise ValueError(
            f"previous run is of {previous.strategy} v{previous.version} step {previous.step}, "
            f"template {previous.template_digest[:12]}, started {previous.started.isoformat()}; "
            f"this canary is {canary.strategy} v{canary.version} step {canary.step}, template "
            f"{mine[2][:12]}, started {canary.started.isoformat()}: start a new run (previous=None)"
        )


@dataclass(frozen=True)
class _Due:
    """The windows of one canary to measure at this tick."""

    ends: np.ndarray
    window_ns: int


def _due(canary: Canary, now_ns: int) -> _Due:
    spec = canary.template.spec
    interval = int(duration_seconds(spec.interval) * NS)
    window = int(duration_seconds(spec.window) * NS)
    first = _ns(canary.started) + window
    previous = canary.previous
    if previous is not None and previous.phase.final:
        return _Due(np.zeros(0, dtype=np.int64), window)
    done = previous.measured_until() if previous is not None else None
    k0 = 0 if done is None else (_ns(done) - first) // interval + 1
    if now_ns < first + k0 * interval:
        return _Due(np.zeros(0, dtype=np.int64), window)
    ends = first + interval * np.arange(k0, (now_ns - first) // interval + 1, dtype=np.int64)
    telemetry = canary.telemetry
    complete = now_ns if telemetry.complete_until is None else _ns(telemetry.complete_until)
    ready = (ends <= complete) | (now_ns >= ends + interval) | (telemetry.unreadable is not None)
    waiting = np.flatnonzero(~ready)
    return _Due(ends[: waiting[0]] if waiting.size else ends, window)


def _regimes(
    canaries: Sequence[Canary], index: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[list[Regime], np.ndarray]:
    """Regime of each window, and whether a volatility shock made it thin.

    The liquidity regime is the profile's at the window's midpoint; a window overlapping an
    hour that :func:`~stratops.analytics.regimes.classify` calls a *shock* (the canary's
    ``hourly`` measures given; :func:`~stratops.analytics.regimes.shocked`) is judged as thin
    whatever its hour. One ``classify`` per distinct (profile, rules, hourly).
    """
    out: list[Regime] = [Regime.NORMAL] * index.size
    shock = np.zeros(index.size, dtype=bool)
    groups: dict[tuple[int, int, int], list[int]] = {}
    for row, c in enumerate(index.tolist()):
        key = (id(canaries[c].profile), id(canaries[c].rules), id(canaries[c].hourly))
        groups.setdefault(key, []).append(row)
    for rows in groups.values():
        canary = canaries[int(index[rows[0]])]
        mids = starts[rows] + (ends[rows] - starts[rows]) // 2
        labels = classify(canary.profile, mids, rules=canary.rules)["regime"].tolist()
        window = (starts[rows], ends[rows])
        shock[rows] = shocked(canary.profile, canary.hourly, *window, canary.rules)
        for row, label in zip(rows, labels, strict=True):
            out[row] = Regime.THIN if shock[row] else Regime(label)
    return out, shock


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _measurement_phase(
    metric: CanaryMetric,
    value: float,
    samples: int,
    spec: AnalysisTemplateSpec,
    rule: MetricRule | None,
    halts: Sequence[HaltCondition],
    regime: Regime,
    verdict: Verdict | None,
) -> tuple[MeasurementPhase, float | None, bool, str]:
    """Phase, threshold, halt flag and note of one measurement."""
    threshold = None if rule is None else rule.thresholds.for_regime(regime)
    if verdict is not None:
        return verdict[0], threshold, False, verdict[1]
    need = 1 if metric in _BAR_METRICS else spec.min_samples
    if samples < need:
        note = (
            "no PnL bar in the window"
            if metric in _BAR_METRICS
            else f"{samples} samples < minSamples {need}"
        )
        return MeasurementPhase.INCONCLUSIVE, threshold, False, note
    if value != value:
        return MeasurementPhase.INCONCLUSIVE, threshold, False, "not computable (NaN)"
    for halt in halts:
        if halt.above is not None and value > halt.above:
            return MeasurementPhase.FAILED, threshold, True, f"{_fmt(value)} > {_fmt(halt.above)}"
        if halt.below is not None and value < halt.below:
            return MeasurementPhase.FAILED, threshold, True, f"{_fmt(value)} < {_fmt(halt.below)}"
    if rule is None or threshold is None:
        return MeasurementPhase.PASSED, None, False, "within haltOn bounds"
    ok = value <= threshold if rule.condition == "max" else value >= threshold
    sign = ("<=" if ok else ">") if rule.condition == "max" else (">=" if ok else "<")
    phase = MeasurementPhase.PASSED if ok else MeasurementPhase.FAILED
    return phase, threshold, False, f"{_fmt(value)} {sign} {_fmt(threshold)} ({regime.value})"


def unmeasurable(metric: CanaryMetric, bar_seconds: float | None) -> str | None:
    """Why ``metric`` cannot be measured on bars of ``bar_seconds``; None if it can (or the bar
    is unknown). A metric looking ``h`` seconds past a fill needs bars of at most ``h``."""
    horizon = HORIZON_SECONDS.get(metric)
    if horizon is None or bar_seconds is None or bar_seconds <= horizon:
        return None
    return (
        f"{metric.value} not measurable on {human_duration(bar_seconds)} bars: its "
        f"{human_duration(horizon)} horizon is shorter than a bar"
    )


def _metrics(canary: Canary) -> tuple[CanaryMetric, ...]:
    """What the canary's run measures: live, only the ``haltOn`` metrics."""
    spec = canary.template.spec
    return halt_metrics(spec) if canary.live else measured_metrics(spec)


def _problems(canary: Canary, missing: dict[str, list[str]]) -> dict[CanaryMetric, Verdict | None]:
    """What decides each metric of the canary in every window before its value (None: nothing):
    an error (unreadable telemetry, a missing column, no replay) or, on bars coarser than the
    metric, inconclusive."""
    telemetry = canary.telemetry
    error = MeasurementPhase.ERROR
    out: dict[CanaryMetric, Verdict | None] = {}
    for metric in _metrics(canary):
        table, needs = NEEDS[metric]
        absent = [c for c in needs if c in missing.get(table, [])]
        coarse = unmeasurable(metric, telemetry.bar_seconds)
        if telemetry.unreadable is not None:
            out[metric] = (error, f"telemetry unreadable: {telemetry.unreadable}")
        elif coarse is not None:
            out[metric] = (MeasurementPhase.INCONCLUSIVE, coarse)
        elif absent:
            out[metric] = (
                error,
                f"telemetry incomplete: {table} has no column {', '.join(absent)}",
            )
        elif metric is CanaryMetric.PNL_VS_BACKTEST and canary.replay is None:
            why = "" if canary.unreplayed is None else f": {canary.unreplayed}"
            out[metric] = (error, f"no replay of the version over the window to compare with{why}")
        else:
            out[metric] = None
    return out


def _incomplete(canary: Canary, end_ns: int) -> str | None:
    """Why the window's telemetry is incomplete, None if it is not."""
    until = canary.telemetry.complete_until
    if until is None or end_ns <= _ns(until):
        return None
    return (
        f"telemetry incomplete: complete until {until.isoformat()}, window ends "
        f"{_time(end_ns).isoformat()}"
    )


def _missing(stream: Stream, canary: int) -> list[str]:
    return [name for j, name in enumerate(stream.names) if not stream.present[canary, j]]


def _measure(
    canaries: Sequence[Canary], windows: Windows
) -> tuple[dict[CanaryMetric, Values], list[str], list[dict[str, list[str]]]]:
    """Every metric of every window, the windows' digests and each canary's missing columns."""
    telemetry: list[CanaryTelemetry] = [c.telemetry for c in canaries]
    streams = {name: Stream.concat(name, [getattr(t, name) for t in telemetry]) for name in _TABLES}
    empty = empty_table()
    replays = Stream.concat("pnl", [c.replay if c.replay is not None else empty for c in canaries])
    origin = int(windows.start.min())
    span = int(windows.end.max()) - origin + 1
    if (span + 2) * max(len(canaries), 1) >= 2**62:
        raise ValueError(
            f"{len(canaries)} canaries with windows over {span / NS / 86400:.0f} days do not "
            "fit one batch: judge fewer canaries at once"
        )
    allocation = np.array([c.allocation for c in canaries], dtype=np.float64)
    fills_lo, fills_hi = streams["fills"].slices(windows, origin, span)
    orders_lo, orders_hi = streams["orders"].slices(windows, origin, span)
    latency_lo, latency_hi = streams["latency"].slices(windows, origin, span)
    values = {
        **fill_metrics(streams["fills"], fills_lo, fills_hi),
        **order_metrics(streams["orders"], orders_lo, orders_hi),
        CanaryMetric.LATENCY_P99_MS: latency_metric(streams["latency"], latency_lo, latency_hi),
        **pnl_metrics(
            Bars.of(streams["pnl"], allocation),
            Bars.of(replays, allocation),
            windows,
            origin,
            span,
        ),
    }
    parts = [
        stream.digests(*stream.slices(windows, origin, span))
        for stream in (*(streams[name] for name in _TABLES), replays)
    ]
    digests = [hashlib.sha256(b"".join(row)).hexdigest() for row in zip(*parts, strict=True)]
    missing = [{name: _missing(streams[name], c) for name in _TABLES} for c in range(len(canaries))]
    return values, digests, missing


def judge_all(canaries: Sequence[Canary], now: datetime) -> list[AnalysisRun]:
    """Judge every canary at ``now`` (the canaries' clock: wall time live, the replay's time
    for a paper canary); one run per canary, in order.

    Raises
    ------
    ValueError
        When a canary's ``previous`` run is of another strategy, version, template, step or
        start, when ``step`` is out of the template's steps, or the allocation is not positive.
    """
    now_ns = _ns(now)
    distinct = {id(c.template): c.template for c in canaries}
    templates = {key: template_digest(t) for key, t in distinct.items()}
    for canary in canaries:
        _check(canary, templates[id(canary.template)])
    dues = [_due(c, now_ns) for c in canaries]
    index = np.repeat(np.arange(len(dues), dtype=np.int64), [d.ends.size for d in dues])
    ends = np.concatenate([d.ends for d in dues] or [np.zeros(0, dtype=np.int64)])
    starts = ends - np.array([dues[i].window_ns for i in index.tolist()], dtype=np.int64)
    new: list[list[Measurement]] = [[] for _ in canaries]
    if ends.size:
        active = sorted(set(index.tolist()))
        position = {c: k for k, c in enumerate(active)}
        subset = [canaries[c] for c in active]
        windows = Windows(np.array([position[c] for c in index.tolist()]), starts, ends)
        values, digests, missing = _measure(subset, windows)
        problems = [_problems(canary, found) for canary, found in zip(subset, missing, strict=True)]
        regimes, shocked = _regimes(subset, windows.canary, starts, ends)
        for row, c in enumerate(index.tolist()):
            new[c] += _window(
                canaries[c],
                row,
                int(starts[row]),
                int(ends[row]),
                regimes[row],
                bool(shocked[row]),
                values,
                digests[row],
                problems[position[c]],
            )
    return [
        _run(canary, measured, now, templates[id(canary.template)])
        for canary, measured in zip(canaries, new, strict=True)
    ]


def _window(
    canary: Canary,
    row: int,
    start_ns: int,
    end_ns: int,
    regime: Regime,
    shock: bool,
    values: dict[CanaryMetric, Values],
    digest: str,
    problems: dict[CanaryMetric, Verdict | None],
) -> list[Measurement]:
    spec = canary.template.spec
    rules = {} if canary.live else {rule.metric: rule for rule in spec.metrics}
    start, end = _time(start_ns), _time(end_ns)
    incomplete = _incomplete(canary, end_ns)
    out = []
    for metric in _metrics(canary):
        value = float(values[metric].value[row])
        samples = int(values[metric].samples[row])
        rule = rules.get(metric)
        halts = [h for h in spec.halt_on if h.metric is metric]
        verdict = problems[metric]
        if incomplete is not None and (verdict is None or verdict[0] is not MeasurementPhase.ERROR):
            verdict = (MeasurementPhase.ERROR, incomplete)  # truncated telemetry: an error
        phase, threshold, halt, note = _measurement_phase(
            metric, value, samples, spec, rule, halts, regime, verdict
        )
        out.append(
            Measurement(
                metric=metric,
                start=start,
                end=end,
                value=None if value != value else value,
                samples=samples,
                regime=regime,
                shock=shock,
                condition=None if rule is None else rule.condition,
                threshold=threshold,
                phase=phase,
                halt=halt,
                note=note,
                telemetry_digest=digest,
            )
        )
    return out


def _run(canary: Canary, measured: list[Measurement], now: datetime, digest: str) -> AnalysisRun:
    spec = canary.template.spec
    previous = canary.previous
    measurements = [*(previous.measurements if previous is not None else ()), *measured]
    minimum = min_duration_seconds(canary)
    assessment: Assessment = (
        guard(measurements) if canary.live else assess(measurements, spec, canary.started, minimum)
    )
    if assessment.phase.final and assessment.decided_at is not None:
        measurements = [m for m in measurements if m.end <= assessment.decided_at]
    if canary.live and measurements:  # a live run lasts: it keeps its latest window only
        measurements = [m for m in measurements if m.end == measurements[-1].end]
    if canary.live:
        halted = assessment.phase is RunPhase.FAILED
        next_step = RunAction.HALT if halted else RunAction.CONTINUE
    else:
        next_step = action(assessment, spec, now, canary.step)
    return AnalysisRun(
        format=LIVE_FORMAT if canary.live else RUN_FORMAT,
        strategy=canary.strategy,
        version=canary.version,
        template=canary.template.name,
        template_digest=digest,
        step=canary.step,
        steps=max(len(spec.steps), 1),
        allocation=canary.allocation,
        started=canary.started,
        as_of=now,
        min_duration_seconds=minimum,
        phase=assessment.phase,
        reason=assessment.reason,
        halt=assessment.halt,
        decided_at=assessment.decided_at,
        action=next_step,
        measurements=tuple(measurements),
    )


def judge(canary: Canary, now: datetime) -> AnalysisRun:
    """Judge one canary at ``now``; see :func:`judge_all` and the module docstring."""
    return judge_all([canary], now)[0]
