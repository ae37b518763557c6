"""``AnalysisTemplate``: how a canary is judged, with thresholds per liquidity regime."""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic.alias_generators import to_camel

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


class CanaryStep(Spec):
    """One step of a canary allocation ramp: analysed for its duration before the next."""

    allocation: Annotated[float, Field(gt=0, allow_inf_nan=False)] = Field(
        description="Capital of the canary during this step, quote currency."
    )
    min_duration: Duration | None = Field(
        None, description="How long this step is analysed; the template's minDuration if unset."
    )


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
    consecutive_error_limit: Annotated[int, Field(ge=0)] = Field(
        4,
        description="The analysis is in error (hold and alert, never roll back) when consecutive "
        "errors of a metric exceed this number.",
    )
    min_duration: Duration = Field(
        "24h", description="The analysis passes only once the canary has run this long."
    )
    min_passed: Annotated[int, Field(ge=1)] = Field(
        3, description="Passing measurements each metric needs before the analysis can pass."
    )
    inconclusive_deadline: Duration = Field(
        "24h",
        description="How long an inconclusive analysis waits for a person before onInconclusive.",
    )
    on_inconclusive: Literal["rollback", "hold"] = Field(
        "hold",
        description="What happens when inconclusiveDeadline passes with nobody deciding: roll "
        "the canary back, or keep holding it (no new risk) and keep alerting.",
    )
    steps: list[CanaryStep] = Field(
        default_factory=list,
        description="Optional allocation ramp: each step is analysed before the next.",
    )
    metrics: list[MetricRule] = Field(min_length=1)
    halt_on: list[HaltCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisTemplateSpec:
        for name in ("interval", "window", "inconclusive_deadline"):
            if duration_seconds(getattr(self, name)) <= 0:
                raise ValueError(f"{to_camel(name)} must be longer than 0s")
        if duration_seconds(self.interval) > duration_seconds(self.window):
            raise ValueError(f"interval {self.interval} is longer than window {self.window}")
        allocations = [step.allocation for step in self.steps]
        if any(b <= a for a, b in pairwise(allocations)):
            raise ValueError(
                f"steps must ramp the allocation up, each larger than the one before; got "
                f"{', '.join(f'{a:g}' for a in allocations)}"
            )
        names = [rule.metric for rule in self.metrics]
        repeated = sorted({m.value for m in names if names.count(m) > 1})
        if repeated:
            raise ValueError(f"metrics must be unique, repeated: {', '.join(repeated)}")
        return self


class AnalysisTemplate(Document):
    kind: Literal["AnalysisTemplate"] = "AnalysisTemplate"
    spec: AnalysisTemplateSpec
