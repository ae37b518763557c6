"""Turn parsed YAML into typed documents, reporting every problem with file, line and field."""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from stratops.model.alerts import AlertRule
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import API_VERSION, DNS_LABEL_PATTERN, Document
from stratops.model.evidence import SHA256_PATTERN, EvidenceManifest
from stratops.model.notification import Notification
from stratops.model.policy import GatePolicy
from stratops.model.problems import Problem
from stratops.model.reconciliation import ReconciliationPolicy
from stratops.model.runbook import Runbook
from stratops.model.strategy import SYMBOL_PATTERN, StrategyDeployment
from stratops.model.yaml_source import ParsedYaml, dotted

KINDS: dict[str, type[Document]] = {
    "StrategyDeployment": StrategyDeployment,
    "GatePolicy": GatePolicy,
    "AnalysisTemplate": AnalysisTemplate,
    "EvidenceManifest": EvidenceManifest,
    "Notification": Notification,
    "ReconciliationPolicy": ReconciliationPolicy,
    "AlertRule": AlertRule,
    "Runbook": Runbook,
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
    plain = _plain(kind, error.get("ctx") or {})
    if plain is None:  # pydantic's own wording, less its "Value error, " prefix
        plain = message.removeprefix("Value error, ")
        if kind == "value_error":
            return plain  # our validators name what they saw themselves
    shown = isinstance(got, (str, int, float, bool)) or got is None
    return f"{plain}, got {got!r}" if shown else plain


def _choices(expected: str) -> str:
    """``"'a', 'b' or 'c'"`` → ``"a, b, c"``."""
    return ", ".join(part.strip(" '") for part in expected.replace(" or ", ",").split(","))


PATTERN_WORDS = {
    DNS_LABEL_PATTERN: "must be a DNS-1123 label: lowercase letters, digits and '-', starting "
    "and ending with a letter or digit",
    SYMBOL_PATTERN: "must be BASE/QUOTE in capitals, with :SETTLE for derivatives (BTC/USDT, "
    "BTC/USDT:USDT)",
    SHA256_PATTERN: "must be a sha256 digest: 64 lowercase hexadecimal digits",
}
_LIMITS = {
    "greater_than": ("greater than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
    "multiple_of": ("a multiple of", "multiple_of"),
}
_TYPES = {
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
}


def _plain(kind: str, ctx: dict[str, Any]) -> str | None:
    """Words for people in place of pydantic's, for the error kinds documents meet."""
    if kind in ("enum", "literal_error") and "expected" in ctx:
        return f"expected one of: {_choices(str(ctx['expected']))}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return PATTERN_WORDS.get(pattern, f"does not have the expected form {pattern}")
    if kind in _LIMITS:
        words, key = _LIMITS[kind]
        bound = ctx.get(key)
        shown = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {words} {shown}"
    if kind in ("too_short", "string_too_short"):
        unit = "character(s)" if kind.startswith("string") else "item(s)"
        return f"needs at least {ctx.get('min_length')} {unit}"
    if kind in ("too_long", "string_too_long"):
        unit = "characters" if kind.startswith("string") else "items"
        return f"at most {ctx.get('max_length')} {unit}"
    return _TYPES.get(kind)


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
        # Strict types, as JSON knows them: a boolean is never a number, a string never one
        # either; enums and timestamps are read from their strings.
        return model.model_validate_json(
            json.dumps(data), strict=True, by_alias=True, by_name=False
        )
    except ValidationError as exc:
        return validation_problems(parsed, exc, model)
