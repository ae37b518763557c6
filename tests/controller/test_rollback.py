"""Rollback through a pull request, end to end: Git, the local forge, MLflow, paper processes.

The failed analysis is handed over as the canary judge would (a ``RollbackRequest``); all else
is real: the controller opens the PR with a ``git revert`` of the promotion's merge commit,
merges it itself under ``rollback.autoMerge: canary`` (or waits for a person), and the next
tick stops the canary and clears its alias.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from desks import Desk, forge_refusing_writes
from rollbacks import REPORT, TRIPPED, canary_halted, failed_analysis, rollback_action
from typer.testing import CliRunner

from stratops.cli import output
from stratops.cli.main import app
from stratops.controller.assembly import ControllerPaths
from stratops.controller.loop import run
from stratops.controller.observability import Probes
from stratops.controller.plan import ActionKind
from stratops.controller.reconcile import TickResult
from stratops.gitops.errors import ForgeUnavailable, IllegalTransition
from stratops.gitops.forge.models import PullState
from stratops.gitops.pulls import merge_pull_request
from stratops.gitops.snapshot import desk_at
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState

BRANCH = "rollback/btc-trend/v1-canary"
STORY = ("deploy", "set_alias", "rollback_opened", "rollback_merged", "remove", "clear_alias")


def test_failed_canary_is_rolled_back_by_a_pull_request_that_merges_itself(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    merge = canary_halted(desk)
    request = failed_analysis()
    reconciler = desk.reconciler()
    reconciler.applier.apply(rollback_action(request), desk.repo.remote_main())

    (pull,) = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
    assert pull.state is PullState.MERGED and pull.author == "stratops-controller"
    head = desk.repo.commit(pull.head_sha)
    assert head.parents == (merge,)  # on main's head, which is the promotion's merge here
    trailers = dict(head.trailers)
    assert trailers["Rollback-Of"] == merge
    assert trailers["Analysis-Digest"] == request.analysis_digest
    assert f"This reverts commit {merge}." in head.message
    for part in (REPORT.strip(), TRIPPED, "cost 3.1 bps", "Gate report of the promotion"):
        assert part in pull.body
    assert f"Rollback-Of: {merge}" in pull.body

    desk.repo.fetch()
    main = desk.repo.remote_main()
    assert main == pull.merge_sha
    assert desk_at(desk.repo, main).strategies["btc-trend"].spec.stages.canary is None

    after = desk.reconciler().tick()  # the rollback is a legitimate change of main
    assert not after.refused
    assert {a.kind for a in after.applied} == {ActionKind.REMOVE, ActionKind.CLEAR_ALIAS}
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}

    events = reconciler.audit.events()
    story = [e for e in events if e.action.startswith("rollback_")]
    assert [e.action for e in story] == ["rollback_opened", "rollback_merged"]
    assert all(e.details["pull_request"] == pull.number for e in story)
    assert story[-1].actor == "stratops-controller" and story[-1].details["merged_by_controller"]
    assert f"PR #{pull.number}" in story[-1].reason
    removed = next(e for e in events if e.action == "remove")
    assert removed.details["pull_request"] == pull.number  # the provenance of the removal
    assert removed.details["rollback_of"] == merge

    monkeypatch.setattr(output.stdout, "width", 300)  # the console was made at import
    logged = CliRunner().invoke(app, ["audit", "log", "--desk", str(desk.root)])
    assert logged.exit_code == 0, logged.output
    lines = [line for line in logged.stdout.splitlines() if "btc-trend/canary" in line]
    told = [word for line in lines for word in line.split() if word in STORY]
    assert told == list(STORY)
    assert all(f"PR #{pull.number}" in line for line in lines[-4:]), lines  # the story's numbers

    again = desk.reconciler().tick()  # nothing more: one PR, each step recorded once
    assert again.plan is not None and again.plan.empty
    reconciler.applier.apply(rollback_action(request), desk.repo.remote_main())
    assert len(desk.forge.list_pull_requests(state=None, head_branch=BRANCH)) == 1
    counted = Counter(e.action for e in reconciler.audit.events())
    assert counted["rollback_opened"] == counted["rollback_merged"] == 1
    assert counted["rollback_obsolete"] == 0  # the same analysis: its PR is found, merged


def test_without_auto_merge_the_rollback_waits_for_a_person(desk: Desk) -> None:
    manifest = desk.root / "manifests" / "strategies" / "btc-trend.yaml"
    text = manifest.read_text().replace(
        "halt: flatten", "halt: flatten\n  rollback: {autoMerge: never}"
    )
    manifest.write_text(text)
    desk.git("commit", "--quiet", "-am", "rollbacks wait for a person")
    desk.git("push", "--quiet", "origin", "main")
    canary_halted(desk)
    reconciler = desk.reconciler()
    reconciler.applier.apply(rollback_action(failed_analysis()), desk.repo.remote_main())
    (pull,) = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
    assert pull.state is PullState.OPEN

    waiting = desk.reconciler().tick()  # planned again from its PR, while the canary is halted
    assert waiting.plan is not None
    (resumed,) = waiting.plan.actions
    assert resumed.kind is ActionKind.OPEN_ROLLBACK and resumed.rollback is not None
    assert resumed.rollback.pull_request == pull.number
    assert desk.forge.get_pull_request(pull.number).state is PullState.OPEN
    statuses = {s.spec.stage: s.state for s in desk.runtime().list()}
    assert statuses[Stage.CANARY] is DeploymentState.HALTED
    waits = [e for e in reconciler.audit.events() if e.action == "rollback_waiting"]
    assert len(waits) == 1 and "waiting for a person's approval" in waits[0].reason

    desk.approve(pull)
    desk.reconciler().tick()  # approved: the controller merges it
    assert desk.forge.get_pull_request(pull.number).state is PullState.MERGED
    desk.reconciler().tick()
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}


def test_forge_down_when_the_pull_request_must_be_opened(desk: Desk) -> None:
    canary_halted(desk)
    reconciler = desk.reconciler()
    action = rollback_action(failed_analysis())
    with forge_refusing_writes(desk.forge), pytest.raises(ForgeUnavailable):
        reconciler.applier.apply(action, desk.repo.remote_main())
    pushed = desk.repo.remote_branch(BRANCH)
    assert pushed is not None  # the branch went out, its pull request did not
    (pending,) = reconciler.journal.pending()
    assert pending[2] == action
    deferred = [e for e in reconciler.audit.events() if e.action == "open_rollback_deferred"]
    assert len(deferred) == 1 and "cannot be used" in deferred[0].reason
    statuses = {s.spec.stage: s.state for s in desk.runtime().list()}
    assert statuses[Stage.CANARY] is DeploymentState.HALTED  # the halt holds meanwhile

    desk.reconciler().tick()  # the next tick retries the intent
    (pull,) = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
    assert pull.head_sha == pushed  # the same commit: nothing made or pushed twice
    assert pull.state is PullState.MERGED
    assert not reconciler.journal.pending()
    desk.reconciler().tick()
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}


def test_a_rolled_back_version_returns_only_through_an_approved_override(desk: Desk) -> None:
    canary_halted(desk)
    desk.reconciler().applier.apply(rollback_action(failed_analysis()), desk.repo.remote_main())
    desk.reconciler().tick()
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    rollback = desk.git("rev-parse", "HEAD")  # the rollback PR's merge commit

    desk.git("revert", "--no-edit", "-m", "1", rollback)  # a person undoes the rollback
    desk.git("push", "--quiet", "origin", "main")
    refused = desk.reconciler().tick()
    stage, version, verdict = refused.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, "rolled_back")
    assert "rolled back from canary" in verdict.reason and "--override-rollback" in verdict.reason
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    desk.git("revert", "--no-edit", "HEAD")
    desk.git("push", "--quiet", "origin", "main")
    desk.reconciler().tick()

    with pytest.raises(IllegalTransition, match="rolled back from canary"):
        desk.open_promotion(1, Stage.CANARY, 50_000)
    pull = desk.open_promotion(1, Stage.CANARY, 50_000, override_rollback=True)
    assert "Overrides the rollback" in pull.body
    desk.publish_gates(pull)
    desk.approve(pull)
    merge_pull_request(desk.repo, desk.forge, pull.number)
    back = desk.reconciler().tick()
    assert not back.refused
    assert {s.spec.stage: s.spec.version for s in desk.runtime().list()} == {
        Stage.PAPER: 1,
        Stage.CANARY: 1,
    }


def test_the_loop_ticks_again_at_once_after_merging_its_own_rollback(desk: Desk) -> None:
    canary_halted(desk)
    reconciler = desk.reconciler()
    action = rollback_action(failed_analysis())
    commit = desk.repo.remote_main()
    reconciler.applier.journal.begin(action.key(commit), commit, action)  # decided, not done
    stop, trigger, ticks = threading.Event(), threading.Event(), []

    def halt_loop() -> None:
        stop.set()
        trigger.set()

    def on_tick(result: TickResult) -> None:
        ticks.append(result)
        if len(ticks) == 2:
            halt_loop()

    watchdog = threading.Timer(60.0, halt_loop)  # no second tick by then: the loop waited
    watchdog.start()
    try:
        run(
            reconciler,
            interval=3600.0,  # a second tick within the test comes only from the merge
            stop=stop,
            trigger=trigger,
            probes=Probes(stale_after_seconds=60.0),
            audit_log=ControllerPaths(desk.root).audit,
            on_tick=on_tick,
        )
    finally:
        watchdog.cancel()
    (pull,) = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
    assert len(ticks) == 2, "the loop waited an interval after merging its own rollback"
    first, second = ticks
    assert first.merged == (pull.number,)  # the pending intent finished: opened and merged
    assert {a.kind for a in first.applied} == {ActionKind.REMOVE, ActionKind.CLEAR_ALIAS}
    assert second.merged == () and second.plan is not None and second.plan.empty
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
