"""What a cluster would add around the fake API server: an S3-compatible store (moto's real
server process) and a pod — the container's own ``stratops paper run`` arguments, read from the
Deployment the runtime wrote, run as a real process, with a kubelet that projects the control
ConfigMap into the mounted file."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs
import requests
from fake_apiserver import FakeApiServer
from k8s_helpers import NAMESPACE
from moto.server import ThreadedMotoServer

from stratops.files import replace_file
from stratops.paper.control import CONTROL_FILE
from stratops.runtime.k8s_objects import CONTROL_PATH, TELEMETRY_PATH

BUCKET = "desk-telemetry"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "stratops-test",
    "AWS_SECRET_ACCESS_KEY": "stratops-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def s3_server() -> Iterator[str]:
    """A moto S3 server on a free port with the bucket ``desk-telemetry``; its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()  # one store
        # per process: what an earlier test published is gone
        admin = pafs.S3FileSystem(
            access_key=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            secret_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            endpoint_override=f"{host}:{port}",
            scheme="http",
            allow_bucket_creation=True,
        )
        admin.create_dir(BUCKET)
        yield endpoint
    finally:
        server.stop()


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
