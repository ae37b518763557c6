"""Review rules as plain values: separation of duties, stale approvals, gates, thresholds."""

from __future__ import annotations

import pytest

from stratops.gitops.changes import ChangeKind, DesiredChange
from stratops.gitops.desk import load_desk
from stratops.gitops.errors import PromotionRefused
from stratops.gitops.forge.models import (
    GATES_CONTEXT,
    CommitStatus,
    NewReview,
    PullRequest,
    PullState,
    Review,
    ReviewState,
    StatusState,
)
from stratops.gitops.review import Requirements, check_reviewer, merge_blockers
from stratops.model.base import Stage, StrategyType

from .helpers import EXAMPLE_MANIFESTS

POLICY = load_desk([EXAMPLE_MANIFESTS]).policy
assert POLICY is not None
HEAD, OLD = "h" * 40, "o" * 40
PR = PullRequest(
    number=7,
    title="Promote btc-trend v4 to live",
    body="",
    author="rita",
    head_branch="promote/btc-trend/v4-live",
    head_sha=HEAD,
    base_branch="main",
    state=PullState.OPEN,
    url="file:///7",
)
PASS = CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS)
FAIL = CommitStatus(context=GATES_CONTEXT, state=StatusState.FAILURE, description="pbo")


def change(kind: ChangeKind, stage: Stage) -> DesiredChange:
    return DesiredChange(kind, "btc-trend", StrategyType.TREND, stage, 3, 4, 1.0, None, False)


def review(id: int, who: str, state: ReviewState, sha: str = HEAD) -> Review:
    return Review(id=id, reviewer=who, state=state, commit_sha=sha)


APPROVED, CHANGES = ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED
LIVE = Requirements.of([change(ChangeKind.PROMOTION, Stage.LIVE)], POLICY)


def test_requirements_follow_the_policy_by_target_stage() -> None:
    assert Requirements(approvals=2, gates=True) == LIVE
    both = [change(ChangeKind.PROMOTION, Stage.CANARY), change(ChangeKind.PROMOTION, Stage.PAPER)]
    assert Requirements.of(both, POLICY) == Requirements(approvals=1, gates=True)
    rollback = [change(ChangeKind.ROLLBACK, Stage.LIVE)]
    assert Requirements.of(rollback, POLICY) == Requirements(approvals=0, gates=False)


@pytest.mark.parametrize(
    ("reviews", "statuses", "blockers"),
    [
        ([review(1, "alice", APPROVED), review(2, "bob", APPROVED)], [PASS], []),
        (
            [review(1, "alice", APPROVED)],
            [PASS],
            ["approvals on head hhhhhhhhhhhh (1 (alice)) < required (2)"],
        ),
        # the author's approval does not count (separation of duties)
        (
            [review(1, "alice", APPROVED), review(2, "rita", APPROVED)],
            [PASS],
            ["(1 (alice)) < required (2)"],
        ),
        # approvals of an earlier head are stale
        ([review(1, "alice", APPROVED), review(2, "bob", APPROVED, OLD)], [PASS], ["(1 (alice))"]),
        # one reviewer twice counts once
        ([review(1, "alice", APPROVED), review(2, "alice", APPROVED)], [PASS], ["(1 (alice))"]),
        # changes requested after an approval: blocks, and the approval no longer stands
        (
            [review(1, "alice", APPROVED), review(2, "bob", APPROVED), review(3, "bob", CHANGES)],
            [PASS],
            ["(1 (alice))", "changes requested by bob"],
        ),
        (
            [review(1, "alice", APPROVED), review(2, "bob", APPROVED)],
            [],
            ["no stratops/gates verdict"],
        ),
        (
            [review(1, "alice", APPROVED), review(2, "bob", APPROVED)],
            [PASS, FAIL],
            ["stratops/gates is failure: pbo"],
        ),
    ],
)
def test_merge_blockers(
    reviews: list[Review], statuses: list[CommitStatus], blockers: list[str]
) -> None:
    found = merge_blockers(PR, reviews, statuses, LIVE)
    assert len(found) == len(blockers), found
    for reason, expected in zip(found, blockers, strict=True):
        assert expected in reason


def test_closed_pull_request_never_merges() -> None:
    closed = PR.model_copy(update={"state": PullState.CLOSED})
    assert merge_blockers(closed, [], [], Requirements(0, False)) == ["it is closed"]


def test_author_cannot_approve_or_block_their_own_pull_request() -> None:
    with pytest.raises(PromotionRefused, match="separation of duties: rita opened #7"):
        check_reviewer(PR, NewReview(reviewer="rita", state=APPROVED))
    with pytest.raises(PromotionRefused, match="request changes"):
        check_reviewer(PR, NewReview(reviewer="rita", state=CHANGES))
    check_reviewer(PR, NewReview(reviewer="rita", state=ReviewState.COMMENTED, body="note"))
    check_reviewer(PR, NewReview(reviewer="alice", state=APPROVED))
