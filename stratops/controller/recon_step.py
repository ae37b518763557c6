"""Reconciliation in the controller's tick: each deployment's ledger against the venue.

Every tick, each deployment the runtime reports with a venue statement — the one the desk's
exchange adapter exported (``<statements>/<strategy>--<stage>/`` of the ReconciliationPolicy in
force), else, for a paper deployment, its paper venue's own (``<telemetry>/venue/``,
:mod:`stratops.paper.venue`) — is reconciled
(:func:`stratops.ops.reconciliation.run.reconcile_deployment`); a break that opens, ages or
clears is one audit event (keyed: not one per tick), the ``stratops_recon_breaks`` gauge counts
the open and aged ones, and the state is saved for ``stratops recon breaks`` and the
``reconciliation`` gate check. A deployment is read again only when it progressed: its
``bars_done``, its halt, or the size or time of its ``run.json`` or of a statement file changed
since a reconciliation that left it no break to settle, open or age (nothing can change then).
Deployments whose process reports nothing and have no exported statement cost nothing.

:func:`halts` decides (pure): a running deployment with an active break of a class the policy
names in ``halt`` gets one ``HALT`` action whose reason names the breaks; the applier runs it
through the runtime's halt, and the halted deployment is not halted again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from stratops.controller.audit import AuditLog
from stratops.controller.observability import Metrics
from stratops.controller.plan import Action, ActionKind, Key
from stratops.gitops.desk import Desk
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState, DeploymentStatus
from stratops.model.problems import InvalidDocumentError
from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation.lifecycle import ACTIVE, BreakState
from stratops.ops.reconciliation.run import (
    Deployment,
    DeploymentRecon,
    deployments,
    desk_policy,
    exported,
    merge,
    publish,
    reconcile_deployment,
    set_gauge,
)
from stratops.ops.reconciliation.statement import FILES
from stratops.ops.reconciliation.store import BreakStore
from stratops.runtime.base import Runtime, RuntimeFailure
from stratops.telemetry.schema import RUN_FILE

MAX_NAMED = 3
"""Breaks a halt's reason names (the audit event of each break has them all)."""

LIVE = (*ACTIVE, BreakState.SETTLING)
"""States a break may leave without anything being read: it settles, ages or opens."""

Progress = tuple[tuple[object, ...], ReconciliationPolicySpec]


def _progress(deployment: Deployment, status: DeploymentStatus) -> tuple[object, ...]:
    """What changes when a deployment's ledger or statement does (a few ``stat`` calls)."""
    stamps: list[tuple[int, int] | None] = []
    files = (deployment.run / RUN_FILE, *(deployment.statement / n for n in FILES))
    for path in files:
        try:
            info = path.stat()
        except FileNotFoundError:
            stamps.append(None)
            continue
        stamps.append((info.st_mtime_ns, info.st_size))
    return (status.bars_done, status.halted, *stamps)


def halts(
    outcomes: Sequence[DeploymentRecon], observed: Mapping[Key, DeploymentStatus]
) -> list[Action]:
    """One ``HALT`` per running deployment with an active break of a halting class."""
    actions = []
    for outcome in outcomes:
        key = (outcome.deployment.strategy, Stage(outcome.deployment.stage))
        status = observed.get(key)
        if not outcome.halt or status is None or status.state is not DeploymentState.RUNNING:
            continue
        named = "; ".join(
            f"{r.kind.value} {r.symbol}: {r.detail}" for r in outcome.halt[:MAX_NAMED]
        )
        more = len(outcome.halt) - MAX_NAMED
        actions.append(
            Action(
                kind=ActionKind.HALT,
                strategy=key[0],
                stage=key[1],
                version=status.spec.version,
                reason=f"reconciliation break halts the deployment: {named}"
                + (f" (and {more} more)" if more > 0 else ""),
            )
        )
    return actions


class ReconStep:
    """Reads, reconciles and records; what to halt is :func:`halts`' decision."""

    def __init__(
        self,
        *,
        root: Path,
        runtime: Runtime,
        audit: AuditLog,
        store: BreakStore,
        metrics: Metrics,
        now: Callable[[], datetime],
        log: logging.Logger,
    ) -> None:
        self.root = root
        self.runtime = runtime
        self.audit = audit
        self.store = store
        self.metrics = metrics
        self.now = now
        self.log = log
        self._policies: dict[str, ReconciliationPolicySpec | None] = {}
        self._quiet: dict[tuple[str, str], Progress] = {}  # reconciled, nothing left to move

    def policy(self, commit: str, desk: Callable[[str], Desk]) -> ReconciliationPolicySpec | None:
        """The ReconciliationPolicy of the rules at ``commit`` (parsed once per commit)."""
        if commit not in self._policies:
            try:
                self._policies = {commit: desk_policy(desk(commit))[0]}
            except ValueError as exc:
                self.log.error("reconciliation not run", extra={"error": str(exc)})
                self._policies = {commit: None}
        return self._policies[commit]

    def _runs(
        self, observed: Mapping[Key, DeploymentStatus], skip: Collection[Key], names: set[str]
    ) -> dict[tuple[str, str], Path]:
        """The run folders of the deployments that may have a statement: exported (among
        ``names``), or written by the paper venue of a process that reports progress."""
        found = {}
        for key, status in observed.items():
            if key in skip:  # acted on now
                continue
            if status.bars_done is None and f"{key[0]}--{key[1].value}" not in names:
                continue
            try:
                found[(key[0], key[1].value)] = self.runtime.telemetry_folder(status.spec)
            except RuntimeFailure as exc:
                self.log.warning(
                    "telemetry not read",
                    extra={"deployment": f"{key[0]}/{key[1].value}", "error": str(exc)},
                )
        return found

    def run(
        self,
        observed: Mapping[Key, DeploymentStatus],
        policy: ReconciliationPolicySpec,
        skip: Collection[Key] = (),
    ) -> list[Action]:
        """Reconcile what has a statement and progressed, record it; the halts to apply."""
        statements = self.root / policy.statements
        names = exported(statements)
        runs = self._runs(observed, skip, names)
        if not runs:
            return []
        found = deployments(statements, runs)
        progress = {
            (d.strategy, d.stage): (_progress(d, observed[(d.strategy, Stage(d.stage))]), policy)
            for d in found
        }
        chosen = [
            d
            for d in found
            if self._quiet.get((d.strategy, d.stage)) != progress[(d.strategy, d.stage)]
        ]
        if not chosen:
            return []
        state = self.store.state()
        now = self.now()
        outcomes = []
        for deployment in chosen:
            try:
                outcomes.append(reconcile_deployment(deployment, policy, state.breaks, now))
            except (InvalidDocumentError, OSError, pa.ArrowException) as exc:
                self.log.error(
                    "deployment not reconciled",
                    extra={
                        "deployment": f"{deployment.strategy}/{deployment.stage}",
                        "error": str(exc),
                    },
                )
        for outcome in outcomes:
            publish(outcome, state.breaks, self.audit)
            key = (outcome.deployment.strategy, outcome.deployment.stage)
            if any(r.state in LIVE for r in outcome.records):
                self._quiet.pop(key, None)
            else:
                self._quiet[key] = progress[key]
        records = merge(state.breaks, outcomes)
        reconciled = [(o.deployment.strategy, o.deployment.stage) for o in outcomes]
        self.store.save(state.with_run(records, reconciled, policy, now))
        set_gauge(self.metrics, records, (s for s, _ in reconciled))
        return halts(outcomes, observed)
