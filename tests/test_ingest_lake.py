"""Ingest into a lake (local folder and S3 server on 127.0.0.1): round trip, exactly once,
changed objects, bad input and quarantine, --since, coverage, compaction, the CLI."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import uuid
from pathlib import Path

import duckdb
import orjson
import polars as pl
import pyarrow.parquet as pq
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.cli import main as cli
from loglake.ingest import ingest, listing
from loglake.ingest.config import CONFIG_VIEW
from loglake.ingest.coverage import coverage
from loglake.ingest.quarantine import Quarantine
from loglake.ingest.raw import gunzip_members
from loglake.ingest.retry import retry_quarantine
from loglake.ingest.state import IngestLog, write_data_files

BUCKET = "loglake-test"


def read_table(settings: StorageSettings, name: str) -> pl.DataFrame:
    table = Catalog(settings).managed("aws", name).table
    return pl.from_arrow(table.to_pyarrow_table())


def put_raw(settings: StorageSettings, local: Path) -> str:
    """The raw folder as a source URL next to the lake: a local path, or a copy in the bucket."""
    if not settings.is_s3:
        return str(local)
    url = f"s3://{BUCKET}/raw-{uuid.uuid4().hex[:10]}"
    settings.filesystem().put(str(local) + "/", url[5:] + "/", recursive=True)
    return url


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """A small generated set of raw exports of all four sources (one account, region and day)."""
    from loglake.datasets import generate

    out = tmp_path_factory.mktemp("generated")
    generate(out, accounts=1, regions=1, days=1, events_per_day=200, seed=3, progress=False)
    return out


def trail_file(folder: Path, account: str, region: str, stamp: str, events: list[dict]) -> Path:
    """A CloudTrail object at its delivery key; ``stamp`` is YYYYMMDDTHHMM."""
    day = f"{stamp[:4]}/{stamp[4:6]}/{stamp[6:8]}"
    path = folder / "AWSLogs" / account / "CloudTrail" / region / day
    path.mkdir(parents=True, exist_ok=True)
    name = f"{account}_CloudTrail_{region}_{stamp}Z_{uuid.uuid4().hex[:16]}.json.gz"
    target = path / name
    target.write_bytes(gzip.compress(orjson.dumps({"Records": events})))
    return target


def make_event(i: int, when: str = "2024-05-10T16:00:00Z", **extra) -> dict:
    out = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/u{i % 3}"},
        "eventTime": when,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject" if i % 2 else "PutObject",
        "awsRegion": "us-east-1",
        "sourceIPAddress": f"198.51.100.{i % 250}",
        "requestParameters": {"bucketName": "b", "key": f"k{i}"},
        "responseElements": None,
        "eventID": f"evt-{i:06d}",
        "readOnly": bool(i % 2),
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
        "eventCategory": "Data",
    }
    out.update(extra)
    return out


# ---------------------------------------------------------------- round trip
def test_round_trip_of_generated_exports(lake_settings, generated):
    source = put_raw(lake_settings, generated)
    catalog = Catalog(lake_settings)
    report = ingest(catalog, source, progress=False)
    assert report.ok, [e for e in Quarantine(lake_settings).entries()]

    # CloudTrail, field by field, against DuckDB reading the raw files on its own
    trail = read_table(lake_settings, "cloudtrail")
    pattern = str(generated / "AWSLogs" / "*" / "CloudTrail" / "*" / "*" / "*" / "*" / "*.json.gz")
    oracle = duckdb.sql(
        f"""SELECT r->>'eventID' AS eventid, r->>'eventName' AS eventname,
                   r->>'eventTime' AS eventtime, r->>'sourceIPAddress' AS ip,
                   r->'userIdentity'->>'arn' AS arn, r->>'readOnly' AS readonly,
                   CAST(r->'requestParameters' AS VARCHAR) AS rp
            FROM (SELECT unnest(CAST(json->'Records' AS JSON[])) AS r
                  FROM read_json_objects('{pattern}', maximum_object_size=16777216))
            ORDER BY eventid"""
    ).pl()
    assert trail.height == oracle.height == report.rows["cloudtrail"]
    assert trail["eventid"].n_unique() == trail.height
    ours = trail.sort("eventid")
    for mine, theirs in zip(ours.iter_rows(named=True), oracle.iter_rows(named=True), strict=True):
        assert mine["eventid"] == theirs["eventid"]
        assert mine["eventname"] == theirs["eventname"]
        assert mine["eventtime"] == theirs["eventtime"]
        assert mine["sourceipaddress"] == theirs["ip"]
        assert mine["readonly"] == theirs["readonly"]
        assert (mine["useridentity"] or {}).get("arn") == theirs["arn"]
        expected = None if theirs["rp"] in (None, "null") else orjson.loads(theirs["rp"])
        got = mine["requestparameters"]
        assert (None if got is None else orjson.loads(got)) == expected
        assert mine["day"] == mine["eventtime"][:10]
        assert mine["source_key"].endswith(".json.gz")

    # VPC flow logs: every line of every file, against DuckDB's CSV reader
    flows = read_table(lake_settings, "vpc_flow_logs")
    flow_pattern = str(generated / "AWSLogs" / "*" / "vpcflowlogs" / "**" / "*.log.gz")
    count = duckdb.sql(
        f"SELECT count(*) FROM read_csv('{flow_pattern}', delim=' ', header=true, all_varchar=true)"
    ).fetchall()[0][0]
    assert flows.height == count == report.rows["vpc_flow_logs"]
    assert flows["start"].null_count() == 0 and flows["day"].null_count() == 0

    # Config items and CloudWatch events, counted from the raw objects
    items = 0
    for path in generated.rglob("*.json.gz"):
        if "/Config/" in str(path):
            items += len(orjson.loads(gzip.decompress(path.read_bytes()))["configurationItems"])
    assert read_table(lake_settings, "config_items").height == items
    logs = read_table(lake_settings, "cloudwatch_logs")
    exported = delivered = 0
    for path in (generated / "exportedlogs").rglob("*.gz"):
        text = gzip.decompress(path.read_bytes()).decode()
        exported += sum(1 for line in text.split("\n") if line[:4].isdigit() and line[10:11] == "T")
    for path in (p for p in (generated / "firehose").rglob("*") if p.is_file()):
        for _, member in gunzip_members(path.read_bytes()):
            message = orjson.loads(member)
            if message["messageType"] == "DATA_MESSAGE":
                delivered += len(message["logEvents"])
    assert logs.filter(pl.col("source") == "export").height == exported > 0
    assert logs.filter(pl.col("source") == "subscription").height == delivered > 0

    # exactly once: a second run reads nothing and commits nothing
    versions = {t: Catalog(lake_settings).managed("aws", t).version() for t in report.rows}
    again = ingest(catalog, source, progress=False)
    assert again.objects_ingested == 0 and again.total_rows == 0 and again.bytes_read == 0
    assert versions == {t: Catalog(lake_settings).managed("aws", t).version() for t in report.rows}
    log = IngestLog(lake_settings).latest()
    assert log.filter(pl.col("table") == "aws.cloudtrail")["rows"].sum() == trail.height
    # inside every data file, rows are in event-time order (tight min/max statistics)
    managed = Catalog(lake_settings).managed("aws", "cloudtrail")
    fs = lake_settings.filesystem()
    for data_file in managed.files():
        with fs.open(lake_settings.fs_path(data_file.path)) as handle:
            times = pq.read_table(handle, columns=["eventtime"])["eventtime"].to_pylist()
        assert times == sorted(times)


def test_tables_are_registered_with_partitions(local_settings, generated):
    catalog = Catalog(local_settings)
    ingest(catalog, str(generated / "AWSLogs"), progress=False, source="config")
    definition = catalog.get_table("aws", "config_items")
    assert [c.name for c in definition.partition_keys] == ["account", "region", "day"]
    assert definition.format == "delta"
    names = [c.name for c in definition.columns]
    assert names[:4] == [
        "configurationitemversion",
        "configurationitemcapturetime",
        "configurationstateid",
        "awsaccountid",
    ]
    assert catalog.view_exists("aws", CONFIG_VIEW)
    assert "configurationitems" in catalog.get_view("aws", CONFIG_VIEW).sql
    # only Config was asked for
    assert not catalog.table_exists("aws", "cloudtrail")


# ---------------------------------------------------------------- changed objects
def test_changed_object_replaces_its_rows(lake_settings, tmp_path, monkeypatch):
    # runs a minute after the deliveries: a listing that resumes lists them again (the margin)
    when = dt.datetime(2024, 5, 10, 16, 6, tzinfo=dt.UTC)
    monkeypatch.setattr(listing, "now", lambda: when)
    raw = tmp_path / "raw"
    first = trail_file(
        raw, "111122223333", "us-east-1", "20240510T1600", [make_event(i) for i in range(5)]
    )
    trail_file(
        raw, "111122223333", "us-east-1", "20240510T1605", [make_event(i) for i in range(5, 8)]
    )
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    assert ingest(catalog, source, progress=False).rows["cloudtrail"] == 8

    # the object is delivered again with other content (a new ETag)
    changed = [make_event(0, eventName="DeleteObject"), make_event(9)]
    first.write_bytes(gzip.compress(orjson.dumps({"Records": changed})))
    if lake_settings.is_s3:
        relative = first.relative_to(raw).as_posix()
        lake_settings.filesystem().pipe_file(f"{source[5:]}/{relative}", first.read_bytes())
    report = ingest(catalog, source, progress=False)
    assert report.objects_ingested == 1 and report.objects_skipped == 1
    table = read_table(lake_settings, "cloudtrail")
    assert sorted(table["eventid"]) == [
        "evt-000000",
        "evt-000005",
        "evt-000006",
        "evt-000007",
        "evt-000009",
    ]
    assert table.filter(pl.col("eventid") == "evt-000000")["eventname"].to_list() == [
        "DeleteObject"
    ]
    assert ingest(catalog, source, progress=False).objects_ingested == 0


# ---------------------------------------------------------------- bad input
def build_bad_inputs(raw: Path) -> dict[str, Path]:
    good = trail_file(
        raw, "111122223333", "us-east-1", "20240510T1600", [make_event(i) for i in range(3)]
    )
    mixed_events = [make_event(10), make_event(11, userIdentity="oops"), make_event(12)]
    mixed = trail_file(raw, "111122223333", "us-east-1", "20240510T1610", mixed_events)
    truncated = trail_file(raw, "111122223333", "us-east-1", "20240510T1620", [make_event(20)])
    truncated.write_bytes(truncated.read_bytes()[:-12])
    invalid = trail_file(raw, "111122223333", "us-east-1", "20240510T1630", [])
    invalid.write_bytes(gzip.compress(b'{"Records": [\n{"eventTime": nope}\n]}'))
    empty = trail_file(raw, "111122223333", "us-east-1", "20240510T1640", [])
    empty.write_bytes(gzip.compress(b""))
    zero = trail_file(raw, "111122223333", "us-east-1", "20240510T1650", [])
    zero.write_bytes(b"")
    unknown = raw / "notes" / "events.log"
    unknown.parent.mkdir(parents=True)
    unknown.write_text("not a log")
    return {
        "good": good,
        "mixed": mixed,
        "truncated": truncated,
        "invalid": invalid,
        "empty": empty,
        "zero": zero,
        "unknown": unknown,
    }


def test_bad_inputs_are_quarantined_and_the_rest_ingested(lake_settings, tmp_path):
    raw = tmp_path / "raw"
    files = build_bad_inputs(raw)
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    report = ingest(catalog, source, progress=False)
    assert not report.ok
    assert report.rows["cloudtrail"] == 5  # 3 good + 2 good records of the mixed file
    assert report.objects_quarantined == 5 and report.records_quarantined == 1
    table = read_table(lake_settings, "cloudtrail")
    assert sorted(table["eventid"]) == [
        "evt-000000",
        "evt-000001",
        "evt-000002",
        "evt-000010",
        "evt-000012",
    ]

    entries = {Path(e.source_key).name: e for e in Quarantine(lake_settings).entries()}
    name = {k: v.name for k, v in files.items()}
    assert entries[name["mixed"]].position == {"record_index": 1}
    assert "evt-000011" in entries[name["mixed"]].text
    assert "truncated" in entries[name["truncated"]].error
    assert "byte_offset" in entries[name["truncated"]].position
    assert entries[name["invalid"]].error.startswith("invalid JSON")
    assert entries[name["invalid"]].position["line"] == 2
    assert entries[name["empty"]].error == "empty object"
    assert entries[name["zero"]].error == "0-byte object"
    assert "unknown key layout" in entries[name["unknown"]].error
    assert all(e.source_key.startswith(source) for e in entries.values())

    # a second run does not quarantine the same versions again
    again = ingest(catalog, source, progress=False)
    assert again.ok and again.objects_ingested == 0
    assert len(Quarantine(lake_settings).entries()) == len(entries)

    # fix the truncated file, retry: its rows arrive, its entry goes, the others stay
    files["truncated"].write_bytes(gzip.compress(orjson.dumps({"Records": [make_event(20)]})))
    if lake_settings.is_s3:
        relative = files["truncated"].relative_to(raw).as_posix()
        lake_settings.filesystem().pipe_file(
            f"{source[5:]}/{relative}", files["truncated"].read_bytes()
        )
    retry_quarantine(catalog)
    table = read_table(lake_settings, "cloudtrail")
    assert (
        "evt-000020" in set(table["eventid"]) and table["eventid"].n_unique() == table.height == 6
    )
    remaining = {Path(e.source_key).name for e in Quarantine(lake_settings).entries()}
    assert name["truncated"] not in remaining and name["mixed"] in remaining
    assert len(remaining) == len(entries) - 1


def test_cli_ingest_quarantine_and_coverage(tmp_path, capsys):
    raw = tmp_path / "raw"
    build_bad_inputs(raw)
    lake = str(tmp_path / "lake")
    assert cli(["--lake", lake, "ingest", str(raw), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "5 quarantined" in out and "cloudtrail: 5" in out
    assert cli(["--lake", lake, "quarantine", "list"]) == 0
    listing = capsys.readouterr().out
    assert "record index 1" in listing and "unknown key layout" in listing
    assert cli(["--lake", lake, "ingest", str(raw), "--no-progress", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["objects_ingested"] == 0
    assert cli(["--lake", lake, "coverage", "--source", "cloudtrail"]) == 0
    assert "111122223333" in capsys.readouterr().out


# ---------------------------------------------------------------- --since and coverage
def test_since_does_not_list_older_date_folders(local_settings, tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    for day in ("20230101", "20240509", "20240510"):
        trail_file(raw, "111122223333", "us-east-1", f"{day}T0100", [make_event(int(day[-2:]))])
    listed: list[str] = []
    import loglake.ingest.runner as runner

    original = runner.walk

    class Spy:
        def __init__(self, fs):
            self.fs = fs

        def info(self, path):
            return self.fs.info(path)

        def ls(self, path, detail=True):
            listed.append(path)
            return self.fs.ls(path, detail=detail)

    monkeypatch.setattr(runner, "walk", lambda fs, root, **kw: original(Spy(fs), root, **kw))
    report = ingest(Catalog(local_settings), str(raw), since="2024-05-10", progress=False)
    assert report.objects_seen == 1 and report.rows["cloudtrail"] == 1
    assert not any(p.endswith(("/2023", "/2024/05/09")) for p in listed)
    assert any(p.endswith("/2024/05/10") for p in listed)


def test_coverage_counts_and_gaps(local_settings, tmp_path):
    raw = tmp_path / "raw"
    for hour, n in (("10", 2), ("11", 1), ("14", 3)):
        events = [
            make_event(int(hour) * 10 + i, when=f"2024-05-10T{hour}:01:00Z") for i in range(n)
        ]
        trail_file(raw, "111122223333", "us-east-1", f"20240510T{hour}05", events)
    catalog = Catalog(local_settings)
    ingest(catalog, str(raw), progress=False)
    result = coverage(local_settings, source="cloudtrail")
    row = result.table.row(0, named=True)
    assert (row["source"], row["account"], row["region"], row["day"]) == (
        "cloudtrail",
        "111122223333",
        "us-east-1",
        "2024-05-10",
    )
    assert (row["objects"], row["rows"], row["quarantined"]) == (3, 6, 0)
    gap = result.gaps.row(0, named=True)
    assert gap["hours"] == 2
    assert gap["first_missing"].hour == 12 and gap["last_missing"].hour == 13


def test_coverage_reports_no_gaps_between_config_deliveries(local_settings, tmp_path):
    """Config writes a history file only for a window in which a resource changed, so its quiet
    hours are not gaps (the demo lake listed 47 of them); CloudTrail's still are."""
    raw = tmp_path / "raw"
    for hour in ("10", "14"):
        event = make_event(int(hour), when=f"2024-05-10T{hour}:01:00Z")
        trail_file(raw, "111122223333", "us-east-1", f"20240510T{hour}05", [event])
    folder = raw / "AWSLogs/111122223333/Config/us-east-1/2024/5/10/ConfigHistory"
    folder.mkdir(parents=True)
    for start, end in (("02", "08"), ("14", "20")):
        item = {
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": f"2024-05-10T{start}:30:00.000Z",
            "awsAccountId": "111122223333",
            "resourceType": "AWS::S3::Bucket",
            "resourceId": f"bucket-{start}",
            "awsRegion": "us-east-1",
        }
        name = (
            "111122223333_Config_us-east-1_ConfigHistory_AWS::S3::Bucket_"
            f"20240510T{start}0000Z_20240510T{end}0000Z_1.json.gz"
        )
        body = {"fileVersion": "1.0", "configurationItems": [item]}
        (folder / name).write_bytes(gzip.compress(orjson.dumps(body)))
    ingest(Catalog(local_settings), str(raw), progress=False)
    result = coverage(local_settings)
    assert set(result.table["source"]) == {"cloudtrail", "config"}
    assert result.table.filter(pl.col("source") == "config")["objects"].sum() == 2
    assert result.gaps["source"].to_list() == ["cloudtrail"]
    assert result.gaps["hours"].to_list() == [3]


