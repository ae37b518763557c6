"""Pull requests, reviews, comments and commit statuses as stratops values.

Every forge translates its own representation into these; nothing vendor-shaped leaves a forge.
"""

from __future__ import annotations

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
    description: str = Field("", max_length=140)


class Comment(Value):
    id: int
    author: str
    body: str
