"""Plan shapes chosen for speed keep Trino's answers: null-aware sums, distinct counts,
correlated subqueries whose keys restrict a table before it is joined, and correlated MIN / MAX
read from the outer query's rows."""

from __future__ import annotations

import decimal

import polars as pl
import pytest
from difftest import DiffTester

from loglake.query.engine import Engine


def _rows(engine: Engine, sql: str) -> list[tuple]:
    df = engine.execute(sql).df
    assert df is not None
    return df.rows()


def test_sums_are_null_for_groups_without_values_and_do_not_wrap() -> None:
    big = 2**31 - 1
    engine = Engine(
        tables={
            "t": pl.DataFrame(
                {"g": [1, 1, 2, 3, 3, 3], "x": [big, big, None, 5, 5, None]},
                schema={"g": pl.Int64, "x": pl.Int32},
            )
        }
    )
    sql = (
        "SELECT g, sum(x), sum(DISTINCT x), count(DISTINCT x), count(x), avg(x) "
        "FROM t GROUP BY g ORDER BY g"
    )
    assert _rows(engine, sql) == [
        (1, 2 * big, big, 1, 2, float(big)),
        (2, None, None, 0, 0, None),
        (3, 10, 5, 1, 2, 5.0),
    ]
    assert _rows(engine, "SELECT sum(x), count(DISTINCT x) FROM t WHERE g > 9") == [(None, 0)]


def test_sum_and_decimal_avg_of_one_input_share_one_sum() -> None:
    engine = Engine(
        tables={
            "t": pl.DataFrame(
                {"g": [1, 1, 2, 3, 3], "x": ["1.25", "2.50", None, "0.10", None]},
                schema={"g": pl.Int64, "x": pl.String},
            ).with_columns(pl.col("x").cast(pl.Decimal(15, 2)))
        }
    )
    sql = (
        "SELECT g, sum(x), avg(x), sum(DISTINCT x), avg(DISTINCT x), count(x) "
        "FROM t GROUP BY g ORDER BY g"
    )
    D = decimal.Decimal
    assert _rows(engine, sql) == [
        (1, D("3.75"), D("1.88"), D("3.75"), D("1.88"), 2),
        (2, None, None, None, None, 0),
        (3, D("0.10"), D("0.10"), D("0.10"), D("0.10"), 1),
    ]
    plan = engine.execute(sql, lazy=True).lazy.explain()
    # one sum per input and per DISTINCT-ness (TPC-H q1 asks for sum and avg of two columns)
    assert plan.count(".sum(") == 2


def test_correlated_aggregate_over_a_join_reads_only_the_looked_up_keys() -> None:
    parts = pl.DataFrame({"p": [1, 2, 3, None], "size": [15, 15, 7, 15]})
    offers = pl.DataFrame(
        {
            "p": [1, 1, 2, 2, 3, None],
            "s": [10, 11, 10, 12, 11, 10],
            "cost": [5.0, 4.0, 9.0, 9.5, 1.0, 0.5],
        }
    )
    suppliers = pl.DataFrame({"s": [10, 11, 12], "region": ["EU", "EU", "US"]})
    engine = Engine(tables={"parts": parts, "offers": offers, "suppliers": suppliers})
    # the cheapest European offer per part of size 15, as TPC-H q2 asks it
    sql = """
        SELECT parts.p, offers.s, offers.cost
        FROM parts, offers, suppliers
        WHERE parts.p = offers.p AND offers.s = suppliers.s AND size = 15 AND region = 'EU'
          AND offers.cost < 50
          AND offers.cost = (
              SELECT min(o.cost) FROM offers o, suppliers x
              WHERE o.p = parts.p AND o.s = x.s AND x.region = 'EU')
        ORDER BY parts.p
    """
    # (the outer filter on offers that the subquery lacks keeps it from reading the outer rows)
    assert _rows(engine, sql) == [(1, 11, 4.0), (2, 10, 9.0)]
    # as compiled (before Polars optimises): the keys restrict the subquery's offers before they
    # are joined with suppliers
    plan = engine.compile(sql)[0].explain(optimized=False)
    semi = plan.index("SEMI JOIN:")
    restricted = plan[semi : plan.index("RIGHT PLAN", semi)]
    assert "INNER JOIN" not in restricted and 'DF ["p", "s", "cost"]' in restricted, plan


