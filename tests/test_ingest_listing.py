"""Listings that resume after the keys already ingested (local folder and S3 server on
127.0.0.1): late keys inside the margin, streams listed after their last key once an hour has
passed, new streams, a run stopped half-way, full listings; on S3, the tree listed once per gap
between what is left out, with new accounts, regions, days and Config windows still found."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
import uuid
from pathlib import Path

import orjson
import polars as pl
import pytest
import s3fs
from test_ingest_lake import make_event, put_raw, read_table, trail_file

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import UserError
from loglake.ingest import ingest, listing
from loglake.ingest.listing import resume_after, stream_of

ACCOUNT = "111122223333"
REGION = "us-east-1"


def stamp(minutes: int) -> str:
    """YYYYMMDDTHHMM of 2024-05-10 10:00 plus ``minutes``."""
    hour, minute = divmod(10 * 60 + minutes, 60)
    return f"20240510T{hour:02d}{minute:02d}"


def deliver(settings: StorageSettings, raw: Path, source: str, path: Path) -> None:
    """Make a file written under ``raw`` visible at the source: uploaded to the bucket by
    another client, as AWS delivers (the lake's own client would forget its cached listings)."""
    if settings.is_s3:
        other = s3fs.S3FileSystem(skip_instance_cache=True, **settings.fsspec_options())
        other.pipe_file(f"{source[5:]}/{path.relative_to(raw).as_posix()}", path.read_bytes())


def event_ids(settings: StorageSettings) -> list[str]:
    return sorted(read_table(settings, "cloudtrail")["eventid"].to_list())


@pytest.fixture
def clock(monkeypatch):
    """The listing's clock, set to 2024-05-10 10:00 plus the minutes given, as a run on the
    delivery day sees it (returns the setter)."""
    minutes = [0]

    def at(value: int) -> None:
        minutes[0] = value

    start = dt.datetime(2024, 5, 10, 10, tzinfo=dt.UTC)
    monkeypatch.setattr(listing, "now", lambda: start + dt.timedelta(minutes=minutes[0]))
    return at


@pytest.fixture
def small_pages(monkeypatch):
    """S3 pages of 7 keys, so that ranges cross page boundaries with a few dozen keys."""
    monkeypatch.setattr(listing, "PAGE_KEYS", 7)


def test_stream_and_resume_point_of_delivery_names():
    name = f"{ACCOUNT}_CloudTrail_{REGION}_20240510T0005Z_AbCdEf0123456789.json.gz"
    assert stream_of(name) == (f"{ACCOUNT}_CloudTrail_{REGION}_", "20240510T0005")
    # an hour before, across midnight; names of that minute sort after the resume point
    assert resume_after(name) == f"{ACCOUNT}_CloudTrail_{REGION}_20240509T2305"
    assert f"{ACCOUNT}_CloudTrail_{REGION}_20240509T2305Z_0.json.gz" > resume_after(name)
    # listed at 00:07: keys not visible then are stamped 23:06 or later (a minute for the cut)
    assert resume_after(name, "20240510T0007") == f"{ACCOUNT}_CloudTrail_{REGION}_20240509T2306"
    # listed more than an hour (and the minute) after the key: every key up to it was visible
    assert resume_after(name, "20240510T0106") == f"{ACCOUNT}_CloudTrail_{REGION}_20240510T0005"
    assert resume_after(name, "20240510T0107") == name
    flow = "123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz"
    assert stream_of(flow) == ("123456789012_vpcflowlogs_us-east-1_fl-1234abcd_", "20180620T1620")
    config = "1_Config_us-east-2_ConfigHistory_AWS::S3::Bucket_20160927T195818Z_20160927T195818Z_1.json.gz"
    assert stream_of(config)[1] == "20160927T1958"  # type: ignore[index]
    assert stream_of("notes.txt") is None


def test_resumed_listing_keeps_late_keys_inside_the_margin(
    lake_settings, tmp_path, small_pages, clock
):
    raw = tmp_path / "raw"
    for i in range(40):  # 10:00 to 13:15, one delivery every five minutes
        trail_file(raw, ACCOUNT, REGION, stamp(5 * i), [make_event(i)])
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    clock(196)  # runs at 13:16, a minute after the last delivery
    first = ingest(catalog, source, progress=False)
    assert first.objects_seen == 40 and first.rows["cloudtrail"] == 40

    # nothing new: only the last hour before the last key (12:15 to 13:15) is listed again
    noop = ingest(catalog, source, progress=False)
    assert (noop.objects_seen, noop.objects_ingested, noop.objects_skipped) == (13, 0, 13)

    # a delivery that becomes visible late although it sorts before the last committed key,
    # another one of the same minute as the last key, and a new one
    late = [
        trail_file(raw, ACCOUNT, REGION, stamp(170), [make_event(100)]),
        trail_file(raw, ACCOUNT, REGION, stamp(195), [make_event(101)]),
        trail_file(raw, ACCOUNT, REGION, stamp(200), [make_event(102)]),
    ]
    for path in late:
        deliver(lake_settings, raw, source, path)
    clock(201)
    report = ingest(catalog, source, progress=False)
    assert report.objects_ingested == 3
    assert event_ids(lake_settings) == sorted(
        [f"evt-{i:06d}" for i in range(40)] + ["evt-000100", "evt-000101", "evt-000102"]
    )

    # more than an hour late: only a full listing sees it (the documented limit)
    too_late = trail_file(raw, ACCOUNT, REGION, stamp(60), [make_event(103)])
    deliver(lake_settings, raw, source, too_late)
    clock(205)
    assert ingest(catalog, source, progress=False).objects_ingested == 0
    full = ingest(catalog, source, progress=False, full_listing=True)
    assert full.objects_seen == 44 and full.objects_ingested == 1
    assert "evt-000103" in event_ids(lake_settings)
    assert len(event_ids(lake_settings)) == 44


def flow_file(raw: Path, flow_log: str, minutes: int, srcport: int) -> Path:
    folder = raw / "AWSLogs" / ACCOUNT / "vpcflowlogs" / REGION / "2024" / "05" / "10"
    folder.mkdir(parents=True, exist_ok=True)
    when = stamp(minutes)
    name = f"{ACCOUNT}_vpcflowlogs_{REGION}_{flow_log}_{when}Z_{uuid.uuid4().hex[:8]}.log.gz"
    start = 1715335200 + minutes * 60
    lines = [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
        "bytes start end action log-status",
        f"2 {ACCOUNT} eni-1 10.0.0.1 10.0.0.2 {srcport} 443 6 1 60 {start} {start + 60} ACCEPT OK",
    ]
    path = folder / name
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


def test_a_quiet_stream_is_listed_after_its_last_key(lake_settings, tmp_path, small_pages, clock):
    """Once a listing has come more than an hour after a stream's last key, a run lists only
    what sorts after that key: nothing, if nothing is new."""
    raw = tmp_path / "raw"
    for i in range(40):  # 10:00 to 13:15
        trail_file(raw, ACCOUNT, REGION, stamp(5 * i), [make_event(i)])
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    clock(196)
    assert ingest(catalog, source, progress=False).objects_ingested == 40
    clock(300)  # 15:00: the last listing (13:16) was within the hour of the last key
    assert ingest(catalog, source, progress=False).objects_seen == 13
    clock(305)  # the 15:00 listing came more than an hour after 13:15: nothing before it is new
    noop = ingest(catalog, source, progress=False)
    assert (noop.objects_seen, noop.objects_ingested) == (0, 0)

    # a new delivery is found; one stamped 13:10 that appears two hours late is not
    fresh = trail_file(raw, ACCOUNT, REGION, stamp(303), [make_event(40)])
    stale = trail_file(raw, ACCOUNT, REGION, stamp(190), [make_event(41)])
    for path in (fresh, stale):
        deliver(lake_settings, raw, source, path)
    clock(306)
    report = ingest(catalog, source, progress=False)
    assert (report.objects_seen, report.objects_ingested) == (1, 1)
    assert ingest(catalog, source, progress=False, full_listing=True).objects_ingested == 1
    assert event_ids(lake_settings) == [f"evt-{i:06d}" for i in range(42)]


def test_new_streams_in_a_known_folder_are_listed_in_full(
    lake_settings, tmp_path, small_pages, clock
):
    raw = tmp_path / "raw"
    clock(191)  # runs at 13:11, a minute after the last delivery
    port = iter(range(1000, 2000))
    for flow_log in ("fl-0000000000000000b", "fl-0000000000000000d"):
        for i in range(20):
            flow_file(raw, flow_log, 10 * i, next(port))
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    assert ingest(catalog, source, progress=False).rows["vpc_flow_logs"] == 40
    assert ingest(catalog, source, progress=False).objects_seen == 2 * 7  # 12:10 .. 13:10 of each

    # flow logs created later, sorting before, between and after the known ones, with early
    # stamps: each is a new stream, so all of its keys are listed
    added = [
        flow_file(raw, flow_log, minutes, next(port))
        for flow_log in ("fl-0000000000000000a", "fl-0000000000000000c", "fl-0000000000000000e")
        for minutes in (0, 5)
    ]
    for path in added:
        deliver(lake_settings, raw, source, path)
    report = ingest(catalog, source, progress=False)
    assert report.objects_ingested == 6
    ports = read_table(lake_settings, "vpc_flow_logs")["srcport"].cast(pl.Int64).sort()
    assert ports.to_list() == list(range(1000, 1046))


def test_a_run_stopped_half_way_resumes_at_its_first_unfinished_key(lake_settings, tmp_path):
    raw = tmp_path / "raw"
    for i in range(40):
        trail_file(raw, ACCOUNT, REGION, stamp(5 * i), [make_event(i)])
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)

    def stop(report) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(catalog, source, progress=False, batch_objects=5, on_batch=stop)
    assert len(event_ids(lake_settings)) == 5
    # the stream's position stops at the fifth key: a resumed run lists everything after it
    report = ingest(catalog, source, progress=False)
    assert report.objects_ingested == 35
    assert event_ids(lake_settings) == [f"evt-{i:06d}" for i in range(40)]


