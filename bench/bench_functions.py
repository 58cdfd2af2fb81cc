"""Function-library throughput: the same log queries on loglake and DuckDB over one in-memory table.

Prints, per query, the best of a few runs for each engine and the ratio loglake / DuckDB.
Usage: python bench/bench_functions.py [rows]   (default 1,000,000)
"""

from __future__ import annotations

import random
import sys
import time

import duckdb
import polars as pl
import sqlglot

from loglake.query.engine import Engine

QUERIES = {
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


def best(run, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    events = make_events(rows)
    engine = Engine(tables={"events": events})
    duck = duckdb.connect()
    duck.register("events", events.to_arrow())
    print(f"{rows:,} rows")
    print(f"{'query':24} {'loglake s':>10} {'duckdb s':>10} {'ratio':>7}")
    for name, sql in QUERIES.items():
        ours = best(lambda sql=sql: engine.execute(sql))
        translated = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        theirs = best(lambda t=translated: duck.sql(t).to_arrow_table())
        print(f"{name:24} {ours:10.3f} {theirs:10.3f} {ours / theirs:7.2f}")
    for name, sql in LOGLAKE_ONLY.items():
        ours = best(lambda sql=sql: engine.execute(sql))
        print(f"{name:24} {ours:10.3f} {'-':>10} {'-':>7}")


if __name__ == "__main__":
    main()
