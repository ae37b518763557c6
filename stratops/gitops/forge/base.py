"""The forge protocol: what stratops needs from a pull-request host.

Implementations: :class:`~stratops.gitops.forge.local.LocalForge` (records beside a bare
repository) and :class:`~stratops.gitops.forge.github.GitHubForge` (the REST API). Methods take
and return the values of :mod:`stratops.gitops.forge.models` and raise only
:class:`~stratops.gitops.errors.ForgeUnavailable` (retry later) or
:class:`~stratops.gitops.errors.ForgeRejected` (the forge said no).

A forge stores and reports; it does not decide. Whether a pull request may merge (gates and
approvals) is decided by :mod:`stratops.gitops.review`, the same for every forge.
"""

from __future__ import annotations

from typing import Protocol

from stratops.gitops.forge.models import (
    Comment,
    CommitStatus,
    NewPullRequest,
    NewReview,
    PullRequest,
    PullState,
    Review,
)


class Forge(Protocol):
    def identity(self) -> str | None:
        """Who this forge acts as (the token's user), None when the caller says who."""
        ...

    def ci_identity(self) -> str:
        """Who CI acts as here: only its ``stratops/gates`` verdict counts."""
        ...

    def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        """Open a pull request of ``new.head_branch`` (already pushed) into its base."""
        ...

    def update_pull_request(
        self, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest: ...

    def close_pull_request(self, number: int) -> PullRequest: ...

    def get_pull_request(self, number: int) -> PullRequest: ...

    def list_pull_requests(
        self, *, state: PullState | None = PullState.OPEN, head_branch: str | None = None
    ) -> list[PullRequest]:
        """Pull requests by number; ``state=None`` lists all of them."""
        ...

    def pull_requests_of_commit(self, sha: str) -> list[PullRequest]:
        """Pull requests whose head is ``sha`` or that merged as ``sha``."""
        ...

    def upsert_comment(self, number: int, marker: str, body: str, author: str) -> Comment:
        """Create, or update in place, the one comment whose body contains ``marker``."""
        ...

    def set_commit_status(self, sha: str, status: CommitStatus) -> None:
        """Set a status as ``status.creator`` (a forge with authentication: its identity)."""
        ...

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        """The latest status of each context and creator on ``sha``, with its creator."""
        ...

    def submit_review(self, number: int, review: NewReview) -> Review:
        """Record a review on the current head; authors cannot review their own PR."""
        ...

    def list_reviews(self, number: int) -> list[Review]:
        """Reviews oldest first, each with the head commit it was given on."""
        ...

    def merge(self, number: int, *, expected_head_sha: str) -> PullRequest:
        """Merge with a merge commit, if the head is still ``expected_head_sha``."""
        ...