def test_folders_with_keys_named_otherwise_are_listed_in_full(local_settings, tmp_path):
    raw = tmp_path / "raw"
    for i in range(10):
        trail_file(raw, ACCOUNT, REGION, stamp(30 * i), [make_event(i)])
    folder = next(raw.rglob("*.json.gz")).parent
    (folder / "copied-by-hand.txt").write_text("not a delivery")
    catalog = Catalog(local_settings)
    first = ingest(catalog, str(raw), progress=False)
    assert (first.objects_ingested, first.objects_quarantined) == (10, 1)

    # three hours older than the last key: found, because nothing is skipped in this folder
    trail_file(raw, ACCOUNT, REGION, stamp(90), [make_event(10)])
    report = ingest(catalog, str(raw), progress=False)
    assert report.objects_seen == 12 and report.objects_ingested == 1
    assert event_ids(local_settings) == [f"evt-{i:06d}" for i in range(11)]


def test_a_later_run_in_the_same_process_sees_new_keys_of_listed_folders(s3_settings, tmp_path):
    """The S3 filesystem caches folder listings; a watch loop runs ingest again and again in one
    process, and must see what was delivered to a folder it listed before."""
    raw = tmp_path / "raw"
    trail_file(raw, ACCOUNT, REGION, stamp(0), [make_event(0)])
    source = put_raw(s3_settings, raw)
    catalog = Catalog(s3_settings)
    assert ingest(catalog, source, progress=False, full_listing=True).objects_ingested == 1
    added = [
        trail_file(raw, ACCOUNT, REGION, stamp(5), [make_event(1)]),  # a folder listed before
        trail_file(raw, ACCOUNT, "eu-west-1", stamp(5), [make_event(2)]),  # a new folder
    ]
    for path in added:
        deliver(s3_settings, raw, source, path)
    assert ingest(catalog, source, progress=False, full_listing=True).objects_ingested == 2
    assert event_ids(s3_settings) == ["evt-000000", "evt-000001", "evt-000002"]


