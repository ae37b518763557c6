"""Where the example desk lives: ``manifests/`` of the source checkout stratops runs from."""

from __future__ import annotations

from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def example_manifests() -> Path:
    """The example desk's ``manifests/`` folder.

    stratops is installed in editable mode by ``make demo``; an install from a wheel carries
    no example desk, which the caller reports.
    """
    return REPOSITORY_ROOT / "manifests"
