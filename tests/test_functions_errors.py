"""Malformed queries fail with loglake errors in Trino's words, with a line and a column.

Wrong argument types are made for every function that declares its signatures (each gets
booleans where it takes none), wrong arity for the same functions, and then unknown names, bad
regular expressions, bad JSON paths, bad date formats and values that break a function's rule
while the query runs. None may answer with Polars' or Python's own exception text.
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from loglake.errors import SqlError
from loglake.query.engine import Engine
from loglake.query.registry import NAMED_FUNCTIONS
from loglake.query.signatures import LambdaArg, all_signatures, fits

#: words that only Polars' or Python's own errors contain
INTERNALS = re.compile(
    r"polars|traceback|python_udf|this error occurred|expr\b|dtype|series|nonetype|keyerror|"
    r"attributeerror|typeerror|valueerror|\bi32\b|\bi64\b|\bf64\b|\bstr\b|utf8view|"
    r"resolved plan",
    re.IGNORECASE,
)

TABLE = pl.DataFrame({"s": ["a", "b"], "n": [1, 2], "d": ["2024-01-01", "x"]})


def _wrong_type_calls() -> list[tuple[str, str]]:
    """(query, function) calling each declared function with booleans for every argument."""
    calls = []
    for name, signatures in sorted(all_signatures().items()):
        params = max((len(s.params) for s in signatures), default=0)
        if params == 0:
            continue
        count = min(params, 4)
        given = [pl.Boolean()] * count
        if any(fits(s, given) for s in signatures) or name in _NOT_CALLS:
            continue
        calls.append((f"SELECT {name}({', '.join(['true'] * count)})", name))
    return calls


def _wrong_arity_calls() -> list[tuple[str, str]]:
    """(query, function) with more arguments than any of the function's signatures take.

    Only for functions sqlglot passes through as plain calls: for the ones it knows, sqlglot
    itself refuses (a positioned syntax error) or drops extra arguments while parsing."""
    calls = []
    for name, signatures in sorted(all_signatures().items()):
        if any(s.variadic for s in signatures) or name not in NAMED_FUNCTIONS:
            continue
        count = max(len(s.params) for s in signatures) + 2
        given: list[pl.DataType | LambdaArg] = [pl.Int32()] * count
        if any(fits(s, given) for s in signatures):
            continue
        calls.append((f"SELECT {name}({', '.join(['1'] * count)})", name))
    return calls


#: names declared for syntax that is not name(args...) or that sqlglot reads otherwise
_NOT_CALLS = {
    "normalize",
    "position",
    "current_time",
    "localtime",
    "current_date",
    "current_timestamp",
}

WRONG_TYPES = _wrong_type_calls()
WRONG_ARITY = _wrong_arity_calls()

UNKNOWN_NAMES = [
    ("SELECT lenght(s) FROM t", "length"),
    ("SELECT uper(s) FROM t", "upper"),
    ("SELECT regex_like(s, 'a') FROM t", "regexp_like"),
    ("SELECT json_extract_scaler(s, '$.a') FROM t", "json_extract_scalar"),
    ("SELECT date_formatt(current_date, '%Y')", "date_format"),
    ("SELECT to_unixtimes(current_timestamp)", "to_unixtime"),
    ("SELECT array_joins(ARRAY['a'], ',')", "array_join"),
    ("SELECT cardinalty(ARRAY[1])", "cardinality"),
    ("SELECT levenstein_distance(s, 'a') FROM t", "levenshtein_distance"),
    ("SELECT split_parts(s, ',', 1) FROM t", "split_part"),
    ("SELECT url_extract_hosts('http://a')", "url_extract_host"),
    ("SELECT from_iso8601_timestamps(d) FROM t", "from_iso8601_timestamp"),
    ("SELECT approx_distinc(s) FROM t", "approx_distinct"),
    ("SELECT map_keyz(map())", "map_keys"),
    ("SELECT sha265(to_utf8(s)) FROM t", "sha256"),
    ("SELECT to_base64s(to_utf8(s)) FROM t", "to_base64"),
    ("SELECT bitwise_adn(1, 2)", "bitwise_and"),
    ("SELECT transfrom(ARRAY[1], x -> x)", "transform"),
    ("SELECT coalese(s, 'a') FROM t", "coalesce"),
    ("SELECT date_truncate('day', current_date)", "date_trunc"),
]

BAD_REGEX = [
    "SELECT regexp_like(s, '(') FROM t",
    "SELECT regexp_like(s, '[a-') FROM t",
    "SELECT regexp_extract(s, 'a{2,1}') FROM t",
    "SELECT regexp_extract_all(s, '(?P<x') FROM t",
    "SELECT regexp_replace(s, '*a') FROM t",
    "SELECT regexp_count(s, '+') FROM t",
    "SELECT regexp_split(s, '(a') FROM t",
    "SELECT regexp_position(s, ')') FROM t",
    "SELECT regexp_like(s, '(?<=a)b') FROM t",
    "SELECT regexp_extract(s, '(a)', 3) FROM t",
    "SELECT regexp_replace(s, '(a)', '$') FROM t",
    "SELECT regexp_like(s, n) FROM t",
]

BAD_JSON_PATHS = [
    "SELECT json_extract(s, '$..a') FROM t",
    "SELECT json_extract_scalar(s, '$.a[') FROM t",
    "SELECT json_extract(s, '$[') FROM t",
    "SELECT json_size(s, '$.a[*]') FROM t",
    "SELECT json_extract(s, s) FROM t",
    "SELECT json_value(s, 'lax $.a[*]') FROM t",
    "SELECT json_query(s, 'strict $..a') FROM t",
    "SELECT json_exists(s, 'a') FROM t",
    "SELECT json_value(s, 'lax $.a ? (@ > 1)') FROM t",
    "SELECT json_array_get(s, -1) FROM t",
]

BAD_DATE_FORMATS = [
    "SELECT date_format(current_timestamp, '%')",
    "SELECT format_datetime(current_timestamp, 'qqq')",
    "SELECT format_datetime(current_timestamp, 'yyyy-MM-dd''T')",
    "SELECT parse_datetime(s, 'yyyy-qq') FROM t",
    "SELECT to_date(s, 'yyyy-xx') FROM t",
    "SELECT to_timestamp(s, 'yyyy-mm-dd zz') FROM t",
    "SELECT date_trunc('fortnight', current_date)",
    "SELECT date_add('lightyear', 1, current_date)",
    "SELECT date_diff('epoch', current_date, current_date)",
    "SELECT date_trunc('hour', DATE '2024-01-01')",
    "SELECT date_format(current_timestamp, s) FROM t",
    "SELECT from_unixtime(0) AT TIME ZONE 'Mars/Olympus_Mons'",
]

BAD_VALUES = [
    "SELECT CAST(s AS INTEGER) FROM t",
    "SELECT CAST('2024-13-45' AS DATE)",
    "SELECT CAST(d AS BIGINT) FROM t",
    "SELECT from_base('zz', 10)",
    "SELECT from_base(s, 40) FROM t",
    "SELECT bit_count(300, 8)",
    "SELECT ARRAY[1, 2][5]",
    "SELECT split_part(s, ',', 0) FROM t",
    "SELECT lpad(s, 5, '') FROM t",
    "SELECT chr(-1)",
    "SELECT codepoint('ab')",
    "SELECT normal_cdf(0, -1, 1)",
    "SELECT inverse_normal_cdf(0, 1, 2)",
    "SELECT hamming_distance('abc', 'a')",
    "SELECT from_hex('zz')",
    "SELECT from_big_endian_32(X'01')",
    "SELECT map(ARRAY[1, 1], ARRAY[2, 3])",
    "SELECT trim_array(ARRAY[1], 5)",
    "SELECT repeat('a', -1)",
    "SELECT sequence(1, 10, 0)",
    "SELECT to_date(d, 'yyyy-mm-dd') FROM t",
    "SELECT parse_data_size('lots')",
    "SELECT url_decode('100%')",
    "SELECT array_sort(ARRAY[1, 2], (x, y) -> 7)",
    "SELECT width_bucket(1, 2, 2, 3)",
    "SELECT abs(-128) + CAST('x' AS TINYINT)",
    "SELECT year(s) FROM t",
    "SELECT s + 1 FROM t",
    "SELECT sum(s) FROM t",
    "SELECT substr(s) FROM t",
]

CASES = (
    [(q, "type") for q, _ in WRONG_TYPES]
    + [(q, "arity") for q, _ in WRONG_ARITY]
    + [(q, "unknown") for q, _ in UNKNOWN_NAMES]
    + [(q, "regex") for q in BAD_REGEX]
    + [(q, "path") for q in BAD_JSON_PATHS]
    + [(q, "format") for q in BAD_DATE_FORMATS]
    + [(q, "value") for q in BAD_VALUES]
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(tables={"t": TABLE})


def test_there_are_at_least_two_hundred_malformed_queries() -> None:
    assert len(CASES) >= 200, len(CASES)
    assert len(WRONG_TYPES) >= 100 and len(WRONG_ARITY) >= 30


@pytest.mark.parametrize(("sql", "kind"), CASES, ids=[q for q, _ in CASES])
def test_malformed_query_fails_with_a_positioned_loglake_error(
    engine: Engine, sql: str, kind: str
) -> None:
    with pytest.raises(SqlError) as info:
        engine.execute(sql)
    error = info.value
    assert error.line is not None and error.column is not None, error.bare_message
    assert error.sql is not None and 0 <= error.start < len(error.sql)
    assert not INTERNALS.search(error.bare_message), error.bare_message


@pytest.mark.parametrize(("sql", "name"), WRONG_TYPES + WRONG_ARITY)
def test_wrong_arguments_name_the_function_and_its_signatures(
    engine: Engine, sql: str, name: str
) -> None:
    with pytest.raises(SqlError) as info:
        engine.execute(sql)
    message = info.value.bare_message
    assert message.startswith("Unexpected parameters ("), message
    assert f" for function {name}. Expected: {name}(" in message, message


@pytest.mark.parametrize(("sql", "suggestion"), UNKNOWN_NAMES)
def test_unknown_functions_suggest_the_closest_name(
    engine: Engine, sql: str, suggestion: str
) -> None:
    with pytest.raises(SqlError, match="not registered") as info:
        engine.execute(sql)
    assert f"'{suggestion}'" in info.value.bare_message
