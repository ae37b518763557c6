"""Real MLflow backends for the registry tests, and a deterministic clock."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stratops.registry import RegistryLocation

SERVER_START_SECONDS = 90


@dataclass(frozen=True)
class Backend:
    """A running MLflow: where clients connect and where its artifacts land on disk."""

    name: str
    location: RegistryLocation
    artifacts: Path

    def stored_file(self, run_id: str, name: str) -> Path:
        """The file ``evidence/<name>`` of a run, as the artifact store keeps it."""
        return self.evidence_folder(run_id) / name

    def evidence_folder(self, run_id: str) -> Path:
        found = list(self.artifacts.rglob(f"{run_id}/artifacts/evidence"))
        assert len(found) == 1, f"evidence of run {run_id} not found under {self.artifacts}"
        return found[0]


class TickingClock:
    """A clock that moves one minute forward each time it is read."""

    def __init__(self, start: datetime = datetime(2025, 1, 1, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        self.current += timedelta(minutes=1)
        return self.current


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"mlflow server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(
        f"mlflow server not healthy after {SERVER_START_SECONDS}s:\n{log.read_text()[-3000:]}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and every process it started (it runs in its own session)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@contextmanager
def mlflow_server(name: str, backend_store_uri: str, root: Path) -> Iterator[Backend]:
    """A real ``mlflow server`` on a free loopback port, artifacts proxied over REST."""
    artifacts = root / "artifacts"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        backend_store_uri,
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
        yield Backend(name, RegistryLocation(tracking_uri=url), artifacts)
    finally:
        stop(process)
