"""Shared fixtures: the populated test desk (tests/fixtures/desk), a clean git identity.

Also how the suite runs fast on a few cores: its scratch files live on a RAM disk where the
machine has one, and the slow tests start first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MANIFESTS = REPO / "tests" / "fixtures" / "desk"
RAM_DISK = Path("/dev/shm")
RAM_DISK_FREE = 2 * 2**30  # bytes a run may need there (a run uses a few hundred MB)


def _scratch_on_a_ram_disk() -> None:
    """``tmp_path`` (and every subprocess's temporary folder) on ``/dev/shm`` when it has room.

    The tests write real SQLite MLflow stores and git repositories; SQLite syncs each commit
    to disk, and on a disk that waiting is most of a registration's time (creating a fresh
    MLflow store: 7.7 s on disk, 1.6 s in RAM, on the 2-core CI machine). A ``TMPDIR`` the
    user set is kept, and so is the default where there is no RAM disk with room.
    """
    if "TMPDIR" in os.environ or not RAM_DISK.is_dir():
        return
    if shutil.disk_usage(RAM_DISK).free < RAM_DISK_FREE:
        return
    os.environ["TMPDIR"] = str(RAM_DISK)  # xdist workers and subprocesses inherit it
    tempfile.tempdir = None  # pytest's tmp_path_factory asks tempfile, which caches


_scratch_on_a_ram_disk()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow first, the others in their usual order.

    xdist hands tests out one at a time (pyproject's ``--maxschedchunk 1``), so the slow ones
    start at once on separate workers instead of last on one while the others idle.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def example_manifests() -> Path:
    return EXAMPLE_MANIFESTS


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean git environment: no global or system config, a fixed identity."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Rita Researcher")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "rita@desk.example")
    monkeypatch.setenv("USER", "rita")
    for name in (
        "GITHUB_TOKEN",
        "GITHUB_API_URL",
        "GITHUB_REPOSITORY",
        "GITHUB_STEP_SUMMARY",
        "STRATOPS_FORGE",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_DATE",
    ):
        monkeypatch.delenv(name, raising=False)
