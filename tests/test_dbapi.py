"""The PEP 249 driver: results equal ``lake.sql``'s, parameters are bound, errors are PEP 249's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import loglake
from loglake import dbapi
from loglake.datasets import generate
from loglake.query.cost import athena_cost_usd
from loglake.query.history import read_history
from tests.conftest import TEST_CREDENTIALS, new_lake

BIG_ROWS = 200_000


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two days of generated AWS logs (tables split by day) and a 200,000-row Parquet table."""
    base = tmp_path_factory.mktemp("dbapi")
    generate(
        str(base / "raw"),
        accounts=1,
        regions=1,
        days=2,
        events_per_day=300,
        seed=5,
        scenarios=["compromised_access_key"],
        start="2024-05-06T00:00:00Z",
        progress=False,
    )
    lake = new_lake(base / "lake")
    lake.ingest(str(base / "raw"), progress=False)
    numbers = base / "numbers"
    numbers.mkdir()
    ids = pl.int_range(BIG_ROWS, eager=True)
    for part in range(4):
        chunk = ids.filter(ids % 4 == part)
        pl.DataFrame({"id": chunk, "label": chunk.cast(pl.String) + "-row"}).write_parquet(
            numbers / f"part-{part}.parquet"
        )
    lake.catalog.update_lake_settings(allowed_locations=[str(numbers)])  # data beside the lake
    lake.sql(
        f"CREATE EXTERNAL TABLE numbers (id bigint, label string) STORED AS PARQUET "
        f"LOCATION '{numbers}'"
    )
    return str(base / "lake")


@pytest.fixture
def connection(lake_root: str) -> dbapi.Connection:
    return dbapi.connect(lake_root, database="aws")


def test_module_globals_and_type_objects() -> None:
    assert (dbapi.apilevel, dbapi.threadsafety, dbapi.paramstyle) == ("2.0", 1, "qmark")
    assert issubclass(dbapi.ProgrammingError, dbapi.DatabaseError)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    assert issubclass(dbapi.OperationalError, dbapi.DatabaseError)
    assert issubclass(dbapi.InterfaceError, dbapi.Error)
    assert dbapi.STRING == "varchar" and dbapi.NUMBER == "decimal(10, 2)"
    assert dbapi.NUMBER == "bigint" and dbapi.NUMBER != "varchar"
    assert dbapi.DATETIME == "timestamp with time zone" and dbapi.ROW == 'row("a" varchar)'
    assert dbapi.Date(2024, 5, 6) == dt.date(2024, 5, 6)


def test_rows_and_description_match_lake_sql(lake_root: str, connection: dbapi.Connection) -> None:
    sql = """
        SELECT eventname, count(*) AS calls, min(eventtime) AS first, useridentity.type AS kind
        FROM cloudtrail GROUP BY eventname, useridentity.type ORDER BY calls DESC, eventname, kind
    """
    expected = loglake.connect(lake_root, database="aws").sql(sql)
    cursor = connection.cursor()
    assert cursor.execute(sql) is cursor
    assert [(d[0], d[1]) for d in cursor.description] == [
        ("eventname", "varchar"),
        ("calls", "bigint"),
        ("first", "varchar"),
        ("kind", "varchar"),
    ]
    assert cursor.description[1][1] == dbapi.NUMBER
    assert cursor.fetchall() == expected.rows()
    assert cursor.rowcount == expected.height
    assert cursor.stats.rows == expected.height


def test_structs_and_fetch_sizes(connection: dbapi.Connection) -> None:
    cursor = connection.cursor()
    cursor.execute("SELECT useridentity, eventtime FROM cloudtrail ORDER BY eventtime LIMIT 7")
    assert cursor.description[0][1].startswith("row(") and cursor.description[0][1] == dbapi.ROW
    first = cursor.fetchone()
    assert isinstance(first[0], dict) and "arn" in first[0]
    cursor.arraysize = 2
    assert len(cursor.fetchmany()) == 2
    assert len(cursor.fetchmany(3)) == 3
    assert len(cursor.fetchall()) == 1
    assert cursor.fetchone() is None and cursor.fetchmany(5) == [] and cursor.fetchall() == []
    assert cursor.rowcount == 7


