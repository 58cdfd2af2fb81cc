"""CloudTrail ingest throughput against the floor of merely inflating and parsing the same files.

Builds ~200k realistic CloudTrail events (~1.5 KB each) in ~100 gzip files under an AWS key
layout (record shapes taken from the real samples in ../shared/samples when present), then times
in one run:

* floor: gzip + orjson.loads of every file, in one process, and in two processes;
* loglake ingest with one process and with two worker processes (each into a fresh lake);
* a one-day, one-account SQL query on the result (partition-filtered scan), next to the same
  query over every day.

Usage: python bench/bench_ingest.py [--events 200000] [--files 100] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
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

import loglake
from loglake.catalog import Catalog, StorageSettings
from loglake.ingest import ingest

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
ACCOUNTS = ["111122223333", "444455556666", "777788889999"]
REGIONS = ["us-east-1", "eu-west-1"]


def templates() -> list[dict]:
    out = []
    for path in sorted((SAMPLES / "invictus-aws-dataset" / "CloudTrail").glob("*.json")):
        out.extend(orjson.loads(path.read_bytes())["Records"])
    if not out:
        raise SystemExit("samples not found: expected ../shared/samples/invictus-aws-dataset")
    return out


def build(folder: Path, events: int, files: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    pool = templates()
    per_file = events // files
    start = dt.datetime(2024, 5, 10, tzinfo=dt.UTC)
    paths = []
    for i in range(files):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        region = REGIONS[(i // len(ACCOUNTS)) % len(REGIONS)]
        day = start + dt.timedelta(days=i % 3)
        stamp = day + dt.timedelta(minutes=5 * i)
        records = []
        for _ in range(per_file):
            record = copy.deepcopy(rng.choice(pool))
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
        name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%M}Z_{uuid.uuid4().hex[:16]}.json.gz"
        path = folder_path / name
        path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), 6))
        paths.append(path)
    return paths


def floor_one(paths: list[Path]) -> int:
    n = 0
    for path in paths:
        n += len(orjson.loads(gzip.decompress(path.read_bytes()))["Records"])
    return n


def floor(paths: list[Path], processes: int) -> tuple[float, int]:
    started = time.perf_counter()
    if processes == 1:
        n = floor_one(paths)
    else:
        chunks = [paths[i::processes] for i in range(processes)]
        with cf.ProcessPoolExecutor(processes) as pool:
            n = sum(pool.map(floor_one, chunks))
    return time.perf_counter() - started, n


def run_ingest(raw: Path, lake: Path, workers: int) -> tuple[float, int]:
    shutil.rmtree(lake, ignore_errors=True)
    catalog = Catalog(StorageSettings.resolve(str(lake)))
    started = time.perf_counter()
    report = ingest(catalog, str(raw), workers=workers, progress=False)
    return time.perf_counter() - started, report.rows.get("cloudtrail", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--keep", help="build the raw data and lakes in this folder")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    args = parser.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    raw = base / "raw"
    try:
        if not raw.exists():
            print(f"building {args.events:,} events in {args.files} files ...")
            build(raw, args.events, args.files)
        paths = sorted(raw.rglob("*.json.gz"))
        compressed = sum(p.stat().st_size for p in paths) / 1e6
        raw_mb = sum(len(gzip.decompress(p.read_bytes())) for p in paths) / 1e6
        print(
            f"{len(paths)} files, {compressed:.1f} MB gzip, {raw_mb:.1f} MB JSON, cpus={os.cpu_count()}"
        )

        # interleaved repeats, median of each: the machine's load drifts during a run
        timings: dict[str, list[float]] = {"f1": [], "f2": [], "i1": [], "i2": []}
        for _ in range(args.repeat):
            f1, n = floor(paths, 1)
            f2, _ = floor(paths, 2)
            i1, rows1 = run_ingest(raw, base / "lake1", 1)
            i2, rows2 = run_ingest(raw, base / "lake2", 2)
            assert rows1 == n and rows2 == n, (rows1, rows2, n)
            for name, value in (("f1", f1), ("f2", f2), ("i1", i1), ("i2", i2)):
                timings[name].append(value)
        f1, f2, i1, i2 = (statistics.median(timings[k]) for k in ("f1", "f2", "i1", "i2"))

        def line(name: str, seconds: float) -> str:
            return (
                f"{name:<34} {seconds:7.2f} s  {n / seconds:>10,.0f} events/s  "
                f"{compressed / seconds:7.1f} MB/s gz"
            )

        print(line("floor gzip+orjson, 1 process", f1))
        print(line("floor gzip+orjson, 2 processes", f2))
        print(line("loglake ingest, 1 process", i1))
        print(line("loglake ingest, 2 workers", i2))
        print(f"medians of {args.repeat} runs; first 2-worker run includes starting the workers")
        print(f"2 workers, first run (starts them):  {timings['i2'][0]:7.2f} s")
        print(f"ratio ingest/floor, 1 process:            {f1 / i1:.2f}x (goal >= 0.6x)")
        print(
            f"ratio ingest 2 workers / floor 1 process: {f1 / i2:.2f}x "
            "(goal >= 0.96x, i.e. 1.6 x the 0.6x goal)"
        )
        print(f"2 workers / 1 process:                    {i1 / i2:.2f}x faster")

        lake = loglake.connect(str(base / "lake1"))
        where = f"WHERE day = '2024-05-10' AND account = '{ACCOUNTS[0]}'"
        for label, clause in (("1-day 1-account query", where), ("same query, all days", "")):
            sql = f"SELECT eventname, count(*) AS n FROM cloudtrail {clause} GROUP BY 1"
            lake.sql(sql)  # warm: catalog and Delta log loaded once
            started = time.perf_counter()
            result = lake.sql(sql)
            seconds = time.perf_counter() - started
            stats = lake.last_query
            print(
                f"{label:<22} {seconds * 1000:5.0f} ms, {result['n'].sum():>7,} of {n:,} rows, "
                f"files read {stats.files_scanned}, skipped {stats.files_skipped}"
            )
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
