"""Where a change came from: the pull request, its author and approvers, the merge, the gates.

Every action the controller records carries the provenance of the change it applies: the
first-parent commit on main that last changed the strategy's manifest, the merged pull request
holding it (as its merge commit or its head), who opened and who approved it, the gate report
digest of the promotion commit, and, for a revert, the promotion it undid. A change pushed
directly has no pull request: its provenance says so. Reading it never blocks an action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from stratops.gitops.errors import ForgeError, GitError
from stratops.gitops.forge.base import Forge
from stratops.gitops.forge.models import PullRequest, PullState
from stratops.gitops.git import Commit, GitRepo
from stratops.gitops.review import approvers

_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_FOREVER = timedelta(days=365_000)  # who approved, whatever the policy's time to live


@dataclass(frozen=True)
class Provenance:
    change_commit: str | None = None
    pull_request: int | None = None
    url: str | None = None
    author: str | None = None
    approvers: tuple[str, ...] = ()
    merge_commit: str | None = None
    gate_report_digest: str | None = None
    rollback_of: str | None = None  # the commit a revert undid
    evidence_digest: str | None = None
    unknown: str | None = field(default=None)  # why it could not be read

    def details(self) -> dict[str, object]:
        """The fields for an audit event's details (all of them, None where absent)."""
        return {
            "change_commit": self.change_commit,
            "pull_request": self.pull_request,
            "pull_request_url": self.url,
            "author": self.author,
            "approvers": list(self.approvers),
            "merge_commit": self.merge_commit,
            "gate_report_digest": self.gate_report_digest,
            "rollback_of": self.rollback_of,
            "evidence_digest": self.evidence_digest,
            **({"provenance_unknown": self.unknown} if self.unknown else {}),
        }


def _merged_pull(forge: Forge, change: Commit) -> PullRequest | None:
    for sha in (change.sha, *change.parents[1:]):
        merged = [p for p in forge.pull_requests_of_commit(sha) if p.state is PullState.MERGED]
        if merged:
            return merged[0]
    return None


def trace(repo: GitRepo, forge: Forge, head: str, path: str) -> Provenance:
    """The provenance of the last first-parent change of ``path`` up to ``head``."""
    try:
        found = repo.log(head, path=path, first_parent=True, limit=1)
        if not found:
            return Provenance(unknown=f"no commit changes {path}")
        change = found[0]
        pull = _merged_pull(forge, change)
        source = (
            change if pull is None or pull.head_sha == change.sha else repo.commit(pull.head_sha)
        )
        trailers = dict(source.trailers)
        reverted = _REVERTS.search(source.message)
        approved: list[str] = []
        if pull is not None:
            at = pull.merged_at
            reviews = forge.list_reviews(pull.number)
            approved, _ = approvers(pull, reviews, ttl=_FOREVER, at=at) if at else ([], [])
        return Provenance(
            change_commit=change.sha,
            pull_request=None if pull is None else pull.number,
            url=None if pull is None else pull.url,
            author=source.author if pull is None else pull.author,
            approvers=tuple(approved),
            merge_commit=None if pull is None else pull.merge_sha,
            gate_report_digest=trailers.get("Gate-Report-Digest"),
            rollback_of=None if reverted is None else reverted.group(1),
        )
    except (GitError, ForgeError) as exc:
        return Provenance(unknown=str(exc))
