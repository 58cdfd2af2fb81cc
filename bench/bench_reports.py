"""A full cis_aws_v3 run: wall time, per-control times, and batch against one-by-one.

Usage::

    python bench/bench_reports.py [--lake demo-lake] [--as-of 2024-05-12T12:00Z] [--repeat 3]
    python bench/bench_reports.py --big [--cache .bench-cache]  # 10M CloudTrail events, ~100k Config items

The demo lake is built by ``python -m loglake.demo`` when missing. The big lake is generated (64
accounts x 8 regions x 7 days, 2,800 events per account and region and day) and ingested once into
the cache folder. Each repeat times, interleaved, the runner as users run it (each plan collected
while the next compiles, shared relations computed once) and the same controls collected one by one (what running
each control's SQL by hand costs); the ratio is printed with the medians. Then ``loglake report
run`` is timed in a new process, as users run it (start-up and imports included, CPU time of the
child beside its wall time). Goal: < 5 s on the demo lake.
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

import loglake
from loglake.reports.definitions import find_benchmark
from loglake.reports.runner import Runner


def build_demo(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "loglake.demo", "--out", str(path)], check=True)


def build_big(cache: Path) -> Path:
    lake_path = cache / "reports-big-lake"
    if (lake_path / "_catalog").exists():
        return lake_path
    from loglake.datasets import generate

    raw = cache / "reports-big-raw"
    generate(
        raw,
        accounts=64,
        regions=8,
        days=7,
        events_per_day=2_800,
        seed=9,
        scenarios=["all"],
        sources=("cloudtrail", "config"),
        progress=True,
    )
    loglake.connect(str(lake_path), create=True).ingest(str(raw), progress=True)
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", default="demo-lake")
    parser.add_argument("--big", action="store_true", help="use the 10M-event lake (built once)")
    parser.add_argument("--cache", default=".bench-cache")
    parser.add_argument("--as-of", help="instant to evaluate (default: the latest Config item)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = build_big(Path(args.cache)) if args.big else Path(args.lake)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
