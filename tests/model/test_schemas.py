"""The checked-in JSON Schemas match the models, and the example desk passes them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from stratops.gitops.desk import discover
from stratops.model.schemas import render_schemas

REPO = Path(__file__).resolve().parents[2]
SCHEMA_BY_KIND = {
    "StrategyDeployment": "strategy-deployment",
    "GatePolicy": "gate-policy",
    "AnalysisTemplate": "analysis-template",
    "ReconciliationPolicy": "reconciliation-policy",
    "AlertRule": "alert-rule",
    "Runbook": "runbook",
}


@pytest.mark.parametrize("file_name", sorted(render_schemas()))
def test_checked_in_schema_matches_the_model(file_name: str) -> None:
    checked_in = REPO / "schemas" / file_name
    assert checked_in.exists(), f"run `make schemas`: {file_name} is missing"
    assert checked_in.read_text() == render_schemas()[file_name], (
        f"schemas/{file_name} drifted from the models: run `make schemas`"
    )


def test_no_stale_schema_files() -> None:
    assert {p.name for p in (REPO / "schemas").glob("*.json")} == set(render_schemas())


@pytest.mark.parametrize(
    "manifest", discover([REPO / "stratops" / "data" / "example-desk"])[0], ids=lambda p: p.name
)
def test_example_manifest_passes_its_json_schema(manifest: Path) -> None:
    document = yaml.safe_load(manifest.read_text())
    schema_file = REPO / "schemas" / f"{SCHEMA_BY_KIND[document['kind']]}.schema.json"
    jsonschema.validate(document, json.loads(schema_file.read_text()))


def test_json_schema_refuses_what_the_model_refuses() -> None:
    schema = json.loads((REPO / "schemas" / "strategy-deployment.schema.json").read_text())
    document = yaml.safe_load(
        (REPO / "stratops" / "data" / "example-desk" / "strategies" / "btc-trend.yaml").read_text()
    )
    document["metadata"]["name"] = "Not_DNS"
    with pytest.raises(jsonschema.ValidationError, match="does not match"):
        jsonschema.validate(document, schema)
