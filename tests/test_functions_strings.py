"""String and URL functions: Trino's documented answers side by side, and DuckDB where it agrees."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from test_functions_support import T, assert_matches_duckdb, assert_typed, column, run

from loglake.errors import SqlError

# Trino's answer for one expression over constant arguments.
LITERAL_CASES: list[tuple[str, Any, str]] = [
    ("lower('ÀbC')", "àbc", "varchar"),
    ("upper('straße x')", "STRASSE X", "varchar"),
    ("length('héllo')", 5, "bigint"),
    ("length('')", 0, "bigint"),
    ("length(NULL)", None, "bigint"),
    ("substr('Quadratically', 5)", "ratically", "varchar"),
    ("substr('Quadratically', 5, 6)", "ratica", "varchar"),
    ("substring('Quadratically' FROM 5 FOR 6)", "ratica", "varchar"),
    ("substr('abc', -2)", "bc", "varchar"),
    ("substr('abc', -2, 1)", "b", "varchar"),
    ("substr('abc', -5)", "", "varchar"),
    ("substr('abc', 0)", "", "varchar"),
    ("substr('abc', 4)", "", "varchar"),
    ("substr('abc', 2, 0)", "", "varchar"),
    ("substr('abc', 2, -1)", "", "varchar"),
    ("substr('héllo wörld', 2, 8)", "éllo wör", "varchar"),
    ("substr('héllo', 2, 3)", "éll", "varchar"),
    ("substr(NULL, 1)", None, "varchar"),
    ("substr('abc', NULL)", None, "varchar"),
    ("concat('a', 'b', 'c')", "abc", "varchar"),
    ("concat('a', NULL)", None, "varchar"),
    ("'a' || 'b' || 'c'", "abc", "varchar"),
    ("'n=' || CAST(5 AS VARCHAR)", "n=5", "varchar"),
    ("trim('  a b  ')", "a b", "varchar"),
    ("ltrim('  a  ')", "a  ", "varchar"),
    ("rtrim('  a  ')", "  a", "varchar"),
    ("trim(BOTH 'x' FROM 'xxaxx')", "a", "varchar"),
    ("trim(LEADING 'x' FROM 'xxaxx')", "axx", "varchar"),
    ("trim(TRAILING 'x' FROM 'xxaxx')", "xxa", "varchar"),
    ("trim('xyaxy', 'xy')", "a", "varchar"),
    ("replace('abcabc', 'b', 'X')", "aXcaXc", "varchar"),
    ("replace('abcabc', 'b')", "acac", "varchar"),
    ("replace('abc', '', '-')", "-a-b-c-", "varchar"),
    ("replace('a.c', '.', '!')", "a!c", "varchar"),
    ("split('a,b,c', ',')", ["a", "b", "c"], "array(varchar)"),
    ("split('a,b,c', ',', 2)", ["a", "b,c"], "array(varchar)"),
    ("split('abc', ',')", ["abc"], "array(varchar)"),
    ("split('', ',')", [""], "array(varchar)"),
    ("split_part('a,b,c', ',', 2)", "b", "varchar"),
    ("split_part('a,b,c', ',', 4)", None, "varchar"),
    ("split_part('a,,c', ',', 2)", "", "varchar"),
    ("strpos('high', 'ig')", 2, "bigint"),
    ("strpos('high', 'x')", 0, "bigint"),
    ("strpos('héllo', 'l')", 3, "bigint"),
    ("strpos('abc', '')", 1, "bigint"),
    ("strpos('a-b-c', '-', 2)", 4, "bigint"),
    ("strpos('a-b-c', '-', -1)", 4, "bigint"),
    ("strpos('a-b-c', '-', 3)", 0, "bigint"),
    ("position('lo' IN 'hello')", 4, "bigint"),
    ("starts_with('abc', 'ab')", True, "boolean"),
    ("starts_with('abc', 'b')", False, "boolean"),
    ("starts_with('abc', NULL)", None, "boolean"),
    ("ends_with('abc', 'bc')", True, "boolean"),
    ("lpad('hi', 5, 'xy')", "xyxhi", "varchar"),
    ("rpad('hi', 5, 'xy')", "hixyx", "varchar"),
    ("lpad('hello', 3, 'x')", "hel", "varchar"),
    ("rpad('hello', 0, 'x')", "", "varchar"),
    ("lpad('é', 3, '0')", "00é", "varchar"),
    ("reverse('héllo')", "olléh", "varchar"),
    ("reverse('')", "", "varchar"),
    ("translate('abcd', 'bd', 'X')", "aXc", "varchar"),
    # URLs (Trino's url_extract_* examples)
    (
        "url_extract_host('http://www.example.com:8080/a/b?x=1&y=2#top')",
        "www.example.com",
        "varchar",
    ),
    ("url_extract_host('https://user:pw@host.example/p')", "host.example", "varchar"),
    ("url_extract_port('http://www.example.com:8080/a/b?x=1&y=2#top')", 8080, "bigint"),
    ("url_extract_port('http://www.example.com/a')", None, "bigint"),
    ("url_extract_protocol('https://www.example.com/a')", "https", "varchar"),
    ("url_extract_path('http://www.example.com:8080/a/b?x=1&y=2#top')", "/a/b", "varchar"),
    ("url_extract_query('http://www.example.com:8080/a/b?x=1&y=2#top')", "x=1&y=2", "varchar"),
    ("url_extract_query('http://www.example.com/a')", None, "varchar"),
    ("url_extract_fragment('http://www.example.com:8080/a/b?x=1&y=2#top')", "top", "varchar"),
    ("url_extract_parameter('http://e.com/p?x=1&y=2&x=3', 'x')", "1", "varchar"),
    ("url_extract_parameter('http://e.com/p?x=1&y=2', 'y')", "2", "varchar"),
    ("url_extract_parameter('http://e.com/p?x=1&flag', 'flag')", "", "varchar"),
    ("url_extract_parameter('http://e.com/p?x=1', 'z')", None, "varchar"),
    ("url_extract_parameter('http://e.com/p', 'x')", None, "varchar"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


# The same answers over a column with NULL, '' and non-ASCII rows (ordered by id).
COLUMN_CASES: list[tuple[str, list[Any]]] = [
    ("length(s)", [3, 11, 0, None, 6]),
    ("substr(s, 2, 3)", ["bc", "éll", "", None, ",b,"]),
    ("substr(s, -3)", ["abc", "rld", "", None, ",,c"]),
    ("upper(s)", ["ABC", "HÉLLO WÖRLD", "", None, "A,B,,C"]),
    ("split_part(s, ',', 3)", [None, None, None, None, ""]),
    ("split(s, ',')", [["abc"], ["héllo wörld"], [""], None, ["a", "b", "", "c"]]),
    ("strpos(s, 'l')", [0, 3, 0, None, 0]),
    ("concat(s, '!')", ["abc!", "héllo wörld!", "!", None, "a,b,,c!"]),
    ("lpad(s, 4, '*')", ["*abc", "héll", "****", None, "a,b,"]),
    ("reverse(s)", ["cba", "dlröw olléh", "", None, "c,,b,a"]),
]


@pytest.mark.parametrize(("expression", "expected"), COLUMN_CASES)
def test_over_a_column_with_nulls_and_empty_strings(expression: str, expected: list[Any]) -> None:
    assert column(f"SELECT {expression} FROM t ORDER BY id") == expected


# DuckDB computes these exactly as Trino does; compare whole results.
DUCKDB_CASES = [
    "SELECT id, lower(s), upper(s) FROM t ORDER BY id",
    "SELECT id, length(s) FROM t ORDER BY id",
    "SELECT id, substr(s, 2, 2), substr(s, 2) FROM t ORDER BY id",
    "SELECT id, s || '-' || CAST(n AS VARCHAR) FROM t ORDER BY id",
    "SELECT id, concat(s, g) FROM t ORDER BY id",
    "SELECT id, replace(s, ',', ';') FROM t ORDER BY id",
    "SELECT id, reverse(s) FROM t ORDER BY id",
    "SELECT id, starts_with(s, 'a') FROM t ORDER BY id",
    "SELECT id, strpos(s, 'b') FROM t ORDER BY id",
    "SELECT id, trim(concat('  ', s, ' ')) FROM t ORDER BY id",
    "SELECT id, ltrim(concat('  ', s)), rtrim(concat(s, '  ')) FROM t ORDER BY id",
    "SELECT id, split_part(s, ',', 1) FROM t ORDER BY id",
    "SELECT id, lpad(s, 8, 'ab'), rpad(s, 8, 'ab') FROM t ORDER BY id",
    "SELECT id, split(s, ',') FROM t ORDER BY id",
    "SELECT g, count(*) FROM t WHERE strpos(s, 'l') > 0 OR s = '' GROUP BY g ORDER BY g",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT split_part('a', ',', 0)", "index must be greater than zero"),
        ("SELECT lpad('a', 3, '')", "Padding string must not be empty"),
        ("SELECT split('a', '')", "delimiter must not be empty"),
        ("SELECT strpos('a', 'a', 0)", "instance must not be zero"),
    ],
)
def test_invalid_arguments_are_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        run(sql)


def test_substr_with_a_length_column() -> None:
    lengths = {"t": T.with_columns(pl.Series("k", [1, 2, 0, 1, 3]))}
    assert column("SELECT substr(s, 1, k) FROM t ORDER BY id", lengths) == [
        "a",
        "hé",
        "",
        None,
        "a,b",
    ]
