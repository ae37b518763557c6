"""The promotion-gates workflow a desk repository runs on GitHub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from stratops.gitops.forge.models import GATES_CONTEXT, GATES_MARKER
from stratops.gitops.scaffold import TEMPLATES, template_files

WORKFLOW = TEMPLATES / "dot-github" / "workflows" / "promotion-gates.yml"


def load() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def steps() -> list[dict[str, Any]]:
    [job] = load()["jobs"].values()
    return list(job["steps"])


def test_init_scaffolds_the_template() -> None:
    assert template_files()[Path(".github/workflows/promotion-gates.yml")] == WORKFLOW


def test_runs_on_pull_requests_touching_manifests_with_write_permissions() -> None:
    workflow = load()
    trigger = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert trigger == {"pull_request": {"paths": ["manifests/**"]}}
    assert workflow["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }


def test_checks_the_gates_between_the_pull_requests_base_and_head() -> None:
    [job] = load()["jobs"].values()
    assert job["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    assert job["env"]["HEAD_SHA"] == "${{ github.event.pull_request.head.sha }}"
    checkout = next(s for s in steps() if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    [gates] = [s for s in steps() if "stratops gates check" in s.get("run", "")]
    assert '--base "$BASE_SHA" --head "$HEAD_SHA" --output markdown' in gates["run"]
    assert gates["id"] == "gates"
    assert steps()[-1]["run"] == 'exit "${EXIT_CODE:-2}"'


def test_keeps_one_sticky_comment_and_records_the_status() -> None:
    scripts = [s for s in steps() if s.get("uses") == "actions/github-script@v7"]
    comment, status = (s["with"]["script"] for s in scripts)
    assert all(s["if"] == "always()" for s in scripts)
    assert f"const marker = '{GATES_MARKER}';" in comment
    assert "github.rest.issues.updateComment" in comment
    assert "github.rest.issues.createComment" in comment
    assert "github.paginate(github.rest.issues.listComments" in comment
    assert f"context: '{GATES_CONTEXT}'" in status
    assert "createCommitStatus" in status
