"""Canary analysis: judge a canary's telemetry against its ``AnalysisTemplate`` (pure).

The public API, for the controller and the CLI::

    from stratops.canary import Canary, CanaryTelemetry, judge, judge_all

    run = judge(Canary(strategy, version, template, allocation, started, telemetry, profile,
                       replay=replay_pnl, previous=last_run), now)
    run.phase      # running | passed | failed | inconclusive | error
    run.action     # continue | ramp | promote | halt | rollback | hold
    run.reason     # "failed: slippage_bps 4 failed measurements > failureLimit 3"
    run.digest     # sha256 of run.canonical: same inputs, same bytes

No I/O: the caller reads the telemetry (:mod:`stratops.telemetry.reader`) and the regime
profile, and passes the clock. The schedule and the phase of a measurement are in
:mod:`stratops.canary.judge`, the limit rules in :mod:`stratops.canary.limits`, the metrics in
:mod:`stratops.canary.metrics`; ``docs/canary.md`` explains them for people.
"""

from stratops.canary.inputs import Canary, CanaryTelemetry
from stratops.canary.judge import judge, judge_all, min_duration_seconds
from stratops.canary.limits import Assessment, assess
from stratops.canary.run import (
    AnalysisRun,
    Measurement,
    MeasurementPhase,
    RunAction,
    RunPhase,
    template_digest,
)

__all__ = [
    "AnalysisRun",
    "Assessment",
    "Canary",
    "CanaryTelemetry",
    "Measurement",
    "MeasurementPhase",
    "RunAction",
    "RunPhase",
    "assess",
    "judge",
    "judge_all",
    "min_duration_seconds",
    "template_digest",
]
