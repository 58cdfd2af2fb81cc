"""Trino semantics stated directly, where DuckDB (the differential oracle) answers differently."""

from __future__ import annotations

import datetime as dt
import decimal

import polars as pl
import pyarrow as pa
import pytest

from loglake.errors import SqlError
from loglake.query.engine import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    t = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "x": [3, None, 1, 2],
            "g": ["a", "b", None, "a"],
            "amt": [
                decimal.Decimal("1.25"),
                decimal.Decimal("2.50"),
                None,
                decimal.Decimal("0.10"),
            ],
        },
        schema_overrides={"amt": pl.Decimal(10, 2)},
    )
    maps = pl.from_arrow(
        pa.table(
            {
                "id": [1, 2],
                "tags": pa.array(
                    [[("env", "prod"), ("team", "sec")], [("env", "dev")]],
                    type=pa.map_(pa.string(), pa.string()),
                ),
                "recs": [
                    [{"name": "s3", "n": 1}, {"name": "ec2", "n": 2}],
                    [{"name": "iam", "n": 5}],
                ],
                "nums": [[10, 20, 30], [40]],
            }
        )
    )
    return Engine(tables={"t": t, "m": maps, "empty": t.clear()})


def one(engine: Engine, sql: str, params: list[object] | None = None) -> object:
    df = engine.execute(sql, params=params).df
    assert df is not None and df.shape == (1, 1), df
    return df.item()


def column(engine: Engine, sql: str) -> list[object]:
    df = engine.execute(sql).df
    assert df is not None
    return df.to_series(0).to_list()


def test_integer_division_truncates_toward_zero(engine: Engine) -> None:
    assert one(engine, "SELECT 7 / 2") == 3
    assert one(engine, "SELECT -7 / 2") == -3
    assert one(engine, "SELECT 7 / -2") == -3


def test_modulo_takes_the_sign_of_the_dividend(engine: Engine) -> None:
    assert one(engine, "SELECT -7 % 3") == -1
    assert one(engine, "SELECT 7 % -3") == 1


def test_decimal_multiplication_adds_scales(engine: Engine) -> None:
    df = engine.execute("SELECT DECIMAL '1.50' * DECIMAL '3.25' AS p").df
    assert df is not None
    assert df.schema["p"].scale == 4  # type: ignore[union-attr]
    assert df.item() == decimal.Decimal("4.8750")


def test_decimal_division_rounds_half_up_to_the_larger_scale(engine: Engine) -> None:
    assert one(engine, "SELECT DECIMAL '1.55' / DECIMAL '3.00'") == decimal.Decimal("0.52")


def test_decimal_literal_is_exact(engine: Engine) -> None:
    assert one(engine, "SELECT 0.1 + 0.2") == decimal.Decimal("0.3")


def test_avg_of_decimal_keeps_the_scale(engine: Engine) -> None:
    df = engine.execute("SELECT avg(amt) AS a FROM t").df
    assert df is not None
    assert isinstance(df.schema["a"], pl.Decimal)
    assert df.item() == decimal.Decimal("1.28")  # 3.85 / 3 = 1.2833 -> 1.28


def test_avg_of_integers_is_double(engine: Engine) -> None:
    assert one(engine, "SELECT avg(x) FROM t") == 2.0


def test_nulls_sort_last_in_both_directions(engine: Engine) -> None:
    assert column(engine, "SELECT x FROM t ORDER BY x") == [1, 2, 3, None]
    assert column(engine, "SELECT x FROM t ORDER BY x DESC") == [3, 2, 1, None]
    assert column(engine, "SELECT x FROM t ORDER BY x DESC NULLS FIRST") == [None, 3, 2, 1]


def test_three_valued_logic(engine: Engine) -> None:
    assert one(engine, "SELECT NULL AND FALSE") is False
    assert one(engine, "SELECT NULL OR TRUE") is True
    assert one(engine, "SELECT NULL AND TRUE") is None
    assert one(engine, "SELECT NULL = NULL") is None
    assert one(engine, "SELECT 2 IN (1, NULL)") is None
    assert one(engine, "SELECT 1 IN (1, NULL)") is True
    assert one(engine, "SELECT NOT (NULL > 1)") is None


