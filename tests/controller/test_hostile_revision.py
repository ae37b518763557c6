"""A hostile document pushed to main is refused; everything else keeps being reconciled."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from desks import Desk

from stratops.controller.plan import ActionKind
from stratops.model.deployment import DeploymentState


def _push(desk: Desk, name: str, text: str) -> None:
    (desk.root / "manifests" / "strategies" / name).write_text(text)
    for args in (("add", "-A"), ("commit", "--quiet", "-m", "hostile"), ("push", "--quiet")):
        subprocess.run(["git", *args], cwd=desk.root, check=True)


def test_a_deeply_nested_document_is_refused_and_restarts_go_on(desk: Desk) -> None:
    reconciler = desk.reconciler()
    assert not reconciler.tick().failed
    [status] = desk.runtime().list()

    bomb = "".join(" " * i + "k:\n" for i in range(800)) + " " * 800 + "k: 1\n"
    _push(desk, "bomb.yaml", bomb)
    os.kill(int(status.instance), signal.SIGKILL)  # meanwhile, the paper process dies
    deadline = time.monotonic() + 30
    while desk.runtime().list()[0].state is not DeploymentState.FAILED:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    result = reconciler.tick()
    assert any("does not validate" in p for p in result.problems)
    refused = [e for e in reconciler.audit.events() if e.action == "revision_refused"]
    assert len(refused) == 1
    assert any("[yaml.too_deep]" in p for p in refused[0].details["problems"])
    assert [a.kind for a in result.applied] == [ActionKind.RESTART]
    [restarted] = desk.runtime().list()
    assert restarted.state is DeploymentState.RUNNING
    assert restarted.instance != status.instance
