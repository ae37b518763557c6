"""Risk calibrated to the capital allocation of the target stage.

Returns in the evidence are fractions of the allocation the backtest ran with, so drawdown and
expected shortfall read directly as fractions of any allocation. Trade sizes are not: capacity
scales them from the backtest's allocation to the target one.
"""

from __future__ import annotations

import numpy as np

from stratops.analytics import risk
from stratops.analytics.returns import max_drawdown as drawdown_of
from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, Family, compare, inconclusive
from stratops.model.policy import CapacityCheck, ExpectedShortfallCheck, MaxFractionCheck

FAMILY = Family.RISK
CAPACITY_PERCENTILE = 95.0


def max_drawdown(inputs: GateInputs, check: MaxFractionCheck) -> CheckResult:
    returns = inputs.evidence.returns_net
    if returns.size == 0:
        return inconclusive("max_drawdown", FAMILY, check.required, "no returns")
    value = drawdown_of(returns)
    return compare(
        "max_drawdown", FAMILY, check.required, value, "<=", check.max, "max drawdown / allocation"
    )


def expected_shortfall(inputs: GateInputs, check: ExpectedShortfallCheck) -> CheckResult:
    daily = inputs.daily
    if daily.size < 2:
        return inconclusive("expected_shortfall", FAMILY, check.required, "fewer than 2 days")
    value = float(risk.expected_shortfall(daily, level=check.level))
    return compare(
        "expected_shortfall",
        FAMILY,
        check.required,
        value,
        "<=",
        check.max,
        f"daily ES {check.level:g} / allocation",
    )


def leverage(inputs: GateInputs, check: MaxFractionCheck) -> CheckResult:
    exposure = inputs.evidence.gross_exposure
    if exposure is None or exposure.size == 0:
        return inconclusive("leverage", FAMILY, check.required, "returns lack gross_exposure")
    value = float(np.max(exposure))
    return compare(
        "leverage", FAMILY, check.required, value, "<=", check.max, "peak gross exposure"
    )


def concentration(inputs: GateInputs, check: MaxFractionCheck) -> CheckResult:
    trades = inputs.evidence.trades
    if trades.quantity.size == 0:
        return inconclusive("concentration", FAMILY, check.required, "no trades")
    _, symbol_index = np.unique(trades.symbol, return_inverse=True)
    notional = np.bincount(symbol_index, weights=np.abs(trades.quantity * trades.price))
    value = float(notional.max() / notional.sum())
    return compare(
        "concentration",
        FAMILY,
        check.required,
        value,
        "<=",
        check.max,
        "largest symbol's share of traded notional",
    )


def capacity(inputs: GateInputs, check: CapacityCheck) -> CheckResult:
    trades = inputs.evidence.trades
    backtest_allocation = inputs.evidence.metadata.allocation
    if trades.market_volume is None:
        return inconclusive("capacity", FAMILY, check.required, "trades lack market_volume")
    if backtest_allocation is None:
        return inconclusive(
            "capacity", FAMILY, check.required, "metadata lacks the backtest's allocation"
        )
    traded = trades.market_volume > 0
    if not traded.any():
        return inconclusive("capacity", FAMILY, check.required, "no market volume at fills")
    scale = inputs.context.allocation / backtest_allocation
    participation = scale * np.abs(trades.quantity[traded]) / trades.market_volume[traded]
    value = float(np.percentile(participation, CAPACITY_PERCENTILE))
    return compare(
        "capacity",
        FAMILY,
        check.required,
        value,
        "<=",
        check.max_participation,
        f"p{CAPACITY_PERCENTILE:g} share of bar volume at {inputs.context.allocation:,.0f}",
        details={"max_participation": float(participation.max()), "scale": scale},
    )
