"""Evaluate the gates of a promotion: evidence from the registry, context from Git.

``promote``, ``gates check``, ``gates evaluate`` and the controller all call
:func:`evaluate_request` with the :class:`~stratops.gitops.evaluation.GateRequest` gitops built
from a commit, so CI and the controller compute the same report. The pure
:func:`promotion_context` adds what the registry knows:

- when the version entered its current stage, from the registry's alias history (the
  controller moves the alias when the deployment starts);
- the trial count the registry recorded when the version was registered;
- the execution parameters registered with the version (:mod:`stratops.model.execution`),
  which the context digest covers: a configuration changed after CI judged it changes the report;
- for a promotion to live, the version's canary analysis logged last before ``as_of`` (the gate
  checks its digest);
- when the policy gates the promotion on ``reconciliation``: the strategy's reconciliation
  breaks active at ``as_of`` (:data:`OpenBreaks`): from the break state the controller's
  reconciliation keeps in the desk folder (:func:`stored_breaks`) where the controller runs,
  else from the summary it publishes in the registry (:func:`published_breaks`), which a CI
  runner's clone reads (:func:`desk_breaks`).

``as_of`` is the author date of the promotion commit, never the wall clock: ``promote``, CI
and the controller count the same breaks whenever each of them evaluates. A published summary
that is missing, unreadable or stale for ``as_of``
(:meth:`~stratops.ops.reconciliation.published.PublishedBreaks.open_breaks`) makes the check
inconclusive.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from stratops.gates.context import GateContext
from stratops.gates.engine import checks_for, evaluate
from stratops.gates.report import GateReport
from stratops.gitops.errors import UnknownVersion
from stratops.gitops.evaluation import GateEvaluator, GateRequest
from stratops.model.base import Stage
from stratops.model.canary import CanaryAnalysisRecord
from stratops.model.execution import VersionConfig
from stratops.ops.reconciliation.published import PublishedBreaks
from stratops.ops.reconciliation.store import BreakStore, open_breaks
from stratops.registry.arrays import load_evidence_arrays
from stratops.registry.bundle import scan_bundle
from stratops.registry.errors import NotFound
from stratops.registry.models import AliasChange, StrategyVersion
from stratops.registry.registry import Registry


def entered_stage_at(
    history: Sequence[AliasChange], stage: Stage, version: int, as_of: datetime
) -> datetime | None:
    """When the registry alias of ``stage`` last moved to ``version``, up to ``as_of``.

    Later moves are ignored so that a report recomputed after them is the same report.
    """
    moves = [
        c.at for c in history if c.stage is stage and c.to_version == version and c.at <= as_of
    ]
    return moves[-1] if moves else None


OpenBreaks = Callable[[str, datetime], int | None]
"""A strategy's reconciliation breaks that block promotions, as of a moment; None when it was
not reconciled by then."""


def stored_breaks(path: Path) -> OpenBreaks:
    """:data:`OpenBreaks` from the break state at ``path`` (None for all while there is none)."""
    store = BreakStore(path)

    def count(strategy: str, as_of: datetime) -> int | None:
        return open_breaks(store.state(), strategy, as_of) if path.exists() else None

    return count


def published_breaks(registry: Registry) -> OpenBreaks:
    """:data:`OpenBreaks` from the summaries the controller publishes in the registry (None for
    a strategy without one, with an unreadable one, or one stale for the moment)."""

    def count(strategy: str, as_of: datetime) -> int | None:
        try:
            text = registry.published_recon_breaks(strategy)
        except NotFound:
            return None
        if text is None:
            return None
        try:
            summary = PublishedBreaks.from_storage(text)
        except ValueError:
            return None
        return summary.open_breaks(as_of)

    return count


def desk_breaks(path: Path, registry: Registry) -> OpenBreaks:
    """The break state at ``path`` when it exists (the controller runs in this desk folder),
    else the summaries published in ``registry`` (a clone elsewhere, as in CI)."""
    local, published = stored_breaks(path), published_breaks(registry)

    def count(strategy: str, as_of: datetime) -> int | None:
        return local(strategy, as_of) if path.exists() else published(strategy, as_of)

    return count


def promotion_context(
    request: GateRequest,
    version: StrategyVersion,
    history: Sequence[AliasChange],
    analysis: CanaryAnalysisRecord | None = None,
    breaks: OpenBreaks | None = None,
    config: VersionConfig | None = None,
) -> GateContext:
    """The gate context of ``request``; ``breaks`` is asked only when the policy gates the
    promotion on ``reconciliation`` (other reports keep their digests)."""
    stage = request.current_stage
    context = GateContext(
        strategy=request.strategy,
        version=request.version,
        strategy_type=request.strategy_type,
        target_stage=request.target_stage,
        allocation=request.allocation,
        as_of=request.as_of,
        current_stage=stage,
        in_stage_since=(
            None
            if stage is None
            else entered_stage_at(history, stage, request.version, request.as_of)
        ),
        retired=request.retired,
        registry_trials=version.trials_in_experiment or None,
        canary_analysis=analysis,
        execution=None if config is None else config.execution,
    )
    if breaks is None or "reconciliation" not in checks_for(request.policy, context):
        return context
    return context.model_copy(update={"open_breaks": breaks(request.strategy, request.as_of)})


def _known_versions(registry: Registry, strategy: str) -> list[int]:
    try:
        return [v.version for v in registry.versions(strategy)]
    except NotFound:
        return []


def evaluate_request(
    registry: Registry, request: GateRequest, breaks: OpenBreaks | None = None
) -> GateReport:
    """The gate report of ``request``: verified evidence, explicit context, pure evaluation."""
    try:
        version = registry.get_version(request.strategy, request.version)
        history = registry.alias_history(request.strategy)
        config = registry.version_config(request.strategy, request.version)
        analysis = (
            registry.canary_analysis(request.strategy, request.version, request.as_of)
            if request.target_stage is Stage.LIVE
            else None
        )
        with tempfile.TemporaryDirectory(prefix="stratops-gates-") as scratch:
            folder = registry.download_evidence(
                request.strategy, request.version, Path(scratch) / "evidence"
            )
            evidence = load_evidence_arrays(scan_bundle(folder, max_file_bytes=2**62))
    except NotFound as exc:
        known = _known_versions(registry, request.strategy)
        raise UnknownVersion(request.strategy, request.version, known) from exc
    context = promotion_context(request, version, history, analysis, breaks, config)
    return evaluate(evidence, request.policy, context)


def registry_evaluator(registry: Registry, breaks: OpenBreaks | None = None) -> GateEvaluator:
    def evaluator(request: GateRequest) -> GateReport:
        return evaluate_request(registry, request, breaks)

    return evaluator
