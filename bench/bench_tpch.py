"""TPC-H at scale factor 1: loglake against DuckDB and Polars' own SQL, on the same Parquet files.

Runs the 22 queries (Athena syntax, as in tests/query_tpch/) three times on each engine and prints
the median per query, the ratio to DuckDB and the totals. Data is generated into bench/data/ with
tpchgen-cli when missing.

    python bench/bench_tpch.py [--scale 1] [--runs 3] [--queries 1,3,5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import sqlglot

from loglake.query.engine import Engine

ROOT = Path(__file__).resolve().parent
QUERIES = ROOT.parent / "tests" / "query_tpch"
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def ensure_data(scale: float) -> Path:
    out = ROOT / "data" / f"tpch-sf{scale:g}"
    if all((out / f"{t}.parquet").exists() for t in TABLES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).parent / "tpchgen-cli"
    tool = str(exe) if exe.exists() else shutil.which("tpchgen-cli")
    if tool is None:
        raise SystemExit("tpchgen-cli is not installed (pip install tpchgen-cli)")
    print(f"generating TPC-H SF{scale:g} into {out} ...", flush=True)
    subprocess.run([tool, "parquet", "-s", str(scale), "--output-dir", str(out)], check=True)
    return out


def median_times(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float | None]:
    """Median time of each engine; runs are interleaved so that load changes hit all alike."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    failed: set[str] = set()
    for run in range(runs + 1):  # the first round warms file caches and is not counted
        for name, fn in fns.items():
            if name in failed:
                continue
            start = time.perf_counter()
            try:
                fn()
            except Exception:
                failed.add(name)
                continue
            if run:
                times[name].append(time.perf_counter() - start)
    return {n: None if n in failed else statistics.median(t) for n, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", default="", help="comma-separated query numbers")
    args = parser.parse_args()
    data = ensure_data(args.scale)
    paths = {t: str(data / f"{t}.parquet") for t in TABLES}

    engine = Engine(tables={t: pl.scan_parquet(p) for t, p in paths.items()})
    duck = duckdb.connect()
    for t, p in paths.items():
        duck.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{p}')")
    ctx = pl.SQLContext({t: pl.scan_parquet(p) for t, p in paths.items()})

    wanted = {int(q) for q in args.queries.split(",") if q}
    files = sorted(QUERIES.glob("q*.sql"))
    print(f"TPC-H SF{args.scale:g}, median of {args.runs} runs, seconds")
    print(f"{'query':>6} {'loglake':>9} {'duckdb':>9} {'pl.sql':>9} {'ll/duck':>8} {'pl/duck':>8}")
    totals = {"loglake": 0.0, "duckdb": 0.0, "polars": 0.0}
    worst = (0.0, "")
    polars_complete = True
    for path in files:
        number = int(path.stem[1:])
        if wanted and number not in wanted:
            continue
        sql = path.read_text()
        duck_sql = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        pl_sql = sqlglot.transpile(sql, read="athena", write="postgres")[0]
        measured = median_times(
            {
                "loglake": lambda sql=sql: engine.execute(sql),
                "duckdb": lambda q=duck_sql: duck.sql(q).pl(),
                "polars": lambda q=pl_sql: ctx.execute(q).collect(),
            },
            args.runs,
        )
        ours, theirs, polars_time = measured["loglake"], measured["duckdb"], measured["polars"]
        assert ours is not None and theirs is not None, f"{path.stem} failed"
        if polars_time is None:
            polars_complete = False
        totals["loglake"] += ours
        totals["duckdb"] += theirs
        if polars_time is not None:
            totals["polars"] += polars_time
        ratio = ours / theirs
        worst = max(worst, (ratio, path.stem))
        pl_text = f"{polars_time:9.3f}" if polars_time is not None else f"{'n/a':>9}"
        pl_ratio = f"{polars_time / theirs:8.2f}" if polars_time is not None else f"{'n/a':>8}"
        print(
            f"{path.stem:>6} {ours:9.3f} {theirs:9.3f} {pl_text} {ratio:8.2f} {pl_ratio}",
            flush=True,
        )
    print(
        f"{'total':>6} {totals['loglake']:9.3f} {totals['duckdb']:9.3f} {totals['polars']:9.3f} "
        f"{totals['loglake'] / totals['duckdb']:8.2f} "
        f"{totals['polars'] / totals['duckdb']:8.2f}{'' if polars_complete else ' (pl.sql: some queries unsupported)'}"
    )
    print(f"slowest relative to DuckDB: {worst[1]} at {worst[0]:.2f}x")


if __name__ == "__main__":
    main()
