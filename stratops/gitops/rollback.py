"""Roll a failed deployment back through a pull request: revert, branch, open, merge.

Level-triggered like ``promote``: every call reads main, the branch and the forge afresh and
does only the steps not done yet, so a call repeated after a crash (at any point) or after an
outage finishes the same rollback and never opens a second pull request. A rollback is
identified by its branch ``rollback/<strategy>/v<version>-<stage>`` and the digest of the
failed analysis (the ``Analysis-Digest`` trailer of the branch's commit):

1. the pull request of that branch and digest exists: merged or closed, nothing more to do;
   open, go to 5;
2. main no longer runs that version in that stage: nothing to roll back (obsolete);
3. the commit is ``git revert -m 1`` of the merge commit that brought the promotion to main
   (found from the promotion commit's trailers and the forge), made on main's head, so later
   unrelated commits stay. When the revert conflicts, or would leave a stage entry (an older
   version the promotion had replaced: a rollback never starts a version), the commit is an
   edit of main's manifest that removes the stage, as ``promote`` edits. A live revert restores
   the previous live version (or removes the live stage when there was none), without the
   canary entry of the rolled-back version that the promotion had dropped (the revert would
   start it again as a canary); a conflicting one is refused. A rollback commit is never
   reverted: there is no rollback of a rollback;
4. the branch is pushed with a lease (a branch already holding a commit of this digest is
   kept) and the pull request opened, by ``author``;
5. it merges when allowed: the branch holds exactly this rollback of main (re-verified here),
   nothing blocks it under the review rules, CI's gate verdict if given is not failing (pending:
   wait), and either ``auto`` (``rollback.autoMerge: canary`` for a canary) or a person other
   than its author approved its head.

Nothing is undone on a failure: a pushed branch without its pull request is the state a retry
continues from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from stratops.gitops.changes import ChangeKind, desired_changes, rule_changes
from stratops.gitops.desk import Desk
from stratops.gitops.errors import GitOpsError, InvalidManifests
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import NewPullRequest, PullRequest, PullState, StatusState
from stratops.gitops.git import MAIN, GitRepo
from stratops.gitops.history import ANALYSIS_DIGEST, ROLLBACK_OF, promotion_commits
from stratops.gitops.pulls import merge_readiness
from stratops.gitops.review import approvers, ci_verdict
from stratops.gitops.rollback_plan import (
    ROLLBACK_PREFIX,
    PromotionRef,
    commit_message,
    pull_request_body,
    removal_edits,
    rollback_branch,
    rollback_title,
)
from stratops.gitops.snapshot import desk_at
from stratops.gitops.yaml_edit import EditError, apply_edits
from stratops.model.base import Stage
from stratops.model.rollback import RollbackRequest
from stratops.model.strategy import StrategyDeployment


class RollbackRefused(GitOpsError):
    """The rollback cannot be made as asked (no promotion to undo, a rollback to revert)."""


class RollbackState(StrEnum):
    OPEN = "open"  # the pull request is open, waiting to merge (``waiting`` says why)
    MERGED = "merged"
    CLOSED = "closed"  # closed unmerged by a person: never reopened
    OBSOLETE = "obsolete"  # main no longer runs the version in the stage


@dataclass(frozen=True)
class RollbackOutcome:
    state: RollbackState
    branch: str
    pull_request: PullRequest | None = None
    promotion: PromotionRef | None = None
    opened: bool = False  # opened by this call
    merged: bool = False  # merged by this call
    waiting: str | None = None  # why an open pull request does not merge (yet)
    detail: str = ""
    rollback_of: str | None = None  # the commit reverted (``Rollback-Of``)
    reverted: bool = True  # a revert, not the edit that removes the stage


def _nothing(_: str) -> None:
    return None


def roll_back(
    repo: GitRepo,
    forge: Forge,
    request: RollbackRequest,
    *,
    author: str,
    as_of: datetime,
    checkpoint: Callable[[str], None] = _nothing,
) -> RollbackOutcome:
    """Open (or find) the rollback pull request of ``request`` and merge it when allowed.

    ``checkpoint`` is called after each step that changes something (``rollback-pushed``,
    ``rollback-opened``, ``rollback-merged``): the controller's crash points.
    """
    repo.fetch()
    head = repo.remote_main()
    branch = rollback_branch(request.strategy, request.version, request.stage)
    desk = desk_at(repo, head)
    pull = find_pull_request(repo, forge, branch, request.analysis_digest)
    opened, promotion, reverted = False, None, True
    if pull is None:
        declared = _entry_version(desk, request)
        if declared != request.version:
            now = "nothing" if declared is None else f"v{declared}"
            return RollbackOutcome(
                RollbackState.OBSOLETE,
                branch,
                detail=f"main runs {now} in {request.stage.value}, not v{request.version}",
            )
        promotion = find_promotion(repo, forge, request, head)
        commit, reverted = _rollback_commit(repo, desk, head, request, promotion, as_of)
        previous = repo.remote_branch(branch)
        if previous is None or _digest(repo, previous) != request.analysis_digest:
            repo.push(commit, branch, expected=previous)
        else:
            commit = previous  # pushed before a crash or an outage: continue from it
        checkpoint("rollback-pushed")
        pull = forge.open_pull_request(
            NewPullRequest(
                title=rollback_title(request),
                body=pull_request_body(request, promotion, reverted),
                head_branch=branch,
                base_branch=MAIN,
                author=author,
            )
        )
        opened = True
        checkpoint("rollback-opened")
    found = RollbackOutcome(
        RollbackState.OPEN,
        branch,
        pull,
        promotion,
        opened=opened,
        rollback_of=dict(repo.commit(pull.head_sha).trailers).get(ROLLBACK_OF),
        reverted=reverted,
    )
    if pull.state is PullState.MERGED:
        return replace(found, state=RollbackState.MERGED)
    if pull.state is PullState.CLOSED:
        return replace(found, state=RollbackState.CLOSED, detail="closed unmerged")
    auto = _auto_merge(desk, request)
    joined = _digest(repo, pull.head_sha) or request.analysis_digest
    verified = request.model_copy(update={"analysis_digest": joined})
    waiting = merge_blocker(repo, forge, pull, verified, auto=auto, now=as_of)
    if waiting is not None:
        return replace(found, waiting=waiting)
    merged = forge.merge(pull.number, expected_head_sha=pull.head_sha)
    checkpoint("rollback-merged")
    return replace(found, state=RollbackState.MERGED, pull_request=merged, merged=True)


def find_pull_request(repo: GitRepo, forge: Forge, branch: str, digest: str) -> PullRequest | None:
    """The pull request of ``branch`` whose head carries ``digest``, newest first; else the
    open one of ``branch`` (a second failed analysis of a deployment whose rollback is under
    way joins it: its branch is never pushed over)."""
    pulls = list(reversed(forge.list_pull_requests(state=None, head_branch=branch)))
    same = next((p for p in pulls if _digest(repo, p.head_sha) == digest), None)
    return same or next((p for p in pulls if p.state is PullState.OPEN), None)


def _digest(repo: GitRepo, sha: str) -> str | None:
    try:
        return dict(repo.commit(sha).trailers).get(ANALYSIS_DIGEST)
    except GitOpsError:
        return None


def _strategy(desk: Desk, name: str) -> tuple[str, StrategyDeployment] | None:
    return next(
        ((found.file, doc) for found, doc in desk.of_kind(StrategyDeployment) if doc.name == name),
        None,
    )


def _entry_version(desk: Desk, request: RollbackRequest) -> int | None:
    found = _strategy(desk, request.strategy)
    entry = None if found is None else getattr(found[1].spec.stages, request.stage.value)
    return None if entry is None else int(entry.version)


def _auto_merge(desk: Desk, request: RollbackRequest) -> bool:
    """A canary rollback merges itself under ``rollback.autoMerge: canary``; live never does."""
    found = _strategy(desk, request.strategy)
    policy = "never" if found is None else found[1].spec.rollback.auto_merge
    return request.stage is Stage.CANARY and policy == "canary"


def find_promotion(
    repo: GitRepo, forge: Forge, request: RollbackRequest, head: str
) -> PromotionRef:
    """The latest promotion of the version into the stage on main, and the commit to revert."""
    key = (request.strategy, request.version, request.stage)
    found = next(
        (c for c in promotion_commits(repo, head) if (c.strategy, c.version, c.stage) == key),
        None,
    )
    if found is None:
        raise RollbackRefused(
            f"no promotion commit on {MAIN} puts {request.strategy} v{request.version} into "
            f"{request.stage.value}: there is no promotion to revert"
        )
    merged = [
        p
        for p in forge.pull_requests_of_commit(found.sha)
        if p.state is PullState.MERGED and p.merge_sha and repo.is_ancestor(p.merge_sha, head)
    ]
    pull = merged[0] if merged else None
    merge = found.sha if pull is None or pull.merge_sha is None else pull.merge_sha
    if ROLLBACK_OF in dict(repo.commit(merge).trailers) or (
        pull is not None and pull.head_branch.startswith(f"{ROLLBACK_PREFIX}/")
    ):
        raise RollbackRefused(f"{merge[:12]} is a rollback: a rollback is never rolled back")
    return PromotionRef(
        commit=found.sha,
        merge=merge,
        gate_report_digest=found.report_digest,
        pull_request=None if pull is None else pull.number,
        url=None if pull is None else pull.url,
    )


def _rollback_commit(
    repo: GitRepo,
    desk: Desk,
    head: str,
    request: RollbackRequest,
    promotion: PromotionRef,
    as_of: datetime,
) -> tuple[str, bool]:
    """The rollback commit on ``head`` and whether it is the revert (not the edit)."""
    message = commit_message(request, promotion, reverted=True)
    commit = repo.revert(promotion.merge, head, message, as_of)
    if commit is not None and request.stage is Stage.LIVE:
        return _without_resurrected_canary(repo, desk, head, commit, request, message, as_of), True
    if commit is not None and _entry_version(desk_at(repo, commit), request) is None:
        return commit, True
    if request.stage is Stage.LIVE:
        raise RollbackRefused(
            f"reverting {promotion.merge[:12]} conflicts with later changes of main: a live "
            "rollback restores the previous live version, which a person must resolve"
        )
    message = commit_message(request, promotion, reverted=False)
    removed = _removal(repo, desk, request.strategy, head, head, request.stage, message, as_of)
    return removed, False


def _without_resurrected_canary(
    repo: GitRepo,
    desk: Desk,
    head: str,
    commit: str,
    request: RollbackRequest,
    message: str,
    as_of: datetime,
) -> str:
    """The live revert ``commit``, restoring the live version before the promotion; when it
    also brings back the canary entry of the rolled-back version (the promotion dropped it),
    the same change on ``head`` without that entry."""
    reverted = desk_at(repo, commit).strategies.get(request.strategy)
    canary = None if reverted is None else reverted.spec.stages.canary
    if canary is None or canary.version != request.version:
        return commit
    return _removal(repo, desk, request.strategy, commit, head, Stage.CANARY, message, as_of)


def _removal(
    repo: GitRepo,
    desk: Desk,
    strategy: str,
    at: str,
    head: str,
    stage: Stage,
    message: str,
    as_of: datetime,
) -> str:
    """A commit on ``head`` of the strategy's manifest as it is at ``at`` without ``stage``."""
    found = _strategy(desk, strategy)
    assert found is not None  # the caller checked that main runs the version
    path = found[0]
    try:
        text = apply_edits(repo.read_file(at, path).decode(), removal_edits(stage))
    except EditError as exc:
        raise RollbackRefused(
            f"{path} at {at[:12]}: cannot remove the {stage.value} stage: {exc}"
        ) from exc
    return repo.commit_file(head, path, text.encode(), message, as_of)


