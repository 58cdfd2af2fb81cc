"""``make demo``: a week (from 2024-05-06) of generated AWS logs with incidents, ingested, monitored and investigated.

Run as ``python -m loglake.demo --out demo-lake``. The raw exports go to ``<out>-raw/`` (as AWS
would deliver them to a bucket), the lake to ``<out>/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

import loglake
from loglake.render import write as print_frame

#: one row per investigation: the question, the SQL, and its parameters
INVESTIGATIONS = (
    (
        "Who opened SSH (port 22) to the internet, and did anyone connect?",
        """
        SELECT eventtime, recipientaccountid AS account, awsregion AS region,
               useridentity.arn AS who, sourceipaddress AS from_ip,
               json_extract_scalar(requestparameters, '$.groupId') AS security_group
        FROM cloudtrail
        WHERE eventname = 'AuthorizeSecurityGroupIngress'
          AND requestparameters LIKE '%0.0.0.0/0%'
          AND regexp_like(requestparameters, '"fromPort":\\s*22\\b')
        ORDER BY eventtime
        """,
        (),
    ),
    (
        "Accepted inbound SSH flows from outside the VPC, per destination",
        """
        SELECT dstaddr, count(*) AS flows, count(DISTINCT srcaddr) AS sources,
               sum(bytes) AS bytes
        FROM vpc_flow_logs
        WHERE dstport = 22 AND action = 'ACCEPT'
          AND NOT contains('10.0.0.0/8', srcaddr) AND NOT contains('172.16.0.0/12', srcaddr)
        GROUP BY dstaddr ORDER BY flows DESC LIMIT 5
        """,
        (),
    ),
    (
        "Where was the compromised access key used from? (key named in the ground truth)",
        """
        SELECT sourceipaddress, useragent, count(*) AS calls,
               min(eventtime) AS first_seen, max(eventtime) AS last_seen
        FROM cloudtrail
        WHERE useridentity.accesskeyid = ?
        GROUP BY 1, 2 ORDER BY first_seen DESC LIMIT 8
        """,
        ("access_key",),
    ),
    (
        "What did the key do from addresses it had never used before?",
        """
        WITH uses AS (
          SELECT sourceipaddress AS ip, eventname, eventtime, errorcode
          FROM cloudtrail WHERE useridentity.accesskeyid = ?
        ),
        firsts AS (SELECT ip, min(from_iso8601_timestamp(eventtime)) AS first_seen FROM uses GROUP BY ip),
        new_ips AS (
          SELECT ip FROM firsts
          WHERE first_seen > (SELECT min(first_seen) FROM firsts) + INTERVAL '1' DAY
        )
        SELECT u.ip, u.eventname, count(*) AS calls, min(u.eventtime) AS first_call,
               count_if(u.errorcode IS NOT NULL) AS errors
        FROM uses u JOIN new_ips n ON u.ip = n.ip
        GROUP BY u.ip, u.eventname ORDER BY first_call
        """,
        ("access_key",),
    ),
)


#: a Logs Insights query over the web tier's access log (exported to S3 by export tasks)
ACCESS_QUERY = (
    "parse @message '\"* * HTTP/1.1\" * ' as method, path, status "
    "| stats count(*) as requests by status | sort requests desc"
)


#: days of logs a default run generates (from datasets.DEFAULT_START)
DAYS = 7


def _say(text: str = "") -> None:
    print(text, flush=True)


def _heading(text: str) -> None:
    _say()
    _say(text)
    _say("=" * len(text))


def _compromised_key(ground_truth: Path) -> str | None:
    truth = json.loads(ground_truth.read_text())
    for scenario in truth.get("scenarios", []):
        if scenario.get("name") == "compromised_access_key":
            return scenario["details"]["accessKeyId"]
    return None


def notebook_command(out: Path, checkout: Path | None = None) -> str:
    """How to open the notebook on this lake: ``make notebook`` installs Jupyter (the demo
    installs only the runtime) and points the notebook at the lake; a lake elsewhere than the
    checkout's ``demo-lake`` is named with ``LAKE=``."""
    checkout = Path.cwd() if checkout is None else checkout
    if Path(out).resolve() == (checkout / "demo-lake").resolve():
        return "make notebook"
    return f"make notebook LAKE={Path(out).resolve()}"


def _table_sizes(lake: loglake.Lake) -> pl.DataFrame:
    rows = []
    for database in lake.catalog.list_databases():
        for name in lake.catalog.list_tables(database):
            table = lake.catalog.get_table(database, name)
            if not table.is_managed:
                continue
            files = lake.catalog.managed(database, name).files()
            rows.append(
                (
                    f"{database}.{name}",
                    sum(f.num_records or 0 for f in files),
                    len(files),
                    round(sum(f.size for f in files) / 1e6, 2),
                )
            )
    return pl.DataFrame(rows, schema=["table", "rows", "files", "MB"], orient="row")


