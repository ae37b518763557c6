"""Benchmark: the controller — an idle tick over 1,000 strategies, merge → running.

Run from the repository root::

    .venv/bin/python benchmarks/bench_controller.py                  # table
    .venv/bin/python benchmarks/bench_controller.py --json           # JSON only
    .venv/bin/python benchmarks/bench_controller.py --profile        # + cProfile (stderr)
    .venv/bin/python benchmarks/bench_controller.py --strategies 200 --skip-latency

Goals: with 1,000 strategies and nothing to do, one reconcile tick (git fetch
excluded) takes <= 0.25 s on the embedded MLflow; a merge reaches a running deployment within
the controller's interval + 5 s.

1. **Idle tick.** A desk (``init_desk``: local bare remote and local forge) declares
   ``s0000``... each in paper only; the embedded MLflow holds one version of each (``s0000``
   registered with a real trend model and synthetic evidence, the others created through
   MLflow's client on the same run, so each verifies; not timed). The real ``LocalRuntime``
   runs one tiny ``sleep`` per deployment (its argv[0] is the deployment's telemetry path,
   which is how the runtime finds its processes in ``/proc``). A first, converging tick starts
   the deployments and moves the ``paper`` aliases (timed and reported on its own, with its
   cost per action); then ``Reconciler.tick(fetch=False)`` runs on the idle desk:

   - *warm*: the same reconciler tick after tick, as ``stratops controller run`` does (the desk
     parsed at a commit is kept while main does not move);
   - *cold*: a new reconciler per tick, so the desk is read from Git and validated again
     (what the first tick after any new commit pays): its trees are read, and each file is
     parsed once per content (:mod:`stratops.gitops.snapshot` keeps parses by blob id), so
     only changed files would be parsed again;
   - *first of a process*: a cold tick with no parse kept (``forget_parses``): every manifest
     read and parsed, as the first tick of a new controller process does.

   Every idle plan must be empty. A breakdown times the parts of a tick one by one.
   *Reference*, measured in the same run: the check a naive controller would do — parse every
   manifest of the checkout with ``yaml.safe_load``, one MLflow ``get_registered_model`` per
   strategy for its aliases, read each ``deployment.json`` and ``os.kill(pid, 0)`` its process.
   Ratios are reference / stratops: above 1, stratops is faster.

2. **Merge → running.** A one-strategy desk (``tests/controller/desk``: a real trend model and
   synthetic evidence, registered through the registry) and ``stratops controller run`` as a
   subprocess (local runtime with real paper processes, ``--interval 10``). Once paper runs,
   the canary promotion is prepared as people do it (promote, CI's gate check published, a
   reviewer approves), merged right after a tick ended (the worst phase for the interval), and
   the wall time from the merge returning to the canary being RUNNING in ``LocalRuntime.list()``
   is measured (50 ms polls): once waiting for the interval, once poking ``POST /webhook``
   right after the merge. Each uses a fresh desk and controller.

Git runs with a throw-away HOME and identity: the user's git configuration is never touched.
Every process started is stopped at the end, on error too.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from controller_fixtures import (
    build_promotion_desk,
    controller_ticks,
    free_port,
    isolate_git,
    prepare_promotion,
    register_shared_versions,
    seed_deployments,
    set_aliases_directly,
    sleep_command,
    start_controller,
    stop_controller,
    strategy_name,
    trend_model_and_bundle,
    unsynchronised_sqlite,
    wait_for,
    write_manifests,
)
from mlflow.tracking import MlflowClient

from stratops.controller.admit import admit
from stratops.controller.assembly import ControllerPaths, build_reconciler
from stratops.controller.plan import ActionKind, desired_specs, plan_tick
from stratops.controller.reconcile import Reconciler, TickResult
from stratops.gitops.forge.select import ForgeKind
from stratops.gitops.git import GitRepo
from stratops.gitops.pulls import merge_pull_request
from stratops.gitops.scaffold import init_desk
from stratops.gitops.snapshot import desk_at, forget_parses
from stratops.model.base import Stage
from stratops.model.deployment import DeploymentState
from stratops.registry.location import resolve_location
from stratops.registry.registry import Registry
from stratops.runtime.local import RECORD, LocalRuntime, process_table

GOAL_IDLE_SECONDS = 0.25
GOAL_LATENCY_SLACK_SECONDS = 5.0
SAMPLE = 20
REFERENCE_RUNS = 3
DEPLOY_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.05
PROFILE_LINES = 25


# measuring


def _stats(samples: list[float]) -> dict[str, Any]:
    return {
        "best_s": min(samples),
        "median_s": statistics.median(samples),
        "samples_s": samples,
    }


@contextmanager
def _timed_methods(targets: dict[str, tuple[object, str]]) -> Iterator[dict[str, list[float]]]:
    """Time calls of methods of objects (instance attributes wrap them, then are removed)."""
    spent: dict[str, list[float]] = {label: [] for label in targets}

    def wrapper(label: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[label].append(time.perf_counter() - start)

        return timed

    wrapped = []
    for label, (target, name) in targets.items():
        setattr(target, name, wrapper(label, getattr(target, name)))
        wrapped.append((target, name))
    try:
        yield spent
    finally:
        for target, name in wrapped:
            delattr(target, name)


def _profile(call: Callable[[], object]) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
    stats.sort_stats("tottime").print_stats(PROFILE_LINES)
    return out.getvalue()


def _note(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"... {message}", file=sys.stderr, flush=True)


# processes


def _stop_processes(marker: str, grace: float = 10.0) -> int:
    """SIGTERM every process whose command line mentions ``marker``, SIGKILL the stragglers."""
    pids = [pid for pid, cmdline in process_table() if marker in cmdline and pid != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + grace
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [pid for pid in left if _running(pid)]
        if left:
            time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    while any(_running(pid) for pid in left):
        time.sleep(0.01)
    return len(pids)


def _running(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# 1. idle tick


def reference_idle_check(root: Path, client: MlflowClient, runtime_root: Path) -> int:
    """A naive controller's idle check; returns how many differences it found (0: idle)."""
    desired: dict[str, dict[str, tuple[int, float]]] = {}
    for path in sorted((root / "manifests" / "strategies").glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        desired[document["metadata"]["name"]] = {
            stage: (int(entry["version"]), float(entry["allocation"]))
            for stage, entry in document["spec"]["stages"].items()
        }
    differences = 0
    for name, stages in desired.items():
        aliases = client.get_registered_model(name).aliases or {}
        if {stage: int(v) for stage, v in aliases.items()} != {
            s: v for s, (v, _) in stages.items()
        }:
            differences += 1
        for stage, (version, allocation) in stages.items():
            try:
                record = json.loads((runtime_root / f"{name}--{stage}" / RECORD).read_text())
            except FileNotFoundError:
                differences += 1
                continue
            try:
                os.kill(record["pid"], 0)
            except ProcessLookupError:
                differences += 1
                continue
            spec = record["spec"]
            if spec["version"] != version or spec["allocation"] != allocation:
                differences += 1
    return differences


@dataclass
class IdleDesk:
    root: Path
    registry: Registry
    runtime: LocalRuntime
    reconciler: Reconciler
    names: list[str]
    setup_s: dict[str, float] = field(default_factory=dict)

    def fresh_reconciler(self) -> Reconciler:
        runtime = self.runtime
        return build_reconciler(
            self.root, forge=ForgeKind.LOCAL, env={}, runtime=lambda _root, _reg: runtime
        )


def build_idle_desk(scratch: Path, count: int) -> IdleDesk:
    names = [strategy_name(index) for index in range(count)]
    setup: dict[str, float] = {}
    start = time.perf_counter()
    manifests = write_manifests(scratch / "manifests", names)
    scaffold = init_desk(scratch / "desk", manifests)
    repo = GitRepo(scaffold.root)
    assert repo.remote_main() == repo.rev_parse("HEAD")
    assert len(repo.files(scaffold.commit, "manifests/strategies")) == count
    setup["desk_s"] = time.perf_counter() - start
    start = time.perf_counter()
    registry = Registry(resolve_location(None, environ={}, desk=lambda: scaffold.root))
    model, bundle = trend_model_and_bundle(scratch)
    with unsynchronised_sqlite(registry):
        register_shared_versions(registry, names, model, bundle)
    setup["registry_s"] = time.perf_counter() - start
    runtime = LocalRuntime(ControllerPaths(scaffold.root).runtime, command=sleep_command)
    reconciler = build_reconciler(
        scaffold.root, forge=ForgeKind.LOCAL, env={}, runtime=lambda _root, _reg: runtime
    )
    return IdleDesk(scaffold.root, registry, runtime, reconciler, names, setup)


def converge(desk: IdleDesk, mode: str, quiet: bool) -> dict[str, Any]:
    """The first tick: start the deployments, move the paper aliases; timed per action.

    ``full``: the tick does it all. ``sample``: all but ``SAMPLE`` strategies are
    started and aliased beforehand (see ``seed_deployments``), so the tick converges the rest
    with every other deployment already running: per-action costs at full scale.
    """
    seeded = desk.names[SAMPLE:] if mode == "sample" else []
    seed_s = {"processes_s": 0.0, "aliases_s": 0.0}
    if seeded:
        start = time.perf_counter()
        head = desk.reconciler.repo.remote_main()
        strategies = desk_at(desk.reconciler.repo, head).strategies
        specs = desired_specs([strategies[name] for name in seeded], head)
        seed_deployments(desk.runtime, specs.values())
        seed_s["processes_s"] = time.perf_counter() - start
        start = time.perf_counter()
        with unsynchronised_sqlite(desk.registry):
            set_aliases_directly(desk.registry, seeded, Stage.PAPER, 1)
        seed_s["aliases_s"] = time.perf_counter() - start
    todo = len(desk.names) - len(seeded)
    _note(f"converging tick: {todo} deployment(s) to start, {len(seeded)} seeded", quiet)
    reconciler = desk.reconciler
    with _timed_methods(
        {
            "runtime.deploy": (reconciler.runtime, "deploy"),
            "registry.set_stage_alias": (reconciler.registry, "set_stage_alias"),
            "audit.append": (reconciler.audit, "append"),
            "journal write (fsync)": (reconciler.journal, "_write"),
        }
    ) as spent:
        result = reconciler.tick(fetch=False)
    if result.failed or result.problems or result.refused:
        raise RuntimeError(f"converging tick failed: {result.failed[:3]} {result.problems}")
    kinds = [action.kind for action in result.applied]
    deploys, aliases = kinds.count(ActionKind.DEPLOY), kinds.count(ActionKind.SET_ALIAS)
    assert (deploys, aliases) == (todo, todo), f"{deploys} deployed, {aliases} aliased of {todo}"
    statuses = desk.runtime.list()
    assert len(statuses) == len(desk.names)
    assert all(status.state is DeploymentState.RUNNING for status in statuses)
    per_action = {
        label: {"calls": len(times), "total_s": sum(times), "mean_s": _mean(times)}
        for label, times in spent.items()
    }
    per_strategy = sum(part["total_s"] for part in per_action.values()) / todo
    return {
        "mode": mode,
        "seconds": result.seconds,
        "deployments_started": deploys,
        "aliases_moved": aliases,
        "seeded": len(seeded),
        "seed_s": seed_s,
        "per_action": per_action,
        "rest_s": result.seconds - sum(part["total_s"] for part in per_action.values()),
        "per_strategy_s": per_strategy,
        "estimated_full_s": result.seconds + len(seeded) * per_strategy,
    }


def _mean(samples: list[float]) -> float:
    return sum(samples) / len(samples) if samples else 0.0


def _idle_tick(reconciler: Reconciler) -> TickResult:
    result = reconciler.tick(fetch=False)
    idle = result.plan is not None and result.plan.empty and not result.applied
    if not idle or result.problems or result.blocked:
        planned = None if result.plan is None else result.plan.actions[:3]
        blocked = list(result.blocked.items())[:3]
        raise RuntimeError(f"the desk is not idle: {planned} {result.problems} {blocked}")
    return result


def _first_tick_of_a_process(desk: IdleDesk) -> float:
    """A cold tick with no parse kept (:func:`forget_parses`): every manifest parsed again."""
    forget_parses()
    return _idle_tick(desk.fresh_reconciler()).seconds


def breakdown(desk: IdleDesk) -> dict[str, float]:
    """The parts of an idle tick, each timed alone (same calls as the tick makes)."""
    reconciler = desk.fresh_reconciler()
    parts: dict[str, float] = {}

    def timed(label: str, call: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = call()
        parts[label] = time.perf_counter() - start
        return value

    head = timed("read origin/main (refs, in process)", reconciler.repo.remote_main)
    state = timed("load state.json", reconciler.observer.state)
    timed("is main a descendant of the applied", lambda: reconciler.repo.is_ancestor(head, head))
    forget_parses()
    timed("read + parse + validate the desk (first)", lambda: reconciler.observer.desk(head))
    timed("read trees + validate the desk (cold)", lambda: reconciler.observer.desk(head))
    snapshot = timed("the whole snapshot", lambda: reconciler.observer.read(fetch=False))
    timed("runtime.list() (/proc scan + records)", reconciler.runtime.list)
    timed("registry.observe_stage_aliases()", reconciler.registry.observe_stage_aliases)
    admission = timed("admit (pure)", lambda: admit(snapshot))
    assert snapshot.observed is not None
    timed(
        "plan",
        lambda: plan_tick(
            admission.effective,
            snapshot.observed or {},
            snapshot.aliases,
            snapshot.evidence,
            snapshot.commit,
        ),
    )
    timed("save state.json", lambda: reconciler.observer.store.save(state))
    return parts


def run_idle(
    scratch: Path, count: int, ticks: int, mode: str, profile: bool, quiet: bool
) -> dict[str, Any]:
    _note(f"idle desk: {count} strategies (desk, registry)", quiet)
    desk = build_idle_desk(scratch, count)
    marker = f"{desk.runtime.root}{os.sep}"
    try:
        result: dict[str, Any] = {"strategies": count, "setup": desk.setup_s}
        result["converging"] = converge(desk, mode, quiet)
        _note("idle ticks", quiet)
        _idle_tick(desk.reconciler)  # the first tick after converging, same reconciler
        warm = [_idle_tick(desk.reconciler).seconds for _ in range(ticks)]
        cold = [_idle_tick(desk.fresh_reconciler()).seconds for _ in range(ticks)]
        first = [_first_tick_of_a_process(desk) for _ in range(ticks)]
        start = time.perf_counter()
        desk.reconciler.repo.fetch()
        fetch_s = time.perf_counter() - start
        client = MlflowClient(desk.registry.location.tracking_uri)
        reference = []
        for _ in range(min(ticks, REFERENCE_RUNS)):
            start = time.perf_counter()
            differences = reference_idle_check(desk.root, client, desk.runtime.root)
            reference.append(time.perf_counter() - start)
            assert differences == 0, f"the reference sees {differences} difference(s)"
        result["idle_warm"] = _stats(warm)
        result["idle_cold"] = _stats(cold)
        result["idle_first"] = _stats(first)
        result["reference"] = _stats(reference)
        result["ratio_warm"] = statistics.median(reference) / statistics.median(warm)
        result["ratio_cold"] = statistics.median(reference) / statistics.median(cold)
        result["fetch_s"] = fetch_s
        result["breakdown"] = breakdown(desk)
        result["goal_met"] = {
            "warm": statistics.median(warm) <= GOAL_IDLE_SECONDS,
            "cold": statistics.median(cold) <= GOAL_IDLE_SECONDS,
        }
        if profile:
            print("== cProfile: one warm idle tick", file=sys.stderr)
            print(_profile(lambda: _idle_tick(desk.reconciler)), file=sys.stderr)
            print("== cProfile: one cold idle tick", file=sys.stderr)
            fresh = desk.fresh_reconciler()
            print(_profile(lambda: _idle_tick(fresh)), file=sys.stderr)
        return result
    finally:
        _note("stopping the deployments", quiet)
        stopped = _stop_processes(marker)
        _note(f"stopped {stopped} process(es)", quiet)


# 2. merge → running


def _state(runtime: LocalRuntime, stage: Stage) -> DeploymentState | None:
    for status in runtime.list():
        if status.spec.stage is stage and status.spec.version == 1:
            return status.state
    return None


def measure_latency(
    scratch: Path, model: Path, bundle: Path, interval: float, webhook: bool, quiet: bool
) -> dict[str, Any]:
    label = "webhook" if webhook else "interval"
    _note(f"merge → running ({label}): desk and controller", quiet)
    desk = build_promotion_desk(scratch / f"desk-{label}", model, bundle)
    runtime = LocalRuntime(ControllerPaths(desk.root).runtime)
    port = free_port()
    log = scratch / f"controller-{label}.log"
    controller = start_controller(desk.root, interval, port, log)
    try:
        start = time.monotonic()
        wait_for(
            lambda: _state(runtime, Stage.PAPER) is DeploymentState.RUNNING,
            DEPLOY_TIMEOUT_SECONDS,
            "paper to run",
            log,
        )
        paper_s = time.monotonic() - start
        time.sleep(2.1)  # the policy wants 1 s in paper; as-of is in whole seconds
        number = prepare_promotion(desk)
        seen = len(controller_ticks(log))
        wait_for(lambda: len(controller_ticks(log)) > seen, interval * 3 + 30, "a tick to end", log)
        merged = merge_pull_request(desk.repo, desk.forge, number)
        merged_at = time.monotonic()
        assert merged.merge_sha is not None
        if webhook:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", method="POST")
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 202
        wait_for(
            lambda: _state(runtime, Stage.CANARY) is DeploymentState.RUNNING,
            interval + 60,
            "the canary to run",
            log,
        )
        latency = time.monotonic() - merged_at

        def deploying() -> list[dict[str, Any]]:
            return [
                t
                for t in controller_ticks(log)
                if "deploy btc-trend/canary" in t.get("applied", [])
            ]

        wait_for(lambda: bool(deploying()), 60, "the deploying tick's log line", log)
        return {
            "mode": label,
            "interval_s": interval,
            "latency_s": latency,
            "goal_s": interval + GOAL_LATENCY_SLACK_SECONDS,
            "goal_met": latency <= interval + GOAL_LATENCY_SLACK_SECONDS,
            "deploying_tick_s": deploying()[0]["seconds"],
            "controller_start_to_paper_s": paper_s,
            "merge_sha": merged.merge_sha,
        }
    finally:
        stop_controller(controller)
        for status in runtime.list():
            runtime.remove(status.spec.strategy, status.spec.stage, actor="bench", reason="done")


def run_latency(scratch: Path, interval: float, quiet: bool) -> list[dict[str, Any]]:
    _note("merge → running: trend model and evidence", quiet)
    model, bundle = trend_model_and_bundle(scratch)
    return [
        measure_latency(scratch, model, bundle, interval, webhook, quiet)
        for webhook in (False, True)
    ]


# output


def _print_table(result: dict[str, Any]) -> None:
    idle = result["idle"]
    count = idle["strategies"]
    setup = idle["setup"]
    machine = result["machine"]
    loads = (machine["load_average_before"][0], machine["load_average_after"][0])
    print(
        f"machine: {machine['cpus']} cpus, python {machine['python']}, load average "
        f"{loads[0]:.2f} before, {loads[1]:.2f} after; stratops at "
        f"{(machine['stratops_commit'] or '?')[:12]}"
    )
    print(
        f"idle desk: {count:,} strategies in paper, {count:,} sleep processes, embedded MLflow "
        f"(setup: desk {setup['desk_s']:.1f} s, registry {setup['registry_s']:.1f} s)"
    )
    conv = idle["converging"]
    print(
        f"\nconverging tick: {conv['seconds']:.1f} s for {conv['deployments_started']:,} "
        f"deployments + {conv['aliases_moved']:,} alias moves"
    )
    if conv["seeded"]:
        print(
            f"  ({conv['seeded']:,} strategies seeded beforehand: processes + records in "
            f"{conv['seed_s']['processes_s']:.1f} s, aliases through MLflow in "
            f"{conv['seed_s']['aliases_s']:.1f} s; at {conv['per_strategy_s']:.3f} s "
            f"per strategy all {count:,} would take ~{conv['estimated_full_s']:.0f} s, "
            "plus the audit log's quadratic growth)"
        )
    print(f"  {'part':26} {'calls':>6} {'total s':>8} {'mean ms':>8}")
    for label, part in conv["per_action"].items():
        print(f"  {label:26} {part['calls']:6} {part['total_s']:8.2f} {part['mean_s'] * 1e3:8.1f}")
    print(f"  {'rest of the tick':26} {'':6} {conv['rest_s']:8.2f}")
    print(f"\n{'idle tick (fetch excluded)':34} {'best s':>8} {'median s':>9} {'ref/stratops':>13}")
    rows = [
        ("stratops, warm (same reconciler)", idle["idle_warm"], idle["ratio_warm"]),
        ("stratops, cold (new reconciler)", idle["idle_cold"], idle["ratio_cold"]),
        ("stratops, first of a process", idle["idle_first"], None),
        ("reference (yaml + MLflow + kill 0)", idle["reference"], None),
    ]
    for name, stats, ratio in rows:
        shown = "" if ratio is None else f"{ratio:.2f}x"
        print(f"{name:34} {stats['best_s']:8.3f} {stats['median_s']:9.3f} {shown:>13}")
    print(f"git fetch (excluded above)         {idle['fetch_s']:8.3f}")
    print("\nwhere an idle tick goes (each part timed alone):")
    for label, seconds in idle["breakdown"].items():
        print(f"  {label:46} {seconds:7.3f} s")
    verdicts = ", ".join(
        f"{kind} {'met' if met else 'NOT met'}" for kind, met in idle["goal_met"].items()
    )
    print(f"goal idle tick <= {GOAL_IDLE_SECONDS:g} s (median): {verdicts}")
    if result.get("latency"):
        print(f"\n{'merge → canary RUNNING':24} {'latency s':>10} {'goal s':>7} {'tick s':>7}")
        for row in result["latency"]:
            tick = f"{row['deploying_tick_s']:.2f}"
            print(
                f"{row['mode']:24} {row['latency_s']:10.2f} {row['goal_s']:7.1f} {tick:>7}"
                f"  {'met' if row['goal_met'] else 'NOT met'}"
            )
        print("(merged right after a tick ended: the worst phase for the interval)")


def _source_commit() -> str | None:
    """The commit of the stratops checkout measured (None outside a git checkout)."""
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=Path(__file__).resolve().parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or None


def run(args: argparse.Namespace) -> dict[str, Any]:
    quiet = bool(args.json)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-controller-") as scratch_name:
        scratch = Path(scratch_name)
        isolate_git(scratch / "home")
        (scratch / "idle").mkdir()
        result: dict[str, Any] = {
            "idle": run_idle(
                scratch / "idle", args.strategies, args.ticks, args.converge, args.profile, quiet
            )
        }
        if not args.skip_latency:
            (scratch / "latency").mkdir()
            result["latency"] = run_latency(scratch / "latency", args.interval, quiet)
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "stratops_commit": _source_commit(),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--strategies", type=int, default=1000, help="strategies (1000)")
    parser.add_argument("--ticks", type=int, default=5, help="idle ticks measured (5)")
    parser.add_argument("--interval", type=float, default=10.0, help="controller interval (10)")
    parser.add_argument(
        "--converge",
        choices=("sample", "full"),
        default="sample",
        help=f"sample (default): all but {SAMPLE} deployments and aliases are set up "
        "directly, the converging tick does the rest; full: the tick does all (~7 min at 1,000)",
    )
    parser.add_argument("--skip-latency", action="store_true", help="idle tick only")
    parser.add_argument("--profile", action="store_true", help="cProfile idle ticks (stderr)")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)


if __name__ == "__main__":
    main()