def test_finished_days_are_not_listed_once_their_region_has_moved_on(lake_settings, tmp_path):
    """Without --since, a no-op run lists the region's latest day, not every day it has seen."""
    raw = tmp_path / "raw"
    stamps = ["20240510T0900", "20240510T2350", "20240511T0800", "20240511T2355"]
    stamps += ["20240512T0010", "20240512T0230"]
    for i, when in enumerate(stamps):
        trail_file(raw, ACCOUNT, REGION, when, [make_event(i)])
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    assert ingest(catalog, source, progress=False).objects_seen == 6

    # 05-10 and 05-11 are finished and 05-12 holds a key past 05-11's end plus the margin: only
    # 05-12 is listed, after its last key (the listing that saw it came years later)
    noop = ingest(catalog, source, progress=False)
    assert (noop.objects_seen, noop.objects_ingested) == (0, 0)
    # a key of 05-10 that appears now, days late, is left to a full listing (the documented limit)
    late = trail_file(raw, ACCOUNT, REGION, "20240510T2355", [make_event(50)])
    deliver(lake_settings, raw, source, late)
    assert ingest(catalog, source, progress=False).objects_ingested == 0
    full = ingest(catalog, source, progress=False, full_listing=True)
    assert (full.objects_seen, full.objects_ingested) == (7, 1)
    assert len(event_ids(lake_settings)) == 7


