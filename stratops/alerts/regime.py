"""The market context as the controller exports it, and as the rule file's calendar knows it.

``stratops_market_regime{venue,symbol,regime}`` is 1 for the regime a moment is in and 0 for
the two others; ``stratops_market_overlay{venue,symbol,overlay}`` likewise for each event
overlay. Both come from the same :func:`~stratops.analytics.regimes.classify` as the canary's
thresholds, so alerts, canaries and evidence agree on what "thin" meant at that moment.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratops.analytics.regimes import HOURS_PER_WEEK, HourOfWeekProfile, RegimeRules, classify
from stratops.model.alerts import Overlay
from stratops.model.analysis import Regime

_OVERLAY_COLUMNS = {Overlay.VOLATILITY_SHOCK: "shock", Overlay.FUNDING_WINDOW: "funding"}


@dataclass(frozen=True)
class MarketContext:
    """The regime and overlays of one moment, as gauge values (1 on, 0 off)."""

    regime: dict[Regime, float]
    overlays: dict[Overlay, float]


def market_context(
    profile: HourOfWeekProfile,
    at_ns: int,
    volatility: float | None = None,
    rules: RegimeRules | None = None,
) -> MarketContext:
    """The values of ``stratops_market_regime`` and ``stratops_market_overlay`` at ``at_ns``.

    ``volatility`` is the realized volatility of the current hour (for the shock overlay; none:
    no shock).
    """
    row = classify(profile, [at_ns], None if volatility is None else [volatility], rules).iloc[0]
    return MarketContext(
        regime={r: float(row["regime"] == r.value) for r in Regime},
        overlays={o: float(bool(row[column])) for o, column in _OVERLAY_COLUMNS.items()},
    )


def regime_ranges(
    profile: HourOfWeekProfile, rules: RegimeRules | None = None
) -> dict[Regime, list[tuple[int, int]]]:
    """Each regime's hour-of-week buckets as ``[start, end)`` runs (Monday 00:00 = 0)."""
    regimes = profile.regimes(rules)
    runs: dict[Regime, list[tuple[int, int]]] = {r: [] for r in Regime}
    start = 0
    for bucket in range(1, HOURS_PER_WEEK + 1):
        if bucket == HOURS_PER_WEEK or regimes[bucket] != regimes[start]:
            runs[regimes[start]].append((start, bucket))
            start = bucket
    return runs
