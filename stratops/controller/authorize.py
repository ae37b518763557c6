"""Which changes of the desired state the controller may apply.

Reducing risk is always allowed: removing a stage, going back to an older version, a smaller
allocation. A larger canary or live allocation must come from a merged pull request that sets
it (``stratops promote S V --allocation N``), approved as a promotion to that stage: the commit
of main that set the allocation is found in the manifest's history (whenever it was pushed), so
a raise refused once stays refused until a reviewed pull request sets it. Anything
that puts a version into canary or live must have arrived as the desk intends:

- a promotion commit carrying the trailers ``Strategy``, ``Version``, ``Stage``,
  ``Gate-Report-Digest`` is reachable from main;
- it belongs to a merged pull request whose approvals satisfy the policy that was in force on
  main: reviews on its head (a push after an approval dismisses it), not by its author, and
  given no longer than the policy's ``approvalTtl`` before the merge;
- CI's own ``stratops/gates`` verdict on that head (the status of the forge's CI identity;
  anyone else's is ignored) is success;
- the gate report recomputed here from the same inputs has the digest of the trailer, and
  passes: the controller never trusts CI's verdict alone.

With ``GatePolicy.spec.signatures`` required, the promotion commit and its merge commit must
also be signed by a key of the allowed signers in force (:mod:`stratops.controller.signatures`),
and so must the commit of main that changes the rules or raises capital.

A change that fails any of these is refused: the strategy keeps what was applied before.

The gates and approvals a promotion is checked against are those of the rules in force (the
last rule change the controller accepted), never the ones the promotion's own history carries.
A rule change (``GatePolicy``, ``AnalysisTemplate``, ``AlertRule``, ``Runbook``) on main is
accepted only from a merged pull request approved by enough of the policy's owners (of the rules
in force before it), none of them its author, that promotes nothing
(:meth:`Authorizer.rule_change`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from stratops.controller.signatures import Signers, Unsigned, verify
from stratops.gitops.changes import ChangeKind, desired_changes, rule_changes
from stratops.gitops.desk import parse_source
from stratops.gitops.errors import ForgeError, GitError, UnknownVersion
from stratops.gitops.evaluation import GateEvaluator
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import GATES_CONTEXT, PullRequest, PullState, StatusState
from stratops.gitops.git import GitRepo
from stratops.gitops.history import ROLLBACK_OVERRIDE, PromotionCommit, RollbackCommit
from stratops.gitops.review import Requirements, approvers, ci_verdict
from stratops.gitops.snapshot import desk_at
from stratops.model.base import Document, Stage
from stratops.model.policy import GatePolicy
from stratops.model.strategy import StrategyDeployment
from stratops.registry.errors import EvidenceMismatch, RegistryError
from stratops.unavailable import Unavailable

RISK_STAGES = (Stage.CANARY, Stage.LIVE)
ALLOCATION_HISTORY = 200  # changes of a manifest searched for the one that set an allocation


@dataclass(frozen=True)
class Capital:
    """The allocation main declares for one stage of a strategy."""

    strategy: str
    stage: Stage
    allocation: float

    def describe(self) -> str:
        return f"{self.stage.value} allocation {self.allocation:,.0f} of {self.strategy}"


def _allocation(repo: GitRepo, rev: str, path: str, capital: Capital) -> float | None:
    """The allocation of ``capital``'s stage in the manifest ``path`` at ``rev`` (None: none)."""
    try:
        source = parse_source(repo.read_file(rev, path), path)
    except GitError:
        return None
    document = None if isinstance(source, list) else source.document
    if not isinstance(document, StrategyDeployment) or document.name != capital.strategy:
        return None
    entry = getattr(document.spec.stages, capital.stage.value)
    return None if entry is None else float(entry.allocation)


@dataclass(frozen=True)
class Verdict:
    """Whether a change may be applied; ``code`` is stable, ``reason`` for people."""

    allowed: bool
    code: str
    reason: str
    commit: str | None = None
    allocation: float | None = None  # the capital the verified promotion set, when allowed

    @property
    def retryable(self) -> bool:
        """Could not be decided because a service is unavailable: ask again at a later tick."""
        return self.code == UNAVAILABLE


UNAVAILABLE = "unavailable"
ALLOWED = Verdict(True, "ok", "allowed")


