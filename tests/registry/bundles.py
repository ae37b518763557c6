"""Edit a valid synthetic bundle into a broken one, one defect at a time."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from stratops.registry import Registry
from stratops.registry.registry import RUN_KIND_REGISTRATION, TAG_RUN_KIND

TableEdit = Callable[[pa.Table], pa.Table]


def edit_parquet(path: Path, edit: TableEdit) -> None:
    pq.write_table(edit(pq.read_table(path)), path)


def edit_json(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def replace_column(table: pa.Table, name: str, values: pa.Array | np.ndarray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def with_value(table: pa.Table, name: str, row: int, value: float) -> pa.Table:
    values = table.column(name).to_numpy().copy()
    values[row] = value
    return replace_column(table, name, pa.array(values))


def shifted_timestamps(table: pa.Table, edit: Callable[[np.ndarray], np.ndarray]) -> pa.Table:
    """The table with ``edit`` applied to its timestamps as int64 nanoseconds (UTC kept)."""
    ns = table.column("timestamp").cast(pa.int64()).to_numpy().copy()
    return replace_column(table, "timestamp", pa.array(edit(ns)).cast(pa.timestamp("ns", "UTC")))


def retimed(table: pa.Table, dtype: pa.DataType) -> pa.Table:
    """The table with its timestamp column re-typed (naive or another zone, same instants)."""
    column = table.column("timestamp")
    column = column.cast(pa.int64()).cast(dtype) if dtype.tz is None else column.cast(dtype)
    return replace_column(table, "timestamp", column)


def assert_nothing_registered(registry: Registry, strategy: str) -> None:
    """No version exists and no registration run finished in the strategy's experiment."""
    client = MlflowClient(registry.location.tracking_uri, registry.location.tracking_uri)
    assert client.search_model_versions(f"name = '{strategy}'") == []
    experiment = client.get_experiment_by_name(strategy)
    if experiment is None:
        return
    runs = client.search_runs(
        [experiment.experiment_id],
        f"tags.`{TAG_RUN_KIND}` = '{RUN_KIND_REGISTRATION}'",
        run_view_type=ViewType.ALL,
    )
    assert [run.info.status for run in runs if run.info.status != "FAILED"] == []
