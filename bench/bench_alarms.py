"""Benchmark of alarm evaluation (run by hand; never by the test suite).

1. The demo's alarm replay: the 14 CIS alarms over a week of metrics as one `AlarmStore.replay`
   of every minute of the week, with this loglake ("replay") and with the loglake of
   `--replay-baseline` ("replay-before", extracted with `git archive`). With `--loops`, also the
   way the demo used to evaluate (one `AlarmStore.evaluate` per moment at which a datapoint enters
   or leaves a window, ~300 moments), with the loglake of `--baseline` (by default the commit
   before one-pass evaluation: "loop-before") and with this loglake ("loop").
2. Metric math over a year of 1-minute datapoints: `100 * FILL(errors, 0) / requests` and
   `ANOMALY_DETECTION_BAND(m1, 2)` replayed minute by minute over the year, with this loglake and
   the `--replay-baseline` one, against the same arithmetic written directly in Polars over the
   same rows (the peer: no alarm semantics, no transitions or history recorded).

Every loglake run is a fresh process (as `loglake alarm evaluate --replay-from` is) on its own
copy of the same lake; the variants are interleaved, medians of the repeats. Wall and CPU time
(user + system of the process, all its threads) are both reported: on a shared, loaded machine
the CPU time is the steadier of the two.

Usage: python bench/bench_alarms.py [--events-per-day N] [--repeat N] [--replay-baseline REV]
       [--loops] [--baseline REV] [--skip-demo] [--skip-math] [--days N]
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

#: one timed run in a fresh process, by the loglake found on its path; prints a JSON line
_CHILD = """
import json, sys, time
from datetime import datetime
import loglake
from loglake.catalog import Catalog, StorageSettings
from loglake.monitor.alarmstore import AlarmStore
lake, job = sys.argv[1], json.loads(sys.argv[2])
if job["site"]:
    assert loglake.__file__.startswith(job["site"]), loglake.__file__
store = AlarmStore(Catalog(StorageSettings.resolve(lake)))
wall, cpu = time.perf_counter(), time.process_time()
if job["mode"] == "loop":
    for moment in job["points"]:
        store.evaluate(now=datetime.fromisoformat(moment))
    made = None
else:
    made = store.replay(
        datetime.fromisoformat(job["start"]),
        datetime.fromisoformat(job["end"]),
        actions=job["actions"],
    )
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
history = store.history()
print(json.dumps({
    "wall": wall, "cpu": cpu, "transitions": None if made is None else len(made),
    "rows": history.height, "files": len(store.history_table.files()),
}))
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


def child_run(site: Path | None, lake: Path, job: dict) -> dict:
    """Run a timed job in a fresh process with the loglake of `site` (None: this checkout's)."""
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = str(site)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(lake), json.dumps({**job, "site": str(site or "")})],
        env=env,
        cwd=site or lake,  # not the checkout: its loglake/ folder would shadow the baseline's
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"a timed run failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])


def medians(runs: list[dict]) -> tuple[float, float]:
    return statistics.median(r["wall"] for r in runs), statistics.median(r["cpu"] for r in runs)


