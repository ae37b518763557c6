"""Benchmark: register and verify a large evidence bundle, embedded and against a server.

Run from the repository root::

    .venv/bin/python benchmarks/bench_registry.py           # table
    .venv/bin/python benchmarks/bench_registry.py --json    # JSON only

The bundle (written once, seeded) has 1,576,800 minute returns (three years), 200,000 trades
and 1,000 trials x 1,095 daily returns. Each scenario runs in a fresh child process, so its
peak memory is the child's ``ru_maxrss`` (pyarrow allocates outside Python's heap, where
tracemalloc cannot see); its time is the operation alone, after imports and connecting.

- ``register``: ``Registry.register`` — validate and hash the bundle, upload it with the model,
  download and re-hash it, create the version (goal: <= 5 s and <= 1 GB);
- ``verify``: ``Registry.verify_evidence`` — download and re-hash every file;
- ``reference register``: plain MLflow, ``log_artifacts`` of the bundle and the model plus
  ``create_model_version``, without validation or hashing: the ratio is stratops' overhead;
- ``reference download``: plain ``download_artifacts`` of the evidence, against ``verify``.

Both backends run: the embedded store (SQLite and a local artifact folder) and an
``mlflow server`` on a loopback port with proxied artifacts (REST for everything).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

RETURN_ROWS = 1095 * 1440
TRADES = 200_000
TRIALS = 1_000
TRIAL_DAYS = 1_095
GOAL_SECONDS = 5.0
GOAL_MB = 1024.0
SERVER_START_SECONDS = 120
SCENARIOS = ("register", "reference register", "verify", "reference download")
REFERENCE = {"register": "reference register", "verify": "reference download"}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(scenario: str, tracking_uri: str, bundle: Path, model: Path, strategy: str) -> None:
    """Run one scenario in this (fresh) process and print its measurements as JSON."""
    from mlflow.tracking import MlflowClient

    from stratops.model.base import StrategyType
    from stratops.registry import Registry, resolve_location

    location = resolve_location(tracking_uri)
    registry = Registry(location)
    client = MlflowClient(location.tracking_uri, location.tracking_uri)
    client.search_experiments(max_results=1)  # connect before timing
    baseline = _peak_mb()
    start = time.perf_counter()
    if scenario == "register":
        registry.register(
            strategy, strategy_type=StrategyType.STAT_ARB, evidence=bundle, model_path=model
        )
    elif scenario == "verify":
        assert registry.verify_evidence(strategy, 1).ok
    elif scenario == "reference register":
        experiment = client.get_experiment_by_name(strategy)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(
                strategy, artifact_location=_artifacts(location, strategy)
            )
        )
        run = client.create_run(experiment_id)
        client.log_artifacts(run.info.run_id, str(bundle), "evidence")
        client.log_artifacts(run.info.run_id, str(model), "model")
        client.create_registered_model(strategy)
        client.create_model_version(
            strategy, f"{run.info.artifact_uri}/model", run.info.run_id, await_creation_for=0
        )
        client.set_terminated(run.info.run_id)
    elif scenario == "reference download":
        version = client.get_model_version(strategy, "1")
        with tempfile.TemporaryDirectory() as scratch:
            client.download_artifacts(version.run_id, "evidence", scratch)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "baseline_mb": baseline}))


def _artifacts(location: Any, name: str) -> str | None:
    root = location.artifact_root
    return None if root is None else (root / f"reference-{name}").as_uri()


def _run_child(scenario: str, tracking_uri: str, bundle: Path, model: Path, strategy: str) -> Any:
    command = [sys.executable, __file__, "--child", scenario, tracking_uri, str(bundle)]
    command += [str(model), strategy]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{scenario} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    command = [mlflow, "server", "--backend-store-uri", f"sqlite:///{root / 'server.db'}"]
    command += ["--artifacts-destination", str(root / "artifacts"), "--serve-artifacts"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with (root / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.3)
    _stop(process)
    raise RuntimeError(f"mlflow server did not start:\n{(root / 'server.log').read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def _scenarios(backend: str, tracking_uri: str, bundle: Path, model: Path) -> list[dict[str, Any]]:
    strategy = f"bench-{uuid.uuid4().hex[:8]}"
    reference = f"{strategy}-ref"
    rows = []
    for scenario in SCENARIOS:
        name = reference if scenario.startswith("reference") else strategy
        measured = _run_child(scenario, tracking_uri, bundle, model, name)
        rows.append({"backend": backend, "scenario": scenario, **measured})
    by_scenario = {row["scenario"]: row for row in rows}
    for row in rows:
        base = REFERENCE.get(row["scenario"])
        row["ratio"] = None if base is None else row["seconds"] / by_scenario[base]["seconds"]
    return rows


def run() -> dict[str, Any]:
    from stratops.model.base import StrategyType
    from stratops.registry import Registry, scan_bundle
    from stratops.registry.location import embedded_location
    from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle

    with tempfile.TemporaryDirectory(prefix="bench-registry-") as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        bundle = write_synthetic_bundle(
            root / "bundle",
            return_rows=RETURN_ROWS,
            trades=TRADES,
            trials=TRIALS,
            trial_days=TRIAL_DAYS,
            strategy_type=StrategyType.STAT_ARB,
            seed=1,
        )
        write_seconds = time.perf_counter() - start
        size = sum(path.stat().st_size for path in bundle.iterdir())
        start = time.perf_counter()
        scan_bundle(bundle)
        scan_seconds = time.perf_counter() - start
        model = save_constant_model(root / "model")

        embedded = embedded_location(root / "desk")
        Registry(embedded).count_trials("warm-up")  # create the database before timing
        rows = _scenarios("embedded", embedded.tracking_uri, bundle, model)
        (root / "server").mkdir()
        process, url = _start_server(root / "server")
        try:
            rows += _scenarios("server", url, bundle, model)
        finally:
            _stop(process)
    register = [row for row in rows if row["scenario"] == "register"]
    return {
        "bundle": {
            "return_rows": RETURN_ROWS,
            "trades": TRADES,
            "trials": TRIALS,
            "trial_days": TRIAL_DAYS,
            "bytes": size,
        },
        "write_bundle_s": write_seconds,
        "scan_bundle_s": scan_seconds,
        "scenarios": rows,
        "goal": {"register_s": GOAL_SECONDS, "peak_mb": GOAL_MB},
        "goal_met": all(r["seconds"] <= GOAL_SECONDS and r["peak_mb"] <= GOAL_MB for r in register),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }


def _print_table(result: dict[str, Any]) -> None:
    bundle = result["bundle"]
    print(
        f"bundle: {bundle['return_rows']:,} minute returns, {bundle['trades']:,} trades, "
        f"{bundle['trials']:,} trials x {bundle['trial_days']:,} days, "
        f"{bundle['bytes'] / 2**20:,.1f} MiB"
    )
    print(f"  write (synthetic, once)    {result['write_bundle_s']:7.2f} s")
    print(f"  scan + hash (in process)   {result['scan_bundle_s']:7.2f} s")
    print()
    header = f"{'backend':9} {'scenario':20} {'seconds':>8} {'peak MB':>8} {'after import':>13} "
    print(header + f"{'vs reference':>13}")
    for row in result["scenarios"]:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x"
        print(
            f"{row['backend']:9} {row['scenario']:20} {row['seconds']:8.2f} "
            f"{row['peak_mb']:8.0f} {row['baseline_mb']:13.0f} {ratio:>13}"
        )
    goal = result["goal"]
    verdict = "met" if result["goal_met"] else "NOT met"
    print(f"\ngoal register <= {goal['register_s']:g} s and <= {goal['peak_mb']:g} MB: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        scenario, tracking_uri, bundle, model, strategy = args.child
        child(scenario, tracking_uri, Path(bundle), Path(model), strategy)
        return
    result = run()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_table(result)


if __name__ == "__main__":
    main()
