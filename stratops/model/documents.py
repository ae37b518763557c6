"""Turn parsed YAML into typed documents, reporting every problem with file, line and field."""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

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


def _model_at(model: type[BaseModel], path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` (for listing its fields)."""
    current: Any = model
    for part in path:
        current = _strip_optional(current)
        origin = get_origin(current)
        if origin in (list, dict):
            current = get_args(current)[-1]  # the item or value type; ``part`` is index or key
        elif isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            current = fields[part].annotation if part in fields else None
        else:
            return None
    current = _strip_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _expected(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind = error["type"]
    message = str(error["msg"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        parent = _model_at(model, tuple(error["loc"][:-1]))
        if parent is None:
            return "unknown field"
        known = ", ".join(f.alias or n for n, f in parent.model_fields.items())
        return f"unknown field; expected one of: {known}"
    got = error.get("input")
    if isinstance(got, (str, int, float, bool)) or got is None:
        return f"{message} (got {got!r})"
    return message


def validation_problems(
    parsed: ParsedYaml, exc: ValidationError, model: type[BaseModel]
) -> list[Problem]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        # A mapping key that fails validation (an unknown strategy type, say) ends in "[key]".
        about_key = bool(loc) and loc[-1] == "[key]"
        path = tuple(part for part in loc if part != "[key]")
        message = _expected(dict(error), model)
        if about_key:
            message = f"key {path[-1]!r} is not allowed here: {message}"
        problems.append(
            Problem(
                file=parsed.file,
                line=parsed.line_of(path),
                field=dotted(path),
                message=f"key {path[-1]!r} is not allowed here: {message}"
                if about_key
                else message,
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
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        return validation_problems(parsed, exc, model)
