"""String and URL functions: Trino's documented answers side by side, and DuckDB where it agrees."""

from __future__ import annotations

from typing import Any

import pytest
from test_functions_support import assert_matches_duckdb, column, run, scalar

from loglake.errors import SqlError

# Trino's answer for one expression over constant arguments.
LITERAL_CASES: list[tuple[str, Any]] = [
    ("lower('ÀbC')", "àbc"),
    ("upper('straße x')", "STRASSE X"),
    ("length('héllo')", 5),
    ("length('')", 0),
    ("length(NULL)", None),
    ("substr('Quadratically', 5)", "ratically"),
    ("substr('Quadratically', 5, 6)", "ratica"),
    ("substring('Quadratically' FROM 5 FOR 6)", "ratica"),
    ("substr('abc', -2)", "bc"),
    ("substr('abc', -2, 1)", "b"),
    ("substr('abc', -5)", ""),
    ("substr('abc', 0)", ""),
    ("substr('abc', 4)", ""),
    ("substr('abc', 2, 0)", ""),
    ("substr('abc', 2, -1)", ""),
    ("substr('héllo wörld', 2, 8)", "éllo wör"),
    ("substr('héllo', 2, 3)", "éll"),
    ("substr(NULL, 1)", None),
    ("substr('abc', NULL)", None),
    ("concat('a', 'b', 'c')", "abc"),
    ("concat('a', NULL)", None),
    ("'a' || 'b' || 'c'", "abc"),
    ("'n=' || CAST(5 AS VARCHAR)", "n=5"),
    ("trim('  a b  ')", "a b"),
    ("ltrim('  a  ')", "a  "),
    ("rtrim('  a  ')", "  a"),
    ("trim(BOTH 'x' FROM 'xxaxx')", "a"),
    ("trim(LEADING 'x' FROM 'xxaxx')", "axx"),
    ("trim(TRAILING 'x' FROM 'xxaxx')", "xxa"),
    ("trim('xyaxy', 'xy')", "a"),
    ("replace('abcabc', 'b', 'X')", "aXcaXc"),
    ("replace('abcabc', 'b')", "acac"),
    ("replace('abc', '', '-')", "-a-b-c-"),
    ("replace('a.c', '.', '!')", "a!c"),
    ("split('a,b,c', ',')", ["a", "b", "c"]),
    ("split('a,b,c', ',', 2)", ["a", "b,c"]),
    ("split('abc', ',')", ["abc"]),
    ("split('', ',')", [""]),
    ("split_part('a,b,c', ',', 2)", "b"),
    ("split_part('a,b,c', ',', 4)", None),
    ("split_part('a,,c', ',', 2)", ""),
    ("strpos('high', 'ig')", 2),
    ("strpos('high', 'x')", 0),
    ("strpos('héllo', 'l')", 3),
    ("strpos('abc', '')", 1),
    ("strpos('a-b-c', '-', 2)", 4),
    ("strpos('a-b-c', '-', -1)", 4),
    ("strpos('a-b-c', '-', 3)", 0),
    ("position('lo' IN 'hello')", 4),
    ("starts_with('abc', 'ab')", True),
    ("starts_with('abc', 'b')", False),
    ("starts_with('abc', NULL)", None),
    ("ends_with('abc', 'bc')", True),
    ("lpad('hi', 5, 'xy')", "xyxhi"),
    ("rpad('hi', 5, 'xy')", "hixyx"),
    ("lpad('hello', 3, 'x')", "hel"),
    ("rpad('hello', 0, 'x')", ""),
    ("lpad('é', 3, '0')", "00é"),
    ("reverse('héllo')", "olléh"),
    ("reverse('')", ""),
    ("translate('abcd', 'bd', 'X')", "aXc"),
    # URLs (Trino's url_extract_* examples)
    ("url_extract_host('http://www.example.com:8080/a/b?x=1&y=2#top')", "www.example.com"),
    ("url_extract_host('https://user:pw@host.example/p')", "host.example"),
    ("url_extract_port('http://www.example.com:8080/a/b?x=1&y=2#top')", 8080),
    ("url_extract_port('http://www.example.com/a')", None),
    ("url_extract_protocol('https://www.example.com/a')", "https"),
    ("url_extract_path('http://www.example.com:8080/a/b?x=1&y=2#top')", "/a/b"),
    ("url_extract_query('http://www.example.com:8080/a/b?x=1&y=2#top')", "x=1&y=2"),
    ("url_extract_query('http://www.example.com/a')", None),
    ("url_extract_fragment('http://www.example.com:8080/a/b?x=1&y=2#top')", "top"),
    ("url_extract_parameter('http://e.com/p?x=1&y=2&x=3', 'x')", "1"),
    ("url_extract_parameter('http://e.com/p?x=1&y=2', 'y')", "2"),
    ("url_extract_parameter('http://e.com/p?x=1&flag', 'flag')", ""),
    ("url_extract_parameter('http://e.com/p?x=1', 'z')", None),
    ("url_extract_parameter('http://e.com/p', 'x')", None),
]


@pytest.mark.parametrize(("expression", "expected"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any) -> None:
    assert scalar(f"SELECT {expression}") == expected


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
        ("SELECT lpad('a', 3, '')", "padding string must not be empty"),
        ("SELECT split('a', '')", "delimiter must not be empty"),
        ("SELECT strpos('a', 'a', 0)", "instance must not be zero"),
    ],
)
def test_invalid_arguments_are_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        run(sql)