def test_not_in_a_list_or_subquery_holding_null_keeps_nothing(engine: Engine) -> None:
    assert column(engine, "SELECT id FROM t WHERE x NOT IN (1, NULL)") == []
    assert column(engine, "SELECT id FROM t WHERE id NOT IN (SELECT x FROM t)") == []
    assert column(engine, "SELECT id FROM t WHERE id NOT IN (SELECT x FROM empty) ORDER BY id") == [
        1,
        2,
        3,
        4,
    ]


def test_aggregates_over_no_rows(engine: Engine) -> None:
    df = engine.execute(
        "SELECT count(*) c, count(x) cx, sum(x) s, avg(x) a, max(g) m FROM empty"
    ).df
    assert df is not None
    assert df.row(0) == (0, 0, None, None, None)
    assert engine.execute("SELECT g, count(*) FROM empty GROUP BY g").df.height == 0  # type: ignore[union-attr]


def test_sum_of_only_nulls_is_null(engine: Engine) -> None:
    assert one(engine, "SELECT sum(x) FROM t WHERE x IS NULL") is None


def test_typed_literals(engine: Engine) -> None:
    assert one(engine, "SELECT DATE '2024-02-28' + INTERVAL '2' DAY") == dt.date(2024, 3, 1)
    assert one(engine, "SELECT DATE '2024-01-31' + INTERVAL '1' MONTH") == dt.date(2024, 2, 29)
    assert one(
        engine, "SELECT TIMESTAMP '2024-01-01 10:00:00' - INTERVAL '90' MINUTE"
    ) == dt.datetime(2024, 1, 1, 8, 30)
    assert one(engine, "SELECT DECIMAL '0.06'") == decimal.Decimal("0.06")


def test_identifiers_are_case_insensitive(engine: Engine) -> None:
    assert column(engine, 'SELECT ID FROM T WHERE "X" = 3') == [1]
    df = engine.execute("SELECT Id AS MyId FROM t WHERE id = 1").df
    assert df is not None and df.columns == ["myid"]


def test_unnamed_columns_are_numbered_by_position(engine: Engine) -> None:
    df = engine.execute("SELECT id, x + 1, count(*) OVER () FROM t").df
    assert df is not None and df.columns == ["id", "_col1", "_col2"]


def test_implicit_numeric_coercions(engine: Engine) -> None:
    assert one(engine, "SELECT 1 + 2.5E0") == 3.5
    assert one(engine, "SELECT CAST(1 AS BIGINT) = 1") is True
    assert one(engine, "SELECT DECIMAL '1.5' + 1") == decimal.Decimal("2.5")


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("SELECT 1 = 'a'", "Cannot apply operator: integer = varchar"),
        ("SELECT 'a' * 1", "Cannot apply operator: varchar \\* integer"),
        ("SELECT id FROM t WHERE g > 1", "Cannot apply operator: varchar > integer"),
        ("SELECT id FROM t WHERE id", "must evaluate to a boolean"),
    ],
)
def test_refused_coercions_are_errors(engine: Engine, sql: str, fragment: str) -> None:
    with pytest.raises(SqlError, match=fragment):
        engine.execute(sql)


def test_cast_rounds_to_integer(engine: Engine) -> None:
    assert one(engine, "SELECT CAST(2.5E0 AS INTEGER)") == 3
    assert one(engine, "SELECT CAST(-2.5E0 AS INTEGER)") == -3
    assert one(engine, "SELECT TRY_CAST('x' AS INTEGER)") is None
    with pytest.raises(SqlError):
        engine.execute("SELECT CAST('x' AS INTEGER)")


