"""The demo desk: the example desk's policy and analysis, and two strategies in paper.

The policy is the example desk's, with one change written into the file with its reason: the
minimum time a version must spend in paper before a canary is seconds instead of days, so the
story runs in minutes. Every other gate is the desk's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stratops.gitops.yaml_edit import SetValue, apply_edits
from stratops.model.base import API_VERSION

MIN_TIME_IN_PAPER = "3s"
POLICY_PATH = ("spec", "rules", "trend", "canary", "min_time_in_stage", "minDuration")

STRATEGIES = {
    "btc-trend": "BTC trend follower: 9 configurations swept on 7 years of hourly candles.",
    "btc-overfit": "Deliberately overfit: 144 configurations swept on 30 days of minute bars.",
}


def strategy_manifest(name: str, comment: str) -> str:
    return f"""# {comment}
apiVersion: {API_VERSION}
kind: StrategyDeployment
metadata:
  name: {name}
spec:
  strategyType: trend
  venue: binance
  symbols: [BTC/USDT]
  owners: [research-trend]
  stages:
    paper: {{version: 1, allocation: 100000}}
  rollback: {{autoMerge: canary}}
  halt: flatten
"""


def write_demo_manifests(example: Path, target: Path) -> Path:
    """A manifests folder for the demo desk, from the example desk at ``example``."""
    shutil.copytree(example / "analysis", target / "analysis")
    (target / "policy").mkdir(parents=True)
    policy = (example / "policy" / "desk-policy.yaml").read_text(encoding="utf-8")
    edited = apply_edits(policy, [SetValue(POLICY_PATH, MIN_TIME_IN_PAPER)])
    note = (
        f"# demo: trend canaries need {MIN_TIME_IN_PAPER} in paper instead of 7d, so the story "
        "runs in minutes; every other gate is the example desk's.\n"
    )
    (target / "policy" / "desk-policy.yaml").write_text(note + edited, encoding="utf-8")
    (target / "strategies").mkdir()
    for name, comment in STRATEGIES.items():
        (target / "strategies" / f"{name}.yaml").write_text(
            strategy_manifest(name, comment), encoding="utf-8"
        )
    return target
