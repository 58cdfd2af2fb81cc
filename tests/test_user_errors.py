"""Errors a newcomer meets first: syntax errors in the query's words, storage failures with the
cause and the fix, each one line, never parser or botocore internals."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from loglake.cli import main
from loglake.errors import SqlError
from loglake.query.engine import Engine

# (query, message, column the caret points at)
SYNTAX = [
    ("SELECT 1 *", "expected an expression after '*'", 10),
    ("SELECT a + FROM t", "expected an expression after '+'", 12),
    ("SELECT * FROM t WHERE a = ", "expected an expression after '='", 25),
    ("SELECT * FROM t WHERE a = 1 AND", "expected an expression after 'AND'", 29),
    ("SELECT * FROM", "expected a table name after 'FROM'", 10),
    ("SELECT a FROM t JOIN", "expected a table name after 'JOIN'", 17),
    ("SELECT * FROM t WHERE", "expected a condition after WHERE", 17),
    ("SELECT a FROM t ORDER BY", "expected a column or expression after ORDER BY", 17),
    ("SELECT * FROM t LIMIT", "expected a number after LIMIT", 17),
    ("SELECT (1", "expected ')' to close '('", 9),
    ("SELECT CASE WHEN a THEN 1 FROM t", "expected END to close CASE", 25),
    ("SELECT CAST(a AS ) FROM t", "expected a type after AS in CAST", 18),
    ("SELECT a FROM t WHERE a BETWEEN 1", "expected AND and an upper bound in BETWEEN", 33),
    ("SELECT 1 FROM t UNION", "expected a query after UNION", 17),
    ("WITH x AS (SELECT 1) ", "expected a query (SELECT ...) after the WITH clause", 20),
    ("SELECT 'abc", "unterminated string: the ' here is never closed", 8),
    ('SELECT "a FROM t', 'unterminated quoted name: the " here is never closed', 8),
    ("SELEC 1", "unknown statement 'SELEC': a query starts with SELECT, WITH or VALUES", 1),
    ("SELECT a b c FROM t", "unexpected 'c'", 12),
]


@pytest.mark.parametrize(("sql", "message", "column"), SYNTAX)
def test_syntax_errors_say_what_is_missing_and_where(sql: str, message: str, column: int) -> None:
    engine = Engine(tables={"t": pl.DataFrame({"a": [1]})})
    with pytest.raises(SqlError) as raised:
        engine.execute(sql)
    error = raised.value
    assert error.bare_message == f"syntax error: {message}"
    assert (error.line, error.column) == (1, column)
    for internal in ("sqlglot", "<class", "Required keyword", "Token", "SENTINEL"):
        assert internal not in str(error)


@pytest.mark.parametrize(
    ("member", "way", "value"),
    [
        (
            "requestParameters.bucketName",
            "json_extract_scalar(requestParameters, '$.bucketName')",
            "b",
        ),
        (
            "t.requestparameters.bucketName",
            "json_extract_scalar(t.requestparameters, '$.bucketName')",
            "b",
        ),
        (
            'ci.configuration."instanceType"',
            "json_extract_scalar(ci.configuration, '$.instanceType')",
            "t3.micro",
        ),
    ],
)
def test_a_member_of_json_text_is_refused_with_the_way_that_works(
    member: str, way: str, value: str
) -> None:
    """A member of a VARCHAR is an error in Athena too; the message says how to read JSON text,
    spelled as the query spells it (JSON keys are matched with their case), and that works."""
    rows = {
        "requestparameters": ['{"bucketName": "b"}'],
        "items": [[{"configuration": '{"instanceType": "t3.micro"}'}]],
    }
    engine = Engine(tables={"t": pl.DataFrame(rows)})
    sql = "SELECT {} AS v FROM t CROSS JOIN UNNEST(items) AS u(ci)"
    with pytest.raises(SqlError, match="is not of type ROW") as caught:
        engine.execute(sql.format(member))
    assert f"read the member with {way}" in str(caught.value)
    assert engine.execute(sql.format(way)).df.item(0, 0) == value


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_missing_credentials_are_one_line_with_what_to_do(
    no_aws_credentials: None, s3_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = str(tmp_path / "lake")
    argv = ["--lake", lake, "ingest", "s3://trail-bucket/AWSLogs/", "--endpoint-url", s3_server]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == (
        "loglake: no AWS credentials were found for s3://trail-bucket/AWSLogs/: set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), pass --profile NAME, or "
        "for MinIO and other S3-compatible servers --endpoint-url URL with that server's keys\n"
    )


def test_an_unreachable_endpoint_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    lake = str(tmp_path / "lake")
    argv = ["--lake", lake, "ingest", "s3://trail-bucket/AWSLogs/"]
    assert main([*argv, "--endpoint-url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "loglake: the storage endpoint could not be reached for s3://trail-bucket/AWSLogs/: "
        "check --endpoint-url"
    )
    assert err.count("\n") == 1
