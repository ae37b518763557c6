"""Data quality: is the evidence computed on data a reviewer can trust?"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from stratops.analytics.returns import NS_PER_DAY
from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, Family, compare, inconclusive
from stratops.model.base import duration_seconds
from stratops.model.policy import (
    MaxCountCheck,
    MinFractionCheck,
    MinHistoryCheck,
    OutliersCheck,
    StalenessCheck,
)

FAMILY = Family.DATA_QUALITY


def coverage(inputs: GateInputs, check: MinFractionCheck) -> CheckResult:
    quality = inputs.evidence.data_quality
    if quality.expected_rows == 0:
        return inconclusive("coverage", FAMILY, check.required, "dataset expects no rows")
    value = quality.rows / quality.expected_rows
    return compare("coverage", FAMILY, check.required, value, ">=", check.min, "rows/expected")


def gaps(inputs: GateInputs, check: MaxCountCheck) -> CheckResult:
    value = float(inputs.evidence.data_quality.gaps)
    return compare("gaps", FAMILY, check.required, value, "<=", check.max, "gaps in the data")


def duplicates(inputs: GateInputs, check: MaxCountCheck) -> CheckResult:
    value = float(inputs.evidence.data_quality.duplicates)
    return compare("duplicates", FAMILY, check.required, value, "<=", check.max, "duplicate rows")


def staleness(inputs: GateInputs, check: StalenessCheck) -> CheckResult:
    try:
        end = datetime.fromisoformat(inputs.evidence.data_quality.end)
    except ValueError:
        return inconclusive("staleness", FAMILY, check.required, "data end is not ISO 8601")
    if end.tzinfo is None:
        return inconclusive("staleness", FAMILY, check.required, "data end has no time zone")
    age_days = inputs.context.age_seconds(end) / 86_400
    limit_days = duration_seconds(check.max_age) / 86_400
    return compare(
        "staleness", FAMILY, check.required, age_days, "<=", limit_days, "days since data end"
    )


def outliers(inputs: GateInputs, check: OutliersCheck) -> CheckResult:
    returns = inputs.evidence.returns_net
    if returns.size < 2:
        return inconclusive("outliers", FAMILY, check.required, "fewer than 2 returns")
    std = float(np.std(returns, ddof=1))
    if std == 0:
        return inconclusive("outliers", FAMILY, check.required, "returns do not vary")
    z = np.abs(returns - returns.mean()) / std
    value = float(np.count_nonzero(z > check.z_score)) / returns.size
    return compare(
        "outliers",
        FAMILY,
        check.required,
        value,
        "<=",
        check.max_fraction,
        f"share of returns beyond {check.z_score:g} sd",
    )


def look_ahead(inputs: GateInputs, check: MaxCountCheck) -> CheckResult:
    trades = inputs.evidence.trades
    if trades.decision_time is None or trades.data_time is None:
        return inconclusive(
            "look_ahead", FAMILY, check.required, "trades lack decision_time or data_time"
        )
    value = float(np.count_nonzero(trades.decision_time < trades.data_time))
    return compare(
        "look_ahead", FAMILY, check.required, value, "<=", check.max, "decisions before their data"
    )


def min_history(inputs: GateInputs, check: MinHistoryCheck) -> CheckResult:
    stamps = inputs.evidence.returns_timestamp
    if stamps.size < 2:
        return inconclusive("min_history", FAMILY, check.required, "fewer than 2 returns")
    days = float(stamps[-1] - stamps[0]) / NS_PER_DAY
    return compare(
        "min_history", FAMILY, check.required, days, ">=", check.min_days, "days of history"
    )
