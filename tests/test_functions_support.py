"""Shared tables and runners for the function-library tests, and the library-wide checks.

Each ``test_functions_*`` file states queries side by side with Trino's documented answer, or
runs them on DuckDB too through ``tests/difftest.py`` (where DuckDB's semantics agree with
Trino's) and compares.
"""

from __future__ import annotations

import decimal
import math
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


def same_value(actual: Any, expected: Any) -> bool:
    """Equal values of the same Python type: 5, 5.0 and Decimal(5) are three different answers.

    Floats compare to 1e-12 relative (NaN equals NaN); lists, maps and rows element by element.
    """
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float):
        if math.isnan(expected):
            return math.isnan(actual)
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-300)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(
            same_value(a, e) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            same_value(actual[k], expected[k]) for k in expected
        )
    if isinstance(expected, decimal.Decimal):
        return actual == expected and actual.as_tuple().exponent == expected.as_tuple().exponent
    return bool(actual == expected)


def typed_scalar(
    expression: str, source: str = "", tables: dict[str, pl.DataFrame] | None = None
) -> tuple[Any, str]:
    """(value, Trino type name) of a one-row query ``SELECT expression [source]``."""
    frame = run(f"SELECT {expression}, typeof({expression}) {source}", tables)
    assert frame.height == 1, frame
    value, sql_type = frame.row(0)
    return value, sql_type


def assert_typed(
    expression: str,
    expected: Any,
    sql_type: str,
    source: str = "",
    tables: dict[str, pl.DataFrame] | None = None,
) -> None:
    """The expression gives ``expected`` (same value and Python type) of SQL type ``sql_type``."""
    value, actual_type = typed_scalar(expression, source, tables)
    assert actual_type == sql_type, f"{expression}: type {actual_type}, expected {sql_type}"
    assert same_value(value, expected), f"{expression}: {value!r}, expected {expected!r}"


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


def test_registering_a_translator_twice_is_an_error() -> None:
    from sqlglot import exp

    from loglake.query.registry import DuplicateTranslator, function, translates

    with pytest.raises(DuplicateTranslator, match="Lower"):
        translates(exp.Lower)(lambda compiler, node: pl.lit(None))
    with pytest.raises(DuplicateTranslator, match="map_agg"):
        function("map_agg")(lambda compiler, node: pl.lit(None))
    assert EXPRESSIONS[exp.Lower].__module__ == "loglake.query.functions.strings"


@pytest.mark.parametrize(
    ("sql", "message", "underlined"),
    [
        (
            "SELECT year(1)",
            "Unexpected parameters (integer) for function year. Expected: year(date), "
            "year(timestamp), year(timestamp with time zone)",
            "year",
        ),
        (
            "SELECT split_part(1)",
            "Unexpected parameters (integer) for function split_part. "
            "Expected: split_part(varchar, varchar, bigint)",
            "split_part",
        ),
        (
            "SELECT s,\n  dow(s) FROM t",
            "Unexpected parameters (varchar) for function dow. Expected: dow(date), ",
            "dow",
        ),
        (
            "SELECT position(1 IN 'abc')",
            "Unexpected parameters (integer, varchar) for function position",
            "1 IN 'abc'",
        ),
    ],
)
def test_wrong_argument_types_are_refused_with_the_signatures(
    sql: str, message: str, underlined: str
) -> None:
    with pytest.raises(SqlError) as info:
        run(sql)
    error = info.value
    assert error.bare_message.startswith(message)
    assert error.line is not None and error.column is not None
    assert error.sql is not None and error.start is not None
    assert error.sql[error.start : error.end] == underlined


def test_implicit_coercions_are_accepted() -> None:
    # tinyint/integer to bigint, date to timestamp, NULL to anything
    assert run("SELECT split_part('a,b', ',', CAST(2 AS TINYINT)), year(DATE '2024-01-01')").row(
        0
    ) == ("b", 2024)
    assert run("SELECT split_part(NULL, ',', 1), hour(NULL)").row(0) == (None, None)


def test_typed_comparison_tells_numbers_dates_and_decimals_apart() -> None:
    import datetime as dt

    from difftest import values_equal

    assert same_value(5, 5) and not same_value(5.0, 5) and not same_value(decimal.Decimal(5), 5)
    assert not same_value(decimal.Decimal("5.0"), decimal.Decimal("5.00"))
    assert same_value([1, None], [1, None]) and not same_value([1.0], [1])
    assert not values_equal(dt.date(2024, 1, 1), dt.datetime(2024, 1, 1))
    with pytest.raises(AssertionError, match="type double, expected bigint"):
        assert_typed("CAST(5 AS DOUBLE)", 5.0, "bigint")
    with pytest.raises(AssertionError, match="expected 5"):
        assert_typed("CAST(5 AS DOUBLE)", 5, "double")
