"""``stratops regimes show``: a symbol's hour-of-week profile as a 7 x 24 heat table."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from stratops.analytics.regimes import (
    HOURS_PER_WEEK,
    WEEKDAYS,
    HourOfWeekProfile,
    RegimeRules,
)
from stratops.cli.output import OUTPUT_OPTION, OutputFormat, emit, fail, new_table, stdout
from stratops.examples import DATA_DIR_ENV
from stratops.model.analysis import Regime
from stratops.paper.datasets import DATASETS, load_dataset, symbol_profile
from stratops.paper.errors import PaperError

HELP = "Market regimes: the hour-of-week profile of volume, volatility and spread."

regimes_app = typer.Typer(
    help=f"{HELP}\n\nExample: stratops regimes show --symbol BTC/USDT",
    no_args_is_help=True,
    rich_markup_mode=None,
)


# The options of a profile computed from a dataset (also those of `stratops alerts`).
DATA_OPTION = typer.Option(
    "binance-1m",
    "--data",
    help="Dataset of the data folder: "
    + "; ".join(f"{name}: {d.description}" for name, d in sorted(DATASETS.items()))
    + ".",
)
DATA_DIR_OPTION = typer.Option(
    None,
    "--data-dir",
    envvar=DATA_DIR_ENV,
    help="Folder of the datasets (default: the market data shipped in the package).",
)
WEEKS_OPTION = typer.Option(4, "--weeks", min=1, help="Length of the trailing window, weeks.")
THIN_OPTION = typer.Option(0.5, "--thin", help="Thin below this ratio to the median volume.")
PEAK_OPTION = typer.Option(1.5, "--peak", help="Peak above this ratio to the median volume.")


def register(app: typer.Typer) -> None:
    """Add the ``regimes`` sub-app to ``app``."""
    app.add_typer(regimes_app, name="regimes")


class MeasureChoice(StrEnum):
    VOLUME = "volume"
    VOLATILITY = "volatility"
    SPREAD = "spread_bps"


_STYLE = {Regime.THIN: "blue", Regime.NORMAL: "", Regime.PEAK: "bold red"}


@regimes_app.command("show")
def show(
    symbol: str = typer.Option("BTC/USDT", "--symbol", help="Symbol of the dataset."),
    data: str = DATA_OPTION,
    data_dir: Path | None = DATA_DIR_OPTION,
    weeks: int = WEEKS_OPTION,
    measure: MeasureChoice = typer.Option(
        MeasureChoice.VOLUME,
        "--measure",
        help="Which ratio the table shows; the regime colours always follow volume.",
    ),
    thin: float = THIN_OPTION,
    peak: float = PEAK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Print a symbol's hour-of-week profile as a 7 x 24 table of ratios to its median.

    Rows are UTC weekdays, columns UTC hours; a cell is the bucket's median over the trailing
    window divided by the median of the 168 buckets, blue when thin, red when peak. json and
    yaml give the whole profile (the value shipped with evidence), its digest and the regimes.
    Exit 2 on an unknown dataset or symbol or a missing data folder.

    Example: stratops regimes show --symbol BTC/USDT --data-dir ../shared/data
    """
    try:
        rules = RegimeRules(thin_below=thin, peak_above=peak)
    except ValueError as exc:
        fail(f"{exc}")
    profile = dataset_profile(symbol, data, data_dir, weeks)
    ratios = profile.ratios(measure.value)
    regimes = profile.regimes(rules)
    result = {
        "symbol": symbol,
        "dataset": data,
        "measure": measure.value,
        "digest": profile.digest(),
        "rules": {"thin_below": rules.thin_below, "peak_above": rules.peak_above},
        "ratios": [[_plain(ratios[24 * d + h]) for h in range(24)] for d in range(7)],
        "regimes": [[regimes[24 * d + h].value for h in range(24)] for d in range(7)],
        "profile": profile.for_storage(),
    }
    emit(result, output, lambda: _heat_table(profile, ratios, regimes, measure.value, rules))


def dataset_profile(symbol: str, data: str, data_dir: Path | None, weeks: int) -> HourOfWeekProfile:
    """The hour-of-week profile of ``symbol`` in a dataset, or exit 2 saying why there is none."""
    try:
        market = load_dataset(data, data_dir=data_dir, symbols=[symbol])
    except (PaperError, ValueError) as exc:
        fail(f"{exc}")
    profile = symbol_profile(market, window=pd.Timedelta(weeks=weeks))
    if profile is None:
        fail(f"{data} has no complete hour of {symbol} bars; a profile needs hours.")
    return profile


def _plain(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 4)


def _heat_table(
    profile: HourOfWeekProfile,
    ratios: np.ndarray,
    regimes: list[Regime],
    measure: str,
    rules: RegimeRules,
) -> None:
    start = pd.Timestamp(profile.start_ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M")
    end = pd.Timestamp(profile.end_ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M")
    table = new_table(
        f"{profile.symbol} {measure} / median by hour of week (UTC), {start} to {end}",
        "day",
        *(f"{h:02d}" for h in range(24)),
    )
    for day, name in enumerate(WEEKDAYS):
        cells = []
        for hour in range(24):
            bucket = 24 * day + hour
            value = ratios[bucket]
            text = "-" if np.isnan(value) else f"{value:.2f}"
            style = _STYLE[regimes[bucket]]
            cells.append(f"[{style}]{text}[/]" if style else text)
        table.add_row(name, *cells)
    stdout.print(table)
    median = np.nanmedian(profile.values("volume"))
    covered = sum(1 for n in profile.samples if n > 0)
    counts = ", ".join(
        f"{regimes.count(r)} {r.value}" for r in (Regime.THIN, Regime.NORMAL, Regime.PEAK)
    )
    stdout.print(
        f"regime by volume: thin (blue) below {rules.thin_below:g} x median, peak (red) above "
        f"{rules.peak_above:g} x median: {counts}; median hourly volume {median:.4g}; "
        f"{covered}/{HOURS_PER_WEEK} buckets with data; profile digest {profile.digest()}",
        highlight=False,
        markup=False,
    )
