"""Templates and seeded random telemetry of the telemetry schema, for the judge's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from stratops.analytics.regimes import HOURS_PER_WEEK, HourOfWeekProfile
from stratops.canary import Canary, CanaryTelemetry
from stratops.model.analysis import AnalysisTemplate, CanaryMetric

STARTED = datetime(2024, 8, 5, 0, 0, tzinfo=UTC)
MINUTE_NS = 60 * 10**9
ALL_METRICS = tuple(CanaryMetric)


def template(
    *,
    metrics: tuple[CanaryMetric, ...] = ALL_METRICS,
    halt_on: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> AnalysisTemplate:
    """A template measuring ``metrics`` with thresholds nothing healthy crosses."""
    wide = {
        CanaryMetric.SLIPPAGE_BPS: ("max", 1e3),
        CanaryMetric.IMPLEMENTATION_SHORTFALL_BPS: ("max", 1e3),
        CanaryMetric.MARKOUT_1M_BPS: ("min", -1e3),
        CanaryMetric.FILL_RATIO: ("min", 0.0),
        CanaryMetric.LATENCY_P99_MS: ("max", 1e6),
        CanaryMetric.REJECT_RATE: ("max", 1.0),
        CanaryMetric.DRAWDOWN: ("max", 1.0),
        CanaryMetric.PNL_VS_BACKTEST: ("min", -1e6),
    }
    rules = [
        {
            "metric": m.value,
            "condition": wide[m][0],
            "thresholds": dict.fromkeys(("peak", "normal", "thin"), wide[m][1]),
        }
        for m in metrics
    ]
    body = {
        "interval": "15m",
        "window": "1h",
        "minSamples": 1,
        "minDuration": "2h",
        "minPassed": 1,
        **spec,
        "metrics": rules,
        "haltOn": halt_on or [],
    }
    return AnalysisTemplate.model_validate(
        {"kind": "AnalysisTemplate", "metadata": {"name": "test-canary"}, "spec": body}
    )


def flat_profile() -> HourOfWeekProfile:
    """Every hour of the week alike: every window is normal."""
    ones = (1.0,) * HOURS_PER_WEEK
    return HourOfWeekProfile("BTC/USDT", 0, 1, ones, ones, ones, (1,) * HOURS_PER_WEEK)


def telemetry(
    seed: int, hours: float = 6.0, fills_per_hour: int = 40, start: datetime = STARTED
) -> CanaryTelemetry:
    """Fills, orders, latency and minute PnL of one symbol over ``hours`` from ``start``."""
    rng = np.random.default_rng(seed)
    start_ns = int(pd.Timestamp(start).value)
    n = int(hours * fills_per_hour)
    ts = np.sort(start_ns + rng.integers(0, int(hours * 3600e9), n))
    side = rng.choice(["buy", "sell"], n)
    d = np.where(side == "buy", 1.0, -1.0)
    decision = 60_000 * np.exp(rng.normal(0, 0.002, n))
    arrival = decision * (1 + d * rng.normal(1e-4, 2e-4, n))
    price = arrival * (1 + d * rng.normal(2e-4, 3e-4, n))
    quantity = rng.uniform(0.01, 0.2, n)
    fills = pd.DataFrame(
        {
            "ts": pd.to_datetime(ts, utc=True),
            "side": side,
            "quantity": quantity,
            "price": price,
            "fee": quantity * price * 1e-4,
            "decision_price": decision,
            "arrival_price": arrival,
            "mid_after_1m": np.where(
                rng.random(n) < 0.1, np.nan, price * (1 + rng.normal(0, 5e-4, n))
            ),
        }
    )
    ordered = quantity / rng.uniform(0.5, 1.0, n)
    orders = pd.DataFrame(
        {
            "ts": fills["ts"],
            "quantity": ordered,
            "filled_quantity": quantity,
            "status": rng.choice(["filled", "partial", "rejected"], n, p=[0.6, 0.35, 0.05]),
        }
    )
    latency = pd.DataFrame(
        {"ts": fills["ts"], "tick_to_order_ms": rng.lognormal(np.log(40), 0.6, n)}
    )
    bars = start_ns + MINUTE_NS * np.arange(1, int(hours * 60) + 1)
    pnl = pd.DataFrame(
        {
            "ts": pd.to_datetime(np.repeat(bars, 2), utc=True),
            "symbol": np.tile(["BTC/USDT", "ETH/USDT"], bars.size),
            "net": rng.normal(0.5, 40.0, 2 * bars.size),
        }
    )
    return CanaryTelemetry(fills, orders, latency, pnl)


def canary(seed: int = 1, *, hours: float = 6.0, **fields: Any) -> Canary:
    """A canary of ``template()`` on random telemetry, its replay another draw."""
    values: dict[str, Any] = {
        "strategy": "btc-trend",
        "version": 7,
        "template": template(),
        "allocation": 100_000.0,
        "started": STARTED,
        "telemetry": telemetry(seed, hours),
        "profile": flat_profile(),
        "replay": telemetry(seed + 1000, hours).pnl,
        **fields,
    }
    return Canary(**values)


def at(hours: float) -> datetime:
    return STARTED + timedelta(hours=hours)
