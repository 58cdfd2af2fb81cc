"""Benchmark of alarm evaluation (run by hand; never by the test suite).

1. The demo's alarm replay: the 14 CIS alarms over a week of metrics, evaluated the way the demo
   used to (one `AlarmStore.evaluate` per moment at which a datapoint enters or leaves a window,
   ~300 moments) and as one `AlarmStore.replay` of every minute of the week. The loop runs three
   ways: with the loglake of `--baseline` (by default the commit before one-pass evaluation,
   extracted with `git archive` and run in a subprocess: "before"), with this loglake's
   `evaluate`, and the replay ("after"). Each run gets its own copy of the same lake, the variants
   are interleaved, medians of the repeats.
2. Metric math over a year of 1-minute datapoints: `100 * FILL(errors, 0) / requests` and
   `ANOMALY_DETECTION_BAND(m1, 2)` replayed minute by minute over the year, against the same
   arithmetic written directly in Polars over the same rows (the peer: no alarm semantics).

Usage: python bench/bench_alarms.py [--events-per-day N] [--repeat N] [--baseline REV]
       [--skip-demo] [--skip-math]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

import loglake
from loglake.catalog import Catalog, StorageSettings
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.metrics import METRICS_SCHEMA, MetricsStore


def demo_lake(root: Path, events_per_day: int) -> tuple[datetime, datetime]:
    """The demo's lake: a generated week with incidents, the CIS pack, ingested and filtered."""
    from loglake.datasets import generate
    from loglake.monitor.runner import run_metric_filters
    from loglake.monitor.watch import install_pack

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(days=7)).replace(hour=0, minute=0)
    raw = root / "raw"
    generate(
        str(raw),
        accounts=2,
        regions=1,
        days=7,
        events_per_day=events_per_day,
        seed=42,
        scenarios=["all"],
        start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        progress=False,
    )
    lake = loglake.connect(str(root / "lake"), create=True)
    install_pack(lake.catalog, "cis", now=start)
    lake.ingest(str(raw), progress=False)
    run_metric_filters(lake.catalog)
    return start, now


def moments(lake: loglake.Lake, start: datetime, end: datetime) -> list[datetime]:
    """The demo's former evaluation moments: a minute and six minutes after each datapoint > 0."""
    changes = lake.sql(
        "SELECT DISTINCT timestamp FROM _monitor.metrics WHERE maximum > 0 ORDER BY 1"
    )["timestamp"].to_list()
    found = {start + timedelta(minutes=1)}
    for stamp in changes:
        stamp = stamp.replace(tzinfo=UTC)
        found.update({stamp + timedelta(minutes=1), stamp + timedelta(minutes=6)})
    return [*sorted(m for m in found if m < end), end]


REPO = Path(__file__).resolve().parent.parent

#: the old loop, run by the baseline's loglake in a subprocess; prints its own time
_OLD_LOOP = """
import json, sys, time
from datetime import datetime
from loglake.catalog import Catalog, StorageSettings
from loglake.monitor.alarmstore import AlarmStore
import loglake
assert loglake.__file__.startswith(sys.argv[3]), loglake.__file__
store = AlarmStore(Catalog(StorageSettings.resolve(sys.argv[1])))
points = [datetime.fromisoformat(p) for p in json.loads(sys.argv[2])]
t = time.perf_counter()
for moment in points:
    store.evaluate(now=moment)
print(time.perf_counter() - t)
"""


def baseline_revision(rev: str) -> str:
    """`auto`: the commit before monitor/evaluation.py (one-pass evaluation) was added."""
    if rev != "auto":
        return rev
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "monitor/evaluation.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return f"{added[-1]}^"


