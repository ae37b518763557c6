"""The path to live end to end: the canary promoted to live, and allocations raised and cut,
each through a pull request that a controller tick then applies (Git, the local forge, embedded
MLflow, real paper processes).

The test policy gates live on ``canary_analysis``. Until an analysis of the canary has passed
the live gate fails (first test); the other tests run under a policy without that check,
pushed before the controller's first tick (a new controller takes the rules it finds).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from desks import Desk

from stratops.controller.gate_evaluation import registry_evaluator
from stratops.controller.plan import ActionKind
from stratops.gates.result import CheckStatus
from stratops.gitops.errors import MergeBlocked
from stratops.gitops.plan import PromotionRequest
from stratops.gitops.promote import promote
from stratops.gitops.pulls import merge_pull_request
from stratops.model.base import Stage

POLICY = "manifests/policy/policy.yaml"
MANIFEST = "manifests/strategies/btc-trend.yaml"


def push(desk: Desk, path: str, old: str, new: str, message: str) -> None:
    """A direct push to main, editing one file."""
    desk.git("pull", "--quiet", "--ff-only", "origin", "main")
    file = desk.root / path
    text = file.read_text()
    assert old in text
    file.write_text(text.replace(old, new))
    desk.git("commit", "--quiet", "-am", message)
    desk.git("push", "--quiet", "origin", "main")


@pytest.fixture
def lenient(desk: Desk) -> Desk:
    """The desk under a policy whose live gate has no canary_analysis; v1 paper trading."""
    push(desk, POLICY, "        canary_analysis: {}\n", "", "Live without canary analysis")
    desk.reconciler().tick()
    return desk


def running(desk: Desk) -> dict[Stage, tuple[int, float]]:
    return {s.spec.stage: (s.spec.version, s.spec.allocation) for s in desk.runtime().list()}


def merge(desk: Desk, number: int) -> str:
    merged = merge_pull_request(desk.repo, desk.forge, number)
    assert merged.merge_sha is not None
    return merged.merge_sha


def main_manifest(desk: Desk) -> str:
    desk.repo.fetch()
    return desk.repo.read_file(desk.repo.remote_main(), MANIFEST).decode()


def test_live_is_gated_on_the_canary_analysis(desk: Desk) -> None:
    desk.reconciler().tick()
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    desk.reconciler().tick()
    done = promote(
        desk.repo,
        desk.forge,
        registry_evaluator(desk.registry),
        PromotionRequest(
            strategy="btc-trend", version=1, target_stage=Stage.LIVE, allocation=1_000_000
        ),
        author="rita",
        as_of=datetime.now(UTC).replace(microsecond=0),
    )
    assert done.report is not None and not done.report.passed
    assert done.pull_request is None and done.commit is None
    [check] = [c for c in done.report.checks if c.name == "canary_analysis"]
    assert check.required and check.status is not CheckStatus.PASS  # no analysis has passed
    assert desk.repo.remote_branch("promote/btc-trend/v1-live") is None


def test_the_canary_goes_live_through_an_approved_pull_request(lenient: Desk) -> None:
    desk = lenient
    desk.promote_and_merge(1, Stage.CANARY, 50_000)
    desk.reconciler().tick()
    assert running(desk)[Stage.CANARY] == (1, 50_000)

    pull = desk.open_promotion(1, Stage.LIVE, 1_000_000)
    assert pull.head_branch == "promote/btc-trend/v1-live"
    assert "canary → live at allocation 1,000,000" in pull.body
    assert "### Gates: btc-trend v1 → live: ✅ PASS" in pull.body
    desk.publish_gates(pull)
    desk.approve(pull)
    with pytest.raises(MergeBlocked, match=r"\(1 \(bob\)\) < required \(2\)"):
        merge(desk, pull.number)
    desk.approve(pull, reviewer="carol")
    head = merge(desk, pull.number)
    manifest = main_manifest(desk)
    assert "canary:" not in manifest
    assert "live: {version: 1, allocation: 1000000, analysis: trend-canary}" in manifest

    result = desk.reconciler().tick()
    assert result.head == head and not result.refused
    assert [(a.kind, a.stage) for a in result.applied] == [
        (ActionKind.DEPLOY, Stage.LIVE),
        (ActionKind.REMOVE, Stage.CANARY),
        (ActionKind.SET_ALIAS, Stage.LIVE),
        (ActionKind.CLEAR_ALIAS, Stage.CANARY),
    ]
    assert running(desk) == {Stage.PAPER: (1, 100_000), Stage.LIVE: (1, 1_000_000)}
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1, Stage.LIVE: 1}
    moves = desk.registry.alias_history("btc-trend")[-2:]
    assert [(c.stage, c.from_version, c.to_version, c.actor, c.pull_request) for c in moves] == [
        (Stage.LIVE, None, 1, "stratops-controller", pull.number),
        (Stage.CANARY, 1, None, "stratops-controller", pull.number),
    ]
    events = [e for e in desk.reconciler().audit.events() if e.commit == head]
    assert [e.action for e in events] == [
        "deploy",
        "remove",
        "set_alias",
        "clear_alias",
        "commit_applied",
    ]

    raised = desk.open_reallocation(1, 2_000_000)  # live capital: two approvals, as to go live
    assert raised.head_branch == "promote/btc-trend/v1-live-allocation"
    desk.approve(raised)
    desk.approve(raised, reviewer="carol")
    merge(desk, raised.number)
    result = desk.reconciler().tick()
    assert not result.refused
    assert [(a.kind, a.stage) for a in result.applied] == [(ActionKind.REALLOCATE, Stage.LIVE)]
    assert running(desk)[Stage.LIVE] == (1, 2_000_000)


def test_a_canary_allocation_is_raised_and_cut_through_pull_requests(lenient: Desk) -> None:
    desk = lenient
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    desk.reconciler().tick()

    raised = desk.open_reallocation(1, 50_000)
    with pytest.raises(MergeBlocked, match=r"\(0\) < required \(1\)"):
        merge(desk, raised.number)
    desk.approve(raised)
    head = merge(desk, raised.number)
    result = desk.reconciler().tick()
    assert not result.refused
    assert [(a.kind, a.stage) for a in result.applied] == [(ActionKind.REALLOCATE, Stage.CANARY)]
    assert running(desk)[Stage.CANARY] == (1, 50_000)
    assert desk.registry.stage_aliases("btc-trend") == {Stage.PAPER: 1, Stage.CANARY: 1}
    [event] = [e for e in desk.reconciler().audit.events() if e.action == "reallocate"]
    assert event.commit == head

    cut = desk.open_reallocation(1, 20_000)  # less risk: no approval needed
    merge(desk, cut.number)
    desk.reconciler().tick()
    assert running(desk)[Stage.CANARY] == (1, 20_000)


def test_a_raise_merged_before_the_controller_saw_the_promotion_runs(lenient: Desk) -> None:
    desk = lenient
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    raised = desk.open_reallocation(1, 50_000)
    desk.approve(raised)
    merge(desk, raised.number)
    result = desk.reconciler().tick()
    assert not result.refused
    assert running(desk)[Stage.CANARY] == (1, 50_000)


def test_a_raise_pushed_directly_stays_refused(lenient: Desk) -> None:
    desk = lenient
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    desk.reconciler().tick()
    push(desk, MANIFEST, "allocation: 10000", "allocation: 90000", "more capital, unreviewed")
    for _ in range(2):  # the next tick does not forget where the raise came from
        stage, _, verdict = desk.reconciler().tick().refused["btc-trend"]
        assert (stage, verdict.code) == (Stage.CANARY, "unreviewed")
        assert running(desk)[Stage.CANARY] == (1, 10_000)
    # Cutting the unreviewed 90,000 to 50,000 needs no approval to merge, but it is still a
    # raise of the 10,000 that runs: the controller wants the approvals of a raise.
    cut = desk.open_reallocation(1, 50_000)
    assert cut.title == "Cut the canary allocation of btc-trend v1 to 50,000"
    merged = merge(desk, cut.number)
    stage, _, verdict = desk.reconciler().tick().refused["btc-trend"]
    assert (stage, verdict.code, verdict.commit) == (Stage.CANARY, "unapproved", merged)
    assert f"PR #{cut.number}: approvals on head" in verdict.reason
    assert running(desk)[Stage.CANARY] == (1, 10_000)


def test_a_raise_merged_without_its_approvals_is_refused(lenient: Desk) -> None:
    desk = lenient
    desk.promote_and_merge(1, Stage.CANARY, 10_000)
    desk.reconciler().tick()
    raised = desk.open_reallocation(1, 50_000)
    merged = desk.forge.merge(raised.number, expected_head_sha=raised.head_sha)  # an admin's
    result = desk.reconciler().tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version, verdict.code) == (Stage.CANARY, 1, "unapproved")
    assert verdict.commit == merged.merge_sha
    assert "(0) < required (1)" in verdict.reason
    assert running(desk)[Stage.CANARY] == (1, 10_000)
    assert "promotion_refused" in [e.action for e in desk.reconciler().audit.events()]
