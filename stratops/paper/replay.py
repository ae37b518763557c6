"""The expected PnL of a canary: its version replayed by the paper engine over the same bars.

The canary judge's ``pnl_vs_backtest`` compares a canary's PnL with what the *same version*,
run by the *same engine* over the *same window*, made (:mod:`stratops.canary.metrics`). The
engine is one code path for backtests and paper trading, so that expectation is computable:
:func:`expected_pnl` replays the version from the bar the canary started at, with the canary's
allocation, and returns the replay's ``pnl`` table, which the judge takes as
:attr:`stratops.canary.Canary.replay`. For a paper canary the two agree exactly (z = 0); on a
venue, the difference is what the venue cost beyond the engine's model.
"""

from __future__ import annotations

import pyarrow as pa

from stratops.paper.config import EngineConfig
from stratops.paper.engine import Strategy, run_backtest
from stratops.paper.market import Market


def expected_pnl(
    market: Market, strategy: Strategy, config: EngineConfig, start_ns: int, end_ns: int
) -> pa.Table:
    """The ``pnl`` table of ``strategy`` replayed on the bars opening in ``[start_ns, end_ns)``.

    Parameters
    ----------
    market
        The market the canary trades (its dataset, or the venue's candles).
    strategy
        The canary's version (``stratops.paper.strategy.PyfuncStrategy`` of its model).
    config
        The canary's engine configuration: its allocation, seed and execution model.
    start_ns, end_ns
        The canary's first bar and the judge's clock.

    Raises
    ------
    ConfigError
        When the range holds fewer than two bars.
    """
    return run_backtest(market.between(start_ns, end_ns), strategy, config).tables()["pnl"]
