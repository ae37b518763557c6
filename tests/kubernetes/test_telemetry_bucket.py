"""The telemetry bucket: a pod's publisher and the controller's incremental mirror, against
moto's S3 server."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pods import BUCKET

from stratops.telemetry.objectstore import (
    Publisher,
    TelemetryStoreUnavailable,
    mirror,
    object_path,
    read_object,
    s3_filesystem,
)

PREFIX = f"{BUCKET}/strategies/btc-trend-canary/v7"
PART = "fills/date=2024-08-05/part-{:08d}.parquet"
DEAD_ENDPOINT = "http://127.0.0.1:9"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def pod_folder(root: Path) -> Path:
    pod = root / "pod"
    write(pod, PART.format(0), b"part zero")
    write(pod, "venue/trades.jsonl", b'{"id": "0"}\n')
    write(pod, "checkpoint.json", b'{"cursor": 60}')
    write(pod, "run.json", b'{"status": "running", "bars_done": 60}')
    write(pod, ".run.json.abc.tmp", b"half a document")  # being written: never copied
    return pod


def test_publish_and_mirror_copy_what_changed_only(s3: str, tmp_path: Path) -> None:
    fs = s3_filesystem(s3)
    pod = pod_folder(tmp_path)
    publisher = Publisher(fs, PREFIX, pod, s3)
    assert publisher.publish() == 4
    assert publisher.publish() == 0  # nothing changed
    local = tmp_path / "mirror"
    assert mirror(fs, PREFIX, local, s3) == 4
    expected = {k: v for k, v in files(pod).items() if not k.startswith(".")}
    assert files(local) == expected
    run_stamp = (local / "run.json").stat().st_mtime_ns
    assert mirror(fs, PREFIX, local, s3) == 0  # documents fetched again, unchanged: not written
    assert (local / "run.json").stat().st_mtime_ns == run_stamp

    write(local, PART.format(0), b"part-ZERO")  # same size: a part is never fetched twice
    write(pod, PART.format(1), b"part one")
    with (pod / "venue" / "trades.jsonl").open("ab") as trades:
        trades.write(b'{"id": "1"}\n')
    write(pod, "run.json", b'{"status": "running", "bars_done": 120}')
    assert publisher.publish() == 3
    assert mirror(fs, PREFIX, local, s3) == 3
    assert (local / PART.format(0)).read_bytes() == b"part-ZERO"
    assert (local / PART.format(1)).read_bytes() == b"part one"
    assert (local / "venue" / "trades.jsonl").read_bytes() == b'{"id": "0"}\n{"id": "1"}\n'
    assert read_object(fs, f"{PREFIX}/run.json", s3) == b'{"status": "running", "bars_done": 120}'
    assert read_object(fs, f"{PREFIX}/nothing.json", s3) is None

    (pod / PART.format(1)).unlink()  # a part a resumed process discarded
    assert publisher.publish() == 0
    mirror(fs, PREFIX, local, s3)
    assert not (local / PART.format(1)).exists()


def test_an_empty_run_folder_is_restored_from_the_bucket(s3: str, tmp_path: Path) -> None:
    fs = s3_filesystem(s3)
    Publisher(fs, PREFIX, pod_folder(tmp_path), s3).publish()
    restarted = Publisher(fs, PREFIX, tmp_path / "new-pod", s3)
    assert restarted.restore() == 4  # a pod that lost its emptyDir resumes its checkpoint
    assert (tmp_path / "new-pod" / "checkpoint.json").read_bytes() == b'{"cursor": 60}'
    assert restarted.publish() == 0  # what was restored is what is published
    assert restarted.restore() == 0  # a run folder that has a run is left alone


def test_an_unreachable_store_is_named_and_does_not_stop_the_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fs = s3_filesystem(DEAD_ENDPOINT)
    with pytest.raises(
        TelemetryStoreUnavailable, match=rf"cannot list s3://{PREFIX} at {DEAD_ENDPOINT}"
    ):
        mirror(fs, PREFIX, tmp_path / "mirror", DEAD_ENDPOINT)
    assert not (tmp_path / "mirror").exists()  # nothing half-written
    publisher = Publisher(fs, PREFIX, pod_folder(tmp_path), DEAD_ENDPOINT)
    publisher.after_flush()
    publisher.after_flush()  # said once, not at every flush
    said = capsys.readouterr().err
    assert said.count("paper: telemetry not published: cannot write s3://") == 1
    assert publisher.sent == {}  # everything is sent at the next flush that reaches the store


@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True),
    prefix=st.lists(st.from_regex(r"[A-Za-z0-9=._-]{1,12}", fullmatch=True), max_size=4),
)
def test_object_path_is_bucket_and_prefix(bucket: str, prefix: list[str]) -> None:
    key = "/".join(prefix)
    uri = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    assert object_path(uri) == f"{bucket}/{key}".rstrip("/")
    assert object_path(uri + "/") == object_path(uri)


@pytest.mark.parametrize("uri", ["", "s3://", "file:///tmp/x", "desk-telemetry/x"])
def test_object_path_refuses_what_is_not_an_s3_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="expected s3://bucket/prefix"):
        object_path(uri)


def test_the_controller_mirror_leaves_out_what_it_does_not_read(s3: str, tmp_path: Path) -> None:
    fs = s3_filesystem(s3)
    Publisher(fs, PREFIX, pod_folder(tmp_path), s3).publish()
    local = tmp_path / "mirror"
    write(local, "checkpoint.json", b"from an older mirror")
    assert mirror(fs, PREFIX, local, s3, skip=("checkpoint.json",)) == 3
    assert sorted(files(local)) == [PART.format(0), "run.json", "venue/trades.jsonl"]
