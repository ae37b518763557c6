"""``gates check``: the gates of every promotion between two commits, as CI runs them.

The base is the merge base of the two commits (what a pull request's diff shows), the head
must hold a valid desk, and as-of is the author date of the head commit, so the report of a
promotion commit is the one ``stratops promote`` computed. The gates are those of the policy
at the base, never the head's: a pull request cannot lower its own bar, and one that changes
the rules and promotes at once fails. Rollbacks and reallocations are listed, not gated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stratops.gates.report import GateReport
from stratops.gitops.changes import (
    ChangeKind,
    DesiredChange,
    desired_changes,
    mixed_change,
    rule_changes,
)
from stratops.gitops.errors import InvalidManifests
from stratops.gitops.evaluation import GateEvaluator
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import (
    GATES_CONTEXT,
    GATES_MARKER,
    CommitStatus,
    PullState,
    StatusState,
)
from stratops.gitops.git import GitRepo
from stratops.gitops.snapshot import desk_at


@dataclass(frozen=True)
class GatedChange:
    change: DesiredChange
    report: GateReport


@dataclass(frozen=True)
class GatesCheck:
    base: str
    head: str
    as_of: datetime
    gated: list[GatedChange]
    listed: list[DesiredChange]  # rollbacks and reallocations: not gated
    refusal: str | None = None  # the change can never pass, whatever its gates say

    @property
    def passed(self) -> bool:
        return self.refusal is None and all(item.report.passed for item in self.gated)

    def markdown(self) -> str:
        if not self.gated:
            verdict = "no promotion to gate"
        else:
            verdict = "✅ PASS" if self.passed else "❌ FAIL"
        lines = [
            GATES_MARKER,
            f"## Promotion gates: {verdict}",
            "",
            f"`{self.base[:12]}` → `{self.head[:12]}` · as of {self.as_of.isoformat()} · "
            f"{len(self.gated)} promotion(s), {len(self.listed)} other change(s)",
            "",
        ]
        if self.refusal is not None:
            lines += [f"**Refused:** {self.refusal}.", ""]
        lines += [item.report.markdown() for item in self.gated]
        if self.listed:
            lines += ["#### Not gated", "", "| strategy | change | kind |", "|---|---|---|"]
            lines += [f"| {c.strategy} | {c.describe()} | {c.kind.value} |" for c in self.listed]
        return "\n".join(lines) + "\n"

    def status(self, creator: str) -> CommitStatus:
        failing = sum(not item.report.passed for item in self.gated)
        return CommitStatus(
            context=GATES_CONTEXT,
            state=StatusState.SUCCESS if self.passed else StatusState.FAILURE,
            creator=creator,
            description=f"{len(self.gated)} promotion(s), {failing} failing"
            + ("" if self.refusal is None else "; promotes and changes the rules"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "asOf": self.as_of.isoformat(),
            "passed": self.passed,
            "refusal": self.refusal,
            "promotions": [item.report.to_json() for item in self.gated],
            "notGated": [
                {"strategy": c.strategy, "kind": c.kind.value, "change": c.describe()}
                for c in self.listed
            ],
        }


def check_gates(repo: GitRepo, evaluator: GateEvaluator, base: str, head: str) -> GatesCheck:
    head_sha = repo.rev_parse(head)
    base_sha = repo.merge_base(repo.rev_parse(base), head_sha)
    after = desk_at(repo, head_sha)
    if not after.ok:
        raise InvalidManifests(
            f"the desk at {head} ({head_sha[:12]}) does not validate", after.problems
        )
    before = desk_at(repo, base_sha)
    changes = desired_changes(before.strategies, after.strategies)
    as_of = repo.commit(head_sha).author_date
    policy = before.policy  # the bar in force, not the one the change proposes
    promoted = [c for c in changes if c.kind is ChangeKind.PROMOTION]
    if promoted and policy is None:
        raise InvalidManifests(
            f"the desk at the base {base_sha[:12]} has no single GatePolicy to gate with", []
        )
    gated = [GatedChange(c, evaluator(c.gate_request(as_of, policy))) for c in promoted if policy]
    listed = [c for c in changes if c.kind is not ChangeKind.PROMOTION]
    refusal = mixed_change(rule_changes(before.rules, after.rules), changes)
    return GatesCheck(base_sha, head_sha, as_of, gated, listed, refusal)


def publish(forge: Forge, check: GatesCheck, author: str) -> list[int]:
    """Record the verdict on the head commit and keep the gate comment of its open PRs current.

    What CI does, as ``author`` (on GitHub, the token's identity). The verdict counts only when
    that is the forge's CI identity. Returns the PR numbers.
    """
    forge.set_commit_status(check.head, check.status(author))
    numbers: list[int] = []
    for pull in forge.pull_requests_of_commit(check.head):
        if pull.state is PullState.OPEN:
            forge.upsert_comment(pull.number, GATES_MARKER, check.markdown(), author)
            numbers.append(pull.number)
    return numbers
