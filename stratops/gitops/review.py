"""Review rules: who may approve, how many approvals a promotion needs, whether it may merge.

Pure. The policy's ``approvals`` say how many approvals a promotion to each stage needs (a
pull request promoting to several stages needs the largest number); raising the allocation of
a stage needs as many as a promotion to it, cutting one none. An approval counts when

- it was given on the current head: a new push dismisses earlier approvals;
- it is not older than the policy's ``approvalTtl`` at the merge (now, for a merge to come);
- its reviewer is not the author (separation of duties);
- the reviewer's latest review on that head is still an approval.

A change of the rules (``GatePolicy``, ``AnalysisTemplate``, ``AlertRule``, ``Runbook``) needs
``owners.approvals`` approvals from the policy's ``owners`` (absent: the approvals of a live
promotion, at least one, from anyone but the author) and can never merge together with a
promotion.

Any reviewer whose latest review on the head requests changes blocks the merge. A pull request
that promotes anything also needs CI's gate verdict: the ``stratops/gates`` status of the head
set by the forge's CI identity. A status set by anyone else (``promote`` sets it pending for
the reviewers to see, anybody with write access could set it green) is ignored. While CI's
verdict is pending or absent the merge waits; a verdict other than success blocks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from stratops.gitops.changes import ChangeKind, DesiredChange, mixed_change
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
from stratops.model.base import human_duration
from stratops.model.policy import GatePolicy

_DECISIVE = (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED)


@dataclass(frozen=True)
class Requirements:
    approvals: int
    gates: bool  # CI's gate verdict must be recorded and passing
    approval_ttl: timedelta  # an approval given longer before the merge does not count
    owners: frozenset[str] | None = None  # a rule change: only these reviewers' approvals count
    refusal: str | None = None  # why the change can never merge, whoever approves it

    @classmethod
    def of(
        cls, changes: Sequence[DesiredChange], policy: GatePolicy, rules: Sequence[str] = ()
    ) -> Requirements:
        """What the changes of a pull request need under the policy in force on main.

        ``rules``: the rule documents it changes (:func:`~stratops.gitops.changes.rule_changes`).
        """
        stages = [c.stage for c in changes if c.kind is ChangeKind.PROMOTION]
        raised = [c.stage for c in changes if c.raises_capital]
        approvals = max((policy.spec.approvals.for_stage(s) for s in [*stages, *raised]), default=0)
        owners = None
        if rules:
            declared = policy.spec.owners
            if declared is None:
                approvals = max(approvals, policy.spec.approvals.live, 1)
            else:
                approvals = max(approvals, declared.approvals)
                owners = frozenset(declared.people)
        return cls(
            approvals=approvals,
            gates=bool(stages),
            approval_ttl=policy.approval_ttl,
            owners=owners,
            refusal=mixed_change(rules, changes),
        )

    def counted(self, approved: Sequence[str]) -> list[str]:
        """The approvers whose approval counts: the owners', for a rule change."""
        return [r for r in approved if self.owners is None or r in self.owners]

    def shortfall(self, approved: Sequence[str], head: str) -> str | None:
        """Why ``approved`` (valid approvals on ``head``) are not enough; ``None``: they are."""
        counted = self.counted(approved)
        if len(counted) >= self.approvals:
            return None
        who = f" ({', '.join(counted)})" if counted else ""
        of_whom = (
            ""
            if self.owners is None
            else f" from the rule owners ({', '.join(sorted(self.owners))})"
        )
        return (
            f"approvals{of_whom} on head {head[:12]} ({len(counted)}{who}) < required "
            f"({self.approvals}); the author's own and those older than "
            f"{human_duration(self.approval_ttl.total_seconds())} do not count"
        )


@dataclass(frozen=True)
class Blockers:
    """Why a pull request cannot merge; no reasons: it can."""

    reasons: list[str]
    waiting_for_ci: bool = False  # CI has not given its gate verdict yet

    @property
    def retryable(self) -> bool:
        """Only CI's verdict is missing: the same merge may pass once CI has run."""
        return self.waiting_for_ci and len(self.reasons) == 1


def ci_verdict(statuses: Sequence[CommitStatus], ci: str) -> CommitStatus | None:
    """The latest ``stratops/gates`` status set by ``ci``; anyone else's is ignored."""
    mine = [s for s in statuses if s.context == GATES_CONTEXT and s.creator == ci]
    return mine[-1] if mine else None


def check_reviewer(pr: PullRequest, review: NewReview) -> None:
    """Refuse a review the rules would never count: on a closed PR, or by its author."""
    if pr.state is not PullState.OPEN:
        raise PromotionRefused(f"pull request #{pr.number} is {pr.state.value}")
    if review.reviewer == pr.author and review.state is not ReviewState.COMMENTED:
        raise PromotionRefused(
            f"separation of duties: {review.reviewer} opened #{pr.number} and cannot "
            f"{'approve it' if review.state is ReviewState.APPROVED else 'request changes'}"
        )


def approvers(
    pr: PullRequest, reviews: Sequence[Review], *, ttl: timedelta, at: datetime
) -> tuple[list[str], list[str]]:
    """Reviewers whose standing review on the current head approves, and who block it.

    ``at`` is the merge (or now, for a merge to come): an approval given more than ``ttl``
    before it no longer counts, a request for changes always does.
    """
    latest: dict[str, ReviewState] = {}
    for review in reviews:
        on_head = review.commit_sha == pr.head_sha
        if on_head and review.reviewer != pr.author and review.state in _DECISIVE:
            stale = review.state is ReviewState.APPROVED and at - review.submitted_at > ttl
            latest[review.reviewer] = ReviewState.DISMISSED if stale else review.state
    approved = sorted(r for r, s in latest.items() if s is ReviewState.APPROVED)
    blocking = sorted(r for r, s in latest.items() if s is ReviewState.CHANGES_REQUESTED)
    return approved, blocking


def merge_blockers(
    pr: PullRequest,
    reviews: Sequence[Review],
    statuses: Sequence[CommitStatus],
    needed: Requirements,
    *,
    ci: str,
    now: datetime,
) -> Blockers:
    """Why ``pr`` cannot merge at ``now``, CI being ``ci``."""
    reasons: list[str] = []
    if pr.state is not PullState.OPEN:
        reasons.append(f"it is {pr.state.value}")
    if needed.refusal is not None:
        reasons.append(needed.refusal)
    approved, blocking = approvers(pr, reviews, ttl=needed.approval_ttl, at=now)
    shortfall = needed.shortfall(approved, pr.head_sha)
    if shortfall is not None:
        reasons.append(shortfall)
    if blocking:
        reasons.append(f"changes requested by {', '.join(blocking)}")
    waiting = False
    if needed.gates:
        verdict = ci_verdict(statuses, ci)
        if verdict is None or verdict.state is StatusState.PENDING:
            waiting = True
            said = "pending" if verdict else "not given"
            reasons.append(
                f"CI ({ci}) has not given its {GATES_CONTEXT} verdict on head "
                f"{pr.head_sha[:12]} yet ({said}){_ignored(statuses, ci)}"
            )
        elif verdict.state is not StatusState.SUCCESS:
            reasons.append(f"{GATES_CONTEXT} is {verdict.state.value}: {verdict.description}")
    return Blockers(reasons, waiting_for_ci=waiting)


def _ignored(statuses: Sequence[CommitStatus], ci: str) -> str:
    others = sorted(
        f"{s.state.value} by {s.creator}"
        for s in statuses
        if s.context == GATES_CONTEXT and s.creator != ci
    )
    return f"; not CI, ignored: {', '.join(others)}" if others else ""
