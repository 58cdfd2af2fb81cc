"""CloudTrail ingest throughput against the floor of merely inflating and parsing the same files.

Two shapes of delivery, timed in the same run:

* **big**: ~200k realistic CloudTrail events (~1.5 KB each) in 100 gzip files;
* **small**: 10,000 files of 30-50 events each, as a trail delivers them every five minutes per
  account and region (an organisation trail is hundreds of thousands of these a day).

Record shapes come from the real Invictus samples in tests/data. For each shape, interleaved
and repeated (medians):

* floor: gzip + orjson.loads of every file, in one process, and in two processes;
* loglake ingest with one process and with two worker processes (each into a fresh lake);

and then a one-day, one-account SQL query on the result (partition-filtered scan), next to the
same query over every day, before and after compacting each partition into one file.

Each time comes with the CPU seconds of the whole process tree (worker processes included), and
the load average is printed: on a shared machine wall time mostly measures the neighbours, and
the CPU ratio is the steadier one.

Usage: python bench/bench_ingest.py [--shapes big,small] [--repeat 3] [--keep DIR]
       [--events 200000] [--files 100] [--small-files 10000] [--commit-objects N]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import gzip
import os
import random
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from cpu_time import load, tree_cpu

import loglake
from loglake.catalog import Catalog, StorageSettings
from loglake.ingest import ingest
from loglake.ingest.compaction import compact_crowded

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "invictus-aws-dataset"
ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "eu-west-1"]


def templates() -> list[bytes]:
    """Real records, serialised (a copy per event is one orjson.loads of these)."""
    out = []
    for path in sorted((SAMPLES / "CloudTrail").glob("*.json.gz")):
        out.extend(
            orjson.dumps(r) for r in orjson.loads(gzip.decompress(path.read_bytes()))["Records"]
        )
    if not out:
        raise SystemExit(f"samples not found under {SAMPLES}")
    return out


def build(folder: Path, sizes: list[int], seed: int = 7) -> list[Path]:
    """One gzip CloudTrail file per entry of ``sizes`` (its number of events), spread over three
    accounts, two regions and three days, five minutes apart per account and region."""
    rng = random.Random(seed)
    pool = templates()
    start = dt.datetime(2024, 5, 10, tzinfo=dt.UTC)
    streams = len(ACCOUNTS) * len(REGIONS)
    per_day = max(1, -(-len(sizes) // (3 * streams)))
    paths = []
    for i, count in enumerate(sizes):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        region = REGIONS[(i // len(ACCOUNTS)) % len(REGIONS)]
        slot = i // streams
        day = start + dt.timedelta(days=min(2, slot // per_day))
        stamp = day + dt.timedelta(seconds=(slot % per_day) * 86_400 // per_day)
        records = []
        for _ in range(count):
            record = orjson.loads(rng.choice(pool))
            when = stamp - dt.timedelta(seconds=rng.randrange(0, 300))
            record["eventTime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            record["eventID"] = str(uuid.UUID(int=rng.getrandbits(128)))
            record["recipientAccountId"] = account
            record["awsRegion"] = region
            record["sourceIPAddress"] = f"198.51.100.{rng.randrange(1, 255)}"
            records.append(record)
        folder_path = (
            folder / "AWSLogs" / account / "CloudTrail" / region / day.strftime("%Y/%m/%d")
        )
        folder_path.mkdir(parents=True, exist_ok=True)
        suffix = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%M}Z_{suffix}.json.gz"
        path = folder_path / name
        path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), 6))
        paths.append(path)
    return paths


def floor_one(paths: list[Path]) -> int:
    n = 0
    for path in paths:
        n += len(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return n


def floor(paths: list[Path], processes: int) -> tuple[float, float, int]:
    """Wall and CPU seconds of the floor, and the events read."""
    started, cpu = time.perf_counter(), tree_cpu()
    if processes == 1:
        n = floor_one(paths)
    else:
        chunks = [paths[i::processes] for i in range(processes)]
        with cf.ProcessPoolExecutor(processes) as pool:
            n = sum(pool.map(floor_one, chunks))
    return time.perf_counter() - started, tree_cpu() - cpu, n


def run_ingest(raw: Path, lake: Path, workers: int) -> tuple[float, float, int]:
    """Wall and CPU seconds of one ingest into a fresh lake, and the rows it wrote."""
    shutil.rmtree(lake, ignore_errors=True)
    catalog = Catalog(StorageSettings.resolve(str(lake)))
    started, cpu = time.perf_counter(), tree_cpu()
    report = ingest(catalog, str(raw), workers=workers, progress=False)
    return time.perf_counter() - started, tree_cpu() - cpu, report.rows.get("cloudtrail", 0)


def shape_sizes(shape: str, args: argparse.Namespace) -> list[int]:
    if shape == "big":
        return [args.events // args.files] * args.files
    rng = random.Random(11)
    return [rng.randint(30, 50) for _ in range(args.small_files)]


def bench_shape(shape: str, base: Path, args: argparse.Namespace) -> dict[str, float]:
    raw = base / f"raw-{shape}"
    if not raw.exists():
        sizes = shape_sizes(shape, args)
        print(f"building {sum(sizes):,} events in {len(sizes):,} files ({shape}) ...", flush=True)
        build(raw, sizes)
    paths = sorted(raw.rglob("*.json.gz"))
    compressed = sum(p.stat().st_size for p in paths) / 1e6
    print(f"[{shape}] {len(paths):,} files, {compressed:.1f} MB gzip, cpus={os.cpu_count()}")
    print(f"[{shape}] load average {load()}")

    # interleaved repeats, median of each: the machine's load drifts during a run
    names = ("f1", "f2", "i1", "i2")
    timings: dict[str, list[float]] = {name: [] for name in names}
    cpus: dict[str, list[float]] = {name: [] for name in names}
    n = 0
    for _ in range(args.repeat):
        f1, c1, n = floor(paths, 1)
        f2, c2, _ = floor(paths, 2)
        i1, d1, rows1 = run_ingest(raw, base / f"lake-{shape}-1", 1)
        i2, d2, rows2 = run_ingest(raw, base / f"lake-{shape}-2", 2)
        assert rows1 == n and rows2 == n, (rows1, rows2, n)
        for name, wall, cpu in zip(names, (f1, f2, i1, i2), (c1, c2, d1, d2), strict=True):
            timings[name].append(wall)
            cpus[name].append(cpu)
    out = {name: statistics.median(timings[name]) for name in names}
    out |= {f"cpu_{name}": statistics.median(cpus[name]) for name in names}

    def line(label: str, name: str) -> str:
        seconds = out[name]
        return (
            f"[{shape}] {label:<31} {seconds:7.2f} s  CPU {out['cpu_' + name]:7.2f} s  "
            f"{n / seconds:>10,.0f} events/s  {len(paths) / seconds:>8,.0f} files/s"
        )

    print(line("floor gzip+orjson, 1 process", "f1"))
    print(line("floor gzip+orjson, 2 processes", "f2"))
    print(line("loglake ingest, 1 process", "i1"))
    print(line("loglake ingest, 2 workers", "i2"))
    print(f"[{shape}] 2 workers, first run (starts them): {timings['i2'][0]:7.2f} s")
    print(f"[{shape}] load average {load()}")
    lake = base / f"lake-{shape}-1"
    if args.commit_objects:  # the lake a watch loop leaves: a commit (a file per partition) per run
        lake = base / f"lake-{shape}-runs"
        shutil.rmtree(lake, ignore_errors=True)
        catalog = Catalog(StorageSettings.resolve(str(lake)))
        started = time.perf_counter()
        report = ingest(
            catalog, str(raw), progress=False, batch_objects=args.commit_objects, compact_files=0
        )
        assert report.rows["cloudtrail"] == n, report
        print(
            f"[{shape}] lake for the queries: a commit per {args.commit_objects} objects, "
            f"built in {time.perf_counter() - started:.1f} s"
        )
    query(shape, lake, n)
    return out


def query(shape: str, lake_path: Path, n: int) -> None:
    """The 1-day, 1-account query and the same over every day (median of three), then again
    after every partition is compacted into one file (what ``compact_files`` does as files
    accumulate; a lake fed by 5-minute runs has a file per run in each partition)."""
    lake = loglake.connect(str(lake_path))
    where = f"WHERE day = '2024-05-10' AND account = '{ACCOUNTS[0]}'"
    for state in ("as ingested", "compacted"):
        if state == "compacted":
            catalog = Catalog(StorageSettings.resolve(str(lake_path)))
            started = time.perf_counter()
            done = compact_crowded(catalog, "aws", ["cloudtrail"], max_files=1)
            seconds = time.perf_counter() - started
            print(f"[{shape}] compacted {len(done)} partitions in {seconds:.1f} s")
        for label, clause in (("1-day 1-account query", where), ("same query, all days", "")):
            sql = f"SELECT eventname, count(*) AS n FROM cloudtrail {clause} GROUP BY 1"
            lake.sql(sql)  # warm: catalog and Delta log loaded once
            times = []
            for _ in range(3):
                started = time.perf_counter()
                result = lake.sql(sql)
                times.append(time.perf_counter() - started)
            stats = lake.last_query
            print(
                f"[{shape}] {state:<11} {label:<22} {statistics.median(times) * 1000:5.0f} ms, "
                f"{result['n'].sum():>7,} of {n:,} rows, files read {stats.files_scanned}, "
                f"skipped {stats.files_skipped}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="big,small", help="big, small or both (default)")
    parser.add_argument("--events", type=int, default=200_000, help="events of the big shape")
    parser.add_argument("--files", type=int, default=100, help="files of the big shape")
    parser.add_argument("--small-files", type=int, default=10_000, help="files of 30-50 events")
    parser.add_argument("--keep", help="build the raw data and lakes in this folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument(
        "--commit-objects",
        type=int,
        default=0,
        help="query a lake built with a commit per N objects, as a watch loop's frequent runs "
        "leave it (default: the lake of the 1-process ingest, one file per partition)",
    )
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        results = {s: bench_shape(s, base, args) for s in args.shapes.split(",")}
        print(f"\nmedians of {args.repeat} interleaved runs; ratio = floor time / ingest time")
        print("goals: 1 process >= 0.6x, 2 workers >= 1.0x the 1-process floor's wall time")
        print("shape   1 process: wall   CPU    2 workers: wall   CPU")
        for shape, t in results.items():
            print(
                f"{shape:<7} {t['f1'] / t['i1']:>15.2f}x {t['cpu_f1'] / t['cpu_i1']:>5.2f}x "
                f"{t['f1'] / t['i2']:>16.2f}x {t['cpu_f1'] / t['cpu_i2']:>5.2f}x"
            )
        print(f"load average {load()}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
