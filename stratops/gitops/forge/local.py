"""The embedded forge: pull requests as JSON records beside a bare repository.

For a bare repository ``X/remote.git`` the records live in ``X/remote.forge/``::

    remote.forge/
      forge.lock            serialises every read-modify-write (filelock: processes, threads)
      pulls/<number>.json   one pull request with its reviews (head and time) and comments
      statuses/<sha>.json   commit statuses of one commit, oldest first, with their creator
      signing_key           optional: the SSH private key the forge signs its merge commits with

Records are written atomically (a temporary file renamed over the old one) and only when they
changed. The head of an open pull request is read from the bare repository each time: when it
moved (a new push) the decisive reviews of the old head are marked dismissed. Merging makes a
merge commit (``--no-ff``, the PR number in its message) in a temporary clone and pushes it to
the base branch with a lease, so a concurrent push to main is never overwritten. With a
``signing_key`` in the forge folder the merge commit is signed with it, as GitHub signs the
merges it makes: list its public key in the desk's allowed signers.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, ValidationError

from stratops.files import replace_file
from stratops.gitops.errors import ForgeRejected, ForgeUnavailable, GitError, PushRejected
from stratops.gitops.forge.models import (
    Comment,
    CommitStatus,
    NewPullRequest,
    NewReview,
    PullRequest,
    PullState,
    Review,
    ReviewState,
    latest_statuses,
)
from stratops.gitops.git import GitRepo

LOCK_TIMEOUT_SECONDS = 30.0
LOCAL_CI = "ci"
SIGNING_KEY = "signing_key"
"""The actor CI acts as on the local forge (``gates check --publish --as ci``)."""


def forge_folder(bare: Path) -> Path:
    """Where the records of the bare repository ``bare`` live: beside it."""
    return bare.with_suffix(".forge")


class PullRecord(BaseModel):
    """A pull request as stored: the public value plus its reviews and comments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: int
    title: str
    body: str
    author: str
    head_branch: str
    base_branch: str
    head_sha: str
    state: PullState
    merge_sha: str | None = None
    merged_at: datetime | None = None
    reviews: tuple[Review, ...] = ()
    comments: tuple[Comment, ...] = ()

    def dismiss_stale(self, head: str) -> PullRecord:
        """The record at a new head: decisive reviews of earlier heads are dismissed."""
        reviews = tuple(
            r.model_copy(update={"state": ReviewState.DISMISSED})
            if r.commit_sha != head
            and r.state in (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED)
            else r
            for r in self.reviews
        )
        return self.model_copy(update={"head_sha": head, "reviews": reviews})


