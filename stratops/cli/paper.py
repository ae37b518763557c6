"""``stratops backtest`` and ``stratops paper run``: the paper engine on the command line.

Exit codes: 0 ok (a paper run stopped by SIGTERM included), 1 a registered model
(``models:/``) whose stored files do not match its digest (never loaded), 2 bad input (unknown
dataset or strategy, unusable data under ``--on-bad-data reject``, a model that cannot be
loaded, a registry refusing ``--log-to``), 3 the registry is unreachable (retry).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stratops.cli.desk import DESK_OPTION
from stratops.cli.output import (
    EXIT_RETRY,
    OUTPUT_OPTION,
    FreeText,
    OutputFormat,
    emit,
    fail,
    is_data,
    new_table,
    stderr,
    stdout,
)
from stratops.cli.registry import TRACKING_URI_OPTION, locate, open_registry, registry_errors
from stratops.cli.values import amount, replay_speed
from stratops.examples import DATA_DIR_ENV
from stratops.gitops.errors import GitError
from stratops.gitops.git import GitRepo
from stratops.model.execution import ExecutionSettings, execution_settings
from stratops.paper.config import EngineConfig, ExecutionConfig, OrderType
from stratops.paper.datasets import DATASETS, load_bar_files, load_dataset
from stratops.paper.engine import Pacing, Session, Strategy, run_backtest
from stratops.paper.errors import ConfigError, PaperError
from stratops.paper.evidence import evidence_metadata, write_evidence
from stratops.paper.market import Market
from stratops.paper.marketdata.loaders import RepairPolicy
from stratops.paper.marketdata.schema import format_step, iso_utc
from stratops.paper.process import RunIdentity, RunStatus, run_document, run_paper_process
from stratops.paper.strategies import STRATEGIES, StrategySpec, strategy_spec
from stratops.paper.strategies.base import BarStrategy, Parameter, save_strategy
from stratops.paper.strategy import PyfuncStrategy
from stratops.paper.sweep import SweepResult, Trial, run_sweep, trial_of, trials_frame
from stratops.paper.telemetry import write_telemetry
from stratops.registry import Registry
from stratops.registry.registry import TAG_DATA_FINGERPRINT
from stratops.registry.vendor import translated
from stratops.telemetry.objectstore import Publisher, TelemetryStoreUnavailable

paper_app = typer.Typer(
    name="paper",
    help="Paper trading: run a strategy model on replayed market data.",
    no_args_is_help=True,
    epilog="Example: stratops paper run --model-uri model/ --allocation 50000 --telemetry runs/1",
)


def register(app: typer.Typer) -> None:
    """Add ``backtest`` and the ``paper`` sub-app (``paper run``) to ``app``."""
    app.command("backtest")(backtest)
    app.add_typer(paper_app, name="paper")


DATA_OPTION = typer.Option(
    None,
    "--data",
    help="Dataset of the data folder (--data-dir): "
    + "; ".join(f"{name}: {d.description}" for name, d in sorted(DATASETS.items()))
    + ".",
)
DATA_DIR_OPTION = typer.Option(
    None,
    "--data-dir",
    envvar=DATA_DIR_ENV,
    help="Folder of the datasets (default: the market data shipped in the package).",
)
BARS_OPTION = typer.Option(
    None, "--bars", help="SYMBOL=PATH of a bar file (feather, parquet, csv); repeat per symbol."
)
START_OPTION = typer.Option(None, "--start", help="First bar time, ISO 8601 UTC (inclusive).")
END_OPTION = typer.Option(None, "--end", help="End time, ISO 8601 UTC (exclusive).")
BAD_DATA_OPTION = typer.Option(
    RepairPolicy.REPAIR,
    "--on-bad-data",
    help="repair: fix gaps, duplicates, order and invalid rows and report them; "
    "reject: refuse such data (exit 2).",
)
SEED_OPTION = typer.Option(0, "--seed", min=0, help="Seed of the latency draws.")
MAX_FRACTION_OPTION = typer.Option(
    1.0, "--max-fraction", help="Risk limit of |target| per symbol, fraction of allocation."
)


def _parse_value(text: str) -> Parameter:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _assignments(values: list[str] | None, option: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise ConfigError(f"{option} {value!r}: expected KEY=VALUE", "config.option")
        parsed[key.strip()] = rest.strip()
    return parsed


def _time(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: not an ISO 8601 time", "config.time") from exc
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def _market(
    data: str | None,
    data_dir: Path | None,
    bars: list[str] | None,
    symbols: tuple[str, ...],
    start: str | None,
    end: str | None,
    policy: RepairPolicy,
) -> Market:
    if bars:
        files = {symbol: Path(path) for symbol, path in _assignments(bars, "--bars").items()}
        missing = [str(p) for p in files.values() if not p.is_file()]
        if missing:
            raise ConfigError(f"--bars: no such file {', '.join(missing)}", "config.bars")
        market = load_bar_files(files, policy=policy)
    else:
        market = load_dataset(data or "binance-1m", data_dir=data_dir, policy=policy)
    absent = [s for s in symbols if s not in market.symbols]
    if absent:
        raise ConfigError(
            f"the strategy trades {', '.join(absent)}, which {market.name} lacks "
            f"(it has {', '.join(market.symbols)})",
            "config.symbols",
        )
    return market.select(list(symbols)).between(_time(start, "--start"), _time(end, "--end"))


def _git_commit() -> str | None:
    """The commit checked out where the command runs, None outside a git working tree."""
    try:
        return GitRepo.discover(Path.cwd()).rev_parse("HEAD")
    except GitError:
        return None


def _summary(session: Session, trial: Trial, extra: dict[str, Any]) -> dict[str, Any]:
    tables = session.tables()
    pnl = tables["pnl"]
    totals = {
        name: float(np.sum(pnl.column(name).to_numpy()))
        for name in ("gross", "delay_cost", "spread_cost", "impact_cost", "fees", "funding", "net")
    }
    market = session.market
    return {
        **extra,
        "market": {
            "name": market.name,
            "venue": market.venue,
            "symbols": list(market.symbols),
            "bar": format_step(market.step_ns),
            "start": iso_utc(int(market.ts[0])),
            "end": iso_utc(int(market.ts[-1] + market.step_ns)),
            "bars": market.bars,
        },
        "data_quality": market.quality.describe(),
        "data_fingerprint": market.quality.fingerprint,
        "allocation": session.config.allocation,
        "seed": session.config.seed,
        "pnl": totals,
        "net_return": totals["net"] / session.config.allocation,
        "sharpe_daily_annualised": trial.metrics["sharpe"],
        # the max_drawdown gate's number (stratops.analytics.returns.max_drawdown)
        "max_drawdown": trial.metrics["max_drawdown"],
        "orders": tables["orders"].num_rows,
        "fills": tables["fills"].num_rows,
        "risk_events": tables["events"].num_rows,
    }


def _render(summary: dict[str, Any], output: OutputFormat, title: str) -> None:
    table = new_table(title, "field", FreeText("value"), show_header=False)
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
        table.add_row(key, _fmt(value))
    emit(summary, output, lambda: stdout.print(table))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def backtest(
    strategy: str = typer.Option(
        None, "--strategy", help=f"Example strategy: {', '.join(sorted(STRATEGIES))}."
    ),
    model_uri: str = typer.Option(
        None, "--model-uri", help="Backtest a saved MLflow pyfunc model instead (path or URI)."
    ),
    param: list[str] = typer.Option(
        None, "--param", help="KEY=VALUE parameter of the example strategy; repeatable."
    ),
    sweep: bool = typer.Option(
        False, "--sweep", help="Backtest the strategy's parameter grid; keep the best in sample."
    ),
    grid: list[str] = typer.Option(
        None, "--grid", help="KEY=V1,V2,... axis of a custom sweep grid (implies --sweep)."
    ),
    data: str = DATA_OPTION,
    data_dir: Path = DATA_DIR_OPTION,
    bars: list[str] = BARS_OPTION,
    start: str = START_OPTION,
    end: str = END_OPTION,
    on_bad_data: RepairPolicy = BAD_DATA_OPTION,
    allocation: float = typer.Option(
        100_000.0, "--allocation", callback=amount, help="Capital, quote currency."
    ),
    seed: int = SEED_OPTION,
    max_fraction: float = MAX_FRACTION_OPTION,
    order_type: OrderType = typer.Option(
        OrderType.MARKET, "--order-type", help="market (taker) or limit (maker at the touch)."
    ),
    participation: float = typer.Option(
        0.05, "--participation", help="Largest fraction of a bar's volume filled in it."
    ),
    evidence_out: Path = typer.Option(
        None, "--evidence-out", help="Write the evidence bundle (registry format) here."
    ),
    model_out: Path = typer.Option(
        None, "--model-out", help="Save the (chosen) strategy as an MLflow pyfunc model here."
    ),
    telemetry: Path = typer.Option(
        None, "--telemetry", help="Write the run's telemetry (Parquet, docs/telemetry.md) here."
    ),
    code_commit: str = typer.Option(
        None, "--code-commit", help="Commit of the strategy code (default: git HEAD, if any)."
    ),
    log_to: str = typer.Option(
        None,
        "--log-to",
        help="Registry strategy (the name given to stratops register) whose MLflow experiment "
        "gets every configuration tried as a backtest run: params, metrics, daily returns.",
    ),
    experiment: str = typer.Option(
        None, "--experiment", help="MLflow experiment for --log-to (default: the strategy)."
    ),
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Backtest a strategy, or sweep its parameters, and write evidence for the registry.

    With --log-to, every configuration tried is logged as a run in the strategy's
    experiment, so that stratops register counts it. A registered --model-uri (models:/) is
    verified against its model digest before it is loaded. Exit 0 on success, 1 when that
    model's stored files changed, 2 on bad input, 3 when the registry is unreachable.

    Example: stratops backtest --strategy trend --sweep --log-to btc-trend --evidence-out ev/
    """
    try:
        request = BacktestRequest(
            strategy=strategy,
            model_uri=model_uri,
            parameters=_assignments(param, "--param") if param else {},
            sweep=sweep,
            grid=_assignments(grid, "--grid") if grid else {},
            data=data,
            data_dir=data_dir,
            bars=bars or [],
            start=start,
            end=end,
            on_bad_data=on_bad_data,
            evidence_out=evidence_out,
            model_out=model_out,
            telemetry=telemetry,
            code_commit=code_commit,
            output=output,
            tracking_uri=tracking_uri,
            desk=desk,
        )
        if log_to is None and experiment is not None:
            raise ConfigError("--experiment needs --log-to", "config.option")
        config = EngineConfig(
            allocation=allocation,
            seed=seed,
            max_fraction=max_fraction,
            execution=ExecutionConfig(order_type=order_type, participation=participation),
        )
        with registry_errors(output, tracking_uri, desk):
            summary, trials = _backtest(request, config)
    except PaperError as exc:
        fail(f"{exc} [{exc.code}]")
    if log_to is not None:
        with registry_errors(output, tracking_uri, desk):
            registry = open_registry(tracking_uri, desk)
            fingerprint = str(summary["data_fingerprint"])
            runs = [_log_trial(registry, log_to, experiment, t, fingerprint) for t in trials]
        summary["trial_runs"] = {"experiment": experiment or log_to, "runs": len(runs)}
    _render(summary, output, "backtest")


