"""A real Alertmanager from Debian's package, on a free loopback port, for the alerts column.

Debian installs the server as ``prometheus-alertmanager`` (upstream: ``alertmanager``). A
missing binary fails the test: ``.ci/run`` installs ``prometheus-alertmanager``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CONFIG = """\
route: {receiver: desk, group_wait: 1h, repeat_interval: 24h}
receivers: [{name: desk}]
"""


def binary() -> str:
    found = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if found is None:
        pytest.fail("alertmanager is not installed: apt-get install prometheus-alertmanager")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def alertmanager(folder: Path) -> Iterator[str]:
    """``alertmanager`` with a temporary config and storage; yields its URL once ready."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alertmanager.yml").write_text(CONFIG)
    url = f"http://127.0.0.1:{_free_port()}"
    process = subprocess.Popen(
        [binary(), f"--config.file={folder / 'alertmanager.yml'}",
         f"--storage.path={folder / 'data'}", f"--web.listen-address={url[7:]}",
         "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                assert process.stderr is not None
                pytest.fail(f"alertmanager did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def add_alert(url: str, **labels: str) -> None:
    """``amtool alert add``: the alert fires from now (its annotation: a summary)."""
    words = [f"{k}={v}" for k, v in labels.items()]
    subprocess.run(
        ["amtool", "alert", "add", *words, "--annotation=summary=fired by the test",
         f"--alertmanager.url={url}"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


def firing(url: str) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as answer:
        found: list[dict[str, object]] = json.loads(answer.read())
        return found
