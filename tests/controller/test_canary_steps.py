"""Canary steps end to end: a template's ``steps`` ramp the canary's allocation, each step
analysed from its own run, each ramp a pull request the controller opens once and a person
merges (Git, the local forge, embedded MLflow, real paper processes on an accelerated replay).

The template is lenient (any slippage passes) with short durations, so that each step passes
within a minute of replayed market; what is tested is the ramp, not the judge
(tests/canary has the judge's own tests).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter

import pytest
from desks import Desk, forge_refusing_writes
from test_canary_judging import CANARY, canary_cli, canary_status, set_template
from test_crash_safety import controller_once

from stratops.canary import AnalysisRun, RunAction, RunPhase
from stratops.controller.analyses import AnalysisStore
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog, verify_chain
from stratops.controller.faults import RAMP_CRASH_POINTS
from stratops.controller.journal import IntentJournal
from stratops.controller.plan import Action, ActionKind, ramp_actions
from stratops.gitops.errors import ForgeUnavailable, MergeBlocked
from stratops.gitops.forge.models import PullRequest, PullState
from stratops.gitops.pulls import merge_pull_request
from stratops.gitops.ramp import CONTROLLER, ramp_branch
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.model.ramp import RampRequest

# Five minutes of market a second: a step's analysis (about 45 minutes) lasts some 10 seconds
# and the ticks between two steps some more; the 3 steps fit the evidence's 9 hours.
SPEED = 300.0
BRANCH = ramp_branch("btc-trend", 1)
RAMP = (20_000.0, 50_000.0, 100_000.0)  # the test policy caps trend canaries at 100,000

STEPS = """\
apiVersion: stratops.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: trend-canary
spec:
  interval: 10m
  window: 30m
  minSamples: 1
  minPassed: 2
  minDuration: 30m
  inconclusiveLimit: 20
  steps:
    - {allocation: 20000}
    - {allocation: 50000, minDuration: 40m}
    - {allocation: 100000}
  metrics:
    - metric: slippage_bps
      condition: max
      thresholds: {peak: 1000, normal: 1000, thin: 1000}
"""


def store(desk: Desk) -> AnalysisStore:
    return AnalysisStore(ControllerPaths(desk.root).analyses)


def start_ramped_canary(desk: Desk, min_duration: str | None = "30m") -> None:
    """The stepped template in force, paper v1, then the canary at the first step (with the
    stage's default minDuration, 24h, no step passes on the evidence's 9 hours)."""
    set_template(desk, STEPS, "trend-canary: ramp 20k → 50k → 100k")
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, RAMP[0], min_duration=min_duration)
    deployed = desk.reconciler(SPEED).tick()
    assert ActionKind.DEPLOY in [a.kind for a in deployed.applied]


def judged_until_final(desk: Desk, timeout: float = 120.0) -> AnalysisRun:
    """Tick until the canary's run of its current step is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = desk.reconciler(SPEED).tick().analyses.get(CANARY)
        if run is not None and run.phase.final:
            return run
        time.sleep(0.5)
    raise AssertionError(f"no final analysis within {timeout:.0f}s")


def ramp_pulls(desk: Desk) -> list[PullRequest]:
    return desk.forge.list_pull_requests(state=None, head_branch=BRANCH)


def allocation(desk: Desk) -> float:
    return canary_status(desk).spec.allocation


def merge_ramp(desk: Desk, pull: PullRequest) -> None:
    """A person merges the ramp: the controller authored it, so it needs someone's approval."""
    with pytest.raises(MergeBlocked, match=r"\(0\) < required \(1\)"):
        merge_pull_request(desk.repo, desk.forge, pull.number)
    desk.approve(pull)
    merged = merge_pull_request(desk.repo, desk.forge, pull.number)
    assert merged.state is PullState.MERGED


