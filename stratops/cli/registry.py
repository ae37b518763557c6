"""``stratops register``, ``versions``, ``evidence verify|show`` and ``aliases history``.

Exit codes: 0 ok; 1 stored evidence or model does not match its digest; 2 bad input (invalid bundle,
unknown strategy or version, undeclared trials) or an unusable registry (unreachable MLflow).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.errors import exit_code
from stratops.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_NEGATIVE,
    OUTPUT_OPTION,
    Format,
    FreeText,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stderr,
    stdout,
)
from stratops.cli.values import version_argument
from stratops.model.base import StrategyType
from stratops.model.execution import VersionConfig, version_config
from stratops.model.problems import Problem
from stratops.model.yaml_source import YamlError, parse_yaml
from stratops.registry import (
    DEFAULT_MAX_FILE_BYTES,
    EvidenceMismatch,
    RegistrationStep,
    Registry,
    RegistryError,
    RegistryLocation,
    RegistryUnavailable,
    resolve_location,
)
from stratops.registry.errors import BundleError

TRACKING_URI_OPTION = typer.Option(
    None,
    "--tracking-uri",
    help="MLflow tracking URI. Default: $MLFLOW_TRACKING_URI, else the embedded store "
    "(.stratops/mlflow.db and .stratops/artifacts in the desk repository).",
)
STRATEGY_ARGUMENT = typer.Argument(..., help="Strategy name (the MLflow registered model).")
VERSION_ARGUMENT = version_argument("Strategy version number.")


def register(app: typer.Typer) -> None:
    """Add the registry commands to ``app``."""
    app.command("register")(register_version)
    app.command("versions")(versions)
    evidence = typer.Typer(
        help="Verify and inspect registered evidence.",
        epilog="Example: stratops evidence verify btc-trend 5",
        no_args_is_help=True,
    )
    evidence.command("verify")(verify)
    evidence.command("show")(show)
    app.add_typer(evidence, name="evidence")
    aliases = typer.Typer(
        help="Stage aliases (paper, canary, live).",
        epilog="Example: stratops aliases history btc-trend",
        no_args_is_help=True,
    )
    aliases.command("history")(history)
    app.add_typer(aliases, name="aliases")


def locate(tracking_uri: str | None, desk: Path | None) -> RegistryLocation:
    """Where MLflow is; the desk is looked for only for the embedded store."""
    return resolve_location(tracking_uri, desk=lambda: desk_root(desk))


def open_registry(tracking_uri: str | None, desk: Path | None) -> Registry:
    return Registry(locate(tracking_uri, desk))


def _problem_rows(problems: list[Problem]) -> list[dict[str, Any]]:
    return [problem.model_dump() for problem in problems]


@contextmanager
def registry_errors(output: Format, tracking_uri: str | None, desk: Path | None) -> Iterator[None]:
    """Turn registry errors into messages and exit codes; never a traceback."""
    try:
        yield
    except RegistryError as exc:
        problems = exc.problems if isinstance(exc, (BundleError, EvidenceMismatch)) else []
        code = exit_code(exc)
        assert code is not None  # every registry error has its code
        summary = exc.message.splitlines()[0]
        if isinstance(exc, RegistryUnavailable):
            location = locate(tracking_uri, desk)
            summary = f"{summary} (registry {location.tracking_uri}, from {location.source})"
        error = {
            "ok": False,
            "code": exc.code,
            "error": summary,
            "problems": _problem_rows(problems),
        }
        emit(error, output, lambda: render_problems(problems) if problems else None)
        if isinstance(exc, BundleError):
            summary = f"{summary}: nothing was registered"
        fail(f"{summary} [{exc.code}]", code)


def register_version(
    strategy: str = STRATEGY_ARGUMENT,
    strategy_type: StrategyType = typer.Option(
        ..., "--type", help="Strategy type; must match metadata.json's strategyType."
    ),
    evidence: Path = typer.Option(
        ..., "--evidence", help="Evidence bundle folder (the six files, nothing else)."
    ),
    model: Path = typer.Option(
        None, "--model", help="Local MLflow model folder (mlflow.pyfunc.save_model) to upload."
    ),
    model_uri: str = typer.Option(
        None, "--model-uri", help="Existing model: runs:/<run>/<path> or models:/<name>/<version>."
    ),
    code_sha: str = typer.Option(
        None, "--code-sha", help="Commit of the strategy code (default: metadata.json codeCommit)."
    ),
    experiment: str = typer.Option(
        None, "--experiment", help="MLflow experiment holding the trials (default: the strategy)."
    ),
    max_file_bytes: int = typer.Option(
        DEFAULT_MAX_FILE_BYTES, "--max-file-bytes", min=1, help="Largest accepted bundle file."
    ),
    config: Path = typer.Option(
        None,
        "--config",
        help="YAML configuration of the version: its execution section (fees, impact, "
        "participation, latency) is what every deployment's orders pay; default: the engine's.",
    ),
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Register a strategy version with its evidence bundle.

    The bundle is validated and hashed, uploaded, downloaded again and re-hashed; only then is
    the version created. Evidence already registered for the strategy returns its version
    (exit 0, nothing changes). --config stores the version's execution parameters with it
    (docs/paper.md): its deployments' orders pay them. Exit 2 (nothing registered) on any
    problem, a --config file that is not valid included (each problem with file, line, field).

    Example: stratops register btc-trend --type trend --evidence evidence/ --model model/
    """
    settings = None if config is None else _version_config(config)
    with registry_errors(output, tracking_uri, desk), stderr.status("registering…") as status:
        registry = open_registry(tracking_uri, desk)

        def progress(step: RegistrationStep, run_id: str | None) -> None:
            status.update(f"{step.value}…")

        registration = registry.register(
            strategy,
            strategy_type=strategy_type,
            evidence=evidence,
            model_path=model,
            model_uri=model_uri,
            code_sha=code_sha,
            experiment=experiment,
            max_file_bytes=max_file_bytes,
            config=settings,
            on_step=progress,
        )
    version = registration.version

    def human() -> None:
        if not registration.created:
            stdout.print(
                f"{version.name}: this evidence is already registered as "
                f"[bold]v{version.version}[/] (sha256:{version.evidence_digest}); nothing changed",
                highlight=False,
            )
            return
        stdout.print(f"registered [bold]{version.name}[/] version [bold]{version.version}[/]")
        stdout.print(
            f"evidence sha256:{version.evidence_digest}\ntrials declared "
            f"{version.trials_declared}, in experiment {version.trials_in_experiment}"
            f", {len(version.trial_runs)} linked backtest run(s)",
            highlight=False,
        )
        if settings is not None and version.config_digest is not None:
            given = ", ".join(f"{k}={v}" for k, v in settings.execution.given().items())
            stdout.print(
                f"execution {given} (configuration sha256:{version.config_digest})",
                highlight=False,
            )

    emit({**version.model_dump(mode="json"), "created": registration.created}, output, human)


