"""What the notebook paths cost on top of ``lake.sql``, and the memory of a large streamed result.

1. Driver overhead: ``cursor.execute(q).fetchall()`` against ``lake.sql(q)`` on 20 small
   investigation queries over a generated lake, interleaved, median of N runs per query.
   Goal: the driver takes less than 5% more in total.
2. ``pandas.read_sql`` through the SQLAlchemy dialect against ``lake.sql(q).to_pandas()``.
3. A 10M-row result read through the cursor: peak RSS of ``fetchmany`` streaming against the
   whole result as one frame (``as_polars``), each in its own process, with the RSS seen after
   every 2M rows to show that streaming memory does not grow with the rows read.

    python bench/bench_dbapi.py [--runs 7] [--rows 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import loglake
from loglake import dbapi
from loglake.datasets import generate

QUERIES = [
    "SELECT count(*) FROM cloudtrail",
    "SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "SELECT eventsource, count(*) FROM cloudtrail GROUP BY 1",
    "SELECT useridentity.arn, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "SELECT sourceipaddress, count(*) FROM cloudtrail WHERE errorcode IS NOT NULL GROUP BY 1",
    "SELECT eventtime, eventname FROM cloudtrail WHERE eventname = 'ConsoleLogin' ORDER BY 1",
    "SELECT day, count(*) FROM cloudtrail GROUP BY day ORDER BY day",
    "SELECT eventname FROM cloudtrail WHERE useridentity.type = 'Root' LIMIT 20",
    "SELECT count(DISTINCT useridentity.accesskeyid) FROM cloudtrail",
    "SELECT awsregion, count(*) FROM cloudtrail GROUP BY 1",
    "SELECT * FROM cloudtrail LIMIT 50",
    "SELECT count(*) FROM vpc_flow_logs WHERE action = 'REJECT'",
    "SELECT dstport, count(*) FROM vpc_flow_logs GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "SELECT srcaddr, sum(bytes) FROM vpc_flow_logs GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    "SELECT * FROM vpc_flow_logs WHERE dstport = 22 LIMIT 100",
    "SELECT resourcetype, count(*) FROM config_items GROUP BY 1",
    "SELECT count(*) FROM cloudwatch_logs",
    "SELECT loggroup, count(*) FROM cloudwatch_logs GROUP BY 1",
    "SELECT json_extract_scalar(requestparameters, '$.groupId') FROM cloudtrail "
    "WHERE eventname = 'AuthorizeSecurityGroupIngress'",
    "SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS h, count(*) FROM cloudtrail "
    "GROUP BY 1 ORDER BY 1",
]

PANDAS_QUERIES = [QUERIES[1], QUERIES[10], QUERIES[14], QUERIES[19]]

PEAK_SCRIPT = """
import json, sys, time
def rss(field):
    return int(open("/proc/self/status").read().split(field + ":")[1].split()[0]) // 1024
from loglake import dbapi
cursor = dbapi.connect(sys.argv[1]).cursor()
base = rss("VmRSS")
started = time.perf_counter()
cursor.execute("SELECT id, label, value FROM numbers")
seen, rows, marks = 2_000_000, 0, []
if sys.argv[2] == "stream":
    while batch := cursor.fetchmany(10_000):
        rows += len(batch)
        if rows >= seen:
            marks.append(rss("VmRSS") - base)
            seen += 2_000_000
else:
    rows = cursor.as_polars().height
print(json.dumps({"rows": rows, "peak_mb": rss("VmHWM") - base, "marks": marks,
                  "seconds": time.perf_counter() - started}))
