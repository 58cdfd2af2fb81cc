"""The object list of an ingest commit is compact (one group per folder and stream, each object
with its own key and ETag), and exactly-once still reads it: the ingest log rebuilt from the
data table's commits alone knows every object, so nothing is ingested twice."""

from __future__ import annotations

import orjson
from test_ingest_lake import make_event, put_raw, trail_file

from loglake.catalog import Catalog
from loglake.ingest import ingest
from loglake.ingest.state import (
    META_KEY,
    IngestLog,
    ObjectOutcome,
    commit_infos,
    compact_objects,
    entries_from_metadata,
)

ACCOUNT = "111122223333"


def test_compact_object_lists_read_back_as_one_entry_per_object():
    folder = f"s3://b/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/05/10"
    stream = f"{folder}/{ACCOUNT}_CloudTrail_us-east-1_20240510T"
    outcomes = [
        ObjectOutcome(f"{stream}0900Z_a.json.gz", "e1", 10, 3, 0, "cloudtrail", ACCOUNT, "us-east-1", "2024-05-10", 9),
        ObjectOutcome(f"{stream}0905Z_b.json.gz", "e2", 11, 0, 2, "cloudtrail", ACCOUNT, "us-east-1", "2024-05-10", 9),
        ObjectOutcome(f"{stream}1000Z_c.json.gz", "e3", 12, 5, 0, "cloudtrail", ACCOUNT, "us-east-1", "2024-05-10", 10),
        ObjectOutcome("s3://b/exports/x/000000.gz", "e4", 13, 1, 0, "cwlogs", None, None, None, None),
    ]  # fmt: skip
    meta = orjson.dumps(compact_objects(outcomes)).decode()
    assert meta.count(folder) == 1  # the folder and the stream are stored once
    rows = entries_from_metadata("aws.cloudtrail", meta, 7, {"timestamp": 1_700_000_000_000})
    fields = ("source_key", "etag", "size", "rows", "bad", "kind", "account", "region")
    assert [tuple(r[f] for f in fields) for r in rows] == [
        tuple(getattr(o, f) for f in fields) for o in outcomes
    ]
    assert [r["delivery_day"] for r in rows] == ["2024-05-10"] * 3 + ["unknown"]
    assert [r["delivery_hour"] for r in rows] == [9, 9, 10, None]
    assert {r["data_version"] for r in rows} == {7}
    # commits made before the compact list keep being read
    old = {"objects": [o.entry() for o in outcomes]}
    assert entries_from_metadata("aws.cloudtrail", old, 7, {"timestamp": 1}) != []
    assert [r["source_key"] for r in entries_from_metadata("t", old, 7, {})] == [
        o.source_key for o in outcomes
    ]


def test_the_log_rebuilt_from_compact_commits_keeps_exactly_once(lake_settings, tmp_path):
    """As after a crash between a data commit and its log entry (here: the whole log lost),
    the next run learns from the data table's commit metadata what it holds."""
    raw = tmp_path / "raw"
    for i in range(30):
        trail_file(
            raw,
            ACCOUNT,
            "us-east-1",
            f"20240510T{10 + i // 12:02d}{i % 12 * 5:02d}",
            [make_event(i)],
        )
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    assert ingest(catalog, source, progress=False).objects_ingested == 30
    table = catalog.managed("aws", "cloudtrail").table
    infos = commit_infos(lake_settings, table.table_uri, -1, table.version())
    metas = [commit[META_KEY] for _, commit in infos if META_KEY in commit]
    # each commit names the day folder once, not once per object
    assert [m.count("/CloudTrail/us-east-1/2024/05/10/") for m in metas] == [1] * len(metas)
    before = IngestLog(lake_settings).latest("aws.cloudtrail")

    fs = lake_settings.filesystem()
    fs.rm(lake_settings.fs_path(lake_settings.url("_state", "ingest_log")), recursive=True)
    again = ingest(catalog, source, progress=False, full_listing=True)
    assert (again.objects_seen, again.objects_ingested) == (30, 0)
    after = IngestLog(lake_settings).latest("aws.cloudtrail")
    key = ["source_key", "etag", "rows"]
    assert after.select(key).sort("source_key").equals(before.select(key).sort("source_key"))
    assert after.height == 30
