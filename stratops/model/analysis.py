"""``AnalysisTemplate``: how a canary is judged, with thresholds per liquidity regime."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from stratops.model.base import Document, Duration, Spec, duration_seconds


class Regime(StrEnum):
    """Liquidity regimes, from the hour-of-week profile of volume and spread."""

    PEAK = "peak"
    NORMAL = "normal"
    THIN = "thin"


class CanaryMetric(StrEnum):
    SLIPPAGE_BPS = "slippage_bps"
    IMPLEMENTATION_SHORTFALL_BPS = "implementation_shortfall_bps"
    MARKOUT_1M_BPS = "markout_1m_bps"
    DRAWDOWN = "drawdown"
    FILL_RATIO = "fill_ratio"
    LATENCY_P99_MS = "latency_p99_ms"
    PNL_VS_BACKTEST = "pnl_vs_backtest"
    REJECT_RATE = "reject_rate"


Number = Annotated[float, Field(allow_inf_nan=False)]


class RegimeThresholds(Spec):
    peak: Number
    normal: Number
    thin: Number

    def for_regime(self, regime: Regime) -> float:
        value: float = getattr(self, regime.value)
        return value


class MetricRule(Spec):
    metric: CanaryMetric
    condition: Literal["max", "min"] = Field(
        description="max: the measurement must stay at or below the threshold; min: at or above."
    )
    thresholds: RegimeThresholds


class HaltCondition(Spec):
    """A measurement that halts the canary at once, whatever the failure counts say."""

    metric: CanaryMetric
    above: Number | None = None
    below: Number | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> HaltCondition:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self


class AnalysisTemplateSpec(Spec):
    interval: Duration = Field("5m", description="Time between two measurements.")
    window: Duration = Field("1h", description="Trailing window each measurement covers.")
    min_samples: Annotated[int, Field(ge=1)] = Field(
        30, description="Fills a window needs; fewer makes the measurement inconclusive."
    )
    failure_limit: Annotated[int, Field(ge=0)] = Field(
        3, description="The canary fails when failed measurements exceed this number."
    )
    consecutive_failure_limit: Annotated[int, Field(ge=0)] = Field(
        2, description="The canary fails when consecutive failures exceed this number."
    )
    inconclusive_limit: Annotated[int, Field(ge=0)] = Field(
        5, description="Inconclusive measurements tolerated before the analysis is inconclusive."
    )
    metrics: list[MetricRule] = Field(min_length=1)
    halt_on: list[HaltCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisTemplateSpec:
        if duration_seconds(self.interval) > duration_seconds(self.window):
            raise ValueError(f"interval {self.interval} is longer than window {self.window}")
        names = [rule.metric for rule in self.metrics]
        repeated = sorted({m.value for m in names if names.count(m) > 1})
        if repeated:
            raise ValueError(f"metrics must be unique, repeated: {', '.join(repeated)}")
        return self


class AnalysisTemplate(Document):
    kind: Literal["AnalysisTemplate"] = "AnalysisTemplate"
    spec: AnalysisTemplateSpec
