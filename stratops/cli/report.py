"""``stratops report``: a strategy's post-trade analytics as one HTML page, markdown or JSON.

Exit codes: 0 ok; 2 bad input (no telemetry, an unknown version, a bad time); 3 the registry
is temporarily unavailable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd
import typer

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.output import (
    OUTPUT_OPTION,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stderr,
    stdout,
)
from stratops.cli.registry import TRACKING_URI_OPTION, open_registry, registry_errors
from stratops.cli.values import amount
from stratops.controller.assembly import ControllerPaths
from stratops.examples import DATA_DIR_ENV
from stratops.model.base import Stage
from stratops.model.problems import InvalidDocumentError
from stratops.paper.errors import PaperError
from stratops.registry import Registry
from stratops.registry.errors import NotFound
from stratops.registry.registry import REPORT_JSON
from stratops.report import sources
from stratops.report.build import Subject, build_report
from stratops.report.html import render_html
from stratops.report.markdown import render_markdown
from stratops.report.model import Report
from stratops.report.tables import decay_lines, summary_rows
from stratops.telemetry.reader import Window

SUMMARY = "Report a strategy's post-trade analytics as one HTML page, markdown or JSON."


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command("report", help=SUMMARY + _DETAILS, epilog=_EXAMPLE)(report)


_DETAILS = """

Equity and underwater curves, the P&L and shortfall waterfalls, markouts by horizon, cost by
liquidity regime and by hour of week, the drawdowns with their diagnosis and the decay
verdict, from the deployment's telemetry (or --telemetry), the version's backtest evidence in
the registry and the market data the run replayed.

The HTML page is self-contained (inline SVG, no script, no network). The same inputs give
the same bytes. --log-to-registry stores the written files as artifacts of the version's
run in MLflow (reports/<stage>-<from>-<to>/), with the report's JSON (report.json) that the
dashboard's strategy page reads its headline figures from.

Exit codes: 0 ok; 2 bad input (no telemetry, unknown version, bad time); 3 registry
temporarily unavailable.
"""
_EXAMPLE = (
    "Example: stratops report btc-trend --stage canary --html canary.html --markdown canary.md"
)


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        fail(f"{option} {text!r}: not an ISO 8601 time (e.g. 2024-08-05T00:00Z)")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    moment: datetime = stamp.to_pydatetime()
    return moment


def _write_all(outputs: Sequence[tuple[Path, str]]) -> None:
    """Write every file or none: each to a temporary file beside it, then renamed."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
                file.write(content)
            staged.append((Path(name), path))
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


@contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except InvalidDocumentError as exc:
        render_problems(exc.problems)
        fail("no report written")
    except (PaperError, ValueError) as exc:
        fail(f"{exc}: no report written")


def _version(registry: Registry | None, strategy: str, stage: Stage | None) -> int | None:
    if registry is None or stage is None:
        return None
    try:
        return registry.stage_aliases(strategy).get(stage)
    except NotFound:
        return None