class LocalForge:
    """Pull requests of the bare repository at ``bare``; see the module docstring.

    It has no authentication: whoever uses it says who they are, CI included (``ci``, the
    actor whose ``stratops/gates`` verdicts count). ``clock`` dates reviews and merges.
    """

    def __init__(
        self,
        bare: Path,
        *,
        ci: str = LOCAL_CI,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.bare = GitRepo(bare)
        self.root = forge_folder(bare)
        self.ci = ci
        self.clock = clock
        self._lock = FileLock(str(self.root / "forge.lock"), timeout=LOCK_TIMEOUT_SECONDS)

    @classmethod
    def create(cls, bare: Path) -> LocalForge:
        forge = cls(bare)
        for folder in ("pulls", "statuses"):
            (forge.root / folder).mkdir(parents=True, exist_ok=True)
        return forge

    def identity(self) -> str | None:
        return None

    def ci_identity(self) -> str:
        return self.ci

    @property
    def signing_key(self) -> Path | None:
        """The SSH key merge commits are signed with, None: they are not signed."""
        key = self.root / SIGNING_KEY
        return key if key.is_file() else None

    # pull requests

    def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        with self._locked():
            head = self._branch(new.head_branch)
            self._branch(new.base_branch)
            records = self._records()
            for record in records:
                same = (record.head_branch, record.base_branch) == (
                    new.head_branch,
                    new.base_branch,
                )
                if same and record.state is PullState.OPEN:
                    raise ForgeRejected(
                        f"pull request #{record.number} for {new.head_branch} is already open", 422
                    )
            record = PullRecord(
                number=max((r.number for r in records), default=0) + 1,
                head_sha=head,
                state=PullState.OPEN,
                **new.model_dump(),
            )
            self._store(record)
            return self._public(record)

    def update_pull_request(
        self, number: int, *, title: str | None = None, body: str | None = None
    ) -> PullRequest:
        changes = {k: v for k, v in (("title", title), ("body", body)) if v is not None}
        with self._locked():
            record = self._load(number)
            return self._public(self._save(record, record.model_copy(update=changes)))

    def close_pull_request(self, number: int) -> PullRequest:
        with self._locked():
            record = self._open(number)
            return self._public(
                self._save(record, record.model_copy(update={"state": PullState.CLOSED}))
            )

    def get_pull_request(self, number: int) -> PullRequest:
        with self._locked():
            return self._public(self._load(number))

    def list_pull_requests(
        self, *, state: PullState | None = PullState.OPEN, head_branch: str | None = None
    ) -> list[PullRequest]:
        with self._locked():
            return [
                self._public(record)
                for record in self._records()
                if (state is None or record.state is state)
                and (head_branch is None or record.head_branch == head_branch)
            ]

    def pull_requests_of_commit(self, sha: str) -> list[PullRequest]:
        with self._locked():
            return [
                self._public(record)
                for record in self._records()
                if sha in (record.head_sha, record.merge_sha)
            ]

    # conversation

    def upsert_comment(self, number: int, marker: str, body: str, author: str) -> Comment:
        with self._locked():
            record = self._load(number)
            existing = next((c for c in record.comments if marker in c.body), None)
            if existing is not None:
                comment = existing.model_copy(update={"body": body})
                comments = tuple(comment if c.id == existing.id else c for c in record.comments)
            else:
                comment = Comment(
                    id=max((c.id for c in record.comments), default=0) + 1, author=author, body=body
                )
                comments = (*record.comments, comment)
            self._save(record, record.model_copy(update={"comments": comments}))
            return comment

    def set_commit_status(self, sha: str, status: CommitStatus) -> None:
        with self._locked():
            self._write(
                self._status_file(sha), [*self._statuses(sha), status.model_dump(mode="json")]
            )

    def commit_statuses(self, sha: str) -> list[CommitStatus]:
        with self._locked():
            return latest_statuses(CommitStatus.model_validate(s) for s in self._statuses(sha))

    def submit_review(self, number: int, review: NewReview) -> Review:
        with self._locked():
            record = self._open(number)
            if review.reviewer == record.author and review.state is not ReviewState.COMMENTED:
                raise ForgeRejected(f"{review.reviewer} cannot review their own pull request", 422)
            stored = Review(
                id=max((r.id for r in record.reviews), default=0) + 1,
                commit_sha=record.head_sha,
                submitted_at=self.clock(),
                **review.model_dump(),
            )
            self._save(record, record.model_copy(update={"reviews": (*record.reviews, stored)}))
            return stored

    def list_reviews(self, number: int) -> list[Review]:
        with self._locked():
            return list(self._load(number).reviews)

    def merge(self, number: int, *, expected_head_sha: str) -> PullRequest:
        with self._locked():
            record = self._open(number)
            if record.head_sha != expected_head_sha:
                raise ForgeRejected(
                    f"the head of #{number} is {record.head_sha[:12]}, not "
                    f"{expected_head_sha[:12]}: review the new head first",
                    409,
                )
            merged = record.model_copy(
                update={
                    "state": PullState.MERGED,
                    "merge_sha": self._merge_commit(record),
                    "merged_at": self.clock(),
                }
            )
            return self._public(self._save(record, merged))

    # storage

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._lock:
                yield
        except Timeout as exc:
            raise ForgeUnavailable(
                f"the local forge at {self.root} is busy (lock held over "
                f"{LOCK_TIMEOUT_SECONDS:g}s)",
                retry_after=1.0,
            ) from exc
        except OSError as exc:
            raise ForgeUnavailable(f"the local forge at {self.root} cannot be used: {exc}") from exc

    def _branch(self, branch: str) -> str:
        sha = self.bare.branch(branch)
        if sha is None:
            raise ForgeRejected(f"branch {branch!r} does not exist in {self.bare.root}", 422)
        return sha

    def _file(self, number: int) -> Path:
        return self.root / "pulls" / f"{number}.json"

    def _status_file(self, sha: str) -> Path:
        return self.root / "statuses" / f"{sha}.json"

    def _read(self, path: Path) -> PullRecord:
        try:
            return PullRecord.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            raise ForgeRejected(f"the pull-request record {path} is corrupt: {exc}") from exc

    def _refresh(self, record: PullRecord) -> PullRecord:
        """The record with the head the branch has now (open pull requests only)."""
        if record.state is not PullState.OPEN:
            return record
        head = self.bare.branch(record.head_branch)
        if head is None or head == record.head_sha:
            return record
        return self._save(record, record.dismiss_stale(head))

    def _load(self, number: int) -> PullRecord:
        path = self._file(number)
        if not path.is_file():
            raise ForgeRejected(f"no pull request #{number} in {self.root}", 404)
        return self._refresh(self._read(path))

    def _open(self, number: int) -> PullRecord:
        record = self._load(number)
        if record.state is not PullState.OPEN:
            raise ForgeRejected(f"pull request #{number} is {record.state.value}", 405)
        return record

    def _records(self) -> list[PullRecord]:
        files = sorted((self.root / "pulls").glob("*.json"), key=lambda p: int(p.stem))
        return [self._refresh(self._read(path)) for path in files]

    def _statuses(self, sha: str) -> list[dict[str, object]]:
        path = self._status_file(sha)
        if not path.is_file():
            return []
        loaded: list[dict[str, object]] = json.loads(path.read_text())
        return loaded

    def _save(self, before: PullRecord, after: PullRecord) -> PullRecord:
        if after != before:
            self._store(after)
        return after

    def _store(self, record: PullRecord) -> None:
        self._write(self._file(record.number), record.model_dump(mode="json"))

    def _write(self, path: Path, value: object) -> None:
        replace_file(path, json.dumps(value, indent=2, sort_keys=True))

    def _public(self, record: PullRecord) -> PullRequest:
        return PullRequest(
            url=self._file(record.number).as_uri(),
            **record.model_dump(exclude={"reviews", "comments"}),
        )

    # merging

    def _merge_commit(self, record: PullRecord) -> str:
        message = (
            f"Merge pull request #{record.number} from {record.head_branch}\n\n{record.title}\n"
        )
        with tempfile.TemporaryDirectory(prefix="stratops-merge-") as scratch:
            for attempt in range(2):
                clone = Path(scratch) / f"attempt-{attempt}"
                with GitRepo.clone(str(self.bare.root), clone, record.base_branch) as work:
                    if self.signing_key is not None:
                        work.sign_with(self.signing_key)
                    base = work.rev_parse("HEAD")
                    try:
                        merge = work.merge(record.head_sha, message)
                    except GitError as exc:
                        raise ForgeRejected(
                            f"#{record.number} does not merge cleanly into {record.base_branch}: "
                            f"run the promotion again to rebase it ({exc})",
                            405,
                        ) from exc
                    try:
                        work.push(merge, record.base_branch, expected=base)
                    except PushRejected:
                        continue  # the base moved meanwhile: merge again onto the new one
                    return merge
        raise ForgeUnavailable(f"{record.base_branch} kept moving while merging #{record.number}")
