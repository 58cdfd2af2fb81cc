"""Logs Insights queries against the SQL a user would write for the same answer (run by hand).

The language must add no cost: `lake.insights(...)` translates to SQL for the same engine, so
each query below runs three ways in the same rounds, interleaved: through `lake.insights`,
through `lake.sql` with the hand-written equivalent, and as plain Polars over the table's live
Parquet files (the peer: no catalog, no SQL). One untimed round, then `--runs` timed ones;
medians in milliseconds and the ratios, of wall time and of CPU time (the process's, all
threads: steadier than wall time on a shared machine).

The lake: `--lines` log lines (default 10M) of one log group, written as CloudWatch Logs export
chunks (`<prefix>/<task>/<stream>/000000.gz`, 1M lines each) over a week, ingested with
`lake.ingest(..., log_groups=...)`; kept under bench/data/insights-<lines>/ for the next run.
`--only TEXT` runs the queries whose name holds TEXT.

    python bench/bench_insights.py [--lines 10000000] [--runs 5] [--only JSON]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
import time
from pathlib import Path

import polars as pl

import loglake
from loglake.catalog import DEFAULT_DATABASE, Catalog, StorageSettings

GROUP = "/bench/app"
START = 1_714_521_600_000  # 2024-05-01T00:00:00Z in ms
WEEK_MS = 7 * 86_400_000
CHUNK = 1_000_000


def _count_per_5m(lf: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
    return (
        lf.filter(condition)
        .group_by(pl.col("eventtime").dt.truncate("5m").alias("t"))
        .agg(pl.len().alias("n"))
        .sort("t")
        .head(10000)
    )


#: (name, Insights query, the equivalent SQL, the same in plain Polars)
QUERIES = [
    (
        "count by bin(5m)",
        "stats count(*) by bin(5m)",
        "SELECT from_unixtime(floor(to_unixtime(eventtime) / 300.0) * 300.0) AS t, count(*) AS n "
        f"FROM cloudwatch_logs WHERE loggroup = '{GROUP}' GROUP BY 1 ORDER BY 1 LIMIT 10000",
        lambda lf: _count_per_5m(lf, pl.col("loggroup") == GROUP),
    ),
    (
        "filter like /ERROR/, count by bin(5m)",
        "fields @timestamp, @message | filter @message like /ERROR/ | stats count(*) by bin(5m)",
        "SELECT from_unixtime(floor(to_unixtime(eventtime) / 300.0) * 300.0) AS t, count(*) AS n "
        f"FROM cloudwatch_logs WHERE loggroup = '{GROUP}' AND regexp_like(message, 'ERROR') "
        "GROUP BY 1 ORDER BY 1 LIMIT 10000",
        lambda lf: _count_per_5m(
            lf, (pl.col("loggroup") == GROUP) & pl.col("message").str.contains("ERROR")
        ),
    ),
    (
        "JSON fields: avg latency by status, bin(1h)",
        "stats avg(latency) as latency by status, bin(1h)",
        "SELECT json_extract_scalar(message, '$.status') AS status, "
        "from_unixtime(floor(to_unixtime(eventtime) / 3600.0) * 3600.0) AS t, "
        "avg(TRY_CAST(json_extract_scalar(message, '$.latency') AS DOUBLE)) AS latency "
        f"FROM cloudwatch_logs WHERE loggroup = '{GROUP}' GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 10000",
        lambda lf: (
            lf.filter(pl.col("loggroup") == GROUP)
            .group_by(
                pl.col("message").str.json_path_match("$.status").alias("status"),
                pl.col("eventtime").dt.truncate("1h").alias("t"),
            )
            .agg(
                pl.col("message")
                .str.json_path_match("$.latency")
                .cast(pl.Float64, strict=False)
                .mean()
                .alias("latency")
            )
            .sort("status", "t")
            .head(10000)
        ),
    ),
]


def _rounded(frame: pl.DataFrame) -> list[tuple]:
    """Rows with floats to 9 digits: the same sums in another order may differ in the last bit."""
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in row) for row in frame.rows()]


def build(root: Path, lines: int) -> loglake.Lake:
    """Write the export chunks and ingest them (once; reused while the line count matches)."""
    marker = root / f"lines-{lines}"
    lake_root = root / "lake"
    if marker.exists():
        return loglake.connect(str(lake_root))
    shutil.rmtree(root, ignore_errors=True)
    raw = root / "raw"
    step = WEEK_MS // lines or 1
    for chunk, first in enumerate(range(0, lines, CHUNK)):
        n = min(CHUNK, lines - first)
        k = pl.int_range(first, first + n, eager=True)
        stamp = pl.from_epoch(k * step + START, time_unit="ms").dt.strftime(
            "%Y-%m-%dT%H:%M:%S%.3fZ"
        )
        frame = pl.DataFrame({"k": k, "stamp": stamp}).with_columns(
            level=pl.when(pl.col("k") % 50 == 0).then(pl.lit("ERROR")).otherwise(pl.lit("INFO")),
            status=pl.when(pl.col("k") % 97 == 0).then(500).otherwise(200),
            latency=(pl.col("k") * 7919) % 1000,
        )
        text = frame.select(
            pl.concat_str(
                "stamp",
                pl.lit(' {"level": "'),
                "level",
                pl.lit('", "status": '),
                "status",
                pl.lit(', "latency": '),
                "latency",
                pl.lit(', "path": "/api/items/'),
                pl.col("k") % 1000,
                pl.lit('"}'),
            )
        ).to_series()
        path = raw / "exports" / "bench-app" / "task-1" / f"stream-{chunk:03d}" / "000000.gz"
        path.parent.mkdir(parents=True)
        path.write_bytes(gzip.compress(("\n".join(text.to_list()) + "\n").encode(), 1))
        print(f"  wrote chunk {chunk + 1} ({first + n:,} lines)", file=sys.stderr)
    Catalog(StorageSettings.resolve(str(lake_root))).create_database(DEFAULT_DATABASE)
    lake = loglake.connect(str(lake_root))
    report = lake.ingest(str(raw), log_groups={"exports/bench-app": GROUP}, progress=False)
    print(f"  {report}".replace("\n", "\n  "), file=sys.stderr)
    shutil.rmtree(raw)
    marker.touch()
    return lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="", help="run the queries whose name holds this")
    args = parser.parse_args()
    lake = build(Path(__file__).parent / "data" / f"insights-{args.lines}", args.lines)
    files = [f.path for f in lake.catalog.managed("aws", "cloudwatch_logs").files()]

    def scan() -> pl.LazyFrame:
        return pl.scan_parquet(files, hive_partitioning=False)

    print(f"{args.lines:,} log lines, medians of {args.runs} runs (ms; CPU ms below each)")
    print(
        f"{'query':44} {'insights':>9} {'sql':>9} {'polars':>9} {'ins/sql':>8} {'ins/polars':>10}"
    )
    for name, insights, sql, polars_query in QUERIES:
        if args.only.lower() not in name.lower():
            continue
        ways = {
            "insights": lambda q=insights: lake.insights(q, log_group=GROUP),
            "sql": lambda q=sql: lake.sql(q),
            "polars": lambda q=polars_query: q(scan()).collect(),
        }
        results = {way: run() for way, run in ways.items()}  # untimed round, and a check
        heights = {way: frame.height for way, frame in results.items()}
        if len(set(heights.values())) != 1:
            raise SystemExit(f"{name}: the three ways disagree on row counts {heights}")
        if _rounded(results["insights"]) != _rounded(results["sql"]):
            raise SystemExit(f"{name}: lake.insights and lake.sql give different rows")
        times: dict[str, list[float]] = {way: [] for way in ways}
        cpu: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.runs):
            for way, run in ways.items():
                began, used = time.perf_counter(), time.process_time()
                run()
                times[way].append((time.perf_counter() - began) * 1000)
                cpu[way].append((time.process_time() - used) * 1000)
        for label, measured in ((name, times), ("  CPU", cpu)):
            ins, sql_ms, pol = (statistics.median(measured[w]) for w in ways)
            print(
                f"{label:44} {ins:9.0f} {sql_ms:9.0f} {pol:9.0f} {ins / sql_ms:8.2f} "
                f"{ins / pol:10.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
