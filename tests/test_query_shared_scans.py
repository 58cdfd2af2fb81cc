"""A statement that reads one table twice: what Polars shares between the two readers.

Polars runs a sub-plan a statement repeats once and hands its rows to every reader (a CACHE in
EXPLAIN). A repeated join or aggregate should stay shared; a repeated bare scan should be shared
as the scan alone, which Polars runs as one scan per reader, each with its own filters, instead
of holding every row for the slower reader. Every expected value is worked out from the rows
written here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loglake.catalog import Catalog
from loglake.query.engine import Engine

# order 1: 2 + 4 = 6 items; order 2: 1; order 3: 3 + 3 = 6; order 4: 2
_LINES = pa.table({"order_id": [1, 1, 2, 3, 3, 4], "qty": [2, 4, 1, 3, 3, 2]})
# customer 10 holds orders 1 and 2 (7 items), 20 orders 3 and 4 (8 items)
_ORDERS = pa.table({"order_id": [1, 2, 3, 4], "cust": [10, 10, 20, 20]})

# the shape of TPC-H q18: the table aggregated in an IN subquery and joined outside it
_BIG_ORDERS = (
    "SELECT o.order_id, sum(qty) AS items FROM orders o, lines "
    "WHERE o.order_id IN (SELECT order_id FROM lines GROUP BY order_id HAVING sum(qty) > 5) "
    "AND o.order_id = lines.order_id GROUP BY o.order_id ORDER BY o.order_id"
)
# the shape of TPC-H q11: the same join in the query and in its HAVING subquery
_BIG_CUSTOMERS = (
    "SELECT cust, sum(qty) AS items FROM orders, lines WHERE orders.order_id = lines.order_id "
    "GROUP BY cust HAVING sum(qty) > (SELECT sum(qty) / 2 FROM orders, lines "
    "WHERE orders.order_id = lines.order_id) ORDER BY cust"
)


def _engine(settings, folder: Path, columns: str = "order_id bigint, qty bigint") -> Engine:  # type: ignore[no-untyped-def]
    for name, rows in (("lines", _LINES), ("orders", _ORDERS)):
        (folder / name).mkdir(parents=True)
        pq.write_table(rows, folder / name / "part-0.parquet")
    engine = Engine(catalog=Catalog(settings))
    engine.execute(
        f"CREATE EXTERNAL TABLE lines ({columns}) STORED AS PARQUET LOCATION '{folder / 'lines'}'"
    )
    engine.execute(
        "CREATE EXTERNAL TABLE orders (order_id bigint, cust bigint) "
        f"STORED AS PARQUET LOCATION '{folder / 'orders'}'"
    )
    return engine


def _rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    df = engine.execute(sql).df
    assert df is not None
    return df.rows()


def _cached(engine: Engine, sql: str) -> list[list[str]]:
    """The plan nodes below each sub-plan the optimized plan shares (CACHE), top first."""
    lines = engine.explain(sql).splitlines()
    bodies = []
    for i, line in enumerate(lines):
        cache = re.match(r"^(\s*)CACHE\[", line)
        if cache is None:
            continue
        body = []
        for inner in lines[i + 1 :]:
            if len(inner) - len(inner.lstrip()) <= len(cache.group(1)):
                break
            body.append(inner.strip())
        if body:  # the other readers of a cache print no sub-plan
            bodies.append(body)
    return bodies


def test_a_repeated_bare_scan_is_shared_as_the_scan_alone(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path)
    assert _rows(engine, _BIG_ORDERS) == [(1, 6), (3, 6)]
    # the two references' renames stay above the cache: only the file scan is shared
    cached = _cached(engine, _BIG_ORDERS)
    assert cached and all(body[0].startswith("Parquet SCAN") for body in cached)


def test_a_repeated_join_stays_shared(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path)
    # 15 items in all, and 15 / 2 is 7 in integers: customer 20 has 8, customer 10 has 7
    assert _rows(engine, _BIG_CUSTOMERS) == [(20, 8)]
    # the join of orders and lines is run once for the query and its subquery
    cached = _cached(engine, _BIG_CUSTOMERS)
    assert any(node.startswith("INNER JOIN") for body in cached for node in body)


def test_files_with_the_columns_in_another_order_read_right(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the table declares qty first; the files hold order_id first
    engine = _engine(local_settings, tmp_path, columns="qty bigint, order_id bigint")
    assert _rows(engine, "SELECT * FROM lines WHERE order_id = 2") == [(1, 2)]
    assert _rows(engine, _BIG_ORDERS) == [(1, 6), (3, 6)]