def _log_trial(
    registry: Registry, strategy: str, experiment: str | None, trial: Trial, fingerprint: str
) -> str:
    return registry.log_trial_run(
        strategy,
        name=trial.name,
        params=trial.configuration,
        metrics=trial.metrics,
        daily=trial.daily,
        tags={TAG_DATA_FINGERPRINT: fingerprint},
        experiment=experiment,
    )


@dataclass(frozen=True)
class BacktestRequest:
    """The options of ``stratops backtest`` other than the engine's configuration."""

    strategy: str | None
    model_uri: str | None
    parameters: dict[str, str]
    sweep: bool
    grid: dict[str, str]
    data: str | None
    data_dir: Path | None
    bars: list[str]
    start: str | None
    end: str | None
    on_bad_data: RepairPolicy
    evidence_out: Path | None
    model_out: Path | None
    telemetry: Path | None
    code_commit: str | None
    output: OutputFormat
    tracking_uri: str | None = None
    desk: Path | None = None


@dataclass(frozen=True)
class Chosen:
    """The strategy a backtest runs, and what the summary and evidence say about it."""

    strategy: Strategy
    name: str
    strategy_type: str
    parameters: dict[str, Parameter]
    trials: list[Trial] | None
    extra: dict[str, Any]


REGISTERED_MODEL_SCHEME = "models:/"
RUN_SCHEME = "runs:/"


