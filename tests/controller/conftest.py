"""Fixtures of the controller tests: paper models, evidence, and a real desk per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from desks import Desk, copy_desk, make_desk, save_trend_model, stop_deployments

from stratops.model.base import StrategyType
from stratops.registry.location import resolve_location
from stratops.registry.synthetic import write_synthetic_bundle

__all__ = ["Desk"]


@pytest.fixture(scope="session")
def trend_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_trend_model(tmp_path_factory.mktemp("models") / "trend")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_bundle(
        tmp_path_factory.mktemp("evidence") / "bundle", strategy_type=StrategyType.TREND
    )


@pytest.fixture(scope="session")
def template_desk(
    tmp_path_factory: pytest.TempPathFactory, trend_model: Path, bundle: Path
) -> Desk:
    """Made once per session (two versions registered); each test gets a copy."""
    folder = tmp_path_factory.mktemp("template") / "desk"
    location = resolve_location(None, environ={}, desk=lambda: folder)
    return make_desk(folder, location, bundle, trend_model)


@pytest.fixture
def desk(tmp_path: Path, template_desk: Desk) -> Iterator[Desk]:
    folder = tmp_path / "desk"
    location = resolve_location(None, environ={}, desk=lambda: folder)
    made = copy_desk(template_desk, folder, location)
    yield made
    stop_deployments(made)