def pass_step(desk: Desk, index: int) -> tuple[AnalysisRun, PullRequest]:
    """Step ``index`` passes, its ramp pull request opens once, ticks after it change nothing."""
    run = judged_until_final(desk)
    assert (run.phase, run.action, run.step, run.steps) == (
        RunPhase.PASSED,
        RunAction.RAMP,
        index,
        3,
    ), run.reason
    assert run.allocation == allocation(desk) == RAMP[index]
    (pull,) = [p for p in ramp_pulls(desk) if p.state is PullState.OPEN]
    assert pull.author == CONTROLLER
    assert f"canary ramp step {index + 2} of 3: {RAMP[index]:,.0f} → {RAMP[index + 1]:,.0f}" in (
        pull.body
    )
    assert f"after the passed analysis {run.digest}" in pull.body
    for _ in range(2):  # while it waits for a person: no second PR, no new verdict
        again = desk.reconciler(SPEED).tick()
        assert again.analyses[CANARY] == run
        assert not [a for a in again.applied if a.kind is ActionKind.OPEN_RAMP]
    assert len([p for p in ramp_pulls(desk) if run.digest in p.body]) == 1
    assert allocation(desk) == RAMP[index]  # the canary keeps running at its step
    code, shown = canary_cli(desk, "status", "-o", "json")
    assert code == 0, shown
    [view] = json.loads(shown)
    assert (view["step"], view["action"]) == (index + 1, "ramp")
    assert view["ramps"][-1] == {"step": index + 1, "pull_request": pull.number}
    return run, pull


def test_a_canary_ramps_through_a_pull_request_per_step(desk: Desk) -> None:
    start_ramped_canary(desk)
    passed = []
    for index in (0, 1):
        run, pull = pass_step(desk, index)
        passed.append(run)
        merge_ramp(desk, pull)
        deployed = desk.reconciler(SPEED).tick()
        assert [(a.kind, a.stage) for a in deployed.applied] == [
            (ActionKind.REALLOCATE, Stage.CANARY)
        ]
        assert allocation(desk) == RAMP[index + 1]
        fresh = desk.reconciler(SPEED).tick().analyses[CANARY]  # the next step, a new run
        assert (fresh.step, fresh.allocation) == (index + 1, RAMP[index + 1])
        assert fresh.started > run.as_of  # analysed from after the verdict of the step before

    last = judged_until_final(desk)
    assert (last.phase, last.action, last.step) == (RunPhase.PASSED, RunAction.PROMOTE, 2)
    assert last.min_duration_seconds == 30 * 60
    assert passed[1].min_duration_seconds == 40 * 60  # the step's own minDuration
    kept = store(desk).runs("btc-trend")
    assert kept == [*passed, last]  # the earlier steps' passed runs stay for the record
    record = desk.registry.canary_analysis("btc-trend", 1)  # only the canary's pass is logged
    assert record is not None and record.recorded_digest == last.digest
    assert record.phase == "passed"
    assert len(ramp_pulls(desk)) == 2 and all(p.state is PullState.MERGED for p in ramp_pulls(desk))

    events = desk.reconciler().audit.events()
    opened = [e for e in events if e.action == "ramp_opened"]
    assert [(e.details["step"], e.details["allocation"]) for e in opened] == [
        (2, RAMP[1]),
        (3, RAMP[2]),
    ]
    assert [e.details["analysis_digest"] for e in opened] == [r.digest for r in passed]
    deployed_steps = [e for e in events if e.action == "ramp_deployed"]
    assert [(e.details["step"], e.details["pull_request"]) for e in deployed_steps] == [
        (2, opened[0].details["pull_request"]),
        (3, opened[1].details["pull_request"]),
    ]
    assert [e.action for e in events if e.action == "reallocate"] == ["reallocate"] * 2
    assert not [
        e
        for e in events
        if e.action == "canary_analysis_logged"
        and e.details["digest"] in {r.digest for r in passed}
    ]

    code, shown = canary_cli(desk, "status", "-o", "json")
    assert code == 0, shown
    [view] = json.loads(shown)
    assert (view["step"], view["steps"], view["phase"], view["action"]) == (
        3,
        3,
        "passed",
        "promote",
    )
    assert [r["pull_request"] for r in view["ramps"]] == [e.details["pull_request"] for e in opened]


