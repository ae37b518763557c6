"""MLflow's own log lines and warnings stay out of the terminal unless ``stratops -v``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from stratops.cli.verbosity import MLFLOW_LEVEL_ENV, VERBOSE_ENV, set_verbosity
from stratops.examples import example_manifests
from stratops.gitops.scaffold import init_desk

MLFLOW_NOISE = re.compile(r"\b(INFO|WARNING)\b|mlflow\.|alembic")


def _stratops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a fresh interpreter (MLflow configures its logging on import)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "STRATOPS_"))}
    return subprocess.run(
        [sys.executable, "-m", "stratops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_fresh_registry_says_nothing_of_mlflow(tmp_path: Path) -> None:
    desk = init_desk(tmp_path / "desk", example_manifests())  # as `stratops init` makes it
    # the promotion's gate evaluator creates the desk's embedded MLflow store
    result = _stratops("promote", "btc-trend", "1", "--to", "paper", "--reason", "x", cwd=desk.root)
    assert result.returncode == 2, result.stderr
    assert "the registry has no version 1 of 'btc-trend'" in result.stderr
    assert (desk.root / ".stratops" / "mlflow.db").is_file()
    assert not MLFLOW_NOISE.search(result.stderr), result.stderr


def test_verbose_shows_what_mlflow_logs(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = _stratops("-v", "versions", "btc-trend", "--tracking-uri", uri, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "INFO mlflow.store.db.utils: Creating initial MLflow database tables" in result.stderr


def test_quiet_drops_mlflow_python_warnings_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MLFLOW_LEVEL_ENV, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        set_verbosity(False)
        warnings.warn_explicit("file store", FutureWarning, "store.py", 1, module="mlflow.store")
        warnings.warn_explicit("migration", UserWarning, "env.py", 1, module="alembic")
        warnings.warn_explicit("ours", UserWarning, "gates.py", 1, module="stratops.gates")
    assert [str(warning.message) for warning in caught] == ["ours"]
    assert os.environ[MLFLOW_LEVEL_ENV] == "ERROR"


def test_verbose_leaves_mlflow_alone_and_is_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MLFLOW_LEVEL_ENV, raising=False)
    monkeypatch.delenv(VERBOSE_ENV, raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        set_verbosity(True)
        warnings.warn_explicit("file store", FutureWarning, "store.py", 1, module="mlflow.store")
    assert [str(warning.message) for warning in caught] == ["file store"]
    assert MLFLOW_LEVEL_ENV not in os.environ
    assert os.environ[VERBOSE_ENV] == "1"  # subprocesses (paper runs, demo steps) too


def test_a_level_the_user_chose_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MLFLOW_LEVEL_ENV, "DEBUG")
    with warnings.catch_warnings():
        set_verbosity(False)
    assert os.environ[MLFLOW_LEVEL_ENV] == "DEBUG"
