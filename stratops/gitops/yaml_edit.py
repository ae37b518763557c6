"""Edit a YAML document so that only the lines that change, change.

Round-trip editing with ruamel.yaml keeps comments, key order, quoting and flow/block style;
the indentation is measured from the document so that untouched lines are written back as they
were. Deleting a key of a block mapping removes its lines from the text (ruamel would take the
comment that introduces the *next* key along with it). Every edit is checked: the result is
parsed again and must equal the original data with the edits applied, or :class:`EditError`.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from stratops.model.yaml_source import YamlError, parse_yaml

Scalar = str | int | float | bool
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class SetValue:
    """Set ``path`` to a scalar or a mapping of scalars; missing parents become mappings.

    A new key is placed among its siblings following ``order`` (or its reverse, when the
    siblings already appear in reverse); keys outside ``order`` keep their place.
    """

    path: KeyPath
    value: Scalar | Mapping[str, Scalar]
    order: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeleteKey:
    path: KeyPath


Edit = SetValue | DeleteKey


class EditError(Exception):
    """The edits do not fit the document (a missing key, a non-mapping parent)."""


@dataclass(frozen=True)
class _Layout:
    mapping: int = 2
    sequence: int = 2
    offset: int = 0
    explicit_start: bool = False


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with ``edits`` applied in order, everything else byte for byte."""
    try:
        original = parse_yaml(text, "<document>").data
    except YamlError as exc:
        raise EditError(f"cannot edit a document that does not parse: {exc}") from exc
    yaml = _round_trip(_layout(text))
    data = yaml.load(text)
    for edit in edits:
        if isinstance(edit, SetValue):
            _set(data, edit)
    result = _dump(yaml, data)
    for edit in edits:
        if isinstance(edit, DeleteKey):
            result = _delete(yaml, result, edit.path)
    expected = copy.deepcopy(original)
    for edit in edits:
        _apply_plain(expected, edit)
    if parse_yaml(result, "<edited>").data != expected:
        raise EditError("the edited document does not hold the expected values")
    return result


def _round_trip(layout: _Layout) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line
    yaml.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
    yaml.explicit_start = layout.explicit_start
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _layout(text: str) -> _Layout:
    """The indentation the document uses: nested mappings, block sequences and their dash."""
    data = YAML(typ="rt").load(text)
    mapping: int | None = None
    sequence: tuple[int, int] | None = None
    stack: list[Any] = [data]
    while stack and (mapping is None or sequence is None):
        parent = stack.pop(0)
        if not isinstance(parent, CommentedMap):
            continue
        for key, child in parent.items():
            key_col = parent.lc.key(key)[1]
            if isinstance(child, CommentedMap) and not child.fa.flow_style() and child:
                mapping = mapping if mapping is not None else child.lc.col - key_col
                stack.append(child)
            elif isinstance(child, CommentedSeq) and not child.fa.flow_style() and child:
                if sequence is None:
                    item_col = child.lc.data[0][1]
                    sequence = (item_col - key_col, child.lc.col - key_col)
                stack.extend(item for item in child if isinstance(item, CommentedMap))
    indent, offset = sequence or (2, 0)
    return _Layout(
        mapping=mapping or 2,
        sequence=max(indent, offset + 2),
        offset=offset,
        explicit_start=text.startswith("---"),
    )


def _parent(data: Any, path: KeyPath, create: bool) -> CommentedMap:
    node = data
    for key in path[:-1]:
        if not isinstance(node, CommentedMap):
            raise EditError(f"{'.'.join(path)}: {key!r} is not inside a mapping")
        if key not in node:
            if not create:
                raise EditError(f"{'.'.join(path)}: no key {key!r}")
            node[key] = CommentedMap()
        node = node[key]
    if not isinstance(node, CommentedMap):
        raise EditError(f"{'.'.join(path)}: the parent is not a mapping")
    return node


def _set(data: Any, edit: SetValue) -> None:
    parent = _parent(data, edit.path, create=True)
    key = edit.path[-1]
    value: Any = edit.value
    if isinstance(value, Mapping):
        if key in parent:
            raise EditError(f"{'.'.join(edit.path)}: set the fields of an existing mapping")
        value = CommentedMap(value)
        siblings = [v for v in parent.values() if isinstance(v, CommentedMap)]
        if not siblings or any(sibling.fa.flow_style() for sibling in siblings):
            value.fa.set_flow_style()
    if key in parent:
        parent[key] = value
    else:
        parent.insert(_position(list(parent), key, edit.order), key, value)


def _position(keys: list[str], key: str, order: tuple[str, ...]) -> int:
    """Where ``key`` goes among ``keys`` so that the keys named in ``order`` stay ordered."""
    ranked = [k for k in keys if k in order]
    if key not in order or not ranked:
        return len(keys)
    sequence = list(order)
    if len(ranked) > 1 and [sequence.index(k) for k in ranked] == sorted(
        (sequence.index(k) for k in ranked), reverse=True
    ):
        sequence.reverse()
    later = [k for k in ranked if sequence.index(k) > sequence.index(key)]
    if later:
        return keys.index(later[0])
    return keys.index(ranked[-1]) + 1


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _delete(yaml: YAML, text: str, path: KeyPath) -> str:
    data = yaml.load(text)
    parent = _parent(data, path, create=False)
    key = path[-1]
    if key not in parent:
        raise EditError(f"{'.'.join(path)}: no such key to delete")
    if parent.fa.flow_style():
        del parent[key]
        return _dump(yaml, data)
    line, column = parent.lc.key(key)
    lines = text.splitlines(keepends=True)
    end = line + 1
    while end < len(lines):
        content = lines[end].strip()
        if content and not content.startswith("#") and _indent(lines[end]) <= column:
            break
        end += 1
    # Comments at the sibling's indentation just before the next key introduce that key.
    while end > line + 1:
        content = lines[end - 1].strip()
        if content and not (content.startswith("#") and _indent(lines[end - 1]) <= column):
            break
        end -= 1
    return "".join(lines[:line] + lines[end:])


def _apply_plain(data: Any, edit: Edit) -> None:
    node = data
    for key in edit.path[:-1]:
        node = node.setdefault(key, {})
    if isinstance(edit, SetValue):
        node[edit.path[-1]] = dict(edit.value) if isinstance(edit.value, Mapping) else edit.value
    else:
        node.pop(edit.path[-1], None)
