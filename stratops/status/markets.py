"""The market regime each of the desk's venue/symbol pairs is in now (pure).

The regime is the one the canary thresholds and alert rules use: the liquidity regime of the
moment's hour-of-week bucket in the symbol's profile (:mod:`stratops.analytics.regimes`),
with the calendar overlays (``weekend``, ``funding_window``) on top. The volatility shock
overlay needs the current hour's realized volatility, which only the deployments see: the
desk view does not claim it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from stratops.analytics.regimes import HourOfWeekProfile, RegimeRules, classify
from stratops.model.analysis import Regime
from stratops.model.deployment import DeploymentStatus
from stratops.model.strategy import StrategyDeployment

Market = tuple[str, str]  # (venue, symbol)

# classify()'s columns, by the overlay name shown
OVERLAYS = {"weekend": "weekend", "funding_window": "funding"}


class MarketRegime(BaseModel):
    """One venue/symbol at one moment."""

    model_config = ConfigDict(frozen=True)

    venue: str
    symbol: str
    regime: Regime | None = Field(description="None: no market data to profile.")
    liquidity_ratio: float | None = Field(
        None, description="The bucket's median volume over the profile's median."
    )
    overlays: tuple[str, ...] = Field((), description="weekend, funding_window when on.")
    hour_of_week: int | None = Field(None, description="24 * weekday + hour, UTC, Monday 0.")
    dataset: str | None = Field(None, description="The market data the profile is of.")
    profile_digest: str | None = None
    note: str = ""


def desk_markets(
    strategies: Iterable[StrategyDeployment], running: Sequence[DeploymentStatus]
) -> dict[Market, str | None]:
    """Each venue/symbol the desk declares or runs, with the dataset its deployments replay.

    The dataset is the replay of a running deployment on that market (the market data its
    evidence was computed on), None when none says.
    """
    found: dict[Market, str | None] = {}
    for strategy in strategies:
        for symbol in strategy.spec.symbols:
            found.setdefault((strategy.spec.venue, symbol), None)
    for status in running:
        spec = status.spec
        for symbol in spec.symbols:
            if found.get((spec.venue, symbol)) is None:
                found[(spec.venue, symbol)] = None if spec.replay is None else spec.replay.dataset
    return dict(sorted(found.items()))


def market_regimes(
    profiles: Mapping[Market, tuple[str, HourOfWeekProfile] | None],
    at: datetime,
    rules: RegimeRules | None = None,
) -> list[MarketRegime]:
    """The regime and calendar overlays of each market at ``at``, by its (dataset, profile).

    A market without a profile has no regime (``regime`` None, ``note`` says why).
    """
    moment = pd.Timestamp(at).tz_convert("UTC").as_unit("ns").value
    found = []
    for (venue, symbol), profiled in sorted(profiles.items()):
        if profiled is None:
            found.append(
                MarketRegime(
                    venue=venue,
                    symbol=symbol,
                    regime=None,
                    note=f"no market data of {symbol} on {venue} with complete hours",
                )
            )
            continue
        dataset, profile = profiled
        row = classify(profile, [moment], rules=rules).iloc[0]
        ratio = float(row["liquidity_ratio"])
        found.append(
            MarketRegime(
                venue=venue,
                symbol=symbol,
                regime=Regime(row["regime"]),
                liquidity_ratio=None if ratio != ratio else round(ratio, 4),
                overlays=tuple(name for name, column in OVERLAYS.items() if bool(row[column])),
                hour_of_week=int(row["hour_of_week"]),
                dataset=dataset,
                profile_digest=profile.digest(),
            )
        )
    return found
