"""Reconciliation: a strategy with open breaks between its ledger and the venue does not move."""

from __future__ import annotations

from stratops.gates.checks.inputs import GateInputs
from stratops.gates.result import CheckResult, Family, compare, inconclusive
from stratops.model.policy import ReconciliationCheck


def reconciliation(inputs: GateInputs, check: ReconciliationCheck) -> CheckResult:
    breaks = inputs.context.open_breaks
    if breaks is None:
        return inconclusive(
            "reconciliation",
            Family.OPERATIONS,
            check.required,
            "no current reconciliation of the strategy's deployments: none by the promotion's "
            "time, or the break summary the controller publishes is missing or stale",
        )
    result = compare(
        "reconciliation",
        Family.OPERATIONS,
        check.required,
        float(breaks),
        "<=",
        float(check.max_open),
        "open reconciliation breaks",
    )
    return result.model_copy(
        update={"explanation": f"{breaks} open reconciliation break(s), at most {check.max_open}"}
    )