def report(
    strategy: str = typer.Argument(..., help="Strategy name.", metavar="STRATEGY"),
    stage: Stage | None = typer.Option(
        None, "--stage", help="Deployment stage: paper, canary or live."
    ),
    version: int | None = typer.Option(
        None,
        "--version",
        min=1,
        help="Strategy version. Default: the version the stage's alias points at.",
    ),
    start: str | None = typer.Option(
        None,
        "--from",
        metavar="TIME",
        help="Start of the window, ISO 8601 (UTC if no zone), inclusive.",
    ),
    end: str | None = typer.Option(
        None,
        "--to",
        metavar="TIME",
        help="End of the window, ISO 8601 (UTC if no zone), exclusive.",
    ),
    telemetry: Path | None = typer.Option(
        None,
        "--telemetry",
        metavar="FOLDER",
        help="A run or deployment telemetry folder. Default: the desk's local runtime "
        "deployment of STRATEGY at --stage.",
    ),
    html: Path | None = typer.Option(
        None, "--html", metavar="FILE", help="Write the HTML page here."
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", metavar="FILE", help="Write the markdown here."
    ),
    allocation: float | None = typer.Option(
        None,
        "--allocation",
        metavar="AMOUNT",
        callback=amount,
        help="Capital the returns are of. Default: the runs' allocation (run.json).",
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        metavar="FOLDER",
        envvar=DATA_DIR_ENV,
        help="Market data folder for the regime profile (default: the packaged data).",
    ),
    audit_log: Path | None = typer.Option(
        None,
        "--audit-log",
        metavar="FILE",
        help="Audit log whose incidents and halts the drawdowns are checked against. "
        "Default: the desk's (with --stage and no --telemetry), if it has one.",
    ),
    log_to_registry: bool = typer.Option(
        False, "--log-to-registry", help="Store the written files as artifacts of the version."
    ),
    no_registry: bool = typer.Option(
        False, "--no-registry", help="Do not read the registry (no backtest evidence)."
    ),
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    if telemetry is None and stage is None:
        fail("give --stage (the deployment to report on) or --telemetry FOLDER")
    if log_to_registry and no_registry:
        fail("--log-to-registry needs the registry; drop --no-registry")
    if log_to_registry and html is None and markdown is None:
        fail("--log-to-registry stores the written files: give --html or --markdown")
    with registry_errors(output, tracking_uri, desk):
        wanted = version is not None or stage is not None or log_to_registry
        registry = open_registry(tracking_uri, desk) if wanted and not no_registry else None
        chosen = version if version is not None else _version(registry, strategy, stage)
        if log_to_registry and chosen is None:
            fail("--log-to-registry needs a version: give --version or a stage with an alias")
        with _bad_input():
            window = Window(_moment(start, "--from"), _moment(end, "--to"))
            if telemetry is not None:
                folder = telemetry
            else:
                assert stage is not None  # checked above
                folder = sources.deployment_telemetry(desk_root(desk), strategy, stage, chosen)
                desk_log = ControllerPaths(desk_root(desk)).audit
                audit_log = audit_log or (desk_log if desk_log.is_file() else None)
            documents = sources.run_documents(folder)
            capital = allocation or sources.allocation_of(folder, documents)
            tables = sources.read_telemetry(folder, window, capital)
            backtest = (
                sources.backtest_of(registry, strategy, chosen)
                if registry is not None and chosen is not None
                else None
            )
            profile = sources.profile_of(documents, data_dir)
            incidents = sources.incidents_of(audit_log, strategy) if audit_log else None
            built = build_report(
                Subject(strategy, stage.value if stage else None, chosen),
                tables,
                backtest=backtest,
                profile=profile,
                incidents=incidents,
            )
        outputs = [(path, render(built)) for path, render in _renderers(html, markdown)]
        _write_all(outputs)
        for path, _ in outputs:
            stderr.print(f"wrote {path}", highlight=False)
        if log_to_registry and registry is not None and chosen is not None:
            with tempfile.TemporaryDirectory(prefix="stratops-report-") as scratch:
                summary = Path(scratch, REPORT_JSON)  # for the dashboard's headline figures
                summary.write_text(built.to_json(), encoding="utf-8")
                files = [*(path for path, _ in outputs), summary]
                stored = registry.log_report(strategy, chosen, files, _artifact_folder(built))
            stderr.print(f"stored in the registry: v{chosen} {stored}/", highlight=False)
    emit(built.as_dict(), output, lambda: _human(built))


def _renderers(
    html: Path | None, markdown: Path | None
) -> list[tuple[Path, Callable[[Report], str]]]:
    chosen: list[tuple[Path, Callable[[Report], str]]] = []
    if html is not None:
        chosen.append((html, render_html))
    if markdown is not None:
        chosen.append((markdown, render_markdown))
    return chosen


def _artifact_folder(built: Report) -> str:
    def stamp(ns: int) -> str:
        return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y%m%dT%H%M")

    return f"{built.stage or 'run'}-{stamp(built.start_ns)}-{stamp(built.end_ns)}"


def _human(built: Report) -> None:
    headline, reason = decay_lines(built)
    table = new_table(f"report of {built.strategy}", "", "value")
    for name, value in summary_rows(built):
        table.add_row(name, value)
    table.add_row("decay verdict", headline)
    stdout.print(table)
    stdout.print(reason, highlight=False, markup=False)
