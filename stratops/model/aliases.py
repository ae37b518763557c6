"""Stage aliases as the registry holds them, and those moved outside Git (values)."""

from __future__ import annotations

from dataclasses import dataclass

from stratops.model.base import Stage


@dataclass(frozen=True)
class AliasDrift:
    """A stage alias that MLflow holds where stratops did not put it: moved by hand."""

    strategy: str
    stage: Stage
    found: int | None  # the version MLflow's alias points at (None: the alias was deleted)
    recorded: int | None  # the version stratops last set (None: never set, or cleared)
    sequence: int  # of the last recorded change of this stage (0: none)


@dataclass(frozen=True)
class ObservedAliases:
    """The stage aliases as MLflow holds them, and those that drifted from the history."""

    current: dict[str, dict[Stage, int]]
    drift: list[AliasDrift]
