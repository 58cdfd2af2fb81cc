"""Shared tables and runners for the function-library tests, and the library-wide checks.

Each ``test_functions_*`` file states queries side by side with Trino's documented answer, or
runs them on DuckDB too through ``tests/difftest.py`` (where DuckDB's semantics agree with
Trino's) and compares.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from difftest import DiffTester

from loglake.errors import SqlError
from loglake.query.engine import Engine
from loglake.query.registry import AGGREGATE_CLASSES, AGGREGATE_NAMES, EXPRESSIONS, NAMED_FUNCTIONS

#: One small table with the awkward cases: NULLs, empty strings, non-ASCII text, empty arrays.
T = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "s": ["abc", "héllo wörld", "", None, "a,b,,c"],
        "n": [3, -7, 0, None, 12],
        "x": [1.5, -2.25, 0.0, None, 10.0],
        "a": [[3, 1, None, 2], [], None, [5, 5], [7]],
        "g": ["x", "x", "y", "y", None],
        "b": [True, False, None, True, True],
    },
    schema_overrides={"a": pl.List(pl.Int64)},
)


def engine(tables: dict[str, pl.DataFrame] | None = None) -> Engine:
    return Engine(tables=tables if tables is not None else {"t": T})


def run(sql: str, tables: dict[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    result = engine(tables).execute(sql).df
    assert result is not None
    return result


def column(sql: str, tables: dict[str, pl.DataFrame] | None = None) -> list[Any]:
    """Values of the first output column."""
    return run(sql, tables).to_series(0).to_list()


def scalar(sql: str, tables: dict[str, pl.DataFrame] | None = None) -> Any:
    """The single value a one-row, one-column query returns."""
    frame = run(sql, tables)
    assert frame.shape == (1, 1), frame
    return frame.to_series(0).to_list()[0]


_TESTERS: dict[tuple[tuple[str, int], ...], DiffTester] = {}


def assert_matches_duckdb(sql: str, tables: dict[str, pl.DataFrame] | None = None) -> None:
    """Run ``sql`` on loglake and on DuckDB (through the differential harness) and compare."""
    tables = tables if tables is not None else {"t": T}
    key = tuple(sorted((name, id(frame)) for name, frame in tables.items()))
    tester = _TESTERS.get(key)
    if tester is None:
        tester = _TESTERS[key] = DiffTester(tables)
        tester.duck.execute("SET TimeZone = 'UTC'")
    tester.check(sql)


# --- library-wide checks -------------------------------------------------------------------------


def test_unknown_function_names_itself_and_its_position() -> None:
    sql = "SELECT s,\n  no_such_function(s, 1) FROM t"
    with pytest.raises(SqlError) as info:
        run(sql)
    error = info.value
    assert "no_such_function" in str(error)
    assert (error.line, error.column) == (2, 3)


def test_errors_from_translators_point_at_the_argument() -> None:
    sql = "SELECT split_part(s, ',', 0) FROM t"
    with pytest.raises(SqlError) as info:
        run(sql)
    assert "index must be greater than zero" in str(info.value)
    assert info.value.start is not None


def test_every_library_aggregate_is_registered_as_one() -> None:
    for name in ("map_agg", "histogram", "every", "geometric_mean"):
        assert name in AGGREGATE_NAMES and name in NAMED_FUNCTIONS
    assert all(cls in EXPRESSIONS for cls in AGGREGATE_CLASSES)
