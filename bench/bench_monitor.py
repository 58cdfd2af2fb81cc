"""Benchmark of metric filters over a CloudTrail table (run by hand; never by the test suite).

Builds a synthetic CloudTrail Delta table (default 5,000,000 events, vectorised with Polars), then
times:

1. all 14 CIS metric filters evaluated in one pass vs one query per filter, and vs one plain scan
   of the columns the filters read (goal: one pass <= 2x the plain scan);
2. an incremental run after a 1% append vs a full run (goal: incremental <= 5% of full);
3. the same 14 counts in DuckDB over the same Parquet files (a peer, for scale).

Usage: python bench/bench_monitor.py [--rows N] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa

from loglake.catalog import Catalog, StorageSettings
from loglake.monitor.runner import (
    evaluate_filters,
    needed_columns,
    put_metric_filter,
    run_metric_filters,
    scan_files,
)
from loglake.monitor.state import MonitorState
from loglake.monitor.watch import pack

EVENT_NAMES = [
    # common reads dominate real trails
    ("DescribeInstances", "ec2.amazonaws.com", 31),
    ("GetObject", "s3.amazonaws.com", 25),
    ("AssumeRole", "sts.amazonaws.com", 15),
    ("ListBuckets", "s3.amazonaws.com", 8),
    ("Decrypt", "kms.amazonaws.com", 8),
    ("ConsoleLogin", "signin.amazonaws.com", 3),
    ("PutBucketPolicy", "s3.amazonaws.com", 1),
    ("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", 1),
    ("CreateRoute", "ec2.amazonaws.com", 1),
    ("StopLogging", "cloudtrail.amazonaws.com", 1),
    ("AttachUserPolicy", "iam.amazonaws.com", 1),
    ("ScheduleKeyDeletion", "kms.amazonaws.com", 1),
    ("CreateVpc", "ec2.amazonaws.com", 1),
    ("DeleteNetworkAcl", "ec2.amazonaws.com", 1),
    ("PutConfigurationRecorder", "config.amazonaws.com", 1),
    ("CreateCustomerGateway", "ec2.amazonaws.com", 1),
]
IDENTITY_TYPES = ["AssumedRole", "IAMUser", "AWSService", "Root"]


def synthesise(rows: int, start: datetime, seed: int) -> pa.Table:
    """`rows` CloudTrail-shaped events, pseudo-random but reproducible (hashes of the row number)."""
    lookup = pl.DataFrame(
        {
            "h": pl.int_range(0, 100, eager=True, dtype=pl.UInt64),
            "eventname": [n for n, _, w in EVENT_NAMES for _ in range(w)],
            "eventsource": [s for _, s, w in EVENT_NAMES for _ in range(w)],
        }
    )
    ids = pl.DataFrame(
        {
            "k": pl.int_range(0, 1000, eager=True, dtype=pl.UInt64),
            "idtype": ["Root"] * 5
            + ["AWSService"] * 95
            + ["IAMUser"] * 300
            + ["AssumedRole"] * 600,
        }
    )

    def unit(salt: int) -> pl.Expr:
        return (pl.col("n").hash(seed * 100 + salt) % 1_000_000).cast(pl.Float64) / 1e6

    df = (
        pl.DataFrame({"n": pl.int_range(0, rows, eager=True, dtype=pl.UInt64)})
        .with_columns(
            (pl.col("n").hash(seed * 100 + 1) % 100).alias("h"),
            (pl.col("n").hash(seed * 100 + 2) % 1000).alias("k"),
            (pl.col("n") * (6 * 3600) // max(rows, 1)).cast(pl.Int64).alias("secs"),
            unit(3).alias("err"),
            (unit(4) < 0.5).alias("mfa"),
        )
        .join(lookup, on="h", how="left")
        .join(ids, on="k", how="left")
        .sort("n")
    )
    login = pl.col("eventname") == "ConsoleLogin"
    out = df.select(
        "eventname",
        "eventsource",
        (pl.lit(start) + pl.duration(seconds=pl.col("secs")))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        .alias("eventtime"),
        pl.when(login)
        .then(pl.lit("AwsConsoleSignIn"))
        .when(pl.col("idtype") == "AWSService")
        .then(pl.lit("AwsServiceEvent"))
        .otherwise(pl.lit("AwsApiCall"))
        .alias("eventtype"),
        pl.when(pl.col("err") < 0.02)
        .then(pl.lit("AccessDenied"))
        .when(pl.col("err") < 0.03)
        .then(pl.lit("Client.UnauthorizedOperation"))
        .alias("errorcode"),
        pl.when(login & (pl.col("err") < 0.1))
        .then(pl.lit("Failed authentication"))
        .alias("errormessage"),
        pl.struct(
            pl.col("idtype").alias("type"),
            pl.when(pl.col("idtype") == "AWSService")
            .then(pl.lit("ec2.amazonaws.com"))
            .alias("invokedby"),
            pl.format("arn:aws:iam::111122223333:user/u{}", pl.col("n") % 500).alias("arn"),
        ).alias("useridentity"),
        pl.when(login)
        .then(
            pl.format(
                '{{"LoginTo":"https://console.aws.amazon.com/","MobileVersion":"No","MFAUsed":"{}"}}',
                pl.when(pl.col("mfa")).then(pl.lit("Yes")).otherwise(pl.lit("No")),
            )
        )
        .alias("additionaleventdata"),
        pl.when(login)
        .then(
            pl.format(
                '{{"ConsoleLogin":"{}"}}',
                pl.when(pl.col("err") < 0.1).then(pl.lit("Failure")).otherwise(pl.lit("Success")),
            )
        )
        .alias("responseelements"),
        pl.format('{{"instanceId":"i-{}","maxResults":50}}', pl.col("n")).alias(
            "requestparameters"
        ),
        pl.lit("us-east-1").alias("awsregion"),
    )
    return out.to_arrow()


def timed(fn, repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="loglake-bench-monitor-")
    try:
        run(root, args.rows)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"lake kept at {root}")


def run(root: str, rows: int) -> None:
    catalog = Catalog(StorageSettings.resolve(root))
    start = datetime(2026, 11, 20, tzinfo=UTC)
    t0 = time.perf_counter()
    chunk = 1_000_000
    first = synthesise(min(chunk, rows), start, 0)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table("aws", "cloudtrail", first.schema)
    table = catalog.managed("aws", "cloudtrail")
    table.append(first)
    for i in range(1, (rows + chunk - 1) // chunk):
        table.append(synthesise(min(chunk, rows - i * chunk), start, i))
    print(f"synthesised {rows:,} CloudTrail events in {time.perf_counter() - t0:.1f} s")

    controls = pack("cis")["controls"]
    defs = []
    for c in controls:
        defs.append(
            {
                "filterName": c["filterName"],
                "table": "aws.cloudtrail",
                "filterPattern": c["filterPattern"],
                "metricTransformations": c["metricTransformations"],
            }
        )
    schema = pl.Schema(table.schema())
    files = table.files()
    columns = needed_columns(defs, schema)
    print(f"the 14 CIS filters read {len(columns)} columns: {', '.join(columns)}")

    plain, _ = timed(lambda: scan_files(table, files, columns).collect())
    one_pass, (rows_out, counts) = timed(
        lambda: evaluate_filters(scan_files(table, files, columns), schema, defs)
    )
    per_filter, _ = timed(
        lambda: [
            evaluate_filters(scan_files(table, files, needed_columns([d], schema)), schema, [d])
            for d in defs
        ],
        repeat=1,
    )
    matches = {k: v[1] for k, v in counts.items()}
    print(f"matches per filter: {matches}")
    print(f"plain scan of those columns      {plain:8.3f} s")
    print(
        f"14 filters, one pass             {one_pass:8.3f} s   ratio to plain scan {one_pass / plain:5.2f}x (goal <= 2x)"
    )
    print(
        f"14 filters, one query per filter {per_filter:8.3f} s   one pass is {per_filter / one_pass:5.2f}x faster"
    )

    try:
        import duckdb

        paths = [f.path for f in files]
        con = duckdb.connect()
        sql = (
            "SELECT count(*) FILTER (WHERE eventname IN ('CreateTrail','UpdateTrail','DeleteTrail',"
            "'StartLogging','StopLogging')) AS trail, "
            "count(*) FILTER (WHERE useridentity.type = 'Root' AND useridentity.invokedby IS NULL "
            "AND eventtype <> 'AwsServiceEvent') AS root, "
            "count(*) FILTER (WHERE eventname = 'ConsoleLogin' AND "
            "json_extract_string(additionaleventdata, '$.MFAUsed') <> 'Yes' AND useridentity.type = "
            "'IAMUser' AND json_extract_string(responseelements, '$.ConsoleLogin') = 'Success') AS nomfa, "
            "count(*) FILTER (WHERE errorcode LIKE '%UnauthorizedOperation' OR errorcode LIKE "
            "'AccessDenied%') AS denied "
            f"FROM read_parquet({paths!r})"
        )
        duck, result = timed(lambda: con.execute(sql).fetchall())
        print(f"DuckDB, 4 of the CIS counts      {duck:8.3f} s   {result}")
    except ImportError:
        pass

    # incremental vs full: the filters start from the beginning of the table (a full run), then
    # 1% more events are appended and the filters catch up
    for d in defs:
        put_metric_filter(catalog, d)
    state = MonitorState(catalog)
    for d in defs:
        found, version = state.require("filters", d["filterName"])
        state.put("filters", d["filterName"], dict(found, createdVersion=-1), version)
    full, _ = timed(lambda: run_metric_filters(catalog), repeat=1)
    table.append(synthesise(rows // 100, start + timedelta(hours=6), 99))
    incremental, report = timed(lambda: run_metric_filters(catalog), repeat=1)
    events = report.runs[0].events
    print(f"full run (all {rows:,} events)    {full:8.3f} s")
    print(
        f"incremental run ({events:,} new)  {incremental:8.3f} s   "
        f"{100 * incremental / full:5.2f}% of the full run (goal <= 5%)"
    )
    print(f"datapoint rows written by the one-pass evaluation: {rows_out.height:,}")


if __name__ == "__main__":
    main()