class Authorizer:
    """Checks promotions against Git history, the forge and a recomputed gate report."""

    def __init__(self, repo: GitRepo, forge: Forge, evaluator: GateEvaluator) -> None:
        self.repo = repo
        self.forge = forge
        self.evaluator = evaluator

    def promotion(
        self,
        strategy: str,
        stage: Stage,
        version: int,
        commits: Iterable[PromotionCommit],
        policy: GatePolicy | None,
        signers: Signers | None,
    ) -> Verdict:
        """Whether ``version`` may run in ``stage``, under ``policy`` and ``signers``: the rules
        in force (``signers`` None: no signature is required)."""
        candidates = [
            c for c in commits if (c.strategy, c.stage, c.version) == (strategy, stage, version)
        ]
        if not candidates:
            return Verdict(
                False,
                "unreviewed",
                f"no promotion commit puts v{version} into {stage.value}: a direct push, not a "
                "merged promotion PR",
            )
        commit = candidates[0]
        try:
            return self._check(commit, policy, signers)
        except Unavailable as exc:
            return Verdict(False, UNAVAILABLE, f"cannot verify: {exc}", commit.sha)
        except EvidenceMismatch as exc:
            return Verdict(False, "evidence_mismatch", exc.message.splitlines()[0], commit.sha)
        except (GitError, UnknownVersion, ForgeError, RegistryError) as exc:
            return Verdict(False, "unverifiable", str(exc), commit.sha)

    def reallocation(
        self,
        path: str,
        capital: Capital,
        head: str,
        policy: GatePolicy | None,
        signers: Signers | None,
    ) -> Verdict:
        """Whether main's ``capital`` may run: the commit of main that set it (the latest that
        changed it to that amount, on the first-parent line of ``path``) must be (with
        ``signers``, a signed commit) of a merged PR that sets it, approved as ``policy`` (the
        rules in force) asks of a raise at its merge."""
        found: str | None = None
        try:
            found = self._allocation_set_by(path, capital, head)
            if found is None:
                return Verdict(
                    False,
                    "unverifiable",
                    f"no commit of main in the last {ALLOCATION_HISTORY} changes of {path} "
                    f"sets its {capital.describe()}",
                )
            unsigned = verify(self.repo, [(found, "allocation change")], signers)
            if unsigned is not None:
                return _refused(unsigned)
            pulls = self.forge.pull_requests_of_commit(found)
            merged = [p for p in pulls if p.state is PullState.MERGED]
            if not merged:
                return Verdict(
                    False,
                    "unreviewed",
                    f"the allocation change in {found[:12]} is in no merged pull request",
                    found,
                )
            return self._check_allocation(found, merged[0], capital, policy)
        except Unavailable as exc:
            return Verdict(False, UNAVAILABLE, f"cannot verify: {exc}", found)
        except (ForgeError, GitError) as exc:
            return Verdict(False, "unverifiable", str(exc), found)

    def _allocation_set_by(self, path: str, capital: Capital, head: str) -> str | None:
        """The newest first-parent commit of main whose parent did not allocate ``capital``."""
        for commit in self.repo.log(head, path=path, first_parent=True, limit=ALLOCATION_HISTORY):
            before = (
                _allocation(self.repo, commit.parents[0], path, capital) if commit.parents else None
            )
            if before != capital.allocation:
                return commit.sha
        return None

    def _check_allocation(
        self, sha: str, pull: PullRequest, capital: Capital, policy: GatePolicy | None
    ) -> Verdict:
        if policy is None or pull.merged_at is None:
            return Verdict(False, "unverifiable", f"cannot check PR #{pull.number}", sha)
        base = self.repo.merge_base(self.repo.rev_parse(f"{sha}^"), pull.head_sha)
        before, after = desk_at(self.repo, base), desk_at(self.repo, pull.head_sha)
        changes = desired_changes(before.strategies, after.strategies)
        if not any(
            (c.strategy, c.stage, c.allocation)
            == (capital.strategy, capital.stage, capital.allocation)
            for c in changes
        ):
            return Verdict(
                False,
                "unreviewed",
                f"PR #{pull.number} does not set the {capital.describe()}: it came with its "
                f"merge {sha[:12]}, not through the review",
                sha,
            )
        # A raise of what runs, whatever the PR's own diff says (a "cut" of an unreviewed
        # larger allocation pushed before it is still a raise of the capital deployed).
        needed = Requirements.of(changes, policy)
        needed = replace(
            needed, approvals=max(needed.approvals, policy.spec.approvals.for_stage(capital.stage))
        )
        reviews = self.forge.list_reviews(pull.number)
        approved, _ = approvers(pull, reviews, ttl=needed.approval_ttl, at=pull.merged_at)
        shortfall = needed.shortfall(approved, pull.head_sha)
        if shortfall is not None:
            return Verdict(False, "unapproved", f"PR #{pull.number}: {shortfall}", sha)
        return Verdict(True, "ok", f"PR #{pull.number}", sha, allocation=capital.allocation)

    def rule_change(self, sha: str, policy: GatePolicy | None, signers: Signers | None) -> Verdict:
        """Whether the rule change that ``sha`` (a commit of main) makes may take effect.

        ``policy`` and ``signers`` are those in force before it: its owners are those who may
        change it, and with ``signers`` the commit must be signed by one of them.
        """
        try:
            unsigned = verify(self.repo, [(sha, "rule change")], signers)
            if unsigned is not None:
                return _refused(unsigned)
            return self._check_rules(sha, policy)
        except Unavailable as exc:
            return Verdict(False, UNAVAILABLE, f"cannot verify: {exc}", sha)
        except (GitError, ForgeError) as exc:
            return Verdict(False, "unverifiable", str(exc), sha)

    def _check_rules(self, sha: str, policy: GatePolicy | None) -> Verdict:
        merged = [p for p in self.forge.pull_requests_of_commit(sha) if p.state is PullState.MERGED]
        if not merged:
            return Verdict(
                False,
                "unreviewed",
                f"the rule change in {sha[:12]} is in no merged pull request: a direct push",
                sha,
            )
        pull = merged[0]
        if policy is None or pull.merged_at is None:
            return Verdict(False, "unverifiable", f"cannot check PR #{pull.number}", sha)
        parent = self.repo.rev_parse(f"{sha}^")
        base = self.repo.merge_base(parent, pull.head_sha)
        before, head = desk_at(self.repo, base), desk_at(self.repo, pull.head_sha)
        rules = rule_changes(before.rules, head.rules)
        if not _brings(
            rules, desk_at(self.repo, parent).rules, head.rules, desk_at(self.repo, sha).rules
        ):
            return Verdict(
                False,
                "unreviewed",
                f"the rules at {sha[:12]} are not those of main with the rule changes of PR "
                f"#{pull.number} ({', '.join(rules) or 'none'}): changed outside the review",
                sha,
            )
        changes = desired_changes(before.strategies, head.strategies)
        needed = Requirements.of(changes, policy, rules)
        if needed.refusal is not None:
            return Verdict(False, "promotes_and_changes_rules", needed.refusal, sha)
        reviews = self.forge.list_reviews(pull.number)
        approved, _ = approvers(pull, reviews, ttl=needed.approval_ttl, at=pull.merged_at)
        shortfall = needed.shortfall(approved, pull.head_sha)
        if shortfall is not None:
            return Verdict(False, "unapproved", f"PR #{pull.number}: {shortfall}", sha)
        return Verdict(True, "ok", f"PR #{pull.number}", sha)

    def _check(
        self, commit: PromotionCommit, policy: GatePolicy | None, signers: Signers | None
    ) -> Verdict:
        unsigned = verify(self.repo, [(commit.sha, "promotion commit")], signers)
        if unsigned is not None:
            return _refused(unsigned)
        merged = [
            p for p in self.forge.pull_requests_of_commit(commit.sha) if p.state is PullState.MERGED
        ]
        if not merged:
            return Verdict(
                False, "unreviewed", f"{commit.sha[:12]} is in no merged pull request", commit.sha
            )
        pull = merged[0]
        if pull.merge_sha is not None:
            merge = [(pull.merge_sha, f"merge commit of PR #{pull.number}")]
            unsigned = verify(self.repo, merge, signers)
            if unsigned is not None:
                return _refused(unsigned)
        parent = self.repo.rev_parse(f"{commit.sha}^")
        before, after = desk_at(self.repo, parent), desk_at(self.repo, commit.sha)
        changes = desired_changes(before.strategies, after.strategies)
        if policy is None:
            return Verdict(False, "unverifiable", "no gate policy in force", commit.sha)
        needed = Requirements.of(changes, policy)
        if pull.merged_at is None:
            return Verdict(
                False, "unverifiable", f"PR #{pull.number} has no merge time", commit.sha
            )
        reviews = self.forge.list_reviews(pull.number)
        approved, _ = approvers(pull, reviews, ttl=needed.approval_ttl, at=pull.merged_at)
        if needed.shortfall(approved, pull.head_sha) is not None:
            return Verdict(
                False,
                "unapproved",
                f"PR #{pull.number} has {len(approved)} valid approval(s) on its head "
                f"{pull.head_sha[:12]} at its merge, the policy needs {needed.approvals}",
                commit.sha,
            )
        ci = self.forge.ci_identity()
        verdict = ci_verdict(self.forge.commit_statuses(pull.head_sha), ci)
        if verdict is None or verdict.state is not StatusState.SUCCESS:
            said = f"is {verdict.state.value}" if verdict else "was not given"
            return Verdict(
                False,
                "no_ci_verdict",
                f"CI's ({ci}) {GATES_CONTEXT} verdict on the head of PR #{pull.number} {said}: "
                "a status set by anyone else does not count",
                commit.sha,
            )
        change = next(
            (
                c
                for c in changes
                if c.kind is ChangeKind.PROMOTION
                and (c.strategy, c.stage, c.to_version)
                == (commit.strategy, commit.stage, commit.version)
            ),
            None,
        )
        if change is None:
            return Verdict(
                False, "unverifiable", f"{commit.sha[:12]} does not make the promotion", commit.sha
            )
        report = self.evaluator(change.gate_request(commit.author_date, policy))
        if report.digest != commit.report_digest:
            return Verdict(
                False,
                "digest_mismatch",
                f"recomputed gate report {report.digest[:12]} differs from the commit's "
                f"{commit.report_digest[:12]}",
                commit.sha,
            )
        if not report.passed:
            return Verdict(False, "gates_fail", "the recomputed gate report fails", commit.sha)
        return Verdict(
            True,
            "ok",
            f"PR #{pull.number}, gates {report.digest[:12]}",
            commit.sha,
            allocation=change.allocation,
        )


