"""``stratops recon``: reconcile each deployment's ledger with its venue statement."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stratops.cli.desk import DESK_OPTION, desk_root
from stratops.cli.output import (
    EXIT_RETRY,
    OUTPUT_OPTION,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stderr,
    stdout,
)
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog
from stratops.gitops.desk import load_desk
from stratops.model.problems import InvalidDocumentError
from stratops.model.reconciliation import ReconciliationPolicySpec
from stratops.ops.reconciliation.fetch import (
    Credentials,
    FetchError,
    VenueUnavailable,
    connect,
    fetch_statement,
    write_statement,
)
from stratops.ops.reconciliation.lifecycle import BreakRecord, BreakState
from stratops.ops.reconciliation.run import (
    DeploymentRecon,
    deployments,
    desk_policy,
    merge,
    publish,
    reconcile_deployment,
)
from stratops.ops.reconciliation.store import BreakStore
from stratops.runtime.local import LocalRuntime

HELP = "Reconciliation: each deployment's ledger (telemetry) against the venue's statement."

recon_app = typer.Typer(
    help=f"{HELP}\n\nExample: stratops recon run --strategy btc-trend",
    no_args_is_help=True,
    rich_markup_mode=None,
)

EXIT_BREAKS = 1


def register(app: typer.Typer) -> None:
    """Add the ``recon`` sub-app to ``app``."""
    app.add_typer(recon_app, name="recon")


class StateChoice(StrEnum):
    SETTLING = "settling"
    OPEN = "open"
    AGED = "aged"
    CLEARED = "cleared"


def _policy(root: Path) -> tuple[ReconciliationPolicySpec, str]:
    try:
        return desk_policy(load_desk([root / "manifests"]))
    except ValueError as exc:
        fail(str(exc))


def _runs(runtime: LocalRuntime) -> dict[tuple[str, str], Path]:
    """(strategy, stage) → the telemetry folder of the version each deployment runs."""
    found = {}
    for status in runtime.list():
        folder = runtime.telemetry(status.spec).folder
        if folder is not None:
            found[(status.spec.strategy, status.spec.stage.value)] = folder
    return found


def _row(record: BreakRecord) -> dict[str, Any]:
    return record.model_dump(mode="json")


def _summary(outcome: DeploymentRecon) -> dict[str, Any]:
    counts = {state.value: 0 for state in BreakState}
    for record in outcome.records:
        counts[record.state.value] += 1
    return {
        "strategy": outcome.deployment.strategy,
        "stage": outcome.deployment.stage,
        "run": str(outcome.deployment.run),
        "found": outcome.found,
        **counts,
        "halt": sorted({r.kind.value for r in outcome.halt}),
    }


@recon_app.command("run")
def run(
    desk: Path | None = DESK_OPTION,
    strategy: str | None = typer.Option(
        None, "--strategy", help="Reconcile only this strategy's deployments."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Reconcile every deployment of the local runtime with its venue statement.

    Reads each deployment's run (its telemetry) and the statement the desk's exchange adapter
    exported for it (<statements>/<strategy>--<stage>/, the policy's statements) or, for a
    paper deployment without one, its paper venue's own (<telemetry>/venue/), finds the
    breaks under the desk's ReconciliationPolicy, stores them in .stratops/controller/recon.json
    (atomically), and records every break opened, aged or cleared in the audit log.
    Exit 0 when no break is open or aged, 1 when one is, 2 on unreadable input.

    Example: stratops recon run --strategy btc-trend -o json
    """
    root = desk_root(desk)
    policy, policy_name = _policy(root)
    paths = ControllerPaths(root)
    store = BreakStore(paths.recon)
    state = store.state()
    known = state.breaks
    found = deployments(root / policy.statements, _runs(LocalRuntime(paths.runtime)))
    chosen = [d for d in found if strategy in (None, d.strategy)]
    now = datetime.now(UTC)
    try:
        outcomes = [reconcile_deployment(d, policy, known, now) for d in chosen]
    except InvalidDocumentError as exc:
        render_problems(exc.problems)
        raise typer.Exit(2) from exc
    audit = AuditLog(paths.audit)
    for outcome in outcomes:
        publish(outcome, known, audit)
    store.save(
        state.with_run(merge(known, outcomes), [(d.strategy, d.stage) for d in chosen], policy, now)
    )
    summaries = [_summary(o) for o in outcomes]

    def human() -> None:
        table = new_table(
            f"Reconciliation ({policy_name})",
            "strategy",
            "stage",
            "found",
            "settling",
            "open",
            "aged",
            "cleared",
            "halts",
        )
        for s in summaries:
            table.add_row(
                s["strategy"],
                s["stage"],
                str(s["found"]),
                str(s["settling"]),
                str(s["open"]),
                str(s["aged"]),
                str(s["cleared"]),
                ", ".join(s["halt"]) or "-",
            )
        stdout.print(table)
        if not summaries:
            stdout.print(f"no deployment with a venue statement in {root / policy.statements}")

    emit({"policy": policy_name, "deployments": summaries}, output, human)
    if any(o.active() for o in outcomes):
        raise typer.Exit(EXIT_BREAKS)


