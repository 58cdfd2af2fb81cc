"""json_extract_scalar and json_extract of ``$.key`` read a first member from the document's
opening text (query/functions/json_member.py) and walk every other document. The two readings
must agree wherever Trino's answer does not depend on text after the member."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from test_functions_support import column

from loglake.query.functions import json as json_functions

#: documents a first-member reading and a whole-document walk answer alike
HOSTILE = [
    '{"k":"plain","z":1}',
    '{"k":""}',
    '{"k":"a,b}c"}',  # delimiters inside the string
    '{"k":"a}","z":1}',
    '{"k":"x\\",\\"k\\":\\"forged"}',  # escaped quotes that spell another member
    '{"k":"\\"","z":1}',
    '{"k":"\\u0022"}',  # an escaped quote
    '{"k":"del\x7f"}',  # outside printable ASCII: left to the walk
    '{"k":"x" ,"z":1}',
    '{"k":"say \\"hi\\"","z":1}',  # escapes: left to the walk
    '{"k":"back\\\\slash"}',
    '{"k":"caf\\u00e9"}',
    '{"k":"café"}',  # non-ASCII text
    '{"k":"日本","z":"é"}',  # non-ASCII inside the token and after it
    '{"k":"ok","é":"日本"}',
    ' {"k":"leading space"}',  # the opening is read only at the very start of the text
    'x\n{"k":"second line"}',
    '{"k":"tab\tinside"}',  # a raw control character: not JSON
    '{"k":12}',
    '{"k":-7,"z":[1]}',
    '{"k":0}',
    '{"k":-0}',  # the walk prints -0.0
    '{"k":1.50}',
    '{"k":1e3}',
    '{"k":123456789012345678}',
    '{"k":12345678901234567890123}',
    '{"k":01}',  # a leading zero is not JSON
    '{"k":true}',
    '{"k":false,"z":null}',
    '{"k":truex}',
    '{"k":null}',
    '{"k":nul}',
    '{"k":[1,[2,[3]]]}',
    '{"k":[null]}',  # a container holding only null is still a container
    '{"k":{"x":null}}',
    '{"k":{}}',
    '{"k":[]}',
    '{"k":{"k":"inner"}}',
    '{"k":"[1]"}',  # strings that look like containers
    '{"k":"{\\"a\\":1}"}',
    '{"k":"true"}',
    '{"k":"12"}',
    '{"a":1,"k":"second"}',  # not the first member: walked
    '{"x":{"k":"nested"}}',
    '{"kk":"longer key"}',
    '{"K":"other case"}',
    '{"\\u006b":"escaped key"}',
    '{"é":1,"k":"after a unicode key"}',
    '{ "k": "spaced" }',
    '{"k": "spaced"}',
    '{"k": "spaced", "z": 1}',  # Python's json.dumps: one space after the colon
    '{"k": 12, "z": 1}',
    '{"k": -0}',
    '{"k": true}',
    '{"k": null}',
    '{"k": [1, 2]}',
    '{"k": {"x": 1}}',
    '{"k": "say \\"hi\\""}',
    '{"k":  "two spaces"}',
    '{"k":\t"tab"}',
    '{"k":\n"newline"}',
    '{"k": "x" , "z": 1}',  # a space before the comma
    '{"a": 1, "k": "second"}',
    '["k"]',
    '[{"k":"in an array"}]',
    '"k"',
    "42",
    "null",
    "",
    "   ",
    '{"k" "x"}',  # broken before the member
    '{"k":"x',
    '{k:"x"}',
    "{'k':'x'}",
    '{"k":',
    None,
]


def _both(sql: str, docs: list[str | None], monkeypatch: pytest.MonkeyPatch) -> tuple[list, list]:
    frame = pl.DataFrame(
        {"id": range(len(docs)), "doc": docs}, schema={"id": pl.Int64, "doc": pl.String}
    )
    read = column(sql, {"docs": frame})
    with monkeypatch.context() as patch:
        patch.setattr(json_functions, "top_member", lambda *_, **__: None)
        walked = column(sql, {"docs": frame})
    return read, walked


@pytest.mark.parametrize("function", ["json_extract_scalar", "json_extract"])
def test_first_member_reading_agrees_with_the_walk(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    read, walked = _both(
        f"SELECT {function}(doc, '$.k') FROM docs ORDER BY id", HOSTILE, monkeypatch
    )
    assert read == walked
    assert read[0] == ("plain" if function == "json_extract_scalar" else '"plain"')
    # the walk really ran without the shortcut: it reads a repeated key's last value
    read, walked = _both(f"SELECT {function}(doc, '$.k') FROM docs", ['{"k":1,"k":2}'], monkeypatch)
    assert (read, walked) == (["1"], ["2"])


def test_where_member_is_not_null(monkeypatch: pytest.MonkeyPatch) -> None:
    read, walked = _both(
        "SELECT count(*) FROM docs WHERE json_extract_scalar(doc, '$.k') IS NOT NULL",
        HOSTILE,
        monkeypatch,
    )
    assert read == walked


#: (document, json_extract_scalar, json_extract): Trino reads tokens up to the member it is
#: asked for and stops, so a later repeated key or broken text after the value changes nothing
TRINO_STREAMING = [
    ('{"k":"first","k":"second"}', "first", '"first"'),
    ('{"k":1,"k":2}', "1", "1"),
    ('{"k":"x"} trailing text', "x", '"x"'),
    ('{"k":"x",broken', "x", '"x"'),
    ('{"k":true,}', "true", "true"),
    ('{"k": "first", "k": "second"}', "first", '"first"'),
    ('{"k": 7, broken', "7", "7"),
    ('{"k":"x"}{"k":"forged"}', "x", '"x"'),  # a second document after the first
    ('{"k":"x"}\n{"k":"forged"}', "x", '"x"'),  # ... on the next line
    ('{"k":false,"k":true}', "false", "false"),
    ('{"k":"","k":"second"}', "", '""'),
]


@pytest.mark.parametrize(("doc", "scalar", "json"), TRINO_STREAMING)
def test_text_after_the_first_member_is_not_read(doc: str, scalar: str, json: str) -> None:
    frame = pl.DataFrame({"doc": [doc]})
    sql = "SELECT json_extract_scalar(doc, '$.k'), json_extract(doc, '$.k') FROM docs"
    assert column(sql, {"docs": frame}) == [scalar]
    assert column(sql.replace("json_extract_scalar(doc, '$.k'), ", ""), {"docs": frame}) == [json]


@pytest.mark.parametrize("function", ["json_value", "json_exists"])
def test_sql_json_functions_read_the_whole_document(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trino's SQL/JSON functions parse their whole input: no first-member reading there."""
    docs = HOSTILE + [doc for doc, _, _ in TRINO_STREAMING]
    read, walked = _both(
        f"SELECT {function}(doc, 'lax $.k') FROM docs ORDER BY id", docs, monkeypatch
    )
    assert read == walked


