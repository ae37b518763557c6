"""The strategy adapter: an MLflow pyfunc model in, a matrix of target fractions out.

Contract of a strategy model: ``predict`` takes the bars frame of
:meth:`stratops.paper.market.Market.bars_frame` (one row per bar time, ``ts`` as UTC without
a timezone, all bars from the start of the replay up to now) and returns one target per
row — a fraction of the allocation, positive long, negative short — as an array, a Series,
or a DataFrame with one column per symbol. The target at row ``i`` is decided at the close
of bar ``i`` and may use rows up to ``i`` only. The model's metadata
(``metadata={"stratops": {...}}`` at save time) names its ``symbols``, ``strategy_type`` and
``parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stratops.paper.errors import StrategyError
from stratops.paper.marketdata.schema import BoolArray, FloatArray

METADATA_KEY = "stratops"


@dataclass(frozen=True)
class StrategyInfo:
    """What a strategy model says about itself."""

    name: str
    strategy_type: str
    symbols: tuple[str, ...]
    parameters: dict[str, float | int | str | bool]

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None, source: str) -> StrategyInfo:
        """Read the ``stratops`` entry of a model's metadata.

        Raises
        ------
        StrategyError
            When the entry or its ``symbols`` are missing.
        """
        entry = (metadata or {}).get(METADATA_KEY)
        if not isinstance(entry, dict) or not entry.get("symbols"):
            raise StrategyError(
                f"{source}: the model's metadata has no {METADATA_KEY}.symbols; save it with "
                f"metadata={{'{METADATA_KEY}': {{'symbols': [...], 'strategy_type': ...}}}}",
                "strategy.metadata",
            )
        return cls(
            name=str(entry.get("name", "strategy")),
            strategy_type=str(entry.get("strategy_type", "trend")),
            symbols=tuple(str(s) for s in entry["symbols"]),
            parameters=dict(entry.get("parameters", {})),
        )


def to_target_matrix(output: Any, rows: int, symbols: tuple[str, ...]) -> FloatArray:
    """Normalise a strategy's answer to a float array of shape (rows, symbols).

    Parameters
    ----------
    output
        What ``predict`` returned.
    rows
        Rows of the input.
    symbols
        Symbols the strategy trades, in column order.

    Returns
    -------
    ndarray
        Target fractions; NaN and out-of-limit values are left for :func:`apply_limits`.

    Raises
    ------
    StrategyError
        Wrong length, wrong columns or non-numeric values.
    """
    if isinstance(output, pd.DataFrame):
        if set(symbols) <= set(output.columns):
            output = output[list(symbols)]
        elif output.shape[1] != 1 or len(symbols) != 1:
            raise StrategyError(
                f"strategy returned columns {list(output.columns)}; expected one column per "
                f"symbol: {list(symbols)}",
                "strategy.output",
            )
    try:
        values = np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StrategyError(
            f"strategy returned non-numeric targets ({exc})", "strategy.output"
        ) from exc
    if values.ndim == 1 and len(symbols) == 1:
        values = values.reshape(-1, 1)
    if values.shape != (rows, len(symbols)):
        raise StrategyError(
            f"strategy returned shape {values.shape}; expected ({rows}, {len(symbols)}): one "
            "target per bar and symbol",
            "strategy.output",
        )
    return values


@dataclass(frozen=True)
class Limits:
    """Targets after the risk limit, and where the raw ones broke it."""

    targets: FloatArray
    not_finite: BoolArray
    over_limit: BoolArray


def apply_limits(raw: FloatArray, max_fraction: float) -> Limits:
    """Replace NaN targets by 0 (flatten) and clip the rest to ``±max_fraction``.

    A strategy that cannot say what it wants is taken flat: holding on to a position on a
    broken signal is the riskier default. Infinite targets count as over the limit.

    Parameters
    ----------
    raw
        Targets as returned by the strategy.
    max_fraction
        Largest ``|target|``.

    Returns
    -------
    Limits
        Clean targets and the masks of each kind of breach (risk events).
    """
    not_finite = np.isnan(raw)
    over = ~not_finite & (np.abs(raw) > max_fraction)
    targets = np.clip(np.where(not_finite, 0.0, raw), -max_fraction, max_fraction)
    return Limits(targets=targets, not_finite=not_finite, over_limit=over)


class PyfuncStrategy:
    """A loaded MLflow pyfunc strategy; ``targets`` runs it on a bars frame."""

    def __init__(self, model: Any, info: StrategyInfo, uri: str) -> None:
        self._model = model
        self.info = info
        self.uri = uri

    @classmethod
    def load(cls, uri: str, *, folder: Path | None = None) -> PyfuncStrategy:
        """Load a strategy from a model URI or folder (``runs:/``, ``models:/``, a path).

        ``folder``, when given, is a local copy of ``uri``'s model (verified against the
        registry) that is loaded instead: ``uri`` then only names the strategy.

        Raises
        ------
        StrategyError
            When MLflow cannot load it or its metadata is incomplete.
        """
        import mlflow.pyfunc

        try:
            model = mlflow.pyfunc.load_model(uri if folder is None else str(folder))
        except Exception as exc:  # MLflow raises many types; all mean "cannot load"
            raise StrategyError(
                f"cannot load the strategy model {uri!r}: {exc}", "strategy.load"
            ) from exc
        info = StrategyInfo.from_metadata(model.metadata.metadata, uri)
        return cls(model, info, uri)

    def targets(self, bars: pd.DataFrame) -> FloatArray:
        """Raw target fractions for every row of ``bars``, shape (rows, symbols).

        Raises
        ------
        StrategyError
            When the model raises or answers in the wrong shape.
        """
        try:
            output = self._model.predict(bars)
        except Exception as exc:  # the strategy's own code failed
            raise StrategyError(
                f"strategy {self.info.name!r} failed: {exc}", "strategy.predict"
            ) from exc
        return to_target_matrix(output, len(bars), self.info.symbols)
