"""The image's Dockerfile, linted: pinned bases, a non-root user, nothing the pod cannot run.

The rules are the subset of hadolint's that matter for this image (DL3002, DL3006/DL3007,
DL3008's cleanup, DL3020, DL3025, DL3042), plus agreement with the StatefulSet that runs it:
the same numeric user, entry point and port, and no write outside the mounted volumes.
"""

from __future__ import annotations

from typing import Any

import dockerfile
import pytest
import yaml
from k8s_helpers import DEPLOY

ROOT = DEPLOY.parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def _container_and_pod() -> tuple[dict[str, Any], dict[str, Any]]:
    statefulset = yaml.safe_load((DEPLOY / "60-statefulset.yaml").read_text())
    pod: dict[str, Any] = statefulset["spec"]["template"]["spec"]
    return pod["containers"][0], pod


def lint(text: str) -> list[str]:
    """Each problem as ``line N: rule: what``; an empty list is a clean Dockerfile."""
    commands = dockerfile.parse_string(text)
    container, pod = _container_and_pod()
    problems: list[str] = []

    def problem(command: dockerfile.Command, rule: str, what: str) -> None:
        problems.append(f"line {command.start_line}: {rule}: {what}")

    stages = [c for c in commands if c.cmd == "FROM"]
    stage_names = {c.value[2].lower() for c in stages if len(c.value) == 3}
    for command in stages:
        image = command.value[0]
        if image.lower() in stage_names:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if tag in ("", "latest") and "@sha256:" not in image:
            problem(command, "DL3006", f"pin the base image {image!r} to a version")
    final = commands[commands.index(stages[-1]) :] if stages else commands
    for command in commands:
        shell = " ".join(command.value)
        if command.cmd == "ADD":
            problem(command, "DL3020", "use COPY, not ADD")
        if command.cmd in ("ENTRYPOINT", "CMD") and not command.json:
            problem(command, "DL3025", f"{command.cmd} in JSON form, so signals reach stratops")
        if command.cmd == "RUN" and "pip install" in shell and "--no-cache-dir" not in shell:
            problem(command, "DL3042", "pip install --no-cache-dir")
        if command.cmd == "RUN" and "apt-get install" in shell:
            if "--no-install-recommends" not in shell:
                problem(command, "DL3015", "apt-get install --no-install-recommends")
            if "rm -rf /var/lib/apt/lists" not in shell:
                problem(command, "DL3009", "remove /var/lib/apt/lists in the same RUN")
    users = [c for c in final if c.cmd == "USER"]
    user = users[-1].value[0].split(":")[0] if users else "root"
    expected_user = str(pod["securityContext"]["runAsUser"])
    if user != expected_user:
        where = users[-1] if users else stages[-1]
        problem(where, "DL3002", f"the final USER must be {expected_user} (runAsUser), not {user}")
    entrypoint = [c for c in final if c.cmd == "ENTRYPOINT"]
    if not entrypoint or list(entrypoint[-1].value) != container["command"]:
        problem(stages[-1], "entrypoint", f"ENTRYPOINT must be {container['command']}")
    exposed = {v.split("/")[0] for c in final if c.cmd == "EXPOSE" for v in c.value}
    ports = {str(p["containerPort"]) for p in container["ports"]}
    if exposed != ports:
        problem(stages[-1], "expose", f"EXPOSE {sorted(ports)}, the container's ports")
    env = {
        k: v
        for c in final
        if c.cmd == "ENV"
        for k, v in zip(c.value[::2], c.value[1::2], strict=True)
    }
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    if env.get("HOME") not in mounts:
        problem(stages[-1], "read-only", f"HOME must be a mounted volume ({sorted(mounts)})")
    if env.get("PYTHONDONTWRITEBYTECODE") != "1":
        problem(stages[-1], "read-only", "PYTHONDONTWRITEBYTECODE=1 on a read-only filesystem")
    return problems


def test_the_dockerfile_is_clean() -> None:
    assert lint(DOCKERFILE.read_text()) == []


def test_the_build_context_leaves_out_what_the_image_does_not_need() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "mlruns"} <= ignored


GOOD = DOCKERFILE.read_text()


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        ("FROM python:3.11.11-slim-bookworm\n", "FROM python\n", "DL3006"),
        ("FROM python:3.11.11-slim-bookworm\n", "FROM python:latest\n", "DL3006"),
        ("USER 10001:10001", "USER root", "DL3002"),
        ('ENTRYPOINT ["stratops"]', "ENTRYPOINT stratops", "DL3025"),
        ("COPY --from=build /dist /dist", "ADD dist.tar /dist", "DL3020"),
        ("pip install --no-cache-dir /dist", "pip install /dist", "DL3042"),
        ("install -y --no-install-recommends git", "install -y git", "DL3015"),
        ("    && rm -rf /var/lib/apt/lists/*\n", "", "DL3009"),
        ("EXPOSE 9090", "EXPOSE 8080", "expose"),
        ("ENV HOME=/tmp", "ENV HOME=/home/stratops", "read-only"),
        ('ENTRYPOINT ["stratops"]', 'ENTRYPOINT ["python"]', "entrypoint"),
    ],
)
def test_each_rule_catches_its_mistake(old: str, new: str, rule: str) -> None:
    assert old in GOOD
    problems = lint(GOOD.replace(old, new, 1))
    assert any(f": {rule}: " in p for p in problems), problems
