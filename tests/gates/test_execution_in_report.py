"""The execution parameters registered with a version, in its gate report and its digest."""

from __future__ import annotations

import json

from builders import context, evidence
from test_engine import POLICY

from stratops.gates.engine import evaluate
from stratops.model.execution import ExecutionSettings

COSTLY = ExecutionSettings(taker_fee_bps=10.0, impact_coefficient=3.0)


def test_a_report_without_execution_parameters_digests_what_it_did_before() -> None:
    plain = context()
    assert "execution" not in plain.digested()
    report = evaluate(evidence(), POLICY, plain)
    assert "execution" not in json.loads(report.canonical)
    assert "Execution registered" not in report.markdown()


def test_the_report_shows_and_digests_the_execution_parameters() -> None:
    base = evaluate(evidence(), POLICY, context())
    costly = evaluate(evidence(), POLICY, context(execution=COSTLY))
    assert costly.execution == {"takerFeeBps": 10.0, "impactCoefficient": 3.0}
    assert costly.verdict == base.verdict  # shown to the reviewer, judged by the canary
    assert costly.inputs.context_digest != base.inputs.context_digest
    assert costly.digest != base.digest
    assert "Execution registered with the version: `takerFeeBps` 10.0, `impactCoefficient` 3.0" in (
        costly.markdown()
    )
    cheaper = COSTLY.model_copy(update={"taker_fee_bps": 9.0})
    assert evaluate(evidence(), POLICY, context(execution=cheaper)).digest != costly.digest
