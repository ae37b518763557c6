"""The demo runs each command in its own process as ``stratops`` would: folder, environment,
exit code and output, and the signal handlers a command installs are put back."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

from typer.testing import CliRunner

from stratops.demo.story import invoke, signals_kept
from stratops.examples import DATA_DIR_ENV


def test_a_command_runs_in_its_folder_with_its_environment(
    example_manifests: Path, tmp_path: Path
) -> None:
    shutil.copytree(example_manifests, tmp_path / "manifests")
    here, data_dir = Path.cwd(), os.environ.get(DATA_DIR_ENV)
    done = invoke(CliRunner(), ["validate", "manifests"], tmp_path, {})  # relative to tmp_path
    assert done.code == 0, done.output
    assert "valid" in done.output
    missing = tmp_path / "no-market-data"
    args = ["backtest", "--strategy", "trend", "--data", "binance-1h"]
    done = invoke(CliRunner(), args, tmp_path, {DATA_DIR_ENV: str(missing)})
    assert done.code == 2 and str(missing) in done.output, done.output
    assert Path.cwd() == here and os.environ.get(DATA_DIR_ENV) == data_dir  # both put back


def test_a_refused_command_keeps_its_exit_code_and_message(tmp_path: Path) -> None:
    done = invoke(CliRunner(), ["validate", "no-such-folder"], tmp_path, {})
    assert done.code == 2
    assert "no-such-folder" in done.output


def test_signal_handlers_a_command_installs_are_put_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals_kept():
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
    assert signal.getsignal(signal.SIGTERM) is before
