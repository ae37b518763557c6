"""Reconciliation in the controller tick, with a real paper deployment process.

The venue is the paper venue: the paper process's execution simulator writes its own statement
(ccxt trades as JSON lines, ``<telemetry>/venue/``). A clean run has no break; a manual trade
on the venue (``external_activity``, a class the policy halts on) is one audited break, one halt
of the running process, the ``stratops_recon_breaks`` gauge, and a failing ``reconciliation``
gate for the strategy's promotions. A venue that disagrees with the ledger (a price shifted, a
trade missing) is found with the class of each break; a statement the desk's exchange adapter
exported into the policy's statements folder is the venue's word instead of the paper venue's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from desks import Desk
from ops_desk import export, ops_desk, ops_template, paper_run, statement, venue_trades
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from stratops.cli.main import app
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

__all__ = ["ops_desk", "ops_template"]  # fixtures


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
    ops_desk: Desk,
) -> None:
    desk = ops_desk
    paths = ControllerPaths(desk.root)
    reconciler = desk.reconciler()
    started = reconciler.tick()
    assert [a.kind for a in started.applied] == [ActionKind.DEPLOY, ActionKind.SET_ALIAS]
    before_reconciled = datetime.now(UTC)
    run, fills = paper_run(desk)
    trades = venue_trades(run)
    assert len(trades) == len(fills)

    clean = reconciler.tick()  # the paper venue's own statement, nothing exported
    assert clean.applied == ()
    state = BreakStore(paths.recon).state()
    assert state.breaks == []
    assert [(r.strategy, r.stage) for r in state.reconciled] == [("btc-trend", "paper")]
    assert _gauge(reconciler.metrics.render().decode(), "external_activity", "critical") == 0
    assert _reconciliation_check(desk, datetime.now(UTC)) is CheckStatus.PASS
    assert _reconciliation_check(desk, before_reconciled) is CheckStatus.INCONCLUSIVE

    manual = {**trades[-1], "id": "manual-1", "order": None, "clientOrderId": None}
    manual["timestamp"] = int(str(trades[-1]["timestamp"])) + 60_000
    with (run / "venue" / "trades.jsonl").open("a", encoding="utf-8") as venue:
        venue.write(json.dumps(manual) + "\n")  # a trade the desk did not send
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

    listed = CliRunner().invoke(app, ["recon", "breaks", "--desk", str(desk.root), "-o", "json"])
    assert listed.exit_code == 0, listed.output
    assert [(b["kind"], b["state"]) for b in json.loads(listed.stdout)] == [
        ("external_activity", "open")
    ]
    rerun = CliRunner().invoke(app, ["recon", "run", "--desk", str(desk.root), "-o", "json"])
    assert rerun.exit_code == 1, rerun.output  # a break is open
    [summary] = json.loads(rerun.stdout)["deployments"]
    assert (summary["open"], summary["halt"]) == (1, ["external_activity"])
    assert [e.action for e in reconciler.audit.events()] == events  # nothing changed

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


def test_a_venue_that_disagrees_with_the_ledger_is_found_with_each_break_class(
    ops_desk: Desk,
) -> None:
    desk = ops_desk
    store = BreakStore(ControllerPaths(desk.root).recon)
    reconciler = desk.reconciler()
    reconciler.tick()
    run, _ = paper_run(desk)
    trades = venue_trades(run)
    assert len(trades) >= 3
    assert reconciler.tick().applied == () and store.state().breaks == []

    shifted = {**trades[1], "price": float(str(trades[1]["price"])) * 1.01}
    export(run / "venue", [trades[0], shifted, *trades[3:]])  # a price moved, a trade dropped
    assert reconciler.tick().applied == ()  # neither class halts under this policy
    found = {(b.kind.value, b.order_key, b.state.value) for b in store.state().breaks}
    assert found == {
        ("price", int(str(trades[1]["clientOrderId"])), "open"),
        ("missing_external", int(str(trades[2]["clientOrderId"])), "open"),
    }
    drifted = {"symbol": "BTC/USDT", "side": "long", "contracts": 123.0, "timestamp": 0}
    with (run / "venue" / "positions.jsonl").open("a", encoding="utf-8") as venue:
        venue.write(json.dumps(drifted) + "\n")  # the venue's last word on the position
    reconciler.tick()
    [drift] = [b for b in store.state().breaks if b.kind.value == "position_drift"]
    assert (drift.state.value, drift.venue) == ("open", 123.0)

    export(statement(desk), trades)  # the adapter's export is the venue's word: all agree
    reconciler.tick()
    assert {b.state.value for b in store.state().breaks} == {"cleared"}
    export(statement(desk), [])  # the exported statement knows none of the paper fills
    reconciler.tick()
    active = [b for b in store.state().breaks if b.state.value == "open"]
    assert {b.kind.value for b in active} == {"missing_external"}
    assert len(active) == len(trades)
