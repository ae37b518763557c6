"""The controller starts only registered versions with intact evidence, replaying their data."""

from __future__ import annotations

import json
import time
from pathlib import Path

from desks import Desk, make_desk, stop_deployments
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.controller.plan import ActionKind
from stratops.model.base import Stage, StrategyType
from stratops.registry.location import resolve_location

PAPER_V3 = "    paper: {version: 1, allocation: 100000}"


def _declare(desk: Desk, line: str) -> None:
    path = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    path.write_text(path.read_text().replace(PAPER_V3, line))
    desk.git("commit", "--quiet", "-am", "declare a version")
    desk.git("push", "--quiet", "origin", "main")


def test_an_unregistered_version_is_blocked_once_not_restarted_forever(
    tmp_path: Path, trend_model: Path, bundle: Path
) -> None:
    folder = tmp_path / "desk"
    location = resolve_location(None, environ={}, desk=lambda: folder)
    desk = make_desk(folder, location, bundle, trend_model, versions=0)  # nothing registered
    try:
        reconciler = desk.reconciler()
        first = reconciler.tick()
        assert first.applied == () and first.failed == ()
        blocked = first.blocked[("btc-trend", Stage.PAPER)]
        assert (blocked.version, blocked.code) == (1, "not_registered")
        assert desk.runtime().list() == []
        for _ in range(3):
            again = reconciler.tick()
            assert ("btc-trend", Stage.PAPER) in again.blocked and again.applied == ()
        events = [e for e in reconciler.audit.events() if e.action == "deployment_blocked"]
        assert len(events) == 1  # when the state begins, not once per tick
        assert 'stratops_strategies_blocked{reason="not_registered"} 1.0' in (
            reconciler.metrics.render().decode()
        )
        once = CliRunner().invoke(app, ["controller", "run", "--once", "--desk", str(desk.root)])
        assert once.exit_code == 1, once.output
        assert "blocked: btc-trend/paper v1 (not_registered)" in once.stdout
        assert "no deployments" in once.stdout

        desk.registry.register(
            "btc-trend", strategy_type=StrategyType.TREND, evidence=bundle, model_path=trend_model
        )
        unblocked = reconciler.tick()
        assert [a.kind for a in unblocked.applied] == [ActionKind.DEPLOY, ActionKind.SET_ALIAS]
        assert not unblocked.blocked
    finally:
        stop_deployments(desk)


def test_tampered_evidence_blocks_the_version(desk: Desk) -> None:
    run_id = desk.registry.get_version("btc-trend", 2).run_id
    assert run_id is not None
    stored = next((desk.root / ".stratops" / "artifacts").rglob(f"{run_id}/**/returns.parquet"))
    stored.write_bytes(stored.read_bytes() + b"tampered")
    _declare(desk, "    paper: {version: 2, allocation: 100000}")
    result = desk.reconciler().tick()
    blocked = result.blocked[("btc-trend", Stage.PAPER)]
    assert blocked.code == "evidence_mismatch"
    assert desk.runtime().list() == []


def test_a_deployment_replays_the_dataset_of_its_evidence(
    tmp_path: Path, trend_model: Path
) -> None:
    evidence = tmp_path / "evidence"
    backtest = CliRunner().invoke(
        app,
        ["backtest", "--strategy", "trend", "--data", "binance-1h", "--start", "2024-01-01",
         "--end", "2024-03-01", "--param", "fast=12", "--param", "slow=96",
         "--evidence-out", str(evidence), "--model-out", str(tmp_path / "model")],
    )  # fmt: skip
    assert backtest.exit_code == 0, backtest.output
    metadata = json.loads((evidence / "metadata.json").read_text())
    assert (metadata["dataset"], metadata["bar"]) == ("binance-1h", "1h")
    folder = tmp_path / "desk"
    location = resolve_location(None, environ={}, desk=lambda: folder)
    desk = make_desk(folder, location, evidence, tmp_path / "model", versions=1)
    try:
        result = desk.reconciler().tick()
        assert not result.blocked and not result.failed
        [status] = desk.runtime().list()
        assert status.spec.replay is not None
        run_json = next((desk.root / ".stratops" / "runtime").rglob("run.json"), None)
        deadline = time.monotonic() + 60
        while run_json is None and time.monotonic() < deadline:
            time.sleep(0.5)
            run_json = next((desk.root / ".stratops" / "runtime").rglob("run.json"), None)
        assert run_json is not None
        market = json.loads(run_json.read_text())["market"]
        assert market["name"] == metadata["dataset"]
        assert market["bar"] == metadata["bar"]
        assert (market["start"], market["end"]) == (
            metadata["dataRange"]["start"],
            metadata["dataRange"]["end"],
        )
    finally:
        stop_deployments(desk)


def test_evidence_tampered_after_deployment_blocks_its_restart(desk: Desk) -> None:
    reconciler = desk.reconciler()
    first = reconciler.tick()
    assert [a.kind for a in first.applied] == [ActionKind.DEPLOY, ActionKind.SET_ALIAS]
    run_id = desk.registry.get_version("btc-trend", 1).run_id
    assert run_id is not None
    stored = next((desk.root / ".stratops" / "artifacts").rglob(f"{run_id}/**/returns.parquet"))
    stored.write_bytes(stored.read_bytes() + b"tampered")
    assert not reconciler.tick().blocked  # running as declared: nothing to (re)start

    desk.runtime().remove("btc-trend", Stage.PAPER, actor="test", reason="it died")
    again = reconciler.tick()  # the same controller, which verified v1 before
    assert again.blocked[("btc-trend", Stage.PAPER)].code == "evidence_mismatch"
    assert again.applied == () and desk.runtime().list() == []


def test_evidence_tampered_after_the_merge_is_a_refusal_not_an_outage(desk: Desk) -> None:
    reconciler = desk.reconciler()
    reconciler.tick()
    merge = desk.promote_and_merge(1, Stage.CANARY, 50_000)
    run_id = desk.registry.get_version("btc-trend", 1).run_id
    assert run_id is not None
    stored = next((desk.root / ".stratops" / "artifacts").rglob(f"{run_id}/**/returns.parquet"))
    stored.write_bytes(stored.read_bytes() + b"tampered")
    result = reconciler.tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code, verdict.retryable) == (
        Stage.CANARY,
        1,
        "evidence_mismatch",
        False,
    )
    assert Stage.CANARY not in {s.spec.stage for s in desk.runtime().list()}
    promotion = desk.repo.rev_parse(f"{merge}^2")
    assert desk.forge.commit_statuses(promotion)[-1].description.startswith("refused:")
    [event] = [e for e in reconciler.audit.events() if e.action == "promotion_refused"]
    assert event.details["code"] == "evidence_mismatch"
    metrics = reconciler.metrics.render().decode()
    assert 'stratops_refusals_total{reason="evidence_mismatch"} 1.0' in metrics
