"""Execution and engine settings, as frozen values with documented defaults.

Defaults and where they come from:

- fees: 2 bps maker, 4 bps taker (a desk fee tier; Binance spot VIP 0 is 10/10 bps);
- ``participation``: at most 5 % of a bar's traded volume fills per bar; the rest of the order
  is cancelled at the end of the bar and the engine re-sends what is still missing towards
  the target at the next bar (see :func:`stratops.paper.execution.follow_targets`);
- ``impact_coefficient``: 0.9, calibrated on the Binance websocket capture of 2024-08-08/09
  (:func:`stratops.paper.impact.calibrate_impact` over 10-second intervals gives 0.89 for
  BTC/USDT and 0.90 for ETH/USDT; the square-root literature reports 0.5 to 1);
- latency: tick-to-order lognormal with a 20 ms median, order-to-venue lognormal with a
  15 ms median (inside every latency budget of the example desk policy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from stratops.model.execution import ExecutionSettings
from stratops.paper.errors import ConfigError


class OrderType(StrEnum):
    """``market``: crosses the spread, pays impact and the taker fee. ``limit``: rests at the
    touch of the decision time, fills only in a bar that trades through its price, pays the
    maker fee and no impact."""

    MARKET = "market"
    LIMIT = "limit"


@dataclass(frozen=True)
class LatencyModel:
    """Lognormal latencies, in milliseconds: ``median * exp(sigma * N(0, 1))``."""

    tick_to_order_median_ms: float = 20.0
    tick_to_order_sigma: float = 0.5
    order_to_venue_median_ms: float = 15.0
    order_to_venue_sigma: float = 0.3


LATENCY_FIELDS = tuple(f.name for f in fields(LatencyModel))


@dataclass(frozen=True)
class ExecutionConfig:
    """How orders become fills; see the module docstring for the defaults' sources."""

    order_type: OrderType = OrderType.MARKET
    maker_fee_bps: float = 2.0
    taker_fee_bps: float = 4.0
    participation: float = 0.05
    impact_coefficient: float = 0.9
    spread_window: int = 60
    volatility_window: int = 60
    latency: LatencyModel = field(default_factory=LatencyModel)

    def __post_init__(self) -> None:
        if not 0 < self.participation <= 1:
            raise ConfigError(
                f"participation must be in (0, 1], got {self.participation}", "config.participation"
            )
        if self.impact_coefficient < 0 or self.maker_fee_bps < -10 or self.taker_fee_bps < 0:
            raise ConfigError(
                "impact coefficient and taker fee must be >= 0 (a maker rebate may be negative)",
                "config.costs",
            )
        if self.spread_window < 2 or self.volatility_window < 2:
            raise ConfigError("spread and volatility windows need at least 2 bars", "config.window")

    def with_settings(self, settings: ExecutionSettings | None) -> ExecutionConfig:
        """This configuration with a version's execution parameters (those it sets) applied."""
        if settings is None:
            return self
        given = settings.model_dump(exclude_none=True)  # field names are the engine's
        latency = {name: given.pop(name) for name in LATENCY_FIELDS if name in given}
        if "order_type" in given:
            given["order_type"] = OrderType(given["order_type"])
        return replace(self, **given, latency=replace(self.latency, **latency))


@dataclass(frozen=True)
class EngineConfig:
    """What one run needs besides market and strategy.

    ``max_fraction`` is the limit of ``|target|`` per symbol, as a fraction of allocation;
    targets beyond it are clipped and recorded as risk events. ``markout_horizons`` are in
    seconds; None picks 1 s and 10 s for bars shorter than a minute, 1 min and 5 min for
    bars shorter than an hour, else one and five bars.
    """

    allocation: float
    seed: int = 0
    max_fraction: float = 1.0
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    markout_horizons: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not self.allocation > 0:
            raise ConfigError(f"allocation must be > 0, got {self.allocation}", "config.allocation")
        if not self.max_fraction > 0:
            raise ConfigError(
                f"max fraction must be > 0, got {self.max_fraction}", "config.max_fraction"
            )

    def horizons(self, step_seconds: float) -> tuple[int, ...]:
        """Markout horizons in seconds for bars of ``step_seconds``."""
        if self.markout_horizons is not None:
            return self.markout_horizons
        if step_seconds < 60:
            return (1, 10)
        if step_seconds < 3600:
            return (60, 300)
        bar = int(step_seconds)
        return (bar, 5 * bar)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, for ``run.json``."""
        return asdict(self)
