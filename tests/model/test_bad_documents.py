"""Every hand-written bad document exits 2 with a precise message.

Each file under ``bad/`` starts with comments: ``# expect:`` (a fragment of the message),
optionally ``# field:`` (the field path), ``# line:`` (the line reported) and ``# with:``
(folders of the example desk validated alongside it, for cross-document problems).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stratops.cli.main import app
from stratops.model.yaml_source import MAX_BYTES

BAD = Path(__file__).parent / "bad"
EXAMPLE = Path(__file__).resolve().parents[2] / "stratops" / "data" / "example-desk"
BAD_FILES = sorted(BAD.glob("*.yaml"))


def expectations(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        found[key] = value
    return found


def run_validate(*paths: Path) -> tuple[int, Any]:
    result = CliRunner().invoke(app, ["validate", *map(str, paths), "--output", "json"])
    return result.exit_code, json.loads(result.stdout)


def test_there_are_at_least_thirty_bad_documents() -> None:
    assert len(BAD_FILES) >= 30


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda p: p.stem)
def test_bad_document_is_refused_with_a_precise_message(path: Path) -> None:
    expect = expectations(path)
    context = [EXAMPLE / folder for folder in expect.get("with", "").split()]
    exit_code, report = run_validate(*context, path)

    assert exit_code == 2
    assert report["valid"] is False
    problems = [p for p in report["problems"] if p["file"] == str(path)]
    matching = [p for p in problems if expect["expect"] in p["message"]]
    assert matching, f"no problem of {path.name} says {expect['expect']!r}: {problems}"
    problem = matching[0]
    if "field" in expect:
        assert problem["field"] == expect["field"]
    if "line" in expect:
        assert problem["line"] == int(expect["line"])


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_BYTES // 10 + 1), encoding="utf-8")
    exit_code, report = run_validate(big)
    assert exit_code == 2
    (problem,) = report["problems"]
    assert problem["code"] == "yaml.too_large"
    assert f"over the limit of {MAX_BYTES}" in problem["message"]


def test_missing_path_is_reported(tmp_path: Path) -> None:
    exit_code, report = run_validate(tmp_path / "nowhere")
    assert exit_code == 2
    assert report["problems"][0]["code"] == "file.missing"


def test_not_utf8_is_reported(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("owner: caf\xe9\n".encode("latin-1"))
    exit_code, report = run_validate(latin)
    assert exit_code == 2
    assert report["problems"][0]["code"] == "yaml.encoding"


def test_strategies_without_a_policy_are_reported() -> None:
    exit_code, report = run_validate(EXAMPLE / "strategies", EXAMPLE / "analysis")
    assert exit_code == 2
    codes = {p["code"] for p in report["problems"]}
    assert codes == {"desk.no_policy"}