def test_a_day_with_an_unfinished_key_stays_open(local_settings, tmp_path):
    raw = tmp_path / "raw"
    trail_file(raw, ACCOUNT, REGION, "20240510T0900", [make_event(1)])
    trail_file(raw, ACCOUNT, REGION, "20240510T0905", [make_event(2)])
    trail_file(raw, ACCOUNT, REGION, "20240512T0230", [make_event(3)])
    catalog = Catalog(local_settings)

    def stop(report) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # stops after its first commit: 05-10 09:00
        ingest(catalog, str(raw), progress=False, batch_objects=1, on_batch=stop)
    # 05-10 is not finished: it is listed again although 05-12 has moved on
    report = ingest(catalog, str(raw), progress=False)
    assert report.objects_ingested == 2
    assert len(event_ids(local_settings)) == 3


@pytest.fixture
def list_requests(monkeypatch):
    """The prefixes of the ``ListObjectsV2`` requests the S3 filesystem sends (a list that
    grows as they are sent)."""
    sent: list[str] = []
    call, call_async = s3fs.S3FileSystem.call_s3, s3fs.S3FileSystem._call_s3

    def counted(self, method, *args, **kwargs):  # the sync one does not go through the other
        if method == "list_objects_v2":
            sent.append(kwargs.get("Prefix", ""))
        return call(self, method, *args, **kwargs)

    async def counted_async(self, method, *args, **kwargs):
        if method == "list_objects_v2":
            sent.append(kwargs.get("Prefix", ""))
        return await call_async(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "call_s3", counted)
    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", counted_async)
    return sent


def test_a_no_op_run_on_s3_lists_the_tree_once_per_gap(s3_settings, tmp_path, list_requests):
    """On S3, a run over folders it knows lists the source without a delimiter, leaving out each
    stream's ingested keys and the closed days: one request per gap between them, not one per
    folder level; deliveries in any gap (a new account, region, key) are found."""
    raw = tmp_path / "raw"
    stamps = ["20240510T0900", "20240510T2350", "20240511T0800", "20240511T2355"]
    stamps += ["20240512T0010", "20240512T0230"]
    for i, when in enumerate(stamps):
        trail_file(raw, ACCOUNT, REGION, when, [make_event(i)])
    trail_file(raw, ACCOUNT, "eu-west-1", "20240512T0100", [make_event(6)])
    source = put_raw(s3_settings, raw)
    catalog = Catalog(s3_settings)
    assert ingest(catalog, source, progress=False).objects_ingested == 7

    # gaps: before eu-west-1's stream; between it and us-east-1's closed 05-10 and 05-11 (one
    # range); between those and 05-12's stream; after 05-12's last key
    list_requests.clear()
    noop = ingest(catalog, source, progress=False)
    assert (noop.objects_seen, noop.objects_ingested) == (0, 0)
    raw_prefix = source[5:].partition("/")[2] + "/"
    assert [p for p in list_requests if p.startswith(raw_prefix)] == [raw_prefix] * 4

    found = [
        trail_file(raw, ACCOUNT, REGION, "20240512T0300", [make_event(7)]),  # after the last key
        trail_file(raw, ACCOUNT, "ap-south-1", "20240512T0300", [make_event(8)]),  # new region
        trail_file(raw, "999988887777", REGION, "20240512T0300", [make_event(9)]),  # new account
        trail_file(raw, ACCOUNT, REGION, "20240513T0000", [make_event(10)]),  # new day
    ]
    late = trail_file(raw, ACCOUNT, REGION, "20240510T2355", [make_event(11)])  # a closed day
    hidden = raw / "_staging" / "AWSLogs" / late.relative_to(raw / "AWSLogs")
    hidden.parent.mkdir(parents=True)
    hidden.write_bytes(late.read_bytes())
    for path in [*found, late, hidden]:
        deliver(s3_settings, raw, source, path)
    report = ingest(catalog, source, progress=False)
    assert (report.objects_seen, report.objects_ingested) == (4, 4)
    assert ingest(catalog, source, progress=False).objects_seen == 0
    # the late key of a closed day is left to a full listing; folders named _... never listed
    full = ingest(catalog, source, progress=False, full_listing=True)
    assert (full.objects_seen, full.objects_ingested) == (12, 1)
    assert event_ids(s3_settings) == [f"evt-{i:06d}" for i in range(12)]


