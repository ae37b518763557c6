"""Live guardrails end to end: a live deployment's ``haltOn`` breach halts it within one tick
and opens the rollback pull request that restores the previous live version, which waits
for a person (Git, the local forge, embedded MLflow, real paper processes, the real judge).

The desk's policy gates live without ``canary_analysis`` (no canary analysis passes while a
test runs) and declares ``trend-live``, a template whose ``haltOn`` trips on any drawdown;
both are pushed before the controller's first tick (a new controller takes the rules it
finds). Canaries replay a minute a second (no full window while the test runs, see
:func:`rollbacks.canary_halted`); the live deployment replays an hour a second, so its
guardrails are due within seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from desks import IN_PAPER, Desk
from rollbacks import failed_analysis, rollback_action
from test_canary_judging import wait_for_bars
from test_path_to_live import POLICY, merge, push, running
from typer.testing import CliRunner

from stratops.canary import RunAction, RunPhase
from stratops.cli.main import app
from stratops.controller.analyses import AnalysisStore
from stratops.controller.assembly import ControllerPaths
from stratops.controller.gate_evaluation import registry_evaluator
from stratops.controller.plan import ActionKind
from stratops.gitops.forge.models import PullRequest, PullState
from stratops.gitops.plan import PromotionRequest
from stratops.gitops.promote import promote
from stratops.gitops.rollback import RollbackRefused
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.strategy import HaltBehaviour

LIVE = ("btc-trend", Stage.LIVE)
MANIFEST = "manifests/strategies/btc-trend.yaml"
BRANCH = "rollback/btc-trend/v1-live"
TRIPWIRE = """\
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: trend-live
spec:
  interval: 15m
  window: 1h
  metrics:
    - metric: slippage_bps
      condition: max
      thresholds: {peak: -1000, normal: -1000, thin: -1000}   # a canary would fail: live ignores it
  haltOn:
    - metric: drawdown
      above: 0.0000001   # any loss of the live allocation
