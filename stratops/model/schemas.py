"""JSON Schemas of every document, generated from the models and checked in under ``schemas/``.

``python -m stratops.model.schemas DIR`` rewrites them; a test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from stratops.model.alerts import AlertRule
from stratops.model.analysis import AnalysisTemplate
from stratops.model.evidence import (
    DataQuality,
    EvidenceManifest,
    EvidenceMetadata,
    ModelManifest,
)
from stratops.model.execution import VersionConfig
from stratops.model.notification import Notification
from stratops.model.policy import GatePolicy
from stratops.model.reconciliation import ReconciliationPolicy
from stratops.model.runbook import Runbook
from stratops.model.strategy import StrategyDeployment

SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    "strategy-deployment": StrategyDeployment,
    "gate-policy": GatePolicy,
    "analysis-template": AnalysisTemplate,
    "evidence-manifest": EvidenceManifest,
    "evidence-metadata": EvidenceMetadata,
    "model-manifest": ModelManifest,
    "evidence-data-quality": DataQuality,
    "notification": Notification,
    "reconciliation-policy": ReconciliationPolicy,
    "alert-rule": AlertRule,
    "runbook": Runbook,
    "version-config": VersionConfig,
}


def render_schemas() -> dict[str, str]:
    """File name → JSON text of every schema."""
    rendered = {}
    for name, model in SCHEMA_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://stratops.io/schemas/v1alpha1/{name}.schema.json",
            **schema,
        }
        rendered[f"{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in render_schemas().items():
        path = folder / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "schemas")):
        print(path)