def reentry(
    strategy: str,
    stage: Stage,
    version: int,
    commits: Sequence[PromotionCommit],
    rolled_back: Sequence[RollbackCommit],
) -> Verdict | None:
    """Why ``version``, rolled back from canary, may not enter ``stage`` again; None: it may.

    A version whose canary was rolled back (``rolled_back``, newest first) comes back only as a
    new version, or through a promotion commit that names the latest of those rollbacks in a
    ``Rollback-Override`` trailer (``stratops promote --override-rollback``): the override is
    then as reviewed and gated as any promotion, since that commit must pass
    :meth:`Authorizer.promotion`.
    """
    back = next(
        (
            r
            for r in rolled_back
            if (r.strategy, r.version, r.stage) == (strategy, version, Stage.CANARY)
        ),
        None,
    )
    if back is None:
        return None
    promotion = next(
        (c for c in commits if (c.strategy, c.stage, c.version) == (strategy, stage, version)),
        None,
    )
    if promotion is not None and promotion.override == back.sha:
        return None
    return Verdict(
        False,
        "rolled_back",
        f"{strategy} v{version} was rolled back from canary by {back.sha[:12]} (analysis "
        f"{back.analysis_digest[:12]} failed): it enters {stage.value} again only as a new "
        f"version, or through a promotion PR whose commit carries "
        f"'{ROLLBACK_OVERRIDE}: {back.sha}' (stratops promote --override-rollback)",
        None if promotion is None else promotion.sha,
    )


