"""Plan shapes chosen for speed keep Trino's answers: null-aware sums, distinct counts, and
correlated subqueries whose keys restrict a table before it is joined."""

from __future__ import annotations

import decimal

import polars as pl

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
          AND offers.cost = (
              SELECT min(o.cost) FROM offers o, suppliers x
              WHERE o.p = parts.p AND o.s = x.s AND x.region = 'EU')
        ORDER BY parts.p
    """
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