def merge_blocker(
    repo: GitRepo,
    forge: Forge,
    pull: PullRequest,
    request: RollbackRequest,
    *,
    auto: bool,
    now: datetime,
) -> str | None:
    """Why the controller does not merge the rollback ``pull`` now; None: it may."""
    pull, blockers = merge_readiness(repo, forge, pull.number)
    if blockers.reasons:
        return "; ".join(blockers.reasons)
    unexpected = _not_the_rollback(repo, pull, request)
    if unexpected is not None:
        return unexpected
    ci = ci_verdict(forge.commit_statuses(pull.head_sha), forge.ci_identity())
    if ci is not None and ci.state is StatusState.PENDING:
        return f"CI's verdict on {pull.head_sha[:12]} is pending"
    if ci is not None and ci.state is not StatusState.SUCCESS:
        return f"CI's verdict on {pull.head_sha[:12]} is {ci.state.value}: {ci.description}"
    if auto:
        return None
    policy = desk_at(repo, repo.remote_main()).policy
    if policy is None:
        raise InvalidManifests(f"no single GatePolicy on {MAIN}", [])
    approved, _ = approvers(pull, forge.list_reviews(pull.number), ttl=policy.approval_ttl, at=now)
    if approved:
        return None
    why = "a live rollback" if request.stage is Stage.LIVE else "rollback.autoMerge is never"
    return f"{why}: waiting for a person's approval of {pull.head_sha[:12]}"


def _not_the_rollback(repo: GitRepo, pull: PullRequest, request: RollbackRequest) -> str | None:
    """What the branch holds besides the rollback of ``request`` (re-verified before merging)."""
    if _digest(repo, pull.head_sha) != request.analysis_digest:
        return f"the head {pull.head_sha[:12]} is not the rollback commit of this analysis"
    base = repo.merge_base(repo.remote_main(), pull.head_sha)
    before, after = desk_at(repo, base), desk_at(repo, pull.head_sha)
    if not after.ok:
        return f"the desk at {pull.head_sha[:12]} does not validate"
    changes = desired_changes(before.strategies, after.strategies)
    expected = [(ChangeKind.ROLLBACK, request.strategy, request.stage)]
    found = [(c.kind, c.strategy, c.stage) for c in changes]
    if found != expected or rule_changes(before.rules, after.rules):
        described = ", ".join(f"{c.strategy} {c.describe()}" for c in changes) or "nothing"
        return (
            f"the branch changes {described}, not only {request.strategy}'s "
            f"{request.stage.value}: not merged by the controller"
        )
    return None