@contextmanager
def verified_strategy(
    model_uri: str, tracking_uri: str | None, desk: Path | None
) -> Iterator[PyfuncStrategy]:
    """The strategy of ``model_uri``; a registered one (``models:/``) only once it verifies.

    Loading a model unpickles it (runs its code), so a ``models:/`` model is downloaded from
    the registry, checked against the version's model digest, and loaded from that verified
    copy, which lives as long as the context. Raises :class:`EvidenceMismatch` before loading
    when a stored model file changed. A ``runs:/`` URI is downloaded from the desk's registry
    (MLflow's global URIs are never touched); a path is loaded as given.
    """
    if model_uri.startswith(RUN_SCHEME):  # from the desk's registry, not ./mlruns
        import mlflow

        uri = locate(tracking_uri, desk).tracking_uri
        with tempfile.TemporaryDirectory(prefix="stratops-model-") as scratch:
            with translated(f"download {model_uri}"):
                downloaded = mlflow.artifacts.download_artifacts(
                    artifact_uri=model_uri, dst_path=scratch, tracking_uri=uri
                )
            yield PyfuncStrategy.load(model_uri, folder=Path(downloaded))
        return
    if not model_uri.startswith(REGISTERED_MODEL_SCHEME):
        yield PyfuncStrategy.load(model_uri)
        return
    registry = open_registry(tracking_uri, desk)
    name, version = registry.model_version_of(model_uri)
    with tempfile.TemporaryDirectory(prefix="stratops-model-") as scratch:
        folder = registry.download_model(name, version, Path(scratch) / "model")
        yield PyfuncStrategy.load(model_uri, folder=folder)


