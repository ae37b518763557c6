"""A canary analysis run built by hand, for the chart and page tests.

Five windows (1h, every 15m) through three regimes, so the slippage threshold steps
(normal 5, thin 8, peak 4 bps); slippage sees every measurement phase; the haltOn-only
drawdown trips at the last window, which halts the canary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from stratops.canary import AnalysisRun, Measurement, MeasurementPhase, RunAction, RunPhase
from stratops.model.analysis import CanaryMetric, Regime

STARTED: Final = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
WINDOW: Final = timedelta(hours=1)
INTERVAL: Final = timedelta(minutes=15)
REGIMES: Final = (Regime.NORMAL, Regime.NORMAL, Regime.THIN, Regime.THIN, Regime.PEAK)
SLIPPAGE_THRESHOLDS: Final = {Regime.NORMAL: 5.0, Regime.THIN: 8.0, Regime.PEAK: 4.0}
SLIPPAGE: Final = (
    (3.5, MeasurementPhase.PASSED),
    (6.25, MeasurementPhase.FAILED),
    (7.0, MeasurementPhase.PASSED),
    (None, MeasurementPhase.INCONCLUSIVE),
    (None, MeasurementPhase.ERROR),
)
DRAWDOWN: Final = (0.01, 0.02, 0.02, 0.03, 0.0625)  # haltOn drawdown above 0.05
HALT_REASON: Final = "failed: haltOn drawdown 0.0625 > 0.05"


def window_end(k: int) -> datetime:
    return STARTED + WINDOW + k * INTERVAL


def measurement(k: int, metric: CanaryMetric, value: float | None, **fields: object) -> Measurement:
    return Measurement.model_validate(
        {
            "metric": metric,
            "start": window_end(k) - WINDOW,
            "end": window_end(k),
            "value": value,
            "samples": 0 if value is None else 12,
            "regime": REGIMES[k],
            "telemetry_digest": f"{k:064x}",
            **fields,
        }
    )


def halted_run(strategy: str = "btc-trend", version: int = 1) -> AnalysisRun:
    """The run the judge returns once the drawdown tripped its haltOn bound."""
    measurements = []
    for k, ((slip, phase), drawdown) in enumerate(zip(SLIPPAGE, DRAWDOWN, strict=True)):
        threshold = SLIPPAGE_THRESHOLDS[REGIMES[k]]
        measurements.append(
            measurement(k, CanaryMetric.SLIPPAGE_BPS, slip, condition="max",
                         threshold=threshold, phase=phase, note=f"{phase.value} at {k}")
        )  # fmt: skip
        halt = drawdown > 0.05
        measurements.append(
            measurement(k, CanaryMetric.DRAWDOWN, drawdown, condition=None, threshold=None,
                         phase=MeasurementPhase.FAILED if halt else MeasurementPhase.PASSED,
                         halt=halt)
        )  # fmt: skip
    return AnalysisRun(
        strategy=strategy,
        version=version,
        template="trend-canary",
        template_digest="ab" * 32,
        allocation=100_000.0,
        started=STARTED,
        as_of=window_end(len(REGIMES) - 1),
        min_duration_seconds=4 * 3600.0,
        phase=RunPhase.FAILED,
        reason=HALT_REASON,
        halt=True,
        decided_at=window_end(len(REGIMES) - 1),
        action=RunAction.HALT,
        measurements=tuple(measurements),
    )