def test_comparisons_with_a_scalar_subquery_filter_row_by_row() -> None:
    t = pl.DataFrame({"id": list(range(10)), "x": [3, 8, None, 1, 9, 4, 7, 2, 6, 5]})
    engine = Engine(tables={"t": t})
    where = "SELECT id FROM t WHERE x > (SELECT avg(x) FROM t) ORDER BY id"
    having = (
        "SELECT id % 2 AS odd, sum(x) FROM t GROUP BY 1 "
        "HAVING sum(x) >= (SELECT max(x) FROM t) * 2 ORDER BY 1"
    )
    assert _rows(engine, where) == [(1,), (4,), (6,), (8,)]
    assert _rows(engine, having) == [(0, 25), (1, 20)]
    for sql in (where, having):
        # an inequality join would sort both sides where one of them is a single row
        assert "IEJOIN" not in engine.compile(sql)[0].explain()


@pytest.fixture(scope="module")
def offers() -> DiffTester:
    """Parts, offers and suppliers in TPC-H q2's shape, with what trips a wrong rewrite: a
    duplicated part, a part without offers, NULL keys and costs, and a cheaper offer outside
    the region the outer query asks for."""
    parts = pl.DataFrame(
        {"p": [1, 1, 2, 3, 4, None, 5], "size": [15, 15, 15, 7, 15, 15, 15]},
        schema={"p": pl.Int64, "size": pl.Int64},
    )
    offers = pl.DataFrame(
        {
            "p": [1, 1, 2, 2, 3, None, 4, 5, 5],
            "s": [10, 11, 10, 12, 11, 10, 12, 10, 11],
            "cost": [5.0, 4.0, 9.0, 8.0, 1.0, 0.5, 2.0, None, 3.0],
        },
        schema={"p": pl.Int64, "s": pl.Int64, "cost": pl.Float64},
    )
    suppliers = pl.DataFrame(
        {"s": [10, 11, 12], "region": ["EU", "EU", "US"]},
        schema={"s": pl.Int64, "region": pl.String},
    )
    return DiffTester({"parts": parts, "offers": offers, "suppliers": suppliers}, files=2)


Q2_SHAPE = """
    SELECT parts.p, offers.s, offers.cost
    FROM parts, offers, suppliers
    WHERE parts.p = offers.p AND offers.s = suppliers.s AND size = 15 AND region = 'EU'{outer}
      AND offers.cost = (
          SELECT {aggregate}(o.cost) FROM offers o, suppliers x
          WHERE o.p = parts.p AND o.s = x.s{inner})
    ORDER BY parts.p, offers.s
"""


def _offers_read(tester: DiffTester, sql: str) -> int:
    plan = tester.engine.compile(sql)[0].explain(optimized=False)
    return sum("SCAN" in line and "/offers/" in line for line in plan.splitlines())


@pytest.mark.parametrize("aggregate", ["min", "max"])
def test_correlated_min_over_the_outer_tables_reads_their_rows(
    offers: DiffTester, aggregate: str
) -> None:
    sql = Q2_SHAPE.format(outer="", inner=" AND x.region = 'EU'", aggregate=aggregate)
    rows = offers.check(sql).rows()
    expected = {
        "min": [(1, 11, 4.0), (1, 11, 4.0), (2, 10, 9.0), (5, 11, 3.0)],
        "max": [(1, 10, 5.0), (1, 10, 5.0), (2, 10, 9.0), (5, 11, 3.0)],
    }
    assert rows == expected[aggregate]
    # the subquery's offers are the outer query's: one read of the table
    assert _offers_read(offers, sql) == 1


@pytest.mark.parametrize(
    ("outer", "inner", "aggregate"),
    [
        # the outer query filters the shared tables more than the subquery does
        (" AND offers.cost > 4.5", " AND x.region = 'EU'", "min"),
        # the subquery filters less (a cheaper offer outside the region counts)
        ("", "", "min"),
        # the subquery filters something else
        ("", " AND x.region = 'US'", "min"),
        # duplicates count for SUM
        ("", " AND x.region = 'EU'", "sum"),
    ],
)
def test_correlated_aggregate_unlike_the_outer_query_reads_its_own_rows(
    offers: DiffTester, outer: str, inner: str, aggregate: str
) -> None:
    sql = Q2_SHAPE.format(outer=outer, inner=inner, aggregate=aggregate)
    offers.check(sql)
    assert _offers_read(offers, sql) == 2