def _from_model(request: BacktestRequest, stack: ExitStack) -> tuple[Chosen, Market]:
    if request.parameters or request.sweep or request.grid or request.model_out:
        raise ConfigError(
            "--param, --sweep, --grid and --model-out need --strategy: a saved model's "
            "parameters are fixed",
            "config.option",
        )
    loaded = stack.enter_context(
        verified_strategy(str(request.model_uri), request.tracking_uri, request.desk)
    )
    market = _request_market(request, request.data, loaded.info.symbols)
    info = loaded.info
    chosen = Chosen(
        loaded, info.name, info.strategy_type, dict(info.parameters), None,
        {"strategy": info.name, "model_uri": request.model_uri, "parameters": info.parameters},
    )  # fmt: skip
    return chosen, market


def _from_example(
    request: BacktestRequest, config: EngineConfig
) -> tuple[Chosen, Market, BarStrategy]:
    spec = strategy_spec(str(request.strategy))
    overrides = {k: _parse_value(v) for k, v in request.parameters.items()}
    spec.build(overrides)
    market = _request_market(request, request.data or spec.dataset, spec.symbols)
    axes = {k: [_parse_value(v) for v in values.split(",")] for k, values in request.grid.items()}
    extra: dict[str, Any] = {}
    trials = None
    if request.sweep or axes:
        configurations = [{**overrides, **c} for c in spec.configurations(axes or None)]
        for configuration in configurations:
            spec.build(configuration)
        result = _sweep(market, spec, configurations, config, request.output)
        overrides = result.best_trial.configuration
        trials = result.trials
        extra["best_trial"] = result.best_trial.name
        extra["best_sharpe"] = result.best_trial.metrics["sharpe"]
    built = spec.build(overrides)
    parameters = dict(built.parameters)
    extra = {"strategy": built.name, "parameters": parameters, **extra}
    chosen = Chosen(built, built.name, built.strategy_type, parameters, trials, extra)
    return chosen, market, built


