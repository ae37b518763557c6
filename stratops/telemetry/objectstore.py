"""Telemetry in an S3-compatible object store: what pods publish, what the controller mirrors.

A Kubernetes deployment's pod writes its run folder like every paper process and, after each
flush, publishes it below ``<telemetryBucket>/<object name>/v<version>/`` (:class:`Publisher`).
The controller keeps an incremental local mirror of each prefix under its state folder
(:func:`mirror`) and reads it with the same reader as a local deployment's folder
(:mod:`stratops.telemetry.reader`).

What is copied, either way:

- a Parquet part (``*.parquet``) once, when it appears or its size changes: the writer never
  rewrites a part (:mod:`stratops.telemetry.writer`; a resumed process writes a part it
  discarded again, byte for byte), so a mirror fetches only the new partitions;
- an append-only file (``*.jsonl``, the paper venue's statement) when its size changes;
- any other file (``run.json``, ``checkpoint.json``) at every sync: small documents rewritten
  in place, whose rewrite neither size nor the store's one-second times can tell (the local
  copy is replaced only when its bytes differ, so its time says when it changed);
- ``run.json`` last: a reader that sees a new ``run.json`` sees the parts it counts.

A file gone from the source side is removed from the other (a part a resumed process
discarded). Names starting with a dot (files being written) are never copied.

Errors: :class:`TelemetryStoreUnavailable`, an :class:`~stratops.unavailable.Unavailable`
naming the endpoint, the prefix and what failed; nothing is left half-written locally (each
file is written under a temporary name and renamed).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlparse

import pyarrow.fs as pafs

from stratops.files import replace_file
from stratops.telemetry.schema import RUN_FILE
from stratops.unavailable import Unavailable

SCHEME: Final = "s3://"
IMMUTABLE: Final = (".parquet",)
APPEND_ONLY: Final = (".jsonl",)


class TelemetryStoreUnavailable(Unavailable):
    """The object store could not be read or written: the same call may succeed later."""


def s3_filesystem(
    endpoint: str | None, *, connect_timeout: float = 2.0, request_timeout: float = 5.0
) -> pafs.S3FileSystem:
    """An S3 filesystem for ``endpoint`` (``http(s)://host:port``; None: AWS S3).

    Credentials come from the usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
    the shared credentials file, a pod's web identity). One attempt per request: a store that
    does not answer is reported at once, and the caller's next tick is the retry.
    """
    options: dict[str, object] = {
        "connect_timeout": connect_timeout,
        "request_timeout": request_timeout,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=1),
    }
    if endpoint is not None:
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        options["endpoint_override"] = parsed.netloc + parsed.path.rstrip("/")
        options["scheme"] = parsed.scheme
    return pafs.S3FileSystem(**options)


def object_path(uri: str) -> str:
    """``bucket/prefix`` of ``s3://bucket/prefix`` (what a pyarrow filesystem calls a path)."""
    if not uri.startswith(SCHEME) or len(uri) == len(SCHEME):
        raise ValueError(f"{uri!r}: expected s3://bucket/prefix")
    return uri[len(SCHEME) :].strip("/")


@dataclass(frozen=True)
class Entry:
    """A file below a root, by its path relative to it (``/``-separated)."""

    name: str
    size: int


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


def _wanted(name: str, size: int, have: int | None) -> bool:
    """Copy ``name`` (``size`` bytes at the source) over a copy of ``have`` bytes (None: none)?"""
    if have is None:
        return True
    if name.endswith(IMMUTABLE + APPEND_ONLY):
        return have != size
    return True


def _ordered(entries: Iterable[Entry]) -> list[Entry]:
    """Parts and statements first, ``run.json`` files last."""
    return sorted(entries, key=lambda e: (e.name.rsplit("/", 1)[-1] == RUN_FILE, e.name))


def _local_entries(root: Path) -> dict[str, Entry]:
    found = {}
    if root.is_dir():
        for path in root.rglob("*"):
            name = path.relative_to(root).as_posix()
            if path.is_file() and not _hidden(name):
                found[name] = Entry(name, path.stat().st_size)
    return found


@contextlib.contextmanager
def _store_errors(action: str, endpoint: str | None, path: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        where = endpoint or "AWS S3"
        raise TelemetryStoreUnavailable(f"cannot {action} s3://{path} at {where}: {exc}") from exc


def remote_entries(fs: pafs.FileSystem, path: str) -> dict[str, Entry]:
    """The files below ``bucket/prefix``; empty when there are none (nothing published yet)."""
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    found = {}
    for info in fs.get_file_info(selector):
        name = info.path[len(path) :].lstrip("/")
        if info.type == pafs.FileType.File and not _hidden(name):
            found[name] = Entry(name, int(info.size or 0))
    return found


def read_object(fs: pafs.FileSystem, path: str, endpoint: str | None = None) -> bytes | None:
    """The bytes of one object; None when there is none.

    Raises
    ------
    TelemetryStoreUnavailable
        When the store cannot be read.
    """
    with _store_errors("read", endpoint, path):
        if fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with fs.open_input_stream(path) as stream:
            data: bytes = stream.read()
    return data


def mirror(
    fs: pafs.FileSystem,
    path: str,
    local: Path,
    endpoint: str | None = None,
    skip: Collection[str] = (),
) -> int:
    """Bring ``local`` up to ``bucket/prefix`` ``path``; the number of files fetched.

    Files named in ``skip`` (a base name, e.g. ``checkpoint.json``: the controller reads no
    checkpoint) are neither fetched nor kept.

    Raises
    ------
    TelemetryStoreUnavailable
        When the store cannot be listed or a file cannot be read.
    """
    with _store_errors("list", endpoint, path):
        remote = {
            name: entry
            for name, entry in remote_entries(fs, path).items()
            if name.rsplit("/", 1)[-1] not in skip
        }
    have = _local_entries(local)
    fetched = 0
    for entry in _ordered(remote.values()):
        held = have.get(entry.name)
        if not _wanted(entry.name, entry.size, None if held is None else held.size):
            continue
        source = f"{path}/{entry.name}"
        with _store_errors("read", endpoint, source), fs.open_input_stream(source) as stream:
            data = stream.read()
        target = local / entry.name
        if held is not None and held.size == len(data) and target.read_bytes() == data:
            continue  # a document fetched again, unchanged: its local time stays
        replace_file(target, data)
        fetched += 1
    for name in sorted(set(have) - set(remote)):
        with contextlib.suppress(FileNotFoundError):
            (local / name).unlink()
    return fetched


@dataclass
class Publisher:
    """Publishes a pod's run folder to ``bucket/prefix`` after each flush (see the module).

    It remembers what it sent (size and modification time of each file), so a flush uploads
    the new parts, the grown statement and the rewritten documents, nothing else.
    """

    fs: pafs.FileSystem
    path: str
    folder: Path
    endpoint: str | None = None
    sent: dict[str, tuple[int, int]] = field(default_factory=dict)
    problem: str = field(default="", repr=False)

    @classmethod
    def to(cls, uri: str, endpoint: str | None, folder: Path) -> Publisher:
        """A publisher of ``folder`` to ``s3://bucket/prefix`` at ``endpoint``."""
        return cls(s3_filesystem(endpoint), object_path(uri), folder, endpoint)

    def restore(self) -> int:
        """Fetch what was published into an empty run folder (a pod that lost its volume
        resumes from its checkpoint instead of replaying from the start); files fetched."""
        if (self.folder / RUN_FILE).exists():
            return 0
        fetched = mirror(self.fs, self.path, self.folder, self.endpoint)
        self.sent = self._stamps()  # what was fetched is what is published
        return fetched

    def _stamps(self) -> dict[str, tuple[int, int]]:
        stamps = {}
        for name in _local_entries(self.folder):
            info = (self.folder / name).stat()
            stamps[name] = (info.st_size, info.st_mtime_ns)
        return stamps

    def publish(self) -> int:
        """Upload what changed since the last call, remove what was deleted; files uploaded.

        Raises
        ------
        TelemetryStoreUnavailable
            When an upload or a delete fails (what was not sent is sent at the next call).
        """
        stamps = self._stamps()
        changed = [Entry(n, s[0]) for n, s in stamps.items() if self.sent.get(n) != s]
        for entry in _ordered(changed):
            target = f"{self.path}/{entry.name}"
            with (
                _store_errors("write", self.endpoint, target),
                self.fs.open_output_stream(target) as out,
            ):
                out.write((self.folder / entry.name).read_bytes())
            self.sent[entry.name] = stamps[entry.name]
        for name in sorted(set(self.sent) - set(stamps)):
            with _store_errors("delete", self.endpoint, f"{self.path}/{name}"):
                self.fs.delete_file(f"{self.path}/{name}")
            del self.sent[name]
        return len(changed)

    def after_flush(self) -> None:
        """:meth:`publish`, a failure said once on stderr: the next flush sends what this one
        could not, and the process keeps trading meanwhile."""
        try:
            self.publish()
        except TelemetryStoreUnavailable as exc:
            if str(exc) != self.problem:
                print(f"paper: telemetry not published: {exc}", file=sys.stderr, flush=True)
            self.problem = str(exc)
            return
        self.problem = ""
