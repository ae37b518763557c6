"""The controller enforces the review rules itself on a merged promotion, not only ``pr merge``.

Each promotion here is merged through the forge directly, as an administrator could on GitHub:
the controller must still refuse what ``pr merge`` would have refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desks import Desk

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.models import GATES_CONTEXT, CommitStatus, PullRequest, StatusState
from stratops.model.base import Stage


def merged_canary(desk: Desk, pull: PullRequest) -> str:
    head = desk.forge.get_pull_request(pull.number).head_sha
    merged = desk.forge.merge(pull.number, expected_head_sha=head)
    assert merged.merge_sha is not None
    return merged.merge_sha


def refusal(desk: Desk) -> tuple[str, str]:
    result = desk.reconciler().tick()
    stage, version, verdict = result.refused["btc-trend"]
    assert (stage, version) == (Stage.CANARY, 1)
    assert Stage.CANARY not in {s.spec.stage for s in desk.runtime().list()}
    return verdict.code, verdict.reason


def test_an_approval_of_an_older_head_does_not_count(desk: Desk) -> None:
    desk.reconciler().tick()
    first = desk.open_promotion(1, Stage.CANARY, 50_000)
    desk.approve(first)
    second = desk.open_promotion(1, Stage.CANARY, 40_000)  # a new push to the same PR
    assert (second.number, second.head_sha != first.head_sha) == (first.number, True)
    desk.publish_gates(second)
    merged_canary(desk, second)
    code, reason = refusal(desk)
    assert code == "unapproved"
    assert f"0 valid approval(s) on its head {second.head_sha[:12]}" in reason


def test_an_approval_older_than_the_ttl_does_not_count(desk: Desk) -> None:
    desk.reconciler().tick()
    pull = desk.open_promotion(1, Stage.CANARY, 50_000)
    desk.publish_gates(pull)
    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    desk.approve(pull, LocalForge(desk.forge.bare.root, clock=lambda: eight_days_ago))
    merged_canary(desk, pull)
    code, reason = refusal(desk)
    assert code == "unapproved" and "0 valid approval(s)" in reason


def test_a_green_gate_status_not_set_by_ci_is_ignored(desk: Desk) -> None:
    desk.reconciler().tick()
    pull = desk.open_promotion(1, Stage.CANARY, 50_000)
    desk.approve(pull)
    green = CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS, creator="rita")
    desk.forge.set_commit_status(pull.head_sha, green)
    merged_canary(desk, pull)
    code, reason = refusal(desk)
    assert code == "no_ci_verdict"
    assert reason.startswith("CI's (ci) stratops/gates verdict on the head of PR #1 was not given")
