"""One strategy's story: its stages, its versions with their evidence, and what happened to them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from stratops.canary import AnalysisRun
from stratops.controller.audit import AuditEvent
from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState
from stratops.registry.models import StrategyVersion
from stratops.status.alerting import FiringAlert
from stratops.status.reports import ReportHeadline
from stratops.status.rows import StatusRow

# The audit actions that make a strategy's history (the rest is in the audit log).
HISTORY_ACTIONS = frozenset(
    {
        "deploy",
        "replace",
        "reallocate",
        "remove",
        "halt",
        "set_alias",
        "clear_alias",
        "promotion_refused",
        "deployment_blocked",
        "crash_loop",
        "alias_drift",
        "evidence_mismatch",
        "analysis_passed",
        "analysis_failed",
        "analysis_inconclusive",
        "analysis_error",
        "rollback_opened",
        "rollback_waiting",
        "rollback_merged",
        "rollback_closed",
        "ramp_opened",
        "ramp_deployed",
    }
)


class HistoryEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    sequence: int
    at: str
    action: str
    stage: str | None
    version: int | None
    actor: str
    reason: str
    pull_request: int | None = None
    pull_request_url: str | None = None
    approvers: tuple[str, ...] = ()
    commit: str | None = None


class StoredAnalysis(BaseModel):
    """An analysis run the controller stored, with its digest (sha256 of its canonical JSON)."""

    model_config = ConfigDict(frozen=True)

    digest: str
    run: AnalysisRun


class StrategyDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    strategy: str
    rows: list[StatusRow]
    versions: list[StrategyVersion]
    history: list[HistoryEntry]
    breaks: list[BreakRecord] = Field(
        default_factory=list, description="Its reconciliation breaks not cleared, newest first."
    )
    alerts: list[FiringAlert] = Field(default_factory=list, description="Its firing alerts.")
    reports: list[ReportHeadline] = Field(
        default_factory=list,
        description="The latest stored report of each version Git declares or the runtime runs.",
    )
    analyses: list[StoredAnalysis] = Field(
        default_factory=list,
        description="Its stored canary analysis runs, newest version and step first.",
    )
    analyses_note: str = Field("", description="Why the stored runs could not be read, if so.")


def history(events: Iterable[AuditEvent], strategy: str) -> list[HistoryEntry]:
    """The strategy's promotions, rollbacks, refusals and incidents, newest first."""
    entries = []
    for event in events:
        if event.strategy != strategy or event.action not in HISTORY_ACTIONS:
            continue
        pull = event.details.get("pull_request")
        approvers = event.details.get("approvers") or ()
        entries.append(
            HistoryEntry(
                sequence=event.sequence,
                at=event.at.isoformat(),
                action=event.action,
                stage=event.stage,
                version=event.version,
                actor=event.actor,
                reason=event.reason,
                pull_request=pull if isinstance(pull, int) else None,
                pull_request_url=_text(event.details.get("pull_request_url")),
                approvers=tuple(str(a) for a in approvers),
                commit=event.commit,
            )
        )
    return entries[::-1]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def deployed_versions(rows: Iterable[StatusRow], strategy: str) -> set[int]:
    """The versions of ``strategy`` that Git declares or the runtime runs."""
    return {
        version
        for row in rows
        if row.strategy == strategy
        for version in (row.desired_version, row.running_version)
        if version is not None
    }


def detail(
    strategy: str,
    rows: Sequence[StatusRow],
    versions: Sequence[StrategyVersion],
    events: Iterable[AuditEvent],
    *,
    breaks: Iterable[BreakRecord] = (),
    alerts: Iterable[FiringAlert] = (),
    reports: Iterable[ReportHeadline] = (),
    analyses: Iterable[AnalysisRun] = (),
    analyses_note: str = "",
) -> StrategyDetail:
    return StrategyDetail(
        strategy=strategy,
        rows=[row for row in rows if row.strategy == strategy],
        versions=sorted(versions, key=lambda v: -v.version),
        history=history(events, strategy),
        breaks=sorted(
            (b for b in breaks if b.strategy == strategy and b.state is not BreakState.CLEARED),
            key=lambda b: (b.first_seen, b.key),
            reverse=True,
        ),
        alerts=[a for a in alerts if a.strategy == strategy],
        reports=list(reports),
        analyses=[
            StoredAnalysis(digest=run.digest, run=run)
            for run in sorted(
                (run for run in analyses if run.strategy == strategy),
                key=lambda run: (run.version, run.step),
                reverse=True,
            )
        ],
        analyses_note=analyses_note,
    )
