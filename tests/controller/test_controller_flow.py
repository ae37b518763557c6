"""The controller end to end: Git, the local forge, embedded MLflow, real paper processes."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time

from desks import Desk
from mlflow.tracking import MlflowClient

from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import verify_chain
from stratops.controller.audit_remote import remote_audit, replicate
from stratops.controller.loop import run
from stratops.controller.observability import Probes
from stratops.controller.plan import ActionKind
from stratops.controller.reconcile import TickResult
from stratops.gitops.forge.models import StatusState
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.runtime.local import _pids_mentioning


def running(desk: Desk) -> dict[tuple[str, str], tuple[int, DeploymentState]]:
    return {
        (s.spec.strategy, s.spec.stage.value): (s.spec.version, s.state)
        for s in desk.runtime().list()
    }


def actions(desk: Desk) -> list[str]:
    return [e.action for e in desk.reconciler().audit.events()]


def test_promotion_flow_from_paper_to_canary(desk: Desk) -> None:
    first = desk.reconciler().tick()
    assert [a.kind for a in first.applied] == [ActionKind.DEPLOY, ActionKind.SET_ALIAS]
    assert running(desk) == {("btc-trend", "paper"): (1, DeploymentState.RUNNING)}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}
    statuses = desk.forge.commit_statuses(first.head or "")
    assert statuses[-1].context == "stratops/deployed"
    assert statuses[-1].state is StatusState.SUCCESS

    idle = desk.reconciler().tick()
    assert idle.plan is not None and idle.plan.empty
    assert actions(desk) == ["deploy", "set_alias", "commit_applied"]

    merge = desk.promote_and_merge(1, Stage.CANARY, 50_000)
    promoted = desk.reconciler().tick()
    assert promoted.head == merge
    assert not promoted.refused
    assert running(desk)[("btc-trend", "canary")] == (1, DeploymentState.RUNNING)
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1, Stage.CANARY: 1}
    history = desk.registry.alias_history("btc-trend")
    assert [(c.stage, c.to_version, c.actor) for c in history][-1] == (
        Stage.CANARY,
        1,
        "stratops-controller",
    )
    assert verify_chain(ControllerPaths(desk.root).audit) is None


def test_direct_push_that_promotes_is_refused(desk: Desk) -> None:
    desk.reconciler().tick()
    manifest = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    text = manifest.read_text().replace(
        "    paper: {version: 1, allocation: 100000}",
        "    paper: {version: 1, allocation: 100000}\n"
        "    canary: {version: 2, allocation: 50000, analysis: trend-canary}",
    )
    manifest.write_text(text)
    desk.git("commit", "--quiet", "-am", "promote v2 without review")
    desk.git("push", "--quiet", "origin", "main")
    result = desk.reconciler().tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 2, "unreviewed")
    assert ("btc-trend", "canary") not in running(desk)
    assert "promotion_refused" in actions(desk)
    head_status = desk.forge.commit_statuses(result.head or "")[-1]
    assert head_status.state is StatusState.FAILURE
    assert head_status.description == "not fully deployed: refused: btc-trend"
    again = desk.reconciler().tick()  # refused again, reported once
    assert "btc-trend" in again.refused
    assert actions(desk).count("promotion_refused") == 1


def test_killed_deployment_is_restarted_and_restart_adopts(desk: Desk) -> None:
    desk.reconciler().tick()
    (status,) = desk.runtime().list()
    os.kill(int(status.instance), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while desk.runtime().list()[0].state is not DeploymentState.FAILED:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    healed = desk.reconciler().tick()
    assert [a.kind for a in healed.applied] == [ActionKind.RESTART]
    assert "restart" in actions(desk)
    desk.reconciler().tick()  # a fresh controller adopts, never duplicates
    folder = desk.runtime().folder("btc-trend", Stage.PAPER)
    assert len(_pids_mentioning(f"{folder}{os.sep}")) == 1


def test_rewritten_history_stops_reconciliation(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.git("commit", "--quiet", "--amend", "-m", "rewritten")
    desk.git("push", "--quiet", "--force", "origin", "main")
    result = desk.reconciler().tick()
    assert result.plan is None
    assert any("history rewritten" in p for p in result.problems)
    assert "history_rewritten" in actions(desk)


def start_once(desk: Desk) -> TickResult | None:
    """A controller process starting: restore the audit log from the remote, tick once."""
    return run(
        desk.reconciler(),
        interval=0.0,
        stop=threading.Event(),
        trigger=threading.Event(),
        probes=Probes(stale_after_seconds=60.0),
        audit_log=ControllerPaths(desk.root).audit,
        once=True,
    )


def test_rewritten_history_is_seen_by_a_controller_without_local_state(desk: Desk) -> None:
    applied = start_once(desk)
    assert applied is not None and applied.applied  # and the audit log replicated
    desk.git("commit", "--quiet", "--amend", "-m", "rewritten")
    desk.git("push", "--quiet", "--force", "origin", "main")
    paths = ControllerPaths(desk.root)
    shutil.rmtree(paths.state.parent)  # a new pod: no state.json, no local audit log
    assert not paths.audit.exists()
    result = start_once(desk)
    assert result is not None and result.plan is None
    assert any("history rewritten" in p for p in result.problems)
    rewritten = [e for e in desk.reconciler().audit.events() if e.action == "history_rewritten"]
    assert [(e.commit, e.details["applied"]) for e in rewritten] == [(result.head, applied.head)]
    assert verify_chain(paths.audit) is None  # the restored chain, continued
    shutil.rmtree(paths.state.parent)  # again: the refused head it recorded was never applied
    again = start_once(desk)
    assert again is not None and again.plan is None
    assert any("history rewritten" in p for p in again.problems)


def test_first_start_without_any_audit_log_accepts_main(desk: Desk) -> None:
    assert desk.repo.remote_branch("stratops/audit") is None
    result = start_once(desk)
    assert result is not None and not result.problems
    assert [a.kind for a in result.applied] == [ActionKind.DEPLOY, ActionKind.SET_ALIAS]
    events = desk.reconciler().audit.events()
    assert [(e.action, e.commit) for e in events][-1] == ("commit_applied", result.head)


def test_invalid_revision_keeps_the_last_good_state(desk: Desk) -> None:
    desk.reconciler().tick()
    manifest = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    manifest.write_text(manifest.read_text().replace("strategyType: trend", "strategyType: ???"))
    desk.git("commit", "--quiet", "-am", "break the manifest")
    desk.git("push", "--quiet", "origin", "main")
    result = desk.reconciler().tick()
    assert any("does not validate" in p for p in result.problems)
    assert result.plan is not None and result.plan.empty
    assert running(desk) == {("btc-trend", "paper"): (1, DeploymentState.RUNNING)}
    assert "revision_refused" in actions(desk)


def test_audit_log_is_replicated_to_the_remote(desk: Desk) -> None:
    desk.reconciler().tick()
    log = ControllerPaths(desk.root).audit
    assert replicate(desk.repo, log) is True
    assert replicate(desk.repo, log) is False  # nothing new
    _, replica = remote_audit(desk.repo)
    assert replica == log.read_bytes()


def test_direct_push_that_raises_an_allocation_is_refused(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    desk.reconciler().tick()
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    manifest = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    manifest.write_text(manifest.read_text().replace("allocation: 50000", "allocation: 90000"))
    desk.git("commit", "--quiet", "-am", "more capital for the canary, unreviewed")
    desk.git("push", "--quiet", "origin", "main")
    result = desk.reconciler().tick()
    stage, _, verdict = result.refused["btc-trend"]
    assert (stage, verdict.code) == (Stage.CANARY, "unreviewed")
    canary = {s.spec.stage: s.spec for s in desk.runtime().list()}[Stage.CANARY]
    assert canary.allocation == 50_000


def test_gate_report_that_no_longer_matches_is_refused(desk: Desk) -> None:
    desk.reconciler().tick()
    merge = desk.promote_and_merge(1, Stage.CANARY, 50_000)
    # After the merge, someone edits what the registry recorded for the version: the report
    # the controller recomputes no longer has the digest CI approved.
    client = MlflowClient(tracking_uri=desk.registry.location.tracking_uri)
    client.set_model_version_tag("btc-trend", "1", "stratops.trials_in_experiment", "500")
    result = desk.reconciler().tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, "digest_mismatch")
    assert ("btc-trend", "canary") not in running(desk)
    promotion = desk.repo.rev_parse(f"{merge}^2")  # the promotion commit the PR brought
    status = desk.forge.commit_statuses(promotion)[-1]
    assert status.state is StatusState.FAILURE
    assert status.description.startswith("refused: recomputed gate report")
