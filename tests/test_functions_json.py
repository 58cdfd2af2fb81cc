"""JSON functions over JSON text, the way CloudTrail's requestparameters are queried."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from test_functions_support import assert_matches_duckdb, assert_typed, column, run

from loglake.errors import SqlError

DOC = (
    '{"store": {"book": [{"author": "Nigel Rees", "price": 8.95}, '
    '{"author": "Evelyn Waugh", "price": 12.99, "isbn": "0-553"}], "open": true}, '
    '"count": 2, "code": "42", "flag": "true", "none": null, "tags": [], '
    '"policy": "{\\"Version\\":\\"2012-10-17\\"}", "key with space": "v"}'
)
EVENTS = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "eventname": ["CreateBucket", "PutObject", "CreateBucket", "RunInstances", "GetObject"],
        "requestparameters": [
            '{"bucketName": "logs", "host": ["logs.s3.amazonaws.com"]}',
            '{"bucketName": "logs", "key": "a/b.txt", "size": 10}',
            '{"bucketName": "data", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}',
            '{"instancesSet": {"items": [{"imageId": "ami-1", "minCount": 1}, {"imageId": "ami-2"}]}}',
            None,
        ],
    }
)


def events(sql: str) -> list[Any]:
    return column(sql, {"cloudtrail": EVENTS})


LITERAL_CASES: list[tuple[str, Any, str]] = [
    ("json_extract_scalar('[1, 2, 3]', '$[2]')", "3", "varchar"),
    (f"json_extract_scalar('{DOC}', '$.store.book[0].author')", "Nigel Rees", "varchar"),
    (f"json_extract_scalar('{DOC}', '$.store.book[1].price')", "12.99", "varchar"),
    (f"json_extract_scalar('{DOC}', '$.store.book')", None, "varchar"),
    (f"json_extract_scalar('{DOC}', '$.missing')", None, "varchar"),
    (f"json_extract_scalar('{DOC}', '$.none')", None, "varchar"),
    (f"json_extract_scalar('{DOC}', '$[\"key with space\"]')", "v", "varchar"),
    (f"json_extract_scalar('{DOC}', '$.policy')", '{"Version":"2012-10-17"}', "varchar"),
    (f"json_extract('{DOC}', '$.store.book[0]')", '{"author":"Nigel Rees","price":8.95}', "json"),
    (f"json_extract('{DOC}', '$.store.book[0].author')", '"Nigel Rees"', "json"),
    (f"json_extract('{DOC}', '$.count')", "2", "json"),
    (f"json_extract('{DOC}', '$.code')", '"42"', "json"),
    (f"json_extract('{DOC}', '$.flag')", '"true"', "json"),
    (f"json_extract('{DOC}', '$.store.open')", "true", "json"),
    (f"json_extract('{DOC}', '$.tags')", "[]", "json"),
    (f"json_extract('{DOC}', '$.policy')", '"{\\"Version\\":\\"2012-10-17\\"}"', "json"),
    ("json_extract('not json', '$.a')", None, "json"),
    ("json_extract(NULL, '$.a')", None, "json"),
    ("json_array_length('[1, 2, 3]')", 3, "bigint"),
    ("json_array_length('[]')", 0, "bigint"),
    ('json_array_length(\'[1, "a,b", [2, [3, 4]], {"x": [5, 6]}]\')', 4, "bigint"),
    ("json_array_length('{\"a\": 1}')", None, "bigint"),
    ("json_array_contains('[1, 2, 3]', 2)", True, "boolean"),
    ("json_array_contains('[1, 2, 3]', 4)", False, "boolean"),
    ("json_array_contains('[\"a\", \"b\"]', 'b')", True, "boolean"),
    ("json_array_contains('[[\"b\"], \"c\"]', 'b')", False, "boolean"),
    ("json_array_contains('[true, false]', true)", True, "boolean"),
    ('json_array_get(\'["a", [3, 9], "c"]\', 0)', '"a"', "json"),
    ('json_array_get(\'["a", [3, 9], "c"]\', 1)', "[3,9]", "json"),
    ('json_array_get(\'["a", [3, 9], "c"]\', 10)', None, "json"),
    ('json_size(\'{"x": {"a": 1, "b": 2}}\', \'$.x\')', 2, "bigint"),
    ("json_size('{\"x\": [1, 2, 3]}', '$.x')", 3, "bigint"),
    ('json_size(\'{"x": {"a": 1, "b": 2}}\', \'$.x.a\')', 0, "bigint"),
    ('json_size(\'{"x": {"a": "p,q", "b": [1,2]}}\', \'$.x\')', 2, "bigint"),
    ("json_format(JSON '[1, 2, 3]')", "[1,2,3]", "varchar"),
    (
        'json_format(json_parse(\'{"a": 1, "b": [true, null]}\'))',
        '{"a":1,"b":[true,null]}',
        "varchar",
    ),
    ("json_parse('\"abc\"')", '"abc"', "json"),
    ("try(json_parse('not json'))", None, "varchar"),
    ("is_json_scalar('1')", True, "boolean"),
    ("is_json_scalar('[1, 2, 3]')", False, "boolean"),
    ("CAST(JSON '[1,23,456]' AS ARRAY(INTEGER))", [1, 23, 456], "array(integer)"),
    ('CAST(json_parse(\'["a", "b"]\') AS ARRAY(VARCHAR))', ["a", "b"], "array(varchar)"),
    (
        'CAST(JSON \'{"k1":1,"k2":23}\' AS MAP(VARCHAR, INTEGER))',
        {"k1": 1, "k2": 23},
        "map(varchar, integer)",
    ),
    ("CAST(ARRAY[1, 23, 456] AS JSON)", "[1,23,456]", "json"),
    ("CAST('abc' AS JSON)", '"abc"', "json"),
    ("CAST('say \"hi\"' AS JSON)", '"say \\"hi\\""', "json"),
    ("CAST(true AS JSON)", "true", "json"),
    ("CAST(12 AS JSON)", "12", "json"),
    ("CAST(json_extract('{\"s\": \"hi\"}', '$.s') AS VARCHAR)", "hi", "varchar"),
    ("CAST(json_extract('{\"n\": 5}', '$.n') AS BIGINT)", 5, "bigint"),
    ("CAST(json_extract('{\"b\": true}', '$.b') AS BOOLEAN)", True, "boolean"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


def test_cloudtrail_request_parameters() -> None:
    assert events(
        "SELECT json_extract_scalar(requestparameters, '$.bucketName') FROM cloudtrail ORDER BY id"
    ) == ["logs", "logs", "data", None, None]
    assert events(
        "SELECT json_extract_scalar(requestparameters, "
        "'$.instancesSet.items[1].imageId') FROM cloudtrail ORDER BY id"
    ) == [None, None, None, "ami-2", None]
    assert events(
        "SELECT json_array_length(json_extract(requestparameters, '$.instancesSet.items')) "
        "FROM cloudtrail ORDER BY id"
    ) == [None, None, None, 2, None]


def test_group_by_a_json_field() -> None:
    frame = run(
        "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, count(*) AS n "
        "FROM cloudtrail WHERE eventname LIKE '%Bucket%' OR eventname = 'PutObject' "
        "GROUP BY 1 ORDER BY 1",
        {"cloudtrail": EVENTS},
    )
    assert frame.rows() == [("data", 1), ("logs", 2)]


#: documents a path walk must find a member in, or not, whatever the key's spelling
SPELLINGS = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6, 7, 8],
        "doc": [
            '{"roleArn": "arn:aws:iam::1:role/a"}',
            '{"r\\u006fleArn": "escaped key"}',  # the key written with an escape
            '{"note": "roleArn"}',  # the key's text only as a value
            '{"x": {"roleArn": "nested"}}',
            '{"say \\"hi\\"": "quoted key", "roleArn": "\\u00e9t\\u00e9"}',
            '{"clé": "raw non-ASCII key"}',
            "not json",
            None,
        ],
    }
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "$.roleArn",
            ["arn:aws:iam::1:role/a", "escaped key", None, None, "été", None, None, None],
        ),
        ("$.x.roleArn", [None, None, None, "nested", None, None, None, None]),
        ('$["say \\"hi\\""]', [None, None, None, None, "quoted key", None, None, None]),
        ('$["clé"]', [None, None, None, None, None, "raw non-ASCII key", None, None]),
    ],
)
def test_members_whatever_the_key_spelling(path: str, expected: list[Any]) -> None:
    """Documents are only skipped before the path walk when they cannot hold the member."""
    literal = path.replace("'", "''")
    assert (
        column(
            f"SELECT json_extract_scalar(doc, '{literal}') FROM docs ORDER BY id",
            {"docs": SPELLINGS},
        )
        == expected
    )


DUCKDB_CASES = [
    "SELECT id, json_extract_scalar(requestparameters, '$.bucketName') FROM cloudtrail ORDER BY id",
    "SELECT id, json_extract_scalar(requestparameters, '$.size') FROM cloudtrail ORDER BY id",
    "SELECT id, json_extract(requestparameters, '$.key') FROM cloudtrail ORDER BY id",
    "SELECT id, json_extract(requestparameters, '$.CreateBucketConfiguration') "
    "FROM cloudtrail ORDER BY id",
    "SELECT id, json_array_length(json_extract(requestparameters, '$.host')) "
    "FROM cloudtrail ORDER BY id",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql, {"cloudtrail": EVENTS})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT json_extract('{}', eventname) FROM cloudtrail", "JSON path must be a constant"),
        ("SELECT json_extract('{}', '$..a')", "JSON path"),
        ("SELECT json_array_get('[1]', -1)", "non-negative"),
        ("SELECT json_parse('{\"a\": ')", "Cannot convert value to JSON"),
    ],
)
def test_invalid_paths_are_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        run(sql, {"cloudtrail": EVENTS})
