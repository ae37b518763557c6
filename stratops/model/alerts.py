"""``AlertRule``: one alert on a metric the controller exports, with thresholds by market context.

A threshold is given per liquidity regime (peak / normal / thin, as in the canary analysis)
and, optionally, per event overlay (a funding window, a volatility shock); an overlay's
threshold replaces the regime's while the overlay is on, a shock before a funding window.
Every rule links the ``Runbook`` an operator follows and names who is paged during desk hours
and who outside them (the on-call rotation), so an alert at 3am on a Sunday reaches someone.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from stratops.model.analysis import Number, RegimeThresholds
from stratops.model.base import DnsName, Document, Duration, Spec


class AlertMetric(StrEnum):
    """What an alert watches: a series the controller exports (``stratops.alerts.metrics``)."""

    SLIPPAGE_BPS = "slippage_bps"
    IMPLEMENTATION_SHORTFALL_BPS = "implementation_shortfall_bps"
    MARKOUT_1M_BPS = "markout_1m_bps"
    FILL_RATIO = "fill_ratio"
    LATENCY_P99_MS = "latency_p99_ms"
    REJECT_RATE = "reject_rate"
    DRAWDOWN = "drawdown"
    RECON_BREAKS = "recon_breaks"
    CANARY_UNSUCCESSFUL = "canary_unsuccessful"
    CONTROLLER_TICK_AGE_SECONDS = "controller_tick_age_seconds"
    MARKET_DATA_AGE_SECONDS = "market_data_age_seconds"


class Overlay(StrEnum):
    """Events laid over the regime, in precedence order (the first that is on wins)."""

    VOLATILITY_SHOCK = "volatility_shock"
    FUNDING_WINDOW = "funding_window"


class Severity(StrEnum):
    """critical pages a person now; warning notifies the team's channel."""

    CRITICAL = "critical"
    WARNING = "warning"


class OverlayThresholds(Spec):
    volatility_shock: Number | None = Field(
        None, description="Threshold while realized volatility is a shock (else the regime's)."
    )
    funding_window: Number | None = Field(
        None, description="Threshold around a perpetual funding settlement (else the regime's)."
    )

    def for_overlay(self, overlay: Overlay) -> float | None:
        value: float | None = getattr(self, overlay.value)
        return value


class Paging(Spec):
    """Alertmanager receivers: the team during desk hours, the on-call rotation outside them."""

    desk_hours: DnsName = Field(description="Receiver during desk hours (the owning team).")
    off_hours: DnsName = Field(
        description="Receiver at nights and weekends (the on-call rotation)."
    )


class AlertRuleSpec(Spec):
    summary: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="One line for the page; may use {{ $labels.strategy }} and {{ $value }}."
    )
    metric: AlertMetric
    condition: Literal["above", "below"] = Field(
        description="above: fires when the metric exceeds the threshold; below: when under it."
    )
    thresholds: RegimeThresholds
    overlays: OverlayThresholds = Field(default_factory=OverlayThresholds)
    for_: Duration = Field(
        "5m", alias="for", description="How long the breach must last before the alert fires."
    )
    severity: Severity
    runbook: DnsName = Field(description="The Runbook an operator follows (required).")
    paging: Paging


class AlertRule(Document):
    kind: Literal["AlertRule"] = "AlertRule"
    spec: AlertRuleSpec
