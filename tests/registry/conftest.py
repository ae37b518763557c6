"""Real MLflow for the registry tests: an embedded SQLite store and an ``mlflow server``.

The server is one process per session on a free loopback port, with a SQLite backend and
proxied artifacts (``--serve-artifacts``): the client speaks REST for everything, artifacts
included. Both backends keep their artifacts in tmp folders the tests can reach, to tamper.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow_backends import Backend, TickingClock
from mlflow_backends import mlflow_server as start_mlflow_server

from stratops.registry import Registry
from stratops.registry.location import embedded_location
from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("mlflow-server")
    with start_mlflow_server("server", f"sqlite:///{root / 'server.db'}", root) as backend:
        yield backend


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    location = embedded_location(tmp_path_factory.mktemp("desk"))
    assert location.artifact_root is not None
    Registry(location).count_trials("warm-up")  # create the database once per session
    return Backend("embedded", location, location.artifact_root)


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture = "embedded" if request.param == "embedded" else "mlflow_server"
    found: Backend = request.getfixturevalue(fixture)
    return found


@pytest.fixture
def clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def registry(backend: Backend, clock: TickingClock) -> Registry:
    return Registry(backend.location, clock=clock)


@pytest.fixture
def embedded_registry(embedded: Backend, clock: TickingClock) -> Registry:
    return Registry(embedded.location, clock=clock)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_constant_model(tmp_path_factory.mktemp("model") / "constant", position=0.5)


@pytest.fixture
def strategy() -> str:
    return f"strat-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    """A valid small bundle: three days of minute returns, 200 trades, 10 trials."""
    return write_synthetic_bundle(tmp_path / "bundle")
