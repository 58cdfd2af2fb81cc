"""Many small deliveries in one run become few Parquet files of about the target size."""

from __future__ import annotations

import gzip
import random
import shutil

import orjson
import polars as pl
import pytest
from sample_files import invictus_files, read_sample
from test_ingest_lake import read_table, trail_file

from loglake.catalog import Catalog
from loglake.ingest import ingest, runner
from loglake.ingest.quarantine import Quarantine

ACCOUNT = "111122223333"
DELIVERIES = 240


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory):
    """240 deliveries of 30-50 real CloudTrail records each, one account, region and day."""
    records = [
        record for path in invictus_files() for record in orjson.loads(read_sample(path))["Records"]
    ]
    rng = random.Random(5)
    folder = tmp_path_factory.mktemp("small-deliveries")
    for i in range(DELIVERIES):
        minute = i * 5
        stamp = f"20240510T{minute // 60 % 24:02d}{minute % 60:02d}"
        events = []
        for j in range(rng.randint(30, 50)):
            event = dict(rng.choice(records))
            event["eventTime"] = f"2024-05-10T{minute // 60 % 24:02d}:{minute % 60:02d}:{j:02d}Z"
            event["eventID"] = f"evt-{i:04d}-{j:02d}"
            event["awsRegion"] = "us-east-1"
            events.append(event)
        trail_file(folder, ACCOUNT, "us-east-1", stamp, events)
    return folder


