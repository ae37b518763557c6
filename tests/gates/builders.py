"""Evidence and contexts built from seeded random numbers, for gate tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from stratops.gates.context import GateContext
from stratops.model.base import Stage, StrategyType
from stratops.model.evidence import DataQuality, EvidenceMetadata
from stratops.model.evidence_data import EvidenceData, Trades

START = datetime(2023, 1, 1, tzinfo=UTC)
AS_OF = datetime(2024, 3, 1, tzinfo=UTC)
NS_PER_HOUR = 3_600 * 10**9


def evidence(
    *,
    days: int = 400,
    hourly_mean: float = 0.0002,
    hourly_vol: float = 0.004,
    trials: int = 20,
    seed: int = 7,
    latency_ms: float = 300.0,
    **overrides: Any,
) -> EvidenceData:
    rng = np.random.default_rng(seed)
    hours = days * 24
    start_ns = int(START.timestamp()) * 10**9
    stamps = start_ns + np.arange(1, hours + 1, dtype=np.int64) * NS_PER_HOUR
    net = rng.normal(hourly_mean, hourly_vol, hours)
    trades_n = 500
    trade_stamps = np.sort(rng.choice(stamps, trades_n, replace=False))
    daily_stamps = start_ns + np.arange(1, days + 1, dtype=np.int64) * 24 * NS_PER_HOUR
    trial_returns = rng.normal(0.0, 0.02, (days, trials))
    end = datetime.fromtimestamp(int(stamps[-1]) / 1e9, UTC)
    values: dict[str, Any] = {
        "digest": "e" * 64,
        "file_digests": {"returns.parquet": "a" * 64, "trials.parquet": "b" * 64},
        "metadata": EvidenceMetadata(
            strategy_type="trend",
            symbols=["BTC/USDT"],
            venue="binance",
            data_range={"start": START.isoformat(), "end": end.isoformat()},
            periods_per_year=24 * 365,
            trials=trials,
            allocation=100_000.0,
        ),
        "data_quality": DataQuality(
            source="binance BTC/USDT 1h",
            start=START.isoformat(),
            end=end.isoformat(),
            rows=hours,
            expected_rows=hours,
            gaps=0,
            duplicates=0,
            max_staleness_seconds=3600.0,
            fingerprint="f" * 64,
        ),
        "returns_timestamp": stamps,
        "returns_net": net,
        "returns_gross": net + 0.00001,
        "gross_exposure": np.full(hours, 0.8),
        "trades": Trades(
            timestamp=trade_stamps,
            symbol=np.array(["BTC/USDT"] * trades_n),
            quantity=np.full(trades_n, 0.5),
            price=np.full(trades_n, 40_000.0),
            decision_time=trade_stamps - 10**9,
            data_time=trade_stamps - 2 * 10**9,
            market_volume=np.full(trades_n, 1_000.0),
        ),
        "latency_ms": rng.gamma(4.0, latency_ms / 4.0, 5_000),
        "trials_timestamp": daily_stamps,
        "trials": trial_returns,
    }
    values.update(overrides)
    return EvidenceData(**values)


def context(**overrides: Any) -> GateContext:
    values: dict[str, Any] = {
        "strategy": "btc-trend",
        "version": 4,
        "strategy_type": StrategyType.TREND,
        "target_stage": Stage.CANARY,
        "allocation": 50_000.0,
        "as_of": AS_OF,
        "current_stage": Stage.PAPER,
        "in_stage_since": AS_OF - timedelta(days=10),
        "registry_trials": 20,
    }
    values.update(overrides)
    return GateContext(**values)
