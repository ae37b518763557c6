"""Reviewing and merging pull requests under the desk's review rules, on any forge.

The forge stores; this module decides (with :mod:`stratops.gitops.review`). A merge is refused
unless CI's gate verdict on the head passed and the approvals satisfy the policy in force on
main; while CI has not given its verdict yet, the refusal is :class:`AwaitingCI` (retry later,
as ``gh pr merge`` refuses a pull request whose required checks are pending).
The required approvals come from what the pull request changes (its desired-state diff against
the merge base), not from its title or branch name, so a pull request cannot under-declare.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stratops.gitops.changes import desired_changes, rule_changes
from stratops.gitops.errors import AwaitingCI, GitOpsError, InvalidManifests, MergeBlocked
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import NewPullRequest, NewReview, PullRequest, Review
from stratops.gitops.git import MAIN, GitRepo
from stratops.gitops.review import Blockers, Requirements, check_reviewer, merge_blockers
from stratops.gitops.snapshot import desk_at


def open_pull_request(
    repo: GitRepo, forge: Forge, branch: str, *, title: str, body: str, author: str
) -> PullRequest:
    """Open a pull request of a pushed ``branch`` into main (a rule change, say): the review
    rules apply at the merge, from what it changes."""
    repo.fetch()
    if repo.remote_branch(branch) is None:
        raise GitOpsError(f"no branch {branch!r} on {repo.remote}: push it first")
    return forge.open_pull_request(
        NewPullRequest(title=title, body=body, head_branch=branch, base_branch=MAIN, author=author)
    )


def review_pull_request(forge: Forge, number: int, review: NewReview) -> Review:
    check_reviewer(forge.get_pull_request(number), review)
    return forge.submit_review(number, review)


def requirements(repo: GitRepo, pull: PullRequest) -> Requirements:
    """What ``pull`` needs to merge, from its changes and the policy on main (fetched)."""
    main = repo.remote_main()
    head = desk_at(repo, pull.head_sha)
    if not head.ok:
        raise InvalidManifests(
            f"the desk at the head of #{pull.number} does not validate", head.problems
        )
    policy = desk_at(repo, main).policy
    if policy is None:
        raise InvalidManifests(f"no single GatePolicy on {MAIN}", [])
    before = desk_at(repo, repo.merge_base(main, pull.head_sha))
    return Requirements.of(
        desired_changes(before.strategies, head.strategies),
        policy,
        rule_changes(before.rules, head.rules),
    )


def merge_readiness(repo: GitRepo, forge: Forge, number: int) -> tuple[PullRequest, Blockers]:
    """The pull request and why it cannot merge now; fetches the remote."""
    pull = forge.get_pull_request(number)
    repo.fetch()
    branch = repo.remote_branch(pull.head_branch)
    if branch is not None and branch != pull.head_sha:
        return pull, Blockers(
            [f"{pull.head_branch} is at {branch[:12]}, the pull request at {pull.head_sha[:12]}"]
        )
    return pull, merge_blockers(
        pull,
        forge.list_reviews(number),
        forge.commit_statuses(pull.head_sha),
        requirements(repo, pull),
        ci=forge.ci_identity(),
        now=datetime.now(UTC),
    )


def merge_pull_request(repo: GitRepo, forge: Forge, number: int) -> PullRequest:
    pull, blockers = merge_readiness(repo, forge, number)
    if blockers.retryable:
        raise AwaitingCI(number, blockers.reasons)
    if blockers.reasons:
        raise MergeBlocked(number, blockers.reasons)
    return forge.merge(number, expected_head_sha=pull.head_sha)
