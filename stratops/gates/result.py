"""Check outcomes as data: a closed set of statuses, ordered best to worst."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class CheckStatus(StrEnum):
    """Pass, fail, or inconclusive (could not measure: fails closed when required)."""

    PASS = "pass"
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return list(CheckStatus).index(self)


class Family(StrEnum):
    DATA_QUALITY = "data_quality"
    LATENCY = "latency"
    RISK = "risk"
    STATISTICS = "statistics"
    STAGE = "stage"
    OPERATIONS = "operations"


Comparison = Literal[">=", "<="]


class CheckResult(BaseModel):
    """One check: its measurement, the threshold, and a one-line explanation."""

    model_config = ConfigDict(frozen=True)

    name: str
    family: Family
    status: CheckStatus
    required: bool
    value: float | None
    comparison: Comparison | None
    threshold: float | None
    details: dict[str, float] = {}
    explanation: str

    @property
    def blocks(self) -> bool:
        """A required check that did not pass blocks the promotion."""
        return self.required and self.status is not CheckStatus.PASS


def compare(
    name: str,
    family: Family,
    required: bool,
    value: float,
    comparison: Comparison,
    threshold: float,
    what: str,
    details: dict[str, float] | None = None,
) -> CheckResult:
    """A pass/fail result from ``value comparison threshold`` (NaN is inconclusive)."""
    if value != value:  # NaN: could not be measured
        return inconclusive(name, family, required, f"{what} could not be computed (NaN)")
    ok = value >= threshold if comparison == ">=" else value <= threshold
    return CheckResult(
        name=name,
        family=family,
        status=CheckStatus.PASS if ok else CheckStatus.FAIL,
        required=required,
        value=value,
        comparison=comparison,
        threshold=threshold,
        details=details or {},
        explanation=f"{what} {value:.4g} {'' if ok else 'not '}{comparison} {threshold:.4g}",
    )


def inconclusive(name: str, family: Family, required: bool, why: str) -> CheckResult:
    return CheckResult(
        name=name,
        family=family,
        status=CheckStatus.INCONCLUSIVE,
        required=required,
        value=None,
        comparison=None,
        threshold=None,
        explanation=why,
    )
