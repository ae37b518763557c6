"""Admission: which of the desired changes a tick may apply, as a frozen :class:`Admission`.

It decides and records nothing: the rules in force (each rule change since the last accepted
one must be accepted under the rules before it), then, per strategy, whether its promotions
and capital increases came through reviewed, gated pull requests. What it needs to know about
the past it asks the :class:`~stratops.controller.authorize.Authorizer` (Git history, the
forge, the recomputed gate report), only for the changes not verified before: an idle tick
asks nothing. A strategy with a refused change keeps, as a whole, what was applied before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from stratops.controller.authorize import (
    Authorizer,
    Capital,
    Verdict,
    reallocations,
    reentry,
    risk_changes,
)
from stratops.controller.signatures import Signers, required_signers
from stratops.controller.snapshot import Snapshot
from stratops.controller.state import ControllerState, verified_key
from stratops.gitops.changes import rule_changes
from stratops.gitops.desk import Desk
from stratops.gitops.git import GitRepo
from stratops.gitops.history import (
    PromotionCommit,
    RollbackCommit,
    promotion_commits,
    rollback_commits,
)
from stratops.model.base import Stage
from stratops.model.policy import GatePolicy
from stratops.model.strategy import StrategyDeployment

Refusal = tuple[Stage, int, Verdict]


@dataclass(frozen=True)
class Rules:
    """The rules in force: those of ``commit``, the last rule change accepted on main."""

    commit: str
    policy: GatePolicy | None
    signers: Signers | None  # whose signatures count, None: no signature is required
    refused: Verdict | None = None  # the first later rule change on main, not accepted


@dataclass(frozen=True)
class Admission:
    effective: Mapping[str, StrategyDeployment]  # the desired state to apply, per strategy
    verified: frozenset[str]  # promotions verified now (see :func:`verified_key`)
    refused: Mapping[str, Refusal]
    rules_commit: str | None
    rules_refused: Verdict | None = None  # a rule change on main kept out of force
    problems: tuple[str, ...] = ()


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


def authorize(
    state: ControllerState,
    desk: Desk,
    head: str,
    rules: Rules,
    repo: GitRepo,
    authorizer: Authorizer,
) -> tuple[dict[str, StrategyDeployment], set[str], dict[str, Refusal]]:
    """The desired state to apply per strategy, the promotions verified now, the refusals.

    Promotions are checked against ``rules``, those in force (policy and signers).
    """
    effective: dict[str, StrategyDeployment] = {}
    verified: set[str] = set()
    refused: dict[str, Refusal] = {}
    commits: list[PromotionCommit] | None = None
    rolled_back: list[RollbackCommit] | None = None
    strategies = desk.strategies  # built once: a property that makes a new dict each call
    sources = {doc.name: found.file for found, doc in desk.of_kind(StrategyDeployment)}
    for name in sorted(set(strategies) | set(state.applied)):
        wanted, applied = strategies.get(name), state.applied.get(name)
        refusal = None
        source = sources.get(name)
        if wanted and state.last_applied and source is not None:
            for stage in reallocations(applied, wanted):
                entry = getattr(wanted.spec.stages, stage.value)
                raised = Capital(name, stage, entry.allocation)
                verdict = authorizer.reallocation(source, raised, head, rules.policy, rules.signers)
                if not verdict.allowed:
                    refusal = (stage, entry.version, verdict)
                    break
        for stage, version in [] if refusal else risk_changes(applied, wanted):
            assert wanted is not None  # risk changes are stages that main declares
            allocation = getattr(wanted.spec.stages, stage.value).allocation
            if commits is None or rolled_back is None:
                commits, rolled_back = promotion_commits(repo, head), rollback_commits(repo, head)
            back = reentry(name, stage, version, commits, rolled_back)
            if back is not None:  # before the verified shortcut: a rollback undoes a verdict
                refusal = (stage, version, back)
                break
            key = verified_key(name, stage.value, version, allocation)
            if key in state.verified:
                continue
            verdict = authorizer.promotion(
                name, stage, version, commits, rules.policy, rules.signers
            )
            if verdict.allowed and source is not None:
                wanted_capital = Capital(name, stage, allocation)
                verdict = capital(authorizer, verdict, wanted_capital, source, head, rules)
            if not verdict.allowed:
                refusal = (stage, version, verdict)
                break
            verified.add(key)
        chosen = wanted if refusal is None else applied
        if refusal is not None:
            refused[name] = refusal
        if chosen is not None:
            effective[name] = chosen
    return effective, verified, refused


def admit(
    snapshot: Snapshot, repo: GitRepo, authorizer: Authorizer, load: Callable[[str], Desk]
) -> Admission:
    """What the tick may apply; a desk that does not validate keeps the last good state."""
    state, desk, head = snapshot.state, snapshot.desk, snapshot.head
    assert desk is not None  # a rewritten history is not admitted at all
    if not desk.ok:
        return Admission(
            effective=dict(state.applied),
            verified=frozenset(),
            refused={},
            rules_commit=state.rules_commit,
            problems=(
                f"the desk at {head[:12]} does not validate: the last good state keeps running",
            ),
        )
    rules = rules_in_force(state, desk, head, repo, authorizer, load)
    problems: tuple[str, ...] = ()
    if rules.refused is not None:
        problems = (
            f"rule change {(rules.refused.commit or head)[:12]} refused "
            f"({rules.refused.code}): the rules of {rules.commit[:12]} stay in force",
        )
    effective, verified, refused = authorize(state, desk, head, rules, repo, authorizer)
    return Admission(effective, frozenset(verified), refused, rules.commit, rules.refused, problems)
