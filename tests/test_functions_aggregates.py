"""Aggregates beyond count/sum/avg/min/max, grouped and global, with empty and NULL inputs."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest
from test_functions_support import assert_matches_duckdb, run, scalar

# Over t: n = 3, -7, 0, NULL, 12 (mean 2, squared deviations 186); b = T, F, NULL, T, T.
GLOBAL_CASES: list[tuple[str, Any]] = [
    ("count_if(b)", 3),
    ("count_if(n > 100)", 0),
    ("min_by(s, n)", "héllo wörld"),
    ("max_by(s, n)", "a,b,,c"),
    ("min_by(id, x)", 2),
    ("arbitrary(s) FILTER (WHERE g = 'y')", ""),
    ("any_value(g)", "x"),
    ("array_agg(n ORDER BY id)", [3, -7, 0, None, 12]),
    ("array_agg(n ORDER BY n DESC NULLS LAST)", [12, 3, 0, -7, None]),
    ("array_agg(DISTINCT g ORDER BY g)", ["x", "y", None]),
    ("approx_distinct(g)", 2),
    ("approx_distinct(n)", 4),
    ("approx_percentile(n, 0)", -7),
    ("approx_percentile(n, 1)", 12),
    ("approx_percentile(n, ARRAY[0, 1])", [-7, 12]),
    ("variance(n)", 62.0),
    ("var_samp(n)", 62.0),
    ("var_pop(n)", 46.5),
    ("stddev(n)", math.sqrt(62.0)),
    ("stddev_samp(n)", math.sqrt(62.0)),
    ("stddev_pop(n)", math.sqrt(46.5)),
    ("bool_and(b)", False),
    ("bool_or(b)", True),
    ("every(n IS NOT NULL OR s IS NULL)", True),
    ("histogram(g)", {"x": 2, "y": 2}),
    ("map_agg(id, s) FILTER (WHERE id < 3)", {1: "abc", 2: "héllo wörld"}),
    ("listagg(s, '|') WITHIN GROUP (ORDER BY id)", "abc|héllo wörld||a,b,,c"),
]


@pytest.mark.parametrize(("expression", "expected"), GLOBAL_CASES)
def test_over_the_whole_table(expression: str, expected: Any) -> None:
    value = scalar(f"SELECT {expression} FROM t")
    if isinstance(expected, float):
        assert value == pytest.approx(expected)
    else:
        assert value == expected


EMPTY_CASES: list[tuple[str, Any]] = [
    ("count_if(b)", 0),
    ("array_agg(n)", None),
    ("histogram(g)", None),
    ("map_agg(id, s)", None),
    ("bool_and(b)", None),
    ("bool_or(b)", None),
    ("stddev(n)", None),
    ("variance(n)", None),
    ("approx_distinct(n)", 0),
    ("min_by(s, n)", None),
    ("arbitrary(s)", None),
]


@pytest.mark.parametrize(("expression", "expected"), EMPTY_CASES)
def test_over_no_rows(expression: str, expected: Any) -> None:
    assert scalar(f"SELECT {expression} FROM t WHERE id > 100") == expected


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