@recon_app.command("breaks")
def breaks(
    desk: Path | None = DESK_OPTION,
    state: list[StateChoice] = typer.Option(
        [StateChoice.OPEN, StateChoice.AGED],
        "--state",
        help="States to list (repeat the option); default open and aged.",
    ),
    strategy: str | None = typer.Option(None, "--strategy", help="Only this strategy's breaks."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """List the stored reconciliation breaks, as of the last `stratops recon run`.

    Example: stratops recon breaks --state cleared --strategy btc-trend
    """
    root = desk_root(desk)
    wanted = {BreakState(s.value) for s in state}
    records = [
        r
        for r in BreakStore(ControllerPaths(root).recon).load()
        if r.state in wanted and strategy in (None, r.strategy)
    ]

    def human() -> None:
        table = new_table(
            "Reconciliation breaks",
            "strategy",
            "stage",
            "class",
            "severity",
            "state",
            "symbol",
            "order",
            "detail",
        )
        for r in records:
            table.add_row(
                r.strategy,
                r.stage,
                r.kind.value,
                r.severity.value,
                r.state.value,
                r.symbol,
                str(r.order_key) if r.order_key >= 0 else "-",
                r.detail,
            )
        stdout.print(table)

    emit([_row(r) for r in records], output, human)


MOMENTS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"]


def _ms(moment: datetime) -> int:
    """Milliseconds since the epoch; a moment without a zone is UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


@recon_app.command("fetch")
def fetch(
    venue: str = typer.Option(..., "--venue", help="The venue's ccxt id, e.g. binance."),
    symbol: list[str] = typer.Option(
        ..., "--symbol", help="A unified symbol to fetch, e.g. BTC/USDT (repeat the option)."
    ),
    since: datetime = typer.Option(
        ...,
        "--since",
        help="First moment (UTC) of the statement, e.g. 2024-08-08T23:54:00.",
        formats=MOMENTS,
    ),
    until: datetime | None = typer.Option(
        None,
        "--until",
        help="Moment (UTC) the statement ends before (default: now).",
        formats=MOMENTS,
    ),
    out: Path = typer.Option(
        ...,
        "--out",
        help="The statement folder to write (replaced whole), e.g. "
        ".stratops/statements/btc-trend--live for the deployment btc-trend/live.",
        file_okay=False,
    ),
    api_host: str | None = typer.Option(
        None,
        "--api-host",
        help="Send every request to this scheme://host[:port] with the venue's own paths "
        "(an egress proxy, or a stand-in venue).",
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Fetch an account's venue statement live with ccxt (the optional extra ccxt).

    Writes OUT/trades.jsonl and orders.jsonl, ccxt's unified structures of the account's trades
    and orders of each symbol in [--since, --until), and, for a spot account, balances.jsonl
    (its balance now) or, for a contract account (e.g. --venue binanceusdm --symbol
    BTC/USDT:USDT), positions.jsonl (its open positions now) and funding.jsonl (the funding of
    its perpetuals): the files `stratops recon run` reads. The symbols of one statement are of
    one account (all spot, all linear or all inverse contracts). The venue is asked a day at a
    time; progress goes to stderr. The credentials come from the environment:
    STRATOPS_<VENUE>_API_KEY and STRATOPS_<VENUE>_SECRET (and STRATOPS_<VENUE>_PASSWORD where
    the venue wants one); a read-only key is enough. Exit 0 when written, 2 when ccxt is not
    installed (pip install 'stratops[ccxt]') or the venue, a symbol, the window or the
    credentials are wrong, 3 when the venue is unavailable (retry); nothing is written then.

    Example: stratops recon fetch --venue binance --symbol BTC/USDT --since 2026-12-01 --out live
    """
    start = _ms(since)
    if until is not None and _ms(until) <= start:
        fail(f"--until {until.isoformat()} is not after --since {since.isoformat()}")
    columns = (TextColumn("fetch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        exchange = connect(venue, Credentials.from_env(venue, os.environ), api_host)
        end = int(exchange.milliseconds()) if until is None else _ms(until)
        if end <= start:
            fail(f"--since {since.isoformat()} is in the future")
        with Progress(*columns, console=stderr, transient=True) as bar:
            task = bar.add_task("fetch", total=None)
            statement = fetch_statement(
                exchange,
                symbol,
                start,
                end,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except VenueUnavailable as exc:
        fail(str(exc), EXIT_RETRY)
    except FetchError as exc:
        fail(str(exc))
    write_statement(out, statement)
    counts = statement.counts()
    written = {"out": str(out), "venue": venue, "symbols": list(symbol), **counts}

    def human() -> None:
        held = (
            "the balance"
            if counts["positions"] is None
            else f"{counts['positions']} open position(s), {counts['funding']} funding payment(s)"
        )
        stdout.print(
            f"wrote {out}: {counts['trades']} trade(s), {counts['orders']} order(s) and {held} "
            f"of the {venue} account",
            highlight=False,
            markup=False,
        )

    emit(written, output, human)
