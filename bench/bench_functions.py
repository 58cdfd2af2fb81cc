"""Function-library throughput: loglake through ``lake.sql`` against DuckDB over the same Parquet.

Two parts, each query run on both engines in the same interleaved rounds (one untimed round,
then ``--runs`` timed ones; medians in milliseconds and the ratios loglake / DuckDB of wall
time and of process CPU time, the steadier one on a shared machine):

* **functions**: synthetic events (``--rows``, default 1,000,000) written as Parquet files of
  an external table; string, regex, date and JSON functions as log queries use them.
* **JSON members**: the CloudTrail members users filter and group on
  (``requestparameters.bucketName``, ``.groupId``, ``.roleArn``, ``.userName``,
  ``additionaleventdata.MFAUsed``, ``responseelements.ConsoleLogin``) on a generated and
  ingested lake of about 1M events (built once under bench/data/, see bench_logs.py), or on
  the lake ``--lake`` names (``--lake demo-lake`` after ``make demo``).

    python bench/bench_functions.py [--rows 1000000] [--runs 5] [--part functions|json]
        [--lake PATH]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import sqlglot
from bench_logs import duckdb_over, ensure_lake
from bench_tpch import interleaved_medians

import loglake

FUNCTION_QUERIES = {
    "json_extract_scalar": (
        "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS b, count(*) "
        "FROM events GROUP BY 1"
    ),
    "regexp_like": "SELECT count(*) FROM events WHERE regexp_like(useragent, 'aws-cli/2\\.[0-9]+')",
    "iso8601 + date_trunc": (
        "SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS h, count(*) "
        "FROM events GROUP BY 1"
    ),
    "split_part + lower": "SELECT lower(split_part(arn, ':', 5)) AS acct, count(*) FROM events GROUP BY 1",
    "substr + strpos": "SELECT count(*) FROM events WHERE strpos(substr(arn, 14), 'role') > 0",
}
# DuckDB has no URL functions or CIDR test without extensions; these run on loglake only.
LOGLAKE_ONLY = {
    "url_extract_host": "SELECT url_extract_host(url) AS h, count(*) FROM events GROUP BY 1",
    "contains(cidr, ip)": "SELECT count(*) FROM events WHERE contains('10.0.0.0/8', sourceip)",
}
#: (column, member) pairs of issue 13's JSON goal, the members investigations read most
JSON_MEMBERS = [
    ("requestparameters", "bucketName"),
    ("requestparameters", "groupId"),
    ("requestparameters", "roleArn"),
    ("requestparameters", "userName"),
    ("additionaleventdata", "MFAUsed"),
    ("responseelements", "ConsoleLogin"),
]
#: 2 accounts x 2 regions x 7 days x this many events a day and region: about 1M events
JSON_EVENTS_PER_DAY = 36_000


def make_events(rows: int) -> pl.DataFrame:
    rng = random.Random(7)
    buckets = [f"bucket-{i}" for i in range(50)]
    agents = ["aws-cli/2.15.1 Python/3.11", "Boto3/1.34.1", "console.amazonaws.com", "aws-cli/1.2"]
    hosts = ["example.com", "s3.amazonaws.com", "console.aws.amazon.com"]
    return pl.DataFrame(
        {
            "eventtime": [
                f"2024-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z"
                for i in range(rows)
            ],
            "requestparameters": [
                f'{{"bucketName": "{rng.choice(buckets)}", "key": "logs/{i}.gz"}}'
                for i in range(rows)
            ],
            "useragent": [rng.choice(agents) for _ in range(rows)],
            "arn": [
                f"arn:aws:iam::{100000000000 + i % 20}:{rng.choice(['role', 'user'])}/n{i % 99}"
                for i in range(rows)
            ],
            "url": [f"https://{rng.choice(hosts)}/p/{i % 10}?x={i}" for i in range(rows)],
            "sourceip": [
                f"{rng.choice([10, 52, 172])}.{i % 256}.{(i // 256) % 256}.{i % 200}"
                for i in range(rows)
            ],
        }
    )


def events_lake(rows: int, folder: Path) -> tuple[loglake.Lake, duckdb.DuckDBPyConnection]:
    """An external Parquet table ``events`` of ``rows`` synthetic events, and DuckDB over the
    same files."""
    data = folder / "events"
    data.mkdir()
    events = make_events(rows)
    files = 8
    size = -(-rows // files)
    for part in range(files):
        events.slice(part * size, size).write_parquet(data / f"part-{part}.parquet")
    lake = loglake.connect(str(folder / "lake"), create=True)
    # the Parquet lies beside the lake, outside the root SQL may read by default
    lake.catalog.update_lake_settings(allowed_locations=[str(data.resolve())])
    lake.sql(
        "CREATE EXTERNAL TABLE events (eventtime string, requestparameters string, "
        f"useragent string, arn string, url string, sourceip string) STORED AS PARQUET "
        f"LOCATION '{data}'"
    )
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    duck.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{data}/*.parquet')")
    return lake, duck


def compare(
    title: str, lake: loglake.Lake, duck: duckdb.DuckDBPyConnection | None, sql: str, runs: int
) -> float | None:
    """Time ``sql`` on both engines; return the CPU ratio (None for loglake only)."""
    duck_sql = sqlglot.transpile(sql, read="athena", write="duckdb")[0] if duck else None
    fns = {"loglake": lambda: lake.sql(sql)}
    if duck_sql is not None:
        fns["duckdb"] = lambda: duck.sql(duck_sql).pl()
    wall, cpu, first = interleaved_medians(fns, runs)
    if duck_sql is None:
        print(f"{wall['loglake'] * 1000:9.1f} {'-':>9} {'-':>6} {'-':>6}  {title}", flush=True)
        return None
    ours, theirs = first["loglake"], first["duckdb"]
    same = sorted(ours.rows(), key=repr) == sorted(theirs.rows(), key=repr)  # type: ignore[attr-defined]
    ratio = cpu["loglake"] / cpu["duckdb"]
    note = "" if same else "  (answers differ)"
    print(
        f"{wall['loglake'] * 1000:9.1f} {wall['duckdb'] * 1000:9.1f} "
        f"{wall['loglake'] / wall['duckdb']:6.2f} {ratio:6.2f}  {title}{note}",
        flush=True,
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--part", choices=["functions", "json", "all"], default="all")
    parser.add_argument("--lake", help="measure the JSON members on this lake")
    args = parser.parse_args()
    header = (
        f"{'loglake':>9} {'duckdb':>9} {'wall':>6} {'cpu':>6}  "
        f"query (medians of {args.runs}, ms; ratios loglake / DuckDB)"
    )
    if args.part in ("functions", "all"):
        with tempfile.TemporaryDirectory(prefix="bench-functions-") as folder:
            lake, duck = events_lake(args.rows, Path(folder))
            print(f"functions: {args.rows:,} synthetic events in 8 Parquet files\n{header}")
            for name, sql in FUNCTION_QUERIES.items():
                compare(name, lake, duck, sql, args.runs)
            for name, sql in LOGLAKE_ONLY.items():
                compare(name, lake, None, sql, args.runs)
    if args.part in ("json", "all"):
        lake = loglake.connect(args.lake) if args.lake else ensure_lake(JSON_EVENTS_PER_DAY)
        duck = duckdb_over(lake)
        rows = lake.sql("SELECT count(*) FROM cloudtrail").item()
        print(f"\nJSON members: {rows:,} generated CloudTrail events\n{header}")
        ratios = []
        for column, member in JSON_MEMBERS:
            sql = (
                f"SELECT json_extract_scalar({column}, '$.{member}') AS v, count(*) AS n "
                "FROM cloudtrail GROUP BY 1"
            )
            ratios.append(compare(f"{column}.{member}", lake, duck, sql, args.runs))
        print(
            f"CPU ratios: geometric mean {statistics.geometric_mean(ratios):.2f}, "
            f"worst {max(ratios):.2f} (goal <= 1.0)"
        )


if __name__ == "__main__":
    main()
