"""Differential testing: the same SQL on loglake and on DuckDB, compared result by result.

The query is written in Athena/Trino syntax; DuckDB runs sqlglot's transpilation of it over the
same Parquet files. A table given as a frame is split into several files first, as tables are in
a lake: Polars then processes them in parallel, which is where a translation that waits on
Polars from inside Polars would hang. Results compare in order when the query orders them and as
sorted multisets otherwise. Each column's kind of value must agree (integer, double, decimal,
date, timestamp, string, ...: see ``type_family``); numbers compare with a relative tolerance of
1e-9 (and, for loglake DECIMAL columns, to within half a unit of the column's scale); NULLs
compare equal to NULLs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlglot
from sqlglot import exp

from loglake.query.engine import Engine

REL_TOL = 1e-9


#: Files each table given as a frame is split into (fewer when it has fewer rows).
FILES_PER_TABLE = 8


class DiffTester:
    """Runs queries on loglake and DuckDB over the same tables and compares the answers."""

    def __init__(
        self, tables: Mapping[str, pl.DataFrame | str | Path], files: int = FILES_PER_TABLE
    ):
        self.duck = duckdb.connect()
        self._folder = tempfile.TemporaryDirectory(prefix="difftest-")
        frames: dict[str, pl.LazyFrame] = {}
        for name, source in tables.items():
            if isinstance(source, pl.DataFrame):
                paths = split_into_files(source, Path(self._folder.name) / name, files)
            else:
                paths = [str(source)]
            frames[name] = pl.scan_parquet(paths)
            listed = ", ".join(f"'{p}'" for p in paths)
            self.duck.execute(f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listed}])')
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


def split_into_files(frame: pl.DataFrame, folder: Path, files: int) -> list[str]:
    """Write ``frame`` as up to ``files`` Parquet files of consecutive rows (at least one)."""
    folder.mkdir(parents=True)
    size = max(1, -(-frame.height // files))
    parts = [frame.slice(start, size) for start in range(0, frame.height, size)] or [frame]
    paths = []
    for i, part in enumerate(parts):
        path = folder / f"part-{i:03d}.parquet"
        part.write_parquet(path)
        paths.append(str(path))
    return paths


def is_ordered(sql: str) -> bool:
    """Whether the outermost query has an ORDER BY (so row order is part of the answer)."""
    tree = sqlglot.parse_one(sql, read="athena")
    return tree.args.get("order") is not None and not isinstance(tree, exp.Subquery)


def type_family(dtype: pl.DataType) -> str:
    """The kind of a column's values, which both engines must agree on: an integer that turned
    into a double, or a date that turned into a timestamp, is a different answer.

    Widths differ between engines (DuckDB sums integers as HUGEINT, Trino as BIGINT) and so
    are not compared; a NULL-only column fits any kind.
    """
    if dtype == pl.Null:
        return "any"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if isinstance(dtype, pl.Datetime):
        return "timestamp with time zone" if dtype.time_zone else "timestamp"
    if isinstance(dtype, pl.List | pl.Array):
        inner = type_family(dtype.inner)  # type: ignore[arg-type]
        return f"array({inner})"
    if isinstance(dtype, pl.Struct):
        return "row(" + ", ".join(type_family(f.dtype) for f in dtype.fields) + ")"
    if dtype in (pl.String, pl.Categorical):
        return "string"
    return str(dtype.base_type())


def kinds_agree(mine: pl.DataType, peer: pl.DataType) -> bool:
    """Whether loglake's column type and DuckDB's hold the same kind of value.

    Two DuckDB habits are allowed for: integer sums arrive as DECIMAL(38,0) (HUGEINT), and
    averages and quotients of decimals are doubles where Trino keeps a decimal.
    """
    a, b = type_family(mine), type_family(peer)
    if a == b or "any" in (a, b):
        return True
    if isinstance(mine, pl.List | pl.Array) and isinstance(peer, pl.List | pl.Array):
        return kinds_agree(mine.inner, peer.inner)  # type: ignore[arg-type]
    if a == "integer" and isinstance(peer, pl.Decimal) and peer.scale == 0:
        return True
    return a == "decimal" and b == "float"


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
        # a DATE is not a TIMESTAMP at midnight: the types must agree too
        return isinstance(a, dt.datetime) == isinstance(b, dt.datetime) and a == b
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
    for name, mine, peer in zip(ours.columns, ours.dtypes, theirs.dtypes, strict=True):
        assert kinds_agree(mine, peer), f"column {name!r}: type {mine} is not like {peer}{context}"
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
