"""Example strategies as MLflow pyfunc models, with their default parameters and sweeps.

=================  ==========  ===========  ======================================
name               type        dataset      what it does
=================  ==========  ===========  ======================================
``trend``          trend       binance-1h   BTC moving-average crossover
``meanrev``        stat_arb    binance-1m   ETH/BTC z-score of the log price ratio
``overfit``        trend       binance-1m   crossover in an hour window, 144-config sweep
=================  ==========  ===========  ======================================
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stratops.paper.errors import ConfigError
from stratops.paper.strategies.base import BarStrategy, Parameter
from stratops.paper.strategies.meanrev import PairMeanReversion
from stratops.paper.strategies.overfit import HourFilteredTrend
from stratops.paper.strategies.trend import TrendFollower


@dataclass(frozen=True)
class StrategySpec:
    """An example strategy: its class, symbols, defaults, sweep grid and usual dataset."""

    cls: type[BarStrategy]
    symbols: tuple[str, ...]
    defaults: Mapping[str, Parameter]
    grid: Mapping[str, Sequence[Parameter]]
    dataset: str

    def build(self, overrides: Mapping[str, Parameter] | None = None) -> BarStrategy:
        """The strategy with ``overrides`` on top of the defaults.

        Raises
        ------
        ConfigError
            For a parameter the strategy does not have, a value not of its default's type
            (a float parameter also takes an integer), or a number that is negative or not
            finite (every example parameter is a window, hour, threshold or size).
        """
        unknown = sorted(set(overrides or {}) - set(self.defaults))
        if unknown:
            raise ConfigError(
                f"{self.cls.name} has no parameter {', '.join(unknown)}; it has "
                f"{', '.join(sorted(self.defaults))}",
                "config.parameter",
            )
        for name, value in (overrides or {}).items():
            default = self.defaults[name]
            if not _same_kind(value, default):
                raise ConfigError(
                    f"{self.cls.name} parameter {name}: expected {type(default).__name__} "
                    f"like {default!r}, got {value!r}",
                    "config.parameter_type",
                )
            if not isinstance(value, (bool, str)) and not (math.isfinite(value) and value >= 0):
                raise ConfigError(
                    f"{self.cls.name} parameter {name}: expected a finite number >= 0, "
                    f"got {value!r}",
                    "config.parameter_range",
                )
        return self.cls(self.symbols, {**self.defaults, **(overrides or {})})

    def configurations(
        self, grid: Mapping[str, Sequence[Parameter]] | None = None
    ) -> list[dict[str, Parameter]]:
        """Every configuration of ``grid`` (default: the spec's), in a fixed order."""
        axes = dict(grid if grid is not None else self.grid)
        names = sorted(axes)
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(axes[n] for n in names))
        ]


def _same_kind(value: Parameter, default: Parameter) -> bool:
    """Whether ``value`` has the type of ``default`` (bool apart from int; int where float)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return type(value) is type(default)


STRATEGIES: dict[str, StrategySpec] = {
    "trend": StrategySpec(
        TrendFollower,
        ("BTC/USDT",),
        {"fast": 24, "slow": 168, "size": 1.0, "allow_short": False},
        {"fast": [12, 24, 48], "slow": [120, 168, 336]},
        "binance-1h",
    ),
    "meanrev": StrategySpec(
        PairMeanReversion,
        ("ETH/USDT", "BTC/USDT"),
        {"window": 720, "entry_z": 2.0, "exit_z": 0.5, "size": 0.5},
        {"window": [360, 720, 1440], "entry_z": [1.5, 2.0, 2.5]},
        "binance-1m",
    ),
    "overfit": StrategySpec(
        HourFilteredTrend,
        ("BTC/USDT",),
        {"fast": 10, "slow": 60, "start_hour": 0, "hours": 6, "size": 1.0},
        {
            "fast": [5, 10, 20, 30],
            "slow": [60, 120, 240],
            "start_hour": [0, 4, 8, 12, 16, 20],
            "hours": [4, 8],
            "size": [1.0],
        },
        "binance-1m",
    ),
}


def strategy_spec(name: str) -> StrategySpec:
    """The example strategy called ``name``.

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    if name not in STRATEGIES:
        raise ConfigError(
            f"unknown strategy {name!r}; choose one of {', '.join(sorted(STRATEGIES))}",
            "config.strategy",
        )
    return STRATEGIES[name]