@pytest.fixture(autouse=True)
def many_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut these small runs into batches of ~50 deliveries, as a large run is cut."""
    monkeypatch.setattr(runner, "MIN_BATCH_BYTES", 100_000)
    monkeypatch.setattr(runner, "BATCH_BYTES", 100_000)


def _commits_and_files(catalog: Catalog) -> tuple[int, list[int]]:
    table = catalog.managed("aws", "cloudtrail")
    return table.version(), sorted(f.size for f in table.files())


def _event_count(raw) -> int:
    return sum(
        len(orjson.loads(gzip.decompress(p.read_bytes()))["Records"])
        for p in raw.rglob("*.json.gz")
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_of_small_deliveries_writes_one_file_per_partition_and_worker(
    raw, local_settings, workers: int
) -> None:
    catalog = Catalog(local_settings)
    report = ingest(catalog, str(raw), workers=workers, progress=False, compact_files=0)
    assert report.ok and report.objects_ingested == DELIVERIES
    version, sizes = _commits_and_files(catalog)
    # the batches of the run (several, so that fetching and parsing overlap) make one file,
    # committed once after the table was created (version 0); with workers, each gathers its
    # share of the run into a file of its own and the parent commits it
    assert (version, len(sizes)) == (workers, workers)
    rows = read_table(local_settings, "cloudtrail")
    assert rows.height == _event_count(raw) == report.rows["cloudtrail"]
    assert rows["eventid"].n_unique() == rows.height


def test_files_are_cut_near_the_target_size(raw, local_settings) -> None:
    catalog = Catalog(local_settings)
    target = 100_000
    report = ingest(catalog, str(raw), progress=False, compact_files=0, target_file_bytes=target)
    assert report.ok
    version, sizes = _commits_and_files(catalog)
    # a file per commit, none far above the target: a file is cut once its batches pass it
    # (the first by a guess of how well rows compress, the others by the ratio measured on the
    # files written); only the run's remainder may be much smaller
    assert len(sizes) >= 3 and version == len(sizes)
    assert all(size <= 1.6 * target for size in sizes)
    assert sum(size < 0.5 * target for size in sizes) <= 1
    assert read_table(local_settings, "cloudtrail").height == _event_count(raw)


def test_a_run_stopped_half_way_commits_only_whole_files(raw, local_settings) -> None:
    """Objects waiting for a file are not committed, and the next run ingests them once."""
    catalog = Catalog(local_settings)
    target = 40_000

    class Stop(Exception):
        pass

    def stop_after_first_commit(report) -> None:
        raise Stop

    with pytest.raises(Stop):
        ingest(
            catalog,
            str(raw),
            progress=False,
            compact_files=0,
            target_file_bytes=target,
            on_batch=stop_after_first_commit,
        )
    committed = read_table(local_settings, "cloudtrail").height
    assert 0 < committed < _event_count(raw)
    report = ingest(catalog, str(raw), progress=False, compact_files=0)
    assert report.ok and 0 < report.objects_ingested < DELIVERIES
    rows = read_table(local_settings, "cloudtrail")
    assert rows.height == _event_count(raw) and rows["eventid"].n_unique() == rows.height


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_deliveries_among_small_ones_are_quarantined_and_the_rest_goes_on(
    raw, local_settings, tmp_path, workers: int
) -> None:
    """Batched paths (a worker's share, files gathered across batches) still set aside a bad
    file or record with its reason, and ingest every other delivery whole."""
    source = tmp_path / "raw"
    shutil.copytree(raw, source)
    files = sorted(source.rglob("*.json.gz"))
    files[10].write_bytes(b"\x1f\x8b\x08\x00 this is not a gzip stream")
    files[100].write_bytes(gzip.compress(b'{"Records": [{"eventTime": "2024-05-10T00:00:00Z",'))
    document = orjson.loads(gzip.decompress(files[200].read_bytes()))
    document["Records"][3]["eventTime"] = "yesterday"
    files[200].write_bytes(gzip.compress(orjson.dumps(document)))
    expected = _event_count(raw) - sum(
        len(orjson.loads(gzip.decompress((raw / f.relative_to(source)).read_bytes()))["Records"])
        for f in (files[10], files[100])
    )
    catalog = Catalog(local_settings)
    report = ingest(catalog, str(source), workers=workers, progress=False, compact_files=0)
    assert (report.objects_quarantined, report.records_quarantined) == (2, 1)
    assert report.rows["cloudtrail"] == expected - 1
    assert report.objects_ingested == DELIVERIES
    reasons = {e.source_key.rsplit("/", 1)[-1]: e for e in Quarantine(local_settings).entries()}
    assert "gzip" in reasons[files[10].name].error
    assert "invalid JSON" in reasons[files[100].name].error
    bad_record = reasons[files[200].name]
    assert "yesterday" in bad_record.error and bad_record.position == {"record_index": 3}
    rows = read_table(local_settings, "cloudtrail")
    assert rows.height == expected - 1 and rows["eventid"].n_unique() == rows.height
    # nothing twice: the next run finds every delivery done
    again = ingest(catalog, str(source), workers=workers, progress=False, compact_files=0)
    assert again.objects_ingested == 0 and again.total_rows == 0


def test_partitions_a_run_moves_past_are_written_on_the_way_and_committed_once(
    local_settings, tmp_path
) -> None:
    """Deliveries of two regions over two days, read in key order: each partition still ends
    as one file, an event delivered the next day included, and every row is committed once
    (also by a run stopped after its first commit and run again)."""
    records = [
        record for path in invictus_files() for record in orjson.loads(read_sample(path))["Records"]
    ]
    rng = random.Random(9)
    source = tmp_path / "raw"
    total = 0
    for region in ("eu-west-1", "us-east-1"):
        for day in ("10", "11"):
            for i in range(60):
                minute = i * 5
                hour = f"{minute // 60:02d}{minute % 60:02d}"
                events = []
                for j in range(rng.randint(30, 50)):
                    event = dict(rng.choice(records))
                    event["eventTime"] = f"2024-05-{day}T{hour[:2]}:{hour[2:]}:{j:02d}Z"
                    event["eventID"] = f"evt-{region}-{day}-{i:03d}-{j:02d}"
                    events.append(event)
                if day == "11" and i == 0:  # reached the next day's first delivery
                    events[0]["eventTime"] = "2024-05-10T23:59:58Z"
                trail_file(source, ACCOUNT, region, f"202405{day}T{hour}", events)
                total += len(events)
    catalog = Catalog(local_settings)

    class Stop(Exception):
        pass

    def stop(report) -> None:
        raise Stop

    small = Catalog(local_settings.with_root(str(tmp_path / "stopped")))
    with pytest.raises(Stop):
        ingest(
            small,
            str(source),
            progress=False,
            compact_files=0,
            target_file_bytes=200_000,
            on_batch=stop,
        )
    again = ingest(small, str(source), progress=False, compact_files=0)
    assert again.ok
    stopped = pl.from_arrow(small.managed("aws", "cloudtrail").table.to_pyarrow_table())
    assert stopped.height == total and stopped["eventid"].n_unique() == total

    report = ingest(catalog, str(source), progress=False, compact_files=0)
    assert report.ok and report.rows["cloudtrail"] == total
    version, sizes = _commits_and_files(catalog)
    assert (version, len(sizes)) == (1, 4)
    rows = read_table(local_settings, "cloudtrail")
    assert rows.height == total and rows["eventid"].n_unique() == total
    per_partition = rows.group_by("region", "day").len().sort("region", "day")
    assert per_partition["len"].sum() == total
    late = rows.filter(pl.col("eventid") == "evt-us-east-1-11-000-00")
    assert late["day"].to_list() == ["2024-05-10"]
