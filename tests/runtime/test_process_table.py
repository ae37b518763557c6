"""The local runtime's process table: live processes with their command lines, never zombies."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from stratops.runtime.local import process_table


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_zombie_is_left_out_and_a_live_process_is_listed() -> None:
    marker = f"/tmp/stratops-test-{uuid.uuid4().hex}/telemetry"
    live = subprocess.Popen(["bash", "-c", 'exec -a "$0" sleep 30', marker])
    dead = subprocess.Popen(["bash", "-c", 'exec -a "$0" true', f"{marker}-dead"])
    try:
        deadline = time.monotonic() + 10
        while _state(dead.pid) != "Z":  # exited, not reaped: a zombie of this test
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.01)
        listed = dict(process_table())
        assert marker in listed.get(live.pid, "")
        assert dead.pid not in listed
    finally:
        live.kill()
        live.wait()
        dead.wait()
