"""loglake against Spark ``local[N]`` on the same lake: TPC-H queries and CloudTrail ingest.

Both go through the path users take; besides wall time, the CPU time of the whole process tree
(this process, Spark's JVM and its Python workers) is measured, the steadier figure on a shared
machine. Queries: ``lake.sql(q)`` and ``lake.sql(q, engine="spark")``
over the TPC-H tables bench_tpch.py registers (external Parquet), interleaved, medians of
``--runs`` after one untimed round; the Spark time includes translation and bringing the answer
back as a Polars frame (what a user waits for). Ingest: the same generated raw exports into fresh
lakes with ``lake.ingest(url)`` (one process, and ``workers=N``) and ``lake.ingest(url,
engine="spark")``; events per second and per core.

    python bench/bench_spark.py [--scale 1] [--runs 3] [--cores 2] [--queries 1,3,6]
                                [--ingest-days 2] [--skip-tpch] [--skip-ingest]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import bench_tpch
from cpu_time import tree_cpu

import loglake
from loglake.datasets import generate
from loglake.scaleout import spark_session


def bench_queries(lake: loglake.Lake, spark: object, numbers: list[int], runs: int) -> None:
    runner = lake.spark_runner(spark)
    started = time.perf_counter()
    runner.refresh()
    print(
        f"registering {len(runner.registration.views)} Spark views: {time.perf_counter() - started:.2f} s"
    )
    print(
        f"{'query':>6} {'loglake':>9} {'spark':>9} {'spark/ll':>9}"
        f" {'cpu ll':>9} {'cpu spark':>9} {'cpu s/ll':>9}"
    )
    totals = {"loglake": 0.0, "spark": 0.0}
    cpu_totals = {"loglake": 0.0, "spark": 0.0}
    for number in numbers:
        sql = (bench_tpch.QUERIES / f"q{number:02d}.sql").read_text()
        times: dict[str, list[float]] = {"loglake": [], "spark": []}
        cpus: dict[str, list[float]] = {"loglake": [], "spark": []}
        for round_ in range(runs + 1):
            for engine in ("loglake", "spark"):
                began, cpu = time.perf_counter(), tree_cpu()
                lake.sql(sql, engine=engine)
                if round_:
                    times[engine].append((time.perf_counter() - began) * 1000)
                    cpus[engine].append((tree_cpu() - cpu) * 1000)
        medians = {k: statistics.median(v) for k, v in times.items()}
        cpu_medians = {k: statistics.median(v) for k, v in cpus.items()}
        for k in totals:
            totals[k] += medians[k]
            cpu_totals[k] += cpu_medians[k]
        print(
            f"   q{number:02d} {medians['loglake']:9.1f} {medians['spark']:9.1f}"
            f" {medians['spark'] / medians['loglake']:9.2f} {cpu_medians['loglake']:9.0f}"
            f" {cpu_medians['spark']:9.0f} {cpu_medians['spark'] / max(cpu_medians['loglake'], 1):9.2f}"
        )
    print(
        f" total {totals['loglake']:9.1f} {totals['spark']:9.1f}"
        f" {totals['spark'] / totals['loglake']:9.2f} {cpu_totals['loglake']:9.0f}"
        f" {cpu_totals['spark']:9.0f} {cpu_totals['spark'] / max(cpu_totals['loglake'], 1):9.2f}"
    )


def bench_ingest(spark: object, days: int, cores: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as folder:
        raw = Path(folder) / "raw"
        summary = generate(
            str(raw),
            accounts=2,
            regions=2,
            days=days,
            events_per_day=20000,
            flows_per_day=2000,
            log_events_per_day=500,
            seed=11,
            progress=False,
        )
        print(
            f"ingest of {sum(summary.events.values()):,} events in {sum(summary.files.values()):,} files"
        )
        shapes = {
            "loglake, 1 process": {},
            f"loglake, {cores} workers": {"workers": cores},
            f"spark local[{cores}]": {"engine": "spark"},
        }
        for label, options in shapes.items():
            root = Path(folder) / "lake"
            shutil.rmtree(root, ignore_errors=True)
            lake = loglake.connect(str(root), create=True)
            if options.get("engine") == "spark":
                lake.spark_runner(spark)
            began, cpu = time.perf_counter(), tree_cpu()
            report = lake.ingest(str(raw), progress=False, **options)
            seconds, cpu = time.perf_counter() - began, tree_cpu() - cpu
            rows = report.total_rows
            print(
                f"  {label:22} {seconds:7.2f} s  {rows / seconds:10,.0f} rows/s"
                f"  CPU {cpu:7.2f} s  {rows / cpu:10,.0f} rows per CPU second"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--queries", default=",".join(str(n) for n in range(1, 23)))
    parser.add_argument("--ingest-days", type=int, default=2)
    parser.add_argument("--skip-tpch", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    spark = spark_session(f"local[{args.cores}]")
    try:
        if not args.skip_tpch:
            data = bench_tpch.ensure_data(args.scale)
            bench_tpch.ensure_lake(data, ["external"])
            lake = loglake.connect(str(data / "lake"), database=bench_tpch.DATABASES["external"])
            print(f"TPC-H SF{args.scale:g}: medians of {args.runs} interleaved runs in ms")
            bench_queries(lake, spark, [int(n) for n in args.queries.split(",")], args.runs)
        if not args.skip_ingest:
            bench_ingest(spark, args.ingest_days, args.cores)
    finally:
        spark.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
