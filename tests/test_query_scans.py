"""How catalog tables become scans: file types that drift from the catalog's, missing and extra
columns, partition values from folders or from the catalog, shared scans within a statement, and
statistics that reach Polars' planner."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa

from loglake.catalog import Catalog
from loglake.query.engine import Engine


def _write(folder: Path, name: str, frame: pl.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / name)


def _external(local_settings, ddl: str) -> Engine:  # type: ignore[no-untyped-def]
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(ddl)
    return engine


def _rows(engine: Engine, sql: str) -> list[tuple]:
    df = engine.execute(sql).df
    assert df is not None
    return df.rows()


def test_files_with_drifted_types_read_as_the_catalog_types(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "drift"
    # the first file is narrower than the table everywhere, the second matches it
    _write(
        folder,
        "a.parquet",
        pl.DataFrame(
            {
                "id": pl.Series([1, 2], dtype=pl.Int32),
                "amount": pl.Series([1.5, 2.5], dtype=pl.Float32),
                "seen": pl.Series(
                    [dt.datetime(2024, 1, 1, 0, 0, 0, 1000), None], dtype=pl.Datetime("ns")
                ),
                "info": [{"b": 1, "a": "x", "extra": 9}, None],
                "price": pl.Series(["1.10", "2.20"]).cast(pl.Decimal(5, 2)),
                "junk": ["ignored", "ignored"],
            },
            schema_overrides={"info": pl.Struct({"b": pl.Int16, "a": pl.String, "extra": pl.Int8})},
        ),
    )
    _write(
        folder,
        "b.parquet",
        pl.DataFrame(
            {
                "id": pl.Series([3], dtype=pl.Int64),
                "amount": [3.25],
                "seen": [dt.datetime(2024, 1, 3)],
                "info": [{"a": "z", "b": 5_000_000_000}],
                "price": pl.Series(["3.30"]).cast(pl.Decimal(15, 2)),
            }
        ),
    )
    engine = _external(
        local_settings,
        "CREATE EXTERNAL TABLE drift (id bigint, amount double, seen timestamp, "
        "info struct<a:string,b:bigint>, price decimal(15,2)) "
        f"STORED AS PARQUET LOCATION '{folder}'",
    )
    df = engine.execute("SELECT * FROM drift ORDER BY id").df
    assert df is not None
    assert df.schema == pl.Schema(
        {
            "id": pl.Int64,
            "amount": pl.Float64,
            "seen": pl.Datetime("us"),
            "info": pl.Struct({"a": pl.String, "b": pl.Int64}),
            "price": pl.Decimal(15, 2),
        }
    )
    assert df.rows() == [
        (1, 1.5, dt.datetime(2024, 1, 1, 0, 0, 0, 1000), {"a": "x", "b": 1}, Decimal("1.10")),
        (2, 2.5, None, None, Decimal("2.20")),
        (3, 3.25, dt.datetime(2024, 1, 3), {"a": "z", "b": 5_000_000_000}, Decimal("3.30")),
    ]
    assert _rows(engine, "SELECT sum(id), max(info.b) FROM drift WHERE amount > 2") == [
        (5, 5_000_000_000)
    ]


def test_a_file_type_the_scan_cannot_widen_is_cast_afterwards(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "texts"
    _write(folder, "a.parquet", pl.DataFrame({"port": ["443", "80"], "Host": ["a", "b"]}))
    _write(folder, "b.parquet", pl.DataFrame({"port": ["22"], "Host": ["c"]}))
    engine = _external(
        local_settings,
        f"CREATE EXTERNAL TABLE texts (port int, host string) STORED AS PARQUET LOCATION '{folder}'",
    )
    # numbers written as text are read as the declared int; a column name is matched
    # case-insensitively, as Hive does
    assert _rows(engine, "SELECT port + 1, host FROM texts ORDER BY port") == [
        (23, "c"),
        (81, "b"),
        (444, "a"),
    ]


def test_columns_missing_from_the_first_file_keep_later_values(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "evolved"
    _write(folder, "a.parquet", pl.DataFrame({"id": [1, 2]}))
    _write(folder, "b.parquet", pl.DataFrame({"id": [3], "region": ["eu-west-1"], "more": [1]}))
    _write(folder, "c.parquet", pl.DataFrame({"region": ["us-east-1"], "id": [4]}))
    engine = _external(
        local_settings,
        "CREATE EXTERNAL TABLE evolved (id bigint, region string) "
        f"STORED AS PARQUET LOCATION '{folder}'",
    )
    assert _rows(engine, "SELECT id, region FROM evolved ORDER BY id") == [
        (1, None),
        (2, None),
        (3, "eu-west-1"),
        (4, "us-east-1"),
    ]
    assert _rows(engine, "SELECT count(*) FROM evolved WHERE region IS NULL") == [(2,)]


def test_managed_table_after_schema_evolution(local_settings) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(local_settings)
    first = pa.table({"id": [1, 2], "day": ["2024-01-01"] * 2})
    catalog.create_managed_table("default", "grown", first.schema, partition_by=["day"])
    managed = catalog.managed("default", "grown")
    managed.append(first)
    later = pa.table({"id": [3], "day": ["2024-01-01"], "note": ["new"]})
    managed.append(later, schema_mode="merge")
    table = catalog.get_table("default", "grown")
    catalog.update_table(table.replace(columns=(*table.columns, *_columns(later, "note"))))
    engine = Engine(catalog=catalog)
    assert _rows(engine, "SELECT id, note, day FROM grown ORDER BY id") == [
        (1, None, "2024-01-01"),
        (2, None, "2024-01-01"),
        (3, "new", "2024-01-01"),
    ]


def _columns(table: pa.Table, *names: str) -> tuple:
    from loglake.catalog.model import columns_from_arrow

    return tuple(c for c in columns_from_arrow(table.schema) if c.name in names)


def test_partition_values_from_folders_and_from_registered_locations(
    local_settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "flows"
    _write(root / "day=2024-01-01" / "hour=7", "a.parquet", pl.DataFrame({"bytes": [1, 2]}))
    _write(root / "day=2024-01-01" / "hour=7", "b.parquet", pl.DataFrame({"bytes": [30]}))
    _write(root / "day=2024-01-02" / "hour=8", "a.parquet", pl.DataFrame({"bytes": [400]}))
    elsewhere = tmp_path / "archive" / "2023" / "12"
    _write(elsewhere, "x.parquet", pl.DataFrame({"bytes": [5000], "day": ["in-file"]}))
    engine = _external(
        local_settings,
        "CREATE EXTERNAL TABLE flows (bytes bigint) PARTITIONED BY (day string, hour int) "
        f"STORED AS PARQUET LOCATION '{root}'",
    )
    engine.execute("MSCK REPAIR TABLE flows")
    query = (
        'SELECT day, hour, sum(bytes), count(DISTINCT "$path"), max("$file_size") > 0 '
        "FROM flows GROUP BY day, hour ORDER BY day"
    )
    assert _rows(engine, query) == [
        ("2024-01-01", 7, 33, 2, True),
        ("2024-01-02", 8, 400, 1, True),
    ]
    # a partition whose folder does not name its values takes them from the catalog
    engine.execute(
        f"ALTER TABLE flows ADD PARTITION (day = '2023-12-31', hour = 23) LOCATION '{elsewhere}'"
    )
    assert _rows(engine, query)[0] == ("2023-12-31", 23, 5000, 1, True)
    sizes = _rows(engine, "SELECT DISTINCT \"$file_size\" FROM flows WHERE day = '2024-01-01'")
    assert sorted(s for (s,) in sizes) == sorted(
        (root / "day=2024-01-01" / "hour=7" / n).stat().st_size for n in ("a.parquet", "b.parquet")
    )


def test_repeated_table_references_share_one_scan(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "items"
    _write(
        folder,
        "a.parquet",
        pl.DataFrame({"id": list(range(100)), "grp": [i % 7 for i in range(100)]}),
    )
    engine = _external(
        local_settings,
        f"CREATE EXTERNAL TABLE items (id bigint, grp bigint) STORED AS PARQUET LOCATION '{folder}'",
    )
    # the subquery reads the same columns and rows as the outer query: one scan serves both
    sql = (
        "SELECT grp, sum(id) FROM items WHERE grp > 1 GROUP BY grp "
        "HAVING sum(id) > (SELECT sum(id) / 5 FROM items WHERE grp > 1) ORDER BY grp"
    )
    lf, _ = engine.compile(sql)
    plan = lf.explain()
    assert plan.count("Parquet SCAN") == 1, plan
    assert _rows(engine, sql) == [(5, 707), (6, 721)]


def test_planner_knows_row_counts_of_catalog_tables(lake_settings) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(lake_settings)
    data = pa.table({"id": list(range(50)), "day": ["2024-01-01"] * 25 + ["2024-01-02"] * 25})
    catalog.create_managed_table("default", "counted", data.schema, partition_by=["day"])
    catalog.managed("default", "counted").append(data)
    engine = Engine(catalog=catalog)
    plan = engine.explain("SELECT id, day FROM counted")
    assert "ESTIMATED ROWS" in plan, plan
    assert _rows(engine, "SELECT day, count(*) FROM counted GROUP BY day ORDER BY day") == [
        ("2024-01-01", 25),
        ("2024-01-02", 25),
    ]


def test_filters_on_a_views_plain_columns_skip_the_tables_files(lake_settings) -> None:  # type: ignore[no-untyped-def]
    """A guide view (``SELECT *, CAST(day AS DATE) AS "date" FROM t``) or a derived table
    passes the outer filters on columns it does not change to its table's pruning; a SELECT
    that does not keep rows one for one (LIMIT, grouping) or a computed column prunes nothing.
    Every answer is the one the table gives directly."""
    catalog = Catalog(lake_settings)
    days = ["2024-05-06", "2024-05-07", "2024-05-08"]
    data = pa.table({"id": list(range(30)), "day": [d for d in days for _ in range(10)]})
    catalog.create_managed_table("default", "events", data.schema, partition_by=["day"])
    catalog.managed("default", "events").append(data)
    engine = Engine(catalog=catalog)
    engine.execute('CREATE VIEW guide AS SELECT *, CAST(day AS DATE) AS "date" FROM events')
    engine.execute("CREATE VIEW renamed AS SELECT id, day AS d FROM events")

    def scanned(sql: str) -> tuple[list[tuple], int, int]:
        rows = _rows(engine, sql)
        stats = engine.last_query
        assert stats is not None
        return rows, stats.files_scanned, stats.files_skipped

    direct = _rows(engine, "SELECT count(*), sum(id) FROM events WHERE day = '2024-05-07'")
    for sql in (
        "SELECT count(*), sum(id) FROM guide WHERE day = '2024-05-07'",
        "SELECT count(*), sum(id) FROM renamed WHERE d = '2024-05-07' AND id >= 0",
        "SELECT count(*), sum(id) FROM (SELECT * FROM events) AS t WHERE t.day = '2024-05-07'",
    ):
        assert scanned(sql) == (direct, 1, 2), sql
    two = scanned("SELECT count(*) FROM guide WHERE day IN ('2024-05-06', '2024-05-08')")
    assert two == ([(20,)], 2, 1)
    # no pruning where a file skipped could change the answer, or the column is computed
    for sql, answer in (
        ("SELECT count(*) FROM (SELECT day FROM events LIMIT 15) WHERE day = '2024-05-07'", None),
        (
            "SELECT count(*) FROM (SELECT day, count(*) AS n FROM events GROUP BY day) "
            "WHERE day = '2024-05-07'",
            [(1,)],
        ),
        ("SELECT count(*) FROM guide WHERE \"date\" = DATE '2024-05-07'", [(10,)]),
    ):
        rows, files, skipped = scanned(sql)
        assert (files, skipped) == (3, 0), sql
        if answer is not None:
            assert rows == answer, sql
