"""The "at scale" registry for integration tests: an MLflow tracking server on PostgreSQL.

``postgres`` starts one PostgreSQL server per session; ``postgres_mlflow`` runs ``mlflow
server`` on it (proxied artifacts, ``--serve-artifacts``), so clients speak REST for
everything as they would against the desk's production tracking server. Without PostgreSQL
the tests are skipped with the reason, except in CI (``CI=true``), where ``.ci/run`` installs
it and a skip would hide a gap: there they fail.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "registry"))  # mlflow_backends

from mlflow_backends import Backend, free_port, mlflow_server
from pg_server import PostgresServer, missing_requirement


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    missing = missing_requirement()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {missing}")
        pytest.skip(missing)
    server = PostgresServer.start(free_port())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_mlflow(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """``mlflow server`` with its backend store in the database ``mlflow`` of ``postgres``."""
    postgres.create_database("mlflow")
    root = tmp_path_factory.mktemp("mlflow-postgres")
    with mlflow_server("postgres", postgres.sqlalchemy_url("mlflow"), root) as backend:
        yield backend
