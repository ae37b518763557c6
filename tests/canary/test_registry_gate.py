"""The path to live: a final analysis logged to MLflow on its version, and the live gate reading
it back from the registry and checking its digest. Real MLflow, the embedded SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from canary_builders import at, canary, template
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner, Result

from stratops.canary import AnalysisRun, RunPhase, judge
from stratops.cli.main import app
from stratops.controller.gate_evaluation import evaluate_request
from stratops.gates.report import GateReport
from stratops.gitops.evaluation import GateRequest
from stratops.model.analysis import CanaryMetric as M
from stratops.model.base import Stage, StrategyType
from stratops.model.policy import GatePolicy
from stratops.registry import BadInput, EvidenceMismatch, NotFound, Registry
from stratops.registry.location import embedded_location
from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle, write_variant

POLICY = Path(__file__).resolve().parents[1] / "fixtures" / "desk" / "policy" / "desk-policy.yaml"
STRATEGY = "btc-trend"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A registry holding v1 and v2 of btc-trend, no analysis logged on either."""
    root = tmp_path_factory.mktemp("desk")
    found = Registry(embedded_location(root))
    model = save_constant_model(root / "model", position=0.5)
    bundle = write_synthetic_bundle(root / "bundle")
    found.register(STRATEGY, strategy_type=StrategyType.TREND, evidence=bundle, model_path=model)
    for version in (2,):
        found.register(
            STRATEGY,
            strategy_type=StrategyType.TREND,
            evidence=write_variant(bundle, root / f"bundle-{version}", version),
            model_uri=f"models:/{STRATEGY}/1",
        )
    return found


def passed(version: int) -> AnalysisRun:
    run = judge(canary(version=version), at(2.5))
    assert run.phase is RunPhase.PASSED
    return run


def live_gate(registry: Registry, version: int, as_of: datetime | None = None) -> tuple[str, str]:
    """The canary_analysis check of promoting ``version`` to live by a commit made ``as_of``
    (default: now, after everything logged so far)."""
    policy = GatePolicy.model_validate(yaml.safe_load(POLICY.read_text()))
    request = GateRequest(
        strategy=STRATEGY,
        strategy_type=StrategyType.TREND,
        version=version,
        current_stage=Stage.CANARY,
        target_stage=Stage.LIVE,
        allocation=1_000_000,
        retired=False,
        as_of=as_of or datetime.now(UTC) + timedelta(seconds=1),
        policy=policy,
    )
    report: GateReport = evaluate_request(registry, request)
    check = next(c for c in report.checks if c.name == "canary_analysis")
    return check.status.value, check.explanation


def stored_file(registry: Registry, run_id: str) -> Path:
    root = registry.location.artifact_root
    assert root is not None
    found = list(root.rglob(f"{run_id}/artifacts/canary-analysis/analysis.json"))
    assert len(found) == 1
    return found[0]


def test_a_passed_analysis_on_the_version_opens_the_live_gate(registry: Registry) -> None:
    assert registry.canary_analysis(STRATEGY, 1) is None  # nothing logged yet
    with pytest.raises(NotFound, match="no canary analysis is logged on version 1"):
        registry.canary_analysis_run(STRATEGY, 1)
    assert live_gate(registry, 1) == ("inconclusive", "no canary analysis for this version yet")
    run = passed(1)
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    run_id = registry.log_canary_analysis(run)
    assert live_gate(registry, 1, before)[0] == "inconclusive"  # promoted before it passed
    tags = MlflowClient(registry.location.tracking_uri).get_model_version(STRATEGY, "1").tags
    assert tags["stratops.canary_analysis.run_id"] == run_id
    assert tags["stratops.canary_analysis.digest"] == run.digest
    assert tags["stratops.canary_analysis.phase"] == "passed"
    assert stored_file(registry, run_id).read_bytes() == run.canonical
    assert registry.canary_analysis_run(STRATEGY, 1).canonical == run.canonical
    status, why = live_gate(registry, 1)
    assert status == "pass"
    assert why.startswith(f"canary analysis passed (sha256 {run.digest[:12]}…): passed: ")


def test_a_tampered_analysis_fails_the_gate_with_a_clear_reason(registry: Registry) -> None:
    run = passed(2)
    run_id = registry.log_canary_analysis(run)
    path = stored_file(registry, run_id)
    data = json.loads(path.read_bytes())
    data["measurements"][0]["value"] = 0.1  # a nicer slippage than measured
    path.write_text(json.dumps(data))
    status, why = live_gate(registry, 2)
    assert status == "fail"
    assert why.startswith(f"canary analysis run {run_id} does not match its digest")
    assert "(tampered or corrupted)" in why
    with pytest.raises(EvidenceMismatch, match="does not match its digest"):
        registry.canary_analysis_run(STRATEGY, 2)
    path.write_text("{not json")
    assert live_gate(registry, 2)[1].startswith(f"canary analysis run {run_id} cannot be read")


def test_a_failed_analysis_or_one_of_another_version_keeps_live_closed(registry: Registry) -> None:
    strict = template(metrics=(M.DRAWDOWN,), halt_on=[{"metric": "drawdown", "above": 0.0}])
    failed = judge(canary(version=2, template=strict), at(2))
    assert failed.phase is RunPhase.FAILED
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    registry.log_canary_analysis(failed)
    status, why = live_gate(registry, 2)
    assert (status, why) == ("fail", f"canary analysis failed: {failed.reason}")
    # a promotion made before this analysis was logged is judged on what was logged then
    assert live_gate(registry, 2, before)[1] != f"canary analysis failed: {failed.reason}"
    with pytest.raises(BadInput, match="still running"):
        registry.log_canary_analysis(judge(canary(version=2), at(1.5)))
    with pytest.raises(NotFound, match="no version 3"):
        registry.log_canary_analysis(passed(3))


def _cli(*args: str) -> Result:
    return CliRunner().invoke(app, ["canary", "analysis", *args])


def test_canary_analysis_prints_the_logged_run_and_refuses_a_tampered_one(
    registry: Registry,
) -> None:
    run = judge(canary(version=1, template=template(minDuration="3h")), at(3))
    assert run.phase is RunPhase.PASSED
    run_id = registry.log_canary_analysis(run)
    uri = ("--tracking-uri", registry.location.tracking_uri)
    as_json = _cli(STRATEGY, "1", *uri, "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    printed = json.loads(as_json.stdout)
    assert printed["digest"] == run.digest
    assert AnalysisRun.from_storage(printed["run"]).digest == run.digest
    table = _cli(STRATEGY, "1", *uri)
    assert table.exit_code == 0
    assert "passed → promote" in table.stdout
    assert "passed: 3h analysed >= minDuration 3h" in table.stdout
    assert "measurement(s) by metric and regime" in table.stdout
    assert "slippage_bps" in table.stdout and "normal" in table.stdout

    path = stored_file(registry, run_id)
    path.write_bytes(path.read_bytes().replace(b'"phase":"passed"', b'"phase":"failed"', 1))
    tampered = _cli(STRATEGY, "1", *uri, "-o", "json")
    assert tampered.exit_code == 1
    assert json.loads(tampered.stdout)["code"] == "evidence.mismatch"
    assert "does not match its digest" in tampered.stderr
    missing = _cli(STRATEGY, "9", *uri)
    assert missing.exit_code == 2 and "has no version 9" in missing.stderr
