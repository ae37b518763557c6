"""``stratops gates``: evaluate the promotion gates of a strategy version."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.output import (
    EXIT_NEGATIVE,
    REPORT_OPTION,
    ReportFormat,
    emit,
    fail,
    render_problems,
)
from stratops.cli.registry import TRACKING_URI_OPTION, open_registry, registry_errors
from stratops.cli.values import amount, version_argument
from stratops.controller.gate_evaluation import evaluate_request
from stratops.gitops.desk import Source, load_desk, read_source
from stratops.gitops.errors import GitError, UnknownVersion
from stratops.gitops.evaluation import GateRequest, stage_of
from stratops.gitops.git import GitRepo
from stratops.gitops.snapshot import MANIFESTS
from stratops.model.base import Stage
from stratops.model.policy import GatePolicy


def head_author_date(folder: Path) -> datetime | None:
    """Author date of HEAD in the git repository holding ``folder``, if it is one."""
    try:
        return GitRepo.discover(folder).commit("HEAD").author_date
    except GitError:
        return None


def _policy_from(file: Path) -> GatePolicy:
    loaded = read_source(file)
    if isinstance(loaded, list):
        render_problems(loaded)
        fail(f"{file} is not a valid GatePolicy")
    if not isinstance(loaded, Source) or not isinstance(loaded.document, GatePolicy):
        fail(f"{file} holds a {type(loaded.document).__name__}, not a GatePolicy")
    return loaded.document


def evaluate_command(
    strategy: str = typer.Argument(..., help="Strategy name (metadata.name of its manifest)."),
    version: int = version_argument("Registered version to evaluate."),
    to: Stage = typer.Option(..., "--to", help="Target stage of the promotion."),
    allocation: float = typer.Option(
        None,
        "--allocation",
        callback=amount,
        help="Allocation in the target stage. Default: the manifest's current one.",
    ),
    policy_file: Path = typer.Option(
        None, "--policy", help="Gate policy file. Default: the desk's GatePolicy."
    ),
    manifests: Path = typer.Option(
        None, "--manifests", help="A manifests folder to read instead of the desk's."
    ),
    as_of: datetime = typer.Option(
        None,
        "--as-of",
        help="Time the gates are evaluated at (ISO 8601 with zone). Default: the author date "
        "of HEAD of the desk repository. Never the wall clock, so reports are reproducible.",
    ),
    tracking_uri: str = TRACKING_URI_OPTION,
    desk_folder: Path | None = DESK_OPTION,
    output: ReportFormat = REPORT_OPTION,
) -> None:
    """Evaluate the gates of STRATEGY VERSION for a promotion to --to.

    Exit 0 when the gates pass, 1 when they fail, 2 on bad input.

    Example: stratops gates evaluate btc-trend 5 --to canary
    """
    if manifests is None:
        manifests = desk_root(desk_folder) / MANIFESTS
    desk = load_desk([manifests])
    if not desk.ok:
        render_problems(desk.problems)
        fail(f"the desk under {manifests} is invalid")
    manifest = desk.strategies.get(strategy)
    if manifest is None:
        known = ", ".join(sorted(desk.strategies)) or "none"
        fail(f"unknown strategy {strategy!r} (the desk declares: {known})")
    policy = _policy_from(policy_file) if policy_file else desk.policy
    if policy is None:
        fail(f"no GatePolicy under {manifests}: pass --policy FILE")
    moment = as_of or head_author_date(manifests)
    if moment is None:
        fail("--as-of is required outside a git repository")
    if moment.tzinfo is None:
        fail(f"--as-of {moment.isoformat()} has no time zone: add +00:00 or Z")
    entry = getattr(manifest.spec.stages, to.value)
    amount = allocation if allocation is not None else (entry.allocation if entry else None)
    if amount is None:
        fail(f"{strategy} has no {to.value} entry to take the allocation from: pass --allocation")
    request = GateRequest(
        strategy=strategy,
        strategy_type=manifest.spec.strategy_type,
        version=version,
        current_stage=stage_of(manifest, version),
        target_stage=to,
        allocation=amount,
        retired=manifest.retired,
        as_of=moment,
        policy=policy,
    )
    with registry_errors(output, tracking_uri, desk_folder):
        registry = open_registry(tracking_uri, desk_folder)
        try:
            report = evaluate_request(registry, request)
        except UnknownVersion as exc:
            fail(str(exc))
    emit(report.to_json(), output, lambda: typer.echo(report.markdown()))
    if not report.passed:
        raise typer.Exit(EXIT_NEGATIVE)
