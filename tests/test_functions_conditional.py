"""IF, COALESCE, NULLIF, TRY, TRY_CAST, GREATEST and LEAST with Trino's NULL rules."""

from __future__ import annotations

from typing import Any

import pytest
from test_functions_support import assert_matches_duckdb, column, scalar

LITERAL_CASES: list[tuple[str, Any]] = [
    ("if(1 < 2, 'yes', 'no')", "yes"),
    ("if(NULL, 'yes', 'no')", "no"),
    ("if(false, 1)", None),
    ("coalesce(NULL, NULL, 3)", 3),
    ("coalesce(NULL, 'a', 'b')", "a"),
    ("nullif(1, 1)", None),
    ("nullif(1, 2)", 1),
    ("nullif(NULL, 1)", None),
    ("greatest(1, 5, 3)", 5),
    ("greatest(1, NULL, 3)", None),
    ("least('b', 'a', 'c')", "a"),
    ("least(2.5, 1.5)", 1.5),
    ("try(CAST('x' AS BIGINT))", None),
    ("try(CAST('12' AS BIGINT))", 12),
    ("try_cast('12' AS BIGINT)", 12),
    ("try_cast('twelve' AS INTEGER)", None),
    ("try(date_parse('not a date', '%Y-%m-%d'))", None),
    ("try(json_extract_scalar('not json', '$.a'))", None),
]


@pytest.mark.parametrize(("expression", "expected"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any) -> None:
    assert scalar(f"SELECT {expression}") == expected


COLUMN_CASES: list[tuple[str, list[Any]]] = [
    ("if(b, n, -1)", [3, -1, -1, None, 12]),
    ("coalesce(s, g, 'none')", ["abc", "héllo wörld", "", "y", "a,b,,c"]),
    ("nullif(s, '')", ["abc", "héllo wörld", None, None, "a,b,,c"]),
    ("greatest(n, 0)", [3, 0, 0, None, 12]),
    ("least(x, n)", [1.5, -7.0, 0.0, None, 10.0]),
    ("try(CAST(s AS BIGINT))", [None, None, None, None, None]),
]


@pytest.mark.parametrize(("expression", "expected"), COLUMN_CASES)
def test_over_a_column(expression: str, expected: list[Any]) -> None:
    assert column(f"SELECT {expression} FROM t ORDER BY id") == expected


DUCKDB_CASES = [
    "SELECT id, if(n > 0, 'pos', 'other') FROM t ORDER BY id",
    "SELECT id, coalesce(n, 0) + 1 FROM t ORDER BY id",
    "SELECT id, nullif(g, 'x') FROM t ORDER BY id",
    "SELECT id, try_cast(s AS INTEGER) FROM t ORDER BY id",
    "SELECT id, greatest(n, 1, 2), least(n, 1, 2) FROM t WHERE n IS NOT NULL ORDER BY id",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql)
