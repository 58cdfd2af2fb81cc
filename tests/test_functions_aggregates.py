"""Aggregates beyond count/sum/avg/min/max, grouped and global, with empty and NULL inputs."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest
from test_functions_support import assert_matches_duckdb, assert_typed, run, scalar

# Over t: n = 3, -7, 0, NULL, 12 (mean 2, squared deviations 186); b = T, F, NULL, T, T.
GLOBAL_CASES: list[tuple[str, Any, str]] = [
    ("count_if(b)", 3, "bigint"),
    ("count_if(n > 100)", 0, "bigint"),
    ("min_by(s, n)", "héllo wörld", "varchar"),
    ("max_by(s, n)", "a,b,,c", "varchar"),
    ("min_by(id, x)", 2, "bigint"),
    ("arbitrary(s) FILTER (WHERE g = 'y')", "", "varchar"),
    ("any_value(g)", "x", "varchar"),
    ("array_agg(n ORDER BY id)", [3, -7, 0, None, 12], "array(bigint)"),
    ("array_agg(n ORDER BY n DESC NULLS LAST)", [12, 3, 0, -7, None], "array(bigint)"),
    ("array_agg(DISTINCT g ORDER BY g)", ["x", "y", None], "array(varchar)"),
    ("approx_distinct(g)", 2, "bigint"),
    ("approx_distinct(n)", 4, "bigint"),
    ("approx_percentile(n, 0)", -7, "bigint"),
    ("approx_percentile(n, 1)", 12, "bigint"),
    ("approx_percentile(n, ARRAY[0, 1])", [-7, 12], "array(bigint)"),
    ("variance(n)", 62.0, "double"),
    ("var_samp(n)", 62.0, "double"),
    ("var_pop(n)", 46.5, "double"),
    ("stddev(n)", math.sqrt(62.0), "double"),
    ("stddev_samp(n)", math.sqrt(62.0), "double"),
    ("stddev_pop(n)", math.sqrt(46.5), "double"),
    ("bool_and(b)", False, "boolean"),
    ("bool_or(b)", True, "boolean"),
    ("every(n IS NOT NULL OR s IS NULL)", True, "boolean"),
    ("histogram(g)", {"x": 2, "y": 2}, "map(varchar, bigint)"),
    ("map_agg(id, s) FILTER (WHERE id < 3)", {1: "abc", 2: "héllo wörld"}, "map(bigint, varchar)"),
    ("listagg(s, '|') WITHIN GROUP (ORDER BY id)", "abc|héllo wörld||a,b,,c", "varchar"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), GLOBAL_CASES)
def test_over_the_whole_table(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type, "FROM t")


EMPTY_CASES: list[tuple[str, Any, str]] = [
    ("count_if(b)", 0, "bigint"),
    ("array_agg(n)", None, "array(bigint)"),
    ("histogram(g)", None, "map(varchar, bigint)"),
    ("map_agg(id, s)", None, "map(bigint, varchar)"),
    ("bool_and(b)", None, "boolean"),
    ("bool_or(b)", None, "boolean"),
    ("stddev(n)", None, "double"),
    ("variance(n)", None, "double"),
    ("approx_distinct(n)", 0, "bigint"),
    ("min_by(s, n)", None, "varchar"),
    ("arbitrary(s)", None, "varchar"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), EMPTY_CASES)
def test_over_no_rows(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type, "FROM t WHERE id > 100")


def test_one_value_has_no_sample_deviation() -> None:
    assert run("SELECT stddev(n), stddev_pop(n), variance(n) FROM t WHERE id = 1").row(0) == (
        None,
        0.0,
        None,
    )


def test_grouped() -> None:
    frame = run(
        "SELECT g, count_if(b) AS c, array_agg(id ORDER BY id) AS ids, bool_and(b) AS all_b, "
        "max_by(s, n) AS top, histogram(b) AS h "
        "FROM t GROUP BY g ORDER BY g NULLS LAST"
    )
    assert frame.rows() == [
        ("x", 1, [1, 2], False, "abc", {True: 1, False: 1}),
        ("y", 1, [3, 4], True, "", {True: 1}),
        (None, 1, [5], True, "a,b,,c", {True: 1}),
    ]


def test_geometric_mean_and_correlation() -> None:
    tables = {"p": pl.DataFrame({"v": [1.0, 4.0, 16.0], "w": [2.0, 4.0, 6.0]})}
    assert scalar("SELECT geometric_mean(v) FROM p", tables) == pytest.approx(4.0)
    assert scalar("SELECT corr(w, w) FROM p", tables) == pytest.approx(1.0)
    assert scalar("SELECT covar_pop(w, w) FROM p", tables) == pytest.approx(8 / 3)


DUCKDB_CASES = [
    "SELECT g, stddev_samp(x), stddev_pop(x), var_samp(x), var_pop(x) FROM t GROUP BY g ORDER BY g",
    "SELECT g, bool_and(b), bool_or(b) FROM t GROUP BY g ORDER BY g",
    "SELECT g, count_if(b) FROM t GROUP BY g ORDER BY g",
    "SELECT g, min_by(id, x), max_by(id, x) FROM t GROUP BY g ORDER BY g",
    "SELECT g, approx_distinct(s) FROM t GROUP BY g ORDER BY g",
    "SELECT corr(n, x), covar_samp(n, x), covar_pop(n, x) FROM t",
    "SELECT g, array_agg(id ORDER BY id DESC) FROM t GROUP BY g ORDER BY g",
    "SELECT stddev(n) + variance(x) FROM t",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql)


#: (i INTEGER, r REAL) rows (1, 1.5) and (2, 2.5), in i's order; Trino sums integers as
#: bigint, keeps a real's SUM and AVG real, and averages integers as double
FRAMES = [
    "OVER (ORDER BY i)",
    "OVER (ORDER BY i ROWS 1 PRECEDING)",
    "OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND UNBOUNDED FOLLOWING)",
    "OVER (ORDER BY i RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
    "OVER ()",
]
WINDOW_TYPES = [
    ("sum(i)", pl.Int64, {0: [1, 3], 4: [3, 3]}),
    ("avg(i)", pl.Float64, {0: [1.0, 1.5], 4: [1.5, 1.5]}),
    ("sum(r)", pl.Float32, {0: [1.5, 4.0], 4: [4.0, 4.0]}),
    ("avg(r)", pl.Float32, {0: [1.5, 2.0], 4: [2.0, 2.0]}),
]


@pytest.mark.parametrize("frame", range(len(FRAMES)))
@pytest.mark.parametrize(("call", "dtype", "expected"), WINDOW_TYPES)
def test_window_aggregates_are_typed_as_trino_types_them(
    call: str, dtype: pl.DataType, expected: dict[int, list[Any]], frame: int
) -> None:
    sql = (
        f"SELECT {call} {FRAMES[frame]} AS v FROM (VALUES (1, REAL '1.5'), (2, REAL '2.5')) "
        "t(i, r) ORDER BY i"
    )
    result = run(sql)
    assert result.schema["v"] == dtype
    # frames 2 and 4 hold both rows for each row; the others only the first row for the first
    assert result["v"].to_list() == expected[4 if frame in (2, 4) else 0]


def test_average_of_reals_is_real() -> None:
    assert_typed("avg(r)", 1.75, "real", "FROM (VALUES REAL '1.5', REAL '2') t(r)")
    assert_typed("avg(i)", 1.5, "double", "FROM (VALUES 1, 2) t(i)")
