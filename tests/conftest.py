"""Shared fixtures: paths of the repository's example desk."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MANIFESTS = REPO / "manifests"


@pytest.fixture
def example_manifests() -> Path:
    return EXAMPLE_MANIFESTS
