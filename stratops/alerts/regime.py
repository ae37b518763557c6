"""The market context as the controller exports it, and as the rule file's calendar knows it.

``stratops_market_regime{venue,symbol,regime}`` is 1 for the regime a moment is in and 0 for
the two others; ``stratops_market_overlay{venue,symbol,overlay}`` likewise for each event
overlay. Both come from the same :func:`~stratops.analytics.regimes.classify` as the canary's
thresholds, so alerts, canaries and evidence agree on what "thin" meant at that moment; the
volatility shock is the canary judge's test (:func:`~stratops.analytics.regimes.shocked`) of the
trailing hour (:data:`SHOCK_WINDOW_NS`): on while that hour overlaps a shock hour of the market.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stratops.analytics.regimes import (
    HOURS_PER_WEEK,
    NS_PER_HOUR,
    HourOfWeekProfile,
    RegimeRules,
    ShockHours,
    classify,
)
from stratops.model.alerts import Overlay
from stratops.model.analysis import Regime

SHOCK_WINDOW_NS: Final = NS_PER_HOUR
"""The window whose overlap with a shock hour turns the volatility-shock overlay on."""


@dataclass(frozen=True)
class MarketContext:
    """The regime and overlays of one moment, as gauge values (1 on, 0 off)."""

    regime: dict[Regime, float]
    overlays: dict[Overlay, float]


def market_context(
    profile: HourOfWeekProfile,
    at_ns: int,
    shocks: ShockHours | None = None,
    rules: RegimeRules | None = None,
) -> MarketContext:
    """The values of ``stratops_market_regime`` and ``stratops_market_overlay`` at ``at_ns``.

    ``shocks`` are the market's shock hours (:class:`~stratops.analytics.regimes.ShockHours`
    of its hourly measures), for the shock overlay: on when ``[at_ns - SHOCK_WINDOW_NS,
    at_ns)`` overlaps one (none, or no hour of it measured: off).
    """
    row = classify(profile, [at_ns], rules=rules).iloc[0]
    shock = shocks is not None and bool(shocks.overlap([at_ns - SHOCK_WINDOW_NS], [at_ns])[0])
    return MarketContext(
        regime={r: float(row["regime"] == r.value) for r in Regime},
        overlays={
            Overlay.VOLATILITY_SHOCK: float(shock),
            Overlay.FUNDING_WINDOW: float(bool(row["funding"])),
        },
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
