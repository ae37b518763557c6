"""A gates check in CI, on another clone of the desk, sees the controller's reconciliation.

The controller runs a real paper deployment in the desk folder and reconciles it each tick;
CI has only a fresh clone of the desk's remote and the registry (``MLFLOW_TRACKING_URI``), as a
runner does. What it knows of the breaks is what the controller published there: nothing yet
(inconclusive), a clean reconciliation (the ``reconciliation`` check passes), then a manual
trade on the venue (an open break: the check fails and blocks the promotion).
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from desks import Desk
from ops_desk import ops_desk, ops_template, paper_run, venue_trades
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.controller.assembly import ControllerPaths
from stratops.gitops.scaffold import REMOTE_PATH
from stratops.ops.reconciliation.published import PublishedBreaks

__all__ = ["ops_desk", "ops_template"]  # fixtures

PAPER = "    paper: {version: 1, allocation: 100000}\n"
CANARY = "    canary: {version: 1, allocation: 50000, analysis: trend-canary}\n"


def _git(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=folder, capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def _ci_clone(desk: Desk, folder: Path, promotions: int) -> Path:
    """A fresh clone of the desk's remote with a promotion commit of btc-trend v1 to canary,
    authored a little after now (the moment its gates are evaluated as of)."""
    _git(desk.root.parent, "clone", "--quiet", str(desk.root / REMOTE_PATH), str(folder))
    manifest = folder / "manifests" / "strategies" / "btc-trend.yaml"
    text = manifest.read_text()
    assert PAPER in text
    manifest.write_text(text.replace(PAPER, CANARY + PAPER))
    when = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0).isoformat()
    _git(folder, "add", "-A")
    env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when, "PATH": "/usr/bin:/bin"}
    identity = ["-c", "user.name=rita", "-c", "user.email=rita@desk"]
    _git(folder, *identity, "commit", "-q", "-m", f"btc-trend v1 to canary ({promotions})", env=env)
    return folder


def _reconciliation(desk: Desk, clone: Path) -> tuple[int, dict[str, object]]:
    """``stratops gates check`` in ``clone`` as CI runs it: exit code and the check."""
    result = CliRunner().invoke(
        app,
        ["gates", "check", "--base", "origin/main", "--head", "HEAD", "--desk", str(clone),
         "-o", "json"],
        env={"MLFLOW_TRACKING_URI": desk.registry.location.tracking_uri},
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    [promotion] = json.loads(result.stdout)["promotions"]
    [check] = [c for c in promotion["report"]["checks"] if c["name"] == "reconciliation"]
    return result.exit_code, check


def test_ci_on_another_clone_sees_the_breaks_the_controller_published(
    ops_desk: Desk, tmp_path: Path
) -> None:
    desk = ops_desk
    reconciler = desk.reconciler()
    reconciler.tick()  # deploys paper
    code, check = _reconciliation(desk, _ci_clone(desk, tmp_path / "ci-0", 0))
    assert (code, check["status"]) == (1, "inconclusive")  # nothing published yet
    assert "break summary the controller publishes is missing or stale" in str(check["explanation"])
    assert desk.registry.published_recon_breaks("btc-trend") is None

    run, _ = paper_run(desk)
    reconciler.tick()  # reconciled clean, published
    text = desk.registry.published_recon_breaks("btc-trend")
    assert text is not None
    clean = PublishedBreaks.from_storage(text)
    assert clean.state.breaks == [] and clean.by == "stratops-controller"
    clone = _ci_clone(desk, tmp_path / "ci-1", 1)
    assert not ControllerPaths(clone).recon.exists()  # no break state in CI's clone
    code, check = _reconciliation(desk, clone)
    assert check["status"] == "pass", check
    assert code == 0  # every gate passes: the promotion may merge

    reconciler.tick()  # nothing new: the summary is not written again
    assert desk.registry.published_recon_breaks("btc-trend") == text

    trades = venue_trades(run)
    manual = {**trades[-1], "id": "manual-1", "order": None, "clientOrderId": None}
    with (run / "venue" / "trades.jsonl").open("a", encoding="utf-8") as venue:
        venue.write(json.dumps(manual) + "\n")  # a trade the desk did not send
    reconciler.tick()  # the break opens, is published
    broken = desk.registry.published_recon_breaks("btc-trend")
    assert broken is not None
    [record] = PublishedBreaks.from_storage(broken).state.breaks
    assert (record.kind.value, record.state.value) == ("external_activity", "open")
    code, check = _reconciliation(desk, _ci_clone(desk, tmp_path / "ci-2", 2))
    assert (code, check["status"]) == (1, "fail")
    assert "1 open reconciliation break(s)" in str(check["explanation"])
