"""Pull requests, reviews, comments and commit statuses as stratops values.

Every forge translates its own representation into these; nothing vendor-shaped leaves a forge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GATES_CONTEXT = "stratops/gates"
"""The commit status that carries the gate verdict of a head commit."""

GATES_MARKER = "<!-- stratops:gates -->"
"""Marks the one comment on a pull request that holds the current gate report."""


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PullState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class PullRequest(Value):
    number: int = Field(ge=1)
    title: str
    body: str
    author: str
    head_branch: str
    head_sha: str
    base_branch: str
    state: PullState
    url: str
    merge_sha: str | None = None
    merged_at: datetime | None = Field(None, description="When it merged; None unless merged.")


class NewPullRequest(Value):
    title: str
    body: str
    head_branch: str
    base_branch: str
    author: str = Field(
        description="Who opens it; a forge with authentication uses the token's identity."
    )


class ReviewState(StrEnum):
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"
    COMMENTED = "commented"
    DISMISSED = "dismissed"


class Review(Value):
    id: int
    reviewer: str
    state: ReviewState
    commit_sha: str = Field(description="The head the review was given on.")
    submitted_at: datetime = Field(description="When it was given (aware).")
    body: str = ""


class NewReview(Value):
    reviewer: str = Field(
        description="Who reviews; a forge with authentication refuses anyone but the token's "
        "identity."
    )
    state: Literal[ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED, ReviewState.COMMENTED]
    body: str = ""


class StatusState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


class CommitStatus(Value):
    context: str
    state: StatusState
    creator: str = Field(
        description="Who set it. Read from a forge with authentication, it is the identity "
        "that set it (a forge ignores it on writing and records the token's identity)."
    )
    description: str = Field("", max_length=140)


def latest_statuses(statuses: Iterable[CommitStatus]) -> list[CommitStatus]:
    """The latest of each (context, creator) among ``statuses`` given oldest first.

    By creator too, so that nobody can hide the verdict of CI by setting the same context.
    """
    latest = {(s.context, s.creator): s for s in statuses}
    return list(latest.values())


class Comment(Value):
    id: int
    author: str
    body: str