def test_parameters_are_bound_never_spliced(connection: dbapi.Connection) -> None:
    cursor = connection.cursor()
    hostile = "x' OR '1'='1"
    cursor.execute("SELECT count(*) FROM cloudtrail WHERE eventname = ?", [hostile])
    assert cursor.fetchone() == (0,)
    # a ? inside a string literal or comment is text, not a parameter
    cursor.execute("SELECT '?' AS mark, ? AS value -- what ?", ("it's",))
    assert cursor.fetchall() == [("?", "it's")]
    cursor.execute(
        "SELECT ? AS d, ? AS n, ? AS f, ? AS b, ? AS nothing",
        (dt.date(2024, 5, 6), 3, 1.5, True, None),
    )
    assert cursor.fetchone() == (dt.date(2024, 5, 6), 3, 1.5, True, None)
    busiest = connection.execute(
        "SELECT eventname FROM cloudtrail GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchone()[0]
    cursor.execute("SELECT count(*) FROM cloudtrail WHERE eventname = ?", [busiest])
    assert cursor.fetchone()[0] > 0


def test_parameter_mistakes_are_programming_errors(connection: dbapi.Connection) -> None:
    cursor = connection.cursor()
    with pytest.raises(dbapi.ProgrammingError, match=r"2 parameter\(s\) but 1 value\(s\)"):
        cursor.execute("SELECT ? , ?", [1])
    with pytest.raises(dbapi.ProgrammingError, match=r"0 parameter\(s\) but 2 value\(s\)"):
        cursor.execute("SELECT 1", [1, 2])
    with pytest.raises(dbapi.ProgrammingError, match="qmark"):
        cursor.execute("SELECT ?", {"a": 1})
    with pytest.raises(dbapi.ProgrammingError, match="list or tuple"):
        cursor.execute("SELECT ?", "a")


def test_sql_errors_carry_line_and_column(connection: dbapi.Connection) -> None:
    cursor = connection.cursor()
    with pytest.raises(dbapi.ProgrammingError) as caught:
        cursor.execute("SELECT eventname\nFROM cloudtrail\nWHERE nosuchcolumn = 1")
    assert (caught.value.line, caught.value.column) == (3, 7)
    assert "nosuchcolumn" in str(caught.value) and "Traceback" not in str(caught.value)
    with pytest.raises(dbapi.ProgrammingError) as caught:
        cursor.execute("SELECT FROM WHERE")
    assert caught.value.line == 1 and caught.value.column is not None
    with pytest.raises(dbapi.ProgrammingError, match="nosuchtable"):
        cursor.execute("SELECT * FROM nosuchtable")
    # a value the query cannot process fails when the rows are read, as a DataError
    with pytest.raises(dbapi.DataError, match="query failed"):
        cursor.execute("SELECT CAST(eventname AS integer) FROM cloudtrail").fetchall()
    # the cursor stays usable after an error
    assert cursor.execute("SELECT 1").fetchall() == [(1,)]


def test_closed_connection_and_cursor_raise(lake_root: str) -> None:
    connection = dbapi.connect(lake_root, database="aws")
    cursor = connection.cursor()
    cursor.execute("SELECT 1")
    cursor.close()
    for call in (lambda: cursor.execute("SELECT 1"), cursor.fetchone, cursor.fetchall):
        with pytest.raises(dbapi.ProgrammingError, match="cursor is closed"):
            call()
    other = connection.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="no statement"):
        other.fetchone()
    connection.close()
    with pytest.raises(dbapi.ProgrammingError, match="cursor is closed"):
        other.execute("SELECT 1")
    with pytest.raises(dbapi.ProgrammingError, match="connection is closed"):
        connection.cursor()
    with pytest.raises(dbapi.ProgrammingError, match="connection is closed"):
        connection.commit()
    with dbapi.connect(lake_root) as again, pytest.raises(dbapi.NotSupportedError):
        again.rollback()
    assert again.closed


