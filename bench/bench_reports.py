"""A full cis_aws_v3 run: wall time, per-control times, batch against one-by-one, and DuckDB.

Usage::

    python bench/bench_reports.py [--lake demo-lake] [--as-of 2024-05-12T12:00Z] [--repeat 3]
    python bench/bench_reports.py --big [--events-per-day 240000]  # ~100k Config items, 10M events

The demo lake is built by ``python -m loglake.demo`` when missing. The big lake is generated with
``loglake.datasets`` and ingested with ``lake.ingest`` once, under ``--cache`` (bench/data/): the
Config history of 60 accounts x 6 regions (~100k items) and CloudTrail and Config of 3 accounts x
2 regions (``--events-per-day`` per account and region over 7 days). Each repeat times,
interleaved, the runner as users run it (each plan collected while the next compiles, shared
relations computed once) and the same controls collected one by one (what running each control's
SQL by hand costs). Then ``loglake report run`` is timed in a new process, as users run it
(start-up and imports included, CPU time of the child beside its wall time). Last, every control
runs on loglake and on DuckDB (sqlglot's transpilation of its SQL over the same Parquet files),
interleaved, with the ratio per control and in total, wall and CPU; a control DuckDB cannot run,
or whose answer differs, is named and left out of the ratio. Goal: < 5 s on the demo lake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlglot
from bench_tpch import interleaved_medians  # the script's folder is on the path

import loglake
from loglake.query.engine import COLLECT_ENGINE
from loglake.reports.definitions import find_benchmark
from loglake.reports.runner import Runner
from loglake.reports.tables import DELETED_STATUSES, iso_text


def build_demo(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "loglake.demo", "--out", str(path)], check=True)


# The wide part: Config of an organisation of 60 accounts x 6 regions, ~100k configuration items
# over the week (discovery, daily snapshots, changes). Its CloudTrail is left out: a trail in 360
# regions is ~700k files a week and most of the generator's time (its hourly signed digests). The
# busy part: 3 accounts x 2 regions, both exports, ``events_per_day`` CloudTrail events per
# account and region (240,000: ~10M in the week).
WIDE = {"accounts": 60, "regions": 6, "events_per_day": 0, "seed": 9, "sources": ("config",)}
BUSY = {"accounts": 3, "regions": 2, "seed": 10, "sources": ("cloudtrail", "config")}


def generated(raw: Path, **world: Any) -> Path:
    """``raw`` generated once (a week, every scenario); kept for later runs."""
    from loglake.datasets import generate

    if not (raw / "ground_truth.json").exists():
        generate(raw, days=7, scenarios=["all"], progress=True, **world)
    return raw


def build_big(cache: Path, events_per_day: int) -> Path:
    """The big lake, ingested once from both parts as users ingest exports (``lake.ingest``)."""
    lake_path = cache / f"reports-big-lake-{events_per_day}"
    done = lake_path / "_catalog" / "bench-built"
    if done.exists():
        return lake_path
    wide = generated(cache / "reports-big-raw-wide", **WIDE)
    busy = generated(
        cache / f"reports-big-raw-busy-{events_per_day}", events_per_day=events_per_day, **BUSY
    )
    lake = loglake.connect(str(lake_path), create=True)
    for raw in (wide, busy):
        lake.ingest(str(raw), workers=2, progress=True)  # exactly once: a part in is skipped
    done.write_text(f"{wide}\n{busy}\n")
    return lake_path


def latest_time(lake: loglake.Lake) -> dt.datetime:
    last = lake.sql("SELECT max(configurationitemcapturetime) AS t FROM config_items")["t"][0]
    return dt.datetime.fromisoformat(last.replace("Z", "+00:00"))


def once(lake: loglake.Lake, as_of: dt.datetime, batch: bool):
    """Wall and CPU seconds of one run (CPU of every thread of the process), and its result."""
    runner = Runner(lake.catalog, find_benchmark("cis_aws_v3"), as_of=as_of)
    t, cpu = time.perf_counter(), time.process_time()
    result = runner.run(batch=batch)
    return time.perf_counter() - t, time.process_time() - cpu, result


def cli_run(path: Path, as_of: dt.datetime, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``loglake report run`` in a new process, as users run it
    (interpreter start-up and imports included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "loglake",
            "--lake",
            str(path),
            "report",
            "run",
            "cis_aws_v3",
            "--as-of",
            f"{as_of:%Y-%m-%dT%H:%M:%SZ}",
            "--format",
            "json",
            "--output",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


SMALL_RELATIONS = ("context", "metric_filters", "alarms", "alarm_history", "metric_alarms")


class DuckRun:
    """The same controls in DuckDB: sqlglot's transpilation of each control's SQL over the same
    Parquet files (the tables' live Delta files, partition values from the ``key=value`` folders).

    The ``report.*`` relations are built the way the runner builds them: ``config_history`` and
    ``config_state`` once per run (tables), ``cloudtrail`` a view bounded to the period (DuckDB
    pushes each control's filters into it). The small relations made from the monitor's
    documents (filters, alarms, their history) are copied from loglake's frames, untimed.
    """

    def __init__(self, lake: loglake.Lake, runner: Runner):
        self.lake, self.runner = lake, runner
        self.duck = duckdb.connect()
        tables = runner.tables
        self.as_of, self.start = iso_text(tables.as_of), iso_text(tables.period_start)
        self.duck.execute("CREATE SCHEMA report")
        for name in SMALL_RELATIONS:
            frame = tables.relation(name).collect().to_arrow()
            self.duck.register(f"_{name}", frame)
            self.duck.execute(f"CREATE TABLE report.{name} AS SELECT * FROM _{name}")

    def _files(self, name: str) -> str:
        table = self.lake.catalog.find_relation(name)
        files = [f.path for f in self.lake.catalog.files(table)]
        keys = {k.name: "VARCHAR" for k in table.partition_keys}
        return f"read_parquet({files!r}, hive_partitioning = true, hive_types = {keys!r})"

    def shared(self) -> None:
        """The per-run relations (timed: the runner builds its own on the first control)."""
        deleted = ", ".join(f"'{s}'" for s in DELETED_STATUSES)
        self.duck.execute(
            f"""
            CREATE OR REPLACE VIEW report.cloudtrail AS SELECT * FROM {self._files("cloudtrail")}
            WHERE day BETWEEN '{self.start[:10]}' AND '{self.as_of[:10]}'
              AND eventtime BETWEEN '{self.start}' AND '{self.as_of}';
            CREATE OR REPLACE TABLE report.config_history AS
            SELECT * FROM {self._files("config_items")}
            WHERE day <= '{self.as_of[:10]}'
              AND substr(configurationitemcapturetime, 1, 19) <= '{self.as_of[:19]}';
            CREATE OR REPLACE TABLE report.config_state AS
            SELECT * EXCLUDE (_n) FROM (
              SELECT *, row_number() OVER (
                PARTITION BY awsaccountid, awsregion, resourcetype, resourceid
                ORDER BY configurationitemcapturetime DESC, configurationstateid DESC) AS _n
              FROM report.config_history)
            WHERE _n = 1 AND configurationitemstatus NOT IN ({deleted});
            """
        )

    def control(self, sql: str) -> pl.DataFrame:
        return self.duck.sql(sql).pl()


def loglake_shared(lake: loglake.Lake, as_of: dt.datetime) -> Runner:
    """A new runner with its per-run relations built before the first control needs them."""
    runner = Runner(lake.catalog, find_benchmark("cis_aws_v3"), as_of=as_of)
    for name in ("config_history", "config_state", *SMALL_RELATIONS):
        runner.tables.relation(name)
    return runner


def answers(frame: pl.DataFrame) -> list[tuple[str, str]]:
    """A control's (resource, status) pairs, sorted: what both engines must agree on."""
    pairs = frame.select(pl.col("resource").cast(pl.String), pl.col("status").str.to_lowercase())
    return sorted(pairs.iter_rows(), key=str)


def against_duckdb(lake: loglake.Lake, as_of: dt.datetime, runs: int) -> None:
    """Each control on loglake (compile and collect, as the runner's one-by-one mode) and on
    DuckDB, interleaved per control; medians of ``runs`` rounds after a first untimed one."""
    benchmark = find_benchmark("cis_aws_v3")
    duck = DuckRun(lake, Runner(lake.catalog, benchmark, as_of=as_of))
    medians, cpu, first = interleaved_medians(
        {"loglake": lambda: loglake_shared(lake, as_of), "duckdb": duck.shared}, runs
    )
    runner = first["loglake"]
    assert isinstance(runner, Runner)
    print(
        f"against DuckDB {duckdb.__version__} (same Parquet files; medians of {runs} interleaved"
        f" rounds; load {os.getloadavg()[0]:.1f}):"
    )
    print(
        f"  shared relations    : loglake {medians['loglake']:6.2f} s ({cpu['loglake']:.2f} s CPU),"
        f" DuckDB {medians['duckdb']:6.2f} s ({cpu['duckdb']:.2f} s CPU)"
    )
    print(f"  {'control':<8} {'loglake':>8} {'DuckDB':>8} {'ratio':>6} {'CPU ratio':>9}")
    totals = {"loglake": [medians["loglake"]], "duckdb": [medians["duckdb"]]}
    cpu_totals = {"loglake": [cpu["loglake"]], "duckdb": [cpu["duckdb"]]}
    left_out: list[str] = []
    for control in benchmark.controls():
        try:
            translated = sqlglot.transpile(control.sql, read="athena", write="duckdb")[0]
            duck.control(translated)
        except Exception as error:  # the control stays out of the ratio, named below
            left_out.append(f"{control.id}: {str(error).strip().splitlines()[0][:150]}")
            continue
        medians, cpu, first = interleaved_medians(
            {
                "loglake": lambda c=control: runner.compile(c, check=False).collect(
                    engine=COLLECT_ENGINE
                ),
                "duckdb": lambda q=translated: duck.control(q),
            },
            runs,
        )
        ours, theirs = first["loglake"], first["duckdb"]
        assert isinstance(ours, pl.DataFrame) and isinstance(theirs, pl.DataFrame)
        if answers(ours) != answers(theirs):
            left_out.append(
                f"{control.id}: the engines disagree ({ours.height} rows in loglake, "
                f"{theirs.height} in DuckDB)"
            )
            continue
        for name in totals:
            totals[name].append(medians[name])
            cpu_totals[name].append(cpu[name])
        print(
            f"  {control.id:<8} {medians['loglake'] * 1000:6.0f}ms {medians['duckdb'] * 1000:6.0f}ms"
            f" {medians['loglake'] / medians['duckdb']:6.2f} {cpu['loglake'] / max(cpu['duckdb'], 1e-3):9.2f}",
            flush=True,
        )
    ours, theirs = sum(totals["loglake"]), sum(totals["duckdb"])
    ours_cpu, theirs_cpu = sum(cpu_totals["loglake"]), sum(cpu_totals["duckdb"])
    print(
        f"  total ({len(totals['loglake']) - 1} controls and the shared relations): loglake"
        f" {ours:.2f} s wall / {ours_cpu:.2f} s CPU, DuckDB {theirs:.2f} s / {theirs_cpu:.2f} s:"
        f" ratio {ours / theirs:.2f} wall, {ours_cpu / theirs_cpu:.2f} CPU; load"
        f" {os.getloadavg()[0]:.1f}"
    )
    if left_out:
        print(f"  left out of the ratio ({len(left_out)}):")
        for line in left_out:
            print(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", default="demo-lake")
    parser.add_argument("--big", action="store_true", help="use the 10M-event lake (built once)")
    parser.add_argument("--cache", default="bench/data")
    parser.add_argument("--as-of", help="instant to evaluate (default: the latest Config item)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--events-per-day", type=int, default=240_000, help="--big: per account and region"
    )
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB comparison")
    args = parser.parse_args()
    path = build_big(Path(args.cache), args.events_per_day) if args.big else Path(args.lake)
    if not args.big and not (path / "_catalog").exists():
        build_demo(path)
    lake = loglake.connect(str(path))
    rows = lake.sql(
        "SELECT (SELECT count(*) FROM cloudtrail) AS events, (SELECT count(*) FROM config_items) AS items"
    )
    as_of = (
        dt.datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
        if args.as_of
        else latest_time(lake)
    )
    print(
        f"lake {path}: {rows['events'][0]:,} CloudTrail events, {rows['items'][0]:,} Config items; as of {as_of:%Y-%m-%dT%H:%M:%SZ}"
    )
    batched, alone, cpu_batched, cpu_alone, loads, last = [], [], [], [], [], None
    for _ in range(args.repeat):
        elapsed, cpu, last = once(lake, as_of, batch=True)
        batched.append(elapsed)
        cpu_batched.append(cpu)
        elapsed, cpu, single = once(lake, as_of, batch=False)
        alone.append(elapsed)
        cpu_alone.append(cpu)
        loads.append(os.getloadavg()[0])
    b, a = statistics.median(batched), statistics.median(alone)
    cb, ca = statistics.median(cpu_batched), statistics.median(cpu_alone)
    print(
        f"cis_aws_v3, {len(last.controls)} controls, {last.results.height} rows, counts {last.counts}"
    )
    print(
        f"  overlapped          : {b:6.2f} s (median of {args.repeat}; collect after the last compile {last.batch_s:.2f} s, causes {last.causes_s:.2f} s)"
    )
    print(f"  one by one          : {a:6.2f} s  -> overlapped is x{a / b:.2f} faster")
    print(
        f"  CPU time            : {cb:6.2f} s overlapped, {ca:6.2f} s one by one; load {statistics.median(loads):.1f}"
    )
    print(f"  goal < 5 s on the demo lake: {'met' if b < 5 else 'NOT met'}")
    with tempfile.TemporaryDirectory() as scratch:
        cli = [cli_run(path, as_of, Path(scratch) / "r.json") for _ in range(args.repeat)]
    print(
        f"  CLI (loglake report run, new process): {statistics.median(w for w, _ in cli):6.2f} s wall,"
        f" {statistics.median(c for _, c in cli):6.2f} s CPU (medians of {args.repeat}); load"
        f" {os.getloadavg()[0]:.1f}"
    )
    print("per control (one-by-one run: compile + collect, slowest first):")
    for cr in sorted(single.controls, key=lambda c: -(c.compile_s + c.collect_s))[:15]:
        print(
            f"  {cr.control.id:<6} {cr.compile_s * 1000:7.0f} ms compile {cr.collect_s * 1000:7.0f} ms collect  {cr.rows:>5} rows"
        )
    if not args.no_duckdb:
        against_duckdb(lake, as_of, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