def config_file(raw: Path, resource: str, start: str, end: str) -> Path:
    """A Config history file of 2024-05-10 for the window ``start``-``end`` (HH), one item."""
    folder = raw / f"AWSLogs/{ACCOUNT}/Config/{REGION}/2024/5/10/ConfigHistory"
    folder.mkdir(parents=True, exist_ok=True)
    item = {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": f"2024-05-10T{start}:30:00.000Z",
        "awsAccountId": ACCOUNT,
        "resourceType": resource,
        "resourceId": f"{resource}-{start}",
        "awsRegion": REGION,
    }
    name = f"{ACCOUNT}_Config_{REGION}_ConfigHistory_{resource}_20240510T{start}0000Z_"
    path = folder / f"{name}20240510T{end}0000Z_1.json.gz"
    body = {"fileVersion": "1.0", "configurationItems": [item]}
    path.write_bytes(gzip.compress(orjson.dumps(body)))
    return path


def test_config_history_beside_a_resumed_trail_is_still_found_on_s3(s3_settings, tmp_path):
    """Config names a file by its window, not by when it was delivered: a file for an earlier
    window sorts before those ingested, and the tree listing still finds it."""
    raw = tmp_path / "raw"
    trail_file(raw, ACCOUNT, REGION, "20240510T0900", [make_event(0)])
    config_file(raw, "AWS::S3::Bucket", "08", "14")
    config_file(raw, "AWS::S3::Bucket", "14", "20")
    source = put_raw(s3_settings, raw)
    catalog = Catalog(s3_settings)
    assert ingest(catalog, source, progress=False).objects_ingested == 3
    assert ingest(catalog, source, progress=False).objects_seen == 0

    earlier = [
        config_file(raw, "AWS::EC2::Instance", "02", "08"),
        config_file(raw, "AWS::S3::Bucket", "02", "08"),
    ]
    for path in earlier:
        deliver(s3_settings, raw, source, path)
    assert ingest(catalog, source, progress=False).objects_ingested == 2
    assert read_table(s3_settings, "config_items").height == 4


def test_a_source_that_is_gone_is_named(lake_settings, tmp_path):
    """A source that does not exist, or no longer holds anything (after runs that resumed from
    its folders), is an error that names it, not an empty run."""
    raw = tmp_path / "raw"
    trail_file(raw, ACCOUNT, REGION, stamp(0), [make_event(0)])
    source = put_raw(lake_settings, raw)
    catalog = Catalog(lake_settings)
    missing = source + "-missing"
    with pytest.raises(UserError, match=f"nothing to ingest: {missing} does not exist"):
        ingest(catalog, missing, progress=False)
    assert ingest(catalog, source, progress=False).objects_ingested == 1
    if lake_settings.is_s3:
        lake_settings.filesystem().rm(source[5:], recursive=True)
    else:
        shutil.rmtree(raw)
    with pytest.raises(UserError, match=f"nothing to ingest: {source} does not exist"):
        ingest(catalog, source, progress=False)


def test_since_leaves_earlier_days_out_of_the_tree_listing(s3_settings, tmp_path, list_requests):
    raw = tmp_path / "raw"
    trail_file(raw, ACCOUNT, REGION, "20240510T0900", [make_event(0)])
    trail_file(raw, ACCOUNT, REGION, "20240512T0900", [make_event(1)])
    source = put_raw(s3_settings, raw)
    catalog = Catalog(s3_settings)
    assert ingest(catalog, source, progress=False).objects_ingested == 2
    added = [
        trail_file(raw, ACCOUNT, REGION, "20240511T0900", [make_event(2)]),  # a day not seen yet
        trail_file(raw, ACCOUNT, REGION, "20240512T1000", [make_event(3)]),
    ]
    for path in added:
        deliver(s3_settings, raw, source, path)
    list_requests.clear()
    report = ingest(catalog, source, progress=False, since="2024-05-12")
    assert (report.objects_seen, report.objects_ingested) == (1, 1)
    raw_prefix = source[5:].partition("/")[2] + "/"
    # gaps: before closed 05-10, 05-11 (jumped over at its first key), before and after 05-12's
    assert len([p for p in list_requests if p.startswith(raw_prefix)]) == 4
    assert ingest(catalog, source, progress=False).objects_ingested == 1  # 05-11, without since
    assert event_ids(s3_settings) == [f"evt-{i:06d}" for i in range(4)]
