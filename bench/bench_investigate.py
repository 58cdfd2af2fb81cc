"""Benchmark of investigation questions and detections on a large lake (run by hand).

Needs a lake ingested from a generated dataset with every scenario, e.g. (about 10M events):

    loglake datasets generate bench/data/investigate-raw --accounts 3 --regions 2 --days 7 \
        --events-per-day 240000 --scenario all
    loglake --lake bench/data/investigate-lake ingest bench/data/investigate-raw

Times, through the user's path (``lake.investigate``), warm (each repeated, median printed):

1. a principal timeline (the root user of the first account, all history; and the compromised
   IAM user over the two hours of the incident), with DuckDB answering the CloudTrail part over
   the same Parquet files in the same run;
2. an access-key chain (a session key back to its origin) and a first-seen query (the compromised
   key over three hours against a 30-day baseline);
3. the whole detection pack over one new hour of data (an incremental run after one hour of
   events is appended);
4. the pack over the full history, one scan per source shared by the rules, against each rule
   reading the table alone.

Goals (issue 17): 1 and 2 under 1 s warm, 3 under 2 s.

Usage: python bench/bench_investigate.py --lake bench/data/investigate-lake
       --truth bench/data/investigate-raw/ground_truth.json [--repeat 3] [--skip-full] [--hours 3]
       [--questions-only]

The hourly pack appends to the lake: run it on a copy. Its line gives the wall time, the CPU time
of the process and the load average (medians over the hours), since on a shared machine the wall
time says more about the neighbours than about the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import polars as pl

import loglake
from loglake.investigate.detections import pack_detections
from loglake.investigate.runner import HitStore, hunt, run_detections


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU time (of the whole process, every thread) of ``repeat`` warm runs
    (after one warm-up run), and the last result."""
    result = fn()
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def duckdb_principal(lake: loglake.Lake, arn: str) -> Callable[[], object]:
    """The CloudTrail part of a principal timeline in DuckDB over the table's Parquet files."""
    import duckdb

    files = [f.path for f in lake.catalog.managed("aws", "cloudtrail").files()]
    con = duckdb.connect()
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(f"CREATE VIEW ct AS SELECT * FROM read_parquet([{listed}], union_by_name = true)")
    sql = (
        "SELECT eventtime, eventname, sourceipaddress FROM ct "
        "WHERE useridentity.arn = ? OR useridentity.sessioncontext.sessionissuer.arn = ? "
        "ORDER BY eventtime"
    )
    return lambda: con.execute(sql, [arn, arn]).fetchall()


