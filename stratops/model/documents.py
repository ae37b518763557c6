"""Turn parsed YAML into typed documents, reporting every problem with file, line and field."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import API_VERSION, Document
from stratops.model.evidence import EvidenceManifest
from stratops.model.policy import GatePolicy
from stratops.model.problems import Problem
from stratops.model.strategy import StrategyDeployment
from stratops.model.yaml_source import ParsedYaml, dotted

KINDS: dict[str, type[Document]] = {
    "StrategyDeployment": StrategyDeployment,
    "GatePolicy": GatePolicy,
    "AnalysisTemplate": AnalysisTemplate,
    "EvidenceManifest": EvidenceManifest,
}


def _expected(error: dict[str, Any]) -> str:
    kind = error["type"]
    message = str(error["msg"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; fields are camelCase)"
    got = error.get("input")
    if isinstance(got, (str, int, float, bool)) or got is None:
        return f"{message} (got {got!r})"
    return message


def validation_problems(parsed: ParsedYaml, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        path = tuple(part for part in error["loc"] if isinstance(part, (str, int)))
        # Union and enum-keyed errors add the pydantic type name to the location.
        path = tuple(p for p in path if not (isinstance(p, str) and p.startswith("function-")))
        problems.append(
            Problem(
                file=parsed.file,
                line=parsed.line_of(path),
                field=dotted(path),
                message=_expected(dict(error)),
                code=f"schema.{error['type']}",
            )
        )
    return problems


def load_document(parsed: ParsedYaml) -> Document | list[Problem]:
    """The typed document, or the problems that stop it from being one."""
    data = parsed.data
    if not isinstance(data, dict):
        return [
            Problem(
                file=parsed.file,
                line=parsed.line_of(()),
                message=f"expected a mapping with apiVersion, kind, metadata and spec, "
                f"got {type(data).__name__}",
                code="document.not_mapping",
            )
        ]
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        return [
            Problem(
                file=parsed.file,
                line=parsed.line_of(("apiVersion",)),
                field="apiVersion",
                message=f"expected {API_VERSION}, got {api_version!r}",
                code="document.api_version",
            )
        ]
    kind = data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return [
            Problem(
                file=parsed.file,
                line=parsed.line_of(("kind",)),
                field="kind",
                message=f"expected one of {', '.join(sorted(KINDS))}, got {kind!r}",
                code="document.kind",
            )
        ]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return validation_problems(parsed, exc)
