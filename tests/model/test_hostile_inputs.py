"""Hostile or careless inputs are problems of their file, never a crash or an absence."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stratops.gitops.desk import discover, load_desk
from stratops.model.yaml_source import (
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_KEYS,
    MAX_STRING,
    YamlError,
    parse_yaml,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "desk"


def _nested(depth: int) -> str:
    """``k:`` mappings ``depth`` deep, ending in a list nested as deep again (``- - - 1``)."""
    half = depth // 2
    keys = "".join(" " * i + "k:\n" for i in range(half))
    return keys + " " * half + "- " * (depth - half) + "1\n" if depth > 1 else "k: 1\n"


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(min_value=1, max_value=1_800))
def test_any_nesting_depth_parses_or_is_refused_by_name(depth: int) -> None:
    if depth <= MAX_DEPTH:
        assert parse_yaml(_nested(depth), "deep.yaml").data
        return
    with pytest.raises(YamlError) as raised:
        parse_yaml(_nested(depth), "deep.yaml")
    problem = raised.value.problem
    if problem.code == "yaml.syntax":  # libyaml's own limit (1,000 levels) comes first
        assert "maximum nesting depth" in problem.message
    else:
        assert problem.code == "yaml.too_deep"
        assert problem.line == min(MAX_DEPTH + 2, depth // 2 + 1)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a: [" + ", ".join("1" for _ in range(MAX_ITEMS + 1)) + "]\n", "yaml.too_many_items"),
        ("".join(f"k{i}: 1\n" for i in range(MAX_KEYS + 1)), "yaml.too_many_keys"),
        ("a: " + "x" * (MAX_STRING + 1) + "\n", "yaml.too_long"),
        ("a: " + "[" * 5_000 + "]" * 5_000 + "\n", "yaml.syntax"),
    ],
    ids=["items", "keys", "string", "flow-depth"],
)
def test_every_dimension_is_bounded(text: str, code: str) -> None:
    with pytest.raises(YamlError) as raised:
        parse_yaml(text, "big.yaml")
    assert raised.value.problem.code == code
    assert raised.value.problem.file == "big.yaml"


def _desk_copy(tmp_path: Path) -> Path:
    root = tmp_path / "desk"
    for source in FIXTURE.rglob("*"):
        target = root / source.relative_to(FIXTURE)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    return root


def test_unreadable_documents_are_problems_not_absences(tmp_path: Path) -> None:
    root = _desk_copy(tmp_path)
    strategies = root / "strategies"
    (strategies / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    outside = tmp_path / "outside.yaml"
    outside.write_text((strategies / "btc-mm.yaml").read_text())
    (strategies / "outside.yaml").symlink_to(outside)
    (strategies / "inside.yaml").symlink_to(strategies / "btc-mm.yaml")  # stays in the desk
    os.mkfifo(strategies / "pipe.yaml")
    files, problems = discover([root, Path("/dev/zero")])
    found = {Path(p.file).name: (p.code, p.message) for p in problems}
    assert found["gone.yaml"][0] == "file.dangling_link"
    assert str(tmp_path / "nowhere.yaml") in found["gone.yaml"][1]
    assert found["outside.yaml"][0] == "file.outside"
    assert found["pipe.yaml"] == ("file.not_regular", "not a regular file: a named pipe")
    assert found["zero"] == ("file.not_regular", "not a regular file: a character device")
    assert strategies / "inside.yaml" in files
    assert not load_desk([root]).ok


@pytest.mark.parametrize(
    ("line", "field", "code"),
    [
        ("    paper: {version: true}", "spec.stages.paper.version", "schema.int_type"),
        ("    paper: {version: 5, allocation: true}", "spec.stages.paper.allocation",
         "schema.float_type"),
        ('    paper: {version: "5"}', "spec.stages.paper.version", "schema.int_type"),
        ("    paper: {version: 5, allocation: '100'}", "spec.stages.paper.allocation",
         "schema.float_type"),
    ],
)  # fmt: skip
def test_documents_use_strict_types(tmp_path: Path, line: str, field: str, code: str) -> None:
    root = _desk_copy(tmp_path)
    path = root / "strategies" / "btc-trend.yaml"
    text = re.sub(r"(?m)^    paper: \{version: 5\}$", line, path.read_text())
    assert line in text
    path.write_text(text)
    desk = load_desk([root])
    [problem] = [p for p in desk.problems if p.field == field]
    assert problem.code == code
    assert problem.file == str(path)
