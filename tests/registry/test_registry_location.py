"""Where MLflow is (flag, else MLFLOW_TRACKING_URI, else .stratops/ in the desk) and which desk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from stratops.gitops.errors import NotADesk
from stratops.gitops.location import find_desk
from stratops.registry import resolve_location


def _no_desk() -> Path:
    raise AssertionError("the desk must not be looked for when a tracking URI is given")


def _desk(root: Path) -> Path:
    (root / "manifests" / "strategies").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_flag_wins() -> None:
    location = resolve_location(
        "http://mlflow:5000", environ={"MLFLOW_TRACKING_URI": "sqlite:///x.db"}, desk=_no_desk
    )
    assert location.tracking_uri == "http://mlflow:5000"
    assert location.artifact_root is None
    assert location.source == "--tracking-uri"


def test_environment_next() -> None:
    location = resolve_location(
        None, environ={"MLFLOW_TRACKING_URI": "sqlite:///x.db"}, desk=_no_desk
    )
    assert location.tracking_uri == "sqlite:///x.db"
    assert location.artifact_root is None
    assert location.source == "MLFLOW_TRACKING_URI"


def test_embedded_default_in_the_desk(tmp_path: Path) -> None:
    location = resolve_location(None, environ={"MLFLOW_TRACKING_URI": ""}, desk=lambda: tmp_path)
    root = tmp_path.resolve() / ".stratops"
    assert location.tracking_uri == f"sqlite:///{root / 'mlflow.db'}"
    assert location.artifact_root == root / "artifacts"


def test_the_desk_is_found_upwards_like_git(tmp_path: Path) -> None:
    desk = _desk(tmp_path / "desk")
    assert find_desk(None, cwd=desk / "manifests" / "strategies") == desk.resolve()
    assert find_desk(desk) == desk.resolve()


@pytest.mark.parametrize("layout", ["empty", "git-without-manifests", "manifests-without-git"])
def test_outside_a_desk_nothing_is_found_or_created(tmp_path: Path, layout: str) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    if layout == "git-without-manifests":
        subprocess.run(["git", "init", "-q", str(folder)], check=True)
    if layout == "manifests-without-git":
        (folder / "manifests").mkdir()
    before = sorted(p.name for p in folder.rglob("*"))
    with pytest.raises(NotADesk, match="not a desk: run inside one or pass --desk"):
        find_desk(None, cwd=folder)
    with pytest.raises(NotADesk, match=f"not a desk: {folder}"):
        find_desk(folder)
    assert sorted(p.name for p in folder.rglob("*")) == before