def _request_market(request: BacktestRequest, data: str | None, symbols: tuple[str, ...]) -> Market:
    return _market(
        data, request.data_dir, request.bars, symbols, request.start, request.end,
        request.on_bad_data,
    )  # fmt: skip


def _backtest(request: BacktestRequest, config: EngineConfig) -> tuple[dict[str, Any], list[Trial]]:
    if (request.strategy is None) == (request.model_uri is None):
        raise ConfigError("give exactly one of --strategy and --model-uri", "config.option")
    if request.model_out is not None and request.model_out.exists():
        raise ConfigError(f"--model-out {request.model_out} already exists", "config.model_out")
    started = time.perf_counter()
    built: BarStrategy | None = None
    with ExitStack() as stack:
        if request.model_uri is not None:
            chosen, market = _from_model(request, stack)
        else:
            chosen, market, built = _from_example(request, config)
        session = run_backtest(market, chosen.strategy, config)
    trial = trial_of(session, chosen.parameters)
    trials = chosen.trials or [trial]
    summary = _summary(session, trial, chosen.extra)
    summary["strategy_type"] = chosen.strategy_type
    summary["trials"] = len(trials)
    summary["elapsed_seconds"] = time.perf_counter() - started
    if request.evidence_out is not None:
        metadata = evidence_metadata(
            session,
            strategy_type=chosen.strategy_type,
            parameters=chosen.parameters,
            trials=len(trials),
            code_commit=request.code_commit or _git_commit(),
        )
        write_evidence(request.evidence_out, session, metadata, trials_frame(trials))
        summary["evidence"] = str(request.evidence_out)
    if request.model_out is not None and built is not None:
        save_strategy(built, request.model_out, market.bars_frame(min(market.bars, 10)))
        summary["model"] = str(request.model_out)
    if request.telemetry is not None:
        uri = request.model_uri or f"example:{request.strategy}"
        write_telemetry(
            request.telemetry,
            session.tables(),
            run_document(
                session, RunIdentity(uri, {"name": chosen.name}), "backtest",
                RunStatus.COMPLETED, None,
            ),
        )  # fmt: skip
        summary["telemetry"] = str(request.telemetry)
    return summary, trials


def _sweep(
    market: Market,
    spec: StrategySpec,
    configurations: list[dict[str, Parameter]],
    config: EngineConfig,
    output: OutputFormat,
) -> SweepResult:
    columns = (
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=is_data(output)) as progress:
        task = progress.add_task("sweep", total=len(configurations))
        return run_sweep(
            market,
            spec,
            configurations,
            config,
            progress=lambda done, total: progress.update(task, completed=done),
        )


def _execution(text: str | None) -> ExecutionSettings | None:
    if text is None:
        return None
    try:
        return execution_settings(text)
    except ValueError as exc:
        raise ConfigError(f"--execution {text!r}: {exc}", "config.execution") from exc


def _publisher(uri: str | None, endpoint: str | None, telemetry: Path) -> Publisher | None:
    """The publisher of ``--publish``, ``telemetry`` restored from it when empty."""
    if uri is None:
        return None
    try:
        publisher = Publisher.to(uri, endpoint, telemetry)
        restored = publisher.restore()
    except ValueError as exc:
        fail(f"--publish: {exc}")
    except TelemetryStoreUnavailable as exc:
        fail(f"--publish: cannot restore {telemetry} from {uri}: {exc}", EXIT_RETRY)
    if restored:
        stderr.print(f"paper: restored {restored} file(s) from {uri}", highlight=False)
    return publisher


