"""Base of the example strategies: an MLflow ``PythonModel`` over the engine's bars frame.

A strategy is plain parameters plus a causal ``targets`` function (row ``i`` uses rows up to
``i``), so the whole-frame predict of a backtest and the growing-prefix predict of a paper run
give the same targets. Saved models are pickled by reference to these classes: loading one
needs ``stratops`` installed, as the runtime and the registry always have.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc.model import PythonModel

from stratops.paper.marketdata.schema import FloatArray
from stratops.paper.strategy import METADATA_KEY, to_target_matrix

Parameter = float | int | str | bool


class BarStrategy(PythonModel):
    """A strategy over bars; subclasses set ``strategy_type`` and implement :meth:`targets`."""

    strategy_type: ClassVar[str]
    name: ClassVar[str]

    def __init__(self, symbols: tuple[str, ...], parameters: dict[str, Parameter]) -> None:
        self.symbols = symbols
        self.parameters = parameters

    def close(self, bars: pd.DataFrame, symbol: str) -> pd.Series:
        """The close column of ``symbol`` in the bars frame."""
        series: pd.Series = bars[f"{symbol}:close"].astype(np.float64)
        return series

    @abstractmethod
    def decide(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Target fraction per bar (rows) and symbol (columns)."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """MLflow entry point: :meth:`decide` on the bars frame."""
        return self.decide(model_input)

    def targets(self, bars: pd.DataFrame) -> FloatArray:
        """The engine's entry point, in process (sweeps): :meth:`decide` as a matrix."""
        return to_target_matrix(self.decide(bars), len(bars), self.symbols)

    def metadata(self) -> dict[str, Any]:
        """The ``stratops`` entry of the model's MLflow metadata."""
        return {
            METADATA_KEY: {
                "name": self.name,
                "strategy_type": self.strategy_type,
                "symbols": list(self.symbols),
                "parameters": dict(self.parameters),
            }
        }


@contextmanager
def _quiet_pickle_warning() -> Iterator[None]:
    # MLflow warns that pickled models can run code when loaded; ours are our own classes
    # holding plain parameters, so the warning is noise on every save.
    logger = logging.getLogger("mlflow.pyfunc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def save_strategy(strategy: BarStrategy, path: Path, example: pd.DataFrame) -> None:
    """Save ``strategy`` as an MLflow pyfunc model folder the registry can register.

    Parameters
    ----------
    strategy
        The configured strategy.
    path
        Folder to create (must not exist).
    example
        A few rows of the bars frame, to record the model's input/output signature.
    """
    signature = infer_signature(example, strategy.decide(example))
    with _quiet_pickle_warning():
        mlflow.pyfunc.save_model(
            str(path),
            python_model=strategy,
            signature=signature,
            input_example=example,
            metadata=strategy.metadata(),
            pip_requirements=[
                f"mlflow=={mlflow.__version__}",
                f"numpy=={np.__version__}",
                f"pandas=={pd.__version__}",
            ],
        )
