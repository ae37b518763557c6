"""``stratops alerts render`` and ``stratops runbook show``: the desk's alerts and runbooks."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import typer

from stratops.alerts.alertmanager import DeskHours
from stratops.alerts.prometheus import Calendar
from stratops.alerts.regime import market_context, regime_ranges
from stratops.alerts.render import ALERTMANAGER, RULE_TESTS, RULES, RUNBOOK_URL, render
from stratops.analytics.regimes import HourOfWeekProfile, RegimeRules
from stratops.cli.output import (
    OUTPUT_OPTION,
    OutputFormat,
    emit,
    fail,
    render_problems,
    stdout,
)
from stratops.cli.regimes import (
    DATA_DIR_OPTION,
    DATA_OPTION,
    PEAK_OPTION,
    THIN_OPTION,
    WEEKS_OPTION,
    dataset_profile,
)
from stratops.gitops.desk import Desk, load_desk
from stratops.model.alerts import AlertRule, Overlay
from stratops.model.runbook import Context, Runbook
from stratops.runbooks.commands import command_problems
from stratops.runbooks.render import as_data, markdown

MANIFESTS_OPTION = typer.Option(
    Path("manifests"), "--manifests", help="The desk's documents (folder or files)."
)
PROFILE_OPTION = typer.Option(
    None,
    "--profile",
    help="A saved hour-of-week profile (JSON: the profile, or `stratops regimes show -o json`). "
    "Default: the profile of --symbol in --data.",
)
SYMBOL_OPTION = typer.Option("BTC/USDT", "--symbol", help="The reference market's symbol.")
VENUE_OPTION = typer.Option("binance", "--venue", help="The reference market's venue.")


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(
        help="Alert rules by market context, for Prometheus and Alertmanager.",
        epilog="Example: stratops alerts render --out build/alerts",
        no_args_is_help=True,
    )
    alerts.command("render")(alerts_render)
    app.add_typer(alerts, name="alerts")
    runbook = typer.Typer(
        help="Runbooks: what an alert means and what to do in the current market context.",
        epilog="Example: stratops runbook show slippage-high --regime thin",
        no_args_is_help=True,
    )
    runbook.command("show")(runbook_show)
    app.add_typer(runbook, name="runbook")


def checked_desk(manifests: Path) -> Desk:
    """The desk's documents, or exit 2 listing every problem (runbook commands included)."""
    desk = load_desk([manifests])
    problems = [*desk.problems, *command_problems(desk.sources)]
    if problems:
        render_problems(problems)
        raise typer.Exit(2)
    return desk


def _rules(thin: float, peak: float) -> RegimeRules:
    try:
        return RegimeRules(thin_below=thin, peak_above=peak)
    except ValueError as exc:
        fail(f"{exc}")


def load_profile(
    profile: Path | None, symbol: str, data: str, data_dir: Path | None, weeks: int
) -> HourOfWeekProfile:
    if profile is None:
        return dataset_profile(symbol, data, data_dir, weeks)
    try:
        saved = json.loads(profile.read_text(encoding="utf-8"))
        return HourOfWeekProfile.from_storage(saved.get("profile", saved))
    except OSError as exc:
        fail(f"{profile}: cannot read: {exc.strerror}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        fail(
            f"{profile}: not an hour-of-week profile ({exc}); save one with "
            "stratops regimes show -o json"
        )


