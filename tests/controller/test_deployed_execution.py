"""A version registered with execution parameters: the controller starts its paper process
with them, read and verified from the registry."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from desks import Desk, stop_deployments

from stratops.gitops.forge.local import LocalForge
from stratops.gitops.forge.select import ForgeKind, open_forge
from stratops.gitops.git import GitRepo
from stratops.gitops.scaffold import init_desk
from stratops.model.base import Stage, StrategyType
from stratops.model.execution import ExecutionSettings, VersionConfig
from stratops.registry import Registry
from stratops.registry.location import resolve_location
from stratops.registry.synthetic import write_synthetic_bundle

COSTLY = ExecutionSettings(taker_fee_bps=10.0, impact_coefficient=3.0)
DESK_MANIFESTS = Path(__file__).parent / "desk"


@pytest.fixture
def costly_desk(tmp_path: Path, trend_model: Path) -> Iterator[Desk]:
    """A desk whose btc-trend v1 replays two days of binance-1m at costlier execution."""
    evidence = write_synthetic_bundle(
        tmp_path / "evidence",
        strategy_type=StrategyType.TREND,
        start=datetime(2024, 8, 5, tzinfo=UTC),
        return_rows=2 * 1440,
    )
    metadata = json.loads((evidence / "metadata.json").read_text())
    (evidence / "metadata.json").write_text(json.dumps({**metadata, "dataset": "binance-1m"}))
    folder = tmp_path / "desk"
    scaffold = init_desk(folder, DESK_MANIFESTS)
    registry = Registry(resolve_location(None, environ={}, desk=lambda: folder))
    registry.register(
        "btc-trend",
        strategy_type=StrategyType.TREND,
        evidence=evidence,
        model_path=trend_model,
        config=VersionConfig(execution=COSTLY),
    )
    repo = GitRepo(scaffold.root)
    forge = open_forge(repo, ForgeKind.LOCAL, {})
    assert isinstance(forge, LocalForge)
    desk = Desk(scaffold.root, repo, forge, registry)
    yield desk
    stop_deployments(desk)


def test_the_paper_process_runs_with_its_version_s_execution(costly_desk: Desk) -> None:
    costly_desk.reconciler(speed=float("inf")).tick()
    [status] = costly_desk.runtime().list()
    assert (status.spec.strategy, status.spec.stage) == ("btc-trend", Stage.PAPER)
    assert status.spec.replay is not None and status.spec.replay.execution == COSTLY
    run_file = costly_desk.runtime().folder("btc-trend", Stage.PAPER) / "v1" / "telemetry"
    deadline = time.monotonic() + 60
    while not (run_file / "run.json").is_file():
        assert time.monotonic() < deadline, "the paper process wrote no run.json"
        time.sleep(0.1)
    config = json.loads((run_file / "run.json").read_text())["config"]["execution"]
    assert (config["taker_fee_bps"], config["impact_coefficient"]) == (10.0, 3.0)
