"""Investigation queries over a lake of 10M+ CloudTrail events: loglake against DuckDB.

The lake is built the way users build theirs: ``loglake.datasets`` generates a week of raw AWS
exports (2 accounts x 2 regions x 7 days x 360k CloudTrail events per day and region: 10M+
events, a tenth as many VPC flow records, with the incident scenarios), ``lake.ingest`` loads
them into managed Delta tables, and the lake is kept under bench/data/ for the next run. The 20 queries are what an
investigation asks: JSON members of request parameters and response elements, time windows,
partition-filtered days, GROUP BY principal and source address, joins of CloudTrail with VPC
flows. loglake runs them through ``lake.sql``; DuckDB runs sqlglot's transpilation of the same
text over the same Parquet files (the tables' live Delta files, partition values from the
``key=value`` folders). Each query runs on both in the same rounds, interleaved: one untimed
first round, then ``--runs`` timed ones; medians in milliseconds, the ratio per query and the
ratio of the median process CPU times (steadier when other work shares the cores).

    python bench/bench_logs.py [--events-per-day 360000] [--runs 5] [--queries 1,4,15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlglot
from bench_tpch import interleaved_medians  # the script's folder is on the path

import loglake
from loglake.datasets import generate
from loglake.ingest import DEFAULT_DATABASE

ROOT = Path(__file__).resolve().parent
TABLES = ("cloudtrail", "vpc_flow_logs")
START = "2024-05-06T00:00:00Z"
ACCOUNTS, REGIONS, DAYS = 2, 2, 7

#: (title, Athena SQL); {day}, {account}, {arn}, {ip} and {key} are filled from the data
QUERIES: list[tuple[str, str]] = [
    (
        "busiest API calls",
        "SELECT eventsource, eventname, count(*) AS calls FROM cloudtrail "
        "GROUP BY 1, 2 ORDER BY calls DESC, 1, 2 LIMIT 20",
    ),
    (
        "errors per principal",
        "SELECT useridentity.arn AS principal, errorcode, count(*) AS calls FROM cloudtrail "
        "WHERE errorcode IS NOT NULL GROUP BY 1, 2 ORDER BY calls DESC, 1, 2 LIMIT 20",
    ),
    (
        "console logins with result and MFA (JSON members)",
        "SELECT useridentity.arn AS principal, sourceipaddress, "
        "json_extract_scalar(responseelements, '$.ConsoleLogin') AS result, "
        "json_extract_scalar(additionaleventdata, '$.MFAUsed') AS mfa, count(*) AS logins "
        "FROM cloudtrail WHERE eventname = 'ConsoleLogin' GROUP BY 1, 2, 3, 4 "
        "ORDER BY logins DESC, 1, 2, 3, 4 LIMIT 50",
    ),
    (
        "S3 calls per bucket (JSON member)",
        "SELECT json_extract_scalar(requestparameters, '$.bucketName') AS bucket, eventname, "
        "count(*) AS calls FROM cloudtrail WHERE eventsource = 's3.amazonaws.com' "
        "GROUP BY 1, 2 ORDER BY calls DESC, 1, 2 LIMIT 20",
    ),
    (
        "security group changes (JSON member)",
        "SELECT eventtime, useridentity.arn AS principal, eventname, "
        "json_extract_scalar(requestparameters, '$.groupId') AS group_id FROM cloudtrail "
        "WHERE eventname IN ('AuthorizeSecurityGroupIngress', 'RevokeSecurityGroupIngress', "
        "'CreateSecurityGroup', 'DeleteSecurityGroup') ORDER BY eventtime, eventname, group_id",
    ),
    (
        "roles assumed, by whom (JSON member)",
        "SELECT json_extract_scalar(requestparameters, '$.roleArn') AS role, "
        "useridentity.arn AS principal, count(*) AS calls FROM cloudtrail "
        "WHERE eventname = 'AssumeRole' GROUP BY 1, 2 ORDER BY calls DESC, 1, 2 LIMIT 20",
    ),
    (
        "IAM changes and their targets (JSON member)",
        "SELECT eventtime, eventname, json_extract_scalar(requestparameters, '$.userName') AS "
        "target, useridentity.arn AS principal FROM cloudtrail "
        "WHERE eventsource = 'iam.amazonaws.com' AND readonly = 'false' "
        "ORDER BY eventtime DESC, eventname, target LIMIT 100",
    ),
    (
        "one day of one account (partition pruning)",
        "SELECT eventname, count(*) AS calls FROM cloudtrail "
        "WHERE day = '{day}' AND account = '{account}' GROUP BY 1 ORDER BY calls DESC, 1 LIMIT 10",
    ),
    (
        "a principal's hourly activity in a time window",
        "SELECT substr(eventtime, 1, 13) AS hour, count(*) AS calls FROM cloudtrail "
        "WHERE useridentity.arn = '{arn}' AND eventtime BETWEEN '{day}T06:00:00Z' AND "
        "'{day}T18:00:00Z' GROUP BY 1 ORDER BY 1",
    ),
    (
        "source addresses per access key",
        "SELECT useridentity.accesskeyid AS key, count(DISTINCT sourceipaddress) AS addresses, "
        "count(*) AS calls FROM cloudtrail WHERE useridentity.accesskeyid IS NOT NULL "
        "GROUP BY 1 ORDER BY addresses DESC, calls DESC, 1 LIMIT 20",
    ),
    (
        "error rate per source address",
        "SELECT sourceipaddress, count(*) AS calls, count_if(errorcode IS NOT NULL) AS errors "
        "FROM cloudtrail GROUP BY 1 HAVING count(*) > 100 ORDER BY errors DESC, 1 LIMIT 20",
    ),
    (
        "timeline of one address",
        "SELECT eventtime, eventname, useridentity.arn AS principal, errorcode FROM cloudtrail "
        "WHERE sourceipaddress = '{ip}' ORDER BY eventtime, eventname LIMIT 200",
    ),
    (
        "first and last seen per principal and region",
        "SELECT useridentity.arn AS principal, awsregion, min(eventtime) AS first_seen, "
        "max(eventtime) AS last_seen, count(*) AS calls FROM cloudtrail GROUP BY 1, 2 "
        "ORDER BY first_seen DESC, 1, 2 LIMIT 50",
    ),
    (
        "rare API calls",
        "WITH counts AS (SELECT eventsource, eventname, count(*) AS n FROM cloudtrail "
        "GROUP BY 1, 2) SELECT * FROM counts WHERE n < 100 ORDER BY n, 1, 2",
    ),
    (
        "what one access key did, per hour and call",
        "SELECT date_trunc('hour', from_iso8601_timestamp(eventtime)) AS hour, eventname, "
        "count(*) AS calls FROM cloudtrail WHERE useridentity.accesskeyid = '{key}' "
        "GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "requests opening to the internet (text search in JSON)",
        "SELECT eventname, useridentity.arn AS principal, count(*) AS calls FROM cloudtrail "
        "WHERE requestparameters LIKE '%0.0.0.0/0%' GROUP BY 1, 2 ORDER BY calls DESC, 1, 2",
    ),
    (
        "rejected flows per destination port",
        "SELECT dstport, count(*) AS flows, sum(packets) AS packets FROM vpc_flow_logs "
        "WHERE action = 'REJECT' GROUP BY 1 ORDER BY flows DESC, 1 LIMIT 20",
    ),
    (
        "sources talking to the most peers",
        "SELECT srcaddr, count(DISTINCT dstaddr) AS peers, sum(bytes) AS bytes "
        "FROM vpc_flow_logs GROUP BY 1 ORDER BY peers DESC, bytes DESC, 1 LIMIT 20",
    ),
    (
        "flows from addresses that called APIs (join)",
        "WITH callers AS (SELECT sourceipaddress AS ip, count(*) AS calls FROM cloudtrail "
        "GROUP BY 1) SELECT f.dstport, count(*) AS flows, sum(f.bytes) AS bytes, "
        "count(DISTINCT c.ip) AS callers FROM vpc_flow_logs f JOIN callers c ON f.srcaddr = c.ip "
        "GROUP BY 1 ORDER BY bytes DESC, 1 LIMIT 20",
    ),
    (
        "an address's API calls and accepted flows in one day (join)",
        "SELECT c.eventname, f.dstport, count(*) AS pairs FROM cloudtrail c "
        "JOIN vpc_flow_logs f ON f.srcaddr = c.sourceipaddress AND f.day = c.day "
        "WHERE c.day = '{day}' AND f.action = 'ACCEPT' AND c.errorcode IS NULL "
        "GROUP BY 1, 2 ORDER BY pairs DESC, 1, 2 LIMIT 20",
    ),
]


def ensure_lake(events_per_day: int) -> loglake.Lake:
    """The generated and ingested lake, built once and kept under bench/data/.

    The raw exports are deleted only once ingest has finished, so a lake whose raw folder is
    still there was interrupted: generation is repeated only if it had not finished (a marker
    beside the folder says it had), and ingest resumes, skipping the objects it already holds.
    """
    folder = ROOT / "data" / f"logs-{ACCOUNTS}x{REGIONS}x{DAYS}x{events_per_day}"
    raw, generated = folder / "raw", folder / "raw.generated"
    lake = loglake.connect(str(folder / "lake"), create=True)
    if lake.catalog.table_exists(DEFAULT_DATABASE, "cloudtrail") and not raw.exists():
        return lake  # built by an earlier run
    if not generated.exists():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        print(f"generating {ACCOUNTS * REGIONS * DAYS * events_per_day:,} CloudTrail events ...")
        summary = generate(
            str(raw),
            accounts=ACCOUNTS,
            regions=REGIONS,
            days=DAYS,
            events_per_day=events_per_day,
            scenarios=["all"],
            start=START,
            sources=["cloudtrail", "vpcflowlogs"],
            progress=False,
        )
        generated.write_text(f"{summary.events}\n")
        print(f"  {summary.events} in {time.perf_counter() - started:.0f} s", flush=True)
    print("ingesting ...", flush=True)
    started = time.perf_counter()
    lake = loglake.connect(str(folder / "lake"), create=True)
    report = lake.ingest(str(raw), workers=2, progress=False)
    print(f"  {report} in {time.perf_counter() - started:.0f} s", flush=True)
    shutil.rmtree(raw)
    generated.unlink()
    return lake


def duckdb_over(lake: loglake.Lake) -> Any:
    """DuckDB with a view per table over the table's live Parquet files."""
    duck = duckdb.connect()
    for name in TABLES:
        table = lake.catalog.find_relation(name)
        files = [f.path for f in lake.catalog.files(table)]
        keys = {k.name: "VARCHAR" for k in table.partition_keys}
        duck.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r}, "
            f"hive_partitioning = true, hive_types = {keys!r})"
        )
    return duck


