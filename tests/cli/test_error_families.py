"""Every command handles every error family of the product: one line, the README's exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _stratops(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "stratops", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("errors") / "desk"
    code, out = _stratops(root.parent, "init", str(root))
    assert code == 0, out
    return root


PROMOTE = ("promote", "btc-trend", "1", "--to", "paper", "--reason", "why")
CHECK = ("gates", "check", "--base", "origin/main", "--head", "HEAD")


@pytest.mark.parametrize("args", [PROMOTE, CHECK, ("versions", "btc-trend")], ids=" ".join)
def test_a_corrupt_registry_database_is_bad_input_not_a_traceback(
    desk: Path, args: tuple[str, ...]
) -> None:
    database = desk / ".stratops" / "mlflow.db"
    saved = database.read_bytes() if database.exists() else None
    database.write_bytes(b"not a database")
    try:
        code, out = _stratops(desk, *args)
    finally:
        if saved is None:
            database.unlink()
        else:
            database.write_bytes(saved)
    assert code == 2, out
    assert "Traceback" not in out
    [error] = [line for line in out.splitlines() if line.startswith("error:")]
    assert "the registry database is unusable: file is not a database [registry.database]" in error


@pytest.mark.parametrize("args", [PROMOTE, ("evidence", "verify", "btc-trend", "1")], ids=" ".join)
def test_an_unreachable_registry_means_retry(desk: Path, args: tuple[str, ...]) -> None:
    code, out = _stratops(
        desk,
        *args,
        env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"},
    )
    assert "Traceback" not in out
    assert code == 3, out
    assert "[registry.unavailable]" in out or "[registry.unreachable]" in out
