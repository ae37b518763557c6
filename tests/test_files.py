"""``replace_file``: the old content or the new, never half, and no temporary left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratops.files import replace_file


@pytest.mark.parametrize("durable", [False, True])
def test_the_file_is_replaced_whole(tmp_path: Path, durable: bool) -> None:
    path = tmp_path / "deep" / "state.json"
    replace_file(path, "old", durable=durable)
    replace_file(path, b"new \xe2\x82\xac", durable=durable)
    assert path.read_text(encoding="utf-8") == "new €"
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    replace_file(path, "old")
    with pytest.raises(TypeError):
        replace_file(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