def sample_values(lake: loglake.Lake) -> dict[str, str]:
    """A busy principal, address, access key, a middle day and an account to ask about."""

    def top(sql: str) -> str:
        df = lake.sql(sql)
        assert isinstance(df, pl.DataFrame) and df.height, sql
        return str(df.item(0, 0))

    return {
        "day": top("SELECT day FROM cloudtrail GROUP BY 1 ORDER BY 1 LIMIT 1 OFFSET 3"),
        "account": top("SELECT account FROM cloudtrail GROUP BY 1 ORDER BY 1 LIMIT 1"),
        "arn": top(
            "SELECT useridentity.arn FROM cloudtrail WHERE useridentity.arn IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ),
        "ip": top(
            "SELECT sourceipaddress FROM cloudtrail GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ),
        "key": top(
            "SELECT useridentity.accesskeyid FROM cloudtrail "
            "WHERE useridentity.accesskeyid IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 "
            "LIMIT 1"
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events-per-day", type=int, default=360_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queries", default="", help="comma-separated query numbers")
    args = parser.parse_args()
    lake = ensure_lake(args.events_per_day)
    counts = (
        lake.sql("SELECT count(*) FROM cloudtrail").item(),
        lake.sql(  # type: ignore[union-attr]
            "SELECT count(*) FROM vpc_flow_logs"
        ).item(),
    )  # type: ignore[union-attr]
    duck = duckdb_over(lake)
    values = sample_values(lake)
    wanted = {int(q) for q in args.queries.split(",") if q}
    print(
        f"{counts[0]:,} CloudTrail events, {counts[1]:,} flow records; medians of {args.runs} "
        "interleaved runs, ms"
    )
    print(f"{'#':>3} {'loglake':>9} {'duckdb':>9} {'ratio':>6} {'cpu':>6}  query")
    totals = {"loglake": 0.0, "duckdb": 0.0}
    cpu_totals = dict.fromkeys(totals, 0.0)
    ratios = []
    for number, (title, template) in enumerate(QUERIES, start=1):
        if wanted and number not in wanted:
            continue
        sql = template.format(**values)
        duck_sql = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        medians, cpu, first = interleaved_medians(
            {
                "loglake": lambda sql=sql: lake.sql(sql),
                "duckdb": lambda q=duck_sql: duck.sql(q).pl(),
            },
            args.runs,
        )
        ours, theirs = first["loglake"], first["duckdb"]
        if ours.height != theirs.height:
            raise SystemExit(f"query {number}: loglake {ours.height} rows, DuckDB {theirs.height}")
        for name, seconds in medians.items():
            totals[name] += seconds * 1000
            cpu_totals[name] += cpu[name]
        ratio = medians["loglake"] / medians["duckdb"]
        ratios.append(ratio)
        print(
            f"{number:>3} {medians['loglake'] * 1000:9.1f} {medians['duckdb'] * 1000:9.1f} "
            f"{ratio:6.2f} {cpu['loglake'] / cpu['duckdb']:6.2f}  {title}",
            flush=True,
        )
    print(
        f"total {totals['loglake']:9.1f} {totals['duckdb']:9.1f} "
        f"{totals['loglake'] / totals['duckdb']:6.2f} "
        f"{cpu_totals['loglake'] / cpu_totals['duckdb']:6.2f}; geometric mean of ratios "
        f"{statistics.geometric_mean(ratios):.2f}, worst {max(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
