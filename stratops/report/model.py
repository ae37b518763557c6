"""The report as a value: what :func:`stratops.report.build.build_report` returns.

Frozen dataclasses of plain numbers and strings, rendered by :mod:`stratops.report.html`,
:mod:`stratops.report.markdown` and as JSON (:meth:`Report.as_dict`). Times are int64
nanoseconds since the epoch (UTC) in the value and ISO 8601 in its dictionary; durations are
seconds. NaN means "not measurable" and is ``null`` in JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from stratops.model.canonical import canonical_json

REPORT_FORMAT: Final = "stratops.report/v1"


def iso(ns: int | None) -> str | None:
    """ISO 8601 UTC of a nanosecond timestamp (None stays None)."""
    if ns is None:
        return None
    return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat().replace("+00:00", "Z")


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


@dataclass(frozen=True)
class Curve:
    """A time series for a plot: ``times_ns`` and ``values`` of the same length."""

    times_ns: tuple[int, ...]
    values: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"time": [iso(t) for t in self.times_ns], "value": list(self.values)}


@dataclass(frozen=True)
class WaterfallStep:
    """One bar of a waterfall: an amount in quote currency and in bps of ``notional``."""

    label: str
    amount: float
    bps: float
    total: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "amount": self.amount, "bps": self.bps, "total": self.total}


@dataclass(frozen=True)
class MarkoutPoint:
    """Mean and median markout of the fills at one horizon."""

    horizon_s: float
    label: str
    mean_bps: float
    median_bps: float
    fills: int
    from_candle: float
    """Share of the fills whose mid at this horizon came from a candle (no quote)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon_s": self.horizon_s,
            "label": self.label,
            "mean_bps": self.mean_bps,
            "median_bps": self.median_bps,
            "fills": self.fills,
            "from_candle": self.from_candle,
        }


SHORTFALL_PARTS: Final = ("delay", "trading", "opportunity", "fees")


@dataclass(frozen=True)
class GroupCost:
    """Shortfall of a group of orders (a regime, an hour of the week), bps of its notional."""

    group: str
    orders: int
    notional: float
    delay_bps: float
    trading_bps: float
    opportunity_bps: float
    fees_bps: float
    total_bps: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "orders": self.orders,
            "notional": self.notional,
            **{f"{p}_bps": getattr(self, f"{p}_bps") for p in (*SHORTFALL_PARTS, "total")},
        }


ATTRIBUTION_PARTS: Final = (
    "alpha", "delay", "spread", "impact", "opportunity", "fees", "funding"
)  # fmt: skip
"""The parts of :data:`stratops.analytics.attribution.PARTS`, as the report names them."""


@dataclass(frozen=True)
class AttributionRow:
    """The PnL of a group of periods (a symbol, a day, a regime) split into its parts.

    Quote currency, PnL sign (costs are negative); ``parts`` in :data:`ATTRIBUTION_PARTS`
    order, and they add up to ``pnl``.
    """

    by: str
    group: str
    periods: int
    parts: tuple[float, ...]
    pnl: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "group": self.group,
            "periods": self.periods,
            **dict(zip(ATTRIBUTION_PARTS, self.parts, strict=True)),
            "pnl": self.pnl,
        }


@dataclass(frozen=True)
class Contribution:
    """How much of a drawdown one failure mode made, fraction of the allocation (< 0 lost)."""

    mode: str
    to_trough: float


@dataclass(frozen=True)
class DrawdownRow:
    """One drawdown episode and its diagnosis."""

    peak_ns: int
    trough_ns: int
    recovery_ns: int | None
    depth: float
    duration_s: float
    time_to_trough_s: float
    time_to_recover_s: float | None
    contributions: tuple[Contribution, ...]
    dominant: str
    regimes: tuple[str, ...]
    incidents: tuple[str, ...]
    """Labels of the incidents and halts (audit log) that overlapped the episode."""
    halts: int
    risk_events: int
    probability: float
    """Probability of an episode this deep under the backtest's returns: NaN without a
    backtest and beyond the deepest few (:data:`stratops.report.build.JUDGED_EPISODES`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "peak": iso(self.peak_ns),
            "trough": iso(self.trough_ns),
            "recovery": iso(self.recovery_ns),
            "depth": self.depth,
            "duration_s": self.duration_s,
            "time_to_trough_s": self.time_to_trough_s,
            "time_to_recover_s": self.time_to_recover_s,
            "contributions": {c.mode: c.to_trough for c in self.contributions},
            "dominant": self.dominant,
            "regimes": list(self.regimes),
            "incidents": list(self.incidents),
            "halts": self.halts,
            "risk_events": self.risk_events,
            "probability": _number(self.probability),
        }


@dataclass(frozen=True)
class DecaySection:
    """The decay verdict, or why there is none (``verdict`` None)."""

    verdict: str | None
    reason: str
    detail: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class Summary:
    """The headline numbers, quote currency unless named."""

    allocation: float
    alpha: float
    """Paper alpha: every order filled at its decision mid (the attribution's)."""
    costs: float
    """Everything between paper alpha and the net."""
    net: float
    net_return: float
    max_drawdown: float
    orders: int
    fills: int
    fill_rate: float
    """Filled over ordered quantity."""

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Report:
    """Everything a report shows, computed; rendering decides nothing."""

    strategy: str
    stage: str | None
    version: int | None
    start_ns: int
    end_ns: int
    inputs: tuple[tuple[str, str], ...]
    """(name, sha256) of every input, sorted by name."""
    summary: Summary
    equity: Curve
    underwater: Curve
    pnl_waterfall: tuple[WaterfallStep, ...]
    """The attribution's parts, paper alpha to the ledger's net."""
    attribution: tuple[AttributionRow, ...]
    """By symbol, by day and (with a regime profile) by liquidity regime."""
    shortfall_waterfall: tuple[WaterfallStep, ...]
    markouts: tuple[MarkoutPoint, ...]
    cost_by_regime: tuple[GroupCost, ...]
    hour_of_week: tuple[GroupCost, ...]
    """One entry per hour of the week with orders; ``group`` is the bucket 0..167."""
    drawdowns: tuple[DrawdownRow, ...]
    decay: DecaySection
    notes: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain, canonical data: floats to 10 significant digits, NaN as None."""
        data = {
            "format": REPORT_FORMAT,
            "strategy": self.strategy,
            "stage": self.stage,
            "version": self.version,
            "start": iso(self.start_ns),
            "end": iso(self.end_ns),
            "inputs": dict(self.inputs),
            "summary": self.summary.as_dict(),
            "equity": self.equity.as_dict(),
            "underwater": self.underwater.as_dict(),
            "pnl_waterfall": [s.as_dict() for s in self.pnl_waterfall],
            "attribution": [a.as_dict() for a in self.attribution],
            "shortfall_waterfall": [s.as_dict() for s in self.shortfall_waterfall],
            "markouts": [m.as_dict() for m in self.markouts],
            "cost_by_regime": [c.as_dict() for c in self.cost_by_regime],
            "hour_of_week": [c.as_dict() for c in self.hour_of_week],
            "drawdowns": [d.as_dict() for d in self.drawdowns],
            "decay": self.decay.as_dict(),
            "notes": list(self.notes),
        }
        plain: dict[str, Any] = json.loads(canonical_json(data))
        return plain

    def to_json(self) -> str:
        """The report as indented JSON with sorted keys (same report, same bytes)."""
        return json.dumps(self.as_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
