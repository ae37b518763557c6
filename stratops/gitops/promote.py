"""``promote``: turn a promotion request into a commit, a branch and a pull request.

Level-triggered: every attempt reads the desired state fresh from ``origin/main``, plans,
evaluates the gates as of the commit's author date, commits the one-file change on top of main
(the working tree is never touched) and pushes with a lease. If the push is rejected (the
branch or main moved meanwhile), the whole attempt runs once more on the new base: that is the
rebase of the one-file change. Running it again for the same promotion updates the same branch
and pull request; it never opens a second one.

The ``stratops/gates`` status it sets on the commit is pending: only CI's ``gates check
--publish`` gives the verdict that a merge needs (see :mod:`stratops.gitops.review`).

A :class:`~stratops.gitops.plan.ReallocationRequest` takes the same path without gates: its
pull request sets one allocation, and the review rules give it the approvals it needs.

Nothing is left half-done: when the forge fails after the push, the branch is put back where it
was (deleted if it is new), so the branch and its pull request exist together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stratops.gates.report import GateReport
from stratops.gitops.desk import Desk, Source, cross_check, parse_source
from stratops.gitops.errors import (
    DirtyWorkingTree,
    ForgeError,
    GitError,
    IllegalTransition,
    InvalidManifests,
    PromotionAlreadyOpen,
    PushRejected,
    UnknownStrategy,
)
from stratops.gitops.evaluation import GateEvaluator
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import (
    GATES_CONTEXT,
    CommitStatus,
    NewPullRequest,
    PullRequest,
    PullState,
    StatusState,
)
from stratops.gitops.git import MAIN, GitRepo
from stratops.gitops.history import rollback_commits
from stratops.gitops.plan import (
    PromotionPlan,
    PromotionRequest,
    ReallocationRequest,
    commit_message,
    plan_promotion,
    plan_reallocation,
    promotion_prefix,
    pull_request_body,
    reallocation_body,
)
from stratops.gitops.snapshot import desk_at
from stratops.gitops.yaml_edit import apply_edits
from stratops.model.base import Stage
from stratops.model.strategy import StrategyDeployment


@dataclass(frozen=True)
class Promotion:
    """What ``promote`` did: no commit and no pull request when the gates failed.

    ``report`` is None for a reallocation, which is not gated.
    """

    plan: PromotionPlan
    report: GateReport | None
    commit: str | None = None
    pull_request: PullRequest | None = None
    opened: bool = False  # a new pull request, rather than an update of the open one


def pending_status(report: GateReport, author: str) -> CommitStatus:
    """What reviewers see until CI has run: pending, with the (passing) report computed here."""
    return CommitStatus(
        context=GATES_CONTEXT,
        state=StatusState.PENDING,
        creator=author,
        description=f"waiting for CI; passed when promoted ({len(report.checks)} checks, "
        f"report {report.digest[:12]})",
    )


def promote(
    repo: GitRepo,
    forge: Forge,
    evaluator: GateEvaluator,
    request: PromotionRequest | ReallocationRequest,
    *,
    author: str,
    as_of: datetime,
) -> Promotion:
    """Promote (or reallocate) as ``author``; ``as_of`` (whole seconds) becomes the commit's
    author date."""
    if not repo.is_clean():
        raise DirtyWorkingTree(
            f"{repo.root} has uncommitted changes: a promotion is built from {repo.remote}/"
            f"{MAIN}, so they would not be part of it; commit or stash them first"
        )
    attempt = _Attempt(repo, forge, evaluator, request, author, as_of)
    try:
        return attempt.run()
    except PushRejected:
        return attempt.run()


@dataclass(frozen=True)
class _Attempt:
    repo: GitRepo
    forge: Forge
    evaluator: GateEvaluator
    request: PromotionRequest | ReallocationRequest
    author: str
    as_of: datetime

    def run(self) -> Promotion:
        self.repo.fetch()
        base = self.repo.remote_main()
        desk = desk_at(self.repo, base)
        if not desk.ok:
            raise InvalidManifests(
                f"the desk on {MAIN} ({base[:12]}) does not validate", desk.problems
            )
        source, strategy = self._strategy(desk)
        if isinstance(self.request, ReallocationRequest):
            plan = plan_reallocation(strategy, self.request)
        else:
            plan = plan_promotion(strategy, self.request, tuple(desk.templates))
        existing = self._open_pull_request(plan)
        assert desk.policy is not None  # a valid desk with strategies has exactly one
        report = None
        override = None
        if plan.gated:
            report = self.evaluator(plan.gate_request(self.as_of, desk.policy))
            if not report.passed:
                return Promotion(plan, report)
            override = self._rolled_back(base, plan)
        text = apply_edits(self.repo.read_file(base, source.file).decode(), plan.edits)
        _validate(desk, source.file, text)
        message = commit_message(plan, report, self.request.reason, override)
        commit = self.repo.commit_file(base, source.file, text.encode(), message, self.as_of)
        previous = self.repo.remote_branch(plan.branch)
        self.repo.push(commit, plan.branch, expected=previous)
        body = (
            reallocation_body(plan, self.request.reason, desk.policy)
            if report is None
            else pull_request_body(plan, report, self.request.reason, override)
        )
        pull = self._publish(plan, report, body, commit, previous, existing)
        return Promotion(plan, report, commit, pull, opened=existing is None)

    def _rolled_back(self, base: str, plan: PromotionPlan) -> str | None:
        """The rollback this promotion overrides; refused without ``override_rollback``."""
        if plan.target_stage is Stage.PAPER:
            return None
        back = next(
            (
                r
                for r in rollback_commits(self.repo, base)
                if (r.strategy, r.version, r.stage) == (plan.strategy, plan.version, Stage.CANARY)
            ),
            None,
        )
        if back is None:
            return None
        overriding = isinstance(self.request, PromotionRequest) and self.request.override_rollback
        if not overriding:
            raise IllegalTransition(
                f"{plan.strategy} v{plan.version} was rolled back from canary by "
                f"{back.sha[:12]} (analysis {back.analysis_digest[:12]} failed): register a new "
                "version, or pass --override-rollback for the reviewers to approve its return"
            )
        return back.sha

    def _strategy(self, desk: Desk) -> tuple[Source, StrategyDeployment]:
        for source, strategy in desk.of_kind(StrategyDeployment):
            if strategy.name == self.request.strategy:
                return source, strategy
        known = ", ".join(sorted(desk.strategies)) or "none"
        raise UnknownStrategy(f"no strategy {self.request.strategy!r} on {MAIN} (known: {known})")

    def _open_pull_request(self, plan: PromotionPlan) -> PullRequest | None:
        """The open pull request of this promotion; refuse if another one is open."""
        same: PullRequest | None = None
        for pull in self.forge.list_pull_requests(state=PullState.OPEN):
            if pull.head_branch == plan.branch:
                same = pull
            elif pull.head_branch.startswith(promotion_prefix(plan.strategy)):
                raise PromotionAlreadyOpen(plan.strategy, pull.number, pull.head_branch)
        return same

    def _publish(
        self,
        plan: PromotionPlan,
        report: GateReport | None,
        body: str,
        commit: str,
        previous: str | None,
        existing: PullRequest | None,
    ) -> PullRequest:
        try:
            if report is not None:
                self.forge.set_commit_status(commit, pending_status(report, self.author))
            if existing is not None:
                return self.forge.update_pull_request(existing.number, title=plan.title, body=body)
            return self.forge.open_pull_request(
                NewPullRequest(
                    title=plan.title,
                    body=body,
                    head_branch=plan.branch,
                    base_branch=MAIN,
                    author=self.author,
                )
            )
        except ForgeError as exc:
            self._restore(plan.branch, commit, previous, exc)
            raise

    def _restore(self, branch: str, commit: str, previous: str | None, cause: Exception) -> None:
        try:
            if previous is None:
                self.repo.delete_remote_branch(branch, expected=commit)
            else:
                self.repo.push(previous, branch, expected=commit)
        except GitError as exc:
            raise GitError(
                f"the forge failed ({cause}) and {branch} could not be put back to "
                f"{previous or 'absent'}: {exc}"
            ) from exc


def _validate(desk: Desk, file: str, text: str) -> None:
    """The edited document must be valid on its own and with the rest of the desk."""
    edited = parse_source(text, file)
    if isinstance(edited, list):
        raise InvalidManifests("the promoted document does not validate", edited)
    sources = [edited if source.file == file else source for source in desk.sources]
    problems = cross_check(sources)
    if problems:
        raise InvalidManifests("the change would make the desk invalid", problems)
