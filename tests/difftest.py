"""Differential testing: the same SQL on loglake and on DuckDB, compared result by result.

The query is written in Athena/Trino syntax; DuckDB runs sqlglot's transpilation of it over the
same data (Parquet files or registered frames). Results compare in order when the query orders
them and as sorted multisets otherwise; numbers compare with a relative tolerance of 1e-9 (and,
for loglake DECIMAL columns, to within half a unit of the column's scale, since Trino rounds
decimal results where DuckDB may return doubles); NULLs compare equal to NULLs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp

from loglake.query.engine import Engine

REL_TOL = 1e-9


class DiffTester:
    """Runs queries on loglake and DuckDB over the same tables and compares the answers."""

    def __init__(self, tables: Mapping[str, pl.DataFrame | str | Path]):
        self.duck = duckdb.connect()
        frames: dict[str, pl.LazyFrame] = {}
        for name, source in tables.items():
            if isinstance(source, pl.DataFrame):
                frames[name] = source.lazy()
                self.duck.register(f"__{name}", source.to_arrow())
                self.duck.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "__{name}"')
            else:
                path = str(source)
                frames[name] = pl.scan_parquet(path)
                self.duck.execute(f"CREATE VIEW \"{name}\" AS SELECT * FROM read_parquet('{path}')")
        self.engine = Engine(tables=frames)

    def loglake(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        df = self.engine.execute(sql, params=params).df
        assert df is not None
        return df

    def duckdb(self, sql: str) -> pl.DataFrame:
        translated = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        return self.duck.sql(translated).pl()

    def check(
        self, sql: str, ordered: bool | None = None, duckdb_sql: str | None = None
    ) -> pl.DataFrame:
        """Assert loglake and DuckDB agree; return loglake's result."""
        ours = self.loglake(sql)
        theirs = self.duck.sql(duckdb_sql).pl() if duckdb_sql else self.duckdb(sql)
        if ordered is None:
            ordered = is_ordered(sql)
        assert_same(ours, theirs, ordered=ordered, sql=sql)
        return ours


def is_ordered(sql: str) -> bool:
    """Whether the outermost query has an ORDER BY (so row order is part of the answer)."""
    tree = sqlglot.parse_one(sql, read="athena")
    return tree.args.get("order") is not None and not isinstance(tree, exp.Subquery)


def _scale(dtype: pl.DataType) -> int | None:
    return dtype.scale if isinstance(dtype, pl.Decimal) else None


def _norm(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def values_equal(a: Any, b: Any, scale: int | None = None) -> bool:
    a, b = _norm(a), _norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        tol = REL_TOL * max(abs(a), abs(b))
        if scale is not None:
            tol = max(tol, 0.5 * 10 ** (-scale) + 1e-12)
        return abs(a - b) <= max(tol, 1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        # Trino's date + interval stays a date where DuckDB answers a timestamp at midnight
        if isinstance(a, dt.datetime) != isinstance(b, dt.datetime):
            a, b = (
                x if isinstance(x, dt.datetime) else dt.datetime(x.year, x.month, x.day)
                for x in (a, b)
            )
        return a == b
    return a == b


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    key = []
    for v in row:
        v = _norm(v)
        if v is None:
            key.append((0, ""))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            key.append((1, float(f"{float(v):.6g}") if not math.isnan(float(v)) else 0.0))
        else:
            key.append((2, repr(v)))
    return tuple(key)


def assert_same(ours: pl.DataFrame, theirs: pl.DataFrame, ordered: bool, sql: str = "") -> None:
    """Assert two results hold the same rows (in order when ``ordered``)."""
    context = f"\nSQL: {sql}\nloglake:\n{ours}\nduckdb:\n{theirs}"
    assert ours.width == theirs.width, (
        f"column count differs: {ours.width} vs {theirs.width}{context}"
    )
    assert ours.height == theirs.height, (
        f"row count differs: {ours.height} vs {theirs.height}{context}"
    )
    scales = [_scale(t) for t in ours.dtypes]
    rows_a = ours.rows()
    rows_b = theirs.rows()
    if not ordered:
        rows_a = sorted(rows_a, key=_sort_key)
        rows_b = sorted(rows_b, key=_sort_key)
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=True)):
        for j, (a, b) in enumerate(zip(ra, rb, strict=True)):
            assert values_equal(a, b, scales[j]), (
                f"row {i} column {ours.columns[j]!r}: {a!r} != {b!r}{context}"
            )