"""


def build_lake(folder: Path) -> str:
    if (folder / "lake" / "_catalog").is_dir():
        return str(folder / "lake")
    generate(
        str(folder / "raw"),
        accounts=2,
        regions=1,
        days=3,
        events_per_day=2000,
        seed=1,
        scenarios=["all"],
        start="2024-05-06T00:00:00Z",
        progress=False,
    )
    loglake.connect(str(folder / "lake"), create=True).ingest(str(folder / "raw"), progress=False)
    return str(folder / "lake")


def add_numbers(lake_root: str, folder: Path, rows: int) -> None:
    """An external Parquet table of ``rows`` rows (id, a 20-character label, a double)."""
    data = folder / "numbers"
    if data.is_dir():
        return
    data.mkdir()
    per_file = 1_000_000
    for start in range(0, rows, per_file):
        ids = pl.int_range(start, min(rows, start + per_file), eager=True)
        pl.DataFrame(
            {"id": ids, "label": "event-" + ids.cast(pl.String).str.zfill(14), "value": ids * 0.5}
        ).write_parquet(data / f"part-{start // per_file:04d}.parquet", row_group_size=100_000)
    lake = loglake.connect(lake_root)
    # the Parquet lies beside the lake, outside the root SQL may read by default
    lake.catalog.update_lake_settings(allowed_locations=[str(data.resolve())])
    lake.sql(
        "CREATE EXTERNAL TABLE numbers (id bigint, label string, value double) "
        f"STORED AS PARQUET LOCATION '{data}'"
    )


def time_once(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def driver_overhead(lake_root: str, runs: int) -> None:
    lake = loglake.connect(lake_root, database="aws")
    cursor = dbapi.connect(lake_root, database="aws").cursor()
    direct: dict[str, list[float]] = {q: [] for q in QUERIES}
    driver: dict[str, list[float]] = {q: [] for q in QUERIES}
    for q in QUERIES:  # warm both paths (file footers, imports)
        lake.sql(q)
        cursor.execute(q).fetchall()
    for run in range(runs):
        for q in QUERIES:
            pair = [
                ("direct", lambda q=q: lake.sql(q)),
                ("driver", lambda q=q: cursor.execute(q).fetchall()),
            ]
            if run % 2:
                pair.reverse()
            for name, call in pair:
                (direct if name == "direct" else driver)[q].append(time_once(call))
    total_direct = sum(statistics.median(v) for v in direct.values())
    total_driver = sum(statistics.median(v) for v in driver.values())
    print(f"1. driver overhead on {len(QUERIES)} small queries, median of {runs} runs each")
    for q in QUERIES:
        d, c = statistics.median(direct[q]), statistics.median(driver[q])
        print(f"   {d * 1e3:7.1f} ms  {c * 1e3:7.1f} ms  x{c / d:5.2f}  {q[:70]}")
    ratio = total_driver / total_direct
    print(
        f"   total: lake.sql {total_direct * 1e3:.0f} ms, cursor {total_driver * 1e3:.0f} ms: "
        f"x{ratio:.3f} ({(ratio - 1) * 100:+.1f}%; goal < +5%): {'ok' if ratio < 1.05 else 'MISSED'}"
    )


def pandas_paths(lake_root: str, runs: int) -> None:
    import pandas as pd
    import sqlalchemy as sa

    lake = loglake.connect(lake_root, database="aws")
    engine = sa.create_engine(f"loglake:///{lake_root}?database=aws")
    print("2. pandas.read_sql through the dialect against lake.sql(q).to_pandas()")
    for q in PANDAS_QUERIES:
        pd.read_sql(q, engine)
        lake.sql(q).to_pandas()
        direct, dialect = [], []
        for _ in range(runs):
            direct.append(time_once(lambda q=q: lake.sql(q).to_pandas()))
            dialect.append(time_once(lambda q=q: pd.read_sql(q, engine)))
        d, s = statistics.median(direct), statistics.median(dialect)
        print(f"   {d * 1e3:7.1f} ms  {s * 1e3:7.1f} ms  x{s / d:5.2f}  {q[:70]}")


def streaming_memory(lake_root: str, folder: Path, rows: int) -> None:
    script = folder / "peak.py"
    script.write_text(PEAK_SCRIPT)
    print(f"3. a {rows:,}-row result through the cursor (RSS above the connected process)")
    for mode in ("stream", "whole"):
        out = subprocess.run(
            [sys.executable, str(script), lake_root, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        found = json.loads(out.stdout.strip().splitlines()[-1])
        what = "fetchmany(10_000) streaming" if mode == "stream" else "as_polars(), whole result"
        print(
            f"   {what:30s} {found['rows']:,} rows, peak +{found['peak_mb']} MB, "
            f"{found['seconds']:.1f} s"
            + (f"; RSS after each 2M rows: {found['marks']} MB" if found["marks"] else "")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keep", help="folder to build the lake in and keep (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        lake_root = build_lake(folder)
        driver_overhead(lake_root, args.runs)
        pandas_paths(lake_root, args.runs)
        add_numbers(lake_root, folder, args.rows)
        streaming_memory(lake_root, folder, args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
