"""Regular-expression functions (Trino's documented examples) and DuckDB comparisons."""

from __future__ import annotations

from typing import Any

import pytest
from test_functions_support import assert_matches_duckdb, assert_typed, column, run

from loglake.errors import SqlError

LITERAL_CASES: list[tuple[str, Any, str]] = [
    (r"regexp_like('1a 2b 14m', '\d+b')", True, "boolean"),
    (r"regexp_like('1a 2b 14m', '^\d+b')", False, "boolean"),
    (r"regexp_like(NULL, 'a')", None, "boolean"),
    ("regexp_like('AbC', '(?i)abc')", True, "boolean"),
    (r"regexp_extract('1a 2b 14m', '\d+')", "1", "varchar"),
    (r"regexp_extract('1a 2b 14m', '(\d+)([a-z]+)', 2)", "a", "varchar"),
    (r"regexp_extract('abc', '\d+')", None, "varchar"),
    (r"regexp_extract('abc', '(\d)?c', 1)", None, "varchar"),
    (r"regexp_extract_all('1a 2b 14m', '\d+')", ["1", "2", "14"], "array(varchar)"),
    (r"regexp_extract_all('1a 2b 14m', '(\d+)([a-z]+)', 2)", ["a", "b", "m"], "array(varchar)"),
    (r"regexp_extract_all('abc', '\d')", [], "array(varchar)"),
    (r"regexp_replace('1a 2b 14m', '\d+[ab] ')", "14m", "varchar"),
    (r"regexp_replace('1a 2b 14m', '(\d+)([ab]) ', '3c$2 ')", "3ca 3cb 14m", "varchar"),
    (r"regexp_replace('abc', '(b)', '$1$1')", "abbc", "varchar"),
    (r"regexp_replace('abc', '(?<x>b)', '[${x}]')", "a[b]c", "varchar"),
    (r"regexp_replace('a.b', '\.', '\$')", "a$b", "varchar"),
    (r"regexp_count('1a 2b 14m', '\s*[a-z]+\s*')", 3, "bigint"),
    (r"regexp_count('abc', '\d')", 0, "bigint"),
    (r"regexp_position('I have 23 apples, 5 pears and 13 oranges', '\b\d+\b')", 8, "integer"),
    (r"regexp_position('héllo', 'l')", 3, "integer"),
    (r"regexp_position('abc', '\d')", -1, "integer"),
    (r"regexp_split('1a 2b 14m', '\s*[a-z]+\s*')", ["1", "2", "14", ""], "array(varchar)"),
    ("regexp_split('a', ',')", ["a"], "array(varchar)"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


COLUMN_CASES: list[tuple[str, list[Any]]] = [
    ("regexp_like(s, 'l{2}')", [False, True, False, None, False]),
    (r"regexp_extract(s, '[a-z]+')", ["abc", "h", None, None, "a"]),
    ("regexp_count(s, ',')", [0, 0, 0, None, 3]),
    ("regexp_replace(s, '[aeiouéö]', '_')", ["_bc", "h_ll_ w_rld", "", None, "_,b,,c"]),
    (
        "regexp_extract_all(s, '[a-z]')",
        [["a", "b", "c"], ["h", "l", "l", "o", "w", "r", "l", "d"], [], None, ["a", "b", "c"]],
    ),
]


@pytest.mark.parametrize(("expression", "expected"), COLUMN_CASES)
def test_over_a_column(expression: str, expected: list[Any]) -> None:
    assert column(f"SELECT {expression} FROM t ORDER BY id") == expected


DUCKDB_CASES = [
    "SELECT id, regexp_like(s, 'b') FROM t ORDER BY id",
    "SELECT id, regexp_like(s, '^a.*c$') FROM t ORDER BY id",
    "SELECT id, regexp_replace(s, ',+', '|') FROM t ORDER BY id",
    "SELECT id, regexp_replace(s, '[a-c]', '<>') FROM t ORDER BY id",
    "SELECT count(*) FROM t WHERE regexp_like(s, '[[:alpha:]]')",
    "SELECT id, regexp_extract_all(s, '[a-c]') FROM t WHERE s <> '' ORDER BY id",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (r"SELECT regexp_extract('a', '(a)', 2)", "Pattern has 1 groups. Cannot access group 2"),
        ("SELECT regexp_like(s, g) FROM t", "regular expression must be a constant"),
        ("SELECT regexp_like('a', '(?=a)')", "look-around"),
        ("SELECT regexp_replace('a', 'a', '$')", "illegal group reference"),
    ],
)
def test_invalid_patterns_are_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        run(sql)
