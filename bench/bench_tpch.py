"""TPC-H through the catalog: loglake against Polars' own SQL and DuckDB on the same files.

The 22 queries (Athena syntax, as in tests/query_tpch/) run as a user runs them: through
``loglake.connect(...).sql``, over tables registered in the lake's catalog, once as external
Parquet tables (``CREATE EXTERNAL TABLE ... STORED AS PARQUET``) and once as managed Delta tables
(``CREATE TABLE ... AS SELECT`` from the external ones). Polars' SQLContext and DuckDB read the
same Parquet files as the tables being measured (the generated files, or the Delta table's live
files). Every engine runs each query in the same round, interleaved, one untimed first round and
then ``--runs`` timed rounds; the tables show medians in milliseconds, the ratios to DuckDB and to
Polars SQL, loglake's compile time (SQL text to Polars plan, file listing and pruning
included) per query: the median of the timed runs (a kept plan, unless ``--cold``) and the
first run's, and the ratios of the median process CPU times (steadier than wall time when other
work shares the cores).

Data is generated into bench/data/tpch-sf<scale>/ with tpchgen-cli when missing; the lake lives
next to it and is rebuilt when its tables are missing.

    python bench/bench_tpch.py [--scale 1] [--runs 5] [--queries 1,3,5] [--tables external,delta]
                               [--cold]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    lake = loglake.connect(str(data / "lake"), create=True)
    catalog = lake.catalog
    # the generated Parquet lies beside the lake, outside the root SQL may read by default
    catalog.update_lake_settings(allowed_locations=[str((data / "parquet").resolve())])
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
) -> tuple[dict[str, float], dict[str, float], dict[str, object]]:
    """Median wall and CPU seconds per engine over ``runs`` rounds that each run every engine once.

    CPU is the process's user and system time over all its threads (every engine runs in this
    process): on a machine shared with other work it is the steadier measure of how much work
    an engine does, while wall time also counts the waits for a core. A first round warms file
    caches and is not counted; its results are returned so that the caller can check the
    engines agree. The engines' order turns by one each round: an engine run right after DuckDB
    is 5-10% slower on TPC-H queries of ~100 ms (measured with loglake and Polars SQL in each
    place), so a fixed order would tax the same engine every round.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    first: dict[str, object] = {}
    names = list(fns)
    for run in range(runs + 1):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            fn = fns[name]
            start, start_cpu = time.perf_counter(), cpu_seconds()
            result = fn()
            elapsed, used = time.perf_counter() - start, cpu_seconds() - start_cpu
            if run:
                times[name].append(elapsed)
                cpu[name].append(used)
            else:
                first[name] = result
    return (
        {n: statistics.median(t) for n, t in times.items()},
        {n: statistics.median(t) for n, t in cpu.items()},
        first,
    )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peers(lake: loglake.Lake, kind: str, data: Path) -> tuple[Any, pl.SQLContext]:
    """DuckDB and Polars SQL over the same Parquet files loglake's tables of ``kind`` hold."""
    files: dict[str, list[str]] = {}
    for t in TABLES:
        if kind == "external":
            files[t] = [str(data / "parquet" / t / f"{t}.parquet")]
        else:
            files[t] = [f.path for f in lake.catalog.managed(DATABASES[kind], t).files()]
    duck = duckdb.connect()
    for t, paths in files.items():
        duck.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet({paths!r})")
    return duck, pl.SQLContext({t: pl.scan_parquet(paths) for t, paths in files.items()})


