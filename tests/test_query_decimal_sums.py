"""SUM and AVG of decimal arithmetic: exact values and Trino's types, whether the sum runs over
unscaled integers (bounds proved by declared precisions or file statistics) or over decimals.

Every expected value below is worked out by hand from the rows written here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loglake.catalog import Catalog
from loglake.errors import SqlError
from loglake.query.engine import Engine

D = Decimal


@pytest.fixture(scope="module")
def engine() -> Engine:
    small = pl.DataFrame(
        {
            "g": ["x", "x", "x", "y", "z"],
            "a": [D("1.25"), D("-3.10"), None, D("0.05"), None],
            "b": [D("0.125"), D("2.500"), D("1.000"), D("-0.333"), None],
        },
        schema_overrides={"a": pl.Decimal(5, 2), "b": pl.Decimal(4, 3)},
    )
    # x * y reaches 10^19, beyond 64 bits; the sum of the three rows beyond 2^64
    wide = pl.DataFrame(
        {
            "x": [D(9_999_999_999), D(9_999_999_999), D(-9_999_999_999)],
            "y": [D(999_999_999), D(999_999_999), D(1)],
        },
        schema_overrides={"x": pl.Decimal(10, 0), "y": pl.Decimal(9, 0)},
    )
    huge = pl.DataFrame(
        {"h": [D("99999999999999999999999999999999999999"), D(1)]},
        schema_overrides={"h": pl.Decimal(38, 0)},
    )
    return Engine(tables={"small": small, "wide": wide, "huge": huge})


def _frame(engine: Engine, sql: str) -> pl.DataFrame:
    df = engine.execute(sql).df
    assert df is not None
    return df


def _unscaled(engine: Engine, sql: str) -> bool:
    """Whether the query's plan sums unscaled integers: the decimals' stored values, read
    before grouping (an average of decimal sums reads a group's sum, a ``_a`` column, so)."""
    return re.search(r'col\("(?!_a)[^"]*"\)\.to_physical\(\)', engine.explain(sql)) is not None


def test_sums_of_decimal_arithmetic_per_group(engine: Engine) -> None:
    sql = (
        "SELECT g, sum(a * b) AS p, sum(a + b) AS s, sum(a - 1) AS d, sum(2 * a * b - b) AS f, "
        "sum(-a * b) AS n FROM small GROUP BY g ORDER BY g"
    )
    df = _frame(engine, sql)
    assert df.schema["p"] == pl.Decimal(38, 5)
    assert df.schema["s"] == pl.Decimal(38, 3)
    assert df.schema["d"] == pl.Decimal(38, 2)
    assert df.schema["f"] == pl.Decimal(38, 5)
    # x: 1.25 * 0.125 = 0.15625, -3.10 * 2.500 = -7.75000, NULL * 1.000 = NULL
    # y: 0.05 * -0.333 = -0.01665; z: no value, so every sum is NULL
    assert df.rows() == [
        ("x", D("-7.59375"), D("0.775"), D("-3.85"), D("-17.81250"), D("7.59375")),
        ("y", D("-0.01665"), D("-0.283"), D("-0.95"), D("0.29970"), D("0.01665")),
        ("z", None, None, None, None, None),
    ]
    assert _unscaled(engine, sql)


def test_avg_filter_and_distinct_of_decimal_products(engine: Engine) -> None:
    sql = (
        "SELECT g, avg(a * b) AS m, sum(a * b) FILTER (WHERE b < 1) AS f, "
        "sum(DISTINCT a * 2) AS u, avg(a * b) + 0 AS m2 FROM small GROUP BY g ORDER BY g"
    )
    df = _frame(engine, sql)
    assert df.schema["m"] == pl.Decimal(38, 5)
    # x: -7.59375 / 2 = -3.796875, half away from zero -> -3.79688
    assert df.rows() == [
        ("x", D("-3.79688"), D("0.15625"), D("-3.70"), D("-3.79688")),
        ("y", D("-0.01665"), D("-0.01665"), D("0.10"), D("-0.01665")),
        ("z", None, None, None, None),
    ]


def test_sums_and_averages_of_decimal_columns(engine: Engine) -> None:
    sql = (
        "SELECT g, sum(a) AS s, sum(b) AS t, avg(b) AS n, count(a) AS c "
        "FROM small GROUP BY g ORDER BY g"
    )
    df = _frame(engine, sql)
    assert df.schema["s"] == pl.Decimal(38, 2)
    assert df.schema["t"] == pl.Decimal(38, 3)
    # x: 1.25 - 3.10 = -1.85 (the NULL skipped); b: 0.125 + 2.500 + 1.000 = 3.625 over 3 rows
    # -> 1.208333 -> 1.208
    assert df.rows() == [
        ("x", D("-1.85"), D("3.625"), D("1.208"), 2),
        ("y", D("0.05"), D("-0.333"), D("-0.333"), 1),
        ("z", None, None, None, 0),
    ]
    # a sum of 10^38 fails as Trino fails it
    sql = "SELECT sum(h) FROM huge"
    with pytest.raises(SqlError, match="overflow"):
        engine.execute(sql)


def test_decimal_averages_round_half_away_from_zero(engine: Engine) -> None:
    # x: (1.25 - 3.10) / 2 = -0.925 -> -0.93 (a decimal division rounds it to even: -0.92);
    # y: 0.05. Over unscaled integers (a), over decimal kernels (a DECIMAL(38, 2) has no bound)
    sql = (
        "SELECT g, avg(a) AS m, avg(CAST(a AS decimal(38, 2))) AS w, avg(a * 1) AS p "
        "FROM small WHERE g < 'z' GROUP BY g ORDER BY g"
    )
    assert _frame(engine, sql).rows() == [
        ("x", D("-0.93"), D("-0.93"), D("-0.93")),
        ("y", D("0.05"), D("0.05"), D("0.05")),
    ]
    # b: (0.125 + 2.500 + 1.000 - 0.333) / 4 = 0.823 exactly; a 38-digit value averages to itself
    assert _frame(engine, "SELECT avg(b) FROM small").item() == D("0.823")
    big = "SELECT avg(h) FROM huge WHERE h > 1"
    assert _frame(engine, big).item() == D("99999999999999999999999999999999999999")


def test_decimal_average_keeps_the_input_type(engine: Engine) -> None:
    # Trino: avg(decimal(p, s)) is decimal(p, s); sum(decimal(p, s)) is decimal(38, s)
    sql = "SELECT avg(a) AS m, sum(a) AS s, avg(b) AS n FROM small"
    df = _frame(engine, sql)
    assert df.schema == {"m": pl.Decimal(5, 2), "s": pl.Decimal(38, 2), "n": pl.Decimal(4, 3)}
    assert df.rows() == [(D("-0.60"), D("-1.80"), D("0.823"))]  # -1.80 / 3 = -0.60
    assert _frame(engine, "SELECT typeof(avg(a)) FROM small").item() == "decimal(5,2)"


#: window averages over small.a ordered by g, then a (NULLs last): x -3.10, x 1.25, x NULL,
#: y 0.05, z NULL; each frame's exact mean rounded half away from zero, as the GROUP BY rounds
WINDOW_AVERAGES = [
    # whole partition x: (-3.10 + 1.25) / 2 = -0.925
    ("PARTITION BY g", ["-0.93", "-0.93", "-0.93", "0.05", None]),
    # running: -3.10; -0.925; -0.925 (the NULL row adds no value); y; z has none
    ("PARTITION BY g ORDER BY a", ["-3.10", "-0.93", "-0.93", "0.05", None]),
    # a row and the next one, over the whole table in order: -0.925, 1.25, 0.05, 0.05, NULL
    (
        "ORDER BY g, a ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING",
        ["-0.93", "1.25", "0.05", "0.05", None],
    ),
    # from the current row to the end: (-3.10 + 1.25 + 0.05) / 3 = -0.6; (1.25 + 0.05) / 2
    (
        "ORDER BY g, a ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
        ["-0.60", "0.65", "0.05", "0.05", None],
    ),
    # values within 5 below the row's own, in x: -3.10 alone; both (-0.925); a NULL key's peers
    (
        "PARTITION BY g ORDER BY a RANGE BETWEEN 5 PRECEDING AND CURRENT ROW",
        ["-3.10", "-0.93", None, "0.05", None],
    ),
    # keyed on b (a DECIMAL(4, 3)), within 2 either side: x's rows have b 2.500 (a -3.10),
    # 0.125 (1.25) and 1.000 (NULL); 1.000 is near both others, they are not near each other
    (
        "PARTITION BY g ORDER BY b RANGE BETWEEN 2 PRECEDING AND 2 FOLLOWING",
        ["-3.10", "1.25", "-0.93", "0.05", None],
    ),
]


@pytest.mark.parametrize(("window", "expected"), WINDOW_AVERAGES)
def test_window_averages_of_decimals_round_as_trino(
    engine: Engine, window: str, expected: list[str | None]
) -> None:
    sql = f"SELECT g, a, avg(a) OVER ({window}) AS m FROM small ORDER BY g, a NULLS LAST"
    df = _frame(engine, sql)
    assert df.schema["m"] == pl.Decimal(5, 2)
    assert df["m"].to_list() == [None if v is None else D(v) for v in expected]


def test_products_beyond_64_bits_sum_exactly(engine: Engine) -> None:
    sql = "SELECT sum(x * y) AS s, avg(x * y) AS m, sum(x * y - x) AS t FROM wide"
    df = _frame(engine, sql)
    assert df.schema["s"] == pl.Decimal(38, 0)
    # 9999999999 * 999999999 = 9999999989000000001, twice, then -9999999999 * 1
    assert df.row(0) == (
        D("19999999968000000003"),
        D("6666666656000000001"),
        D("19999999968000000003") - D("9999999999"),
    )
    assert _unscaled(engine, sql)


def test_products_without_a_bound_keep_decimal_kernels(engine: Engine) -> None:
    # 10^10 * 10^10 per row can pass what 2^63 rows may sum below 10^38
    sql = "SELECT sum(x * x) AS s FROM wide"
    assert _frame(engine, sql).item() == D("299999999940000000003")
    assert not _unscaled(engine, sql)


def test_decimal_overflow_still_fails(engine: Engine) -> None:
    with pytest.raises(SqlError, match="overflow"):
        engine.execute("SELECT sum(h * 10) FROM huge")
    with pytest.raises(SqlError, match="overflow"):
        engine.execute("SELECT sum(h + h) FROM huge")


# ---------------------------------------------------------------- bounds from file statistics

_LINES = pa.table(
    {
        "flag": ["A", "A", "B"],
        "price": pa.array([D("104949.50"), D("901.00"), D("55000.25")], pa.decimal128(15, 2)),
        "discount": pa.array([D("0.10"), D("0.00"), D("0.04")], pa.decimal128(15, 2)),
        "tax": pa.array([D("0.08"), D("0.02"), D("0.00")], pa.decimal128(15, 2)),
    }
)
_CHARGE = (
    "SELECT flag, sum(price * (1 - discount) * (1 + tax)) AS charge, "
    "avg(price * (1 - discount)) AS net FROM {table} GROUP BY flag ORDER BY flag"
)
# A: 104949.50 * 0.90 * 1.08 = 102010.914000, 901.00 * 1.00 * 1.02 = 919.020000
# B: 55000.25 * 0.96 * 1.00 = 52800.240000; nets 94454.5500 and 901.0000 -> avg 47677.7750
_EXPECTED = [
    ("A", D("102929.934000"), D("47677.7750")),
    ("B", D("52800.240000"), D("52800.2400")),
]


def _external(settings, folder: Path, statistics: bool = True) -> Engine:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True)
    pq.write_table(_LINES, folder / "part-0.parquet", write_statistics=statistics)
    engine = Engine(catalog=Catalog(settings))
    engine.execute(
        "CREATE EXTERNAL TABLE lines (flag string, price decimal(15,2), discount decimal(15,2), "
        f"tax decimal(15,2)) STORED AS PARQUET LOCATION '{folder}'"
    )
    return engine


