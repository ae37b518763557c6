"""Reconcile deployments: read both sides, find the breaks, advance them, record them.

:func:`reconcile_deployment` is what the controller calls each tick for a deployment
(:mod:`stratops.controller.recon_step`); ``stratops recon run`` calls it for every deployment
of the local runtime. :func:`deployments` picks those with a venue statement: the one the
desk's exchange adapter exported under the policy's ``statements``, else, for a paper
deployment, its paper venue's own (:mod:`stratops.paper.venue`); :func:`publish` turns the
transitions into audit events and :func:`set_gauge` sets the ``stratops_recon_breaks`` gauge.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import product
from pathlib import Path

from stratops.controller.audit import AuditLog
from stratops.controller.observability import Metrics
from stratops.gitops.desk import Desk
from stratops.model.reconciliation import (
    BreakClass,
    ReconciliationPolicy,
    ReconciliationPolicySpec,
    Severity,
)
from stratops.ops.reconciliation.compare import reconcile
from stratops.ops.reconciliation.ledger import read_ledger
from stratops.ops.reconciliation.lifecycle import (
    ACTIVE,
    BreakRecord,
    BreakState,
    advance,
    halting,
)
from stratops.ops.reconciliation.statement import TRADES_FILE, read_statement
from stratops.paper.venue import statement_folder
from stratops.telemetry.schema import RUN_FILE

ACTOR = "stratops-recon"


@dataclass(frozen=True)
class Deployment:
    """A deployment's run (its ledger) and its venue statement (a folder of ccxt files)."""

    strategy: str
    stage: str
    run: Path
    statement: Path


@dataclass(frozen=True)
class DeploymentRecon:
    """The outcome for one deployment: its breaks now, and which of them halt it."""

    deployment: Deployment
    found: int
    records: list[BreakRecord]
    halt: list[BreakRecord]

    def active(self) -> list[BreakRecord]:
        return [r for r in self.records if r.state in ACTIVE]


def desk_policy(desk: Desk) -> tuple[ReconciliationPolicySpec, str]:
    """The desk's ReconciliationPolicy and a name for it (the defaults when it has none).

    Raises
    ------
    ValueError
        The desk holds several (naming their files).
    """
    policies = desk.of_kind(ReconciliationPolicy)
    if len(policies) > 1:
        files = ", ".join(source.file for source, _ in policies)
        raise ValueError(
            f"the desk holds {len(policies)} ReconciliationPolicy documents ({files}); keep one"
        )
    if not policies:
        return ReconciliationPolicySpec(), "defaults (the desk has no ReconciliationPolicy)"
    source, policy = policies[0]
    return policy.spec, f"{policy.name} ({source.file})"


def exported(statements: Path) -> set[str]:
    """The ``<strategy>--<stage>`` folders in ``statements`` (none when it does not exist)."""
    try:
        return {entry.name for entry in os.scandir(statements) if entry.is_dir()}
    except (FileNotFoundError, NotADirectoryError):
        return set()


def statement_of(statements: Path, names: set[str], strategy: str, stage: str, run: Path) -> Path:
    """A deployment's venue statement: ``<statements>/<strategy>--<stage>`` when the desk's
    adapter exported it (``names``: :func:`exported`), else the paper venue's of its run."""
    name = f"{strategy}--{stage}"
    return statements / name if name in names else statement_folder(run)


def deployments(statements: Path, runs: Mapping[tuple[str, str], Path]) -> list[Deployment]:
    """The deployments of ``runs`` ((strategy, stage) → run folder) with something to reconcile:
    a run that has written ``run.json`` and a venue statement (:func:`statement_of`) with
    its ``trades.jsonl``.
    """
    names = exported(statements)
    found = []
    for (strategy, stage), run in sorted(runs.items()):
        statement = statement_of(statements, names, strategy, stage, run)
        if (run / RUN_FILE).is_file() and (statement / TRADES_FILE).is_file():
            found.append(Deployment(strategy, stage, run, statement))
    return found


def reconcile_deployment(
    deployment: Deployment,
    policy: ReconciliationPolicySpec,
    known: Sequence[BreakRecord],
    now: datetime,
) -> DeploymentRecon:
    """Reconcile one deployment's ledger with its venue statement as of ``now``.

    ``known`` are the stored breaks (of any deployment); the outcome's records replace this
    deployment's.

    Raises
    ------
    InvalidDocumentError
        A telemetry or statement file that cannot be read (file, line, field).
    """
    ledger = read_ledger(deployment.run)
    venue, _ = read_statement(deployment.statement)
    as_of_ns = int(now.timestamp() * 1e9)
    found = reconcile(ledger, venue, policy, as_of_ns)
    records = advance(
        known,
        found,
        strategy=deployment.strategy,
        stage=deployment.stage,
        now=now,
        policy=policy,
    )
    return DeploymentRecon(deployment, len(found), records, halting(records, policy))


def merge(known: Sequence[BreakRecord], outcomes: Sequence[DeploymentRecon]) -> list[BreakRecord]:
    """The stored breaks with each reconciled deployment's replaced by its new ones."""
    replaced = {(o.deployment.strategy, o.deployment.stage) for o in outcomes}
    kept = [r for r in known if (r.strategy, r.stage) not in replaced]
    return sorted([*kept, *(r for o in outcomes for r in o.records)], key=lambda r: r.identity)


def publish(outcome: DeploymentRecon, known: Sequence[BreakRecord], audit: AuditLog) -> int:
    """Audit every break of ``outcome`` whose state changed since ``known``; events written.

    A settling break is not an event (it may clear itself); opening, ageing and clearing are.
    """
    before = {r.identity: r.state for r in known}
    written = 0
    for record in outcome.records:
        if record.state is BreakState.SETTLING or before.get(record.identity) is record.state:
            continue
        moment = record.cleared_at or record.last_seen
        audit.append(
            key=f"recon/{record.strategy}/{record.stage}/{record.key}/{record.state.value}"
            f"/{record.first_seen.isoformat()}",
            at=moment.astimezone(UTC),
            actor=ACTOR,
            action=f"recon_break_{record.state.value}",
            reason=f"{record.kind.value} ({record.severity.value}): {record.detail}",
            strategy=record.strategy,
            stage=record.stage,
            details=record.model_dump(mode="json", exclude={"strategy", "stage"}),
        )
        written += 1
    return written


def set_gauge(
    metrics: Metrics, records: Sequence[BreakRecord], strategies: Iterable[str] = ()
) -> None:
    """``stratops_recon_breaks``: active breaks of every strategy in ``records`` or
    ``strategies`` (those reconciled), zeros included."""
    for strategy in sorted({r.strategy for r in records} | set(strategies)):
        active = [r for r in records if r.strategy == strategy and r.state in ACTIVE]
        for kind, severity in product(BreakClass, Severity):
            count = sum(1 for r in active if r.kind is kind and r.severity is severity)
            labels = {"strategy": strategy, "class": kind.value, "severity": severity.value}
            metrics.recon_breaks.labels(**labels).set(count)
