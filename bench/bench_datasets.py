"""Generation speed of CloudTrail events, against the floor of serialising prebuilt records.

    python bench/bench_datasets.py [--events 500000] [--level 3]

The generator is timed writing N baseline CloudTrail events (one account, one region, one day, so
N events land in 288 five-minute files plus hourly signed digests). The floor takes N records
already in memory as dicts and only does what any writer must: orjson-serialise them into the
same number of ``{"Records": [...]}`` files and gzip them at the same level. The ratio says how
close the templated generator comes to doing nothing but output.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import orjson

from loglake.datasets import generate
from loglake.datasets.digest import signing_key


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500_000, help="CloudTrail events to generate")
    parser.add_argument("--level", type=int, default=3, help="gzip level for both sides")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    # the region's signing key is derived once per process (well under a second); keep it out of
    # the steady-state rate and report it on its own
    k0 = time.process_time()
    signing_key("us-east-1")
    key_cpu = time.process_time() - k0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw"
        t0 = time.perf_counter()
        c0 = time.process_time()
        summary = generate(
            out,
            accounts=1,
            regions=1,
            days=1,
            events_per_day=args.events,
            seed=args.seed,
            sources=["cloudtrail"],
            compresslevel=args.level,
            progress=False,
        )
        gen_s = time.perf_counter() - t0
        gen_cpu = time.process_time() - c0
        n = summary.events["cloudtrail"]
        files = sorted(out.glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz"))
        sizes = [len(json.loads(gzip.decompress(files[0].read_bytes()))["Records"])]
        # prebuilt dicts: real generated records, repeated to N
        pool = []
        for path in files[:20]:
            pool += json.loads(gzip.decompress(path.read_bytes()))["Records"]
        records = [dict(pool[i % len(pool)]) for i in range(n)]
        per_file = max(1, n // max(1, len(files)))
        sizes = [per_file] * (n // per_file)
        t0 = time.perf_counter()
        c0 = time.process_time()
        floor_bytes = 0
        for i, size in enumerate(sizes):
            chunk = records[i * size : (i + 1) * size]
            body = orjson.dumps({"Records": chunk})
            data = gzip.compress(body, compresslevel=args.level, mtime=0)
            floor_bytes += len(data)
            (Path(tmp) / "floor.json.gz").write_bytes(data)
        floor_s = time.perf_counter() - t0
        floor_cpu = time.process_time() - c0

    gen_rate = n / gen_s
    floor_rate = n / floor_s
    print(f"events                 {n:>12,}")
    print(
        f"cloudtrail files       {summary.files['cloudtrail']:>12,}  (+{summary.files['cloudtrail_digest']} digests)"
    )
    print(f"{'':22} {'wall':>10} {'events/s':>12} {'cpu':>10} {'events/cpu-s':>14}")
    print(
        f"loglake.datasets       {gen_s:>9.2f}s {gen_rate:>12,.0f} {gen_cpu:>9.2f}s {n / gen_cpu:>14,.0f}"
    )
    print(
        f"orjson+gzip floor      {floor_s:>9.2f}s {floor_rate:>12,.0f} {floor_cpu:>9.2f}s {n / floor_cpu:>14,.0f}"
    )
    print(f"ratio generator/floor  {gen_s / floor_s:>9.2f}x wall, {gen_cpu / floor_cpu:.2f}x cpu")
    print("(the generator compresses on worker threads; cpu time adds up all threads)")
    print(f"signing key derivation {key_cpu:>9.2f}s cpu, once per process and region")


if __name__ == "__main__":
    main()
