"""Admission: which of the desired changes a tick may apply, as a frozen :class:`Admission`.

A pure function of the :class:`~stratops.controller.snapshot.Snapshot`: it decides and records
nothing, and asks nobody. The rules in force (each rule change since the last accepted one
must be accepted under the rules before it), then, per strategy, whether its promotions and
capital increases came through reviewed, gated pull requests. What it needs to know of the past
(Git history, the forge, the recomputed gate reports) the snapshot read as
:class:`AdmissionFacts` (:mod:`stratops.controller.admission_facts`): the rules in force, and
the authorizer's verdict on each change not verified before (an idle tick has none). A
strategy with a refused change keeps, as a whole, what was applied before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from stratops.controller.authorize import (
    Capital,
    Verdict,
    reallocations,
    reentry,
    risk_changes,
)
from stratops.controller.signatures import Signers
from stratops.controller.state import ControllerState, verified_key
from stratops.gitops.desk import Desk
from stratops.gitops.history import PromotionCommit, RollbackCommit
from stratops.model.base import Stage
from stratops.model.policy import GatePolicy
from stratops.model.strategy import StrategyDeployment

if TYPE_CHECKING:
    from stratops.controller.snapshot import Snapshot

Refusal = tuple[Stage, int, Verdict]
History = tuple[tuple[PromotionCommit, ...], tuple[RollbackCommit, ...]]  # newest first
Raise = tuple[str, Capital]  # the manifest (repository path) and the capital it declares
Promotion = tuple[Capital, int, str | None]  # stage and allocation, version, the manifest


@dataclass(frozen=True)
class Rules:
    """The rules in force: those of ``commit``, the last rule change accepted on main."""

    commit: str
    policy: GatePolicy | None
    signers: Signers | None  # whose signatures count, None: no signature is required
    refused: Verdict | None = None  # the first later rule change on main, not accepted


class Answers(Protocol):
    """What :func:`authorize` asks of the past: the authorizer's verdicts and main's history."""

    def reallocation(self, source: str, capital: Capital) -> Verdict:
        """May main's ``capital``, declared in ``source``, run (a merged, approved raise)?"""
        ...

    def promotion(self, capital: Capital, version: int, source: str | None) -> Verdict:
        """May ``version`` run in ``capital``'s stage, at its allocation?"""
        ...

    def history(self) -> History:
        """The promotion and rollback commits reachable from main."""
        ...


@dataclass(frozen=True)
class AdmissionFacts:
    """The answers the snapshot read for admission: the rules in force and every verdict.

    Each verdict is the authorizer's, under ``rules``, at the snapshot's head; ``commits`` is
    main's history (None: no change needed it).
    """

    rules: Rules
    raises: Mapping[Raise, Verdict] = field(default_factory=dict)
    promotions: Mapping[Promotion, Verdict] = field(default_factory=dict)
    commits: History | None = None

    def reallocation(self, source: str, capital: Capital) -> Verdict:
        return self.raises[(source, capital)]

    def promotion(self, capital: Capital, version: int, source: str | None) -> Verdict:
        return self.promotions[(capital, version, source)]

    def history(self) -> History:
        assert self.commits is not None, "read with the verdicts that needed it"
        return self.commits


@dataclass(frozen=True)
class Admission:
    effective: Mapping[str, StrategyDeployment]  # the desired state to apply, per strategy
    verified: frozenset[str]  # promotions verified now (see :func:`verified_key`)
    refused: Mapping[str, Refusal]
    rules_commit: str | None
    rules_refused: Verdict | None = None  # a rule change on main kept out of force
    problems: tuple[str, ...] = ()


def authorize(
    state: ControllerState, desk: Desk, answers: Answers
) -> tuple[dict[str, StrategyDeployment], set[str], dict[str, Refusal]]:
    """The desired state to apply per strategy, the promotions verified now, the refusals.

    Deterministic in its arguments: the snapshot runs it once asking the authorizer (and keeps
    the answers), :func:`admit` again on the answers kept, asking the same questions.
    """
    effective: dict[str, StrategyDeployment] = {}
    verified: set[str] = set()
    refused: dict[str, Refusal] = {}
    strategies = desk.strategies  # built once: a property that makes a new dict each call
    sources = {doc.name: found.file for found, doc in desk.of_kind(StrategyDeployment)}
    for name in sorted(set(strategies) | set(state.applied)):
        wanted, applied = strategies.get(name), state.applied.get(name)
        refusal = None
        source = sources.get(name)
        if wanted and state.last_applied and source is not None:
            for stage in reallocations(applied, wanted):
                entry = getattr(wanted.spec.stages, stage.value)
                verdict = answers.reallocation(source, Capital(name, stage, entry.allocation))
                if not verdict.allowed:
                    refusal = (stage, entry.version, verdict)
                    break
        for stage, version in [] if refusal else risk_changes(applied, wanted):
            assert wanted is not None  # risk changes are stages that main declares
            allocation = getattr(wanted.spec.stages, stage.value).allocation
            commits, rolled_back = answers.history()
            back = reentry(name, stage, version, commits, rolled_back)
            if back is not None:  # before the verified shortcut: a rollback undoes a verdict
                refusal = (stage, version, back)
                break
            key = verified_key(name, stage.value, version, allocation)
            if key in state.verified:
                continue
            verdict = answers.promotion(Capital(name, stage, allocation), version, source)
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


def admit(snapshot: Snapshot) -> Admission:
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
    facts = snapshot.admission
    assert facts is not None  # read with every desk that validates
    rules = facts.rules
    problems: tuple[str, ...] = ()
    if rules.refused is not None:
        problems = (
            f"rule change {(rules.refused.commit or head)[:12]} refused "
            f"({rules.refused.code}): the rules of {rules.commit[:12]} stay in force",
        )
    effective, verified, refused = authorize(state, desk, facts)
    return Admission(effective, frozenset(verified), refused, rules.commit, rules.refused, problems)
