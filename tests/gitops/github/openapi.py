"""Validate HTTP exchanges against GitHub's OpenAPI description (OpenAPI 3.0.3).

OpenAPI 3.0 schemas are JSON Schema draft 4 plus ``nullable``; they are converted once:
``nullable: true`` becomes a union with ``null``, and ``oneOf`` becomes ``anyOf`` (GitHub's
alternatives overlap: a private user is also a valid public user, so ``oneOf`` would reject
real GitHub answers). Formats ``date-time`` and ``uri`` are checked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker

SPEC_FILE = Path(__file__).with_name("github-rest-subset.json")
METHODS = ("get", "post", "put", "patch", "delete")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "T" in value
    return True


@FORMATS.checks("uri")
def _uri(value: object) -> bool:
    if isinstance(value, str):
        parts = urlsplit(value)
        return bool(parts.scheme and parts.netloc)
    return True


def to_json_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {
        ("anyOf" if key == "oneOf" else key): to_json_schema(value)
        for key, value in schema.items()
        if key not in ("nullable", "example", "examples", "discriminator")
        and not key.startswith("x-")
    }
    if schema.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        else:
            return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.spec["operationId"])

    @property
    def literal_segments(self) -> int:
        return sum(not part.startswith("{") for part in self.template.split("/"))


class OpenApi:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.operations: list[Operation] = []
        for template, item in spec["paths"].items():
            regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
            for method in METHODS:
                if method in item:
                    self.operations.append(
                        Operation(method.upper(), template, re.compile(f"^{regex}$"), item[method])
                    )

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        matches = [
            (op, match.groupdict())
            for op in self.operations
            if op.method == method and (match := op.pattern.match(path))
        ]
        if not matches:
            return None
        return max(matches, key=lambda found: found[0].literal_segments)

    def check_request(
        self, op: Operation, path_params: dict[str, str], query: dict[str, list[str]], body: Any
    ) -> list[str]:
        problems: list[str] = []
        declared = {(p["in"], p["name"]): p for p in op.spec.get("parameters", [])}
        for (place, name), param in declared.items():
            values = {"path": {k: [v] for k, v in path_params.items()}, "query": query}.get(
                place, {}
            )
            if param.get("required") and name not in values:
                problems.append(f"{op.id}: required {place} parameter {name!r} is missing")
            for value in values.get(name, []):
                problems += [
                    f"{op.id}: {place} parameter {name}: {e}"
                    for e in _errors(param["schema"], _coerce(value, param["schema"]))
                ]
        for name in query:
            if ("query", name) not in declared:
                problems.append(f"{op.id}: undeclared query parameter {name!r}")
        request_body = op.spec.get("requestBody")
        if request_body is None:
            if body is not None:
                problems.append(f"{op.id}: takes no request body")
        elif body is None:
            if request_body.get("required"):
                problems.append(f"{op.id}: the request body is required")
        else:
            schema = request_body["content"]["application/json"]["schema"]
            problems += [f"{op.id}: request body: {e}" for e in _errors(schema, body)]
        return problems

    def check_response(self, op: Operation, status: int, body: Any) -> list[str]:
        documented = op.spec["responses"].get(str(status))
        if documented is None:
            return [
                f"{op.id}: status {status} is not documented ({', '.join(op.spec['responses'])})"
            ]
        content = documented.get("content", {}).get("application/json")
        if content is None:
            return [] if body is None else [f"{op.id}: status {status} has no body"]
        return [f"{op.id} {status}: response: {e}" for e in _errors(content["schema"], body)]


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    if schema.get("type") == "integer":
        return int(value) if value.isdigit() else value
    if schema.get("type") == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


_VALIDATORS: dict[int, Draft4Validator] = {}  # by id() of a schema of the cached description


def _errors(schema: dict[str, Any], value: Any) -> list[str]:
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = Draft4Validator(to_json_schema(schema), format_checker=FORMATS)
        _VALIDATORS[id(schema)] = validator
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message[:300]}"
        for error in validator.iter_errors(value)
    ]


@cache
def github_api() -> OpenApi:
    return OpenApi(json.loads(SPEC_FILE.read_text()))
