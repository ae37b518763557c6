"""The hour-of-week profile of a market, from the datasets of the data folder (cached).

The profile is the one ``stratops regimes show`` prints (:func:`~stratops.paper.datasets.
symbol_profile`, trailing 4 weeks): of the dataset the market's deployments replay, else of
the first dataset of that venue holding the symbol. The data folder is ``$STRATOPS_DATA_DIR``
or the packaged market data. Profiles are computed once per process (the files do not change
under a running controller).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from stratops.analytics.regimes import HourOfWeekProfile
from stratops.examples import market_data_dir
from stratops.paper.datasets import DATASETS, symbol_regimes
from stratops.paper.errors import PaperError
from stratops.status.markets import Market


@functools.lru_cache(maxsize=64)
def _profile(dataset: str, symbol: str, data_dir: Path) -> HourOfWeekProfile | None:
    try:
        return symbol_regimes(dataset, symbol, data_dir)[0]
    except (PaperError, ValueError, OSError):
        return None  # not in this dataset, or its files are missing


def market_profile(
    venue: str, symbol: str, replayed: str | None, data_dir: Path | None = None
) -> tuple[str, HourOfWeekProfile] | None:
    """(dataset, profile) of ``symbol`` on ``venue``; None when no dataset has complete hours."""
    folder = market_data_dir(data_dir)
    candidates = [] if replayed is None else [replayed]
    candidates += [name for name, d in DATASETS.items() if d.venue == venue and name != replayed]
    for name in candidates:
        profile = _profile(name, symbol, folder)
        if profile is not None:
            return name, profile
    return None


def market_profiles(
    markets: Mapping[Market, str | None], data_dir: Path | None = None
) -> dict[Market, tuple[str, HourOfWeekProfile] | None]:
    """:func:`market_profile` of each market of :func:`~stratops.status.markets.desk_markets`."""
    return {
        (venue, symbol): market_profile(venue, symbol, replayed, data_dir)
        for (venue, symbol), replayed in markets.items()
    }
