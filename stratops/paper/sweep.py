"""Trials: backtest configurations, keep each one's daily net returns and headline metrics.

The daily returns of every configuration tried form ``trials.parquet``, which the gates use
to deflate the chosen configuration's Sharpe ratio (DSR) and to estimate the probability of
backtest overfitting (PBO). The chosen configuration is the best in-sample Sharpe ratio —
exactly the selection those statistics correct for. Daily returns and drawdown follow the
product's one convention, :mod:`stratops.analytics.returns`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stratops.analytics.returns import DailyReturns, daily_returns, max_drawdown
from stratops.analytics.sharpe import sharpe_ratio
from stratops.paper.config import EngineConfig
from stratops.paper.engine import Session, run_backtest
from stratops.paper.market import Market
from stratops.paper.strategies import StrategySpec
from stratops.paper.strategies.base import Parameter

DAYS_PER_YEAR = 365


def trial_name(configuration: Mapping[str, Parameter]) -> str:
    """Column name of a configuration in ``trials.parquet``: ``fast=12,slow=120``."""
    return ",".join(f"{key}={value}" for key, value in sorted(configuration.items()))


@dataclass(frozen=True)
class Trial:
    """One configuration backtested: its daily net returns and headline metrics.

    ``metrics``: ``sharpe`` (daily, annualised over 365 days), ``net_return``, ``max_drawdown``
    (fractions of the allocation), ``turnover`` (traded notional / allocation) and ``trades``
    (fills).
    """

    configuration: dict[str, Parameter]
    daily: DailyReturns
    metrics: dict[str, float]

    @property
    def name(self) -> str:
        return trial_name(self.configuration)


def trial_of(session: Session, configuration: Mapping[str, Parameter]) -> Trial:
    """The trial a finished backtest session is, for its full ``configuration``."""
    portfolio = session.portfolio()
    daily = daily_returns(portfolio.close_ts, portfolio.net)
    fills = session.tables()["fills"]
    notional = np.abs(fills.column("quantity").to_numpy() * fills.column("price").to_numpy())
    metrics = {
        "sharpe": float(sharpe_ratio(daily.returns, DAYS_PER_YEAR))
        if daily.returns.size
        else float("nan"),
        "net_return": float(np.sum(portfolio.net)),
        "max_drawdown": max_drawdown(portfolio.net),
        "turnover": float(np.sum(notional)) / session.config.allocation,
        "trades": float(fills.num_rows),
    }
    return Trial(dict(configuration), daily, metrics)


def trials_frame(trials: Sequence[Trial]) -> pd.DataFrame:
    """``trials.parquet`` content: ``timestamp`` (UTC end of day) and one column per trial."""
    ends = trials[0].daily.ends
    for trial in trials:
        if not np.array_equal(trial.daily.ends, ends):
            raise ValueError(f"trial {trial.name} covers other days than {trials[0].name}")
    timestamps = pd.DataFrame({"timestamp": pd.to_datetime(ends, utc=True)})
    columns = pd.DataFrame({trial.name: trial.daily.returns for trial in trials})
    return pd.concat([timestamps, columns], axis=1)


@dataclass(frozen=True)
class SweepResult:
    """Every configuration tried, in order, and the index of the best."""

    trials: list[Trial]
    best: int

    @property
    def best_trial(self) -> Trial:
        """The trial with the highest in-sample Sharpe ratio."""
        return self.trials[self.best]


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
        The trials (full configurations: defaults and overrides) and the index of the best
        Sharpe ratio (NaN ranks last).
    """
    trials: list[Trial] = []
    for done, overrides in enumerate(configurations, start=1):
        session = run_backtest(market, spec.build(overrides), config)
        trials.append(trial_of(session, {**spec.defaults, **overrides}))
        if progress is not None:
            progress(done, len(configurations))
    scores = np.array([trial.metrics["sharpe"] for trial in trials])
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    return SweepResult(trials=trials, best=int(np.argmax(ranked)))
