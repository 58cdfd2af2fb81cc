"""IF, COALESCE, NULLIF, TRY, TRY_CAST, GREATEST and LEAST with Trino's NULL rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from test_functions_support import assert_matches_duckdb, assert_typed, column

LITERAL_CASES: list[tuple[str, Any, str]] = [
    ("if(1 < 2, 'yes', 'no')", "yes", "varchar"),
    ("if(NULL, 'yes', 'no')", "no", "varchar"),
    ("if(false, 1)", None, "integer"),
    ("coalesce(NULL, NULL, 3)", 3, "integer"),
    ("coalesce(NULL, 'a', 'b')", "a", "varchar"),
    ("nullif(1, 1)", None, "integer"),
    ("nullif(1, 2)", 1, "integer"),
    ("nullif(NULL, 1)", None, "unknown"),
    ("greatest(1, 5, 3)", 5, "integer"),
    ("greatest(1, NULL, 3)", None, "integer"),
    ("least('b', 'a', 'c')", "a", "varchar"),
    ("least(2.5, 1.5)", Decimal("1.5"), "decimal(2,1)"),
    ("try(CAST('x' AS BIGINT))", None, "bigint"),
    ("try(CAST('12' AS BIGINT))", 12, "bigint"),
    ("try_cast('12' AS BIGINT)", 12, "bigint"),
    ("try_cast('twelve' AS INTEGER)", None, "integer"),
    ("try(date_parse('not a date', '%Y-%m-%d'))", None, "timestamp(6)"),
    ("try(json_extract_scalar('not json', '$.a'))", None, "varchar"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


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
