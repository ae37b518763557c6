"""Real MLflow for the registry tests: an embedded SQLite store and an ``mlflow server``.

The server is one process per session on a free loopback port, with a SQLite backend and
proxied artifacts (``--serve-artifacts``): the client speaks REST for everything, artifacts
included. Both backends keep their artifacts in tmp folders the tests can reach, to tamper.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow_backends import Backend, TickingClock, free_port, stop, wait_healthy

from stratops.registry import Registry, RegistryLocation
from stratops.registry.location import embedded_location
from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    root = tmp_path_factory.mktemp("mlflow-server")
    artifacts = root / "artifacts"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'server.db'}",
        "--artifacts-destination",
        str(artifacts),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    try:
        wait_healthy(url, process, log)
        yield Backend("server", RegistryLocation(tracking_uri=url), artifacts)
    finally:
        stop(process)


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
