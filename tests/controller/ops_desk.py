"""A desk for the operations tests: the controller test desk with a ReconciliationPolicy (it
halts on ``external_activity``, statements under ``venue-exports/``), a ``reconciliation``
gate on canary, and one version whose evidence replays six hours of binance-1m, so its paper
process catches up in seconds; and what the tests do to a venue statement (the paper venue's
own, or one the desk's exchange adapter exported)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from desks import DESK_MANIFESTS, Desk, copy_desk, make_desk, stop_deployments

from stratops.model.base import Stage, StrategyType
from stratops.paper.control import read_status
from stratops.registry.location import resolve_location
from stratops.registry.synthetic import write_synthetic_bundle
from stratops.telemetry import reader

REPLAY_START = datetime(2024, 7, 27, tzinfo=UTC)  # inside binance-1m (see stratops/data)
REPLAY_MINUTES = 360  # six hours: six seconds at the runtime's 3600x
RECON_POLICY = {
    "apiVersion": "stratops.io/v1alpha1",
    "kind": "ReconciliationPolicy",
    "metadata": {"name": "test-recon"},
    "spec": {"halt": ["external_activity"], "statements": "venue-exports"},
}


@pytest.fixture(scope="session")
def ops_template(tmp_path_factory: pytest.TempPathFactory, trend_model: Path) -> Desk:
    """The controller test desk with a ReconciliationPolicy, a reconciliation gate on canary,
    and a version whose evidence replays six hours of binance-1m."""
    scratch = tmp_path_factory.mktemp("recon")
    manifests = scratch / "manifests"
    shutil.copytree(DESK_MANIFESTS, manifests)
    (manifests / "reconciliation").mkdir()
    (manifests / "reconciliation" / "recon.yaml").write_text(yaml.safe_dump(RECON_POLICY))
    policy_file = manifests / "policy" / "policy.yaml"
    policy = yaml.safe_load(policy_file.read_text())
    policy["spec"]["rules"]["trend"]["canary"]["reconciliation"] = {}
    policy_file.write_text(yaml.safe_dump(policy))
    bundle = write_synthetic_bundle(
        scratch / "bundle",
        return_rows=REPLAY_MINUTES,
        trial_days=1,
        start=REPLAY_START,
        strategy_type=StrategyType.TREND,
    )
    metadata_file = bundle / "metadata.json"
    metadata = json.loads(metadata_file.read_text())
    metadata["dataset"] = "binance-1m"
    metadata_file.write_text(json.dumps(metadata, indent=2))
    folder = scratch / "desk"
    location = resolve_location(None, environ={}, desk=lambda: folder)
    return make_desk(folder, location, bundle, trend_model, versions=1, manifests=manifests)


@pytest.fixture
def ops_desk(tmp_path: Path, ops_template: Desk) -> Iterator[Desk]:
    folder = tmp_path / "desk"
    made = copy_desk(ops_template, folder, resolve_location(None, environ={}, desk=lambda: folder))
    yield made
    stop_deployments(made)


def _caught_up(run: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(run)
        if status is not None and status.status == "caught_up":
            return
        time.sleep(0.2)
    raise AssertionError(f"{run} did not catch up in {timeout:g}s: {read_status(run)}")


def venue_trades(run: Path) -> list[dict[str, object]]:
    """The ccxt trades the paper venue of ``run`` reported."""
    lines = (run / "venue" / "trades.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def export(folder: Path, trades: list[dict[str, object]]) -> None:
    """Write ``trades`` as the ccxt trades of a statement folder, replacing what it held."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(trade) + "\n" for trade in trades)
    (folder / "trades.jsonl").write_text(lines, encoding="utf-8")


def paper_run(desk: Desk) -> tuple[Path, pd.DataFrame]:
    """The paper deployment's run once its replay caught up, and its fills."""
    run = desk.runtime().folder("btc-trend", Stage.PAPER) / "v1" / "telemetry"
    _caught_up(run)
    fills = reader.read(run, "fills").to_pandas()
    assert len(fills) > 0, "the replay made no fill to reconcile"
    return run, fills


def statement(desk: Desk) -> Path:
    """Where the desk's exchange adapter exports the paper deployment's statement."""
    return desk.root / "venue-exports" / "btc-trend--paper"
