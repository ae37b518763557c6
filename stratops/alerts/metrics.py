"""The series an :class:`~stratops.model.alerts.AlertMetric` watches, in one table.

Per-deployment series carry the labels ``strategy``, ``stage``, ``venue`` and ``symbol``; the
canary metrics keep the names of the canary analysis (``stratops_slippage_bps`` is the
``slippage_bps`` of an ``AnalysisTemplate``). Timestamps are Unix seconds and the alert
watches their age. ``stratops_last_successful_reconcile_timestamp_seconds`` is exported by
:class:`stratops.controller.observability.Metrics` today; the others are the names the
deployments' exporters and the reconciliation publish under.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stratops.model.alerts import AlertMetric

DEPLOYMENT_LABELS: Final = ("strategy", "stage", "venue", "symbol")


@dataclass(frozen=True)
class Series:
    name: str
    """The exported series."""
    labels: tuple[str, ...]
    """Labels the series carries (beyond those the expression drops)."""
    unit: str
    expr: str
    """The PromQL of the measured value; ``{name}`` stands for the series."""
    age: bool = False
    """The series is a Unix timestamp: the measured value is its age in seconds."""
    extra: tuple[tuple[str, str], ...] = ()
    """Labels a sample needs to be selected (and that the expression then drops)."""

    def promql(self) -> str:
        return self.expr.format(name=self.name)


def _gauge(name: str, unit: str) -> Series:
    return Series(name, DEPLOYMENT_LABELS, unit, "{name}")


SERIES: Final[dict[AlertMetric, Series]] = {
    AlertMetric.SLIPPAGE_BPS: _gauge("stratops_slippage_bps", "bps"),
    AlertMetric.IMPLEMENTATION_SHORTFALL_BPS: _gauge(
        "stratops_implementation_shortfall_bps", "bps"
    ),
    AlertMetric.MARKOUT_1M_BPS: _gauge("stratops_markout_1m_bps", "bps"),
    AlertMetric.FILL_RATIO: _gauge("stratops_fill_ratio", "ratio"),
    AlertMetric.LATENCY_P99_MS: _gauge("stratops_latency_p99_ms", "ms"),
    AlertMetric.REJECT_RATE: _gauge("stratops_reject_rate", "ratio"),
    AlertMetric.DRAWDOWN: _gauge("stratops_drawdown", "fraction of allocation"),
    AlertMetric.RECON_BREAKS: Series(
        "stratops_recon_breaks",
        ("strategy",),
        "open breaks",
        "sum without (class, severity) ({name})",
        extra=(("class", "quantity"), ("severity", "high")),
    ),
    AlertMetric.CANARY_UNSUCCESSFUL: Series(
        "stratops_canary_phase",
        ("strategy",),
        "1 when failed, error or inconclusive",
        'max without (phase) ({name}{{phase=~"failed|error|inconclusive"}})',
        extra=(("phase", "failed"),),
    ),
    AlertMetric.CONTROLLER_TICK_AGE_SECONDS: Series(
        "stratops_last_successful_reconcile_timestamp_seconds",
        (),
        "s",
        "time() - {name}",
        age=True,
    ),
    AlertMetric.MARKET_DATA_AGE_SECONDS: Series(
        "stratops_market_data_last_update_timestamp_seconds",
        ("venue", "symbol"),
        "s",
        "time() - {name}",
        age=True,
    ),
}
