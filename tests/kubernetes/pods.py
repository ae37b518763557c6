"""What a cluster would add around the fake API server: an S3-compatible store (moto's real
server process) and a pod — the container's own ``stratops paper run`` arguments, read from the
Deployment the runtime wrote, run as a real process, with a kubelet that projects the control
ConfigMap into the mounted file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs
import requests
from fake_apiserver import FakeApiServer
from k8s_helpers import NAMESPACE

from stratops.files import replace_file
from stratops.paper.control import CONTROL_FILE
from stratops.runtime.k8s_objects import CONTROL_PATH, TELEMETRY_PATH

BUCKET = "desk-telemetry"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "stratops-test",
    "AWS_SECRET_ACCESS_KEY": "stratops-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


REPO = Path(__file__).resolve().parents[2]
MOTO_SERVER = Path(os.environ.get("STRATOPS_MOTO_SERVER", REPO / ".venv-s3/bin/moto_server"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server as a process of its own (``make test`` installs it in ``.venv-s3``;
    ``$STRATOPS_MOTO_SERVER`` names another), with the bucket ``desk-telemetry``; its URL."""
    if not MOTO_SERVER.exists():
        raise RuntimeError(
            f"{MOTO_SERVER}: no moto_server; `make .venv-s3/.installed` installs it (or set "
            "STRATOPS_MOTO_SERVER)"
        )
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.post(f"{endpoint}/moto-api/reset", timeout=5).raise_for_status()
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.1)
        admin = pafs.S3FileSystem(
            access_key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        admin.create_dir(BUCKET)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=30)


class Pod:
    """The strategy container of Deployment ``name``, with its two volumes under ``root``."""

    def __init__(self, apiserver: FakeApiServer, name: str, root: Path) -> None:
        self.apiserver = apiserver
        self.name = name
        self.telemetry = root / "telemetry"
        self.control = root / "control"
        self.log = root / "pod.log"
        deployment = apiserver.get("deployments", NAMESPACE, name)
        assert deployment is not None
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        self.args = [self._mounted(arg) for arg in container["args"]]
        self.env = {e["name"]: e["value"] for e in container.get("env") or []}
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._kubelet = threading.Thread(target=self._project, daemon=True)

    def _mounted(self, arg: str) -> str:
        for mount, folder in ((TELEMETRY_PATH, self.telemetry), (CONTROL_PATH, self.control)):
            if arg == mount or arg.startswith(f"{mount}/"):
                return str(folder) + arg[len(mount) :]
        return arg

    def _project(self) -> None:
        """The kubelet's part: the control ConfigMap's key as the mounted file."""
        while not self._stop.wait(0.1):
            found = self.apiserver.get("configmaps", NAMESPACE, f"{self.name}-control")
            target = self.control / CONTROL_FILE
            if found is not None:
                text = found["data"][CONTROL_FILE]
                if not target.exists() or target.read_text(encoding="utf-8") != text:
                    replace_file(target, text)
            elif target.exists():
                target.unlink()

    def start(self) -> Pod:
        self.control.mkdir(parents=True, exist_ok=True)
        self._kubelet.start()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stratops", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env, **CREDENTIALS},
            )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
