"""Promotions and rollbacks as main's history records them: commits and their trailers.

A **promotion commit** carries ``Strategy``, ``Version``, ``Stage`` and ``Gate-Report-Digest``
(written by ``promote``, :func:`stratops.gitops.plan.commit_message`), and ``Rollback-Override``
when it brings back a version that was rolled back (:mod:`stratops.gitops.rollback_plan`). A
**rollback commit** carries ``Rollback-Of`` (the merge commit it reverts) and
``Analysis-Digest`` (the failed analysis), with ``Strategy``, ``Version`` and ``Stage``; it is
never a promotion (it has no gate report).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from stratops.gitops.git import Commit, GitRepo
from stratops.model.base import Stage

ROLLBACK_OF = "Rollback-Of"
ANALYSIS_DIGEST = "Analysis-Digest"
ROLLBACK_OVERRIDE = "Rollback-Override"


@dataclass(frozen=True)
class PromotionCommit:
    sha: str
    author_date: datetime
    strategy: str
    version: int
    stage: Stage
    report_digest: str
    override: str | None = None  # the rollback commit whose version this brings back


@dataclass(frozen=True)
class RollbackCommit:
    sha: str
    strategy: str
    version: int
    stage: Stage
    rollback_of: str
    analysis_digest: str


def promotions(commits: Iterable[Commit]) -> list[PromotionCommit]:
    """The promotion commits among ``commits``: those carrying the four trailers, in order."""
    found = []
    for commit in commits:
        trailers = dict(commit.trailers)
        try:
            found.append(
                PromotionCommit(
                    sha=commit.sha,
                    author_date=commit.author_date,
                    strategy=trailers["Strategy"],
                    version=int(trailers["Version"]),
                    stage=Stage(trailers["Stage"]),
                    report_digest=trailers["Gate-Report-Digest"],
                    override=trailers.get(ROLLBACK_OVERRIDE),
                )
            )
        except (KeyError, ValueError):
            continue
    return found


def promotion_commits(repo: GitRepo, head: str, limit: int = 2000) -> list[PromotionCommit]:
    """The promotion commits reachable from ``head``, newest first (the latest ``limit``)."""
    return promotions(repo.log(head, message_pattern="^Gate-Report-Digest:", limit=limit))


def rollbacks(commits: Iterable[Commit]) -> list[RollbackCommit]:
    """The rollback commits among ``commits``, in order."""
    found = []
    for commit in commits:
        trailers = dict(commit.trailers)
        try:
            found.append(
                RollbackCommit(
                    sha=commit.sha,
                    strategy=trailers["Strategy"],
                    version=int(trailers["Version"]),
                    stage=Stage(trailers["Stage"]),
                    rollback_of=trailers[ROLLBACK_OF],
                    analysis_digest=trailers[ANALYSIS_DIGEST],
                )
            )
        except (KeyError, ValueError):
            continue
    return found


def rollback_commits(repo: GitRepo, head: str, limit: int = 2000) -> list[RollbackCommit]:
    """The rollback commits reachable from ``head``, newest first (the latest ``limit``)."""
    return rollbacks(repo.log(head, message_pattern=f"^{ROLLBACK_OF}:", limit=limit))
