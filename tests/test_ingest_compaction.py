"""Partitions that many small deliveries crowd with files are compacted after ingest."""

from __future__ import annotations

from test_ingest_lake import make_event, read_table, trail_file

from loglake.catalog import Catalog
from loglake.cli import main as cli
from loglake.ingest import ingest

ACCOUNT = "111122223333"


def partition_files(catalog: Catalog, region: str) -> int:
    files = catalog.managed("aws", "cloudtrail").files()
    return sum(1 for f in files if f.partition["region"] == region)


def test_crowded_partitions_are_compacted_after_ingest(local_settings, tmp_path):
    raw = tmp_path / "raw"
    for i in range(12):  # one commit (one file) per delivery in us-east-1, one file in eu-west-1
        trail_file(raw, ACCOUNT, "us-east-1", f"20240510T1{i:03d}", [make_event(i)])
    trail_file(raw, ACCOUNT, "eu-west-1", "20240510T1000", [make_event(50, awsRegion="eu-west-1")])
    catalog = Catalog(local_settings)
    first = ingest(catalog, str(raw), progress=False, batch_objects=1, compact_files=0)
    assert first.partitions_compacted == 0
    assert partition_files(catalog, "us-east-1") == 12
    version = catalog.managed("aws", "cloudtrail").version()

    trail_file(raw, ACCOUNT, "us-east-1", "20240510T1200", [make_event(12)])
    report = ingest(catalog, str(raw), progress=False, compact_files=8)
    assert (report.objects_ingested, report.partitions_compacted) == (1, 1)
    assert partition_files(catalog, "us-east-1") == 1
    assert partition_files(catalog, "eu-west-1") == 1
    table = read_table(local_settings, "cloudtrail")
    assert sorted(table["eventid"]) == sorted(f"evt-{i:06d}" for i in [*range(13), 50])
    # the compaction changed no data: incremental readers see only the new delivery's file
    added = catalog.managed("aws", "cloudtrail").files_added_since(version)
    assert sum(f.num_records for f in added) == 1

    # nothing new, nothing compacted; the CLI reports a compaction in its summary
    assert ingest(catalog, str(raw), progress=False, compact_files=1).partitions_compacted == 0
    trail_file(raw, ACCOUNT, "us-east-1", "20240510T1205", [make_event(13)])
    trail_file(raw, ACCOUNT, "eu-west-1", "20240510T1205", [make_event(51, awsRegion="eu-west-1")])
    lake = str(local_settings.root)
    code = cli(["--lake", lake, "ingest", str(raw), "--no-progress", "--compact-files", "1"])
    assert code == 0
    assert partition_files(catalog, "us-east-1") == 1 and partition_files(catalog, "eu-west-1") == 1


def test_the_lake_setting_sets_when_partitions_are_compacted(local_settings, tmp_path, capsys):
    """Every run follows the lake's ingest_compact_files (the watch loop's runs take no option)."""
    raw = tmp_path / "raw"
    lake = str(local_settings.root)
    catalog = Catalog(local_settings)
    assert cli(["--lake", lake, "init"]) == 0
    assert cli(["--lake", lake, "settings", "ingest_compact_files=off"]) == 0
    assert '"ingest_compact_files": 0' in capsys.readouterr().out
    for i in range(6):
        trail_file(raw, ACCOUNT, "us-east-1", f"20240510T1{i:03d}", [make_event(i)])
    assert ingest(catalog, str(raw), progress=False, batch_objects=1).partitions_compacted == 0
    assert partition_files(catalog, "us-east-1") == 6

    assert cli(["--lake", lake, "settings", "ingest_compact_files=4"]) == 0
    trail_file(raw, ACCOUNT, "us-east-1", "20240510T1100", [make_event(6)])
    assert ingest(catalog, str(raw), progress=False).partitions_compacted == 1
    assert partition_files(catalog, "us-east-1") == 1
    assert sorted(read_table(local_settings, "cloudtrail")["eventid"]) == [
        f"evt-{i:06d}" for i in range(7)
    ]
