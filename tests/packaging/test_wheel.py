"""An installed wheel, not the source checkout, runs ``init`` and ``demo`` from an empty folder.

This is also the test of ``stratops demo`` (the story ``make demo`` tells): it runs once, here.

The wheel is built offline (``pip wheel --no-build-isolation`` with the environment's
setuptools and wheel), installed without dependencies into a folder of its own, and put first
on ``PYTHONPATH`` so it shadows the editable install; dependencies come from the environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stratops.runtime.local import process_table

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # building offline needs setuptools and wheel: the dev extras

DEMO_STEPS = (
    "valid: 24 documents",
    "### Gates: btc-overfit v1 → canary: ❌ FAIL",
    "the gates fail: nothing was pushed and no pull request opened",
    "### Gates: btc-trend v1 → canary: ✅ PASS",
    "opened pull request #1",
    "merged #1",
    "btc-trend/canary v1 @ 10,000 running",
    "alert: slippage-high",
    "regime: thin",
    "Runbook `execution-quality` (context: thin)",
    "Execution registered with the version: `takerFeeBps` 10.0",  # its gate report says so
    "opened pull request #2 (promote/btc-trend-costly/v1-canary)",
    "merged #2",
    "passed → promote",  # canary status: btc-trend's analysis on its replay clock
    "failed → rollback",  # and btc-trend-costly's, by the same template
    "### Gates: btc-trend v1 → live: ✅ PASS",
    "opened pull request #4 (promote/btc-trend/v1-live)",
    "merged #4",
    "btc-trend/live v1 @ 100,000 running",
    # the audit log tells both stories: passed, then live through #4; failed, halted, rolled
    # back by #3, which the controller merged
    "analysis_passed",
    "analysis_failed",
    "PR #3 reverts",
    "rollback_merged",
)
# deploys and aliases of the papers, the canaries and live, the analyses, the halt, the
# rollback PR and each applied commit
AUDIT_VERIFIED = re.compile(r"audit log intact: (\d+) event\(s\), chain verified")


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scratch = tmp_path_factory.mktemp("wheel")
    wheels, site = scratch / "wheels", scratch / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        scratch,
        dict(os.environ),
    )
    (wheel,) = wheels.glob("stratops-*.whl")
    _run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], scratch, {**os.environ})
    return site


def _env(site: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("STRATOPS_DATA_DIR", "MLFLOW_TRACKING_URI", "STRATOPS_DESK")
    }
    env["PYTHONPATH"] = str(site)
    env["COLUMNS"] = "120"
    return env


def test_the_wheel_carries_the_example_desk_and_the_market_data(installed: Path) -> None:
    data = installed / "stratops" / "data"
    assert (data / "example-desk" / "strategies" / "btc-trend.yaml").is_file()
    assert (data / "market" / "binance-spot-1h" / "BTC_USDT-1h.feather").is_file()


def test_init_and_demo_run_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "cwd"
    empty.mkdir()
    env = _env(installed)
    where = _run([sys.executable, "-c", "import stratops; print(stratops.__file__)"], empty, env)
    assert Path(where.strip()).is_relative_to(installed)
    assert not Path(where.strip()).is_relative_to(REPO)
    _run([sys.executable, "-m", "stratops", "init", str(tmp_path / "desk")], empty, env)
    assert (tmp_path / "desk" / "manifests" / "strategies" / "btc-trend.yaml").is_file()
    workdir = tmp_path / "demo"
    output = _run([sys.executable, "-m", "stratops", "demo", "--workdir", str(workdir)], empty, env)
    for step in DEMO_STEPS:
        assert step in output, step
    verified = AUDIT_VERIFIED.search(output)
    assert verified is not None and int(verified.group(1)) >= 20, output[-2000:]
    assert (workdir / "desk" / "manifests").is_dir()
    assert not [pid for pid, cmd in process_table() if str(workdir) in cmd], "demo left processes"
