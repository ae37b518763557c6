"""Review rules as plain values: separation of duties, stale approvals, gates, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
from stratops.gitops.review import Blockers, Requirements, check_reviewer, merge_blockers
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
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
CI = "ci"
PASS = CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS, creator=CI)
FAIL = CommitStatus(context=GATES_CONTEXT, state=StatusState.FAILURE, creator=CI, description="pbo")
PENDING = CommitStatus(context=GATES_CONTEXT, state=StatusState.PENDING, creator=CI)
# what promote sets, and what anyone with write access could set
PROMOTED = CommitStatus(context=GATES_CONTEXT, state=StatusState.PENDING, creator="rita")
FORGED = CommitStatus(context=GATES_CONTEXT, state=StatusState.SUCCESS, creator="rita")


def change(kind: ChangeKind, stage: Stage) -> DesiredChange:
    return DesiredChange(kind, "btc-trend", StrategyType.TREND, stage, 3, 4, 1.0, None, False)


def review(
    id: int, who: str, state: ReviewState, sha: str = HEAD, age: timedelta = timedelta(hours=1)
) -> Review:
    return Review(id=id, reviewer=who, state=state, commit_sha=sha, submitted_at=NOW - age)


APPROVED, CHANGES = ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED
LIVE = Requirements.of([change(ChangeKind.PROMOTION, Stage.LIVE)], POLICY)


def test_requirements_follow_the_policy_by_target_stage() -> None:
    assert Requirements(approvals=2, gates=True, approval_ttl=timedelta(days=7)) == LIVE
    both = [change(ChangeKind.PROMOTION, Stage.CANARY), change(ChangeKind.PROMOTION, Stage.PAPER)]
    assert Requirements.of(both, POLICY) == Requirements(1, True, timedelta(days=7))
    rollback = [change(ChangeKind.ROLLBACK, Stage.LIVE)]
    assert Requirements.of(rollback, POLICY) == Requirements(0, False, timedelta(days=7))


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
        # approvals older than the policy's approvalTtl (7 days) are stale
        (
            [review(1, "alice", APPROVED), review(2, "bob", APPROVED, age=timedelta(days=8))],
            [PASS],
            ["(1 (alice)) < required (2); the author's own and those older than 7d do not count"],
        ),
        (
            [review(1, "alice", APPROVED), review(2, "bob", APPROVED, age=timedelta(days=7))],
            [PASS],
            [],
        ),
        # a request for changes does not expire
        (
            [review(1, "alice", APPROVED), review(2, "bob", CHANGES, age=timedelta(days=30))],
            [PASS],
            ["(1 (alice))", "changes requested by bob"],
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
    found = merge_blockers(PR, reviews, statuses, LIVE, ci=CI, now=NOW)
    assert len(found.reasons) == len(blockers), found
    for reason, expected in zip(found.reasons, blockers, strict=True):
        assert expected in reason
    assert not found.waiting_for_ci


APPROVED_BY_TWO = [review(1, "alice", APPROVED), review(2, "bob", APPROVED)]


@pytest.mark.parametrize(
    ("statuses", "said"),
    [
        ([], "(not given)"),
        ([PROMOTED], "(not given); not CI, ignored: pending by rita"),
        ([PENDING], "(pending)"),
        # the attack: a green status set by someone other than CI is ignored
        ([PROMOTED, FORGED], "(not given); not CI, ignored: pending by rita, success by rita"),
    ],
)
def test_the_merge_waits_for_the_verdict_of_ci(statuses: list[CommitStatus], said: str) -> None:
    found = merge_blockers(PR, APPROVED_BY_TWO, statuses, LIVE, ci=CI, now=NOW)
    assert found.reasons == [
        f"CI (ci) has not given its stratops/gates verdict on head {HEAD[:12]} yet {said}"
    ]
    assert found.waiting_for_ci and found.retryable


def test_only_the_verdict_of_ci_counts() -> None:
    assert merge_blockers(PR, APPROVED_BY_TWO, [PROMOTED, PASS], LIVE, ci=CI, now=NOW) == Blockers(
        []
    )
    # a later status of someone else does not hide CI's failure either
    found = merge_blockers(PR, APPROVED_BY_TWO, [FAIL, FORGED], LIVE, ci=CI, now=NOW)
    assert found.reasons == ["stratops/gates is failure: pbo"] and not found.retryable


def test_waiting_for_ci_is_not_retryable_when_approvals_are_missing_too() -> None:
    found = merge_blockers(PR, [], [PROMOTED], LIVE, ci=CI, now=NOW)
    assert found.waiting_for_ci and not found.retryable


def test_closed_pull_request_never_merges() -> None:
    closed = PR.model_copy(update={"state": PullState.CLOSED})
    found = merge_blockers(
        closed, [], [], Requirements(0, False, timedelta(days=7)), ci=CI, now=NOW
    )
    assert found == Blockers(["it is closed"])


def test_author_cannot_approve_or_block_their_own_pull_request() -> None:
    with pytest.raises(PromotionRefused, match="separation of duties: rita opened #7"):
        check_reviewer(PR, NewReview(reviewer="rita", state=APPROVED))
    with pytest.raises(PromotionRefused, match="request changes"):
        check_reviewer(PR, NewReview(reviewer="rita", state=CHANGES))
    check_reviewer(PR, NewReview(reviewer="rita", state=ReviewState.COMMENTED, body="note"))
    check_reviewer(PR, NewReview(reviewer="alice", state=APPROVED))


RULES = Requirements.of([], POLICY, ["GatePolicy/desk-policy"])  # owners: bob, carol; one


@pytest.mark.parametrize(
    ("author", "reviews", "merges"),
    [
        ("rita", [review(1, "bob", APPROVED)], True),
        ("rita", [review(1, "alice", APPROVED), review(2, "dave", APPROVED)], False),  # no owner
        ("bob", [review(1, "bob", APPROVED)], False),  # an owner's own approval of his change
    ],
)
def test_a_rule_change_needs_the_approval_of_an_owner(
    author: str, reviews: list[Review], merges: bool
) -> None:
    policy_pr = PR.model_copy(update={"title": "Policy: lower the bar", "author": author})
    blockers = merge_blockers(policy_pr, reviews, [], RULES, ci=CI, now=NOW)
    assert (blockers.reasons == []) is merges
    if not merges:
        assert "approvals from the rule owners (bob, carol)" in blockers.reasons[0]


def test_a_rule_change_with_a_promotion_never_merges() -> None:
    promotion = [change(ChangeKind.PROMOTION, Stage.CANARY)]
    both = Requirements.of(promotion, POLICY, ["GatePolicy/desk-policy"])
    everyone = [review(1, "bob", APPROVED), review(2, "carol", APPROVED)]
    reasons = merge_blockers(PR, everyone, [PASS], both, ci=CI, now=NOW).reasons
    assert reasons == [
        "it changes the rules (GatePolicy/desk-policy) and promotes at the same time: a "
        "promotion is gated by the rules in force, so the rule change must merge first, "
        "through its owners"
    ]
