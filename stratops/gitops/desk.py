"""Load a desk's manifests from files and check them against each other.

A desk is a set of documents: one ``GatePolicy``, ``AnalysisTemplate`` documents, one
``StrategyDeployment`` per strategy, and the ``AlertRule`` and ``Runbook`` documents of its
operations. Directories are walked for ``*.yaml``/``*.yml``; a
directory named ``deploy`` holds Kubernetes manifests of the controller itself and is skipped.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TypeVar

from stratops.model.alerts import AlertRule
from stratops.model.analysis import AnalysisTemplate
from stratops.model.base import Document
from stratops.model.documents import load_document
from stratops.model.evidence import EvidenceManifest
from stratops.model.notification import Notification
from stratops.model.policy import AllowedSigners, GatePolicy
from stratops.model.problems import Problem
from stratops.model.reconciliation import ReconciliationPolicy
from stratops.model.runbook import Runbook
from stratops.model.strategy import StrategyDeployment
from stratops.model.yaml_source import MAX_BYTES, ParsedYaml, YamlError, dotted, parse_yaml

SKIPPED_DIRS = {"deploy"}
YAML_SUFFIXES = {".yaml", ".yml"}

T = TypeVar("T", bound=Document)


@dataclass(frozen=True)
class Source:
    """A document and where it came from."""

    file: str
    parsed: ParsedYaml
    document: Document


RULE_KINDS = (GatePolicy, AnalysisTemplate, AlertRule, Runbook, Notification, ReconciliationPolicy)


@dataclass
class Desk:
    sources: list[Source] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    signers: AllowedSigners | None = None  # the policy's allowed-signers file, read from Git

    def of_kind(self, kind: type[T]) -> list[tuple[Source, T]]:
        return [(s, s.document) for s in self.sources if isinstance(s.document, kind)]

    @property
    def strategies(self) -> dict[str, StrategyDeployment]:
        return {doc.name: doc for _, doc in self.of_kind(StrategyDeployment)}

    @property
    def templates(self) -> dict[str, AnalysisTemplate]:
        return {doc.name: doc for _, doc in self.of_kind(AnalysisTemplate)}

    @property
    def policy(self) -> GatePolicy | None:
        policies = self.of_kind(GatePolicy)
        return policies[0][1] if len(policies) == 1 else None

    @property
    def rules(self) -> dict[str, Document]:
        """The documents that set the bar, by ``Kind/name``: only their owners may change them.

        The policy's allowed-signers file is one of them: who may sign is part of the bar.
        """
        found: dict[str, Document] = {
            f"{s.document.kind}/{s.document.name}": s.document
            for s in self.sources
            if isinstance(s.document, RULE_KINDS)
        }
        if self.signers is not None:
            found[f"{self.signers.kind}/{self.signers.spec.path}"] = self.signers
        return found

    @property
    def evidence(self) -> list[EvidenceManifest]:
        return [doc for _, doc in self.of_kind(EvidenceManifest)]

    @property
    def ok(self) -> bool:
        return not self.problems


def is_desk_file(relative: Sequence[str]) -> bool:
    """Whether a file at ``relative`` (path parts under a desk folder) holds a document."""
    folders, name = relative[:-1], relative[-1]
    if any(part in SKIPPED_DIRS or part.startswith(".") for part in folders):
        return False
    return Path(name).suffix in YAML_SUFFIXES


def _kind_of(path: Path) -> str:
    mode = path.stat().st_mode
    for test, kind in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _unusable(path: Path, root: Path | None) -> Problem | None:
    """Why ``path`` cannot be read as a document (None: it can): a document that cannot be
    read is a problem, never an absence."""
    name = str(path)
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            return Problem(
                file=name,
                message=f"dangling symlink to {path.readlink()}",
                code="file.dangling_link",
            )
        if root is not None and not target.is_relative_to(root.resolve()):
            return Problem(
                file=name,
                message=f"symlink to {target}, outside the desk folder {root}",
                code="file.outside",
            )
    if not path.exists():
        return Problem(file=name, message="no such file or directory", code="file.missing")
    if not path.is_file():
        return Problem(
            file=name, message=f"not a regular file: {_kind_of(path)}", code="file.not_regular"
        )
    return None


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Files to validate under ``paths``, sorted, and problems for paths that cannot be read."""
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if candidate.is_dir() or not is_desk_file(candidate.relative_to(path).parts):
                    continue
                problem = _unusable(candidate, path)
                if problem is None:
                    files.append(candidate)
                else:
                    problems.append(problem)
            continue
        problem = _unusable(path, None)
        if problem is None:
            files.append(path)
        else:
            problems.append(problem)
    return files, problems


def read_source(path: Path, max_bytes: int = MAX_BYTES) -> Source | list[Problem]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return [
                Problem(
                    file=name,
                    message=f"file is {size} bytes, over the limit of {max_bytes}",
                    code="yaml.too_large",
                )
            ]
        raw = path.read_bytes()
    except OSError as exc:
        return [Problem(file=name, message=f"cannot read: {exc.strerror}", code="file.unreadable")]
    return parse_source(raw, name, max_bytes)


def parse_source(raw: str | bytes, name: str, max_bytes: int = MAX_BYTES) -> Source | list[Problem]:
    try:
        parsed = parse_yaml(raw, name, max_bytes=max_bytes)
    except YamlError as exc:
        return [exc.problem]
    loaded = load_document(parsed)
    if isinstance(loaded, list):
        return loaded
    return Source(file=name, parsed=parsed, document=loaded)


def _assemble(loaded: Iterable[Source | list[Problem]], problems: list[Problem]) -> Desk:
    desk = Desk(problems=problems)
    for item in loaded:
        if isinstance(item, list):
            desk.problems.extend(item)
        else:
            desk.sources.append(item)
    desk.problems.extend(cross_check(desk.sources))
    return desk


