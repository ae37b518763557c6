"""Latency: tick-to-order percentiles against the budget of the strategy type."""

from __future__ import annotations

import numpy as np

from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, CheckStatus, Family, inconclusive
from stratops.model.policy import LatencyCheck

PERCENTILES = {"p50": 50.0, "p99": 99.0, "p999": 99.9}


def latency(inputs: GateInputs, check: LatencyCheck) -> CheckResult:
    budget = inputs.policy.latency_budgets.get(inputs.context.strategy_type)
    samples = inputs.evidence.latency_ms
    if budget is None:
        return inconclusive("latency", Family.LATENCY, check.required, "no latency budget")
    if samples.size == 0:
        return inconclusive("latency", Family.LATENCY, check.required, "no latency samples")
    measured = dict(
        zip(PERCENTILES, np.percentile(samples, list(PERCENTILES.values())).tolist(), strict=True)
    )
    limits = {"p50": budget.p50_ms, "p99": budget.p99_ms, "p999": budget.p999_ms}
    over = [name for name in PERCENTILES if measured[name] > limits[name]]
    summary = ", ".join(f"{n} {measured[n]:.4g}/{limits[n]:g} ms" for n in PERCENTILES)
    return CheckResult(
        name="latency",
        family=Family.LATENCY,
        status=CheckStatus.FAIL if over else CheckStatus.PASS,
        required=check.required,
        value=measured["p99"],
        comparison="<=",
        threshold=limits["p99"],
        details={**{f"{n}_ms": v for n, v in measured.items()}, "samples": float(samples.size)},
        explanation=(f"over budget at {', '.join(over)}: " if over else "within budget: ")
        + summary,
    )