def run_kind(
    kind: str, lake: loglake.Lake, data: Path, files: list[Path], runs: int, cold: bool
) -> None:
    duck, ctx = peers(lake, kind, data)
    print(f"\n{kind} tables ({'plans compiled every run' if cold else 'plans kept between runs'})")
    print(
        f"{'query':>6} {'loglake':>9} {'pl.sql':>9} {'duckdb':>9} {'ll/duck':>8} {'ll/pl':>7}"
        f" {'compile':>8} {'first':>7} {'cpu/duck':>9} {'cpu/pl':>7}"
    )
    totals = {"loglake": 0.0, "polars": 0.0, "duckdb": 0.0}
    cpu_totals = dict.fromkeys(totals, 0.0)
    compile_total = first_total = 0.0
    worst = (0.0, "")
    for path in files:
        sql = path.read_text()
        duck_sql = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        pl_sql = sqlglot.transpile(sql, read="athena", write="postgres")[0]
        compiles: list[float] = []

        def run_loglake(sql: str = sql, compiles: list[float] = compiles) -> pl.DataFrame:
            if cold:
                lake.engine.plans.clear()
            df = lake.sql(sql)
            compiles.append(lake.last_query.compile_s * 1000)
            return df

        medians, cpu, first = interleaved_medians(
            {
                "loglake": run_loglake,
                "polars": lambda q=pl_sql: ctx.execute(q).collect(),
                "duckdb": lambda q=duck_sql: duck.sql(q).pl(),
            },
            runs,
        )
        expected = first["duckdb"].height  # type: ignore[attr-defined]
        for name, df in first.items():
            if df.height != expected:  # type: ignore[attr-defined]
                raise SystemExit(
                    f"{path.stem}: {name} returned {df.height} rows, DuckDB {expected}"
                )  # type: ignore[attr-defined]
        for name, seconds in medians.items():
            totals[name] += seconds
            cpu_totals[name] += cpu[name]
        compile_ms = statistics.median(compiles[1:])
        compile_total += compile_ms
        first_total += compiles[0]
        ours = medians["loglake"]
        worst = max(worst, (ours / medians["duckdb"], path.stem))
        print(
            f"{path.stem:>6} {ours * 1000:9.1f} {medians['polars'] * 1000:9.1f} "
            f"{medians['duckdb'] * 1000:9.1f} {ours / medians['duckdb']:8.2f} "
            f"{ours / medians['polars']:7.2f} {compile_ms:8.1f} {compiles[0]:7.1f}"
            f" {cpu['loglake'] / cpu['duckdb']:9.2f} {cpu['loglake'] / cpu['polars']:7.2f}",
            flush=True,
        )
    ours = totals["loglake"]
    print(
        f"{'total':>6} {ours * 1000:9.1f} {totals['polars'] * 1000:9.1f} "
        f"{totals['duckdb'] * 1000:9.1f} {ours / totals['duckdb']:8.2f} "
        f"{ours / totals['polars']:7.2f} {compile_total:8.1f} {first_total:7.1f}"
        f" {cpu_totals['loglake'] / cpu_totals['duckdb']:9.2f}"
        f" {cpu_totals['loglake'] / cpu_totals['polars']:7.2f}"
    )
    print(f"slowest relative to DuckDB: {worst[1]} at {worst[0]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", default="", help="comma-separated query numbers")
    parser.add_argument(
        "--tables", default="external,delta", help="loglake table kinds: external, delta or both"
    )
    parser.add_argument(
        "--cold", action="store_true", help="compile every run (no plan kept between runs)"
    )
    args = parser.parse_args()
    kinds = [k for k in args.tables.split(",") if k]
    unknown = set(kinds) - set(DATABASES)
    if unknown:
        raise SystemExit(f"unknown table kinds {sorted(unknown)}; use external and/or delta")
    data = ensure_data(args.scale)
    ensure_lake(data, kinds)
    wanted = {int(q) for q in args.queries.split(",") if q}
    files = [p for p in sorted(QUERIES.glob("q*.sql")) if not wanted or int(p.stem[1:]) in wanted]
    print(
        f"TPC-H SF{args.scale:g} through the catalog: medians of {args.runs} interleaved runs in "
        "ms; compile = loglake's SQL-to-plan time (median of the timed runs; first = the "
        "untimed first run)"
    )
    for kind in kinds:
        lake = loglake.connect(str(data / "lake"), database=DATABASES[kind])
        run_kind(kind, lake, data, files, args.runs, args.cold)
    print("goal: total <= 0.85x DuckDB and <= 1.0x Polars SQL, no query > 1.2x DuckDB")


if __name__ == "__main__":
    main()