def run(out: Path, *, events_per_day: int, days: int, seed: int) -> int:
    from loglake.datasets import DEFAULT_START, cwlogs, generate
    from loglake.monitor.alarmstore import AlarmStore
    from loglake.monitor.runner import run_metric_filters
    from loglake.monitor.watch import install_pack

    began = time.perf_counter()
    raw = out.with_name(out.name + "-raw")
    for folder in (out, raw):
        if folder.exists():
            shutil.rmtree(folder)
    # a fixed week, so that the dates in the documentation's examples exist in every demo lake
    start = datetime.fromisoformat(DEFAULT_START.replace("Z", "+00:00"))
    now = start + timedelta(days=days)

    _heading("1. Generating a week of AWS logs for two accounts, with incidents")
    summary = generate(
        str(raw),
        accounts=2,
        regions=1,
        days=days,
        events_per_day=events_per_day,
        seed=seed,
        scenarios=["all"],
        start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        progress=False,
    )
    _say(
        f"   {raw}/: {sum(summary.files.values())} objects, {summary.bytes / 1e6:.1f} MB "
        f"in {time.perf_counter() - began:.0f} s"
    )
    _say("   records: " + ", ".join(f"{k} {v:,}" for k, v in summary.events.items()))
    _say("   objects: " + ", ".join(f"{k} {v:,}" for k, v in summary.files.items() if v))

    lake = loglake.connect(str(out), create=True)
    _heading("2. Installing the CIS AWS Foundations monitoring pack (14 metric filters + alarms)")
    installed = install_pack(lake.catalog, "cis", now=start)
    _say(f"   {len(installed['filters'])} metric filters, {len(installed['alarms'])} alarms")

    _heading("3. Ingesting the raw exports into the lake")
    stage = time.perf_counter()
    # export chunks do not name their log group: the export prefixes do
    groups = {cwlogs.export_folder(g): g for g in cwlogs.EXPORTED_GROUPS}
    report = lake.ingest(str(raw), progress=False, log_groups=groups)
    _say(f"   {report}")
    _say(f"   ({time.perf_counter() - stage:.0f} s)")

    _heading("4. Running the monitor over the new data")
    stage = time.perf_counter()
    filters = run_metric_filters(lake.catalog)
    _say(f"   metric filters evaluated: {len(filters.runs)}")
    replay_started = time.perf_counter()
    transitions = AlarmStore(lake.catalog).replay(start + timedelta(minutes=1), now)
    minutes = int((now - start).total_seconds() // 60)
    _say(
        f"   alarms replayed minute by minute over the week: {len(installed['alarms'])} alarms x "
        f"{minutes:,} minutes, {len(transitions)} state changes "
        f"in {time.perf_counter() - replay_started:.2f} s"
    )
    _say(f"   ({time.perf_counter() - stage:.0f} s)")

    _heading("Tables")
    print_frame(_table_sizes(lake))

    key = _compromised_key(Path(summary.ground_truth))
    for number, (question, sql, params) in enumerate(INVESTIGATIONS, start=1):
        _heading(f"Investigation {number}: {question}")
        values = [key for p in params if p == "access_key"]
        if params and key is None:
            _say("   (no compromised-key scenario in this dataset)")
            continue
        print_frame(lake.sql(sql, values or None))
        stats = lake.last_query
        if stats is not None:
            _say(
                f"   {stats.rows} rows; {stats.files_scanned} files read, "
                f"{stats.files_skipped} skipped; "
                f"{stats.bytes_scanned / 1e6:.2f} MB scanned in {stats.elapsed_s:.2f} s"
            )

    _heading("Web requests per HTTP status (Logs Insights over the exported access log)")
    _say(f"   {ACCESS_QUERY}")
    print_frame(lake.insights(ACCESS_QUERY, log_group=cwlogs.ACCESS_GROUP))

    _heading("Which alarms fired, and when")
    print_frame(
        lake.sql(
            """
            SELECT alarm_name, count(*) AS times_in_alarm, min(timestamp) AS first_alarm,
                   max(timestamp) AS last_alarm
            FROM _monitor.alarm_history
            WHERE history_item_type = 'StateUpdate' AND history_summary LIKE '%to ALARM%'
            GROUP BY alarm_name ORDER BY first_alarm
            """
        )
    )

    _heading("Try next")
    _say(f"   .venv/bin/loglake --lake {out} tables")
    _say(
        f'   .venv/bin/loglake --lake {out} query "SELECT eventname, count(*) FROM cloudtrail GROUP BY 1 ORDER BY 2 DESC LIMIT 10"'
    )
    _say(
        f"   .venv/bin/loglake --lake {out} insights 'filter @message like /failed/ | "
        f"stats count(*) by job, bin(1d)' --log-group {cwlogs.WORKER_GROUP}"
    )
    _say(f"   .venv/bin/loglake --lake {out} alarm list")
    _say(f"   .venv/bin/loglake --lake {out} coverage")
    _say(f"   {notebook_command(out)}   (the same investigations in docs/investigate.ipynb)")
    _say(f"\nDemo finished in {time.perf_counter() - began:.0f} s.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loglake.demo", description=__doc__)
    parser.add_argument("--out", default="demo-lake", help="lake folder (default: demo-lake)")
    parser.add_argument(
        "--events-per-day",
        type=int,
        default=10_000,
        help="CloudTrail events per account and region and day",
    )
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    return run(
        Path(args.out).resolve(), events_per_day=args.events_per_day, days=args.days, seed=args.seed
    )


if __name__ == "__main__":
    sys.exit(main())
