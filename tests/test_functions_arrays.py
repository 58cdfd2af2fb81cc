"""Arrays, lambdas and maps: Trino's documented examples, NULL and empty arrays, DuckDB checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from test_functions_support import assert_matches_duckdb, assert_typed, column, run

from loglake.errors import SqlError

LITERAL_CASES: list[tuple[str, Any, str]] = [
    ("cardinality(ARRAY[1, 2, 3])", 3, "bigint"),
    ("cardinality(ARRAY[])", 0, "bigint"),
    ("contains(ARRAY[1, 2], 2)", True, "boolean"),
    ("contains(ARRAY[1, 2], 3)", False, "boolean"),
    ("contains(ARRAY[1, 2, NULL], 3)", None, "boolean"),
    ("contains(ARRAY[1, 2, NULL], 2)", True, "boolean"),
    ("contains(ARRAY['a', 'b'], 'b')", True, "boolean"),
    ("element_at(ARRAY[1, 2, 3], 1)", 1, "integer"),
    ("element_at(ARRAY[1, 2, 3], -1)", 3, "integer"),
    ("element_at(ARRAY[1, 2, 3], 4)", None, "integer"),
    ("element_at(ARRAY[1, 2, 3], -4)", None, "integer"),
    ("ARRAY[10, 20, 30][2]", 20, "integer"),
    ("array_join(ARRAY[1, NULL, 2], ',')", "1,2", "varchar"),
    ("array_join(ARRAY[1, NULL, 2], ',', 'N')", "1,N,2", "varchar"),
    ("array_join(ARRAY['a', 'b'], '')", "ab", "varchar"),
    ("array_distinct(ARRAY[1, 2, 1, NULL, NULL])", [1, 2, None], "array(integer)"),
    ("array_sort(ARRAY[3, NULL, 1, 2])", [1, 2, 3, None], "array(integer)"),
    ("array_sort(ARRAY['b', 'a'])", ["a", "b"], "array(varchar)"),
    ("array_max(ARRAY[1, 3, 2])", 3, "integer"),
    ("array_max(ARRAY[1, NULL, 3])", None, "integer"),
    ("array_min(ARRAY[4, 3, 5])", 3, "integer"),
    ("array_min(ARRAY[])", None, "unknown"),
    ("slice(ARRAY[1, 2, 3, 4], 2, 2)", [2, 3], "array(integer)"),
    ("slice(ARRAY[1, 2, 3, 4], -2, 2)", [3, 4], "array(integer)"),
    ("slice(ARRAY[1, 2, 3, 4], 3, 10)", [3, 4], "array(integer)"),
    ("slice(ARRAY[1, 2, 3, 4], 5, 1)", [], "array(integer)"),
    ("slice(ARRAY[1, 2, 3, 4], -5, 2)", [], "array(integer)"),
    ("flatten(ARRAY[ARRAY[1, 2], ARRAY[3], ARRAY[]])", [1, 2, 3], "array(integer)"),
    ("sequence(1, 5)", [1, 2, 3, 4, 5], "array(bigint)"),
    ("sequence(5, 1)", [5, 4, 3, 2, 1], "array(bigint)"),
    ("sequence(1, 10, 3)", [1, 4, 7, 10], "array(bigint)"),
    ("sequence(10, 1, -4)", [10, 6, 2], "array(bigint)"),
    (
        "sequence(DATE '2024-02-28', DATE '2024-03-01')",
        [dt.date(2024, 2, 28), dt.date(2024, 2, 29), dt.date(2024, 3, 1)],
        "array(date)",
    ),
    ("transform(ARRAY[5, 6], x -> x + 1)", [6, 7], "array(integer)"),
    ("transform(ARRAY[5, NULL, 6], x -> coalesce(x, 0) + 1)", [6, 1, 7], "array(integer)"),
    ("transform(ARRAY['a', 'b'], x -> upper(x) || '!')", ["A!", "B!"], "array(varchar)"),
    ("filter(ARRAY[5, -6, NULL, 7], x -> x > 0)", [5, 7], "array(integer)"),
    ("filter(ARRAY[], x -> true)", [], "array(unknown)"),
    ("any_match(ARRAY[5, -6, 7], x -> x > 6)", True, "boolean"),
    ("any_match(ARRAY[5, NULL], x -> x > 6)", None, "boolean"),
    ("any_match(ARRAY[], x -> x > 6)", False, "boolean"),
    ("all_match(ARRAY[5, -6, NULL], x -> x > 0)", False, "boolean"),
    ("all_match(ARRAY[5, NULL], x -> x > 0)", None, "boolean"),
    ("all_match(ARRAY[], x -> x > 0)", True, "boolean"),
    ("none_match(ARRAY[1, 2], x -> x > 5)", True, "boolean"),
    ("reduce(ARRAY[5, 20, 50], 0, (s, x) -> s + x, s -> s)", 75, "integer"),
    ("reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> s + x, s -> s)", None, "integer"),
    ("reduce(ARRAY[5, 20, NULL, 50], 0, (s, x) -> s + coalesce(x, 0), s -> s)", 75, "integer"),
    ("reduce(ARRAY[1, 2, 3], 1, (s, x) -> s * x, s -> s * 10)", 60, "integer"),
    ("reduce(ARRAY[], 7, (s, x) -> s + x, s -> s)", 7, "integer"),
    ("array_position(ARRAY[10, 20, 30], 20)", 2, "bigint"),
    ("array_position(ARRAY[10, 20, 30], 40)", 0, "bigint"),
    ("array_remove(ARRAY[1, 2, 1, 3], 1)", [2, 3], "array(integer)"),
    ("array_intersect(ARRAY[1, 2, 3, 2], ARRAY[2, 3, 4])", [2, 3], "array(integer)"),
    ("array_union(ARRAY[1, 2, 2], ARRAY[2, 3])", [1, 2, 3], "array(integer)"),
    ("array_except(ARRAY[1, 2, 2, 3], ARRAY[3])", [1, 2], "array(integer)"),
    ("arrays_overlap(ARRAY[1, 2], ARRAY[2, 3])", True, "boolean"),
    ("arrays_overlap(ARRAY[1, 2], ARRAY[3])", False, "boolean"),
    ("concat(ARRAY[1], ARRAY[2, 3])", [1, 2, 3], "array(integer)"),
    ("ARRAY[1] || ARRAY[2]", [1, 2], "array(integer)"),
    ("reverse(ARRAY[1, 2, 3])", [3, 2, 1], "array(integer)"),
    ("map_keys(map(ARRAY['a', 'b'], ARRAY[1, 2]))", ["a", "b"], "array(varchar)"),
    ("map_values(map(ARRAY['a', 'b'], ARRAY[1, 2]))", [1, 2], "array(integer)"),
    ("cardinality(map(ARRAY['a', 'b'], ARRAY[1, 2]))", 2, "bigint"),
    ("element_at(map(ARRAY['a', 'b'], ARRAY[1, 2]), 'b')", 2, "integer"),
    ("element_at(map(ARRAY['a', 'b'], ARRAY[1, 2]), 'z')", None, "integer"),
    ("map(ARRAY['a', 'b'], ARRAY[1, 2])['a']", 1, "integer"),
    ("map(ARRAY['a', 'b'], ARRAY[1, 2])", {"a": 1, "b": 2}, "map(varchar, integer)"),
    (
        "map_entries(map(ARRAY['a'], ARRAY[1]))",
        [{"field0": "a", "field1": 1}],
        "array(row(varchar, integer))",
    ),
    ("split_to_map('a=1,b=2', ',', '=')", {"a": "1", "b": "2"}, "map(varchar, varchar)"),
    (
        "map_concat(map(ARRAY['a'], ARRAY[1]), map(ARRAY['a', 'b'], ARRAY[2, 3]))",
        {"a": 2, "b": 3},
        "map(varchar, integer)",
    ),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


COLUMN_CASES: list[tuple[str, list[Any]]] = [
    ("cardinality(a)", [4, 0, None, 2, 1]),
    ("contains(a, 5)", [None, False, None, True, False]),
    # Trino does not call contains with a NULL element: NULL even for an empty array.
    ("contains(a, NULL)", [None, None, None, None, None]),
    ("element_at(a, 2)", [1, None, None, 5, None]),
    ("element_at(a, -1)", [2, None, None, 5, 7]),
    ("array_join(a, '-')", ["3-1-2", "", None, "5-5", "7"]),
    ("array_max(a)", [None, None, None, 5, 7]),
    ("array_sort(a)", [[1, 2, 3, None], [], None, [5, 5], [7]]),
    ("array_distinct(a)", [[3, 1, None, 2], [], None, [5], [7]]),
    ("transform(a, x -> x * 2)", [[6, 2, None, 4], [], None, [10, 10], [14]]),
    ("filter(a, x -> x >= 3)", [[3], [], None, [5, 5], [7]]),
    ("any_match(a, x -> x > 4)", [None, False, None, True, True]),
    ("slice(a, 2, 2)", [[1, None], [], None, [5], []]),
    ("array_position(a, 5)", [0, 0, None, 1, 0]),
    ("reduce(a, 0, (s, x) -> s + coalesce(x, 0), s -> s)", [6, 0, None, 10, 7]),
]


@pytest.mark.parametrize(("expression", "expected"), COLUMN_CASES)
def test_over_a_column_with_null_and_empty_arrays(expression: str, expected: list[Any]) -> None:
    assert column(f"SELECT {expression} FROM t ORDER BY id") == expected


def test_maps_read_from_arrow_columns() -> None:
    frame = pl.DataFrame(
        {"id": [1, 2, 3], "tags": [{"env": "prod", "team": "a"}, {}, None]},
        schema={"id": pl.Int64, "tags": pl.Map(pl.String, pl.String)},
    )
    tables = {"resources": frame}
    assert column("SELECT tags['env'] FROM resources ORDER BY id", tables) == ["prod", None, None]
    assert column("SELECT cardinality(tags) FROM resources ORDER BY id", tables) == [2, 0, None]
    assert column("SELECT map_keys(tags) FROM resources ORDER BY id", tables) == [
        ["env", "team"],
        [],
        None,
    ]


def test_lambdas_read_fields_of_row_elements() -> None:
    # CloudTrail's resources: an array of rows; a lambda reads a field of its row parameter
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "resources": [
                [{"arn": "arn:aws:s3:::logs", "type": "AWS::S3::Bucket"}],
                [{"arn": "arn:aws:iam::1:role/x", "type": "AWS::IAM::Role"}, None],
                [],
                None,
            ],
        }
    )
    tables = {"events": frame}

    def each(expression: str) -> list[Any]:
        return column(f"SELECT {expression} FROM events ORDER BY id", tables)

    assert each("any_match(resources, r -> r.type = 'AWS::S3::Bucket')") == [
        True,
        None,  # the NULL element leaves it undecided, as in Trino
        False,
        None,
    ]
    assert each("any_match(resources, r -> upper(r.TYPE) LIKE '%ROLE')") == [
        False,
        True,
        False,
        None,
    ]
    assert each("transform(resources, r -> r.arn)") == [
        ["arn:aws:s3:::logs"],
        ["arn:aws:iam::1:role/x", None],
        [],
        None,
    ]
    assert each("cardinality(filter(resources, r -> r.type LIKE 'AWS::IAM::%'))") == [
        0,
        1,
        0,
        None,
    ]
    with pytest.raises(SqlError, match="Field 'name' not found in row"):
        run("SELECT any_match(resources, r -> r.name = 'x') FROM events", tables)
    with pytest.raises(SqlError, match="Expression x is not of type ROW"):
        run("SELECT any_match(ARRAY[1, 2], x -> x.name = 'x')")


DUCKDB_CASES = [
    "SELECT id, cardinality(a) FROM t ORDER BY id",
    "SELECT id, element_at(a, 1) FROM t ORDER BY id",
    "SELECT id, array_sort(a) FROM t ORDER BY id",
    "SELECT id, slice(a, 1, 2) FROM t ORDER BY id",
    "SELECT id, transform(a, x -> x + 1) FROM t ORDER BY id",
    "SELECT id, filter(a, x -> x > 2) FROM t ORDER BY id",
    # DuckDB answers false for an empty array and a NULL element; Trino NULL (checked above).
    "SELECT id, array_max(a), array_min(a) FROM t "
    "WHERE cardinality(a) > 0 AND NOT contains(a, NULL) ORDER BY id",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT element_at(ARRAY[1], 0)", "SQL array indices start at 1"),
        (
            "SELECT ARRAY[1, 2][3]",
            "Array subscript must be less than or equal to array length: 3 > 2",
        ),
        ("SELECT slice(ARRAY[1], 0, 1)", "SQL array indices start at 1"),
        ("SELECT reduce(ARRAY[1], 0, (s, x) -> s - x, s -> s)", "reduce"),
        ("SELECT map(ARRAY['a', 'a'], ARRAY[1, 2])", "Duplicate map keys"),
        ("SELECT sequence(1, 5, 0)", "step must not be zero"),
    ],
)
def test_invalid_arguments_are_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        run(sql)
