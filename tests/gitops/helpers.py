"""Test doubles that are real: a registry of evidence for the gate engine, git helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from datetime import timedelta
from functools import cache
from pathlib import Path

import numpy as np

from stratops.gates.context import GateContext
from stratops.gates.engine import evaluate
from stratops.gates.report import GateReport
from stratops.gitops.errors import UnknownVersion
from stratops.gitops.evaluation import GateRequest
from stratops.model.base import Stage
from stratops.model.evidence_data import EvidenceData

# tests/gates/builders.py: seeded evidence for the gate engine
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gates"))
import builders

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_MANIFESTS = REPO / "stratops" / "data" / "example-desk"

# (strategy, version) → whether its evidence passes every gate of the example policy
REGISTERED: dict[tuple[str, int], bool] = {
    **{("btc-trend", v): True for v in (3, 4, 5, 6)},
    ("btc-trend", 7): False,  # overfit: its probability of backtest overfitting fails
    **{("eth-btc-meanrev", v): True for v in (1, 2)},
    ("btc-mm", 1): True,
}


@cache
def _evidence(good: bool) -> EvidenceData:
    evidence = builders.evidence(hourly_mean=0.0004, hourly_vol=0.003, latency_ms=1.0)
    if not good:
        return evidence
    trials = np.random.default_rng(3).normal(0.0, 0.02, (400, 20))
    trials[:, 0] += 0.01  # one trial dominates in and out of sample: no overfitting
    return dataclasses.replace(evidence, trials=trials)


def evidence_of(strategy: str, version: int) -> EvidenceData:
    key = (strategy, version)
    if key not in REGISTERED:
        known = [v for (s, v) in REGISTERED if s == strategy]
        raise UnknownVersion(strategy, version, known)
    digest = hashlib.sha256(f"{strategy}/v{version}".encode()).hexdigest()
    return dataclasses.replace(_evidence(REGISTERED[key]), digest=digest)


def registry_evaluator(request: GateRequest) -> GateReport:
    """A GateEvaluator over an in-memory registry: the real engine on seeded evidence."""
    context = GateContext(
        strategy=request.strategy,
        version=request.version,
        strategy_type=request.strategy_type,
        target_stage=request.target_stage,
        allocation=request.allocation,
        as_of=request.as_of,
        current_stage=request.current_stage,
        in_stage_since=request.as_of - timedelta(days=10),
        retired=request.retired,
        registry_trials=20,
        canary_analysis="passed" if request.target_stage is Stage.LIVE else None,
    )
    return evaluate(evidence_of(request.strategy, request.version), request.policy, context)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def clone(remote: Path, target: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(remote), str(target)], check=True)
    return target


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "-m", message)
    return git(cwd, "rev-parse", "HEAD")