def bench_demo(
    events_per_day: int, repeat: int, baseline: str, replay_baseline: str, loops: bool
) -> None:
    work = Path(tempfile.mkdtemp(prefix="loglake-bench-alarms-"))
    try:
        t0 = time.perf_counter()
        start, end = demo_lake(work, events_per_day)
        print(f"demo lake built in {time.perf_counter() - t0:.0f} s")
        base = work / "lake"
        points = [p.isoformat() for p in moments(loglake.connect(str(base)), start, end)]
        replay_job = {
            "mode": "replay",
            "start": (start + timedelta(minutes=1)).isoformat(),
            "end": end.isoformat(),
            "actions": True,
        }
        sites = {"replay-before": baseline_package(replay_baseline, work / "replay-baseline")}
        print(f"replay-before: loglake at {replay_baseline}")
        variants: dict[str, tuple[Path | None, dict]] = {
            "replay-before": (sites["replay-before"], replay_job),
            "replay": (None, replay_job),
        }
        if loops:
            rev = baseline_revision(baseline)
            print(f"loop-before: loglake at {rev}")
            loop_job = {"mode": "loop", "points": points}
            variants = {
                "loop-before": (baseline_package(rev, work / "baseline"), loop_job),
                "loop": (None, loop_job),
                **variants,
            }
        runs: dict[str, list[dict]] = {v: [] for v in variants}
        for k in range(repeat):
            for variant, (site, job) in variants.items():
                copy = work / f"{variant}-{k}"
                shutil.copytree(base, copy)
                run = child_run(site, copy, job)
                runs[variant].append(run)
                shutil.rmtree(copy)
                print(
                    f"  {variant:13} #{k + 1}: {run['wall']:7.2f} s wall, {run['cpu']:6.2f} s CPU, "
                    f"history {run['rows']} rows in {run['files']} files",
                    flush=True,
                )
        minutes = int((end - start).total_seconds() // 60)
        print(
            f"medians of {repeat} (14 alarms x {minutes:,} minutes; loops: {len(points)} moments)"
        )
        for variant in variants:
            wall, cpu = medians(runs[variant])
            print(f"  {variant:13} {wall:8.2f} s wall {cpu:7.2f} s CPU")
        wall, cpu = medians(runs["replay"])
        before_wall, before_cpu = medians(runs["replay-before"])
        print(
            f"replay: {wall:.2f} s wall (goal < 2 s), {cpu:.2f} s CPU; "
            f"{before_wall / wall:.1f}x less wall and {before_cpu / cpu:.1f}x less CPU than before"
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


def bench_math(repeat: int, replay_baseline: str, days: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="loglake-bench-math-"))
    try:
        catalog = Catalog(StorageSettings.resolve(str(work / "lake")))
        minutes = days * 1440
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rows = year_of_minutes(start, minutes)
        MetricsStore(catalog).write(rows)
        print(f"{days} days of 1-minute datapoints: {rows.height:,} rows")
        site = baseline_package(replay_baseline, work / "replay-baseline")
        print(f"replay-before: loglake at {replay_baseline}")
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
        job = {
            "mode": "replay",
            "start": (start + timedelta(minutes=1)).isoformat(),
            "end": end.isoformat(),
            "actions": False,
        }

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
            copy = work / f"with-{definition['AlarmName']}"
            shutil.copytree(work / "lake", copy)
            AlarmStore(Catalog(StorageSettings.resolve(str(copy)))).put_alarm(definition, now=start)
            runs: dict[str, list[dict]] = {"replay-before": [], "replay": [], "peer": []}
            for k in range(repeat):
                for variant, where in (("replay-before", site), ("replay", None)):
                    run_copy = work / f"{variant}-{k}"
                    shutil.copytree(copy, run_copy)
                    runs[variant].append(child_run(where, run_copy, job))
                    shutil.rmtree(run_copy)
                wall, cpu = time.perf_counter(), time.process_time()
                peer()
                runs["peer"].append(
                    {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
                )
            print(
                f"{definition['AlarmName']}: replay of {minutes:,} minutes, "
                f"{runs['replay'][0]['transitions']:,} transitions; medians of {repeat}"
            )
            peer_wall, peer_cpu = medians(runs["peer"])
            for variant in runs:
                wall, cpu = medians(runs[variant])
                print(
                    f"  {variant:13} {wall:8.2f} s wall {cpu:7.2f} s CPU   "
                    f"ratio to plain Polars: {wall / peer_wall:6.1f}x wall {cpu / peer_cpu:6.1f}x CPU"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events-per-day", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--replay-baseline",
        default="2026ef2",
        help="git revision whose replay is timed as 'replay-before' (default: main before the "
        "replay's writes and transitions were reworked)",
    )
    parser.add_argument("--loops", action="store_true", help="also time the per-moment loops")
    parser.add_argument("--baseline", default="auto", help="git revision of 'loop-before'")
    parser.add_argument("--days", type=int, default=365, help="metric math: days of minutes")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-math", action="store_true")
    args = parser.parse_args()
    if not args.skip_demo:
        bench_demo(
            args.events_per_day, args.repeat, args.baseline, args.replay_baseline, args.loops
        )
    if not args.skip_math:
        bench_math(args.repeat, args.replay_baseline, args.days)


if __name__ == "__main__":
    main()
