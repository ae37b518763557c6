"""An installed wheel, not the source checkout, runs ``init`` and ``demo`` from an empty folder.

The wheel is built offline (``pip wheel --no-build-isolation`` with the environment's
setuptools and wheel), installed without dependencies into a folder of its own, and put first
on ``PYTHONPATH`` so it shadows the editable install; dependencies come from the environment.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("wheel") is None,
        reason="building offline needs the 'wheel' package (pip install '.[dev]')",
    ),
]


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


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
    env = {k: v for k, v in os.environ.items() if k not in ("STRATOPS_DATA_DIR",)}
    env["PYTHONPATH"] = str(site)
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
    _run(
        [sys.executable, "-m", "stratops", "demo", "--workdir", str(tmp_path / "demo")], empty, env
    )
    assert (tmp_path / "demo" / "desk" / "manifests").is_dir()
