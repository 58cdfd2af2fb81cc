"""Per-statement work of the 22 TPC-H queries: SQL text to a Polars LazyFrame, nothing executed.

Measured the way users reach it, through ``loglake.connect(...).sql(..., lazy=True)`` over
external Parquet tables in a lake's catalog (one small file per table, so that planning reads real
footers), against Polars' SQLContext planning the same query over the same files. For each query:
the median of ``--runs`` of a first compile (plan cache emptied; catalog definitions kept, as in a
session), of a repeated statement (plan kept), of parsing alone and of parsing plus name
qualification, and of Polars SQL. Compiling is Python on one thread, so a machine shared with
other work stretches its wall time by the waits for a core: every column is the median of the
process CPU time (``time.process_time``, all threads), and the first compile and the repeated
statement are also shown in wall time, with the load average of the run.

Goal: a first compile of median under 15 ms and none over 40 ms; a repeated statement under 1 ms
(CPU time).

    python bench/bench_compile.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import sqlglot

import loglake
from loglake.query.frontend import parse, qualify_tree

QUERIES = Path(__file__).resolve().parent.parent / "tests" / "query_tpch"

SCHEMAS = {
    "customer": {
        "c_custkey": pl.Int64,
        "c_name": pl.String,
        "c_address": pl.String,
        "c_nationkey": pl.Int64,
        "c_phone": pl.String,
        "c_acctbal": pl.Decimal(15, 2),
        "c_mktsegment": pl.String,
        "c_comment": pl.String,
    },
    "lineitem": {
        "l_orderkey": pl.Int64,
        "l_partkey": pl.Int64,
        "l_suppkey": pl.Int64,
        "l_linenumber": pl.Int32,
        "l_quantity": pl.Decimal(15, 2),
        "l_extendedprice": pl.Decimal(15, 2),
        "l_discount": pl.Decimal(15, 2),
        "l_tax": pl.Decimal(15, 2),
        "l_returnflag": pl.String,
        "l_linestatus": pl.String,
        "l_shipdate": pl.Date,
        "l_commitdate": pl.Date,
        "l_receiptdate": pl.Date,
        "l_shipinstruct": pl.String,
        "l_shipmode": pl.String,
        "l_comment": pl.String,
    },
    "nation": {
        "n_nationkey": pl.Int64,
        "n_name": pl.String,
        "n_regionkey": pl.Int64,
        "n_comment": pl.String,
    },
    "orders": {
        "o_orderkey": pl.Int64,
        "o_custkey": pl.Int64,
        "o_orderstatus": pl.String,
        "o_totalprice": pl.Decimal(15, 2),
        "o_orderdate": pl.Date,
        "o_orderpriority": pl.String,
        "o_clerk": pl.String,
        "o_shippriority": pl.Int32,
        "o_comment": pl.String,
    },
    "part": {
        "p_partkey": pl.Int64,
        "p_name": pl.String,
        "p_mfgr": pl.String,
        "p_brand": pl.String,
        "p_type": pl.String,
        "p_size": pl.Int32,
        "p_container": pl.String,
        "p_retailprice": pl.Decimal(15, 2),
        "p_comment": pl.String,
    },
    "partsupp": {
        "ps_partkey": pl.Int64,
        "ps_suppkey": pl.Int64,
        "ps_availqty": pl.Int32,
        "ps_supplycost": pl.Decimal(15, 2),
        "ps_comment": pl.String,
    },
    "region": {"r_regionkey": pl.Int64, "r_name": pl.String, "r_comment": pl.String},
    "supplier": {
        "s_suppkey": pl.Int64,
        "s_name": pl.String,
        "s_address": pl.String,
        "s_nationkey": pl.Int64,
        "s_phone": pl.String,
        "s_acctbal": pl.Decimal(15, 2),
        "s_comment": pl.String,
    },
}
_HIVE = {pl.Int64: "bigint", pl.Int32: "int", pl.String: "string", pl.Date: "date"}


def _hive_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    return _HIVE[dtype]


def build_lake(root: Path) -> tuple[loglake.Lake, dict[str, str]]:
    """A lake with the TPC-H tables as external Parquet tables of one (empty) file each."""
    lake = loglake.connect(str(root / "lake"), create=True)
    # the Parquet lies beside the lake, outside the root SQL may read by default
    lake.catalog.update_lake_settings(allowed_locations=[str((root / "data").resolve())])
    files = {}
    for table, schema in SCHEMAS.items():
        folder = root / "data" / table
        folder.mkdir(parents=True)
        files[table] = str(folder / "part-0.parquet")
        pl.DataFrame(schema=schema).write_parquet(files[table])
        columns = ", ".join(f"{c} {_hive_type(t)}" for c, t in schema.items())
        lake.sql(f"CREATE EXTERNAL TABLE {table} ({columns}) STORED AS PARQUET LOCATION '{folder}'")
    return lake, files


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and process CPU milliseconds of ``runs`` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake, files = build_lake(Path(tmp))
        engine = lake.engine
        ctx = pl.SQLContext({t: pl.scan_parquet(p) for t, p in files.items()})

        def first_compile(sql: str) -> None:
            engine.plans.clear()
            lake.sql(sql, lazy=True)

        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(
            f"{'query':>6} {'first':>8} {'wall':>8} {'repeated':>9} {'wall':>7} {'parse':>7}"
            f" {'+qualify':>9} {'pl.sql':>8}   (ms, medians; CPU unless 'wall')"
        )
        rows = []
        for path in sorted(QUERIES.glob("q*.sql")):
            sql = path.read_text()
            pl_sql = sqlglot.transpile(sql, read="athena", write="postgres")[0]
            lake.sql(sql, lazy=True)  # definitions and footers read once, as in a session
            first, repeated = (
                median_ms(lambda sql=sql: first_compile(sql), args.runs),
                median_ms(lambda sql=sql: lake.sql(sql, lazy=True), args.runs),
            )
            row = (
                first[1],
                repeated[1],
                median_ms(lambda sql=sql: parse(sql), args.runs)[1],
                median_ms(
                    lambda sql=sql: qualify_tree(
                        parse(sql), sql, engine.default_database, engine.tables.schema
                    ),
                    args.runs,
                )[1],
                median_ms(lambda q=pl_sql: ctx.execute(q), args.runs)[1],
                first[0],
                repeated[0],
            )
            rows.append(row)
            print(
                f"{path.stem:>6} {row[0]:8.2f} {row[5]:8.2f} {row[1]:9.2f} {row[6]:7.2f} "
                f"{row[2]:7.2f} {row[3]:9.2f} {row[4]:8.2f}",
                flush=True,
            )
        firsts = [r[0] for r in rows]
        print(
            f"first compile (CPU): median {statistics.median(firsts):.2f} ms, max "
            f"{max(firsts):.2f} ms, total {sum(firsts):.1f} ms (wall {sum(r[5] for r in rows):.1f}"
            f" ms); repeated: total {sum(r[1] for r in rows):.1f} ms (wall "
            f"{sum(r[6] for r in rows):.1f} ms); Polars SQL: total {sum(r[4] for r in rows):.1f} ms"
        )
        print("goal: first compile median < 15 ms and max < 40 ms; repeated < 1 ms")
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
