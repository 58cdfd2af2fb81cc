"""Exactly once under failure and contention, with real processes: an ingest killed with SIGKILL
and started again, and two ingests of the same objects into the same lake at the same time."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import polars as pl
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.ingest.state import IngestLog

ACCOUNT = "111122223333"
FILES = 16
EVENTS = 25


def build_raw(folder: Path) -> set[str]:
    """FILES CloudTrail objects of EVENTS events each; returns every event id."""
    ids = set()
    for f in range(FILES):
        hour, minute = divmod(f * 5, 60)
        stamp = f"20240510T{hour:02d}{minute:02d}"
        events = []
        for e in range(EVENTS):
            event_id = f"{f:03d}-{e:03d}-{uuid.uuid4().hex[:8]}"
            ids.add(event_id)
            events.append(
                {
                    "eventVersion": "1.09",
                    "eventTime": f"2024-05-10T{hour:02d}:{minute:02d}:{e:02d}Z",
                    "eventSource": "sts.amazonaws.com",
                    "eventName": "GetCallerIdentity",
                    "awsRegion": "us-east-1",
                    "eventID": event_id,
                    "recipientAccountId": ACCOUNT,
                    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u"},
                    "requestParameters": None,
                    "responseElements": None,
                    "readOnly": True,
                }
            )
        path = folder / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2024" / "05" / "10"
        path.mkdir(parents=True, exist_ok=True)
        name = f"{ACCOUNT}_CloudTrail_us-east-1_{stamp}Z_{f:016d}.json.gz"
        (path / name).write_bytes(gzip.compress(orjson.dumps({"Records": events})))
    return ids


def command(settings: StorageSettings, source: str, *extra: str) -> tuple[list[str], dict]:
    args = [sys.executable, "-m", "loglake", "--lake", settings.root]
    env = dict(os.environ)
    if settings.is_s3:
        args += ["--endpoint-url", settings.endpoint_url or ""]
        env.update(
            AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1"
        )
        env.pop("AWS_PROFILE", None)
    args += ["ingest", source, "--no-progress", "--json", *extra]
    return args, env


def source_for(settings: StorageSettings, raw: Path) -> str:
    if not settings.is_s3:
        return str(raw)
    url = f"s3://loglake-test/raw-{uuid.uuid4().hex[:10]}"
    settings.filesystem().put(str(raw) + "/", url[5:] + "/", recursive=True)
    return url


def table_rows(settings: StorageSettings) -> pl.DataFrame:
    managed = Catalog(settings).managed("aws", "cloudtrail")
    return pl.from_arrow(managed.table.to_pyarrow_table(columns=["eventid", "source_key"]))


def commits(settings: StorageSettings) -> int:
    """Commit files of the cloudtrail table, listed without any client-side cache."""
    folder = settings.url("aws", "cloudtrail", "_delta_log")
    if not settings.is_s3:
        path = Path(folder)
        return sum(1 for p in path.glob("*.json")) if path.is_dir() else 0
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    bucket, _, prefix = folder[5:].partition("/")
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return sum(o["Key"].endswith(".json") for o in listing.get("Contents", []))


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc), e.g. ingest workers and their fork server."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_killed_ingest_resumes_to_the_same_rows(lake_settings, tmp_path, workers):
    ids = build_raw(tmp_path / "raw")
    source = source_for(lake_settings, tmp_path / "raw")
    args, env = command(lake_settings, source, "--batch-objects", "1", "--workers", workers)
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while commits(lake_settings) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        assert process.poll() is None, "the ingest finished before it could be killed"
        helpers = descendants(process.pid)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    # workers, their fork server and the resource tracker end with the killed ingest
    assert len(helpers) >= (4 if workers == "2" else 0)
    # helpers notice the kill through the parent's sentinel; on a loaded machine that can take
    # a while, so they get their own minute whatever the wait for commits used up
    exit_deadline = time.monotonic() + 60
    while running(helpers) and time.monotonic() < exit_deadline:
        time.sleep(0.05)
    assert not running(helpers)
    partial = table_rows(lake_settings)
    assert 0 < partial.height < len(ids)
    assert partial["eventid"].n_unique() == partial.height

    resumed = subprocess.run(args, env=env, capture_output=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr.decode()
    report = orjson.loads(resumed.stdout)
    assert report["objects_ingested"] + report["objects_skipped"] == FILES
    final = table_rows(lake_settings)
    assert final.height == len(ids) and set(final["eventid"]) == ids
    # the ingest log caught up with every data commit, including the one made before the kill
    log = IngestLog(lake_settings).latest("aws.cloudtrail")
    assert log.height == FILES and log["rows"].sum() == len(ids)
    again = subprocess.run(args, env=env, capture_output=True, timeout=300)
    assert orjson.loads(again.stdout)["objects_ingested"] == 0
    assert table_rows(lake_settings).height == len(ids)


@pytest.mark.slow
@pytest.mark.parametrize("first_workers", ["1", "2"])
def test_two_processes_at_once_neither_duplicate_nor_lose(lake_settings, tmp_path, first_workers):
    """With two workers, the first ingest commits files its workers wrote; when the other
    ingest committed some of their objects first, it writes the rest anew."""
    ids = build_raw(tmp_path / "raw")
    source = source_for(lake_settings, tmp_path / "raw")
    args, env = command(lake_settings, source, "--batch-objects", "3")
    first_args = [*args, "--workers", first_workers]
    first = subprocess.Popen(first_args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    second = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    outputs = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
        outputs.append(orjson.loads(out))
    # every object was committed by exactly one of the two
    assert sum(o["objects_ingested"] for o in outputs) == FILES
    assert sum(o["rows"].get("cloudtrail", 0) for o in outputs) == len(ids)
    rows = table_rows(lake_settings)
    assert rows.height == len(ids) and rows["eventid"].n_unique() == len(ids)
    assert set(rows["eventid"]) == ids
    per_object = rows.group_by("source_key").len()
    assert per_object.height == FILES and set(per_object["len"]) == {EVENTS}
    # files written for objects the other ingest committed first were deleted, not left behind
    managed = Catalog(lake_settings).managed("aws", "cloudtrail")
    folder = lake_settings.fs_path(managed.location)
    stored = lake_settings.filesystem().find(folder)
    data_files = {
        p.rsplit("/", 1)[-1] for p in stored if p.endswith(".parquet") and "/_delta_log/" not in p
    }
    assert data_files == {f.path.rsplit("/", 1)[-1] for f in managed.files()}
