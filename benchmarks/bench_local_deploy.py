"""Time ``LocalRuntime.deploy`` of a fresh deployment (a tiny ``sleep`` per deployment).

Run: ``PYTHONPATH=. python benchmarks/bench_local_deploy.py [count]``; prints the median.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from stratops.model.base import Stage
from stratops.model.deployment import DeploymentSpec
from stratops.model.strategy import HaltBehaviour
from stratops.runtime.local import LocalRuntime


def sleep_command(spec: DeploymentSpec, telemetry: Path) -> list[str]:
    del spec
    return ["bash", "-c", 'exec -a "$0" sleep 100000', str(telemetry)]


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        runtime = LocalRuntime(Path(root), command=sleep_command)
        times = []
        for index in range(count):
            spec = DeploymentSpec(
                strategy=f"s{index}",
                stage=Stage.PAPER,
                version=1,
                allocation=1.0,
                model_uri="models:/s/1",
                strategy_type="trend",
                venue="binance",
                symbols=("BTC/USDT",),
                halt=HaltBehaviour.FLATTEN,
                commit="abc",
            )
            started = time.perf_counter()
            runtime.deploy(spec, actor="bench", reason="bench")
            times.append(time.perf_counter() - started)
        for status in runtime.list():
            runtime.remove(status.spec.strategy, status.spec.stage, actor="bench", reason="bench")
    print(f"deploy: median {statistics.median(times) * 1000:.1f} ms over {count}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