@pytest.mark.parametrize(
    ("doc", "scalar", "json"),
    [
        ('{"z":0,"k":[null]}', None, "[null]"),
        ('{"z":0,"k":{"x":null,"y":1}}', None, '{"x":null,"y":1}'),
        ('{"z":0,"k":"[null]"}', "[null]", '"[null]"'),
        ('{"z":{"k":[null]}}', None, None),
    ],
)
def test_walked_containers_of_nulls_are_containers(doc: str, scalar: Any, json: Any) -> None:
    frame = pl.DataFrame({"doc": [doc]})
    assert column("SELECT json_extract_scalar(doc, '$.k') FROM docs", {"docs": frame}) == [scalar]
    assert column("SELECT json_extract(doc, '$.k') FROM docs", {"docs": frame}) == [json]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("json_extract(doc, '$')", '"[1,2]"'),
        ("json_parse(doc)", '"[1,2]"'),
        ("json_extract_scalar(doc, '$')", "[1,2]"),
        ("json_size(doc, '$')", 0),
        ("json_array_length(doc)", None),
        ("is_json_scalar(doc)", True),
    ],
)
def test_a_document_that_is_a_string_is_a_scalar(expression: str, expected: Any) -> None:
    """A whole document ``"[1,2]"`` is a string whose text looks like an array."""
    frame = pl.DataFrame({"doc": ['"[1,2]"']})
    assert column(f"SELECT {expression} FROM docs", {"docs": frame}) == [expected]


def test_json_conditions_read_only_the_rows_the_other_conditions_keep() -> None:
    """json_parse fails on text that is not JSON; the other condition of WHERE already dropped
    those rows, as Trino's AND stops at a false operand."""
    frame = pl.DataFrame(
        {
            "eventname": ["PutObject", "GetObject", "PutObject", "GetObject"],
            "doc": ['{"k":"a"}', "not json", '{"k":"b","z":[1]}', "{broken"],
        }
    )
    sql = (
        "SELECT json_extract_scalar(doc, '$.k') FROM docs "
        "WHERE eventname = 'PutObject' AND json_parse(doc) IS NOT NULL ORDER BY 1"
    )
    assert column(sql, {"docs": frame}) == ["a", "b"]


def test_a_mostly_null_column_finds_members_as_a_dense_one(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A column the files' statistics say is mostly NULL skips documents without the key by
    another test (query/functions/json.py, _mentions): the answers must not change."""
    from loglake.catalog import Catalog
    from loglake.query.engine import Engine

    spellings = [
        '{"roleArn": "arn:aws:iam::1:role/a"}',
        '{"r\\u006fleArn": "escaped key"}',  # the key written with an escape
        '{"note": "roleArn"}',  # the key's text only as a value
        '{"x": {"roleArn": "nested"}}',
        '{"say \\"hi\\"": "quoted key", "roleArn": "\\u00e9t\\u00e9"}',
        '{"clé": "raw non-ASCII key"}',
        "not json",
        None,
    ]
    # the first-member reading of a sparse column tests no prefix first: its anchored
    # expression alone must keep Trino's reading
    docs = [*HOSTILE, *spellings, *(doc for doc, _, _ in TRINO_STREAMING)]
    padded = [*docs, *[None] * (9 * len(docs))]
    frame = pl.DataFrame(
        {"id": range(len(padded)), "doc": padded}, schema={"id": pl.Int64, "doc": pl.String}
    )
    folder = tmp_path / "sparse"
    folder.mkdir()
    frame.write_parquet(folder / "part-0.parquet")
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(
        f"CREATE EXTERNAL TABLE sparse (id bigint, doc string) STORED AS PARQUET LOCATION '{folder}'"
    )
    for function in ("json_extract_scalar", "json_extract"):
        for path in ("$.k", "$.roleArn", "$.x.roleArn"):
            sql = f"SELECT {function}(doc, '{path}') AS v FROM sparse ORDER BY id"
            plan = engine.explain(sql)
            assert "contains_any" in plan
            sparse = engine.execute(sql).df
            assert sparse is not None
            dense = column(sql.replace("sparse", "docs"), {"docs": frame})
            assert sparse["v"].to_list() == dense
    found = engine.execute(
        "SELECT json_extract_scalar(doc, '$.roleArn') AS v FROM sparse WHERE id >= "
        f"{len(HOSTILE)} ORDER BY id"
    ).df
    assert found is not None
    assert found["v"].to_list()[:8] == [
        "arn:aws:iam::1:role/a",
        "escaped key",
        None,
        None,
        "été",
        None,
        None,
        None,
    ]
