"""``stratops validate`` and ``stratops demo`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stratops.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "desk"


def test_example_desk_is_valid() -> None:
    result = CliRunner().invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "valid: 6 document(s)" in result.stdout


def test_json_output_is_only_json() -> None:
    result = CliRunner().invoke(app, ["validate", str(EXAMPLE), "--output", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "problems": []}


def test_validate_defaults_to_manifests_in_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate", "--output", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["problems"][0]["file"] == "manifests"


def test_deploy_folder_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "controller.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (tmp_path / "policy.yaml").write_text((EXAMPLE / "policy" / "desk-policy.yaml").read_text())
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_table_output_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (EXAMPLE / "policy" / "desk-policy.yaml").read_text().replace("psr: {min: 0.90}", "psr: {}")
    )
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "spec.rules.trend.canary.psr.min" in result.stderr
    assert "required field is missing" in result.stderr


def test_version_flag() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("stratops ")
