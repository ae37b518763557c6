"""The per-test desk is a copy of a session template: it must share nothing with it."""

from __future__ import annotations

from desks import Desk


def test_a_desk_copy_names_no_path_of_its_template(desk: Desk, template_desk: Desk) -> None:
    old = str(template_desk.root).encode()
    naming = [
        path.relative_to(desk.root)
        for path in desk.root.rglob("*")
        if path.is_file() and old in path.read_bytes()
    ]
    assert naming == []
    assert desk.registry.get_version("btc-trend", 2).source.startswith(desk.root.as_uri())
