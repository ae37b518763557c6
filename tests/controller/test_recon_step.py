"""Reconciliation in the controller tick, with a real paper deployment process.

The desk's exchange adapter is played by the test: it exports the venue's statement of the
deployment (ccxt trades as JSON lines) from the fills the paper process wrote, into the
ReconciliationPolicy's statements folder. A clean statement has no break; a manual trade on
the venue (``external_activity``, a class the policy halts on) is one audited break, one halt
of the running process, the ``stratops_recon_breaks`` gauge, and a failing ``reconciliation``
gate for the strategy's promotions.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from desks import DESK_MANIFESTS, Desk, copy_desk, make_desk, stop_deployments
from prometheus_client.parser import text_string_to_metric_families

from stratops.controller.assembly import ControllerPaths, desk_evaluator
from stratops.controller.gate_evaluation import evaluate_request, stored_breaks
from stratops.controller.plan import ActionKind
from stratops.gates.result import CheckStatus
from stratops.gitops.desk import load_desk
from stratops.gitops.evaluation import GateRequest
from stratops.gitops.plan import PromotionRequest
from stratops.gitops.promote import promote
from stratops.model.base import Stage, StrategyType
from stratops.model.deployment import DeploymentState
from stratops.ops.reconciliation.store import BreakStore
from stratops.paper.control import read_status
from stratops.registry.location import resolve_location
from stratops.registry.synthetic import write_synthetic_bundle
from stratops.telemetry import reader

REPLAY_START = datetime(2024, 7, 27, tzinfo=UTC)  # inside binance-1m (see stratops/data)
REPLAY_MINUTES = 360  # six hours: six seconds at the runtime's 3600x
RECON_POLICY = {
    "apiVersion": "stratops.io/v1alpha1",
    "kind": "ReconciliationPolicy",
    "metadata": {"name": "test-recon"},
    "spec": {"halt": ["external_activity"], "statements": "venue-exports"},
}


@pytest.fixture(scope="module")
def recon_template(tmp_path_factory: pytest.TempPathFactory, trend_model: Path) -> Desk:
    """The controller test desk with a ReconciliationPolicy, a reconciliation gate on canary,
    and a version whose evidence replays six hours of binance-1m."""
    scratch = tmp_path_factory.mktemp("recon")
    manifests = scratch / "manifests"
    shutil.copytree(DESK_MANIFESTS, manifests)
    (manifests / "reconciliation").mkdir()
    (manifests / "reconciliation" / "recon.yaml").write_text(yaml.safe_dump(RECON_POLICY))
    policy_file = manifests / "policy" / "policy.yaml"
    policy = yaml.safe_load(policy_file.read_text())
    policy["spec"]["rules"]["trend"]["canary"]["reconciliation"] = {}
    policy_file.write_text(yaml.safe_dump(policy))
    bundle = write_synthetic_bundle(
        scratch / "bundle",
        return_rows=REPLAY_MINUTES,
        trial_days=1,
        start=REPLAY_START,
        strategy_type=StrategyType.TREND,
    )
    metadata_file = bundle / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["dataset"] = "binance-1m"
    metadata_file.write_text(json.dumps(metadata, indent=2))
    folder = scratch / "desk"
    location = resolve_location(None, environ={}, desk=lambda: folder)
    return make_desk(folder, location, bundle, trend_model, versions=1, manifests=manifests)


@pytest.fixture
def recon_desk(tmp_path: Path, recon_template: Desk) -> Iterator[Desk]:
    folder = tmp_path / "desk"
    made = copy_desk(
        recon_template, folder, resolve_location(None, environ={}, desk=lambda: folder)
    )
    yield made
    stop_deployments(made)


def _caught_up(run: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run)
        if status is not None and status.status == "caught_up":
            return
        time.sleep(0.2)
    raise AssertionError(f"{run} did not catch up in {timeout:g}s: {read_status(run)}")


def _ccxt_trades(fills: pd.DataFrame) -> list[dict[str, object]]:
    """What the venue reports of the deployment's fills, as ccxt trades."""
    return [
        {
            "id": str(100_000 + number),
            "order": str(10**12 + int(fill.order_id)),
            "clientOrderId": str(int(fill.order_id)),
            "timestamp": int(fill.ts.value // 1_000_000),
            "symbol": fill.symbol,
            "side": fill.side,
            "price": float(fill.price),
            "amount": float(fill.quantity),
            "fee": {"cost": float(fill.fee), "currency": "USDT"},
        }
        for number, fill in enumerate(fills.itertuples())
    ]


def _export(folder: Path, trades: list[dict[str, object]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(trade) + "\n" for trade in trades)
    (folder / "trades.jsonl").write_text(lines, encoding="utf-8")


def _gauge(text: str, kind: str, severity: str) -> float:
    wanted = {"strategy": "btc-trend", "class": kind, "severity": severity}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "stratops_recon_breaks" and sample.labels == wanted:
                return float(sample.value)
    raise AssertionError(f"no stratops_recon_breaks sample for {kind}/{severity}")


def _request(desk: Desk, as_of: datetime) -> GateRequest:
    policy = load_desk([desk.root / "manifests"]).policy
    assert policy is not None
    return GateRequest(
        strategy="btc-trend",
        strategy_type=StrategyType.TREND,
        version=1,
        current_stage=Stage.PAPER,
        target_stage=Stage.CANARY,
        allocation=50_000,
        retired=False,
        as_of=as_of,
        policy=policy,
    )


def _reconciliation_check(desk: Desk, as_of: datetime) -> CheckStatus:
    breaks = stored_breaks(ControllerPaths(desk.root).recon)
    report = evaluate_request(desk.registry, _request(desk, as_of), breaks)
    [check] = [c for c in report.checks if c.name == "reconciliation"]
    return check.status


def test_a_manual_venue_trade_halts_the_paper_deployment_once_and_blocks_promotion(
    recon_desk: Desk,
) -> None:
    desk = recon_desk
    paths = ControllerPaths(desk.root)
    reconciler = desk.reconciler()
    started = reconciler.tick()
    assert [a.kind for a in started.applied] == [ActionKind.DEPLOY, ActionKind.SET_ALIAS]
    before_reconciled = datetime.now(UTC)
    run = desk.runtime().folder("btc-trend", Stage.PAPER) / "v1" / "telemetry"
    _caught_up(run)
    fills = reader.read(run, "fills").to_pandas()
    assert len(fills) > 0, "the replay made no fill to reconcile"
    statement = desk.root / "venue-exports" / "btc-trend--paper"
    trades = _ccxt_trades(fills)

    nothing = reconciler.tick()  # no statement exported yet: nothing reconciled
    assert nothing.applied == () and not paths.recon.exists()

    _export(statement, trades)
    clean = reconciler.tick()
    assert clean.applied == ()
    state = BreakStore(paths.recon).state()
    assert state.breaks == []
    assert [(r.strategy, r.stage) for r in state.reconciled] == [("btc-trend", "paper")]
    assert _gauge(reconciler.metrics.render().decode(), "external_activity", "critical") == 0
    assert _reconciliation_check(desk, datetime.now(UTC)) is CheckStatus.PASS
    assert _reconciliation_check(desk, before_reconciled) is CheckStatus.INCONCLUSIVE

    last = fills.iloc[-1]
    manual = {**trades[-1], "id": "manual-1", "order": None, "clientOrderId": None}
    manual["timestamp"] = int(last.ts.value // 1_000_000) + 60_000
    _export(statement, [*trades, manual])
    broken = reconciler.tick()
    [halt] = broken.applied
    assert halt.kind is ActionKind.HALT and halt.stage is Stage.PAPER
    assert halt.reason.startswith("reconciliation break halts the deployment: external_activity")
    [status] = desk.runtime().list()
    assert status.state is DeploymentState.HALTED
    assert status.halted is not None and status.halted.value == "flatten"  # acknowledged
    assert _gauge(reconciler.metrics.render().decode(), "external_activity", "critical") == 1

    again = reconciler.tick()
    assert again.applied == ()
    events = [e.action for e in reconciler.audit.events()]
    assert events.count("recon_break_open") == 1
    assert events.count("halt") == 1
    [opened] = [e for e in reconciler.audit.events() if e.action == "recon_break_open"]
    assert opened.strategy == "btc-trend" and opened.reason.startswith("external_activity")

    assert _reconciliation_check(desk, datetime.now(UTC)) is CheckStatus.FAIL
    done = promote(
        desk.repo,
        desk.forge,
        desk_evaluator(desk.root),
        PromotionRequest(
            strategy="btc-trend",
            version=1,
            target_stage=Stage.CANARY,
            allocation=50_000,
            analysis="trend-canary",
        ),
        author="rita",
        as_of=datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2),
    )
    assert done.pull_request is None
    [check] = [c for c in done.report.checks if c.name == "reconciliation"]
    assert check.status is CheckStatus.FAIL
    assert "1 open reconciliation break(s)" in check.explanation