"""


def guard_rules(desk: Desk) -> None:
    """A policy whose live gate has no canary_analysis, and trend-live, pushed to main."""
    (desk.root / "manifests" / "analysis" / "trend-live.yaml").write_text(TRIPWIRE)
    desk.git("add", "manifests/analysis/trend-live.yaml")
    desk.git("commit", "-qm", "trend-live: live halts on any drawdown")
    desk.git("push", "-q", "origin", "HEAD:main")
    push(desk, POLICY, "        canary_analysis: {}\n", "", "Live without canary analysis")


@pytest.fixture
def guarded(desk: Desk) -> Desk:
    """The desk under :func:`guard_rules`, v1 paper trading."""
    guard_rules(desk)
    desk.reconciler(speed=60).tick()
    return desk


def open_live(desk: Desk, version: int, analysis: str | None) -> PullRequest:
    """``stratops promote btc-trend VERSION --to live [--analysis NAME]`` as rita."""
    done = promote(
        desk.repo,
        desk.forge,
        registry_evaluator(desk.registry),
        PromotionRequest(
            strategy="btc-trend",
            version=version,
            target_stage=Stage.LIVE,
            allocation=1_000_000,
            analysis=analysis,
        ),
        author="rita",
        as_of=datetime.now(UTC).replace(microsecond=0) + IN_PAPER,
    )
    assert done.pull_request is not None, done.report.markdown()
    return done.pull_request


def go_live(
    desk: Desk, version: int = 1, analysis: str | None = "trend-live", speed: float = 3600
) -> str:
    """``version`` through canary to live, its live process replaying at ``speed`` (an hour a
    second: its guardrails are due within seconds): the merge of the live promotion."""
    desk.promote_and_merge(version, Stage.CANARY, 50_000)
    desk.reconciler(speed=60).tick()
    pull = open_live(desk, version, analysis)
    desk.publish_gates(pull)
    desk.approve(pull)
    desk.approve(pull, reviewer="carol")
    head = merge(desk, pull.number)
    applied = desk.reconciler(speed=speed).tick().applied
    assert (ActionKind.DEPLOY if version == 1 else ActionKind.REPLACE, Stage.LIVE) in [
        (a.kind, a.stage) for a in applied
    ]
    return head


def live_status(desk: Desk) -> DeploymentStatus:
    return {s.key: s for s in desk.runtime().list()}[LIVE]


def test_a_live_breach_halts_within_one_tick_and_its_rollback_waits_for_a_person(
    guarded: Desk,
) -> None:
    desk = guarded
    promotion = go_live(desk)
    wait_for_bars(desk, timedelta(hours=3), stage=Stage.LIVE)

    reconciler = desk.reconciler()
    judged = reconciler.tick()
    run = judged.analyses[LIVE]
    assert run.live and run.template == "trend-live"
    assert run.phase is RunPhase.FAILED and run.halt and run.action is RunAction.HALT
    assert run.reason.startswith("failed: haltOn drawdown")
    assert {m.metric.value for m in run.measurements} == {"drawdown"}  # only haltOn, live
    assert judged.plan is not None
    first = judged.plan.actions[0]  # stopping risk comes first
    assert (first.kind, first.stage, first.halt) == (ActionKind.HALT, Stage.LIVE, None)
    assert first.reason.startswith("live guardrails failed: failed: haltOn drawdown")
    kinds = [a.kind for a in judged.applied]
    assert kinds.index(ActionKind.HALT) < kinds.index(ActionKind.OPEN_ROLLBACK)  # same tick
    halted = live_status(desk)
    assert halted.state is DeploymentState.HALTED
    assert halted.halted is HaltBehaviour.FLATTEN  # the deployment's own halt: flatten
    stored = AnalysisStore(ControllerPaths(desk.root).root / ".stratops/controller/analysis")
    assert stored.load_live("btc-trend", 1) == run and stored.load("btc-trend", 1) != run
    assert desk.registry.canary_analysis("btc-trend", 1) is None  # live runs stay local
    shown = CliRunner().invoke(
        app, ["canary", "status", "btc-trend", "--desk", str(desk.root), "-o", "json"]
    )
    assert shown.exit_code == 0, shown.output
    (live,) = [view for view in json.loads(shown.output) if view["stage"] == "live"]
    assert (live["version"], live["phase"], live["action"]) == (1, "failed", "halt")
    assert live["digest"] == run.digest and live["limits"] == []

    (pull,) = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
    assert pull.state is PullState.OPEN and pull.author == "stratops-controller"
    trailers = dict(desk.repo.commit(pull.head_sha).trailers)
    assert trailers["Rollback-Of"] == promotion and trailers["Analysis-Digest"] == run.digest
    assert f"Analysis-Digest: {run.digest}" in pull.body and run.reason in pull.body
    assert "### Live guardrails of btc-trend v1: **failed**" in pull.body

    for _ in range(2):  # autoMerge: canary, yet a live rollback never merges itself
        waiting = desk.reconciler().tick()
        assert waiting.analyses[LIVE] == run  # a breached run is final: not judged again
        assert desk.forge.get_pull_request(pull.number).state is PullState.OPEN
        assert live_status(desk).state is DeploymentState.HALTED
    assert len(desk.forge.list_pull_requests(state=None, head_branch=BRANCH)) == 1

    desk.approve(pull)
    head = merge(desk, pull.number)  # a person merges it
    after = desk.reconciler().tick()
    assert not after.refused
    assert [(a.kind, a.stage) for a in after.applied] == [
        (ActionKind.REMOVE, Stage.LIVE),
        (ActionKind.CLEAR_ALIAS, Stage.LIVE),
    ]  # nothing was live before v1: the live stage goes, v1 is not a canary again
    assert running(desk) == {Stage.PAPER: (1, 100_000)}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1}
    idle = desk.reconciler().tick()
    assert idle.plan is not None and idle.plan.empty and LIVE not in idle.analyses

    events = desk.reconciler().audit.events()
    story = [e for e in events if e.stage == "live"]
    told = [e.action for e in story]
    assert told[told.index("analysis_failed") :] == [
        "analysis_failed",
        "halt",
        "rollback_opened",
        "rollback_waiting",
        "remove",
        "clear_alias",
    ]
    numbered = [e for e in story if e.action in ("rollback_opened", "rollback_waiting")]
    assert all(e.details["pull_request"] == pull.number for e in numbered)
    removed = next(e for e in story if e.action == "remove")
    assert removed.commit == head and removed.details["pull_request"] == pull.number
    done = Counter(e.action for e in events)
    assert done["halt"] == done["rollback_opened"] == done["rollback_waiting"] == 1


def test_merged_by_a_person_the_previous_live_version_runs_again(guarded: Desk) -> None:
    desk = guarded
    go_live(desk, 1, analysis=None, speed=60)  # guarded by the canary's template, trend-canary
    manifest = desk.repo.read_file(desk.repo.remote_main(), MANIFEST).decode()
    assert "live: {version: 1, allocation: 1000000, analysis: trend-canary}" in manifest
    paper = desk.open_promotion(2, Stage.PAPER, 100_000)
    desk.publish_gates(paper)
    merge(desk, paper.number)
    desk.reconciler(speed=60).tick()
    promotion = go_live(desk, 2)  # v2 replaces v1 live, guarded by trend-live
    assert running(desk)[Stage.LIVE] == (2, 1_000_000)
    wait_for_bars(desk, timedelta(hours=3), stage=Stage.LIVE, version=2)

    judged = desk.reconciler().tick()
    run = judged.analyses[LIVE]
    assert (run.version, run.phase, run.action) == (2, RunPhase.FAILED, RunAction.HALT)
    assert live_status(desk).state is DeploymentState.HALTED
    (pull,) = desk.forge.list_pull_requests(state=None, head_branch="rollback/btc-trend/v2-live")
    assert pull.state is PullState.OPEN
    assert dict(desk.repo.commit(pull.head_sha).trailers)["Rollback-Of"] == promotion

    desk.approve(pull, reviewer="carol")
    head = merge(desk, pull.number)
    after = desk.reconciler().tick()
    assert not after.refused
    assert [(a.kind, a.stage, a.version) for a in after.applied] == [
        (ActionKind.REPLACE, Stage.LIVE, 1),
        (ActionKind.SET_ALIAS, Stage.LIVE, 1),
    ]
    assert running(desk) == {Stage.PAPER: (2, 100_000), Stage.LIVE: (1, 1_000_000)}
    assert live_status(desk).state is DeploymentState.RUNNING
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 2, Stage.LIVE: 1}
    (moved,) = desk.registry.alias_history("btc-trend")[-1:]
    assert (moved.stage, moved.from_version, moved.to_version) == (Stage.LIVE, 2, 1)
    assert (moved.actor, moved.pull_request) == ("stratops-controller", pull.number)
    replaced = [e for e in desk.reconciler().audit.events() if e.action == "replace"]
    assert replaced[-1].commit == head and replaced[-1].details["pull_request"] == pull.number


def test_a_conflicting_live_revert_is_refused_and_the_deployment_stays_halted(
    guarded: Desk,
) -> None:
    desk = guarded
    promotion = go_live(desk, analysis=None, speed=60)
    cut = desk.open_reallocation(1, 900_000)  # less live capital: a later edit of the entry
    merge(desk, cut.number)
    desk.reconciler(speed=60).tick()
    assert running(desk)[Stage.LIVE] == (1, 900_000)
    desk.runtime().halt("btc-trend", Stage.LIVE, actor="stratops-controller", reason="breach")
    breach = failed_analysis().model_copy(update={"stage": Stage.LIVE})  # as the judge asks
    reconciler = desk.reconciler()
    with pytest.raises(RollbackRefused) as refused:
        reconciler.applier.apply(rollback_action(breach), desk.repo.remote_main())
    assert str(refused.value) == (
        f"reverting {promotion[:12]} conflicts with later changes of main: a live rollback "
        "restores the previous live version, which a person must resolve"
    )
    (failed,) = [e for e in reconciler.audit.events() if e.action == "open_rollback_failed"]
    assert str(refused.value) in failed.reason
    assert desk.repo.remote_branch(BRANCH) is None and not desk.forge.list_pull_requests(
        state=None, head_branch=BRANCH
    )
    assert live_status(desk).state is DeploymentState.HALTED  # until a person resolves it
