"""The rollback pull request as text: its branch, title, commit message and body.

Pure: from the :class:`~stratops.model.rollback.RollbackRequest` (the failed analysis) and the
promotion it undoes. The commit says ``This reverts commit <merge>.`` as ``git revert`` does
(provenance reads it) and carries the trailers ``Rollback-Of``, ``Analysis-Digest``,
``Strategy``, ``Version``, ``Stage`` (:mod:`stratops.gitops.history`); the body carries the
analysis report, the limit that tripped, the halt and its cost, and the promotion's gate report.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratops.gitops.history import ANALYSIS_DIGEST, ROLLBACK_OF
from stratops.gitops.plan import STAGE_KEYS
from stratops.gitops.yaml_edit import DeleteKey, Edit
from stratops.model.base import Stage
from stratops.model.rollback import RollbackRequest

ROLLBACK_PREFIX = "rollback"


@dataclass(frozen=True)
class PromotionRef:
    """The promotion a rollback undoes: its commit, the merge that brought it to main."""

    commit: str
    merge: str  # the commit reverted: the PR's merge commit (the commit itself if none)
    gate_report_digest: str
    pull_request: int | None = None
    url: str | None = None


def rollback_branch(strategy: str, version: int, stage: Stage) -> str:
    return f"{ROLLBACK_PREFIX}/{strategy}/v{version}-{stage.value}"


def rollback_title(request: RollbackRequest) -> str:
    return f"Roll back {request.strategy} v{request.version} from {request.stage.value}"


def removal_edits(stage: Stage) -> tuple[Edit, ...]:
    """The edit that takes ``stage`` out of a StrategyDeployment (when the revert conflicts)."""
    return (DeleteKey((*STAGE_KEYS, stage.value)),)


def trailers(request: RollbackRequest, promotion: PromotionRef) -> list[tuple[str, str]]:
    return [
        (ROLLBACK_OF, promotion.merge),
        (ANALYSIS_DIGEST, request.analysis_digest),
        ("Strategy", request.strategy),
        ("Version", str(request.version)),
        ("Stage", request.stage.value),
    ]


def commit_message(request: RollbackRequest, promotion: PromotionRef, reverted: bool) -> str:
    """Subject, why, what it undoes (and how), then the trailers."""
    why = request.tripped.strip() or "its analysis failed"
    how = (
        f"This reverts commit {promotion.merge}."
        if reverted
        else f"This reverts commit {promotion.merge}: the revert conflicts with later "
        f"changes, so the {request.stage.value} stage is removed by an edit instead."
    )
    lines = "\n".join(f"{key}: {value}" for key, value in trailers(request, promotion))
    return (
        f"{rollback_title(request)}\n\nThe analysis {request.analysis_digest[:12]} failed: "
        f"{why}.\n\n{how}\n\n{lines}\n"
    )


def _failed(request: RollbackRequest) -> str:
    if request.stage is Stage.LIVE:
        return "a haltOn guardrail of the live deployment tripped"
    return "the canary analysis failed"


def pull_request_body(request: RollbackRequest, promotion: PromotionRef, reverted: bool) -> str:
    """The analysis report with what tripped, the halt, the promotion undone, the trailers."""
    merged_by = "" if promotion.pull_request is None else f" (PR #{promotion.pull_request})"
    link = promotion.url or promotion.commit
    how = "a `git revert`" if reverted else "an edit that removes the stage (the revert conflicts)"
    if request.stage is Stage.LIVE:
        how += (
            ", which restores the live version before it (no live stage when there was none); "
            "a live rollback waits for a person's approval"
        )
    lines = [
        f"**{rollback_title(request)}**: {_failed(request)}, the deployment is halted.",
        "",
        f"- **Limit tripped:** {request.tripped.strip() or 'not given'}",
        f"- **Halt:** {request.halt.strip() or 'not given'}",
        f"- **Undoes:** the promotion merged as `{promotion.merge[:12]}`{merged_by}, by {how}",
        f"- **Gate report of the promotion:** `{promotion.gate_report_digest}` ({link})",
        f"- **Analysis digest:** `{request.analysis_digest}`",
        "",
        request.report.strip(),
        "",
        "\n".join(f"{key}: {value}" for key, value in trailers(request, promotion)),
    ]
    return "\n".join(lines) + "\n"
