"""COUNT(column) and AVG's count over columns whose files say they hold no NULL: the plan counts
rows instead of values, and every answer stays the one Trino gives, NULLs or not.

The files' statistics (Parquet footers, Delta's add actions) only prove a column NULL-free as the
scan reads it; a file without the column, an outer join or a FILTER clause adds NULLs, and each
must keep counting values. Every expected value is worked out from the rows written here.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loglake.catalog import Catalog
from loglake.query.engine import Engine

D = Decimal

# two files: `price` has a value in every row of both; `qty` has a NULL in the second;
# `note` is absent from the second file, which the scan reads as NULLs
_FIRST = pa.table(
    {
        "flag": ["A", "A", "B"],
        "price": pa.array([D("10.00"), D("20.00"), D("7.50")], pa.decimal128(15, 2)),
        "qty": pa.array([1, 2, 3], pa.int64()),
        "note": ["x", "y", "z"],
    }
)
_SECOND = pa.table(
    {
        "flag": ["A", "B"],
        "price": pa.array([D("30.00"), D("2.50")], pa.decimal128(15, 2)),
        "qty": pa.array([None, 5], pa.int64()),
    }
)
_COUNTS = (
    "SELECT flag, count(price) AS n_price, count(qty) AS n_qty, count(note) AS n_note, "
    "count(*) AS n, avg(price) AS avg_price, avg(qty) AS avg_qty FROM {table} "
    "GROUP BY flag ORDER BY flag"
)
# A: prices 10, 20, 30 (avg 20.00); qty 1, 2, NULL (avg 1.5); notes x, y, NULL
# B: prices 7.50, 2.50 (avg 5.00); qty 3, 5 (avg 4.0); notes z, NULL
_EXPECTED = [
    ("A", 3, 2, 2, 3, D("20.00"), 1.5),
    ("B", 2, 2, 1, 2, D("5.00"), 4.0),
]


def _engine(settings, folder: Path, statistics: bool = True) -> Engine:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    pq.write_table(_FIRST, folder / "part-0.parquet", write_statistics=statistics)
    pq.write_table(_SECOND, folder / "part-1.parquet", write_statistics=statistics)
    engine = Engine(catalog=Catalog(settings))
    engine.execute(
        "CREATE EXTERNAL TABLE lines (flag string, price decimal(15,2), qty bigint, note string) "
        f"STORED AS PARQUET LOCATION '{folder}'"
    )
    return engine


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    df = engine.execute(sql).df
    assert df is not None
    return df.rows()


def _value_counts(engine: Engine, sql: str) -> int:
    """How many per-value counts (``count()`` of a column) the plan computes."""
    return engine.explain(sql).count(".count()")


def test_counts_of_null_free_columns_count_rows(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "lines")
    sql = _COUNTS.format(table="lines")
    assert _rows(engine, sql) == _EXPECTED
    # count(price) and avg(price)'s count are the row count; qty and note keep theirs
    assert _value_counts(engine, sql) == 2


def test_delta_add_actions_prove_columns_null_free(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "lines")
    engine.execute("CREATE TABLE managed_lines AS SELECT * FROM lines")
    sql = _COUNTS.format(table="managed_lines")
    assert _rows(engine, sql) == _EXPECTED
    assert _value_counts(engine, sql) == 2


def test_files_without_statistics_count_values(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "lines", statistics=False)
    sql = _COUNTS.format(table="lines")
    assert _rows(engine, sql) == _EXPECTED
    # price, qty and note each counted once (count(price) and avg(price) share theirs)
    assert _value_counts(engine, sql) == 3


def test_outer_joins_and_filters_count_values(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "lines")
    # flag C matches no line: the LEFT JOIN gives it a row whose price is NULL
    engine.execute("CREATE TABLE flags AS SELECT * FROM (VALUES 'A', 'C') AS t (f)")
    sql = (
        "SELECT f, count(price) AS n, avg(price) AS a, count(*) AS r FROM flags "
        "LEFT JOIN lines ON flag = f GROUP BY f ORDER BY f"
    )
    assert _rows(engine, sql) == [("A", 3, D("20.00"), 3), ("C", 0, None, 1)]
    assert _value_counts(engine, sql) == 1
    sql = (
        "SELECT f, count(price) AS n FROM lines RIGHT JOIN flags ON flag = f GROUP BY f ORDER BY f"
    )
    assert _rows(engine, sql) == [("A", 3), ("C", 0)]
    # a FILTER clause makes the rows it leaves out NULL
    sql = (
        "SELECT count(price) FILTER (WHERE qty > 1) AS n, "
        "avg(price) FILTER (WHERE qty > 1) AS a FROM lines"
    )
    assert _rows(engine, sql) == [(3, D("10.00"))]  # (20.00 + 7.50 + 2.50) / 3
    # one count of the filtered values serves both
    assert _value_counts(engine, sql) == 1


def test_inner_joins_and_empty_inputs_count_rows(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "lines")
    engine.execute("CREATE TABLE flags AS SELECT * FROM (VALUES 'A', 'C') AS t (f)")
    sql = "SELECT count(price) AS n, avg(price) AS a FROM lines JOIN flags ON flag = f"
    assert _rows(engine, sql) == [(3, D("20.00"))]
    assert _value_counts(engine, sql) == 0
    # no row passes: the count is 0 and the average NULL, grouped or not
    sql = "SELECT count(price) AS n, avg(price) AS a FROM lines WHERE qty > 100"
    assert _rows(engine, sql) == [(0, None)]
    assert _value_counts(engine, sql) == 0
    sql = "SELECT flag, count(price) FROM lines WHERE qty > 100 GROUP BY flag"
    assert _rows(engine, sql) == []
    # DISTINCT counts distinct values still
    sql = "SELECT count(DISTINCT price) AS n, count(DISTINCT flag) AS f FROM lines"
    assert _rows(engine, sql) == [(5, 2)]
