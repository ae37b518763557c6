"""``stratops backtest`` and ``stratops paper run`` through typer's CliRunner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from stratops.cli import paper
from stratops.model.evidence import (
    EVIDENCE_FILES,
    PARQUET_COLUMNS,
    DataQuality,
    EvidenceMetadata,
)
from stratops.paper.control import read_status
from stratops.paper.datasets import DEFAULT_DATA_DIR
from stratops.telemetry import reader

WINDOW = ["--start", "2024-07-28", "--end", "2024-07-31"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    application = typer.Typer(pretty_exceptions_show_locals=False)
    paper.register(application)
    return application


def invoke(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


DTYPES = {
    "timestamp": lambda t: str(t) == "timestamp[ns, tz=UTC]",
    "float": lambda t: str(t) == "double",
    "string": lambda t: str(t) in ("string", "large_string"),
}


def check_bundle(folder: Path) -> EvidenceMetadata:
    assert sorted(p.name for p in folder.iterdir()) == sorted(EVIDENCE_FILES.values())
    metadata = EvidenceMetadata.model_validate(json.loads((folder / "metadata.json").read_text()))
    DataQuality.model_validate(json.loads((folder / "data_quality.json").read_text()))
    for kind, columns in PARQUET_COLUMNS.items():
        schema = pq.read_schema(folder / EVIDENCE_FILES[kind])
        for column in columns:
            if column.required or column.name in schema.names:
                assert DTYPES[column.dtype](schema.field(column.name).type), (kind, column.name)
    returns = pq.read_table(folder / "returns.parquet").to_pandas()
    assert returns["timestamp"].is_monotonic_increasing and returns["timestamp"].is_unique
    trials = pq.read_table(folder / "trials.parquet")
    assert trials.num_columns - 1 == metadata.trials
    assert metadata.allocation is not None
    return metadata


def test_backtest_writes_evidence_model_and_telemetry(app: typer.Typer, tmp_path: Path) -> None:
    code, out, _ = invoke(
        app, "backtest", "--strategy", "trend", "--data", "binance-1m", *WINDOW,
        "--param", "fast=10", "--param", "slow=60", "--param", "allow_short=true",
        "--evidence-out", str(tmp_path / "evidence"), "--model-out", str(tmp_path / "model"),
        "--telemetry", str(tmp_path / "telemetry"), "--output", "json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["parameters"]["fast"] == 10 and summary["trials"] == 1
    assert summary["market"]["bars"] == 3 * 1440
    metadata = check_bundle(tmp_path / "evidence")
    assert metadata.periods_per_year == 525_600
    assert metadata.strategy_type == "trend" and metadata.symbols == ["BTC/USDT"]
    run = json.loads((tmp_path / "telemetry" / "run.json").read_text())
    assert run["mode"] == "backtest" and run["status"] == "completed"
    code, again, _ = invoke(
        app, "backtest", "--model-uri", str(tmp_path / "model"), "--data", "binance-1m", *WINDOW,
        "--output", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(again)["pnl"] == summary["pnl"]  # the saved model trades the same


def test_sweep_writes_every_trial(app: typer.Typer, tmp_path: Path) -> None:
    code, out, _ = invoke(
        app, "backtest", "--strategy", "overfit", *WINDOW,
        "--grid", "fast=5,10", "--grid", "slow=60,120", "--grid", "start_hour=0,12",
        "--evidence-out", str(tmp_path / "evidence"), "--output", "json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    assert summary["trials"] == 8
    metadata = check_bundle(tmp_path / "evidence")
    assert metadata.trials == 8
    trials = pd.read_parquet(tmp_path / "evidence" / "trials.parquet")
    assert summary["best_trial"] in trials.columns
    best = trials[summary["best_trial"]]
    assert best.mean() / best.std() == pytest.approx(
        trials.drop(columns="timestamp").apply(lambda c: c.mean() / c.std()).max()
    )


def test_table_output_for_people(app: typer.Typer) -> None:
    code, out, _ = invoke(app, "backtest", "--strategy", "meanrev", *WINDOW)
    assert code == 0
    assert "eth-btc-meanrev" in out and "net_return" in out


def _corrupt_bars(tmp_path: Path) -> Path:
    frame = pd.read_feather(DEFAULT_DATA_DIR / "binance-spot-1m" / "BTC_USDT-1m.feather")
    frame = frame.iloc[:3000]
    frame = pd.concat([frame, frame.iloc[[5, 6]]]).drop(index=[100, 101])
    frame.loc[frame.index[50], "close"] = np.nan
    path = tmp_path / "btc.feather"
    frame.reset_index(drop=True).to_feather(path)
    return path


def test_bad_data_is_repaired_by_default_and_refused_on_request(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = _corrupt_bars(tmp_path)
    code, out, _ = invoke(
        app, "backtest", "--strategy", "trend", "--bars", f"BTC/USDT={path}",
        "--param", "fast=10", "--param", "slow=60", "-o", "json",
    )  # fmt: skip
    assert code == 0
    assert "2 duplicates" in json.loads(out)["data_quality"]
    code, out, err = invoke(
        app, "backtest", "--strategy", "trend", "--bars", f"BTC/USDT={path}",
        "--on-bad-data", "reject", "-o", "json",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "rejected" in err and "duplicates" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "nope"], "unknown strategy"),
        (["--strategy", "trend", "--data", "nope"], "unknown dataset"),
        (["--strategy", "trend", "--param", "nope=1"], "no parameter nope"),
        (["--strategy", "trend", "--param", "fast"], "expected KEY=VALUE"),
        ([], "exactly one of --strategy and --model-uri"),
        (["--model-uri", "/nonexistent/model"], "cannot load the strategy model"),
        (["--strategy", "trend", "--start", "2030-01-01"], "the range holds 0 bar"),
        (["--strategy", "trend", "--start", "yesterday-ish"], "not an ISO 8601 time"),
        (["--strategy", "trend", "--allocation", "-5"], "expected a finite amount above 0, got -5"),
        (["--strategy", "trend", "--participation", "2"], "participation must be in"),
        (["--strategy", "trend", "--bars", "BTC/USDT=/no/such.feather"], "no such file"),
        (["--strategy", "trend", "--experiment", "research"], "--experiment needs --log-to"),
        (
            ["--strategy", "meanrev", "--data", "binance-1h"],
            "trades ETH/USDT, which binance-1h lacks",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(app: typer.Typer, args: list[str], message: str) -> None:
    code, out, err = invoke(app, "backtest", *args)
    assert code == 2, (out, err)
    assert message in err
    assert "Traceback" not in err + out


def test_paper_run_catches_up_idles_and_stops_on_sigterm(
    tmp_path: Path, meanrev_model: Path
) -> None:
    script = (
        "import typer\n"
        "from stratops.cli import paper\n"
        "app = typer.Typer()\n"
        "paper.register(app)\n"
        "@app.callback()\n"
        "def root() -> None: ...\n"
        "app()\n"
    )
    command = [
        sys.executable, "-c", script, "paper", "run", "--model-uri", str(meanrev_model),
        "--allocation", "100000", "--telemetry", str(tmp_path / "run"), "--start", "2024-08-05",
        "--end", "2024-08-06", "--speed", "max", "--wake-seconds", "0.05", "--output", "json",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while (status := read_status(tmp_path / "run")) is None or status.status != "caught_up":
            assert process.poll() is None and time.monotonic() < deadline, "not caught up"
            time.sleep(0.05)
        assert process.poll() is None  # caught up, still running
        os.kill(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert json.loads(stdout) == {
        "status": "stopped",
        "bars_done": 1440,
        "bars_total": 1440,
        "telemetry": str(tmp_path / "run"),
    }
    fills = reader.read(tmp_path / "run", "fills").to_pandas()
    assert set(fills["symbol"]) == {"ETH/USDT", "BTC/USDT"}


def test_paper_run_refuses_a_missing_model(app: typer.Typer, tmp_path: Path) -> None:
    code, _, err = invoke(
        app, "paper", "run", "--model-uri", str(tmp_path / "none"), "--allocation", "1",
        "--telemetry", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and "cannot load" in err


def test_sweep_evidence_follows_the_gates_returns_convention(
    app: typer.Typer, tmp_path: Path
) -> None:
    from stratops.gates.checks.inputs import GateInputs
    from stratops.gates.checks.risk import max_drawdown
    from stratops.gates.context import GateContext
    from stratops.model.base import Stage
    from stratops.model.policy import MaxFractionCheck
    from stratops.registry.arrays import load_evidence_arrays
    from stratops.registry.bundle import scan_bundle

    code, out, _ = invoke(
        app, "backtest", "--strategy", "trend", "--data", "binance-1m", *WINDOW,
        "--grid", "fast=10,20", "--param", "slow=60", "--param", "allow_short=true",
        "--evidence-out", str(tmp_path / "evidence"), "--output", "json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    evidence = load_evidence_arrays(scan_bundle(tmp_path / "evidence"))
    context = GateContext.model_construct(target_stage=Stage.CANARY)
    inputs = GateInputs(evidence=evidence, context=context, policy=None)  # type: ignore[arg-type]

    trials = pq.read_table(tmp_path / "evidence" / "trials.parquet")
    candidate = trials.column(summary["best_trial"]).to_numpy()
    assert candidate.tobytes() == inputs.daily.tobytes()  # the same series, to the last bit
    assert inputs.daily.size == 3 and np.count_nonzero(inputs.daily) == 3

    gate = max_drawdown(inputs, MaxFractionCheck(max=1.0))
    assert summary["max_drawdown"] > 0
    assert gate.value == summary["max_drawdown"]  # the same number, to the last bit


def test_sweep_logs_every_trial_and_register_counts_them(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    from stratops.model.base import StrategyType
    from stratops.registry import BadInput, Registry, RegistryLocation

    monkeypatch.chdir(tmp_path)  # MLflow's default artifact folder (./mlruns) lands here
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = (
        "backtest", "--strategy", "trend", "--data", "binance-1m", *WINDOW,
        "--param", "slow=60", "--log-to", "btc-trend", "--tracking-uri", uri, "--output", "json",
    )  # fmt: skip
    code, out, err = invoke(
        app, *sweep, "--grid", "fast=10,20",
        "--evidence-out", str(tmp_path / "evidence"), "--model-out", str(tmp_path / "model"),
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["trial_runs"] == {"experiment": "btc-trend", "runs": 2}

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("btc-trend")
    assert experiment is not None
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    trials = pq.read_table(tmp_path / "evidence" / "trials.parquet")
    assert sorted(runs) == sorted(trials.column_names[1:])
    best = runs[summary["best_trial"]]
    assert best.data.params["fast"] in ("10", "20") and best.data.params["slow"] == "60"
    assert set(best.data.metrics) == {"sharpe", "net_return", "max_drawdown", "turnover", "trades"}
    assert best.data.metrics["max_drawdown"] == summary["max_drawdown"]
    assert best.data.tags["stratops.data_fingerprint"] == summary["data_fingerprint"]
    stored = client.download_artifacts(best.info.run_id, "trial", str(tmp_path / "download"))
    daily = pq.read_table(Path(stored) / "daily_returns.parquet")
    assert daily.column("net").equals(trials.column(summary["best_trial"]))

    registry = Registry(RegistryLocation(tracking_uri=uri))
    version = registry.register(
        "btc-trend", strategy_type=StrategyType.TREND, evidence=tmp_path / "evidence",
        model_path=tmp_path / "model",
    ).version  # fmt: skip
    assert version.trials_in_experiment == 2
    assert set(version.trial_runs) == {r.info.run_id for r in runs.values()}

    code, _, err = invoke(
        app, *sweep, "--grid", "fast=30,40", "--evidence-out", str(tmp_path / "again"),
        "--model-out", str(tmp_path / "model-again"),
    )  # fmt: skip
    assert code == 0, err
    assert registry.count_trials("btc-trend") == 4
    with pytest.raises(BadInput, match="declares trials: 2 but experiment 'btc-trend' holds 4"):
        registry.register(
            "btc-trend", strategy_type=StrategyType.TREND, evidence=tmp_path / "again",
            model_path=tmp_path / "model-again",
        )  # fmt: skip


def test_paper_run_refuses_a_publish_target_that_is_not_a_bucket(
    app: typer.Typer, tmp_path: Path
) -> None:
    code, _, err = invoke(
        app, "paper", "run", "--model-uri", str(tmp_path / "none"), "--allocation", "1",
        "--telemetry", str(tmp_path / "run"), "--publish", "desk-telemetry/strategies",
    )  # fmt: skip
    assert (
        code == 2 and "--publish: 'desk-telemetry/strategies': expected s3://bucket/prefix" in err
    )


def test_paper_run_waits_for_a_store_it_cannot_restore_from(
    app: typer.Typer, tmp_path: Path
) -> None:
    code, _, err = invoke(
        app, "paper", "run", "--model-uri", str(tmp_path / "none"), "--allocation", "1",
        "--telemetry", str(tmp_path / "run"), "--publish", "s3://desk-telemetry/x",
        "--publish-endpoint", "http://127.0.0.1:9",
    )  # fmt: skip
    assert code == 3  # retry: the pod restarts until its store answers
    assert "cannot restore" in err and "http://127.0.0.1:9" in err
    assert not (tmp_path / "run").exists()
