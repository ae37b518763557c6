"""Benchmark: a canary's ``haltOn`` breach → halted → rollback PR → merged → stopped, end to end.

Run from the repository root (``bench_canary.py`` runs it after the judge; alone)::

    .venv/bin/python benchmarks/bench_canary_rollback.py            # table
    .venv/bin/python benchmarks/bench_canary_rollback.py --json     # JSON only
    .venv/bin/python benchmarks/bench_canary_rollback.py --interval 5 --speed 600

Goals (issue 15): a ``haltOn`` breach halts the deployment within one controller tick;
halted → rollback pull request open <= 5 s; rollback merged → canary process stopped and
``canary`` alias cleared <= interval + 5 s.

Everything is real but GitHub: ``stratops controller run`` as a subprocess (``--interval``,
local runtime with real paper processes replaying at ``--speed``), a desk with a bare git remote
and the local forge (``tests/controller/desk``), the embedded MLflow with btc-trend v1 (a real
trend model, synthetic evidence). Its ``trend-canary`` template is changed before the
controller's first tick (so its rules are trusted): a 1-hour window and ``haltOn: drawdown
above 1e-7``, any loss of the canary's allocation, as ``tests/controller/test_canary_judging.py``
does. The canary promotion is made as people make it (promote, CI's gate check, an approval)
and merged right after a tick; then the benchmark polls every 50 ms (runtime, forge, MLflow)
until the canary is gone and its alias cleared. ``rollback: {autoMerge: canary}``: the
controller merges its own rollback PR.

Measured (wall clock, one run):

- **breach → halted**: from the breach's bar being written, the modification time of the first
  telemetry part holding a PnL bar at or after the end of the window whose measurement tripped
  ``haltOn`` (parts are written once and renamed into place: their mtime is when the bar became
  readable), to the ``halt`` audit event (appended once the process acknowledged the halt).
  *Ticks*: the controller ticks that started after the breach was written, up to and including
  the one that halted (1: within one tick; a tick that started before the bar was written could
  not see it).
- **halted → rollback PR open**: the ``halt`` to the ``rollback_opened`` audit event.
- **merged → stopped and cleared**: the ``rollback_merged`` audit event to the first poll that
  sees no canary deployment in ``LocalRuntime.list()``, no process mentioning its folder, and
  no ``canary`` alias in MLflow.

No timed assertion anywhere: figures and goals are printed. Every process started is stopped at
the end, on error too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from controller_fixtures import (
    TEST_DESK,
    PromotionDesk,
    build_promotion_desk,
    controller_ticks,
    free_port,
    isolate_git,
    prepare_promotion,
    start_controller,
    stop_controller,
    trend_model_and_bundle,
    wait_for,
)

from stratops.controller.analyses import AnalysisStore
from stratops.controller.assembly import ControllerPaths
from stratops.controller.audit import AuditEvent, AuditLog
from stratops.gitops.forge.models import PullState
from stratops.gitops.pulls import merge_pull_request
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.runtime.local import LocalRuntime, process_table

STRATEGY = "btc-trend"
BRANCH = f"rollback/{STRATEGY}/v1-canary"
GOAL_OPEN_SECONDS = 5.0
GOAL_STOP_SLACK_SECONDS = 5.0
POLL_SECONDS = 0.05
DEPLOY_TIMEOUT_SECONDS = 120.0


def halting_manifests(folder: Path) -> Path:
    """The test desk, its trend-canary halting on any drawdown over a 1-hour window."""
    shutil.copytree(TEST_DESK, folder)
    template = folder / "analysis" / "trend-canary.yaml"
    text = template.read_text(encoding="utf-8")
    assert "above: 0.05" in text and "window: 4h" in text
    template.write_text(
        text.replace("above: 0.05", "above: 0.0000001").replace("window: 4h", "window: 1h"),
        encoding="utf-8",
    )
    return folder


@dataclass
class Seen:
    """What the polls saw, each at the wall time (``time.time()``) of its first poll."""

    halted: float | None = None
    pull_open: float | None = None
    merged: float | None = None
    cleared: float | None = None
    ticks: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (seen, log line)


def _canary_gone(desk: PromotionDesk, runtime: LocalRuntime) -> bool:
    if any(s.spec.stage is Stage.CANARY for s in runtime.list()):
        return False
    marker = f"{runtime.folder(STRATEGY, Stage.CANARY)}{os.sep}"
    if any(marker in cmdline for _, cmdline in process_table()):
        return False
    return Stage.CANARY not in desk.registry.stage_aliases(STRATEGY)


def watch(desk: PromotionDesk, runtime: LocalRuntime, log: Path, timeout: float) -> Seen:
    """Poll until the canary is stopped and its alias cleared after the rollback merged."""
    seen = Seen()
    deadline = time.monotonic() + timeout
    while seen.cleared is None:
        if time.monotonic() > deadline:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"no rollback within {timeout:.0f} s; controller log:\n{tail}")
        now = time.time()
        lines = controller_ticks(log)
        seen.ticks.extend((now, line) for line in lines[len(seen.ticks) :])
        states = {s.spec.stage: s.state for s in runtime.list()}
        if seen.halted is None and states.get(Stage.CANARY) is DeploymentState.HALTED:
            seen.halted = now
        pulls = desk.forge.list_pull_requests(state=None, head_branch=BRANCH)
        if pulls and seen.pull_open is None:
            seen.pull_open = now
        if pulls and seen.merged is None and pulls[0].state is PullState.MERGED:
            seen.merged = now
        if seen.merged is not None and _canary_gone(desk, runtime):
            seen.cleared = now
        time.sleep(POLL_SECONDS)
    return seen


def breach_written(runtime: LocalRuntime, end: datetime) -> tuple[float, Path]:
    """When the first PnL part holding a bar at or after ``end`` was written, and which."""
    parts = sorted(
        (runtime.root / ".removed").glob(f"{STRATEGY}--canary-*/v1/telemetry/pnl/*/part-*.parquet")
    )
    found = []
    for part in parts:
        stamps = pq.read_table(part, columns=["ts"]).column("ts")
        if len(stamps) and pc.max(stamps).as_py() >= end:
            found.append((part.stat().st_mtime, part))
    if not found:
        raise RuntimeError(f"no telemetry part reaches {end.isoformat()} among {len(parts)}")
    return min(found)


def _tick(log: Path, kind: str) -> list[dict[str, Any]]:
    """The controller ticks that applied ``kind`` to the canary (as their log lines say)."""
    return [t for t in controller_ticks(log) if f"{kind} {STRATEGY}/canary" in t["applied"]]


def _event(events: list[AuditEvent], action: str) -> AuditEvent:
    return next(e for e in events if e.action == action and e.stage == Stage.CANARY.value)


def measure(scratch: Path, interval: float, speed: float, quiet: bool) -> dict[str, Any]:
    _note("trend model and evidence", quiet)
    model, bundle = trend_model_and_bundle(scratch)
    desk = build_promotion_desk(
        scratch / "desk", model, bundle, halting_manifests(scratch / "manifests")
    )
    paths = ControllerPaths(desk.root)
    runtime = LocalRuntime(paths.runtime)
    log = scratch / "controller.log"
    _note(f"controller: --interval {interval:g} --speed {speed:g}", quiet)
    controller = start_controller(desk.root, interval, free_port(), log, speed)
    try:
        wait_for(
            lambda: any(s.state is DeploymentState.RUNNING for s in runtime.list()),
            DEPLOY_TIMEOUT_SECONDS,
            "paper to run",
            log,
        )
        time.sleep(2.1)  # the policy wants 1 s in paper; as-of is in whole seconds
        number = prepare_promotion(desk)
        ticked = len(controller_ticks(log))
        wait_for(lambda: len(controller_ticks(log)) > ticked, interval * 3 + 30, "a tick", log)
        merge_pull_request(desk.repo, desk.forge, number)
        _note("canary promotion merged: watching for the breach, the halt and the rollback", quiet)
        seen = watch(desk, runtime, log, DEPLOY_TIMEOUT_SECONDS + 10 * interval)
        wait_for(lambda: bool(_tick(log, "remove")), 60, "the removing tick's log line", log)
    finally:
        stop_controller(controller)
        for status in runtime.list():
            runtime.remove(status.spec.strategy, status.spec.stage, actor="bench", reason="done")
    run = AnalysisStore(paths.analyses).load(STRATEGY, 1)
    assert run is not None and run.halt, "the canary's run did not trip haltOn"
    tripped = next(m for m in run.measurements if m.halt)
    written, part = breach_written(runtime, tripped.end)
    events = AuditLog(paths.audit).events()
    halt, opened = _event(events, "halt"), _event(events, "rollback_opened")
    merged = _event(events, "rollback_merged")
    halted_at, opened_at = halt.at.timestamp(), opened.at.timestamp()
    merged_at = merged.at.timestamp()
    removed, cleared = _event(events, "remove"), _event(events, "clear_alias")
    (applying,) = _tick(log, "remove")
    assert seen.cleared is not None
    halting = next(
        i for i, (_, t) in enumerate(seen.ticks) if f"halt {STRATEGY}/canary" in t["applied"]
    )
    started = [at - float(t["seconds"]) for at, t in seen.ticks[: halting + 1]]
    return {
        "interval_s": interval,
        "speed": speed,
        "tripped": run.reason,
        "breach_window_end": tripped.end.isoformat(),
        "breach_part": str(part.relative_to(runtime.root)),
        "breach_to_halted_s": halted_at - written,
        "ticks_to_halt": sum(1 for at in started if at >= written),
        "halting_tick_s": float(seen.ticks[halting][1]["seconds"]),
        "halted_to_pr_open_s": opened_at - halted_at,
        "merged_to_cleared_s": seen.cleared - merged_at,
        "merged_to_remove_event_s": removed.at.timestamp() - merged_at,
        "merged_to_clear_alias_event_s": cleared.at.timestamp() - merged_at,
        "removing_tick_s": float(applying["seconds"]),
        "polls": {
            "halted_seen_after_event_s": (seen.halted or float("nan")) - halted_at,
            "pr_seen_after_event_s": (seen.pull_open or float("nan")) - opened_at,
        },
        "goals": {
            "ticks_to_halt": 1,
            "halted_to_pr_open_s": GOAL_OPEN_SECONDS,
            "merged_to_cleared_s": interval + GOAL_STOP_SLACK_SECONDS,
        },
        "story": [e.action for e in events if e.stage == Stage.CANARY.value],
    }


def _note(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"... {message}", file=sys.stderr, flush=True)


def run(interval: float, speed: float, quiet: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-canary-rollback-") as scratch_name:
        scratch = Path(scratch_name)
        isolate_git(scratch / "home")
        result = measure(scratch, interval, speed, quiet)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def print_table(result: dict[str, Any]) -> None:
    goals = result["goals"]
    met = {
        "ticks": result["ticks_to_halt"] <= goals["ticks_to_halt"],
        "open": result["halted_to_pr_open_s"] <= goals["halted_to_pr_open_s"],
        "cleared": result["merged_to_cleared_s"] <= goals["merged_to_cleared_s"],
    }

    def verdict(key: str) -> str:
        return "met" if met[key] else "NOT met"

    load = result["load_average"]
    print(
        f"canary halt and rollback: controller --interval {result['interval_s']:g}, replay "
        f"--speed {result['speed']:g} (load average {load['before'][0]:.2f} before, "
        f"{load['after'][0]:.2f} after)"
    )
    print(f"  tripped: {result['tripped']} (window ending {result['breach_window_end']})")
    print(
        f"  haltOn breach → halted          {result['breach_to_halted_s']:7.2f} s in "
        f"{result['ticks_to_halt']} tick(s) (goal 1 tick: {verdict('ticks')}); the halting "
        f"tick took {result['halting_tick_s']:.2f} s"
    )
    print(
        f"  halted → rollback PR open        {result['halted_to_pr_open_s']:7.2f} s "
        f"(goal <= {goals['halted_to_pr_open_s']:g} s: {verdict('open')})"
    )
    print(
        f"  merged → stopped, alias cleared  {result['merged_to_cleared_s']:7.2f} s "
        f"(goal <= interval + {GOAL_STOP_SLACK_SECONDS:g} = {goals['merged_to_cleared_s']:g} s: "
        f"{verdict('cleared')})"
    )
    print(
        f"    (audit: remove {result['merged_to_remove_event_s']:.2f} s, clear_alias "
        f"{result['merged_to_clear_alias_event_s']:.2f} s after the merge, in the next tick "
        f"after the interval; that tick took {result['removing_tick_s']:.2f} s)"
    )
    print(f"  audit story of the canary: {' → '.join(result['story'])}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float, default=5.0, help="controller interval (5)")
    parser.add_argument(
        "--speed", type=float, default=600.0, help="replay speed of the canary (600)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    add_arguments(parser)
    args = parser.parse_args()
    result = run(args.interval, args.speed, bool(args.json))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