@paper_app.command("run")
def paper_run(
    model_uri: str = typer.Option(..., "--model-uri", help="MLflow pyfunc strategy (path or URI)."),
    allocation: float = typer.Option(
        ..., "--allocation", callback=amount, help="Capital, quote currency."
    ),
    telemetry: Path = typer.Option(..., "--telemetry", help="Folder for this run's telemetry."),
    speed: float = typer.Option(
        "3600",
        "--speed",
        parser=replay_speed,
        metavar="SPEED",
        help="Market seconds per wall-clock second: 1 (real time), 3600 (an hour of bars a "
        "second), or max (as fast as possible).",
    ),
    control: Path | None = typer.Option(
        None,
        "--control",
        help="Control file read at every wake-up (halt commands); default TELEMETRY/control.json.",
    ),
    data: str = DATA_OPTION,
    data_dir: Path = DATA_DIR_OPTION,
    bars: list[str] = BARS_OPTION,
    start: str = START_OPTION,
    end: str = END_OPTION,
    on_bad_data: RepairPolicy = BAD_DATA_OPTION,
    seed: int = SEED_OPTION,
    max_fraction: float = MAX_FRACTION_OPTION,
    poll_seconds: float = typer.Option(
        1.0, "--poll-seconds", help="Least wall-clock time between two wake-ups."
    ),
    flush_seconds: float = typer.Option(
        5.0, "--flush-seconds", help="Wall-clock time between two telemetry writes."
    ),
    wake_seconds: float = typer.Option(
        1.0, "--wake-seconds", help="Most wall-clock time between two reads of the control file."
    ),
    execution: str | None = typer.Option(
        None,
        "--execution",
        help="JSON of the version's execution parameters (camelCase, docs/paper.md), e.g. "
        '{"takerFeeBps": 10}; the runtimes pass what the version was registered with.',
    ),
    publish: str | None = typer.Option(
        None,
        "--publish",
        help="s3://bucket/prefix to publish the run folder to after each flush (a Kubernetes "
        "pod); an empty --telemetry folder is first restored from it.",
    ),
    publish_endpoint: str | None = typer.Option(
        None,
        "--publish-endpoint",
        envvar="STRATOPS_TELEMETRY_ENDPOINT",
        help="Endpoint URL of the S3-compatible store of --publish (default: AWS S3).",
    ),
    tracking_uri: str = TRACKING_URI_OPTION,
    desk: Path | None = DESK_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run a strategy model as a paper deployment on replayed data, until SIGTERM.

    Only the bars that closed since the last wake-up are simulated; every --flush-seconds the
    new rows are appended to the telemetry as one more part (never rewriting older ones) and a
    checkpoint is written, so the same command on the same --telemetry folder resumes where
    it stopped. When the data is exhausted the process stays up, idle (run.json status:
    caught_up). A halt command in the control file (docs/paper.md) flattens, reduces or holds
    the position. SIGTERM stops after the current chunk, flushes and exits 0 (status: stopped).

    A registered model (models:/NAME/VERSION or models:/NAME@ALIAS) is verified against its
    version's model digest before it is loaded: exit 1 and nothing loaded if a file changed.

    Example: stratops paper run --model-uri model/ --allocation 50000 --telemetry runs/1
    """
    publisher = _publisher(publish, publish_endpoint, telemetry)  # before a model is loaded
    try:
        with (
            registry_errors(output, tracking_uri, desk),
            verified_strategy(model_uri, tracking_uri, desk) as strategy,
        ):
            market = _market(data, data_dir, bars, strategy.info.symbols, start, end, on_bad_data)
            config = EngineConfig(
                allocation=allocation,
                seed=seed,
                max_fraction=max_fraction,
                execution=ExecutionConfig().with_settings(_execution(execution)),
            )
            pacing = Pacing(
                speed=speed,
                poll_seconds=poll_seconds,
                flush_seconds=flush_seconds,
                wake_seconds=wake_seconds,
            )
            stderr.print(
                f"paper: {strategy.info.name} on {market.name} ({market.bars} bars, "
                f"{format_step(market.step_ns)}) at {speed:g}x → {telemetry}",
                highlight=False,
            )
            outcome = run_paper_process(
                strategy=strategy,
                identity=RunIdentity(model_uri, {"name": strategy.info.name}),
                market=market,
                config=config,
                telemetry=telemetry,
                pacing=pacing,
                control=control,
                on_flush=None if publisher is None else publisher.after_flush,
            )
    except PaperError as exc:
        fail(f"{exc} [{exc.code}]")
    _render(
        {
            "status": outcome.status.value,
            "bars_done": outcome.bars_done,
            "bars_total": outcome.bars_total,
            "telemetry": str(outcome.telemetry),
        },
        output,
        "paper run",
    )