def test_parquet_statistics_bound_a_triple_product(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _external(local_settings, tmp_path / "lines")
    sql = _CHARGE.format(table="lines")
    df = _frame(engine, sql)
    assert df.schema["charge"] == pl.Decimal(38, 6)
    assert df.schema["net"] == pl.Decimal(38, 4)
    assert df.rows() == _EXPECTED
    # the declared precisions alone allow 10^45: only the footers' min/max prove it fits
    assert _unscaled(engine, sql)


def test_files_without_statistics_keep_decimal_kernels(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _external(local_settings, tmp_path / "lines", statistics=False)
    sql = _CHARGE.format(table="lines")
    assert _frame(engine, sql).rows() == _EXPECTED
    assert not _unscaled(engine, sql)


def test_delta_statistics_bound_a_triple_product(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _external(local_settings, tmp_path / "lines")
    engine.execute("CREATE TABLE managed_lines AS SELECT * FROM lines")
    sql = _CHARGE.format(table="managed_lines")
    assert _frame(engine, sql).rows() == _EXPECTED
    assert _unscaled(engine, sql)


def test_a_subquery_column_named_as_a_scanned_one_has_no_statistics(
    local_settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    engine = _external(local_settings, tmp_path / "lines")
    # the outer `lines.price` and `lines.tax` are derived columns (10^6 and 10^12 times the
    # file's values), not the file's columns that the inner scan of `lines` reads: the first
    # row's product is about 6.7 * 10^38 in units of 10^-6, which Trino refuses
    sql = (
        "SELECT sum(lines.price * lines.tax * lines.tax) FROM (SELECT CAST(price * 1000000 "
        "AS decimal(15,2)) AS price, CAST(tax * 1000000000000 AS decimal(15,2)) AS tax "
        "FROM lines WHERE flag = 'A') lines"
    )
    with pytest.raises(SqlError, match="overflow"):
        engine.execute(sql)
