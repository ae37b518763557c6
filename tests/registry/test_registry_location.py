"""Where MLflow is: the flag, else MLFLOW_TRACKING_URI, else .stratops/ in the desk repository."""

from __future__ import annotations

from pathlib import Path

from stratops.registry import resolve_location


def test_flag_wins(tmp_path: Path) -> None:
    location = resolve_location(
        "http://mlflow:5000", environ={"MLFLOW_TRACKING_URI": "sqlite:///x.db"}, cwd=tmp_path
    )
    assert location.tracking_uri == "http://mlflow:5000"
    assert location.artifact_root is None
    assert location.source == "--tracking-uri"


def test_environment_next(tmp_path: Path) -> None:
    location = resolve_location(
        None, environ={"MLFLOW_TRACKING_URI": "sqlite:///x.db"}, cwd=tmp_path
    )
    assert location.tracking_uri == "sqlite:///x.db"
    assert location.artifact_root is None
    assert location.source == "MLFLOW_TRACKING_URI"


def test_embedded_default_in_the_git_top_level(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    deep = tmp_path / "manifests" / "strategies"
    deep.mkdir(parents=True)
    location = resolve_location(None, environ={}, cwd=deep)
    root = tmp_path.resolve() / ".stratops"
    assert location.tracking_uri == f"sqlite:///{root / 'mlflow.db'}"
    assert location.artifact_root == root / "artifacts"


def test_embedded_default_in_the_current_folder_outside_git(tmp_path: Path) -> None:
    location = resolve_location(None, environ={"MLFLOW_TRACKING_URI": ""}, cwd=tmp_path)
    assert location.artifact_root == tmp_path.resolve() / ".stratops" / "artifacts"
