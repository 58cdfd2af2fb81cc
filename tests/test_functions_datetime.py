"""Date and time functions: Trino's documented examples, log-style timestamps, DuckDB checks."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from test_functions_support import assert_matches_duckdb, assert_typed, column, run

from loglake.errors import SqlError

UTC = dt.UTC
LOGS = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5],
        "eventtime": [
            "2024-01-31T10:04:05Z",
            "2024-02-29T23:59:59.500Z",
            "2024-03-01T00:00:00+02:00",
            None,
            "2023-12-31T12:00:00Z",
        ],
        "start": [1706695445, 1709251199, 1709244000, None, 1704024000],
    }
)


def at(*parts: int, tz: Any = None) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=tz)


LITERAL_CASES: list[tuple[str, Any, str]] = [
    ("date_trunc('hour', TIMESTAMP '2001-08-22 03:04:05.321')", at(2001, 8, 22, 3), "timestamp(6)"),
    (
        "date_trunc('minute', TIMESTAMP '2001-08-22 03:04:05.321')",
        at(2001, 8, 22, 3, 4),
        "timestamp(6)",
    ),
    ("date_trunc('day', TIMESTAMP '2001-08-22 03:04:05.321')", at(2001, 8, 22), "timestamp(6)"),
    ("date_trunc('week', TIMESTAMP '2001-08-22 03:04:05.321')", at(2001, 8, 20), "timestamp(6)"),
    ("date_trunc('month', TIMESTAMP '2001-08-22 03:04:05.321')", at(2001, 8, 1), "timestamp(6)"),
    ("date_trunc('quarter', TIMESTAMP '2001-08-22 03:04:05.321')", at(2001, 7, 1), "timestamp(6)"),
    ("date_trunc('year', DATE '2001-08-22')", dt.date(2001, 1, 1), "date"),
    (
        "date_add('second', 86, TIMESTAMP '2020-03-01 00:00:00')",
        at(2020, 3, 1, 0, 1, 26),
        "timestamp(6)",
    ),
    ("date_add('hour', 9, TIMESTAMP '2020-03-01 00:00:00')", at(2020, 3, 1, 9), "timestamp(6)"),
    ("date_add('day', -1, DATE '2020-03-01')", dt.date(2020, 2, 29), "date"),
    ("date_add('month', 1, DATE '2024-01-31')", dt.date(2024, 2, 29), "date"),
    ("date_add('year', 1, DATE '2024-02-29')", dt.date(2025, 2, 28), "date"),
    ("date_add('week', 2, DATE '2024-01-01')", dt.date(2024, 1, 15), "date"),
    (
        "date_diff('second', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')",
        86400,
        "bigint",
    ),
    (
        "date_diff('hour', TIMESTAMP '2020-03-01 00:00:00', TIMESTAMP '2020-03-02 00:00:00')",
        24,
        "bigint",
    ),
    ("date_diff('day', DATE '2020-03-01', DATE '2020-03-02')", 1, "bigint"),
    ("date_diff('day', DATE '2020-03-02', DATE '2020-03-01')", -1, "bigint"),
    (
        "date_diff('millisecond', TIMESTAMP '2020-06-01 12:30:45', "
        "TIMESTAMP '2020-06-02 12:30:45.123')",
        86400123,
        "bigint",
    ),
    ("date_diff('hour', TIMESTAMP '2020-01-01 00:00', TIMESTAMP '2020-01-01 05:59')", 5, "bigint"),
    ("date_diff('hour', TIMESTAMP '2020-01-01 05:59', TIMESTAMP '2020-01-01 00:00')", -5, "bigint"),
    ("date_diff('month', DATE '2024-01-15', DATE '2024-02-14')", 0, "bigint"),
    ("date_diff('month', DATE '2024-01-15', DATE '2024-03-15')", 2, "bigint"),
    ("date_diff('year', DATE '2020-06-01', DATE '2024-05-31')", 3, "bigint"),
    ("date_diff('quarter', DATE '2024-01-01', DATE '2024-12-31')", 3, "bigint"),
    ("date_format(TIMESTAMP '2022-10-20 05:10:00', '%m-%d-%Y %H')", "10-20-2022 05", "varchar"),
    (
        "date_format(TIMESTAMP '2022-10-20 05:10:07.123', '%Y-%m-%d %H:%i:%s.%f')",
        "2022-10-20 05:10:07.123000",
        "varchar",
    ),
    (
        "date_format(TIMESTAMP '2022-10-20 15:10:00', '%W %M %e %r')",
        "Thursday October 20 03:10:00 PM",
        "varchar",
    ),
    ("date_parse('2022/10/20/05', '%Y/%m/%d/%H')", at(2022, 10, 20, 5), "timestamp(6)"),
    ("date_parse('20/10/2022', '%d/%m/%Y')", at(2022, 10, 20), "timestamp(6)"),
    (
        "date_parse('2022-10-20 05:10:07', '%Y-%m-%d %H:%i:%s')",
        at(2022, 10, 20, 5, 10, 7),
        "timestamp(6)",
    ),
    (
        "format_datetime(TIMESTAMP '2020-01-05 10:11:12', 'yyyy-MM-dd HH:mm:ss')",
        "2020-01-05 10:11:12",
        "varchar",
    ),
    (
        "format_datetime(TIMESTAMP '2020-01-05 10:11:12', 'EEE, d MMM yyyy')",
        "Sun, 5 Jan 2020",
        "varchar",
    ),
    (
        "format_datetime(TIMESTAMP '2020-01-05 10:11:12.345', 'HH:mm:ss.SSS')",
        "10:11:12.345",
        "varchar",
    ),
    (
        "parse_datetime('2020-01-05 10:11', 'yyyy-MM-dd HH:mm')",
        at(2020, 1, 5, 10, 11, tz=UTC),
        "timestamp(6) with time zone",
    ),
    (
        "parse_datetime('05/01/2020', 'dd/MM/yyyy')",
        at(2020, 1, 5, tz=UTC),
        "timestamp(6) with time zone",
    ),
    ("from_unixtime(0)", at(1970, 1, 1, tz=UTC), "timestamp(6) with time zone"),
    (
        "from_unixtime(1700000000.5)",
        at(2023, 11, 14, 22, 13, 20, 500000, tz=UTC),
        "timestamp(6) with time zone",
    ),
    ("to_unixtime(from_iso8601_timestamp('1970-01-02T00:00:00Z'))", 86400.0, "double"),
    (
        "from_iso8601_timestamp('2020-05-11T11:15:05')",
        at(2020, 5, 11, 11, 15, 5, tz=UTC),
        "timestamp(6) with time zone",
    ),
    (
        "from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')",
        at(2020, 5, 11, 10, 15, 5, 55000, tz=UTC),
        "timestamp(6) with time zone",
    ),
    (
        "from_iso8601_timestamp('2020-05-11')",
        at(2020, 5, 11, tz=UTC),
        "timestamp(6) with time zone",
    ),
    ("from_iso8601_timestamp(NULL)", None, "timestamp(6) with time zone"),
    ("try(from_iso8601_timestamp('yesterday'))", None, "timestamp(6) with time zone"),
    ("from_iso8601_date('2020-05-11')", dt.date(2020, 5, 11), "date"),
    ("to_iso8601(DATE '2020-05-11')", "2020-05-11", "varchar"),
    (
        "to_iso8601(from_iso8601_timestamp('2020-05-11T11:15:05Z'))",
        "2020-05-11T11:15:05.000Z",
        "varchar",
    ),
    ("to_iso8601(TIMESTAMP '2020-05-11 11:15:05.123')", "2020-05-11T11:15:05.123", "varchar"),
    ("year(DATE '2024-02-29')", 2024, "bigint"),
    ("month(DATE '2024-02-29')", 2, "bigint"),
    ("day(DATE '2024-02-29')", 29, "bigint"),
    ("day_of_week(DATE '2024-01-07')", 7, "bigint"),
    ("dow(DATE '2024-01-08')", 1, "bigint"),
    ("day_of_year(DATE '2024-12-31')", 366, "bigint"),
    ("week(DATE '2024-01-01')", 1, "bigint"),
    ("week_of_year(DATE '2021-01-01')", 53, "bigint"),
    ("year_of_week(DATE '2021-01-01')", 2020, "bigint"),
    ("quarter(DATE '2024-08-01')", 3, "bigint"),
    ("hour(TIMESTAMP '2020-01-01 13:14:15.678')", 13, "bigint"),
    ("minute(TIMESTAMP '2020-01-01 13:14:15.678')", 14, "bigint"),
    ("second(TIMESTAMP '2020-01-01 13:14:15.678')", 15, "bigint"),
    ("millisecond(TIMESTAMP '2020-01-01 13:14:15.678')", 678, "bigint"),
    ("extract(YEAR FROM DATE '2024-02-29')", 2024, "bigint"),
    ("extract(DOW FROM DATE '2024-01-07')", 7, "bigint"),
    ("extract(HOUR FROM TIMESTAMP '2020-01-01 13:14:15')", 13, "bigint"),
    ("last_day_of_month(DATE '2024-02-10')", dt.date(2024, 2, 29), "date"),
    ("date(TIMESTAMP '2024-02-10 23:59:59')", dt.date(2024, 2, 10), "date"),
    ("date('2024-02-10')", dt.date(2024, 2, 10), "date"),
    (
        "from_iso8601_timestamp('2012-10-31T01:00:00Z') AT TIME ZONE 'America/Los_Angeles'",
        at(2012, 10, 30, 18, tz=ZoneInfo("America/Los_Angeles")),
        "timestamp(6) with time zone",
    ),
    (
        "at_timezone(from_iso8601_timestamp('2012-10-31T01:00:00Z'), 'Asia/Tokyo')",
        at(2012, 10, 31, 10, tz=ZoneInfo("Asia/Tokyo")),
        "timestamp(6) with time zone",
    ),
    (
        "with_timezone(TIMESTAMP '2001-08-22 03:04:05.321', 'America/Los_Angeles')",
        at(2001, 8, 22, 3, 4, 5, 321000, tz=ZoneInfo("America/Los_Angeles")),
        "timestamp(6) with time zone",
    ),
    (
        "hour(from_iso8601_timestamp('2012-10-31T01:00:00Z') AT TIME ZONE 'Asia/Tokyo')",
        10,
        "bigint",
    ),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


def test_current_time_is_the_query_start() -> None:
    before = dt.datetime.now(UTC)
    frame = run("SELECT current_timestamp AS ts, now() AS n, current_date AS d")
    after = dt.datetime.now(UTC)
    ts, n, day = frame.row(0)
    assert before <= ts <= after and before <= n <= after
    assert day in (before.date(), after.date())


def logs(sql: str) -> list[Any]:
    return column(sql, {"cloudtrail": LOGS})


def test_cloudtrail_event_times() -> None:
    assert logs(
        "SELECT date_format(from_iso8601_timestamp(eventtime), '%Y-%m-%d %H:%i') "
        "FROM cloudtrail ORDER BY id"
    ) == ["2024-01-31 10:04", "2024-02-29 23:59", "2024-02-29 22:00", None, "2023-12-31 12:00"]
    assert logs(
        "SELECT count(*) FROM cloudtrail "
        "WHERE from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2024-02-01T00:00:00Z')"
    ) == [2]
    assert logs(
        "SELECT date_trunc('day', from_iso8601_timestamp(eventtime)) AS d FROM cloudtrail "
        "WHERE eventtime IS NOT NULL GROUP BY 1 ORDER BY 1"
    ) == [at(2023, 12, 31, tz=UTC), at(2024, 1, 31, tz=UTC), at(2024, 2, 29, tz=UTC)]


#: ISO 8601 texts of every form in one column, each with the instant Trino reads (None: TRY of
#: an invalid text); AWS's own form (whole seconds, Z) is read by a quicker parser first, and the
#: others, near misses of it included, must still be read the general way in the same batch
ISO_FORMS: list[tuple[str, Any]] = [
    ("2024-05-06T10:00:07Z", at(2024, 5, 6, 10, 0, 7, tz=UTC)),
    ("2024-05-06T10:00:07.250Z", at(2024, 5, 6, 10, 0, 7, 250000, tz=UTC)),
    ("2024-05-06T10:00:07+02:00", at(2024, 5, 6, 8, 0, 7, tz=UTC)),
    ("2024-05-06T10:00:07-05:30", at(2024, 5, 6, 15, 30, 7, tz=UTC)),
    ("2024-05-06T10:00Z", at(2024, 5, 6, 10, 0, tz=UTC)),
    ("2024-05-06T10:00:07", at(2024, 5, 6, 10, 0, 7, tz=UTC)),
    ("2024-05-06", at(2024, 5, 6, tz=UTC)),
    ("2024-02-29T23:59:59Z", at(2024, 2, 29, 23, 59, 59, tz=UTC)),
    ("2024-02-30T00:00:00Z", None),
    ("2023-02-29T00:00:00Z", None),
    ("2024-05-06T10:00:61Z", None),
    ("2024-05-06T10:00:07ZZ", None),
    ("2024-05-06X10:00:07Z", None),
    (None, None),
]


def test_every_iso_form_in_one_column() -> None:
    times = pl.DataFrame(
        {"id": range(len(ISO_FORMS)), "t": [text for text, _ in ISO_FORMS]},
        schema={"id": pl.Int64, "t": pl.String},
    )
    got = column("SELECT try(from_iso8601_timestamp(t)) FROM times ORDER BY id", {"times": times})
    assert got == [expected for _, expected in ISO_FORMS]
    with pytest.raises(SqlError, match="Invalid format for from_iso8601_timestamp"):
        run("SELECT from_iso8601_timestamp(t) FROM times", {"times": times})


DUCKDB_CASES = [
    "SELECT id, from_unixtime(start) FROM cloudtrail ORDER BY id",
    "SELECT id, date_trunc('hour', from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, date_trunc('month', from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, year(from_unixtime(start)), month(from_unixtime(start)), "
    "day(from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, hour(from_unixtime(start)), minute(from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, day_of_week(from_unixtime(start)), day_of_year(from_unixtime(start)) "
    "FROM cloudtrail ORDER BY id",
    "SELECT id, to_unixtime(from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, date_add('hour', 5, from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, date_add('month', 1, from_unixtime(start)) FROM cloudtrail ORDER BY id",
    "SELECT id, date_diff('minute', from_unixtime(start), from_unixtime(1709251199)) "
    "FROM cloudtrail ORDER BY id",
    "SELECT id, date_diff('day', from_unixtime(start), from_unixtime(1709251199)) "
    "FROM cloudtrail ORDER BY id",
    "SELECT id, date_format(from_unixtime(start), '%Y-%m-%d %H:%i:%s') FROM cloudtrail ORDER BY id",
    "SELECT date_trunc('day', from_unixtime(start)) AS d, count(*) FROM cloudtrail "
    "GROUP BY 1 ORDER BY 1",
]


@pytest.mark.parametrize("sql", DUCKDB_CASES)
def test_same_as_duckdb(sql: str) -> None:
    assert_matches_duckdb(sql, {"cloudtrail": LOGS})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT date_trunc('fortnight', DATE '2020-01-01')", "not a valid"),
        ("SELECT date_trunc('hour', DATE '2020-01-01')", "not a valid DATE field"),
        ("SELECT date_add('eon', 1, DATE '2020-01-01')", "not a valid unit"),
        ("SELECT from_unixtime(0) AT TIME ZONE 'Mars/Olympus'", "Time zone not supported"),
        ("SELECT format_datetime(TIMESTAMP '2020-01-01 00:00', 'yyyy-qq')", "pattern letter"),
        ("SELECT date_parse('x', '%Y')", "Invalid format for date_parse: 'x'"),
        ("SELECT from_iso8601_date('2024-13-03')", "Invalid format for from_iso8601_date"),
        ("SELECT parse_datetime('2024', 'yyyy-MM-dd')", "Invalid format for parse_datetime"),
        (
            "SELECT from_iso8601_timestamp('2024-13-01')",
            "Invalid format for from_iso8601_timestamp",
        ),
    ],
)
def test_invalid_arguments_are_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        run(sql)


def test_zoned_and_plain_timestamps_compare_in_the_session_zone() -> None:
    """Trino reads the plain side of `timestamp with time zone` vs `timestamp` in the session
    zone (UTC): the +02:00 event at midnight is the instant 22:00 UTC the day before."""
    ts = "from_iso8601_timestamp(eventtime)"
    where = "SELECT id FROM cloudtrail WHERE {} ORDER BY id"
    assert logs(where.format(f"{ts} > TIMESTAMP '2024-02-01 00:00:00'")) == [2, 3]
    assert logs(where.format(f"TIMESTAMP '2024-02-01 00:00:00' >= {ts}")) == [1, 5]
    assert logs(where.format(f"{ts} = TIMESTAMP '2024-02-29 22:00:00'")) == [3]
    assert logs(
        where.format(
            f"{ts} BETWEEN TIMESTAMP '2024-01-01 00:00:00' AND TIMESTAMP '2024-02-29 22:00:00'"
        )
    ) == [1, 3]
    assert logs(where.format(f"{ts} NOT BETWEEN DATE '2024-01-01' AND DATE '2024-03-01'")) == [5]
    assert logs(where.format(f"{ts} IN (TIMESTAMP '2023-12-31 12:00:00', {ts})")) == [1, 2, 3, 5]
    assert logs(where.format(f"{ts} + INTERVAL '1' DAY > TIMESTAMP '2024-03-01 00:00:00'")) == [
        2,
        3,
    ]
    assert logs(f"SELECT {ts} + INTERVAL '1' DAY FROM cloudtrail WHERE id = 1") == [
        at(2024, 2, 1, 10, 4, 5, tz=UTC)
    ]


def test_hourly_buckets_of_zoned_times_meet_plain_timestamps() -> None:
    hour = "date_trunc('hour', from_iso8601_timestamp(eventtime))"
    assert logs(
        f"SELECT {hour} AS h, count(*) FROM cloudtrail WHERE eventtime IS NOT NULL "
        f"GROUP BY 1 HAVING {hour} >= TIMESTAMP '2024-02-29 22:00:00' ORDER BY 1"
    ) == [at(2024, 2, 29, 22, tz=UTC), at(2024, 2, 29, 23, tz=UTC)]
    assert logs(
        f"SELECT count(*) FROM cloudtrail WHERE {hour} = TIMESTAMP '2024-01-31 10:00:00'"
    ) == [1]


def test_zoned_and_plain_timestamps_share_one_result_type() -> None:
    """COALESCE, CASE, IF and GREATEST over both kinds return `timestamp with time zone`."""
    ts = "from_iso8601_timestamp(eventtime)"
    default = "TIMESTAMP '2000-01-01 00:00:00'"
    assert logs(f"SELECT coalesce({ts}, {default}) FROM cloudtrail WHERE id = 4") == [
        at(2000, 1, 1, tz=UTC)
    ]
    assert logs(
        f"SELECT CASE WHEN id = 1 THEN {default} ELSE {ts} END FROM cloudtrail "
        "WHERE id IN (1, 5) ORDER BY id"
    ) == [at(2000, 1, 1, tz=UTC), at(2023, 12, 31, 12, tz=UTC)]
    assert logs(
        f"SELECT nullif({ts}, TIMESTAMP '2023-12-31 12:00:00') FROM cloudtrail "
        "WHERE id IN (1, 5) ORDER BY id"
    ) == [at(2024, 1, 31, 10, 4, 5, tz=UTC), None]
    assert logs(f"SELECT if(id = 4, {default}, {ts}) FROM cloudtrail WHERE id = 4") == [
        at(2000, 1, 1, tz=UTC)
    ]
    assert logs(
        f"SELECT greatest({ts}, TIMESTAMP '2024-02-01 00:00:00') FROM cloudtrail "
        "WHERE id IN (1, 3) ORDER BY id"
    ) == [at(2024, 2, 1, tz=UTC), at(2024, 2, 29, 22, tz=UTC)]


def test_recent_events_relative_to_now() -> None:
    now = dt.datetime.now(UTC)
    recent = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "eventtime": [
                (now - dt.timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (1, 6, 30)
            ],
        }
    )
    for bound in ("now()", "current_timestamp"):
        sql = (
            "SELECT id FROM cloudtrail "
            f"WHERE from_iso8601_timestamp(eventtime) > {bound} - INTERVAL '7' DAY ORDER BY id"
        )
        assert column(sql, {"cloudtrail": recent}) == [1, 2]


def test_zoned_times_join_union_and_diff_with_plain_timestamps() -> None:
    hours = pl.DataFrame(
        {"h": ["2024-01-31 10:00:00", "2023-12-31 12:00:00", "2020-01-01 00:00:00"]}
    )
    tables = {"cloudtrail": LOGS, "hours": hours}
    assert column(
        "SELECT c.id FROM cloudtrail c JOIN hours ON "
        "date_trunc('hour', from_iso8601_timestamp(c.eventtime)) = CAST(hours.h AS TIMESTAMP) "
        "ORDER BY c.id",
        tables,
    ) == [1, 5]
    assert column(
        "SELECT x FROM (SELECT from_iso8601_timestamp(eventtime) AS x FROM cloudtrail WHERE id = 3 "
        "UNION ALL SELECT TIMESTAMP '2000-01-01 00:00:00') ORDER BY x",
        tables,
    ) == [at(2000, 1, 1, tz=UTC), at(2024, 2, 29, 22, tz=UTC)]
    assert logs(
        "SELECT date_diff('hour', TIMESTAMP '2024-02-29 00:00:00', "
        "from_iso8601_timestamp(eventtime)) FROM cloudtrail WHERE id IN (2, 3) ORDER BY id"
    ) == [23, 22]
