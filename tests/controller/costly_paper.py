"""A paper deployment on a venue that charges more than the engine's model (a test process).

``python costly_paper.py`` takes the runtime's ``paper run`` options (:func:`stratops.runtime.
base.paper_arguments`, ``--telemetry``, ``--speed``) and runs the same paper process, loading
the same verified model, but its orders pay 10 bps taker fees and three times the calibrated
impact: the execution a version meets when it costs more than its evidence said (4 bps, 0.9).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stratops.cli.paper import verified_strategy
from stratops.paper.config import EngineConfig, ExecutionConfig
from stratops.paper.datasets import load_dataset
from stratops.paper.engine import Pacing
from stratops.paper.process import RunIdentity, run_paper_process

COSTLY = ExecutionConfig(taker_fee_bps=10.0, impact_coefficient=3.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--allocation", type=float, required=True)
    parser.add_argument("--telemetry", type=Path, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--data", default="binance-1m")
    arguments, _ = parser.parse_known_args()
    with verified_strategy(arguments.model_uri, None, None) as strategy:
        run_paper_process(
            strategy=strategy,
            identity=RunIdentity(arguments.model_uri, {"name": strategy.info.name}),
            market=load_dataset(arguments.data, symbols=list(strategy.info.symbols)),
            config=EngineConfig(allocation=arguments.allocation, execution=COSTLY),
            telemetry=arguments.telemetry,
            pacing=Pacing(speed=arguments.speed),
        )


if __name__ == "__main__":
    main()
