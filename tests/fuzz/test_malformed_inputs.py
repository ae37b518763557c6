"""Malformed input to every command that reads one: refused by name, in its exit code, no trace.

Each case is a command line given bad input (a desk document, an evidence bundle, an option,
an imported file, a pull request number, an audit sequence) and the exit codes allowed for it
(2 bad input, 1 where a verdict applies). For every case: the exit code is allowed, the command
did not crash, the diagnostic names the input (one ``error:`` line, or one problem line per
problem), and nothing was written: no MLflow version or run, no branch on the remote, no pull
request, no deployment, no audit event, no commit.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from stratops.cli.main import app
from stratops.registry.synthetic import save_constant_model, write_synthetic_bundle

EXAMPLE_DESK = Path(__file__).resolve().parents[2] / "stratops" / "data" / "example-desk"
TELEMETRY = Path(__file__).resolve().parents[1] / "fixtures" / "telemetry"
STRATEGY = "btc-trend"


@dataclass(frozen=True)
class Desk:
    root: Path
    remote: Path
    work: Path
    bundle: Path
    model: Path
    versions: str = ""

    @property
    def env(self) -> dict[str, str | None]:
        return {"STRATOPS_DESK": str(self.root), "MLFLOW_TRACKING_URI": None}


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def _invoke(desk: Desk, args: list[str]) -> Result:
    return CliRunner().invoke(app, args, env=desk.env, catch_exceptions=True)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """A desk made by ``stratops init``, with btc-trend v1 registered from a synthetic bundle."""
    base = tmp_path_factory.mktemp("fuzz")
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for role in ("AUTHOR", "COMMITTER"):
            patch.setenv(f"GIT_{role}_NAME", "Rita Researcher")
            patch.setenv(f"GIT_{role}_EMAIL", "rita@desk.example")
        for name in ("GITHUB_TOKEN", "STRATOPS_FORGE", "MLFLOW_TRACKING_URI", "STRATOPS_DESK"):
            patch.delenv(name, raising=False)
        root = base / "desk"
        made = CliRunner().invoke(app, ["init", str(root)])
        assert made.exit_code == 0, made.output
        bundle = write_synthetic_bundle(base / "bundle")
        model = save_constant_model(base / "model", position=0.5)
        found = Desk(root, Path(_git(root, "remote", "get-url", "origin").strip()), base, bundle,
                     model)  # fmt: skip
        registered = _invoke(found, ["register", STRATEGY, "--type", "trend", "--evidence",
                                     str(bundle), "--model", str(model)])  # fmt: skip
        assert registered.exit_code == 0, registered.output
        listed = _invoke(found, ["versions", STRATEGY, "-o", "json"])
        assert listed.exit_code == 0, listed.output
        yield replace(found, versions=listed.stdout)


def _rows(database: Path, query: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        return sorted(connection.execute(query).fetchall())


def _files(root: Path, skip: set[str]) -> list[tuple[str, int, int]]:
    """Every file under ``root`` (git refs, index, worktree, desk state) with size and mtime."""
    found = []
    for folder, names, files in os.walk(root):
        names[:] = [name for name in names if name not in skip]
        for name in files:
            if name not in skip and not name.endswith(".lock"):
                stat = (Path(folder) / name).stat()
                found.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
    return sorted(found)


def _snapshot(desk: Desk) -> dict[str, Any]:
    """Everything a command could write: registry, remote branches, PRs, runtime, audit, git."""
    state = desk.root / ".stratops"
    database = state / "mlflow.db"
    return {
        "models": _rows(database, "SELECT name FROM registered_models"),
        "versions": _rows(database, "SELECT name, version FROM model_versions"),
        "aliases": _rows(database, "SELECT name, alias, version FROM registered_model_aliases"),
        "runs": _rows(database, "SELECT run_uuid, status FROM runs"),
        "experiments": _rows(database, "SELECT experiment_id, name FROM experiments"),
        "remote": _files(desk.remote, skip={"objects", "logs"}),
        "desk": _files(desk.root, skip={"objects", "logs", "FETCH_HEAD", "mlflow.db"}),
        "work": sorted(str(p.relative_to(desk.work)) for p in desk.work.iterdir()),
        "cwd": sorted(os.listdir()),
    }


def _prs(desk: Desk) -> Any:
    listed = _invoke(desk, ["pr", "list", "-o", "json"])
    assert listed.exit_code == 0, listed.output
    return json.loads(listed.stdout)


def _diagnostic_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def assert_refused(
    desk: Desk,
    args: list[str],
    codes: frozenset[int],
    names: Callable[[str], bool],
    check_prs: bool = False,
) -> Result:
    """Run ``args``: an allowed exit code, no crash, a diagnostic by name, nothing written."""
    before = _snapshot(desk)
    prs = _prs(desk) if check_prs else None
    result = _invoke(desk, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"crashed: {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output
    assert result.exit_code in codes, result.output
    lines = _diagnostic_lines(result)
    errors = [line for line in lines if line.lower().startswith("error:")]
    if errors:
        assert len(errors) == 1, result.stderr
        assert names(errors[0]), f"the error does not name the input: {errors[0]!r}"
    else:
        problems = [line for line in lines if ": " in line and not line.endswith("problem(s)")]
        assert problems, f"no diagnostic on stderr:\n{result.output}"
        assert all(names(line) for line in problems), result.stderr
    assert _snapshot(desk) == before
    if check_prs:
        assert _prs(desk) == prs
    return result


def _naming(*fragments: str) -> Callable[[str], bool]:
    return lambda line: any(fragment in line for fragment in fragments)


BAD_INPUT = frozenset({2})
VERDICT_OR_BAD = frozenset({1, 2})


# --- desk documents: ``stratops validate`` -------------------------------------------------

DOCUMENTS = {
    str(path.relative_to(EXAMPLE_DESK)): yaml.safe_load(path.read_text())
    for path in sorted(EXAMPLE_DESK.rglob("*.yaml"))
}


def _leaves(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*prefix, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, (*prefix, index))
    else:
        yield prefix


def _keys(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _keys(item, (*prefix, key))


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    *parents, last = path
    container = changed
    for part in parents:
        container = container[part]
    container[last] = value
    return changed


def _drop(document: Any, path: tuple[Any, ...]) -> Any:
    changed = copy.deepcopy(document)
    *parents, last = path
    container = changed
    for part in parents:
        container = container[part]
    del container[last]
    return changed


def _add(document: Any, path: tuple[Any, ...]) -> Any:
    changed = copy.deepcopy(document)
    container = changed
    for part in path:
        container = container[part]
    container["unknownField"] = 1
    return changed


def _wrong_value(leaf: Any, turn: int) -> Any:
    """A value of the wrong type or range for ``leaf``, a different kind on each turn."""
    if isinstance(leaf, bool):
        return ["yes", {"on": True}, 2][turn % 3]
    if isinstance(leaf, (int, float)):
        return [{"amount": leaf}, "NaN", float("nan"), -1e309, [leaf], "12 usd"][turn % 6]
    return [{"value": leaf}, [[leaf]], None, 10**40][turn % 4]


def _document_cases() -> Iterator[tuple[str, str, bytes]]:
    """(id, file, content): every leaf replaced, required keys dropped, unknown keys added."""
    for name, document in DOCUMENTS.items():
        for turn, path in enumerate(_leaves(document)):
            leaf = document
            for part in path:
                leaf = leaf[part]
            value = _wrong_value(leaf, turn)
            text = yaml.safe_dump(_set(document, path, value), sort_keys=False)
            yield f"{name}:{'.'.join(map(str, path))}={value!r:.20}", name, text.encode()
        for path in [("apiVersion",), ("kind",), ("metadata",), ("spec",), ("metadata", "name")]:
            text = yaml.safe_dump(_drop(document, path), sort_keys=False)
            yield f"{name}:drop {'.'.join(path)}", name, text.encode()
        for path in [p for p in _keys(document) if isinstance(_get(document, p), dict)][:4]:
            text = yaml.safe_dump(_add(document, path), sort_keys=False)
            yield f"{name}:unknown key under {'.'.join(map(str, path))}", name, text.encode()


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def _raw_cases() -> Iterator[tuple[str, str, bytes]]:
    """Bytes no document parser should accept, each on one desk file."""
    name = "strategies/btc-trend.yaml"
    text = (EXAMPLE_DESK / name).read_bytes()
    raw = {
        "unclosed flow mapping": text.replace(b"{autoMerge: canary}", b"{autoMerge: canary"),
        "tab indentation": text.replace(b"\n  strategyType", b"\n\tstrategyType"),
        "binary bytes": b"\x00\x01\x02\xff\xfe" * 40,
        "latin-1 bytes": text.replace(b"research-trend", "recherche-été".encode("latin-1")),
        "utf-16 with BOM": text.decode().encode("utf-16"),
        "empty file": b"",
        "only a comment": b"# nothing here\n",
        "two documents": text + b"\n---\n" + text,
        "a list at top level": b"- apiVersion: stratops.io/v1alpha1\n- kind: GatePolicy\n",
        "a scalar at top level": b"just a string\n",
        "duplicate key": text + b"\nkind: GatePolicy\n",
        "python tag": text.replace(b"halt: flatten", b"halt: !!python/object/apply:os.system [ls]"),
        "custom tag": text.replace(b"venue: binance", b"venue: !Ref binance"),
        "merge key": text.replace(b"  venue: binance", b"  <<: {venue: binance}"),
        "integer key": text.replace(b"  venue: binance", b"  1: binance"),
        "alias bomb": b"a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
        "over 1 MiB": text + b"#" + b"x" * (1 << 20) + b"\n",
        "a 70,000 character name": text.replace(b"name: btc-trend", b"name: " + b"a" * 70_000),
        "nested 40 deep": b"apiVersion: stratops.io/v1alpha1\nkind: GatePolicy\nspec: "
        + b"[" * 40
        + b"]" * 40
        + b"\n",
        "wrong apiVersion": text.replace(b"stratops.io/v1alpha1", b"stratops.io/v2"),
        "unknown kind": text.replace(b"kind: StrategyDeployment", b"kind: Strategy"),
        "name not DNS-1123": text.replace(b"name: btc-trend", b"name: BTC_Trend!"),
        "name with path": text.replace(b"name: btc-trend", b"name: ../../etc"),
        "unterminated quote": text.replace(b"venue: binance", b'venue: "binance'),
        "stray colon": text.replace(b"venue: binance", b"venue: binance: spot"),
        "NUL inside a value": text.replace(b"venue: binance", b'venue: "bin\\0ance"'),
        "BOM then text": b"\xef\xbb\xbf" + text.replace(b"symbols: [BTC/USDT]", b"symbols: 7"),
        "CR only line ends": text.replace(b"\n", b"\r").replace(b"halt: flatten", b"halt: nope"),
    }
    for case, content in raw.items():
        yield case, name, content


VALIDATE_CASES = [*_document_cases(), *_raw_cases()]


@pytest.mark.parametrize(("file", "content"), [c[1:] for c in VALIDATE_CASES],
                         ids=[c[0] for c in VALIDATE_CASES])  # fmt: skip
def test_validate_refuses_a_malformed_document_by_file(
    tmp_path: Path, file: str, content: bytes
) -> None:
    manifests = tmp_path / "manifests"
    shutil.copytree(EXAMPLE_DESK, manifests)
    (manifests / file).write_bytes(content)
    before = {p: p.read_bytes() for p in manifests.rglob("*") if p.is_file()}
    result = CliRunner().invoke(app, ["validate", str(manifests)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    problems = [line for line in _diagnostic_lines(result) if not line.endswith("problem(s)")]
    assert problems, result.output
    assert all(line.startswith(str(manifests)) for line in problems), result.stderr
    assert any(line.startswith(str(manifests / file)) for line in problems), result.stderr
    assert {p: p.read_bytes() for p in manifests.rglob("*") if p.is_file()} == before


# --- evidence bundles: ``stratops register`` -----------------------------------------------

Damage = Callable[[Path], None]
PARQUETS = ["returns.parquet", "trades.parquet", "latency.parquet", "trials.parquet"]
JSONS = ["metadata.json", "data_quality.json"]


def _unlink(name: str) -> Damage:
    return lambda bundle: (bundle / name).unlink()


def _write(name: str, content: bytes) -> Damage:
    return lambda bundle: (bundle / name).write_bytes(content)


def _truncate(name: str, keep: float) -> Damage:
    def damage(bundle: Path) -> None:
        data = (bundle / name).read_bytes()
        (bundle / name).write_bytes(data[: int(len(data) * keep)])

    return damage


def _json_field(name: str, key: str, value: Any) -> Damage:
    def damage(bundle: Path) -> None:
        document = json.loads((bundle / name).read_text())
        if value is _MISSING:
            del document[key]
        else:
            document[key] = value
        (bundle / name).write_text(json.dumps(document))

    return damage


def _parquet_edit(name: str, edit: Callable[[pa.Table], pa.Table]) -> Damage:
    def damage(bundle: Path) -> None:
        pq.write_table(edit(pq.read_table(bundle / name)), bundle / name)

    return damage


def _as_strings(column: str) -> Callable[[pa.Table], pa.Table]:
    def edit(table: pa.Table) -> pa.Table:
        index = table.schema.get_field_index(column)
        return table.set_column(index, column, table.column(column).cast(pa.string()))

    return edit


_MISSING = object()

BUNDLE_DAMAGE: dict[str, Damage] = {
    **{f"missing {name}": _unlink(name) for name in [*PARQUETS, *JSONS]},
    "extra file": _write("notes.txt", b"hello"),
    "user manifest": _write("manifest.json", b"{}"),
    "subfolder": lambda bundle: (bundle / "more").mkdir(),
    **{f"{name} truncated to half": _truncate(name, 0.5) for name in PARQUETS},
    **{f"{name} truncated to 10 bytes": _truncate(name, 0.0) for name in PARQUETS[:2]},
    **{f"{name} empty": _write(name, b"") for name in [*PARQUETS, *JSONS]},
    **{f"{name} is JSON": _write(name, b'{"not": "parquet"}') for name in PARQUETS[:2]},
    **{f"{name} not JSON": _write(name, b"{strategyType: trend") for name in JSONS},
    **{f"{name} a JSON list": _write(name, b"[1, 2, 3]") for name in JSONS},
    **{f"{name} binary": _write(name, b"\xff\xfe\x00\x01") for name in JSONS},
    "metadata.json NaN": _write("metadata.json", b'{"trials": NaN}'),
    "returns.parquet net as strings": _parquet_edit("returns.parquet", _as_strings("net")),
    "returns.parquet timestamp as strings": _parquet_edit(
        "returns.parquet", _as_strings("timestamp")
    ),
    "returns.parquet no rows": _parquet_edit("returns.parquet", lambda t: t.slice(0, 0)),
    "returns.parquet without net": _parquet_edit("returns.parquet", lambda t: t.drop(["net"])),
    "trades.parquet side as numbers": _parquet_edit(
        "trades.parquet",
        lambda t: t.set_column(t.schema.get_field_index("side"), "side", pa.array([7] * len(t))),
    ),
    "latency.parquet as strings": _parquet_edit("latency.parquet", _as_strings("tick_to_order_ms")),
    "trials.parquet no configurations": _parquet_edit(
        "trials.parquet", lambda t: t.select(["timestamp"])
    ),
}
METADATA_WRONG: dict[str, list[Any]] = {
    "strategyType": [7, None, "marketmaking", ["trend"]],
    "symbols": ["BTC/USDT", [], [7], None],
    "venue": [None, 3, {"name": "binance"}],
    "codeCommit": [123, ["a5a4cec"]],
    "parameters": ["fast=6", [1, 2], {"fast": None}, {"fast": [6, 12]}],
    "dataRange": ["2024", {"start": "yesterday", "end": "today"}, None,
                  {"start": "2024-01-04T00:00:00+00:00", "end": "2024-01-01T00:00:00+00:00"},
                  {"start": "2024-01-01T00:00:00", "end": "2024-01-04T00:00:00"}],
    "periodsPerYear": ["hourly", -1, 0, None],
    "trials": ["ten", -3, 0, None, 10.5, 10**30],
    "allocation": ["lots", -100, 0, "NaN"],
}  # fmt: skip
DATA_QUALITY_WRONG: dict[str, list[Any]] = {
    "source": [None, 1],
    "rows": ["many", -1, None, 1.5],
    "expectedRows": ["x", -5],
    "gaps": [-1, "none"],
    "duplicates": [None, -2],
    "maxStalenessSeconds": ["a minute", -60],
    "fingerprint": [42, None],
    "start": ["not a time", 5, "2024-02-01T00:00:00+00:00", "2024-01-01T00:00:00+01:00"],
}
OPTIONAL = {"codeCommit", "parameters", "allocation"}
for _key, _values in METADATA_WRONG.items():
    for _value in [*_values] if _key in OPTIONAL else [*_values, _MISSING]:
        _label = "missing" if _value is _MISSING else f"{_value!r:.30}"
        BUNDLE_DAMAGE[f"metadata {_key}={_label}"] = _json_field("metadata.json", _key, _value)
for _key, _values in DATA_QUALITY_WRONG.items():
    for _value in [*_values, _MISSING]:
        _label = "missing" if _value is _MISSING else f"{_value!r:.30}"
        BUNDLE_DAMAGE[f"data_quality {_key}={_label}"] = _json_field(
            "data_quality.json", _key, _value
        )
BUNDLE_DAMAGE["metadata unknown key"] = _json_field("metadata.json", "extra", 1)


@pytest.mark.parametrize("case", sorted(BUNDLE_DAMAGE), ids=str)
def test_register_refuses_a_malformed_bundle_and_registers_nothing(
    desk: Desk, tmp_path: Path, case: str
) -> None:
    bundle = shutil.copytree(desk.bundle, tmp_path / "bundle")
    BUNDLE_DAMAGE[case](bundle)
    args = ["register", STRATEGY, "--type", "trend", "--evidence", str(bundle),
            "--model", str(desk.model)]  # fmt: skip
    assert_refused(desk, args, BAD_INPUT, _naming(str(bundle), "bundle"))
    assert _invoke(desk, ["versions", STRATEGY, "-o", "json"]).stdout == desk.versions


# --- options and arguments: promote, gates evaluate, backtest, pr, audit, evidence ----------


@dataclass(frozen=True)
class OptionCase:
    args: tuple[str, ...]
    fragments: tuple[str, ...]
    codes: frozenset[int] = BAD_INPUT


def _case(
    *args: str, names: str | tuple[str, ...], codes: frozenset[int] = BAD_INPUT
) -> OptionCase:
    return OptionCase(args, (names,) if isinstance(names, str) else names, codes)


PROMOTE = ("promote", STRATEGY, "1")
REASON = ("--reason", "fuzz")
GATES = ("gates", "evaluate", STRATEGY, "1")
BACKTEST = ("backtest", "--strategy", "trend", "--end", "2017-09-01")

PROMOTE_CASES = [
    _case("promote", "no-such", "1", "--to", "paper", *REASON, names="no-such"),
    _case("promote", "BTC_Trend", "1", "--to", "paper", *REASON, names="BTC_Trend"),
    _case("promote", "../etc", "1", "--to", "paper", *REASON, names="../etc"),
    _case("promote", "", "1", "--to", "paper", *REASON, names=("''", "STRATEGY", "strategy")),
    _case(*PROMOTE[:2], "99", "--to", "paper", *REASON, names=("99", "version")),
    _case(*PROMOTE[:2], "0", "--to", "paper", *REASON, names="VERSION"),
    _case(*PROMOTE[:2], "-1", "--to", "paper", *REASON, names=("-1", "VERSION")),
    _case(*PROMOTE[:2], "one", "--to", "paper", *REASON, names="VERSION"),
    _case(*PROMOTE, "--to", "bogus", *REASON, names="--to"),
    _case(*PROMOTE, "--to", "", *REASON, names="--to"),
    _case(*PROMOTE, "--to", "PAPER", *REASON, names="--to"),
    _case(*PROMOTE, *REASON, names="--to"),
    _case(*PROMOTE, "--to", "live", *REASON, names=("live", "stage"), codes=VERDICT_OR_BAD),
    _case(*PROMOTE, "--to", "canary", "--allocation", "lots", *REASON, names="--allocation"),
    _case(*PROMOTE, "--to", "canary", "--allocation", "-1", *REASON, names="--allocation"),
    _case(*PROMOTE, "--to", "canary", "--allocation", "1e400", *REASON, names="--allocation"),
    _case(*PROMOTE, "--to", "canary", "--allocation", "10000", "--analysis", "no-such", *REASON,
          names=("no-such", "analysis", "canary"), codes=VERDICT_OR_BAD),
    _case(*PROMOTE, "--to", "canary", "--allocation", "10000", "--analysis", "Bad Name", *REASON,
          names=("Bad Name", "analysis", "canary"), codes=VERDICT_OR_BAD),
    _case(*PROMOTE, "--to", "paper", "--bogus-option", names="--bogus-option"),
    _case(*PROMOTE, "--to", "paper", "--as-of", "yesterday", *REASON, names="--as-of"),
]  # fmt: skip
GATES_CASES = [
    _case("gates", "evaluate", "no-such", "1", "--to", "canary", names="no-such"),
    _case(*GATES[:3], "77", "--to", "canary", "--allocation", "10000", names=("77", "version")),
    _case(*GATES[:3], "77", "--to", "canary", names=("77", "allocation")),
    _case(*GATES[:3], "x", "--to", "canary", names="VERSION"),
    _case(*GATES, "--to", "nowhere", names="--to"),
    _case(*GATES, names="--to"),
    _case(*GATES, "--to", "canary", "--as-of", "yesterday", names="--as-of"),
    _case(*GATES, "--to", "canary", "--as-of", "2024-13-45T00:00:00Z", names="--as-of"),
    _case(*GATES, "--to", "canary", "--as-of", "2024-01-01T00:00:00", names="--as-of"),
    _case(*GATES, "--to", "canary", "--as-of", "", names="--as-of"),
    _case(*GATES, "--to", "canary", "--allocation", "0", names="--allocation"),
    _case(*GATES, "--to", "canary", "--allocation", "1,000", names="--allocation"),
    _case(*GATES, "--to", "canary", "--policy", "/nonexistent/policy.yaml",
          names="/nonexistent/policy.yaml"),
    _case(*GATES, "--to", "canary", "--manifests", "/nonexistent/manifests",
          names="/nonexistent/manifests"),
    _case(*GATES, "--to", "canary", "-o", "html", names="--output"),
]  # fmt: skip
BACKTEST_CASES = [
    _case("backtest", "--strategy", "no-such", names="no-such"),
    _case("backtest", "--strategy", "", names=("''", "strategy")),
    _case("backtest", names=("--strategy", "--model-uri")),
    _case(*BACKTEST, "--grid", "fast", names="--grid"),
    _case(*BACKTEST, "--grid", "fast=", names="--grid"),
    _case(*BACKTEST, "--grid", "=6,12", names="--grid"),
    _case(*BACKTEST, "--grid", "fast=a,b", names="fast"),
    _case(*BACKTEST, "--grid", "fast=6,,12", names="fast"),
    _case(*BACKTEST, "--grid", "fast=6.5", names="fast"),
    _case(*BACKTEST, "--grid", "fast=-6", names="fast"),
    _case(*BACKTEST, "--grid", "allow_short=maybe", names="allow_short"),
    _case(*BACKTEST, "--grid", "bogus=1,2", names="bogus"),
    _case(*BACKTEST, "--grid", "size=nan", names="size"),
    _case(*BACKTEST, "--param", "fast", names="--param"),
    _case(*BACKTEST, "--param", "fast=abc", names="fast"),
    _case(*BACKTEST, "--param", "fast=1e400", names="fast"),
    _case(*BACKTEST, "--param", "size=inf", names="size"),
    _case(*BACKTEST, "--param", "size=-1", names="size"),
    _case(*BACKTEST, "--param", "slow=true", names="slow"),
    _case(*BACKTEST, "--param", "allow_short=1", names="allow_short"),
    _case(*BACKTEST, "--param", "nope=1", names="nope"),
    _case("backtest", "--strategy", "trend", "--start", "not-a-date", names="--start"),
    _case("backtest", "--strategy", "trend", "--end", "2024-02-30", names="--end"),
    _case("backtest", "--strategy", "trend", "--start", "2030-01-01", names=("range", "bar")),
    _case("backtest", "--strategy", "trend", "--start", "2024-01-02", "--end", "2024-01-01",
          names=("range", "bar")),
    _case(*BACKTEST, "--data", "no-such-data", names="no-such-data"),
    _case(*BACKTEST, "--data-dir", "/nonexistent/data", names="/nonexistent/data"),
    _case(*BACKTEST, "--bars", "BTC/USDT=/nonexistent.parquet", names="/nonexistent.parquet"),
    _case(*BACKTEST, "--bars", "no-equals-sign", names="--bars"),
    _case(*BACKTEST, "--on-bad-data", "ignore", names="--on-bad-data"),
    _case(*BACKTEST, "--allocation", "abc", names="--allocation"),
    _case(*BACKTEST, "--seed", "-1", names="--seed"),
    _case(*BACKTEST, "--seed", "1.5", names="--seed"),
    _case(*BACKTEST, "--max-fraction", "nan", names="max fraction"),
    _case(*BACKTEST, "--participation", "2", names="participation"),
    _case(*BACKTEST, "--participation", "0", names="participation"),
    _case(*BACKTEST, "--order-type", "stop", names="--order-type"),
    _case(*BACKTEST, "--model-uri", "runs:/nothing/model", names=("--strategy", "--model-uri")),
    _case("backtest", "--model-uri", "models:/no-such/1", names="no-such"),
    _case("backtest", "--model-uri", "not a uri", names="not a uri"),
    _case(*BACKTEST, "-o", "csv", names="--output"),
]  # fmt: skip
NUMBER_CASES = [
    *(_case("pr", verb, number, names=(number, "NUMBER", "pull request"))
      for verb in ("show", "merge", "close")
      for number in ("999", "0", "abc", "1.5", str(2**70))),
    _case("pr", "approve", "999", "--as", "bob", names=("999", "pull request")),
    _case("pr", "approve", "x", "--as", "bob", names="NUMBER"),
    _case("pr", "request-changes", "999", "--as", "bob", "--comment", "no",
          names=("999", "pull request")),
    *(_case("audit", "show", sequence, names=(sequence, "SEQUENCE", "audit event"))
      for sequence in ("999", "0", "abc", "1.5", str(2**70), "")),
    _case("evidence", "verify", STRATEGY, "99", names=("99", "version")),
    _case("evidence", "verify", "no-such", "1", names="no-such"),
    _case("evidence", "show", STRATEGY, "abc", names="VERSION"),
    _case("evidence", "show", "../x", "1", names="../x"),
    _case("versions", "Bad Name!", names="Bad Name!"),
    _case("aliases", "history", "", names=("''", "STRATEGY", "strategy")),
    _case("register", "new-one", "--type", "trend", "--evidence", "/nonexistent/bundle",
          "--model", "/nonexistent/model", names="/nonexistent/"),
    _case("register", "new-one", "--type", "hodl", "--evidence", ".", names="--type"),
    _case("register", "Bad Name", "--type", "trend", "--evidence", ".", "--model", ".",
          names="Bad Name"),
    _case("regimes", "show", "--symbol", "DOGE/EUR", names="DOGE/EUR"),
    _case("regimes", "show", "--symbol", "BTC/USDT", "--data-dir", "/nonexistent/data",
          names="/nonexistent/data"),
]  # fmt: skip
OPTION_CASES = {
    " ".join(case.args)[:90] or "empty": case
    for case in [*PROMOTE_CASES, *GATES_CASES, *BACKTEST_CASES, *NUMBER_CASES]
}


@pytest.mark.parametrize("name", sorted(OPTION_CASES), ids=str)
def test_a_malformed_option_is_refused_by_name_and_writes_nothing(desk: Desk, name: str) -> None:
    case = OPTION_CASES[name]
    args = list(case.args)
    if args[0] == "backtest":
        args += ["--evidence-out", str(desk.work / "evidence")]
        if "--model-uri" not in args:
            args += ["--model-out", str(desk.work / "model-out")]
    assert_refused(desk, args, case.codes, _naming(*case.fragments),
                   check_prs=args[0] in ("promote", "pr"))  # fmt: skip


# --- imported telemetry: ``stratops analytics import`` -------------------------------------


def _lines(name: str, count: int = 4) -> list[str]:
    return (TELEMETRY / name).read_text().splitlines()[:count]


def _ccxt(edit: Callable[[dict[str, Any]], Any]) -> bytes:
    lines = _lines("ccxt-trades.jsonl")
    fill = json.loads(lines[1])
    edited = edit(fill)
    lines[1] = json.dumps(fill if edited is None else edited)
    return ("\n".join(lines) + "\n").encode()


def _ccxt_set(key: str, value: Any) -> bytes:
    return _ccxt(lambda fill: fill.__setitem__(key, value))


def _ccxt_drop(key: str) -> bytes:
    return _ccxt(lambda fill: fill.pop(key))


def _tardis(name: str, column: str, value: str) -> bytes:
    header, *rows = _lines(name)
    columns = header.split(",")
    cells = rows[1].split(",")
    cells[columns.index(column)] = value
    rows[1] = ",".join(cells)
    return ("\n".join([header, *rows]) + "\n").encode()


def _binance(line: str) -> bytes:
    lines = _lines("binance-ws-spot-btcusdt.txt")
    lines[2] = line
    return ("\n".join(lines) + "\n").encode()


WS_TIME = "1723161254087891268 "
TICKER = (
    '{"stream":"btcusdt@bookTicker","data":{"u":1,"s":"BTCUSDT","b":%s,"B":"1","a":"2","A":"1"}}'
)
IMPORT_CASES: dict[str, tuple[str, str, bytes]] = {
    "ccxt not JSON": ("ccxt", "fills.jsonl", _ccxt(lambda fill: "{not json")),
    "ccxt a JSON list": ("ccxt", "fills.jsonl", _ccxt(lambda fill: [1, 2])),
    "ccxt binary": ("ccxt", "fills.jsonl", b"\xff\xfe\x00garbage\n"),
    "ccxt NaN price": ("ccxt", "fills.jsonl", _ccxt_set("price", float("nan"))),
    "ccxt negative price": ("ccxt", "fills.jsonl", _ccxt_set("price", -1)),
    "ccxt price as text": ("ccxt", "fills.jsonl", _ccxt_set("price", "cheap")),
    "ccxt zero amount": ("ccxt", "fills.jsonl", _ccxt_set("amount", 0)),
    "ccxt huge amount": ("ccxt", "fills.jsonl", _ccxt_set("amount", 1e400)),
    "ccxt side hold": ("ccxt", "fills.jsonl", _ccxt_set("side", "hold")),
    "ccxt timestamp as text": ("ccxt", "fills.jsonl", _ccxt_set("timestamp", "noon")),
    "ccxt timestamp negative": ("ccxt", "fills.jsonl", _ccxt_set("timestamp", -5)),
    "ccxt timestamp 2**70": ("ccxt", "fills.jsonl", _ccxt_set("timestamp", 2**70)),
    "ccxt no timestamp": ("ccxt", "fills.jsonl", _ccxt_drop("timestamp")),
    "ccxt no symbol": ("ccxt", "fills.jsonl", _ccxt_drop("symbol")),
    "ccxt symbol a number": ("ccxt", "fills.jsonl", _ccxt_set("symbol", 7)),
    "ccxt fee a string": ("ccxt", "fills.jsonl", _ccxt_set("fee", "cheap")),
    "ccxt fee cost text": ("ccxt", "fills.jsonl", _ccxt_set("fee", {"cost": "x", "currency": "T"})),
    "tardis bad timestamp": ("tardis", "trades.csv",
                             _tardis("tardis-trades.csv", "timestamp", "soon")),
    "tardis price text": ("tardis", "trades.csv", _tardis("tardis-trades.csv", "price", "abc")),
    "tardis price negative": ("tardis", "trades.csv", _tardis("tardis-trades.csv", "price", "-1")),
    "tardis price nan": ("tardis", "trades.csv", _tardis("tardis-trades.csv", "price", "nan")),
    "tardis amount empty": ("tardis", "trades.csv", _tardis("tardis-trades.csv", "amount", "")),
    "tardis side x": ("tardis", "trades.csv", _tardis("tardis-trades.csv", "side", "x")),
    "tardis ask price inf": ("tardis", "quotes.csv",
                             _tardis("tardis-quotes.csv", "ask_price", "inf")),
    "tardis bid text": ("tardis", "quotes.csv", _tardis("tardis-quotes.csv", "bid_price", "b")),
    "tardis extra cell": ("tardis", "trades.csv", _tardis("tardis-trades.csv", "side", "buy,1")),
    "tardis unknown header": ("tardis", "other.csv", b"a,b,c\n1,2,3\n"),
    "tardis empty file": ("tardis", "empty.csv", b""),
    "tardis binary": ("tardis", "trades.csv", b"\x00\x01\x02\x03\xff"),
    "tardis bad gzip": ("tardis", "trades.csv.gz", b"\x1f\x8b\x08\x00garbage"),
    "binance no timestamp": ("binance-ws", "ws.txt", _binance(TICKER % '"1"')),
    "binance bad timestamp": ("binance-ws", "ws.txt", _binance("soon " + TICKER % '"1"')),
    "binance not JSON": ("binance-ws", "ws.txt", _binance("1723161254087891268 {oops")),
    "binance bid text": ("binance-ws", "ws.txt", _binance(WS_TIME + TICKER % '"x"')),
    "binance bid null": ("binance-ws", "ws.txt", _binance(WS_TIME + TICKER % "null")),
    "binance data a list": ("binance-ws", "ws.txt",
                            _binance('1723161254087891268 {"stream":"btcusdt@trade","data":[]}')),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(IMPORT_CASES), ids=str)
def test_import_refuses_a_bad_line_by_file_and_writes_nothing(
    desk: Desk, tmp_path: Path, case: str
) -> None:
    kind, name, content = IMPORT_CASES[case]
    source = tmp_path / name
    source.write_bytes(content)
    out = desk.work / "telemetry-out"
    args = ["analytics", "import", "--format", kind, str(source), "--out", str(out)]
    assert_refused(desk, args, BAD_INPUT, _naming(str(source)))
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "ccxt", "/nonexistent/fills.jsonl"],
        ["--format", "ccxt", str(TELEMETRY)],
        ["--format", "fix", str(TELEMETRY / "ccxt-trades.jsonl")],
        ["--format", "tardis", str(TELEMETRY / "ccxt-trades.jsonl")],
        ["--format", "ccxt", str(TELEMETRY / "tardis-trades.csv")],
    ],
    ids=["missing file", "a folder", "unknown format", "jsonl as tardis", "csv as ccxt"],
)
def test_import_refuses_the_wrong_file_by_name(desk: Desk, args: list[str]) -> None:
    out = desk.work / "telemetry-out"
    named = [a for a in args if a.startswith("/")] + ["--format"]
    assert_refused(desk, ["analytics", "import", *args, "--out", str(out)], BAD_INPUT,
                   _naming(*named))  # fmt: skip
    assert not out.exists()


# --- generated: any text where a pull request number or audit sequence is expected ---------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from([("pr", "show"), ("pr", "close"), ("audit", "show")]),
    text=st.text(st.characters(codec="ascii", categories=["L", "N", "P", "S"]), min_size=1,
                 max_size=12),
)  # fmt: skip
@example(command=("audit", "show"), text="00")  # once read as event 0, named neither
def test_any_text_as_a_number_is_refused_by_name(
    desk: Desk, command: tuple[str, str], text: str
) -> None:
    assert_refused(desk, [*command, "--", text], BAD_INPUT,
                   _naming(text, "NUMBER", "SEQUENCE"), check_prs=command[0] == "pr")  # fmt: skip
