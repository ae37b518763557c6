"""The demo desk: the example desk's policy and analysis, three strategies in paper, a canary
template for the demo's accelerated clock, and the configuration of the costly version.

The policy is the example desk's, with two changes written into the file with their reason:
the minimum time a version must spend in paper before a canary, and in canary before live, is
seconds instead of days, so the story runs in minutes. Every other gate is the desk's own.

The demo's canaries replay the evidence's hourly candles, from Binance's first months of
BTC/USDT (August 2017), four days a second. ``demo-canary`` measures over two weeks of replayed
market time, with slippage thresholds measured on a healthy paper canary of that market (a
trend follower's 2,500 USDT orders paid 37 bps at the median, 62 bps in the worst two days, on
books a hundred times thinner than 2024's).

Both canaries are judged by that template. ``btc-trend-costly`` is the same model and the same
evidence as ``btc-trend``, registered with a configuration (:data:`COSTLY_CONFIG`) whose orders
pay more than the evidence's backtest simulated: the retail fee tier and a router that sweeps
the book (square-root impact coefficient 3 instead of the calibrated 0.9). Its slippage over
two weeks of 2017 comes to 80-160 bps, over every threshold of the template.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stratops.gitops.yaml_edit import SetValue, apply_edits
from stratops.model.base import API_VERSION

MIN_TIME_IN_PAPER = "3s"
MIN_TIME_IN_CANARY = "1s"
POLICY_PATH = ("spec", "rules", "trend", "canary", "min_time_in_stage", "minDuration")
LIVE_POLICY_PATH = ("spec", "rules", "trend", "live", "min_time_in_stage", "minDuration")
CANARY_MIN_DURATION = "20d"  # market time of the replay: five seconds at the demo's speed
REPLAY_SPEED = "345600"  # four days of hourly candles a second
CANARY_TEMPLATE = "demo-canary"
COSTLY = "btc-trend-costly"

STRATEGIES = {
    "btc-trend": "BTC trend follower: 9 configurations swept on 7 years of hourly candles.",
    "btc-overfit": "Deliberately overfit: 144 configurations swept on 30 days of minute bars.",
    COSTLY: "The same trend follower, its orders sent through a costlier execution path.",
}

COSTLY_CONFIG = """\
# btc-trend's model and evidence, deployed through the desk's retail account and a router that
# sweeps the book instead of working the order. The evidence's backtest ran at the engine's
# defaults (4 bps taker, impact coefficient 0.9): these orders pay more than it said.
execution:
  takerFeeBps: 10          # Binance spot VIP 0 (the desk's tier: 4)
  impactCoefficient: 3     # square-root impact k (calibrated on Binance: 0.9)
"""


def canary_template(name: str, comment: str, slippage: str, failures: int) -> str:
    """A canary template on the demo's clock: two-week windows of replayed market time, a
    measurement every two days; a window without a fill is inconclusive, not failed."""
    return f"""# {comment}
# demo: windows of 14 days of replayed market time (the example desk's: 4h) and a minimum of
# {CANARY_MIN_DURATION}, so a trend follower trading every few days is judged within seconds
# of wall time at the demo's replay speed ({REPLAY_SPEED}x).
apiVersion: {API_VERSION}
kind: AnalysisTemplate
metadata:
  name: {name}
spec:
  interval: 2d
  window: 14d
  minSamples: 1
  minPassed: 3
  minDuration: {CANARY_MIN_DURATION}
  failureLimit: {failures}
  consecutiveFailureLimit: {failures}
  inconclusiveLimit: 20
  metrics:
    - metric: slippage_bps
      condition: max
      thresholds: {slippage}
  haltOn:
    - metric: reject_rate
      above: 0.2
"""


TEMPLATES = {
    CANARY_TEMPLATE: canary_template(
        CANARY_TEMPLATE,
        "Slippage thresholds of BTC/USDT in 2017 (what a healthy paper canary paid then).",
        "{peak: 60, normal: 60, thin: 80}",
        3,
    ),
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
    edited = apply_edits(
        policy,
        [
            SetValue(POLICY_PATH, MIN_TIME_IN_PAPER),
            SetValue(LIVE_POLICY_PATH, MIN_TIME_IN_CANARY),
        ],
    )
    note = (
        f"# demo: trend canaries need {MIN_TIME_IN_PAPER} in paper instead of 7d, and live "
        f"{MIN_TIME_IN_CANARY} in canary instead of 24h\n# (the canary's analysis decides, on "
        "its replay clock), so the story runs in minutes; every other gate is the example "
        "desk's.\n"
    )
    (target / "policy" / "desk-policy.yaml").write_text(note + edited, encoding="utf-8")
    for name, text in TEMPLATES.items():
        (target / "analysis" / f"{name}.yaml").write_text(text, encoding="utf-8")
    (target / "strategies").mkdir()
    for name, comment in STRATEGIES.items():
        (target / "strategies" / f"{name}.yaml").write_text(
            strategy_manifest(name, comment), encoding="utf-8"
        )
    return target