def append_new_hour(lake: loglake.Lake) -> int:
    """One more hour of events after the newest one (the last hour's rows moved forward)."""
    table = lake.catalog.managed("aws", "cloudtrail")
    newest = lake.sql("SELECT max(eventtime) AS t FROM cloudtrail")["t"][0]
    end = datetime.fromisoformat(newest.replace("Z", "+00:00"))
    start = end - timedelta(hours=1)
    rows = lake.sql(
        "SELECT * FROM cloudtrail WHERE eventtime > ? AND day >= ?",
        [start.strftime("%Y-%m-%dT%H:%M:%SZ"), start.strftime("%Y-%m-%d")],
    )
    shifted = (
        rows.with_columns(
            pl.col("eventtime")
            .str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
            .dt.offset_by("1h")
            .alias("__t")
        )
        .with_columns(
            pl.col("__t").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("eventtime"),
            pl.col("__t").dt.strftime("%Y-%m-%d").alias("day"),
            (pl.col("eventid") + "-next-hour").alias("eventid"),
        )
        .drop("__t")
    )
    table.append(shifted.to_arrow().cast(table.schema()))
    return shifted.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lake", required=True)
    parser.add_argument("--truth", required=True, help="ground_truth.json of the dataset")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-full", action="store_true", help="skip the full-history runs")
    parser.add_argument(
        "--questions-only",
        action="store_true",
        help="time the timelines, chain and first-seen only",
    )
    parser.add_argument("--hours", type=int, default=3, help="new hours appended and run over")
    args = parser.parse_args()
    lake = loglake.connect(args.lake)
    with open(args.truth) as handle:
        truth = json.load(handle)
    events = lake.sql("SELECT count(*) AS n FROM cloudtrail")["n"][0]
    flows = lake.sql("SELECT count(*) AS n FROM vpc_flow_logs")["n"][0]
    print(f"lake {args.lake}: {events:,} CloudTrail events, {flows:,} flow records")
    scenarios = {s["name"]: s for s in truth["scenarios"]}
    key = scenarios["compromised_access_key"]
    account = key["accountId"]
    inv = lake.investigate

    def line(
        label: str, seconds: float, goal: float | None = None, extra: str = "", cpu: float = -1
    ) -> None:
        verdict = ""
        if goal is not None:
            verdict = f"  (goal < {goal:.0f} s: {'met' if seconds < goal else 'MISSED'})"
        used = f"  CPU {cpu:.3f} s, load {os.getloadavg()[0]:.1f}" if cpu >= 0 else ""
        print(f"{label:<58} {seconds:8.3f} s{verdict}{used}{extra}")

    # 1. principal timelines, with DuckDB for the CloudTrail part
    root = f"arn:aws:iam::{account}:root"
    t_root, c_root, frame = timed(lambda: inv.timeline(principal=root), args.repeat)
    t_duck, c_duck, _ = timed(duckdb_principal(lake, root), args.repeat)
    line(f"timeline --principal root ({frame.height} rows)", t_root, 1.0, cpu=c_root)
    line(
        "  DuckDB: the root user's CloudTrail events",
        t_duck,
        extra=f"  ratio {t_root / t_duck:.2f} wall, {c_root / c_duck:.2f} CPU",
        cpu=c_duck,
    )
    user = f"arn:aws:iam::{account}:user/{key['details']['userName']}"
    start = datetime.fromisoformat(key["startTime"].replace("Z", "+00:00"))
    t_user, c_user, frame = timed(
        lambda: inv.timeline(principal=user, start=start, end=start + timedelta(hours=2)),
        args.repeat,
    )
    line(
        f"timeline --principal {key['details']['userName']} 2 h ({frame.height} rows)",
        t_user,
        1.0,
        cpu=c_user,
    )

    # 2. chain and first seen
    session_key = inv.timelines.identities.sessions["issued_key"][-1]
    t_chain, c_chain, result = timed(lambda: inv.chain(session_key), args.repeat)
    line(f"chain {session_key} -> {result['origin_kind']}", t_chain, 1.0, cpu=c_chain)
    t_first, c_first, found = timed(
        lambda: inv.first_seen(
            access_key=key["details"]["accessKeyId"], start=start, end=start + timedelta(hours=3)
        ),
        args.repeat,
    )
    line(
        f"first-seen of the compromised key, 3 h vs 30 d ({found.height} rows)",
        t_first,
        1.0,
        cpu=c_first,
    )

    if args.questions_only:
        return
    detections = pack_detections("aws")
    # 4. the pack over the whole history: shared scans against each rule alone
    if not args.skip_full:
        start_shared = time.perf_counter()
        shared = hunt(lake.catalog, detections)
        t_shared = time.perf_counter() - start_shared
        start_alone = time.perf_counter()
        alone = hunt(lake.catalog, detections, shared=False)
        t_alone = time.perf_counter() - start_alone
        line(f"pack over full history, shared scan ({shared.height} hits)", t_shared)
        line(
            f"pack over full history, each rule alone ({alone.height} hits)",
            t_alone,
            extra=f"  shared/alone {t_shared / t_alone:.2f}",
        )

    # 3. the pack over one new hour (checkpoints at the current version first)
    store = HitStore(lake.catalog)
    if store.checkpoint(detections[0].id)[0] < 0:
        began = time.perf_counter()
        run_detections(lake.catalog, detections)
        line("pack: first incremental run (whole table)", time.perf_counter() - began)
    run_detections(lake.catalog, detections)  # settle
    walls, cpus, loads, added, hits = [], [], [], 0, 0
    for _ in range(args.hours):  # each hour appended, then the pack run over it
        added = append_new_hour(lake)
        began, cpu = time.perf_counter(), time.process_time()
        report = run_detections(lake.catalog, detections)
        walls.append(time.perf_counter() - began)
        cpus.append(time.process_time() - cpu)
        loads.append(os.getloadavg()[0])
        hits += report.hits.height
    line(
        f"pack over one new hour ({added:,} events, median of {args.hours}, {hits} new hits)",
        statistics.median(walls),
        2.0,
        extra=f"  CPU {statistics.median(cpus):.3f} s, load {statistics.median(loads):.1f}",
    )


if __name__ == "__main__":
    main()
