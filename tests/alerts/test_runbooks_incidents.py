"""Runbook steps by context, runbook commands checked against the CLI, and incidents."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditLog
from stratops.examples import example_manifests
from stratops.gitops.scaffold import init_desk
from stratops.incidents.timeline import incident_table, overlapping
from stratops.runbooks.commands import command_error


def test_runbook_steps_differ_by_context() -> None:
    def steps(regime: str) -> list[str]:
        result = CliRunner().invoke(
            app,
            [
                "runbook",
                "show",
                "drawdown-deep",
                "--regime",
                regime,
                "-o",
                "json",
                "--manifests",
                str(example_manifests()),
            ],
        )
        assert result.exit_code == 0, result.output
        return [s["do"] for s in json.loads(result.stdout)["mitigation"]]

    assert any("flatten now" in s for s in steps("peak"))
    assert not any("flatten now" in s for s in steps("thin"))
    assert any("reduce-only" in s for s in steps("thin"))


def test_commands_are_parsed_not_run() -> None:
    assert command_error("stratops audit log --strategy {strategy}") is None
    assert "No such command" in str(command_error("stratops flatten"))
    assert "--output" in str(command_error("stratops regimes show -o xml"))


def test_incident_timeline_in_the_audit_log(tmp_path: Path) -> None:
    desk = init_desk(tmp_path / "desk", example_manifests()).root
    runner = CliRunner()
    base = ["--desk", str(desk), "--as", "alice", "-o", "json"]
    opened = runner.invoke(
        app, ["incident", "open", "slippage-high", "--summary", "3am slippage", *base]
    )
    assert opened.exit_code == 0, opened.output
    number = str(json.loads(opened.stdout)["incident"])
    noted = runner.invoke(
        app, ["incident", "note", number, "reduce-only", "--step", "mitigation.2", *base]
    )
    assert noted.exit_code == 0, noted.output
    bad = runner.invoke(app, ["incident", "note", number, "x", "--step", "mitigation.9", *base])
    assert bad.exit_code == 2
    closed = runner.invoke(app, ["incident", "close", number, "--summary", "liquidity back", *base])
    assert closed.exit_code == 0, closed.output
    table = incident_table(AuditLog(ControllerPaths(desk).audit).events())
    (row,) = table.to_dict("records")
    assert row["alert"] == "slippage-high" and row["steps"] == ["mitigation.2"]
    assert row["opened_by"] == "alice" and row["start"] <= row["end"]
    assert len(overlapping(table, row["start"], row["start"])) == 1
    assert overlapping(
        table, row["end"] + pd.Timedelta("1h"), row["end"] + pd.Timedelta("2h")
    ).empty
