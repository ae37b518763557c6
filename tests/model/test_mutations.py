"""Random mutations of valid documents validate or yield problems naming file and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratops.gitops.desk import Source, discover, parse_source
from stratops.model.yaml_source import parse_yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "stratops" / "data" / "example-desk"
VALID_FILES = discover([EXAMPLE])[0]
DOCUMENTS = {path.name: yaml.safe_load(path.read_text()) for path in VALID_FILES}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_of(item, (*prefix, index))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(sorted(DOCUMENTS)))
    document = copy.deepcopy(DOCUMENTS[name])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths_of(document)[1:]))
        *parents, last = path
        container = document
        for part in parents:
            container = container[part]
        action = draw(st.sampled_from(["replace", "delete", "add", "rename"]))
        if action == "replace":
            container[last] = draw(json_values)
        elif action == "delete":
            del container[last]
        elif action == "add" and isinstance(container, dict):
            container[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        elif action == "rename" and isinstance(container, dict):
            container[draw(st.text(min_size=1, max_size=10))] = container.pop(last)
    return name, document


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_document_validates_or_names_file_and_field(case: tuple[str, Any]) -> None:
    name, document = case
    text = yaml.safe_dump(document, sort_keys=False)
    result = parse_source(text, name)
    if isinstance(result, Source):
        assert result.document.name
        return
    assert result, "an invalid document must come with at least one problem"
    for problem in result:
        assert problem.file == name
        assert problem.message
        assert problem.field or problem.code in {"document.not_mapping", "yaml.empty"}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(VALID_FILES),
    st.integers(min_value=0),
    st.binary(min_size=1, max_size=4),
)
def test_byte_level_corruption_never_raises(path: Path, offset: int, junk: bytes) -> None:
    raw = path.read_bytes()
    position = offset % len(raw)
    corrupted = raw[:position] + junk + raw[position + 1 :]
    result = parse_source(corrupted, path.name)
    if not isinstance(result, Source):
        assert all(problem.file == path.name for problem in result)


@given(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=5))
@settings(max_examples=200, deadline=None)
def test_parser_round_trips_plain_yaml(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data)
    parsed = parse_yaml(text, "doc.yaml")
    expected = yaml.safe_load(text)
    assert repr(parsed.data) == repr(expected)
    for key in data:
        assert parsed.line_of((key,)) is not None
