"""A registered model is content-addressed: a changed pickle is named and never loaded."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from desks import Desk
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.model.base import Stage


class _RunsOnLoad:
    """Unpickling it creates ``marker``: the code execution a tampered model gets."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def _stored_model_file(desk: Desk, version: int) -> Path:
    run_id = desk.registry.get_version("btc-trend", version).run_id
    assert run_id is not None
    artifacts = desk.root / ".stratops" / "artifacts"
    return next(artifacts.rglob(f"{run_id}/artifacts/model/python_model.pkl"))


def test_a_version_records_its_model_digest_and_verifies(desk: Desk) -> None:
    version = desk.registry.get_version("btc-trend", 1)
    assert version.model_digest is not None
    report = desk.registry.verify_evidence("btc-trend", 1)
    assert report.ok, report.problems
    assert report.model_digest == version.model_digest
    assert "python_model.pkl" in {entry.path for entry in report.model_files}


def test_bytes_appended_to_the_model_fail_evidence_verify(desk: Desk) -> None:
    stored = _stored_model_file(desk, 1)
    stored.write_bytes(stored.read_bytes() + b"appended")

    verified = CliRunner().invoke(
        app, ["evidence", "verify", "btc-trend", "1", "--desk", str(desk.root)]
    )
    assert verified.exit_code == 1, verified.output
    assert "model/python_model.pkl" in verified.output
    assert "model.hash_mismatch" in verified.output
    untouched = CliRunner().invoke(
        app, ["evidence", "verify", "btc-trend", "2", "--desk", str(desk.root)]
    )
    assert untouched.exit_code == 0, untouched.output


def test_a_tampered_model_blocks_the_version_and_starts_nothing(desk: Desk) -> None:
    stored = _stored_model_file(desk, 1)
    stored.write_bytes(stored.read_bytes() + b"appended")

    result = desk.reconciler().tick()
    blocked = result.blocked[("btc-trend", Stage.PAPER)]
    assert (blocked.version, blocked.code) == (1, "evidence_mismatch")
    assert "model" in blocked.reason
    assert result.applied == ()
    assert desk.runtime().list() == []


@pytest.mark.parametrize(
    "command",
    [
        ["paper", "run", "--allocation", "1000", "--telemetry"],
        ["backtest", "--data", "binance-1h", "--telemetry"],
    ],
    ids=["paper-run", "backtest"],
)
def test_a_tampered_registered_model_is_refused_before_it_is_loaded(
    desk: Desk, tmp_path: Path, command: list[str]
) -> None:
    marker = tmp_path / "code-ran-on-load"
    _stored_model_file(desk, 1).write_bytes(pickle.dumps(_RunsOnLoad(marker)))

    run = CliRunner().invoke(
        app,
        [*command, str(tmp_path / "telemetry"), "--model-uri", "models:/btc-trend/1"],
        env={"MLFLOW_TRACKING_URI": desk.registry.location.tracking_uri},
    )
    assert run.exit_code == 1, run.output
    assert "model/python_model.pkl" in run.output
    assert not marker.exists(), "the tampered pickle was loaded"
    assert not (tmp_path / "telemetry").exists()
