"""What admission needs to know of the past, read with the snapshot (:class:`AdmissionFacts`).

The rules in force (the rule changes on main since the last accepted one, each checked by the
:class:`~stratops.controller.authorize.Authorizer` under the rules before it), then the
authorizer's verdict on each promotion and capital raise that :func:`~.admit.authorize` asks
about: it runs once here against the authorizer, keeping every answer, so that
:func:`~.admit.admit` is a pure function of the snapshot. Only changes not verified before are
asked about, and main's history is read only if one needs it: an idle tick asks nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from stratops.controller.admit import (
    AdmissionFacts,
    History,
    Promotion,
    Raise,
    Rules,
    authorize,
)
from stratops.controller.authorize import Authorizer, Capital, Verdict
from stratops.controller.signatures import required_signers
from stratops.controller.state import ControllerState
from stratops.gitops.changes import rule_changes
from stratops.gitops.desk import Desk
from stratops.gitops.git import GitRepo
from stratops.gitops.history import promotion_commits, rollback_commits


def rules_in_force(
    state: ControllerState,
    desk: Desk,
    head: str,
    repo: GitRepo,
    authorizer: Authorizer,
    load: Callable[[str], Desk],
) -> Rules:
    """The rules in force at ``head``: each rule change since the last accepted one must
    be accepted by the authorizer, under the rules before it; the first that is not stops
    them (until main's rules are back to those in force). The first tick trusts ``head``.
    """
    start = state.rules_commit or state.last_applied
    if start is None:
        return Rules(head, desk.policy, required_signers(desk))
    in_force = load(start)
    if not rule_changes(in_force.rules, desk.rules):
        return Rules(head, desk.policy, required_signers(desk))
    for change in reversed(repo.log(head, since=start, first_parent=True)):
        after = load(change.sha)
        if not rule_changes(in_force.rules, after.rules):
            continue
        signers = required_signers(in_force)
        verdict = authorizer.rule_change(change.sha, in_force.policy, signers)
        if not verdict.allowed:
            return Rules(start, in_force.policy, signers, verdict)
        start, in_force = change.sha, after
    return Rules(start, in_force.policy, required_signers(in_force))


def capital(
    authorizer: Authorizer,
    verdict: Verdict,
    wanted: Capital,
    source: str,
    head: str,
    rules: Rules,
) -> Verdict:
    """Capital in canary or live is at most what a merged, approved PR set.

    ``verdict`` allowed a promotion at the capital its PR set; main may hold more only if
    a merged, approved PR set that allocation as well (a reallocation after the promotion).
    """
    granted, allocation = verdict.allocation, wanted.allocation
    if granted is None or allocation <= granted or verdict.commit is None:
        return verdict
    raised = authorizer.reallocation(source, wanted, head, rules.policy, rules.signers)
    if raised.allowed:
        return verdict
    return Verdict(
        False,
        raised.code if raised.retryable else "capital_exceeds_review",
        f"main allocates {allocation:,.0f}, the merged promotion set {granted:,.0f}: "
        + raised.reason,
        raised.commit or verdict.commit,
    )


class _Asking:
    """:class:`~.admit.Answers` from the authorizer and Git, each answer kept."""

    def __init__(self, repo: GitRepo, authorizer: Authorizer, head: str, rules: Rules) -> None:
        self.repo = repo
        self.authorizer = authorizer
        self.head = head
        self.rules = rules
        self.raises: dict[Raise, Verdict] = {}
        self.promotions: dict[Promotion, Verdict] = {}
        self.commits: History | None = None

    def reallocation(self, source: str, capital: Capital) -> Verdict:
        rules = self.rules
        verdict = self.authorizer.reallocation(
            source, capital, self.head, rules.policy, rules.signers
        )
        self.raises[(source, capital)] = verdict
        return verdict

    def promotion(self, wanted: Capital, version: int, source: str | None) -> Verdict:
        rules = self.rules
        commits, _ = self.history()
        verdict = self.authorizer.promotion(
            wanted.strategy, wanted.stage, version, commits, rules.policy, rules.signers
        )
        if verdict.allowed and source is not None:
            verdict = capital(self.authorizer, verdict, wanted, source, self.head, rules)
        self.promotions[(wanted, version, source)] = verdict
        return verdict

    def history(self) -> History:
        if self.commits is None:
            self.commits = (
                tuple(promotion_commits(self.repo, self.head)),
                tuple(rollback_commits(self.repo, self.head)),
            )
        return self.commits


def read_admission_facts(
    state: ControllerState,
    desk: Desk,
    head: str,
    repo: GitRepo,
    authorizer: Authorizer,
    load: Callable[[str], Desk],
) -> AdmissionFacts:
    """The rules in force at ``head`` and the verdict on every change admission asks about."""
    rules = rules_in_force(state, desk, head, repo, authorizer, load)
    asking = _Asking(repo, authorizer, head, rules)
    authorize(state, desk, asking)
    return AdmissionFacts(rules, asking.raises, asking.promotions, asking.commits)
