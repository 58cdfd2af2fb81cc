"""Queries over catalog tables (local and S3): pruning, statistics, CTAS, INSERT, views, UNLOAD."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from loglake.catalog import Catalog
from loglake.errors import SqlError
from loglake.query.engine import Engine
from loglake.query.history import read_history
from loglake.query.statements import arrow_table


def _events(ids: range, day: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": list(ids),
            "eventname": [f"Op{i % 3}" for i in ids],
            "eventtime": [dt.datetime(2024, 1, 1, 0, i) for i in ids],
            "useridentity": [{"arn": f"arn:{i % 2}", "type": "IAMUser"} for i in ids],
            "dt": [day] * len(ids),
        }
    )


@pytest.fixture
def lake(lake_settings) -> Engine:  # type: ignore[no-untyped-def]
    catalog = Catalog(lake_settings)
    catalog.create_database("aws", if_not_exists=True)
    first = _events(range(1, 4), "2024-01-01")
    catalog.create_managed_table(
        "aws", "events", schema=arrow_table(first).schema, partition_by=["dt"]
    )
    table = catalog.managed("aws", "events")
    table.append(arrow_table(first))
    table.append(arrow_table(_events(range(4, 7), "2024-01-02")))
    table.append(arrow_table(_events(range(7, 10), "2024-01-02")))
    return Engine(catalog=catalog)


def test_partition_predicates_skip_files(lake: Engine) -> None:
    result = lake.execute("SELECT id FROM aws.events WHERE dt = '2024-01-01' ORDER BY id")
    assert result.df is not None and result.df.to_series().to_list() == [1, 2, 3]
    assert result.stats.files_scanned == 1
    assert result.stats.files_skipped == 2
    assert result.stats.bytes_scanned > 0
    assert result.stats.rows == 3


def test_min_max_statistics_skip_files(lake: Engine) -> None:
    result = lake.execute("SELECT count(*) AS n FROM aws.events WHERE id >= 7")
    assert result.df is not None and result.df.item() == 3
    assert result.stats.files_scanned == 1 and result.stats.files_skipped == 2
    result = lake.execute(
        "SELECT count(*) FROM aws.events WHERE eventtime < TIMESTAMP '2024-01-01 00:02:30'"
    )
    assert result.df is not None and result.df.item() == 2
    assert result.stats.files_skipped == 2


def test_struct_fields_and_path_pseudo_column(lake: Engine) -> None:
    df = lake.execute(
        'SELECT useridentity.arn AS arn, count(DISTINCT "$path") AS files FROM aws.events GROUP BY 1 ORDER BY 1'
    ).df
    assert df is not None
    assert df.rows() == [("arn:0", 3), ("arn:1", 3)]
    paths = lake.execute(
        "SELECT DISTINCT \"$path\" AS p FROM aws.events WHERE dt = '2024-01-01'"
    ).df
    assert paths is not None and paths.height == 1
    assert "dt=2024-01-01" in paths.item()
    sizes = lake.execute(
        "SELECT DISTINCT \"$file_size\" AS s FROM aws.events WHERE dt = '2024-01-01'"
    ).df
    assert sizes is not None and sizes.item() > 0


def test_explain_lists_kept_and_skipped_files(lake: Engine) -> None:
    plan = lake.explain("SELECT * FROM aws.events WHERE dt = '2024-01-02'")
    assert "aws.events: 2 file(s) kept, 1 skipped" in plan
    assert "skip " in plan and "dt=2024-01-01" in plan


def test_ctas_insert_and_query(lake: Engine) -> None:
    lake.execute(
        "CREATE TABLE aws.daily WITH (format = 'PARQUET', partitioned_by = ARRAY['dt']) AS "
        "SELECT eventname, count(*) AS n, dt FROM aws.events GROUP BY eventname, dt"
    )
    definition = lake.catalog.get_table("aws", "daily")
    assert [c.name for c in definition.partition_keys] == ["dt"]
    lake.execute("INSERT INTO aws.daily SELECT 'Extra', 42, '2024-01-03'")
    df = lake.execute("SELECT dt, sum(n) FROM aws.daily GROUP BY dt ORDER BY dt").df
    assert df is not None
    assert df.rows() == [("2024-01-01", 3), ("2024-01-02", 6), ("2024-01-03", 42)]
    with pytest.raises(SqlError, match="columns"):
        lake.execute("INSERT INTO aws.daily SELECT 'x'")


def test_views_are_stored_and_expanded(lake: Engine) -> None:
    lake.execute(
        "CREATE VIEW aws.recent AS SELECT id, eventname FROM aws.events WHERE dt = '2024-01-02'"
    )
    df = lake.execute("SELECT count(*) FROM aws.recent").df
    assert df is not None and df.item() == 6
    lake.execute("CREATE OR REPLACE VIEW aws.recent AS SELECT id FROM aws.events WHERE id > 8")
    lake.execute("CREATE VIEW aws.recent2 AS SELECT id * 10 AS big FROM aws.recent")
    df = lake.execute("SELECT big FROM aws.recent2").df
    assert df is not None and df.to_series().to_list() == [90]
    lake.execute("DROP VIEW aws.recent2")
    with pytest.raises(SqlError):
        lake.execute("SELECT * FROM aws.recent2")


def test_unload_writes_partitioned_parquet(lake: Engine) -> None:
    target = lake.catalog.settings.url("exports", "ops")
    result = lake.execute(
        f"UNLOAD (SELECT id, eventname, dt FROM aws.events) TO '{target}' "
        "WITH (format = 'PARQUET', partitioned_by = ARRAY['dt'])"
    )
    assert result.df is not None and result.df["rows"].item() == 9
    fs = lake.catalog.settings.filesystem()
    files = [f for f in fs.find(lake.catalog.settings.fs_path(target)) if f.endswith(".parquet")]
    assert len(files) == 2
    total = sum(pl.read_parquet(fs.open(f, "rb")).height for f in files)
    assert total == 9
    with pytest.raises(SqlError, match="not empty"):
        lake.execute(f"UNLOAD (SELECT 1) TO '{target}'")


def test_history_records_every_statement(lake: Engine) -> None:
    ok = lake.execute("SELECT count(*) FROM aws.events")
    with pytest.raises(SqlError):
        lake.execute("SELECT nope FROM aws.events")
    records = read_history(lake.catalog.settings)
    by_id = {r["query_id"]: r for r in records}
    assert by_id[ok.query_id]["status"] == "SUCCEEDED"
    assert by_id[ok.query_id]["bytes_scanned"] == ok.stats.bytes_scanned
    failed = [r for r in records if r["status"] == "FAILED"]
    assert failed and "nope" in failed[-1]["query"] and failed[-1]["error"]


def test_external_parquet_table_with_partitions(local_settings) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(local_settings)
    fs = local_settings.filesystem()
    root = local_settings.url("raw", "flows")
    for day, rows in (("2024-01-01", [1, 2]), ("2024-01-02", [3])):
        folder = local_settings.fs_path(f"{root}/day={day}")
        fs.makedirs(folder, exist_ok=True)
        with fs.open(f"{folder}/part.parquet", "wb") as handle:
            pl.DataFrame({"bytes": rows, "action": ["ACCEPT"] * len(rows)}).write_parquet(handle)
    engine = Engine(catalog=catalog)
    engine.execute(
        "CREATE EXTERNAL TABLE flows (bytes bigint, action string) PARTITIONED BY (day string) "
        f"STORED AS PARQUET LOCATION '{root}'"
    )
    engine.execute("MSCK REPAIR TABLE flows")
    result = engine.execute(
        "SELECT day, sum(bytes) AS b FROM flows WHERE day >= '2024-01-02' GROUP BY day"
    )
    assert result.df is not None and result.df.rows() == [("2024-01-02", 3)]
    assert result.stats.files_scanned == 1
    full = engine.execute("SELECT count(*) FROM flows").df
    assert full is not None and full.item() == 3
    engine.execute("INSERT INTO flows SELECT 40, 'REJECT', '2024-01-03'")
    after = engine.execute(
        "SELECT day, sum(bytes), min(action) FROM flows GROUP BY day ORDER BY day"
    ).df
    assert after is not None
    assert after.rows() == [
        ("2024-01-01", 3, "ACCEPT"),
        ("2024-01-02", 3, "ACCEPT"),
        ("2024-01-03", 40, "REJECT"),
    ]


def test_projected_json_table_reads_only_the_admitted_folders(local_settings) -> None:  # type: ignore[no-untyped-def]
    from loglake.catalog import Column, TableDefinition

    catalog = Catalog(local_settings)
    base = local_settings.url("raw", "trail")
    fs = local_settings.filesystem()
    for region in ("us-east-1", "eu-west-1"):
        for day in ("2024/02/09", "2024/02/10"):
            folder = local_settings.fs_path(f"{base}/{region}/{day}")
            fs.makedirs(folder, exist_ok=True)
            rows = [{"eventname": f"{region}-{day}-{i}", "n": i} for i in range(3)]
            with fs.open(f"{folder}/events.json", "wb") as handle:
                pl.DataFrame(rows).write_ndjson(handle)
    catalog.create_table(
        TableDefinition(
            database="default",
            name="trail",
            columns=(Column("eventname", "string"), Column("n", "bigint")),
            partition_keys=(Column("region", "string"), Column("day", "string")),
            location=base,
            format="json",
            properties={
                "projection.enabled": "true",
                "projection.region.type": "enum",
                "projection.region.values": "us-east-1,eu-west-1",
                "projection.day.type": "date",
                "projection.day.format": "yyyy/MM/dd",
                "projection.day.range": "2024/02/01,2024/02/29",
                "storage.location.template": base + "/${region}/${day}",
            },
        )
    )
    engine = Engine(catalog=catalog)
    result = engine.execute(
        "SELECT eventname, n, region, day FROM trail "
        "WHERE region = 'eu-west-1' AND day = '2024/02/10' ORDER BY n"
    )
    assert result.df is not None
    assert result.df["eventname"].to_list() == [f"eu-west-1-2024/02/10-{i}" for i in range(3)]
    assert set(result.df["region"]) == {"eu-west-1"}
    assert result.stats.files_scanned == 1
    everything = engine.execute("SELECT region, count(*) FROM trail GROUP BY region ORDER BY 1").df
    assert everything is not None and everything.rows() == [("eu-west-1", 6), ("us-east-1", 6)]


def test_csv_external_table_skips_the_header(local_settings) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(local_settings)
    root = local_settings.url("raw", "csv")
    fs = local_settings.filesystem()
    fs.makedirs(local_settings.fs_path(root), exist_ok=True)
    with fs.open(local_settings.fs_path(f"{root}/a.csv"), "wb") as handle:
        handle.write(b"name,qty\nbolt,3\nnut,5\n")
    engine = Engine(catalog=catalog)
    engine.execute(
        "CREATE EXTERNAL TABLE parts (name string, qty int) ROW FORMAT DELIMITED "
        f"FIELDS TERMINATED BY ',' LOCATION '{root}' TBLPROPERTIES ('skip.header.line.count'='1')"
    )
    df = engine.execute("SELECT name, qty * 2 AS double_qty FROM parts ORDER BY name").df
    assert df is not None and df.rows() == [("bolt", 6), ("nut", 10)]
