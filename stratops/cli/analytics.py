"""``stratops analytics import``: the desk's real fills and quotes into the telemetry schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from stratops.cli.output import (
    OUTPUT_OPTION,
    OutputFormat,
    emit,
    fail,
    new_table,
    render_problems,
    stdout,
)
from stratops.model.problems import InvalidDocumentError
from stratops.telemetry.importers import ImportFormat
from stratops.telemetry.writer import import_file

SUMMARY = "Post-trade analytics: import the desk's real fills and quotes into telemetry."


def register(app: typer.Typer) -> None:
    """Add the ``analytics`` group to ``app``."""
    analytics = typer.Typer(
        help=SUMMARY,
        epilog="Example: stratops analytics import --format ccxt fills.jsonl --out telemetry/fills",
        no_args_is_help=True,
    )
    analytics.command("import")(import_command)
    app.add_typer(analytics, name="analytics")


def import_command(
    file: Path = typer.Argument(..., help="The file to import (plain or .gz).", dir_okay=False),
    format: ImportFormat = typer.Option(
        ...,
        "--format",
        "-f",
        help="ccxt: unified trades as JSON lines (the desk's fills); tardis: tardis.dev trades "
        "or quotes CSV; binance-ws: a Binance websocket capture (trade and bookTicker streams).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="New folder for the imported telemetry (must not exist)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Import fills (ccxt) or market trades and quotes (tardis, binance-ws) into telemetry.

    Writes OUT/import.json and one Parquet folder per table, partitioned by UTC day, in the
    schema of docs/telemetry.md: ccxt gives fills, tardis trades or quotes, binance-ws both.
    Every bad row is reported with its line; exit 2 and nothing written when there is any.

    Example: stratops analytics import --format tardis trades.csv.gz --out telemetry/btc-trades
    """
    try:
        document = import_file(format, file, out)
    except InvalidDocumentError as exc:
        render_problems(exc.problems)
        fail(f"{file}: nothing imported")
    data: dict[str, Any] = {**document, "out": str(out)}

    def human() -> None:
        table = new_table(f"{file} ({format.value}) → {out}", "table", "rows", "from", "to")
        for name, facts in document["tables"].items():
            table.add_row(name, str(facts["rows"]), str(facts["start"]), str(facts["end"]))
        stdout.print(table)

    emit(data, output, human)
