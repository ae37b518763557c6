"""The market regime panel: each venue/symbol's regime and calendar overlays at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from stratops.analytics.regimes import HOURS_PER_WEEK, HourOfWeekProfile, RegimeRules
from stratops.model.analysis import Regime
from stratops.model.base import Stage
from stratops.model.deployment import (
    DeploymentSpec,
    DeploymentState,
    DeploymentStatus,
    Replay,
)
from stratops.model.strategy import HaltBehaviour, StrategyDeployment
from stratops.paper.datasets import load_dataset, symbol_profile
from stratops.status.markets import desk_markets, market_regimes
from stratops.status.profiles import market_profile

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday, 00:00 UTC
THIN_BUCKET, PEAK_BUCKET = 3, 14  # Monday 03:00 and 14:00


def profile() -> HourOfWeekProfile:
    volume = [10.0] * HOURS_PER_WEEK
    volume[THIN_BUCKET], volume[PEAK_BUCKET] = 2.0, 30.0
    nan = (float("nan"),) * HOURS_PER_WEEK
    return HourOfWeekProfile(
        symbol="BTC/USDT", start_ns=0, end_ns=1, volume=tuple(volume), volatility=nan,
        spread_bps=nan, samples=(4,) * HOURS_PER_WEEK,
    )  # fmt: skip


MARKET = ("binance", "BTC/USDT")


@pytest.mark.parametrize(
    ("at", "regime", "ratio", "overlays"),
    [
        (MONDAY + timedelta(hours=3, minutes=30), Regime.THIN, 0.2, ()),
        (MONDAY + timedelta(hours=14), Regime.PEAK, 3.0, ()),
        (MONDAY + timedelta(hours=10), Regime.NORMAL, 1.0, ()),
        # Saturday 08:04: a weekend and 4 minutes after a funding settlement (window 5 min)
        (MONDAY + timedelta(days=5, hours=8, minutes=4), Regime.NORMAL, 1.0,
         ("weekend", "funding_window")),
        (MONDAY + timedelta(days=5, hours=8, minutes=6), Regime.NORMAL, 1.0, ("weekend",)),
        # Sunday 23:57: the next settlement is Monday 00:00, across midnight
        (MONDAY + timedelta(days=6, hours=23, minutes=57), Regime.NORMAL, 1.0,
         ("weekend", "funding_window")),
    ],
)  # fmt: skip
def test_the_regime_and_overlays_of_the_moment(
    at: datetime, regime: Regime, ratio: float, overlays: tuple[str, ...]
) -> None:
    [found] = market_regimes({MARKET: ("binance-1m", profile())}, at)
    assert (found.regime, found.liquidity_ratio, found.overlays) == (regime, ratio, overlays)
    assert found.hour_of_week == (at - MONDAY) // timedelta(hours=1) % HOURS_PER_WEEK
    assert (found.dataset, found.profile_digest) == ("binance-1m", profile().digest())


def test_the_moment_is_read_in_utc_and_the_rules_move_the_bounds() -> None:
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 30, 4, 30, tzinfo=paris)  # 03:30 UTC: the thin bucket
    [found] = market_regimes({MARKET: ("d", profile())}, at)
    assert (found.regime, found.hour_of_week) == (Regime.THIN, THIN_BUCKET)
    [lenient] = market_regimes({MARKET: ("d", profile())}, at, RegimeRules(thin_below=0.1))
    assert lenient.regime is Regime.NORMAL


def test_a_market_without_data_has_no_regime() -> None:
    found = market_regimes({("bybit", "SOL/USDT"): None, MARKET: ("d", profile())}, MONDAY)
    assert [(m.venue, m.regime) for m in found] == [("binance", Regime.NORMAL), ("bybit", None)]
    assert "no market data of SOL/USDT on bybit" in found[1].note


def deployment(name: str, symbol: str, venue: str = "binance") -> StrategyDeployment:
    return StrategyDeployment.model_validate(
        {
            "metadata": {"name": name},
            "spec": {
                "strategyType": "trend", "venue": venue, "symbols": [symbol],
                "owners": ["desk"], "stages": {"paper": {"version": 1, "allocation": 1.0}},
            },
        }
    )  # fmt: skip


def running(name: str, venue: str, symbol: str, replay: str | None) -> DeploymentStatus:
    spec = DeploymentSpec(
        strategy=name, stage=Stage.PAPER, version=1, allocation=1.0, model_uri="models:/x/1",
        strategy_type="trend", venue=venue, symbols=(symbol,), halt=HaltBehaviour.FLATTEN,
        commit="c" * 40,
        replay=None if replay is None else Replay(dataset=replay, start="a", end="b"),
    )  # fmt: skip
    return DeploymentStatus(spec=spec, state=DeploymentState.RUNNING, since=MONDAY, instance="1")


def test_the_desks_markets_are_those_declared_or_running_with_their_replay() -> None:
    declared = [deployment("a", "BTC/USDT"), deployment("b", "ETH/USDT")]
    observed = [
        running("a", "binance", "BTC/USDT", "binance-1h"),
        running("gone", "bybit", "BTC/USDT", None),
    ]
    assert desk_markets(declared, observed) == {
        ("binance", "BTC/USDT"): "binance-1h",
        ("binance", "ETH/USDT"): None,
        ("bybit", "BTC/USDT"): None,
    }


def test_the_profile_is_the_one_regimes_show_prints() -> None:
    found = market_profile("binance", "BTC/USDT", None)
    assert found is not None
    shown = symbol_profile(load_dataset("binance-1m", symbols=["BTC/USDT"]))
    assert found == ("binance-1m", shown)
    replayed = market_profile("binance", "BTC/USDT", "binance-1h")
    assert replayed is not None and replayed[0] == "binance-1h"
    # a replay that is not a dataset (or has no complete hour) falls back to the venue's data
    assert market_profile("binance", "ETH/USDT", "no-such-dataset")[0] == "binance-1m"  # type: ignore[index]
    assert market_profile("binance", "ETH/USDT", "binance-ws-1s")[0] == "binance-1m"  # type: ignore[index]
    assert market_profile("bybit", "BTC/USDT", None) is None
    assert market_profile("binance", "SOL/USDT", None) is None


def test_no_data_folder_means_no_profile(tmp_path: Path) -> None:
    assert market_profile("binance", "BTC/USDT", None, data_dir=tmp_path) is None