def _refused(unsigned: Unsigned) -> Verdict:
    return Verdict(False, unsigned.code, unsigned.reason, unsigned.commit)


def _brings(
    rules: Sequence[str],
    parent: Mapping[str, Document],
    head: Mapping[str, Document],
    merged: Mapping[str, Document],
) -> bool:
    """Whether the ``merged`` rules are the ``parent``'s with ``rules`` taken from ``head``."""
    expected = {name: doc for name, doc in parent.items() if name not in rules}
    expected |= {name: doc for name, doc in head.items() if name in rules}
    return not rule_changes(expected, merged)


def reallocations(
    applied: StrategyDeployment | None, head: StrategyDeployment | None
) -> list[Stage]:
    """Canary or live stages whose version stays and whose allocation grows (less is safer)."""
    if applied is None or head is None:
        return []
    moved = []
    for stage in RISK_STAGES:
        new = getattr(head.spec.stages, stage.value)
        old = getattr(applied.spec.stages, stage.value)
        if new and old and new.version == old.version and new.allocation > old.allocation:
            moved.append(stage)
    return moved


def risk_changes(
    applied: StrategyDeployment | None, head: StrategyDeployment | None
) -> list[tuple[Stage, int]]:
    """(stage, version) that ``head`` puts into canary or live and ``applied`` did not run."""
    if head is None:
        return []
    changes = []
    for stage in RISK_STAGES:
        new = getattr(head.spec.stages, stage.value)
        old = getattr(applied.spec.stages, stage.value) if applied else None
        if new is not None and (old is None or new.version > old.version):
            changes.append((stage, new.version))
    return changes