def test_cast_of_a_text_column_to_date(engine: Engine) -> None:
    """A partition kept as text (``day``) read as the DATE a documented table has."""
    days = "(VALUES (' 2024-05-06'), ('2024-02-29'), (NULL)) AS v(day)"
    assert column(engine, f"SELECT CAST(day AS DATE) FROM {days}") == [
        dt.date(2024, 5, 6),
        dt.date(2024, 2, 29),
        None,
    ]
    assert column(engine, f"SELECT day_of_week(date(day)) FROM {days}") == [1, 4, None]
    bad = "(VALUES ('2023-02-29'), ('2024-05-06T10:00:00Z')) AS v(day)"
    assert column(engine, f"SELECT TRY_CAST(day AS DATE) FROM {bad}") == [None, None]
    with pytest.raises(SqlError, match="Cannot cast"):
        engine.execute(f"SELECT CAST(day AS DATE) FROM {bad}")


def test_unnest_of_rows_expands_fields(engine: Engine) -> None:
    df = engine.execute(
        "SELECT id, name, n FROM m CROSS JOIN UNNEST(recs) AS r(name, n) ORDER BY n"
    ).df
    assert df is not None
    assert df.rows() == [(1, "s3", 1), (1, "ec2", 2), (2, "iam", 5)]


def test_unnest_of_a_map_gives_keys_and_values(engine: Engine) -> None:
    df = engine.execute(
        "SELECT id, k, v FROM m CROSS JOIN UNNEST(tags) AS t(k, v) ORDER BY id, k"
    ).df
    assert df is not None
    assert df.rows() == [(1, "env", "prod"), (1, "team", "sec"), (2, "env", "dev")]


def test_map_and_array_subscripts(engine: Engine) -> None:
    assert column(engine, "SELECT tags['env'] FROM m ORDER BY id") == ["prod", "dev"]
    assert column(engine, "SELECT nums[1] FROM m ORDER BY id") == [10, 40]
    with pytest.raises(SqlError):
        engine.execute("SELECT nums[3] FROM m")


def test_unnest_with_ordinality_counts_from_one(engine: Engine) -> None:
    df = engine.execute(
        "SELECT n, i FROM m CROSS JOIN UNNEST(nums) WITH ORDINALITY AS u(n, i) WHERE id = 1"
    ).df
    assert df is not None and sorted(df.rows()) == [(10, 1), (20, 2), (30, 3)]


def test_parameters_fill_placeholders_in_order(engine: Engine) -> None:
    df = engine.execute("SELECT id FROM t WHERE g = ? AND x > ? ORDER BY id", params=["a", 1]).df
    assert df is not None and df.to_series().to_list() == [1, 4]
    assert one(engine, "SELECT ?", params=["it's"]) == "it's"
    assert one(engine, "SELECT ? || '?'", params=["a"]) == "a?"
    with pytest.raises(SqlError, match="parameter"):
        engine.execute("SELECT ? + ?", params=[1])


def test_path_pseudo_column_is_not_part_of_star(engine: Engine) -> None:
    df = engine.execute("SELECT * FROM t").df
    assert df is not None and "$path" not in df.columns
    assert one(engine, 'SELECT DISTINCT "$path" FROM t') == "memory://t"


def test_lazy_results(engine: Engine) -> None:
    lf = engine.execute("SELECT id FROM t WHERE x > 1", lazy=True).lazy
    assert isinstance(lf, pl.LazyFrame)
    assert sorted(lf.collect().to_series().to_list()) == [1, 4]


def test_left_join_unnest_keeps_rows_with_empty_arrays() -> None:
    engine = Engine(tables={"t": pl.DataFrame({"id": [1, 2], "arr": [[1, 2], []]})})
    df = engine.execute(
        "SELECT id, x FROM t LEFT JOIN UNNEST(arr) AS u(x) ON TRUE ORDER BY id, x"
    ).df
    assert df is not None and df.rows() == [(1, 1), (1, 2), (2, None)]
    df = engine.execute("SELECT id, x FROM t CROSS JOIN UNNEST(arr) AS u(x) ORDER BY id, x").df
    assert df is not None and df.rows() == [(1, 1), (1, 2)]
