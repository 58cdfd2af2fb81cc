"""Mathematical, bitwise and string-distance functions over a column, compared with DuckDB where
its semantics are Trino's (the documented examples are in tests/trino_examples.py)."""

from __future__ import annotations

import pytest
from test_functions_support import assert_matches_duckdb, column

DUCKDB_CASES = [
    "SELECT id, abs(n), sign(n) FROM t ORDER BY id",
    "SELECT id, abs(x), floor(x), ceil(x) FROM t ORDER BY id",
    "SELECT id, sqrt(abs(x)), exp(x), ln(abs(x) + 1), log10(abs(x) + 1), log2(abs(x) + 1) FROM t ORDER BY id",
    "SELECT id, power(x, 2), cbrt(x), degrees(x), radians(x) FROM t ORDER BY id",
    "SELECT id, sin(x), cos(x), tan(x), atan(x), atan2(x, 2), sinh(x), cosh(x), tanh(x) FROM t ORDER BY id",
    "SELECT id, mod(n, 4), n % 5 FROM t ORDER BY id",
    "SELECT id, bitwise_and(n, 6), bitwise_or(n, 6), bitwise_xor(n, 6) FROM t ORDER BY id",
    "SELECT id, levenshtein_distance(s, 'abc') FROM t ORDER BY id",
    "SELECT g, stddev(x), variance(x), kurtosis(x), skewness(x) FROM t GROUP BY g ORDER BY g",
    "SELECT regr_slope(x, n), regr_intercept(x, n) FROM t",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql)


def test_round_is_half_away_from_zero_over_a_column() -> None:
    # Trino: round(-2.25, 1) = -2.3 (half away from zero), unlike round-half-even
    assert column("SELECT round(x, 1) FROM t ORDER BY id") == [1.5, -2.3, 0.0, None, 10.0]
    assert column("SELECT round(n, -1) FROM t ORDER BY id") == [0, -10, 0, None, 10]
