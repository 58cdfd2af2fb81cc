"""The public face: connect(), Lake.sql for catalog statements and queries, on local and S3 lakes."""

from __future__ import annotations

import polars as pl

import loglake


def write_projected_days(lake: loglake.Lake, folder: str) -> str:
    fs = lake.settings.filesystem()
    base = lake.settings.url(folder)
    for region in ("us-east-1", "eu-west-1"):
        for day in ("2024/03/01", "2024/03/02", "2024/03/03"):
            frame = pl.DataFrame({"eventname": ["ConsoleLogin", "GetObject"], "bytes": [10, 20]})
            with fs.open(
                lake.settings.fs_path(f"{base}/{region}/{day}/part.parquet"), "wb"
            ) as handle:
                frame.write_parquet(handle)
    return base


def test_connect_and_catalog_statements_through_sql(lake_settings) -> None:
    lake = loglake.Lake(lake_settings, create=True)
    assert lake.sql("CREATE DATABASE trail").item(0, 0) == "database trail created"
    base = write_projected_days(lake, "raw/trail")
    lake.sql(
        f"""CREATE EXTERNAL TABLE trail.events (eventname string, bytes bigint)
        PARTITIONED BY (region string, day string)
        STORED AS PARQUET LOCATION '{base}'
        TBLPROPERTIES ('projection.enabled'='true',
          'projection.region.type'='enum', 'projection.region.values'='us-east-1,eu-west-1',
          'projection.day.type'='date', 'projection.day.format'='yyyy/MM/dd',
          'projection.day.range'='2024/03/01,2024/03/03',
          'storage.location.template'='{base}/${{region}}/${{day}}')"""
    )
    assert lake.sql("SHOW TABLES IN trail")["tab_name"].to_list() == ["events"]
    assert lake.sql("DESCRIBE trail.events")["col_name"].to_list()[:4] == [
        "eventname",
        "bytes",
        "region",
        "day",
    ]

    result = lake.sql(
        "SELECT region, day, sum(bytes) AS total FROM events "
        "WHERE region = 'eu-west-1' AND day = '2024/03/02' GROUP BY region, day"
    )
    assert result.rows() == [("eu-west-1", "2024/03/02", 30)]
    stats = lake.last_query
    assert stats.files_scanned == 1 and stats.rows == 1

    total = lake.sql(
        "SELECT count(*) AS n FROM trail.events WHERE day BETWEEN '2024/03/02' AND '2024/03/03'"
    )
    assert total.item() == 8
    assert lake.last_query.files_scanned == 4

    lake.sql("DROP TABLE trail.events")
    assert lake.sql("SHOW TABLES IN trail").height == 0
    # the data of an external table stays where it was
    assert lake.settings.filesystem().exists(
        lake.settings.fs_path(f"{base}/us-east-1/2024/03/01/part.parquet")
    )


def test_connect_reads_settings_from_arguments(tmp_path) -> None:
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    assert lake.settings.root == str(tmp_path / "lake")
    lake.sql("CREATE TABLE t AS SELECT 1 AS a")
    assert lake.sql("SELECT a FROM t").item() == 1
    assert lake.tables() == ["t"]
    lazy = lake.sql("SELECT a + 1 AS b FROM t", lazy=True)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().item() == 2
