"""The README's quick start, typed as a person would: the block between the quickstart markers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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


def judged_canary(desk: Path, env: dict[str, str]) -> dict[str, Any]:
    """The canary's analysis after the next controller ticks (`stratops canary status -o json`),
    once its process has written a bar (the tick judges nothing before)."""
    for _ in range(10):
        tick = subprocess.run(
            ["stratops", "controller", "run", "--once"],
            cwd=desk, env=env, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert tick.returncode == 0, tick.stdout[-3000:] + tick.stderr[-3000:]
        status = subprocess.run(
            ["stratops", "canary", "status", "-o", "json"],
            cwd=desk, env=env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        runs: list[dict[str, Any]] = json.loads(status.stdout)
        if runs:
            assert len(runs) == 1
            return runs[0]
        time.sleep(2)
    raise AssertionError("the canary wrote no bar in 10 controller ticks")


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
        run = judged_canary(tmp_path / "my-desk", env)
        # trend-canary is sized for an hourly trend follower: four-week windows, nothing it
        # measures needs a finer bar, so the canary is running, not in error (nor held)
        assert (run["strategy"], run["version"], run["phase"]) == ("btc-trend", 1, "running")
        assert run["action"] == "continue"
        assert run["reason"].startswith("running: ")
        assert "of minDuration 30d analysed; slippage_bps has 0 of minPassed 3" in run["reason"]
    finally:
        for status in runtime.list():
            runtime.remove(status.spec.strategy, status.spec.stage, actor="test", reason="done")
