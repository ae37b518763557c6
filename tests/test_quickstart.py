"""The README's quick start, typed as a person would: the block between the quickstart markers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.runtime.local import LocalRuntime

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- quickstart -->\n```sh\n(.*?)```\n<!-- /quickstart -->", re.DOTALL)


def quickstart() -> str:
    found = BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README.md has no quick-start block between <!-- quickstart --> markers"
    return found.group(1)


def test_the_block_covers_the_whole_path() -> None:
    script = quickstart()
    for step in (
        "stratops init",
        "stratops backtest",
        "stratops register",
        "--to paper",
        "stratops pr approve",
        "stratops pr merge",
        "stratops controller run --once",
        "--to canary",
        "stratops audit verify",
    ):
        assert step in script


@pytest.mark.slow
def test_readme_quick_start_runs_literally(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", quickstart()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    runtime = LocalRuntime(tmp_path / "my-desk" / ".stratops" / "runtime")
    try:
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        running = {(s.spec.strategy, s.spec.stage): s for s in runtime.list()}
        assert set(running) == {("btc-trend", Stage.PAPER), ("btc-trend", Stage.CANARY)}
        canary = running["btc-trend", Stage.CANARY]
        assert canary.state is DeploymentState.RUNNING
        assert (canary.spec.version, canary.spec.allocation) == (1, 10_000)
        assert "btc-trend/canary v1 @ 10,000 running" in done.stdout
        assert "audit log intact" in done.stdout
        assert "runs no gate" in done.stdout  # the paper promotion says it checks nothing
    finally:
        for status in runtime.list():
            runtime.remove(status.spec.strategy, status.spec.stage, actor="test", reason="done")