def test_iterating_then_fetching_runs_the_query_once(
    lake_root: str, connection: dbapi.Connection
) -> None:
    settings = connection.lake.settings
    before = len(read_history(settings))
    cursor = connection.cursor()
    cursor.execute("SELECT id FROM default.numbers WHERE id < 10 ORDER BY id")
    seen = []
    for (value,) in cursor:
        seen.append(value)
        if len(seen) == 3:
            break
    rest = cursor.fetchall()
    assert seen + [v for (v,) in rest] == list(range(10))
    assert list(cursor) == [] and cursor.fetchall() == []
    history = read_history(settings)
    assert len(history) == before + 1
    assert history[-1]["query_id"] == cursor.query_id


def test_fetchmany_streams_in_batches(connection: dbapi.Connection) -> None:
    cursor = connection.cursor()
    cursor.execute("SELECT id, label FROM default.numbers")
    assert cursor.rowcount == -1  # not known until every row is read
    first = cursor.fetchmany(1000)
    assert len(first) == 1000
    assert 0 < cursor.rows_received <= dbapi.BATCH_ROWS < BIG_ROWS
    total = len(first)
    while batch := cursor.fetchmany(50_000):
        total += len(batch)
    assert total == BIG_ROWS and cursor.rowcount == BIG_ROWS and cursor.stats.rows == BIG_ROWS


def test_as_polars_pandas_arrow_and_stats(connection: dbapi.Connection) -> None:
    cursor = connection.cursor()
    cursor.execute("SELECT id, label FROM default.numbers WHERE id < 5 ORDER BY id")
    assert cursor.fetchone() == (0, "0-row")
    rest = cursor.as_polars()  # the rows not fetched yet
    assert rest["id"].to_list() == [1, 2, 3, 4]
    cursor.execute("SELECT id FROM default.numbers WHERE id < 3 ORDER BY id")
    assert cursor.as_pandas()["id"].tolist() == [0, 1, 2]
    cursor.execute("SELECT id FROM default.numbers WHERE id < 3 ORDER BY id")
    assert cursor.as_arrow().column("id").to_pylist() == [0, 1, 2]

    day = connection.execute("SELECT min(day) FROM cloudtrail").fetchone()[0]
    cursor.execute("SELECT count(*) FROM cloudtrail WHERE day = ?", [day])
    cursor.fetchall()
    stats = cursor.stats
    assert stats.files_scanned >= 1 and stats.files_skipped >= 1
    assert stats.bytes_scanned > 0 and cursor.query_id == stats.query_id
    assert stats.athena_cost_usd == athena_cost_usd(stats.bytes_scanned)
    assert "Athena would charge USD 0.000048" in stats.summary()


def test_statements_that_write(tmp_path: Path) -> None:
    connection = dbapi.connect(new_lake(tmp_path / "lake"))
    cursor = connection.cursor()
    cursor.execute("CREATE TABLE seen AS SELECT 'a' AS ip, 1 AS n")
    assert cursor.rowcount == 1
    cursor.executemany("INSERT INTO seen VALUES (?, ?)", [("b", 2), ("c", 3), ("d'); --", 4)])
    assert cursor.rowcount == 3
    connection.commit()
    assert connection.execute("SELECT ip FROM seen ORDER BY n").fetchall() == [
        ("a",),
        ("b",),
        ("c",),
        ("d'); --",),
    ]
    shown = connection.execute("SHOW TABLES")
    assert shown.description[0][1] == "varchar" and ("seen",) in shown.fetchall()


@pytest.mark.s3
def test_lake_in_a_bucket(s3_settings) -> None:
    options = {"endpoint_url": s3_settings.endpoint_url, "environ": {}, **TEST_CREDENTIALS}
    with dbapi.connect(new_lake(s3_settings.root, **options)) as connection:
        connection.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'x'), (2, 'y')) v(n, s)")
        rows = connection.execute("SELECT s FROM t WHERE n = ?", [2]).fetchall()
    assert rows == [("y",)]
