"""The gate engine: run the checks a policy names for (strategy type, target stage)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stratops.gates import ENGINE_VERSION
from stratops.gates.checks import data_quality, latency, reconciliation, risk, stage, statistics
from stratops.gates.checks.inputs import GateInputs
from stratops.gates.context import GateContext
from stratops.gates.report import GateReport, ReportInputs
from stratops.gates.result import CheckResult
from stratops.model.canonical import canonical_digest
from stratops.model.evidence_data import EvidenceData
from stratops.model.policy import Check, Checks, GatePolicy

CheckFunction = Callable[[GateInputs, Any], CheckResult]

CHECKS: dict[str, CheckFunction] = {
    "coverage": data_quality.coverage,
    "gaps": data_quality.gaps,
    "duplicates": data_quality.duplicates,
    "staleness": data_quality.staleness,
    "outliers": data_quality.outliers,
    "look_ahead": data_quality.look_ahead,
    "min_history": data_quality.min_history,
    "latency": latency.latency,
    "max_drawdown": risk.max_drawdown,
    "expected_shortfall": risk.expected_shortfall,
    "leverage": risk.leverage,
    "concentration": risk.concentration,
    "capacity": risk.capacity,
    "psr": statistics.psr,
    "dsr": statistics.dsr,
    "min_track_record": statistics.min_track_record,
    "pbo": statistics.pbo,
    "stage_order": stage.stage_order,
    "min_time_in_stage": stage.min_time_in_stage,
    "canary_analysis": stage.canary_analysis,
    "reconciliation": reconciliation.reconciliation,
}


def checks_for(policy: GatePolicy, context: GateContext) -> dict[str, Check]:
    """The checks the policy names for the strategy type and target stage (none for paper)."""
    rules = policy.spec.rules.get(context.strategy_type)
    if rules is None:
        return {}
    checks: Checks | None = getattr(rules, context.target_stage.value, None)
    return checks.configured() if checks else {}


def policy_digest(policy: GatePolicy) -> str:
    """Digest of the policy's content: key order and formatting of the file do not matter."""
    return canonical_digest(policy.model_dump(mode="json", by_alias=True))


def evaluate(evidence: EvidenceData, policy: GatePolicy, context: GateContext) -> GateReport:
    """Evaluate the gates; a pure function of its three inputs."""
    inputs = GateInputs(evidence=evidence, context=context, policy=policy.spec)
    results = [CHECKS[name](inputs, check) for name, check in checks_for(policy, context).items()]
    if policy.spec.rules.get(context.strategy_type) is None:
        results = []
    return GateReport(
        engine_version=ENGINE_VERSION,
        strategy=context.strategy,
        version=context.version,
        strategy_type=context.strategy_type,
        target_stage=context.target_stage,
        allocation=context.allocation,
        as_of=context.as_of.isoformat(),
        inputs=ReportInputs(
            evidence_digest=evidence.digest,
            evidence_files=dict(sorted(evidence.file_digests.items())),
            policy=policy.name,
            policy_digest=policy_digest(policy),
            context_digest=canonical_digest(context.digested()),
        ),
        verdict="fail" if any(result.blocks for result in results) else "pass",
        checks=results,
        execution=None if context.execution is None else context.execution.given(),
    )
