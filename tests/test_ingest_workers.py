"""Ingest with worker processes: workers write the data files, the parent only commits them."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import orjson
import polars as pl
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.ingest import ingest, listing
from loglake.ingest.cloudtrail import parse
from loglake.ingest.layout import Layout
from loglake.ingest.raw import RawObject
from loglake.ingest.runner import BATCH_OBJECTS, _batch_bytes, _batches, ensure_tables
from loglake.ingest.sources import classify
from loglake.ingest.state import IngestLog, ObjectOutcome, TableWriter, write_data_files

ACCOUNT = "111122223333"


def trail(folder: Path, stamp: str, ids: list[str], name: str = "GetObject") -> Path:
    events = [
        {
            "eventTime": f"2024-05-10T{stamp[:2]}:{stamp[2:]}:{i:02d}Z",
            "eventName": name,
            "eventID": event_id,
            "recipientAccountId": ACCOUNT,
            "requestParameters": {"bucketName": "b", "key": event_id},
        }
        for i, event_id in enumerate(ids)
    ]
    path = folder / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2024" / "05" / "10"
    path.mkdir(parents=True, exist_ok=True)
    file = path / f"{ACCOUNT}_CloudTrail_us-east-1_20240510T{stamp}Z_{stamp:0>16}.json.gz"
    file.write_bytes(gzip.compress(orjson.dumps({"Records": events})))
    return file


def rows(settings: StorageSettings, table: str) -> pl.DataFrame:
    frame = pl.from_arrow(Catalog(settings).managed("aws", table).table.to_pyarrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def relative(key: str) -> str:
    return key[key.index("/AWSLogs/") :] if "/AWSLogs/" in key else key.rsplit("/", 2)[-2]


def upload(settings: StorageSettings, local: Path) -> str:
    if not settings.is_s3:
        return str(local)
    url = settings.url("raw-" + local.name)
    settings.filesystem().put(str(local) + "/", url[5:] + "/", recursive=True)
    return url


@pytest.mark.slow
def test_two_workers_give_the_rows_of_one(lake_settings, tmp_path):
    from loglake.datasets import generate

    raw = tmp_path / "generated"
    generate(raw, accounts=1, regions=1, days=1, events_per_day=150, seed=5, progress=False)
    one = StorageSettings.resolve(str(tmp_path / "one"))
    expected = ingest(Catalog(one), str(raw), progress=False)

    source = upload(lake_settings, raw)
    # many small batches, so both workers are busy and commits interleave (fewer on S3, where
    # every commit costs round trips to the server); not compacted afterwards, so that every
    # file on disk must be a live one (compaction leaves the files it merged for vacuum)
    batch = 40 if lake_settings.is_s3 else 2
    report = ingest(
        Catalog(lake_settings),
        source,
        workers=2,
        batch_objects=batch,
        progress=False,
        compact_files=0,
    )
    assert report.ok and report.rows == expected.rows
    for table in expected.rows:
        got, want = rows(lake_settings, table), rows(one, table)
        assert got.height == want.height
        assert sorted(map(relative, got["source_key"])) == sorted(map(relative, want["source_key"]))
    trail_rows = rows(lake_settings, "cloudtrail")
    assert trail_rows["eventid"].n_unique() == trail_rows.height
    # nothing twice: a second run commits nothing, and every data file is in the table
    again = ingest(Catalog(lake_settings), source, workers=2, progress=False)
    assert again.objects_ingested == 0 and again.total_rows == 0
    managed = Catalog(lake_settings).managed("aws", "cloudtrail")
    fs = lake_settings.filesystem()
    on_disk = {
        p.rsplit("/", 1)[-1]
        for p in fs.find(lake_settings.fs_path(managed.location))
        if p.endswith(".parquet")
    }
    assert on_disk == {f.path.rsplit("/", 1)[-1] for f in managed.files()}


def test_changed_object_through_workers_replaces_its_rows(local_settings, tmp_path, monkeypatch):
    # runs a minute after the deliveries: a listing that resumes lists them again (the margin)
    when = dt.datetime(2024, 5, 10, 16, 11, tzinfo=dt.UTC)
    monkeypatch.setattr(listing, "now", lambda: when)
    raw = tmp_path / "raw"
    first = trail(raw, "1600", ["a", "b", "c"])
    trail(raw, "1605", ["d"])
    trail(raw, "1610", ["e"])
    catalog = Catalog(local_settings)
    assert ingest(catalog, str(raw), workers=2, batch_objects=1, progress=False).ok
    first.write_bytes(gzip.compress(orjson.dumps({"Records": []})))
    trail(raw, "1600", ["a", "z"], name="DeleteObject")
    report = ingest(catalog, str(raw), workers=2, batch_objects=1, progress=False)
    assert report.objects_ingested == 1 and report.objects_skipped == 2
    table = rows(local_settings, "cloudtrail").sort("eventid")
    assert table["eventid"].to_list() == ["a", "d", "e", "z"]
    assert table.filter(pl.col("eventid") == "a")["eventname"].to_list() == ["DeleteObject"]


def outcome(key: str, rows: int) -> ObjectOutcome:
    return ObjectOutcome(
        key, "e1", 10, rows, 0, "cloudtrail", ACCOUNT, "us-east-1", "2024-05-10", 16
    )


def test_files_of_objects_committed_meanwhile_are_rewritten_without_them(local_settings, tmp_path):
    """A worker wrote files for objects x and y, but another run committed x first."""

    catalog = Catalog(local_settings)
    location = ensure_tables(catalog, "aws", {"cloudtrail"})["cloudtrail"].location
    raw = tmp_path / "raw"
    objects = []
    for stamp, ids in (("1600", ["x1", "x2"]), ("1605", ["y1"])):
        path = trail(raw, stamp, ids)
        key = str(path)
        objects.append(RawObject(key, "e1", 10, classify(key), path.read_bytes()))
    data = parse(objects).tables["cloudtrail"]
    x, y = (outcome(o.url, n) for o, n in zip(objects, (2, 1), strict=True))

    log = IngestLog(local_settings)
    other = TableWriter(local_settings, location, "aws.cloudtrail", log)
    assert other.commit([x], data) == [x]

    files = write_data_files(local_settings, location, data)
    assert files and all(f["path"].startswith(f"account={ACCOUNT}/") for f in files)
    writer = TableWriter(local_settings, location, "aws.cloudtrail", log)
    writer.load()
    writer.known.pop(x.source_key)  # it looked before the other run committed
    writer.seen = -1
    assert writer.commit([x, y], files=files) == [y]
    table = rows(local_settings, "cloudtrail").sort("eventid")
    assert table["eventid"].to_list() == ["x1", "x2", "y1"]
    fs = local_settings.filesystem()
    assert not any(fs.exists(local_settings.fs_path(f"{location}/{f['path']}")) for f in files)


def sized(*sizes: int) -> list[RawObject]:
    return [
        RawObject(f"s3://b/{i:03d}.json.gz", "e", size, Layout("cloudtrail"))
        for i, size in enumerate(sizes)
    ]


@pytest.mark.parametrize(
    ("sizes", "max_objects", "max_bytes", "expected"),
    [
        # 10 equal objects, room for 4 per batch: three shares of 3, 4, 3 (not 4, 4, 2)
        ([100] * 10, 500, 400, [3, 4, 3]),
        # the object limit sets the count too: three batches of 5 equal objects
        ([100] * 5, 2, 10_000, [2, 1, 2]),
        # 0-byte objects are cut by count only
        ([0] * 5, 2, 100, [2, 1, 2]),
        # a big object takes its share of the bytes: the small ones after it join it
        ([50, 50, 900, 50, 50], 500, 600, [2, 3]),
        # the object limit holds even where the bytes would put more objects in one share
        ([1] * 9 + [991], 3, 10_000, [2, 3, 2, 3]),
        ([10], 500, 100, [1]),
    ],
)
def test_batches_are_equal_shares_within_the_limits(
    sizes: list[int], max_objects: int, max_bytes: int, expected: list[int]
) -> None:
    objects = sized(*sizes)
    batches = list(_batches(objects, max_objects, max_bytes))
    assert [len(b) for b in batches] == expected
    assert [o for b in batches for o in b] == objects  # every object once, in order


def test_a_small_run_gives_each_worker_four_batches() -> None:
    # 100 objects of ~334 KB, as in the benchmark: 8 batches for 2 workers, none left over
    objects = sized(*(334_000 + i * 37 % 5000 for i in range(100)))
    size = _batch_bytes(sum(o.size for o in objects), 2)
    assert [len(b) for b in _batches(objects, BATCH_OBJECTS, size)] == [12, 13] * 4
