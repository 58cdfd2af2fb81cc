"""Option errors of writing statements (UNLOAD, CTAS, INSERT) point at the option in the text,
and options nobody knows are refused instead of ignored."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

import loglake
from loglake.errors import SqlError


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> loglake.Lake:
    root = tmp_path_factory.mktemp("statements") / "lake"
    lake = loglake.connect(root, create=True)
    lake.sql(
        f"CREATE EXTERNAL TABLE ext (a int) PARTITIONED BY (p string) STORED AS PARQUET "
        f"LOCATION '{root / 'ext'}'"
    )
    return lake


# (statement, words of the error, the text the error points at)
CASES = [
    ("UNLOAD (SELECT 1 AS a) TO 'out/f' WITH (format = 'XML')", "UNLOAD format XML", "format"),
    (
        "UNLOAD (SELECT 1 AS a) TO 'out/b' WITH (format = 'JSON', bogus = '1')",
        "UNLOAD property 'bogus' does not exist",
        "bogus",
    ),
    (
        "UNLOAD (SELECT 1 AS a, 'x' AS p) TO 'out/p' WITH (partitioned_by = ARRAY['nope'])",
        "partition column(s) ['nope'] are not in the query's columns",
        "partitioned_by",
    ),
    (
        "UNLOAD (SELECT 1 AS a, 'x' AS day) TO 'out/s' WITH (partitioned_by = 'day')",
        "Invalid value for table property 'partitioned_by'",
        "partitioned_by",
    ),
    (
        "UNLOAD (SELECT 'x' AS p) TO 'out/o' WITH (partitioned_by = ARRAY['p'])",
        "Table contains only partition columns",
        "partitioned_by",
    ),
    (
        "UNLOAD (SELECT 1 AS a) TO 'out/c' WITH (compression = 'lzma9')",
        "compression 'lzma9' is not supported for PARQUET",
        "compression",
    ),
    (
        "UNLOAD (SELECT 1 AS a) TO 'out/d' WITH (format = 'TEXTFILE', field_delimiter = ',,')",
        "field_delimiter must be one single-byte character",
        "field_delimiter",
    ),
    (
        "CREATE TABLE c1 WITH (format = 'XML') AS SELECT 1 AS a",
        "stored as Parquet (Delta Lake), not XML",
        "format",
    ),
    (
        "CREATE TABLE c2 WITH (format = 'PARQUET', bogus = '1') AS SELECT 1 AS a",
        "Table property 'bogus' does not exist",
        "bogus",
    ),
    (
        "CREATE TABLE c3 WITH (partitioned_by = ARRAY['nope']) AS SELECT 1 AS a",
        "partition column(s) ['nope']",
        "partitioned_by",
    ),
    (
        "CREATE TABLE c4 WITH (external_location = '/etc') AS SELECT 1 AS a",
        "external_location is not supported",
        "external_location",
    ),
    ("INSERT INTO ext (a, nope) SELECT 1, 'x'", "Insert column(s) ['nope'] do not exist", "nope"),
    ("INSERT INTO ext SELECT 1 AS a", "Insert query has 1 columns but table", "1 AS a"),
]


@pytest.mark.parametrize(("sql", "words", "at"), CASES, ids=[c[1][:30] for c in CASES])
def test_statement_option_errors_point_at_the_option(
    lake: loglake.Lake, sql: str, words: str, at: str
) -> None:
    with pytest.raises(SqlError) as info:
        lake.sql(sql)
    error = info.value
    assert words in error.bare_message
    assert error.start is not None and sql[error.start :].startswith(at), (error.start, sql)
    assert "line 1, column" in str(error) and "^" in str(error)


def test_nothing_is_written_when_an_option_is_refused(lake: loglake.Lake) -> None:
    with pytest.raises(SqlError):
        lake.sql("UNLOAD (SELECT 1 AS a) TO 'out/nothing' WITH (format = 'CSV', bogus = 'x')")
    assert not (Path(lake.settings.root) / "out" / "nothing").exists()


def test_unload_compression_is_honoured(lake: loglake.Lake) -> None:
    lake.sql(
        "UNLOAD (SELECT 1 AS a, 'x' AS b) TO 'out/gz' "
        "WITH (format = 'TEXTFILE', compression = 'gzip', field_delimiter = '|')"
    )
    [written] = (Path(lake.settings.root) / "out" / "gz").glob("*.csv.gz")
    assert gzip.decompress(written.read_bytes()) == b"1|x\n"


def test_a_date_python_cannot_hold_is_a_data_error_through_dbapi(lake: loglake.Lake) -> None:
    from loglake import dbapi

    cursor = dbapi.connect(str(lake.settings.root)).cursor()
    with pytest.raises(dbapi.DataError, match="CAST it to varchar"):
        cursor.execute("SELECT DATE '9999-12-31' + INTERVAL '1' DAY AS d").fetchall()
    cursor.execute("SELECT CAST(DATE '9999-12-31' + INTERVAL '1' DAY AS varchar) AS d")
    assert cursor.fetchall() == [("+10000-01-01",)]
