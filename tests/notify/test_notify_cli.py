"""``stratops notify test``: a sample to each webhook of the working tree, and what it said."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner
from webhook_receiver import receiver

from stratops.cli.main import app
from stratops.notify import payload


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    root = tmp_path / "desk"
    (root / "manifests").mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", str(root)], check=True)
    return root


def write(desk: Path, *hooks: str) -> Path:
    path = desk / "manifests" / "notifications.yaml"
    items = "".join(f"    - {{name: {name}, url: '{url}', events: ['*'], secretEnv: HOOK}}\n"
                    for name, url in (h.split("=", 1) for h in hooks))  # fmt: skip
    path.write_text(
        "apiVersion: stratops.io/v1alpha1\nkind: Notification\nmetadata: {name: desk}\n"
        f"spec:\n  webhooks:\n{items}"
    )
    return path


def invoke(desk: Path, *args: str, secret: str | None = "k") -> tuple[int, str, str]:
    env = {"HOOK": secret} if secret is not None else {"HOOK": ""}
    done = CliRunner().invoke(app, ["notify", "test", "--desk", str(desk), *args], env=env)
    return done.exit_code, done.stdout, done.stderr


def test_the_sample_reaches_each_webhook_signed(desk: Path) -> None:
    with receiver() as first, receiver(answers=[403]) as second:
        write(desk, f"slack={first.url}", f"audit={second.url}")
        code, out, _ = invoke(desk, "-o", "json")
        assert code == 1  # the second refused it
        rows = {row["webhook"]: row for row in json.loads(out)}
        assert (rows["slack"]["outcome"], rows["slack"]["status"]) == ("sent", 200)
        assert (rows["audit"]["outcome"], rows["audit"]["status"]) == ("rejected", 403)
        [request] = first.received
        assert request.json["event"] == "notification_test"
        assert payload.verify("k", request.headers, request.body)

        code, out, _ = invoke(desk, "--webhook", "slack")
        assert code == 0 and "slack" in out and "sent" in out and "audit" not in out


def test_bad_setups_are_named(desk: Path) -> None:
    code, _, err = invoke(desk)
    assert code == 2 and "no Notification document" in err
    write(desk, "slack=http://127.0.0.1:9/hook")
    code, _, err = invoke(desk, "--webhook", "nosuch")
    assert code == 2 and "no webhook 'nosuch'" in err
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    write(desk, f"slack=http://127.0.0.1:{port}/hook")
    code, out, _ = invoke(desk, secret=None)
    assert code == 3 and "$HOOK (its secret) is not set" in out
    path = write(desk, "Slack=http://127.0.0.1:9/hook")
    code, _, err = invoke(desk)
    assert code == 2 and f"{path.name}:6" in err.replace(str(path), path.name)