def baseline_package(rev: str, into: Path) -> Path:
    """The loglake package of `rev` laid out for import from `into/site` (its package-dir map)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev], cwd=REPO, capture_output=True, check=True
    ).stdout
    source = into / "source"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    mapping = tomllib.loads((source / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    site = into / "site"
    for package, folder in sorted(mapping.items()):  # "loglake" first, then its subpackages
        target = site.joinpath(*package.split("."))
        shutil.copytree(source / folder, target, dirs_exist_ok=True)
    return site


def old_loop(site: Path, lake: Path, points: list[datetime]) -> float:
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _OLD_LOOP,
            str(lake),
            json.dumps([p.isoformat() for p in points]),
            str(site),
        ],
        env=env,
        cwd=site,  # not the checkout: its loglake/ folder would shadow the baseline's
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"the baseline loop failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.split()[-1])


def bench_demo(events_per_day: int, repeat: int, baseline: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="loglake-bench-alarms-"))
    try:
        t0 = time.perf_counter()
        start, end = demo_lake(work, events_per_day)
        print(f"demo lake built in {time.perf_counter() - t0:.0f} s")
        base = work / "lake"
        points = moments(loglake.connect(str(base)), start, end)
        rev = baseline_revision(baseline)
        site = baseline_package(rev, work / "baseline")
        print(f"baseline: loglake at {rev}")
        times: dict[str, list[float]] = {"before": [], "loop": [], "replay": []}
        for k in range(repeat):
            for variant in times:
                copy = work / f"{variant}-{k}"
                shutil.copytree(base, copy)
                store = AlarmStore(Catalog(StorageSettings.resolve(str(copy))))
                t = time.perf_counter()
                if variant == "before":
                    seconds = old_loop(site, copy, points)
                elif variant == "loop":
                    for moment in points:
                        store.evaluate(now=moment)
                    seconds = time.perf_counter() - t
                else:
                    store.replay(start + timedelta(minutes=1), end)
                    seconds = time.perf_counter() - t
                times[variant].append(seconds)
                files = len(store.history_table.files())
                rows = store.history().height
                print(
                    f"  {variant:6} #{k + 1}: {seconds:7.2f} s, history {rows} rows in {files} files"
                )
        before, loop, replay = (statistics.median(times[v]) for v in times)
        minutes = int((end - start).total_seconds() // 60)
        print(f"before: per-moment loop, baseline ({len(points)} moments)  {before:8.2f} s")
        print(f"per-moment loop, one-pass evaluate ({len(points)} moments) {loop:8.2f} s")
        print(
            f"after: replay of every minute ({minutes:,} minutes)    {replay:8.2f} s   "
            f"{before / replay:5.1f}x faster than before (goal < 2 s)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def year_of_minutes(start: datetime, minutes: int) -> pl.DataFrame:
    """Requests and errors per minute with a daily cycle, as metrics-table rows."""
    t = pl.int_range(0, minutes, eager=True)
    frame = pl.DataFrame({"k": t}).with_columns(
        (pl.lit(start) + pl.duration(minutes=pl.col("k"))).alias("timestamp"),
        (1000 + 500 * ((pl.col("k") % 1440) / 1440 * 6.283).sin()).round().alias("requests"),
        ((pl.col("k").hash(7) % 1000) / 100).floor().alias("errors"),
    )
    parts = []
    for name in ("requests", "errors"):
        parts.append(
            frame.select(
                pl.lit("App").alias("namespace"),
                pl.lit(name).alias("metric_name"),
                pl.lit("{}").alias("dimensions"),
                pl.lit("Count").alias("unit"),
                pl.lit(60, pl.Int32).alias("storage_resolution"),
                pl.col("timestamp").dt.replace_time_zone("UTC").dt.cast_time_unit("us"),
                pl.col(name).cast(pl.Float64).alias("value"),
                pl.lit(1.0).alias("sample_count"),
                pl.col(name).cast(pl.Float64).alias("sum"),
                pl.col(name).cast(pl.Float64).alias("minimum"),
                pl.col(name).cast(pl.Float64).alias("maximum"),
                pl.lit("bench").alias("source"),
            ).filter(pl.col("value") > 0)
        )
    return pl.concat(parts).cast(dict(pl.Schema(METRICS_SCHEMA)))


def metric(mid: str, name: str) -> dict:
    return {
        "Id": mid,
        "MetricStat": {
            "Metric": {"Namespace": "App", "MetricName": name},
            "Period": 60,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def bench_math(repeat: int) -> None:
    work = tempfile.mkdtemp(prefix="loglake-bench-math-")
    try:
        catalog = Catalog(StorageSettings.resolve(work))
        minutes = 365 * 1440
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rows = year_of_minutes(start, minutes)
        MetricsStore(catalog).write(rows)
        print(f"a year of 1-minute datapoints: {rows.height:,} rows")
        rate = {
            "AlarmName": "error-rate",
            "Metrics": [
                metric("errors", "errors"),
                metric("requests", "requests"),
                {
                    "Id": "rate",
                    "Expression": "100 * FILL(errors, 0) / requests",
                    "ReturnData": True,
                },
            ],
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 3,
            "Threshold": 0.9,
            "ComparisonOperator": "GreaterThanThreshold",
        }
        band = {
            "AlarmName": "requests-anomaly",
            "Metrics": [
                {**metric("m1", "requests"), "ReturnData": True},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": True},
            ],
            "EvaluationPeriods": 3,
            "ThresholdMetricId": "ad1",
            "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
        }
        end = start + timedelta(minutes=minutes)
        metrics_frame = rows.lazy()

        def peer() -> pl.DataFrame:
            wide = metrics_frame.group_by("timestamp").agg(
                pl.col("sum").filter(pl.col("metric_name") == "errors").sum().alias("errors"),
                pl.col("sum").filter(pl.col("metric_name") == "requests").sum().alias("requests"),
            )
            return (
                wide.sort("timestamp")
                .with_columns((100 * pl.col("errors") / pl.col("requests")).alias("rate"))
                .with_columns(
                    (pl.col("rate") > 0.9).cast(pl.Int32).rolling_sum(5).alias("breaching")
                )
                .collect()
            )

        for definition in (rate, band):
            times, peers = [], []
            for _ in range(repeat):
                copy = tempfile.mkdtemp(prefix="loglake-bench-math-run-", dir=work)
                shutil.copytree(Path(work) / "_monitor", Path(copy) / "_monitor")
                shutil.copytree(Path(work) / "_catalog", Path(copy) / "_catalog")
                store = AlarmStore(Catalog(StorageSettings.resolve(copy)))
                store.put_alarm(definition, now=start)
                t = time.perf_counter()
                made = store.replay(start + timedelta(minutes=1), end, actions=False)
                times.append(time.perf_counter() - t)
                t = time.perf_counter()
                peer()
                peers.append(time.perf_counter() - t)
            ours, theirs = statistics.median(times), statistics.median(peers)
            print(
                f"{definition['AlarmName']:17} replay of {minutes:,} minutes: {ours:7.2f} s "
                f"({len(made)} transitions); plain Polars arithmetic {theirs:6.2f} s; "
                f"ratio {ours / theirs:5.1f}x"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events-per-day", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="auto", help="git revision timed as 'before'")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-math", action="store_true")
    args = parser.parse_args()
    if not args.skip_demo:
        bench_demo(args.events_per_day, args.repeat, args.baseline)
    if not args.skip_math:
        bench_math(args.repeat)


if __name__ == "__main__":
    main()