def load_desk(paths: Iterable[Path]) -> Desk:
    files, problems = discover(list(paths))
    return _assemble((read_source(path) for path in files), problems)


def desk_from_blobs(blobs: Mapping[str, bytes]) -> Desk:
    """A desk from file contents by name (the files of a Git tree, say), checked as on disk.

    The names are used as given in problems and :attr:`Source.file`; the caller filters them
    with :func:`is_desk_file`.
    """
    return desk_from_sources(parse_source(raw, name) for name, raw in sorted(blobs.items()))


def desk_from_sources(loaded: Iterable[Source | list[Problem]]) -> Desk:
    """A desk from parsed files (:func:`parse_source`'s results, in file order), cross-checked."""
    return _assemble(loaded, [])


def with_signers(desk: Desk, read: Callable[[str], bytes | None]) -> Desk:
    """``desk`` with the allowed-signers file its policy names, ``read`` by repository path.

    A missing or unreadable file is a problem of the policy: the desk does not validate.
    """
    policies = desk.of_kind(GatePolicy)
    if len(policies) != 1 or policies[0][1].spec.signatures is None:
        return desk
    source, policy = policies[0]
    assert policy.spec.signatures is not None
    path = str(PurePosixPath(policy.spec.signatures.allowed_signers))
    raw = read(path)
    text = None
    if raw is not None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None:
        field = ("spec", "signatures", "allowedSigners")
        what = "is not in the repository" if raw is None else "is not UTF-8 text"
        message = f"the allowed-signers file {path} {what}: commit it, in git's format"
        problem = _problem(source, field, message, "policy.allowed_signers")
        return replace(desk, problems=[*desk.problems, problem])
    signers = AllowedSigners(
        metadata={"name": "allowed-signers"}, spec={"path": path, "content": text}
    )
    return replace(desk, signers=signers)


def _problem(source: Source, path: tuple[str | int, ...], message: str, code: str) -> Problem:
    return Problem(
        file=source.file,
        line=source.parsed.line_of(path),
        field=dotted(path),
        message=message,
        code=code,
    )


def cross_check(sources: list[Source]) -> list[Problem]:
    """Problems between documents: duplicates, references, policy coverage and limits."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], Source] = {}
    for source in sources:
        key = (type(source.document).__name__, source.document.name)
        if key in seen:
            problems.append(
                _problem(
                    source,
                    ("metadata", "name"),
                    f"{key[0]} {key[1]!r} is already defined in {seen[key].file}",
                    "desk.duplicate_name",
                )
            )
        else:
            seen[key] = source

    policies = [s for s in sources if isinstance(s.document, GatePolicy)]
    strategies = [s for s in sources if isinstance(s.document, StrategyDeployment)]
    templates = {s.document.name for s in sources if isinstance(s.document, AnalysisTemplate)}
    if len(policies) > 1:
        for extra in policies[1:]:
            problems.append(
                _problem(
                    extra,
                    ("kind",),
                    f"a desk has one GatePolicy; another is in {policies[0].file}",
                    "desk.several_policies",
                )
            )
    if strategies and not policies:
        problems.append(
            Problem(
                file=strategies[0].file,
                message="no GatePolicy among the inputs: strategies cannot be checked against "
                "policy limits (validate the whole manifests/ folder)",
                code="desk.no_policy",
            )
        )
    policy = policies[0].document if policies else None
    for source in strategies:
        strategy = source.document
        assert isinstance(strategy, StrategyDeployment)
        stages = strategy.spec.stages
        for stage, judged in (("canary", stages.canary), ("live", stages.live)):
            named = None if judged is None else judged.analysis
            if named is None or named in templates:
                continue
            known = ", ".join(sorted(templates)) or "none"
            problems.append(
                _problem(
                    source,
                    ("spec", "stages", stage, "analysis"),
                    f"AnalysisTemplate {named!r} does not exist (known: {known})",
                    "desk.unknown_analysis",
                )
            )
        if not isinstance(policy, GatePolicy):
            continue
        strategy_type = strategy.spec.strategy_type
        if strategy_type not in policy.spec.rules:
            problems.append(
                _problem(
                    source,
                    ("spec", "strategyType"),
                    f"the GatePolicy {policy.name!r} has no rules for strategy type "
                    f"{strategy_type.value!r}",
                    "desk.type_without_rules",
                )
            )
        limits = policy.spec.max_allocation.get(strategy_type)
        if limits is None:
            continue
        for stage, entry in stages.items():
            limit = limits.for_stage(stage)
            if limit is not None and entry.allocation > limit:
                problems.append(
                    _problem(
                        source,
                        ("spec", "stages", stage.value, "allocation"),
                        f"allocation {entry.allocation:,.0f} exceeds the policy limit of "
                        f"{limit:,.0f} for {strategy_type.value} in {stage.value}",
                        "desk.allocation_over_limit",
                    )
                )
    problems.extend(_runbook_links(sources))
    return problems


def _runbook_links(sources: list[Source]) -> list[Problem]:
    """Every ``AlertRule`` links a ``Runbook`` of the desk."""
    runbooks = {s.document.name for s in sources if isinstance(s.document, Runbook)}
    problems = []
    for source in sources:
        rule = source.document
        if isinstance(rule, AlertRule) and rule.spec.runbook not in runbooks:
            known = ", ".join(sorted(runbooks)) or "none"
            problems.append(
                _problem(
                    source,
                    ("spec", "runbook"),
                    f"Runbook {rule.spec.runbook!r} does not exist (known: {known})",
                    "desk.unknown_runbook",
                )
            )
    return problems
