"""Fixtures of the paper engine's tests: the shipped market data and saved strategy models."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratops.paper.datasets import load_dataset
from stratops.paper.market import Market
from stratops.paper.strategies import strategy_spec
from stratops.paper.strategies.base import save_strategy

DAY_NS = 86_400 * 1_000_000_000


@pytest.fixture(scope="session")
def minute_market() -> Market:
    """BTC/USDT and ETH/USDT 1-minute bars, 30 days."""
    return load_dataset("binance-1m")


@pytest.fixture(scope="session")
def btc_minute(minute_market: Market) -> Market:
    """BTC/USDT 1-minute bars, first three days (includes no crash, enough for windows)."""
    btc = minute_market.select(["BTC/USDT"])
    return btc.between(None, int(btc.ts[0]) + 3 * DAY_NS)


@pytest.fixture(scope="session")
def capture_market() -> Market:
    """1-second bars and quotes from the websocket capture."""
    return load_dataset("binance-ws-1s")


@pytest.fixture(scope="session")
def trend_model(tmp_path_factory: pytest.TempPathFactory, btc_minute: Market) -> Path:
    """A saved MLflow pyfunc trend follower on minute bars."""
    path = tmp_path_factory.mktemp("models") / "trend"
    strategy = strategy_spec("trend").build({"fast": 10, "slow": 60, "allow_short": True})
    save_strategy(strategy, path, btc_minute.bars_frame(5))
    return path


@pytest.fixture(scope="session")
def meanrev_model(tmp_path_factory: pytest.TempPathFactory, minute_market: Market) -> Path:
    """A saved MLflow pyfunc ETH/BTC mean reversion."""
    path = tmp_path_factory.mktemp("models") / "meanrev"
    strategy = strategy_spec("meanrev").build({"window": 240})
    save_strategy(strategy, path, minute_market.bars_frame(5))
    return path
