"""``?`` parameters are bound as typed literal nodes in the parsed tree, never pasted in as text."""

from __future__ import annotations

import datetime as dt
import decimal

import polars as pl
import pytest

from loglake.errors import SqlError
from loglake.query.engine import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    flows = pl.DataFrame({"bytes": [10, 20, 30], "account": ["1111", "1111", "2222"]})
    return Engine(tables={"flows": flows})


def rows(engine: Engine, sql: str, params: list) -> list[tuple]:
    df = engine.execute(sql, params=params).df
    assert df is not None
    return df.rows()


def test_a_negative_parameter_after_a_minus_is_not_a_comment(engine: Engine) -> None:
    # pasted as text this became "0 --5 AND account = '9999'": the account filter vanished
    sql = "SELECT count(*) FROM flows WHERE bytes > 0 -? AND account = '9999'"
    assert rows(engine, sql, [-5]) == [(0,)]
    assert rows(engine, "SELECT 0 -?", [-5]) == [(5,)]


def test_a_parameter_never_joins_the_next_token(engine: Engine) -> None:
    with pytest.raises(SqlError) as info:
        engine.execute("SELECT ?1", params=[1])
    assert info.value.start is not None


@pytest.mark.parametrize(
    "value",
    [
        "x' OR '1'='1",
        "1; DROP TABLE flows",
        "-- comment",
        "/* open comment",
        "\\'",
        "?",
        "line\nbreak",
    ],
)
def test_string_parameters_stay_one_string(engine: Engine, value: str) -> None:
    assert rows(engine, "SELECT ? AS v, count(*) FROM flows WHERE account = ?", [value, value]) == [
        (value, 0)
    ]


def test_typed_parameters_keep_their_types(engine: Engine) -> None:
    df = engine.execute(
        "SELECT ? AS i, ? AS f, ? AS b, ? AS d, ? AS n, ? AS s",
        params=[7, 1.5, True, dt.date(2024, 2, 29), None, "x"],
    ).df
    assert df is not None
    assert df.row(0) == (7, 1.5, True, dt.date(2024, 2, 29), None, "x")
    assert df.schema["i"] == pl.Int32 and df.schema["f"] == pl.Float64  # Trino: integer, double
    assert df.schema["d"] == pl.Date
    dec = engine.execute("SELECT ? + 1 AS x", params=[decimal.Decimal("1.25")]).df
    assert dec is not None and float(dec.item()) == 2.25


def test_parameters_fill_in_order_and_in_subqueries(engine: Engine) -> None:
    sql = (
        "WITH big AS (SELECT * FROM flows WHERE bytes >= ?) "
        "SELECT account, count(*) FROM big WHERE account <> ? GROUP BY account ORDER BY 1 LIMIT ?"
    )
    assert rows(engine, sql, [20, "0000", 5]) == [("1111", 1), ("2222", 1)]


def test_count_mismatch_points_at_the_first_unfilled_placeholder(engine: Engine) -> None:
    with pytest.raises(SqlError) as info:
        engine.execute("SELECT ?, ?", params=[1])
    assert "2 parameter(s) but 1 value(s)" in info.value.bare_message
    assert info.value.start == len("SELECT ?, ")


def test_question_marks_in_strings_and_comments_are_not_parameters(engine: Engine) -> None:
    assert rows(engine, "SELECT '?' AS q -- ?\n, ? AS p", [3]) == [("?", 3)]


def test_explain_binds_parameters(engine: Engine) -> None:
    plan = engine.execute("EXPLAIN SELECT * FROM flows WHERE account = ?", params=["1111"]).plan
    assert plan is not None and "1111" in plan


def test_explain_method_binds_parameters(engine: Engine) -> None:
    plan = engine.explain("SELECT * FROM flows WHERE account = ?", ["2222"])
    assert "2222" in plan
    with pytest.raises(SqlError, match="1 parameter"):
        engine.explain("SELECT * FROM flows WHERE account = ?")
