"""Parameter sweeps: backtest every configuration, keep each one's daily net returns.

The daily returns of every configuration tried form ``trials.parquet``, which the gates use
to deflate the chosen configuration's Sharpe ratio (DSR) and to estimate the probability of
backtest overfitting (PBO). The chosen configuration is the best in-sample Sharpe ratio —
exactly the selection those statistics correct for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratops.paper.config import EngineConfig
from stratops.paper.engine import run_backtest
from stratops.paper.market import Market
from stratops.paper.returns import daily_returns, sharpe, trials_frame
from stratops.paper.strategies import StrategySpec
from stratops.paper.strategies.base import Parameter


def trial_name(configuration: Mapping[str, Parameter]) -> str:
    """Column name of a configuration in ``trials.parquet``: ``fast=12,slow=120``."""
    return ",".join(f"{key}={value}" for key, value in sorted(configuration.items()))


@dataclass(frozen=True)
class SweepResult:
    """Every configuration tried, its daily net returns and score, and the best one."""

    configurations: list[dict[str, Parameter]]
    trials: pd.DataFrame
    scores: list[float]
    best: int

    @property
    def best_configuration(self) -> dict[str, Parameter]:
        """The configuration with the highest in-sample Sharpe ratio."""
        return self.configurations[self.best]


def run_sweep(
    market: Market,
    spec: StrategySpec,
    configurations: Sequence[Mapping[str, Parameter]],
    config: EngineConfig,
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Backtest each configuration of ``spec`` on ``market``.

    Parameters
    ----------
    market
        The in-sample data.
    spec
        The strategy family.
    configurations
        Parameter overrides, one per trial (at least one).
    config
        Engine settings shared by every trial.
    progress
        Called with (done, total) after each trial.

    Returns
    -------
    SweepResult
        Trials frame (``timestamp`` + one column per configuration), Sharpe ratios (NaN
        ranks last) and the index of the best.
    """
    columns: dict[str, np.ndarray] = {}
    scores: list[float] = []
    ends = np.zeros(0, dtype=np.int64)
    for done, overrides in enumerate(configurations, start=1):
        session = run_backtest(market, spec.build(overrides), config)
        portfolio = session.portfolio()
        ends, daily = daily_returns(portfolio.close_ts, portfolio.net)
        columns[trial_name({**spec.defaults, **overrides})] = daily
        scores.append(sharpe(daily))
        if progress is not None:
            progress(done, len(configurations))
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    return SweepResult(
        configurations=[dict(c) for c in configurations],
        trials=trials_frame(ends, columns),
        scores=scores,
        best=int(np.argmax(ranked)),
    )