# ---------------------------------------------------------------- compaction
def name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def test_optimize_and_vacuum(lake_settings, tmp_path):
    raw = tmp_path / "raw"
    for i in range(6):
        trail_file(
            raw,
            "111122223333",
            "us-east-1",
            f"20240510T16{i:02d}",
            [make_event(i * 10 + j) for j in range(4)],
        )
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    ingest(catalog, source, progress=False, batch_objects=1)
    managed = catalog.managed("aws", "cloudtrail")
    before_files = managed.files()
    version = managed.version()
    assert len(before_files) == 6

    from loglake.ingest.compaction import optimize, vacuum

    metrics = optimize(
        catalog, "cloudtrail", where="day = '2024-05-10' AND account IN ('111122223333')"
    )
    assert metrics["numFilesRemoved"] == 6 and metrics["numFilesAdded"] == 1
    assert len(managed.files()) == 1
    assert managed.files_added_since(version) == []  # a compaction adds no new data
    table = read_table(lake_settings, "cloudtrail")
    assert table.height == 24 and table["eventid"].n_unique() == 24
    # files a worker wrote but never committed (it was killed) are unreferenced too
    orphans = write_data_files(lake_settings, managed.location, managed.table.to_pyarrow_table())
    assert orphans and len(managed.files()) == 1
    removed = vacuum(catalog, "cloudtrail", retention_hours=0)
    expected = [f.path for f in before_files] + [f["path"] for f in orphans]
    assert sorted(name(p) for p in removed) == sorted(name(p) for p in expected)
    assert read_table(lake_settings, "cloudtrail").height == 24
    assert vacuum(catalog, "cloudtrail", retention_hours=0) == []


