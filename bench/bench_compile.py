"""Compile time of the 22 TPC-H queries: SQL text to a Polars LazyFrame, nothing executed.

Goal: median under 15 ms per query and none over 40 ms. Prints each query's median of N runs,
then the median and maximum over the queries, with the share spent in parsing and qualifying.

    python bench/bench_compile.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import polars as pl

from loglake.query.engine import Engine
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    engine = Engine(tables={t: pl.LazyFrame(schema=s) for t, s in SCHEMAS.items()})
    totals, fronts = [], []
    print(f"{'query':>6} {'compile ms':>11} {'parse+qualify ms':>17}")
    for path in sorted(QUERIES.glob("q*.sql")):
        sql = path.read_text()
        engine.compile(sql)  # warm caches once
        times, front = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            engine.compile(sql)
            times.append(time.perf_counter() - start)
            start = time.perf_counter()
            qualify_tree(parse(sql), sql, "default", engine.tables.schema)
            front.append(time.perf_counter() - start)
        totals.append(statistics.median(times) * 1000)
        fronts.append(statistics.median(front) * 1000)
        print(f"{path.stem:>6} {totals[-1]:11.2f} {fronts[-1]:17.2f}")
    print(
        f"median {statistics.median(totals):.2f} ms, max {max(totals):.2f} ms "
        f"(parse+qualify median {statistics.median(fronts):.2f} ms); goal: median < 15, max < 40"
    )


if __name__ == "__main__":
    main()
