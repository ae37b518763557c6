"""Review rules: who may approve, how many approvals a promotion needs, whether it may merge.

Pure. The policy's ``approvals`` say how many approvals a promotion to each stage needs (a
pull request promoting to several stages needs the largest number). An approval counts when

- it was given on the current head: a new push dismisses earlier approvals;
- its reviewer is not the author (separation of duties);
- the reviewer's latest review on that head is still an approval.

Any reviewer whose latest review on the head requests changes blocks the merge, and so does a
gate verdict (the ``stratops/gates`` status of the head) other than success, when the pull
request promotes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stratops.gitops.changes import ChangeKind, DesiredChange
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
from stratops.model.policy import GatePolicy

_DECISIVE = (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED)


@dataclass(frozen=True)
class Requirements:
    approvals: int
    gates: bool  # a gate verdict must be recorded and passing

    @classmethod
    def of(cls, changes: Sequence[DesiredChange], policy: GatePolicy) -> Requirements:
        """What the changes of a pull request need under the policy in force on main."""
        stages = [c.stage for c in changes if c.kind is ChangeKind.PROMOTION]
        approvals = max((policy.spec.approvals.for_stage(s) for s in stages), default=0)
        return cls(approvals=approvals, gates=bool(stages))


def check_reviewer(pr: PullRequest, review: NewReview) -> None:
    """Refuse a review the rules would never count: on a closed PR, or by its author."""
    if pr.state is not PullState.OPEN:
        raise PromotionRefused(f"pull request #{pr.number} is {pr.state.value}")
    if review.reviewer == pr.author and review.state is not ReviewState.COMMENTED:
        raise PromotionRefused(
            f"separation of duties: {review.reviewer} opened #{pr.number} and cannot "
            f"{'approve it' if review.state is ReviewState.APPROVED else 'request changes'}"
        )


def approvers(pr: PullRequest, reviews: Sequence[Review]) -> tuple[list[str], list[str]]:
    """Reviewers whose standing review on the current head approves, and who block it."""
    latest: dict[str, ReviewState] = {}
    for review in reviews:
        on_head = review.commit_sha == pr.head_sha
        if on_head and review.reviewer != pr.author and review.state in _DECISIVE:
            latest[review.reviewer] = review.state
    approved = sorted(r for r, s in latest.items() if s is ReviewState.APPROVED)
    blocking = sorted(r for r, s in latest.items() if s is ReviewState.CHANGES_REQUESTED)
    return approved, blocking


def merge_blockers(
    pr: PullRequest,
    reviews: Sequence[Review],
    statuses: Sequence[CommitStatus],
    needed: Requirements,
) -> list[str]:
    """Why ``pr`` cannot merge; empty when it can."""
    reasons: list[str] = []
    if pr.state is not PullState.OPEN:
        reasons.append(f"it is {pr.state.value}")
    approved, blocking = approvers(pr, reviews)
    if len(approved) < needed.approvals:
        who = f" ({', '.join(approved)})" if approved else ""
        reasons.append(
            f"approvals on head {pr.head_sha[:12]} ({len(approved)}{who}) < required "
            f"({needed.approvals}); the author's own do not count"
        )
    if blocking:
        reasons.append(f"changes requested by {', '.join(blocking)}")
    if needed.gates:
        gates = [s for s in statuses if s.context == GATES_CONTEXT]
        if not gates:
            reasons.append(f"no {GATES_CONTEXT} verdict on head {pr.head_sha[:12]}")
        elif gates[-1].state is not StatusState.SUCCESS:
            reasons.append(f"{GATES_CONTEXT} is {gates[-1].state.value}: {gates[-1].description}")
    return reasons
