"""Safe YAML: one document, plain types only, with the line of every field.

Refused, each with the line where it happens: duplicate keys, tags other than YAML's own
(``!!python/object``, ``!Ref`` ...), alias expansion beyond a node budget (billion laughs),
documents over a size limit, several documents where one is expected, non-string keys, and
documents beyond any of the shape limits (nesting depth, keys per mapping, items per list,
characters per string): a hostile document is a problem of its file, never a crash.
Timestamps stay strings (YAML 1.1 would turn ``2024-08-05`` into a date).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from stratops.model.problems import Problem

MAX_BYTES = 1_048_576
# libyaml's loader when PyYAML was built with it: ~15x faster on a desk of 1,000 manifests.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 50_000
MAX_DEPTH = 32  # desk documents nest 5 levels; Python's recursion limit is ~1,000
MAX_KEYS = 1_000  # per mapping
MAX_ITEMS = 10_000  # per list
MAX_STRING = 65_536  # characters per scalar

Path = tuple[str | int, ...]

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}


@dataclass(frozen=True)
class ParsedYaml:
    """A parsed document and the 1-based line of each field path."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """Line of ``path`` or of its nearest ancestor present in the document."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


class YamlError(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(problem.render())


_SIZE_LIMITS: tuple[tuple[type[yaml.Node], int, str, str], ...] = (
    (yaml.MappingNode, MAX_KEYS, "keys", "yaml.too_many_keys"),
    (yaml.SequenceNode, MAX_ITEMS, "items", "yaml.too_many_items"),
    (yaml.ScalarNode, MAX_STRING, "characters in a value", "yaml.too_long"),
)


class _Builder:
    def __init__(self, file: str, max_nodes: int) -> None:
        self.file = file
        self.max_nodes = max_nodes
        self.nodes = 0
        self.lines: dict[Path, int] = {}
        self._scalars = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, path: Path, message: str, code: str) -> YamlError:
        return YamlError(
            Problem(
                file=self.file,
                line=node.start_mark.line + 1,
                field=dotted(path),
                message=message,
                code=code,
            )
        )

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise self.fail(
                node,
                path,
                f"document expands to more than {self.max_nodes} nodes (alias expansion bomb?)",
                "yaml.too_many_nodes",
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        self._check_shape(node, path)
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(
                node, path, f"tag {node.tag} is not allowed: use plain YAML values", "yaml.tag"
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value
        return self._scalars.construct_object(node, deep=True)

    def _check_shape(self, node: yaml.Node, path: Path) -> None:
        if len(path) > MAX_DEPTH:
            raise self.fail(node, path, f"nested deeper than {MAX_DEPTH} levels", "yaml.too_deep")
        size = len(node.value)
        for kind, limit, what, code in _SIZE_LIMITS:
            if isinstance(node, kind) and size > limit:
                message = f"{size} {what}, over the limit of {limit}"
                raise self.fail(node, path, message, code)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, path, "merge keys (<<) are not allowed", "yaml.merge_key")
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                raise self.fail(key_node, path, "keys must be plain strings", "yaml.key_type")
            key = key_node.value
            if key in result:
                first = self.lines.get((*path, key))
                raise self.fail(
                    key_node,
                    (*path, key),
                    f"duplicate key {key!r} (first defined on line {first})",
                    "yaml.duplicate_key",
                )
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        return result


def dotted(path: Path) -> str:
    """``('spec', 'symbols', 0)`` → ``spec.symbols[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def parse_yaml(
    text: str | bytes, file: str, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES
) -> ParsedYaml:
    """Parse exactly one YAML document safely; raise :class:`YamlError` naming the line."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > max_bytes:
        raise YamlError(
            Problem(
                file=file,
                message=f"file is {len(raw)} bytes, over the limit of {max_bytes}",
                code="yaml.too_large",
            )
        )
    try:
        decoded = raw.decode("utf-8")
        documents = list(yaml.compose_all(decoded, Loader=_LOADER))
    except UnicodeDecodeError as exc:
        raise YamlError(
            Problem(file=file, message=f"not UTF-8 text: {exc.reason}", code="yaml.encoding")
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = f"invalid YAML: {exc.problem or exc.context}"
        if exc.problem and exc.context and exc.context_mark:
            message += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        raise YamlError(
            Problem(
                file=file,
                line=mark.line + 1 if mark else None,
                message=message,
                code="yaml.syntax",
            )
        ) from exc
    except yaml.YAMLError as exc:
        raise YamlError(
            Problem(file=file, message=f"invalid YAML: {exc}", code="yaml.syntax")
        ) from exc
    documents = [doc for doc in documents if doc is not None]
    if not documents:
        raise YamlError(Problem(file=file, message="the file holds no document", code="yaml.empty"))
    if len(documents) > 1:
        raise YamlError(
            Problem(
                file=file,
                line=documents[1].start_mark.line + 1,
                message=f"expected one document, found {len(documents)} (split them into files)",
                code="yaml.multiple_documents",
            )
        )
    builder = _Builder(file, max_nodes)
    data = builder.build(documents[0], ())
    return ParsedYaml(file=file, data=data, lines=builder.lines)