def _version_config(path: Path) -> VersionConfig:
    """The configuration in ``path``; exit 2 with every problem of the file otherwise."""
    try:
        found = version_config(parse_yaml(path.read_bytes(), str(path)))
    except OSError as exc:
        fail(f"--config {path}: cannot read it ({exc.strerror})", EXIT_BAD_INPUT)
    except YamlError as exc:
        found = [exc.problem]
    if isinstance(found, list):
        render_problems(found)
        raise typer.Exit(EXIT_BAD_INPUT)
    return found


def _or_dash(value: int | None) -> str:
    return "-" if value is None else str(value)


def versions(
    strategy: str = STRATEGY_ARGUMENT,
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """List a strategy's versions with evidence digests, trial counts and current aliases.

    Example: stratops versions btc-trend
    """
    with registry_errors(output, tracking_uri, desk):
        found = open_registry(tracking_uri, desk).versions(strategy)
    table = new_table(
        f"{strategy}: {len(found)} version(s)",
        *("version", "aliases", "type", "evidence sha256", "trials declared/seen", "code"),
    )
    for v in found:
        table.add_row(
            str(v.version),
            ", ".join(v.aliases) or "-",
            v.strategy_type.value if v.strategy_type else "-",
            (v.evidence_digest or "-")[:12],
            f"{_or_dash(v.trials_declared)} / {_or_dash(v.trials_in_experiment)}",
            (v.code_sha or "-")[:12],
        )
    emit([v.model_dump(mode="json") for v in found], output, lambda: stdout.print(table))


def verify(
    strategy: str = STRATEGY_ARGUMENT,
    version: int = VERSION_ARGUMENT,
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Download a version's evidence and model and re-hash every file.

    Exit 1 naming each file (evidence or model) that is changed, missing or extra, or when a
    digest no longer matches the version's tag.

    Example: stratops evidence verify btc-trend 5
    """
    with registry_errors(output, tracking_uri, desk):
        report = open_registry(tracking_uri, desk).verify_evidence(strategy, version)

    def human() -> None:
        if report.ok:
            stdout.print(
                f"[green]verified:[/] {len(report.files)} files match sha256:{report.digest}",
                highlight=False,
            )
            stdout.print(
                f"[green]verified:[/] {len(report.model_files)} model files match "
                f"sha256:{report.model_digest}",
                highlight=False,
            )
        else:
            render_problems(report.problems)

    emit({"ok": report.ok, **report.model_dump(mode="json")}, output, human)
    if report.ok:
        return
    named = ", ".join(sorted({p.file for p in report.problems}))
    fail(f"evidence of {strategy} version {version} does not match: {named}", EXIT_NEGATIVE)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GiB"


def show(
    strategy: str = STRATEGY_ARGUMENT,
    version: int = VERSION_ARGUMENT,
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Summarise a version's verified evidence: files, digest, metadata, data range, trials.

    Example: stratops evidence show btc-trend 5
    """
    with registry_errors(output, tracking_uri, desk):
        summary = open_registry(tracking_uri, desk).evidence_summary(strategy, version)
    files = new_table(
        f"{strategy} v{version} evidence sha256:{summary.digest}", "file", "kind", "size", "sha256"
    )
    for entry in summary.files:
        files.add_row(entry.path, entry.kind.value, _size(entry.size), entry.sha256[:16])
    meta, facts, quality = summary.metadata, summary.facts, summary.data_quality
    about = new_table("Evidence", "field", FreeText("value"))
    rows = {
        "strategy type": meta.strategy_type,
        "venue / symbols": f"{meta.venue} {', '.join(meta.symbols)}",
        "code commit": meta.code_commit or "-",
        "declared data range": f"{meta.data_range.start} .. {meta.data_range.end}",
        "returns": f"{facts.returns_rows:,} rows over {facts.return_days} days "
        f"({facts.returns_start} .. {facts.returns_end})",
        "periods per year": f"{meta.periods_per_year:g}",
        "trades": f"{facts.trades_rows:,}",
        "latency samples": f"{facts.latency_rows:,}",
        "trials": f"{meta.trials} declared, {facts.trial_columns} columns over "
        f"{facts.trial_days} days",
        "market data": f"{quality.source}: {quality.rows:,}/{quality.expected_rows:,} rows, "
        f"{quality.gaps} gaps, {quality.duplicates} duplicates",
    }
    for field, value in rows.items():
        about.add_row(field, value)

    def human() -> None:
        stdout.print(files)
        stdout.print(about)

    emit(summary.model_dump(mode="json"), output, human)


def history(
    strategy: str = STRATEGY_ARGUMENT,
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print every stage alias change of a strategy: who, when, from what, why, which PR.

    Example: stratops aliases history btc-trend
    """
    with registry_errors(output, tracking_uri, desk):
        changes = open_registry(tracking_uri, desk).alias_history(strategy)
    table = new_table(
        f"{strategy}: {len(changes)} alias change(s)",
        *("#", "when (UTC)", "stage", "from", "to", "actor", "PR", "approvers"),
        FreeText("reason"),
    )
    for c in changes:
        table.add_row(
            str(c.sequence),
            c.at.isoformat(timespec="seconds"),
            c.stage.value,
            "-" if c.from_version is None else f"v{c.from_version}",
            "-" if c.to_version is None else f"v{c.to_version}",
            c.actor,
            "-" if c.pull_request is None else f"#{c.pull_request}",
            ", ".join(c.approvers) or "-",
            c.reason,
        )
    emit(
        [change.model_dump(mode="json") for change in changes], output, lambda: stdout.print(table)
    )
