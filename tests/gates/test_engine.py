"""The engine and its report: verdicts, failing closed, canonical bytes and determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from builders import context, evidence

from stratops.gates.engine import checks_for, evaluate
from stratops.gates.result import CheckStatus
from stratops.gitops.desk import Source, parse_source
from stratops.model.base import Stage
from stratops.model.policy import GatePolicy

POLICY_FILE = (
    Path(__file__).resolve().parents[2]
    / "stratops"
    / "data"
    / "example-desk"
    / "policy"
    / "desk-policy.yaml"
)


def load_policy(text: str) -> GatePolicy:
    source = parse_source(text, "policy.yaml")
    assert isinstance(source, Source), source
    assert isinstance(source.document, GatePolicy)
    return source.document


POLICY = load_policy(POLICY_FILE.read_text())


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_every_configured_check_runs_once() -> None:
    report = evaluate(evidence(), POLICY, context())
    assert [r.name for r in report.checks] == list(checks_for(POLICY, context()))
    assert len(report.checks) == 16


def test_inconclusive_required_check_fails_closed() -> None:
    report = evaluate(evidence(), POLICY, context(in_stage_since=None))
    by_name = {r.name: r for r in report.checks}
    assert by_name["min_time_in_stage"].status is CheckStatus.INCONCLUSIVE
    assert report.verdict == "fail"


def test_advisory_check_does_not_block() -> None:
    data = yaml.safe_load(POLICY_FILE.read_text())
    data["spec"]["rules"]["trend"]["canary"] = {
        "min_time_in_stage": {"minDuration": "30d", "required": False},
        "stage_order": {},
    }
    policy = load_policy(yaml.safe_dump(data))
    report = evaluate(evidence(), policy, context())
    advisory = next(r for r in report.checks if r.name == "min_time_in_stage")
    assert advisory.status is CheckStatus.FAIL
    assert not advisory.blocks
    assert report.verdict == "pass"


def test_paper_has_no_gates() -> None:
    report = evaluate(
        evidence(), POLICY, context(target_stage=Stage.PAPER, current_stage=None, version=5)
    )
    assert report.checks == []
    assert report.verdict == "pass"


def test_live_without_canary_analysis_fails() -> None:
    report = evaluate(
        evidence(),
        POLICY,
        context(target_stage=Stage.LIVE, current_stage=Stage.CANARY, allocation=1_000_000.0),
    )
    canary = next(r for r in report.checks if r.name == "canary_analysis")
    assert canary.status is CheckStatus.INCONCLUSIVE
    assert report.verdict == "fail"


def test_report_lists_every_input_digest() -> None:
    report = evaluate(evidence(), POLICY, context())
    document = json.loads(report.canonical)
    assert document["inputs"]["evidence_digest"] == "e" * 64
    assert set(document["inputs"]["evidence_files"]) == {"returns.parquet", "trials.parquet"}
    assert len(document["inputs"]["policy_digest"]) == 64
    assert len(report.digest) == 64


def test_policy_key_order_does_not_change_the_digest() -> None:
    reordered = load_policy(yaml.safe_dump(reversed_keys(yaml.safe_load(POLICY_FILE.read_text()))))
    first = evaluate(evidence(), POLICY, context())
    second = evaluate(evidence(), reordered, context())
    assert first.canonical == second.canonical


def test_any_input_change_changes_the_digest() -> None:
    base = evaluate(evidence(), POLICY, context()).digest
    assert evaluate(evidence(digest="d" * 64), POLICY, context()).digest != base
    assert evaluate(evidence(), POLICY, context(allocation=60_000.0)).digest != base


def test_markdown_puts_blocking_checks_first() -> None:
    report = evaluate(evidence(), POLICY, context(in_stage_since=None, current_stage=None))
    table = [line for line in report.markdown().splitlines() if line.startswith("| ")][1:]
    marks = [row.split("|")[1].strip() for row in table]
    blocking = sum(r.blocks for r in report.checks)
    assert blocking >= 2
    assert all(mark in {"❌", "⚠️"} for mark in marks[:blocking])
    assert report.digest in report.markdown()


DIGEST_SCRIPT = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from pathlib import Path
from builders import context, evidence
from stratops.gates.engine import evaluate
from test_engine import load_policy
print(evaluate(evidence(), load_policy(Path(sys.argv[1]).read_text()), context()).digest)
"""


def test_separate_processes_and_hash_seeds_agree(tmp_path: Path) -> None:
    reordered = tmp_path / "policy.yaml"
    reordered.write_text(yaml.safe_dump(reversed_keys(yaml.safe_load(POLICY_FILE.read_text()))))
    digests = set()
    for seed, policy in (("1", POLICY_FILE), ("4242", reordered)):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        output = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT, str(policy)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(output.stdout.strip())
    assert digests == {evaluate(evidence(), POLICY, context()).digest}