def test_a_failing_step_is_rolled_back_as_any_canary(desk: Desk) -> None:
    """Step 1 passes and ramps; at step 2 the on-call person aborts (the analysis fails):
    halted, and the rollback PR reverts the canary's promotion, not the ramp."""
    start_ramped_canary(desk)
    run, pull = pass_step(desk, 0)
    merge_ramp(desk, pull)
    desk.reconciler(SPEED).tick()
    assert allocation(desk) == RAMP[1]
    assert desk.reconciler(SPEED).tick().analyses[CANARY].step == 1
    code, shown = canary_cli(
        desk, "abort", "btc-trend", "--reason", "fills look wrong", "--as", "olga"
    )
    assert code == 0, shown
    failed = desk.reconciler(SPEED).tick()
    judged = failed.analyses[CANARY]
    assert (judged.phase, judged.action, judged.step) == (RunPhase.FAILED, RunAction.ROLLBACK, 1)
    assert canary_status(desk).state is DeploymentState.HALTED
    (rollback,) = desk.forge.list_pull_requests(
        state=None, head_branch="rollback/btc-trend/v1-canary"
    )
    assert rollback.state is PullState.MERGED and f"Analysis-Digest: {judged.digest}" in (
        rollback.body
    )
    desk.reconciler(SPEED).tick()  # the merged rollback applied: the canary goes
    assert {s.spec.stage for s in desk.runtime().list()} == {Stage.PAPER}
    assert len(ramp_pulls(desk)) == 1  # no ramp after a failed step
    assert store(desk).load("btc-trend", 1, 0) == run


def hand_made_ramp(desk: Desk) -> Action:
    """The OPEN_RAMP the judge's passed first step asks for (its digest: any sha256)."""
    digest = hashlib.sha256(b"passed step 1").hexdigest()
    (action,) = ramp_actions(
        [
            RampRequest(
                strategy="btc-trend",
                version=1,
                step=0,
                number=2,
                of=3,
                current=RAMP[0],
                allocation=RAMP[1],
                analysis_digest=digest,
            )
        ]
    )
    return action


def test_a_ramp_survives_sigkill_between_decision_and_pull_request(desk: Desk) -> None:
    set_template(desk, STEPS, "trend-canary: ramp 20k → 50k → 100k")
    assert controller_once(desk.root) == 0
    desk.promote_and_merge(1, Stage.CANARY, RAMP[0])  # 24h: only the hand-made ramp is due
    assert controller_once(desk.root) == 0
    paths = ControllerPaths(desk.root)
    action = hand_made_ramp(desk)
    assert action.ramp is not None
    head = desk.repo.remote_main()
    IntentJournal(paths.journal).begin(action.key(head), head, action)  # killed after-intent
    for crash_at in (*RAMP_CRASH_POINTS, "after-act", "after-audit"):
        assert controller_once(desk.root, crash_at) == -9, crash_at
    assert controller_once(desk.root) == 0
    assert controller_once(desk.root) == 0  # idle

    (pull,) = ramp_pulls(desk)
    assert pull.state is PullState.OPEN and pull.author == CONTROLLER
    assert action.ramp.analysis_digest in pull.body
    assert store(desk).ramped("btc-trend", 1, 0) == (action.ramp.analysis_digest, pull.number)
    events = AuditLog(paths.audit).events()
    assert Counter(e.action for e in events)["ramp_opened"] == 1
    assert verify_chain(paths.audit) is None
    assert not paths.journal.exists()


def test_forge_down_when_the_ramp_must_be_opened(desk: Desk) -> None:
    start_ramped_canary(desk, min_duration=None)  # only the hand-made ramp is due
    reconciler = desk.reconciler(SPEED)
    action = hand_made_ramp(desk)
    with forge_refusing_writes(desk.forge), pytest.raises(ForgeUnavailable):
        reconciler.applier.apply(action, desk.repo.remote_main())
    (pending,) = reconciler.journal.pending()
    assert pending[2] == action
    events = reconciler.audit.events()
    assert [e.action for e in events if e.action.startswith("open_ramp")] == ["open_ramp_deferred"]
    assert ramp_pulls(desk) == []
    assert allocation(desk) == RAMP[0]  # the canary runs on at its step meanwhile

    desk.reconciler(SPEED).tick()  # the next tick retries the intent
    (pull,) = ramp_pulls(desk)
    assert pull.state is PullState.OPEN
    assert not reconciler.journal.pending()
    desk.reconciler(SPEED).tick()
    assert len(ramp_pulls(desk)) == 1
