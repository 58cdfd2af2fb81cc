"""SQL errors point at the offending text and suggest what was probably meant."""

from __future__ import annotations

import polars as pl
import pytest

from loglake.errors import SqlError
from loglake.query.engine import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    events = pl.DataFrame(
        {
            "eventname": ["ConsoleLogin", "GetObject"],
            "eventsource": ["signin.amazonaws.com", "s3.amazonaws.com"],
            "useridentity": [{"arn": "a", "type": "Root"}, {"arn": "b", "type": "IAMUser"}],
        }
    )
    return Engine(tables={"events": events})


def error_of(engine: Engine, sql: str) -> SqlError:
    with pytest.raises(SqlError) as info:
        engine.execute(sql)
    return info.value


def underlined(err: SqlError) -> str:
    assert err.sql is not None and err.start is not None and err.end is not None
    return err.sql[err.start : err.end]


def test_unknown_column_points_at_it_and_suggests_close_names(engine: Engine) -> None:
    err = error_of(engine, "SELECT eventnam FROM events")
    assert "eventnam" in err.bare_message
    assert "eventname" in err.bare_message  # the suggestion
    assert underlined(err) == "eventnam"
    assert (err.line, err.column) == (1, 8)
    assert "^^^^^^^^" in str(err)


def test_unknown_column_on_a_later_line(engine: Engine) -> None:
    err = error_of(engine, "SELECT eventname\nFROM events\nWHERE eventsorce = 'x'")
    assert err.line == 3 and err.column == 7
    assert underlined(err) == "eventsorce"
    assert "eventsource" in err.bare_message


def test_unknown_table_suggests_tables(engine: Engine) -> None:
    err = error_of(engine, "SELECT * FROM event")
    assert "event" in err.bare_message and "events" in err.bare_message
    assert underlined(err) == "event"


def test_unknown_function_is_named_with_its_position(engine: Engine) -> None:
    err = error_of(engine, "SELECT no_such_fn(eventname) FROM events")
    assert "no_such_fn" in err.bare_message
    assert underlined(err) == "no_such_fn"


def test_syntax_error_has_a_position(engine: Engine) -> None:
    err = error_of(engine, "SELECT eventname FROM events WHERE")
    assert err.line == 1 and err.column is not None
    assert "syntax error" in err.bare_message.lower()


def test_unknown_struct_field_suggests_fields(engine: Engine) -> None:
    err = error_of(engine, "SELECT useridentity.typ FROM events")
    assert "typ" in err.bare_message and "type" in err.bare_message


def test_non_grouped_column_is_refused(engine: Engine) -> None:
    err = error_of(engine, "SELECT eventname, eventsource FROM events GROUP BY eventname")
    assert "GROUP BY" in err.bare_message
    assert underlined(err).endswith("eventsource")


def test_set_operation_width_mismatch(engine: Engine) -> None:
    err = error_of(
        engine, "SELECT eventname FROM events UNION SELECT eventname, eventsource FROM events"
    )
    assert "number of fields" in err.bare_message


def test_runtime_cast_failure_is_a_sql_error(engine: Engine) -> None:
    err = error_of(engine, "SELECT CAST(eventname AS INTEGER) FROM events")
    # both rows fail; as in Trino, the one reported is whichever is converted first (Polars
    # converts the rows of a frame in parallel pieces, so either can be)
    assert err.bare_message in {
        "Cannot cast 'ConsoleLogin' to INTEGER",
        "Cannot cast 'GetObject' to INTEGER",
    }
    assert underlined(err) == "eventname"


def test_unsupported_statement(engine: Engine) -> None:
    err = error_of(engine, "DELETE FROM events WHERE eventname = 'x'")
    assert "DELETE" in err.bare_message


@pytest.mark.parametrize("function", ["geometric_mean", "stddev"])
def test_unsupported_window_frame_names_the_function(function: str) -> None:
    numbers = Engine(tables={"t": pl.DataFrame({"n": [1.0, 2.0, 4.0]})})
    over = "OVER (ORDER BY n ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"
    err = error_of(numbers, f"SELECT {function}(n) {over} FROM t")
    assert err.bare_message == f"{function} with an ordered window frame is not supported"


#: a column outside GROUP BY: the message names it and the underline marks it as written, not
#: with the table name that name resolution adds (whose position is the FROM clause's)
UNGROUPED = [
    ("SELECT eventname, count(*) FROM events", "eventname"),
    ("SELECT upper(eventsource) || 'x', count(*) FROM events GROUP BY eventname", "eventsource"),
    ("SELECT e.eventsource, count(*) FROM events e GROUP BY e.eventname", "e.eventsource"),
    ('SELECT "e" . eventsource, count(*) FROM events e GROUP BY eventname', '"e" . eventsource'),
    (
        "SELECT count(*) OVER (ORDER BY eventsource), count(*) FROM events",
        "eventsource",
    ),
]


@pytest.mark.parametrize(("sql", "written"), UNGROUPED)
def test_a_column_outside_group_by_is_underlined_as_written(
    engine: Engine, sql: str, written: str
) -> None:
    err = error_of(engine, sql)
    assert underlined(err) == written
    assert f"'{written}' must be an aggregate expression or appear in GROUP BY" in err.bare_message
