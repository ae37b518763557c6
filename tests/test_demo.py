"""``stratops demo`` tells the whole story on a fresh desk, as ``make demo`` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stratops.runtime.local import process_table


def test_demo_runs_the_whole_story(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-m", "stratops", "demo", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "120"},
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for step in (
        "valid: 6 documents",
        "### Gates: btc-overfit v1 → canary: ❌ FAIL",
        "the gates fail: nothing was pushed and no pull request opened",
        "### Gates: btc-trend v1 → canary: ✅ PASS",
        "opened pull request #1",
        "merged #1",
        "btc-trend/canary: v1 @ 10,000 running",
        "audit log intact: 6 event(s), chain verified",
    ):
        assert step in output, step
    assert not [pid for pid, cmd in process_table() if str(workdir) in cmd], "demo left processes"
