"""TPC-H through the catalog: loglake against Polars' own SQL and DuckDB on the same files.

The 22 queries (Athena syntax, as in tests/query_tpch/) run as a user runs them: through
``loglake.connect(...).sql``, over tables registered in the lake's catalog, once as external
Parquet tables (``CREATE EXTERNAL TABLE ... STORED AS PARQUET``) and once as managed Delta tables
(``CREATE TABLE ... AS SELECT`` from the external ones). Polars' SQLContext and DuckDB read the
generated Parquet files directly. Every engine runs each query in the same round, interleaved,
one warm-up round and then ``--runs`` timed rounds; the table shows medians in milliseconds, the
ratios to DuckDB and to Polars SQL, and loglake's compile time (SQL text to Polars plan, file
listing and pruning included) per query.

Data is generated into bench/data/tpch-sf<scale>/ with tpchgen-cli when missing; the lake lives
next to it and is rebuilt when its tables are missing.

    python bench/bench_tpch.py [--scale 1] [--runs 5] [--queries 1,3,5] [--tables external,delta]
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
import pyarrow.parquet as pq
import sqlglot

import loglake

ROOT = Path(__file__).resolve().parent
QUERIES = ROOT.parent / "tests" / "query_tpch"
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]
#: catalog databases of the two table kinds
DATABASES = {"external": "tpch", "delta": "tpch_delta"}


def ensure_data(scale: float) -> Path:
    """``<data>/parquet/<table>/<table>.parquet``: one folder per table, as external tables want."""
    out = ROOT / "data" / f"tpch-sf{scale:g}"
    parquet = out / "parquet"
    if all((parquet / t / f"{t}.parquet").exists() for t in TABLES):
        return out
    out.mkdir(parents=True, exist_ok=True)
    if not all((out / f"{t}.parquet").exists() for t in TABLES):
        exe = Path(sys.executable).parent / "tpchgen-cli"
        tool = str(exe) if exe.exists() else shutil.which("tpchgen-cli")
        if tool is None:
            raise SystemExit("tpchgen-cli is not installed (pip install tpchgen-cli)")
        print(f"generating TPC-H SF{scale:g} into {out} ...", flush=True)
        subprocess.run([tool, "parquet", "-s", str(scale), "--output-dir", str(out)], check=True)
    for t in TABLES:
        (parquet / t).mkdir(parents=True, exist_ok=True)
        (out / f"{t}.parquet").rename(parquet / t / f"{t}.parquet")
    return out


def _hive_type(arrow_type: object) -> str:
    text = str(arrow_type)
    if text.startswith("decimal128"):
        return text.replace("decimal128", "decimal")
    return {
        "int64": "bigint",
        "int32": "int",
        "string": "string",
        "string_view": "string",
        "large_string": "string",
        "date32[day]": "date",
        "double": "double",
    }[text]


def ensure_lake(data: Path, kinds: list[str]) -> loglake.Lake:
    """The lake with the TPC-H tables registered (external) and copied into Delta (managed)."""
    lake = loglake.connect(str(data / "lake"))
    catalog = lake.catalog
    if "external" in kinds or "delta" in kinds:
        catalog.create_database(DATABASES["external"], if_not_exists=True)
        for t in TABLES:
            if catalog.table_exists(DATABASES["external"], t):
                continue
            folder = data / "parquet" / t
            schema = pq.read_schema(folder / f"{t}.parquet")
            columns = ", ".join(f"{f.name} {_hive_type(f.type)}" for f in schema)
            lake.sql(
                f"CREATE EXTERNAL TABLE {DATABASES['external']}.{t} ({columns}) "
                f"STORED AS PARQUET LOCATION '{folder}'"
            )
    if "delta" in kinds:
        catalog.create_database(DATABASES["delta"], if_not_exists=True)
        for t in TABLES:
            if catalog.table_exists(DATABASES["delta"], t):
                continue
            print(f"copying {t} into a managed Delta table ...", flush=True)
            lake.sql(
                f"CREATE TABLE {DATABASES['delta']}.{t} AS SELECT * FROM {DATABASES['external']}.{t}"
            )
    return lake


def interleaved_medians(
    fns: dict[str, Callable[[], object]], runs: int
) -> tuple[dict[str, float], dict[str, object]]:
    """Median seconds per engine over ``runs`` rounds that each run every engine once.

    A first round warms file caches and is not counted; its results are returned so that the
    caller can check the engines agree.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    first: dict[str, object] = {}
    for run in range(runs + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
            if run:
                times[name].append(elapsed)
            else:
                first[name] = result
    return {n: statistics.median(t) for n, t in times.items()}, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", default="", help="comma-separated query numbers")
    parser.add_argument(
        "--tables", default="external,delta", help="loglake table kinds: external, delta or both"
    )
    args = parser.parse_args()
    kinds = [k for k in args.tables.split(",") if k]
    unknown = set(kinds) - set(DATABASES)
    if unknown:
        raise SystemExit(f"unknown table kinds {sorted(unknown)}; use external and/or delta")
    data = ensure_data(args.scale)
    ensure_lake(data, kinds)
    lakes = {kind: loglake.connect(str(data / "lake"), database=DATABASES[kind]) for kind in kinds}
    paths = {t: str(data / "parquet" / t / f"{t}.parquet") for t in TABLES}
    duck = duckdb.connect()
    for t, p in paths.items():
        duck.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{p}')")
    ctx = pl.SQLContext({t: pl.scan_parquet(p) for t, p in paths.items()})

    wanted = {int(q) for q in args.queries.split(",") if q}
    files = [p for p in sorted(QUERIES.glob("q*.sql")) if not wanted or int(p.stem[1:]) in wanted]
    print(
        f"TPC-H SF{args.scale:g} through the catalog, median of {args.runs} interleaved runs, "
        "milliseconds; compile = loglake's SQL-to-plan time"
    )
    header = f"{'query':>6}"
    for kind in kinds:
        header += f" {'ll-' + kind[:5]:>9} {'compile':>8}"
    header += f" {'pl.sql':>9} {'duckdb':>9}"
    for kind in kinds:
        header += f" {kind[:5] + '/duck':>11} {kind[:5] + '/pl':>9}"
    print(header)
    totals: dict[str, float] = {}
    compile_totals: dict[str, float] = dict.fromkeys(kinds, 0.0)
    worst: dict[str, tuple[float, str]] = {kind: (0.0, "") for kind in kinds}
    for path in files:
        sql = path.read_text()
        duck_sql = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        pl_sql = sqlglot.transpile(sql, read="athena", write="postgres")[0]
        compiles: dict[str, list[float]] = {kind: [] for kind in kinds}

        def run_loglake(
            kind: str, sql: str = sql, compiles: dict[str, list[float]] = compiles
        ) -> pl.DataFrame:
            lake = lakes[kind]
            df = lake.sql(sql)
            compiles[kind].append(lake.last_query.compile_s)
            return df

        fns: dict[str, Callable[[], object]] = {
            f"loglake-{kind}": (lambda kind=kind: run_loglake(kind)) for kind in kinds
        }
        fns["polars"] = lambda q=pl_sql: ctx.execute(q).collect()
        fns["duckdb"] = lambda q=duck_sql: duck.sql(q).pl()
        medians, first = interleaved_medians(fns, args.runs)
        expected = first["duckdb"].height  # type: ignore[attr-defined]
        for name, df in first.items():
            if df.height != expected:  # type: ignore[attr-defined]
                raise SystemExit(
                    f"{path.stem}: {name} returned {df.height} rows, DuckDB {expected}"
                )  # type: ignore[attr-defined]
        for name, seconds in medians.items():
            totals[name] = totals.get(name, 0.0) + seconds
        line = f"{path.stem:>6}"
        for kind in kinds:
            compile_ms = statistics.median(compiles[kind][1:] or compiles[kind]) * 1000
            compile_totals[kind] += compile_ms
            line += f" {medians[f'loglake-{kind}'] * 1000:9.1f} {compile_ms:8.1f}"
        line += f" {medians['polars'] * 1000:9.1f} {medians['duckdb'] * 1000:9.1f}"
        for kind in kinds:
            ours = medians[f"loglake-{kind}"]
            ratio = ours / medians["duckdb"]
            worst[kind] = max(worst[kind], (ratio, path.stem))
            line += f" {ratio:11.2f} {ours / medians['polars']:9.2f}"
        print(line, flush=True)
    line = f"{'total':>6}"
    for kind in kinds:
        line += f" {totals[f'loglake-{kind}'] * 1000:9.1f} {compile_totals[kind]:8.1f}"
    line += f" {totals['polars'] * 1000:9.1f} {totals['duckdb'] * 1000:9.1f}"
    for kind in kinds:
        ours = totals[f"loglake-{kind}"]
        line += f" {ours / totals['duckdb']:11.2f} {ours / totals['polars']:9.2f}"
    print(line)
    for kind in kinds:
        print(f"{kind}: slowest relative to DuckDB {worst[kind][1]} at {worst[kind][0]:.2f}x")
    print("goal: total <= 0.85x DuckDB and <= 1.0x Polars SQL, no query > 1.2x DuckDB")


if __name__ == "__main__":
    main()
