"""Athena's CloudTrail table definition over raw exports: loglake against DuckDB, same files.

A newcomer points the table definition of Athena's CloudTrail guide (CloudTrail SerDe, a row per
member of each file's ``Records``) at a folder of raw deliveries and queries it. This script
generates such a folder, creates that table through ``lake.sql`` and times a query over it,
interleaved with DuckDB reading the same files (``read_json`` and ``unnest(Records)``); it prints
the medians and their ratio.

    python bench/bench_json_serde.py [--events-per-day 3000] [--days 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

import loglake
from loglake.datasets import generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from athena_guide import CLOUDTRAIL_SERDE, fill

LOGLAKE_SQL = (
    "SELECT count(*) AS events, count(useridentity.arn) AS with_arn, "
    "count_if(errorcode IS NOT NULL) AS errors FROM cloudtrail_logs"
)
DUCKDB_SQL = (
    "SELECT count(*), count(r.userIdentity.arn), count_if(r.errorCode IS NOT NULL) "
    "FROM (SELECT unnest(Records) AS r FROM read_json('{files}', format='auto', "
    "union_by_name=true, maximum_object_size=536870912))"
)


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    answer = run()
    return time.perf_counter() - start, answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=int, default=3000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "raw"
        generate(
            raw,
            accounts=1,
            regions=1,
            days=args.days,
            events_per_day=args.events_per_day,
            seed=7,
            scenarios=["all"],
            progress=False,
        )
        (account,) = [p.name for p in (raw / "AWSLogs").iterdir()]
        trail = raw / "AWSLogs" / account / "CloudTrail"
        files = sorted(str(p) for p in trail.rglob("*.json.gz"))
        lake = loglake.connect(str(Path(folder) / "lake"), create=True)
        # the raw trail lies beside the lake, outside the root SQL may read by default
        lake.catalog.update_lake_settings(allowed_locations=[str(trail.resolve())])
        lake.sql(fill(CLOUDTRAIL_SERDE, trail=str(trail)))
        duck = duckdb.connect()
        duck_sql = DUCKDB_SQL.format(files=f"{trail}/**/*.json.gz")
        ours, theirs = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same load
            # a new connection each time: nothing kept from the previous statement
            fresh = loglake.connect(str(Path(folder) / "lake"))
            seconds, answer = timed(lambda lake=fresh: lake.sql(LOGLAKE_SQL).row(0))
            ours.append(seconds)
            seconds, expected = timed(lambda: duck.execute(duck_sql).fetchall()[0])
            theirs.append(seconds)
        assert tuple(answer) == tuple(expected), (answer, expected)
        mine, peer = statistics.median(ours), statistics.median(theirs)
        print(f"{len(files)} files, {answer[0]:,} events")
        print(f"loglake (guide DDL, lake.sql): median {mine * 1000:,.0f} ms")
        print(f"duckdb (read_json + unnest):   median {peer * 1000:,.0f} ms")
        print(f"ratio loglake / duckdb: {mine / peer:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
