"""Benchmark: start-up time of the ``stratops`` command (goal: <= 0.5 s for each row below).

Run from the repository root::

    .venv/bin/python benchmarks/bench_cli.py            # table
    .venv/bin/python benchmarks/bench_cli.py --runs 5   # fewer runs
    .venv/bin/python benchmarks/bench_cli.py --json     # JSON only

Each command runs ``--runs`` times (default 10) in a fresh interpreter, interleaved so that
load on the machine affects every row alike; the median wall time is reported, with its ratio
to ``python -c pass`` (the interpreter's own start-up) and to ``mlflow --version`` (what every
call cost when the CLI imported MLflow eagerly), both measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GOAL_SECONDS = 0.5


def commands() -> dict[str, list[str]]:
    stratops = [PYTHON, "-m", "stratops"]
    mlflow = shutil.which("mlflow", path=str(Path(PYTHON).parent)) or shutil.which("mlflow")
    found = {
        "python -c pass": [PYTHON, "-c", "pass"],
        "stratops --help": [*stratops, "--help"],
        "stratops --version": [*stratops, "--version"],
        "stratops validate manifests/": [*stratops, "validate", "manifests/"],
    }
    if mlflow is not None:
        found["mlflow --version"] = [mlflow, "--version"]
    return found


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}
    table = commands()
    samples: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(args.runs):
        for name, command in table.items():
            samples[name].append(timed(command, env))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["python -c pass"]
    mlflow = medians.get("mlflow --version")
    rows = [
        {
            "command": name,
            "median_s": round(median, 4),
            "vs_python": round(median / base, 2),
            "vs_mlflow": None if mlflow is None else round(median / mlflow, 3),
            "goal_met": None if name.startswith(("python", "mlflow")) else median <= GOAL_SECONDS,
        }
        for name, median in medians.items()
    ]
    if args.json:
        print(json.dumps({"runs": args.runs, "goal_seconds": GOAL_SECONDS, "rows": rows}, indent=2))
        return
    print(f"median of {args.runs} runs; goal <= {GOAL_SECONDS} s for stratops rows")
    print(f"{'command':<30} {'median s':>9} {'x python':>9} {'x mlflow':>9}  goal")
    for row in rows:
        vs_mlflow = "-" if row["vs_mlflow"] is None else f"{row['vs_mlflow']:.3f}"
        goal = {None: "", True: "ok", False: "MISSED"}[row["goal_met"]]
        print(
            f"{row['command']:<30} {row['median_s']:>9.3f} {row['vs_python']:>9.2f} "
            f"{vs_mlflow:>9}  {goal}"
        )


if __name__ == "__main__":
    main()
