"""Many small deliveries in one run become few Parquet files of about the target size."""

from __future__ import annotations

import gzip
import random

import orjson
import pytest
from sample_files import invictus_files, read_sample
from test_ingest_lake import read_table, trail_file

from loglake.catalog import Catalog
from loglake.ingest import ingest, runner

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
def test_a_run_of_small_deliveries_writes_one_file_per_partition(
    raw, local_settings, workers: int
) -> None:
    catalog = Catalog(local_settings)
    report = ingest(catalog, str(raw), workers=workers, progress=False, compact_files=0)
    assert report.ok and report.objects_ingested == DELIVERIES
    version, sizes = _commits_and_files(catalog)
    # the batches of the run (several, so that fetching and parsing overlap) make one file,
    # committed once after the table was created (version 0)
    assert (version, len(sizes)) == (1, 1)
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