def _write(out: Path, files: dict[str, str]) -> None:
    """Write every file or none: into a temporary folder beside ``out``, then moved in."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as staging:
        for name, text in files.items():
            path = Path(staging, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        for name in files:
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(Path(staging, name), target)


def alerts_render(
    out: Path = typer.Option(..., "--out", help="Folder to write the files into."),
    manifests: Path = MANIFESTS_OPTION,
    profile: Path | None = PROFILE_OPTION,
    symbol: str = SYMBOL_OPTION,
    venue: str = VENUE_OPTION,
    data: str = DATA_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    weeks: int = WEEKS_OPTION,
    thin: float = THIN_OPTION,
    peak: float = PEAK_OPTION,
    desk_hours: str = typer.Option(
        "07:00-21:00", "--desk-hours", help="Weekday desk hours, UTC; the rest pages on-call."
    ),
    runbook_url: str = typer.Option(
        RUNBOOK_URL,
        "--runbook-url",
        help="runbook_url of each alert; {runbook} is the runbook's name.",
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Write the Prometheus rules, their promtool tests, the Alertmanager config and runbooks.

    The regime calendar of the rules comes from the reference market's hour-of-week profile;
    the controller's exported regime overrides it while present. Check the output with
    promtool check rules, promtool test rules and amtool check-config. Exit 2 on invalid
    documents (nothing is written).

    Example: stratops alerts render --out build/alerts --manifests manifests
    """
    try:
        hours = DeskHours.parse(desk_hours)
    except ValueError as exc:
        fail(f"--desk-hours: {exc}")
    rules = _rules(thin, peak)
    desk = checked_desk(manifests)
    history = load_profile(profile, symbol, data, data_dir, weeks)
    calendar = Calendar(regime_ranges(history, rules), venue, symbol, rules)
    alerts = [doc for _, doc in desk.of_kind(AlertRule)]
    runbooks = [doc for _, doc in desk.of_kind(Runbook)]
    files = render(alerts, runbooks, calendar, hours, runbook_url)
    _write(out, files)
    written = {
        "out": str(out),
        "files": sorted(files),
        "alerts": len(alerts),
        "runbooks": len(runbooks),
        "profile": history.digest(),
    }

    def human() -> None:
        stdout.print(
            f"wrote {out / RULES}, {out / RULE_TESTS}, {out / ALERTMANAGER} and "
            f"{2 * len(runbooks)} runbook page(s): {len(alerts)} alert(s)",
            highlight=False,
            markup=False,
        )

    emit(written, output, human)


def current_context(history: HourOfWeekProfile, rules: RegimeRules, at: datetime) -> Context:
    """The context of ``at`` by the profile: a funding window, else the liquidity regime."""
    now = market_context(history, pd.Timestamp(at).as_unit("ns").value, rules=rules)
    if now.overlays[Overlay.FUNDING_WINDOW]:
        return Context.FUNDING_WINDOW
    regime = next(r for r, on in now.regime.items() if on)
    return Context(regime.value)


def runbook_show(
    alert: str = typer.Argument(..., metavar="ALERT", help="The AlertRule's name."),
    regime: Context | None = typer.Option(
        None,
        "--regime",
        help="Context to show the steps of (default: now, by the reference market's profile).",
    ),
    at: datetime | None = typer.Option(
        None,
        "--at",
        help="Moment (UTC) whose context to use instead of now, e.g. 2024-08-04T03:00.",
    ),
    manifests: Path = MANIFESTS_OPTION,
    profile: Path | None = PROFILE_OPTION,
    symbol: str = SYMBOL_OPTION,
    data: str = DATA_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    weeks: int = WEEKS_OPTION,
    thin: float = THIN_OPTION,
    peak: float = PEAK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print an alert's runbook with the steps for the current (or given) market context.

    Exit 2 when the alert does not exist or the documents are invalid.

    Example: stratops runbook show slippage-high --regime thin
    """
    desk = load_desk([manifests])
    if desk.problems:
        render_problems(desk.problems)
        raise typer.Exit(2)
    rules_by_name = {doc.name: doc for _, doc in desk.of_kind(AlertRule)}
    rule = rules_by_name.get(alert)
    if rule is None:
        fail(
            f"no AlertRule {alert!r} in {manifests} "
            f"(known: {', '.join(sorted(rules_by_name)) or 'none'})"
        )
    runbook = next(doc for _, doc in desk.of_kind(Runbook) if doc.name == rule.spec.runbook)
    if regime is None:
        moment = datetime.now(UTC) if at is None else at.replace(tzinfo=at.tzinfo or UTC)
        history = load_profile(profile, symbol, data, data_dir, weeks)
        regime = current_context(history, _rules(thin, peak), moment)
    linked = [a for a in rules_by_name.values() if a.spec.runbook == runbook.name]
    emit(
        as_data(runbook, linked, regime),
        output,
        lambda: stdout.print(markdown(runbook, linked, regime), markup=False, highlight=False),
    )