def test_optimize_where_must_name_partition_columns(local_settings, tmp_path):
    from loglake.errors import UserError
    from loglake.ingest.compaction import parse_where

    assert parse_where("day = '2024-05-10' and region != 'x'", ["account", "region", "day"]) == [
        ("day", "=", "2024-05-10"),
        ("region", "!=", "x"),
    ]
    with pytest.raises(UserError, match="not a partition column"):
        parse_where("eventname = 'x'", ["account", "region", "day"])


def test_cli_optimize_and_vacuum(tmp_path, capsys):
    raw = tmp_path / "raw"
    for i in range(3):
        trail_file(raw, "111122223333", "us-east-1", f"20240510T16{i:02d}", [make_event(i)])
    lake = str(tmp_path / "lake")
    assert cli(["--lake", lake, "ingest", str(raw), "--no-progress", "--batch-objects", "1"]) == 0
    assert cli(["--lake", lake, "optimize", "cloudtrail", "--where", "day = '2024-05-10'"]) == 0
    assert "3 file(s) merged into 1" in capsys.readouterr().out
    assert (
        cli(["--lake", lake, "vacuum", "aws.cloudtrail", "--retention-hours", "0", "--dry-run"])
        == 0
    )
    assert "would remove 3 file(s)" in capsys.readouterr().out
    shutil.rmtree(raw)


def test_missing_source_is_a_user_error(local_settings, tmp_path, capsys):
    from loglake.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        ingest(Catalog(local_settings), str(tmp_path / "nowhere"), progress=False)
    assert cli(["--lake", str(tmp_path / "lake"), "ingest", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err
