"""Monitor commands: metric-filter, metrics, alarm, saved-query, monitor install-pack, watch."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from loglake.errors import UserError
from loglake.render import add_output_options, emit

#: what `alarm list` shows of each alarm (DescribeAlarms member names)
ALARM_LIST_COLUMNS = ("AlarmName", "StateValue", "StateUpdatedTimestamp", "StateReason")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def _read_json(value: str, what: str) -> Any:
    """JSON given inline, as `file://path`, as a path, or `-` for stdin (aws CLI style)."""
    if value == "-":
        text = sys.stdin.read()
    elif value.startswith("file://"):
        text = _read_file(value[len("file://") :])
    elif not value.lstrip().startswith(("{", "[")) and Path(value).is_file():
        text = _read_file(value)
    else:
        text = value
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{what} is not valid JSON: {error}") from None


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None


def _time(value: str) -> datetime:
    from loglake.monitor.metrics import as_utc

    return as_utc(value)


def _pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise UserError(f"{what} must look like NAME=VALUE, got {item!r}")
        out[key] = val
    return out


def _dimensions(text: str | None) -> list[dict[str, str]]:
    """`Name=a,Value=b Name=c,Value=d` or `a=b,c=d`."""
    if not text:
        return []
    dims = []
    for chunk in text.split():
        fields = dict(p.split("=", 1) for p in chunk.split(",") if "=" in p)
        if set(fields) == {"Name", "Value"}:
            dims.append({"Name": fields["Name"], "Value": fields["Value"]})
        else:
            dims.extend({"Name": k, "Value": v} for k, v in fields.items())
    return dims


# ---------------------------------------------------------------------------------------------
# metric filters


def _mf_test(args: argparse.Namespace, lake) -> int:
    from loglake.monitor import test_metric_filter

    if args.file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        lines = _read_file(args.file).splitlines()
    lines = [line for line in lines if line.strip()]
    transformation = (
        _read_json(args.transformation, "--transformation") if args.transformation else None
    )
    _print(test_metric_filter(args.pattern, lines, transformation))
    return 0


def _mf_definition(args: argparse.Namespace) -> dict[str, Any]:
    if args.json:
        d = _read_json(args.json, "--json")
    else:
        if not (args.name and args.metric_name and args.namespace):
            raise UserError("give --json, or --name, --metric-name and --namespace")
        t: dict[str, Any] = {
            "metricName": args.metric_name,
            "metricNamespace": args.namespace,
            "metricValue": args.value,
        }
        if args.default_value is not None:
            t["defaultValue"] = args.default_value
        if args.dimension:
            t["dimensions"] = _pairs(args.dimension, "--dimension")
        if args.unit:
            t["unit"] = args.unit
        d = {
            "filterName": args.name,
            "filterPattern": args.pattern or "",
            "metricTransformations": [t],
        }
        if args.log_group:
            d["logGroupName"] = args.log_group
    for key in ("table", "condition"):
        if getattr(args, key):
            d[key] = getattr(args, key)
    return d


def _mf_put(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.runner import backfill_metric_filter, put_metric_filter

    d = put_metric_filter(lake.catalog, _mf_definition(args))
    out: dict[str, Any] = {"metricFilter": d}
    if args.backfill_start or args.backfill_end:
        if not (args.backfill_start and args.backfill_end):
            raise UserError("give both --backfill-start and --backfill-end")
        run = backfill_metric_filter(
            lake.catalog, d["filterName"], _time(args.backfill_start), _time(args.backfill_end)
        )
        out["backfill"] = run.__dict__
    _print(out)
    return 0


def _mf_list(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.runner import list_metric_filters

    _print({"metricFilters": list_metric_filters(lake.catalog, args.prefix)})
    return 0


def _mf_delete(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.runner import delete_metric_filter

    delete_metric_filter(lake.catalog, args.name)
    return 0


def _mf_import(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.watch import import_metric_filters

    doc = _read_json(args.file, args.file)
    _print({"imported": import_metric_filters(lake.catalog, doc, table=args.table)})
    return 0


def _mf_run(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.runner import run_metric_filters

    report = run_metric_filters(lake.catalog, args.names or None)
    _print({"runs": [r.__dict__ for r in report.runs]})
    return 0


def _mf_backfill(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.runner import backfill_metric_filter

    run = backfill_metric_filter(lake.catalog, args.name, _time(args.start), _time(args.end))
    _print(run.__dict__)
    return 0


# ---------------------------------------------------------------------------------------------
# metrics


def _metrics_put(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.metrics import MetricsStore

    if args.metric_data:
        data = _read_json(args.metric_data, "--metric-data")
        if isinstance(data, dict):
            data = [data]
    else:
        if not args.metric_name or args.value is None:
            raise UserError("give --metric-data, or --metric-name and --value")
        datum: dict[str, Any] = {"MetricName": args.metric_name, "Value": args.value}
        if args.unit:
            datum["Unit"] = args.unit
        if args.timestamp:
            datum["Timestamp"] = args.timestamp
        if args.dimensions:
            datum["Dimensions"] = _dimensions(args.dimensions)
        if args.storage_resolution:
            datum["StorageResolution"] = args.storage_resolution
        data = [datum]
    report = MetricsStore(lake.catalog).put_metric_data(args.namespace, data)
    _print(report)
    return 1 if report["rejected"] else 0


def _metrics_stats(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.metrics import MetricsStore

    out = MetricsStore(lake.catalog).get_metric_statistics(
        Namespace=args.namespace,
        MetricName=args.metric_name,
        StartTime=args.start_time,
        EndTime=args.end_time,
        Period=args.period,
        Dimensions=_dimensions(args.dimensions),
        Statistics=args.statistics,
        ExtendedStatistics=args.extended_statistics,
        Unit=args.unit,
    )
    _print(out)
    return 0


def _metrics_data(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.metrics import MetricsStore

    queries = _read_json(args.metric_data_queries, "--metric-data-queries")
    out = MetricsStore(lake.catalog).get_metric_data(
        MetricDataQueries=queries,
        StartTime=args.start_time,
        EndTime=args.end_time,
        ScanBy=args.scan_by,
    )
    _print(out)
    return 0


# ---------------------------------------------------------------------------------------------
# alarms


def _alarm_put(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    d = _read_json(args.json, "--json")
    _print(AlarmStore(lake.catalog).put_alarm(d))
    return 0


def _alarm_list(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    described = AlarmStore(lake.catalog).describe_alarms()
    rows = [
        {k: _text(a.get(k)) for k in ALARM_LIST_COLUMNS}
        for a in described["MetricAlarms"] + described["CompositeAlarms"]
    ]
    if args.state_value:
        rows = [r for r in rows if r["StateValue"] == args.state_value]
    emit(
        pl.DataFrame(rows, schema={k: pl.String for k in ALARM_LIST_COLUMNS}, orient="row"),
        args,
    )
    return 0


def _alarm_describe(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    described = AlarmStore(lake.catalog).describe_alarms(args.names or None)
    if args.names and not (described["MetricAlarms"] or described["CompositeAlarms"]):
        raise UserError(f"There is no alarm named {args.names[0]!r}")
    _print(described)
    return 0


def _alarm_history(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    frame = AlarmStore(lake.catalog).history(args.name, args.history_item_type)
    items = [
        {
            "AlarmName": r["alarm_name"],
            "Timestamp": r["timestamp"].isoformat(),
            "HistoryItemType": r["history_item_type"],
            "HistorySummary": r["history_summary"],
            "HistoryData": r["history_data"],
        }
        for r in frame.head(args.max_records).iter_rows(named=True)
    ]
    _print({"AlarmHistoryItems": items})
    return 0


def _alarm_import(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.watch import import_alarms

    doc = _read_json(args.file, args.file)
    mapping = _pairs(args.action_map, "--action-map")
    _print({"imported": import_alarms(lake.catalog, doc, action_map=mapping)})
    return 0


def _alarm_set_state(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    data = (
        _read_json(args.state_reason_data, "--state-reason-data")
        if args.state_reason_data
        else None
    )
    _print(
        AlarmStore(lake.catalog).set_alarm_state(
            args.alarm_name, args.state_value, args.state_reason, data
        )
    )
    return 0


def _alarm_delete(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    store = AlarmStore(lake.catalog)
    for name in args.names:
        store.delete_alarm(name)
    return 0


def _alarm_evaluate(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.alarmstore import AlarmStore

    now = _time(args.at) if args.at else datetime.now(UTC)
    store = AlarmStore(lake.catalog)
    if args.replay_from:
        made = store.replay(_time(args.replay_from), now, actions=not args.no_actions)
    else:
        made = store.evaluate(now=now)
    _print({"transitions": made})
    return 0


# ---------------------------------------------------------------------------------------------
# saved queries, packs, watch


def _sq_save(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.queries import save_query

    _print(
        save_query(
            lake.catalog,
            args.name,
            args.sql,
            table=args.table,
            destination=args.destination,
            from_start=args.from_start,
        )
    )
    return 0


def _sq_run(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.queries import run_saved_query

    emit(run_saved_query(lake.catalog, args.name), args)
    return 0


def _sq_list(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.queries import list_queries

    _print({"queries": list_queries(lake.catalog)})
    return 0


def _install_pack(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.watch import install_pack

    _print(install_pack(lake.catalog, args.pack, table=args.table, actions=args.action or []))
    return 0


def _watch(args: argparse.Namespace, lake) -> int:
    from loglake.monitor.watch import watch

    ingest_new = None
    if args.source:
        from loglake.ingest import ingest

        def ingest_new() -> object:
            return ingest(lake.catalog, args.source)

    def report(cycle) -> None:
        runs = cycle.filters.runs if cycle.filters else []
        print(
            json.dumps(
                {
                    "cycle": cycle.started.isoformat(),
                    "ingestError": cycle.ingest_error,
                    "matches": {r.filter_name: r.matches for r in runs if r.matches},
                    "busy": cycle.filters.busy if cycle.filters else [],
                    "transitions": cycle.transitions,
                    **cycle.tasks,
                },
                default=str,
            ),
            flush=True,
        )

    from loglake.cli_report import watch_tasks

    watch(
        lake.catalog,
        ingest_new,
        interval=args.interval,
        once=args.once,
        on_cycle=report,
        tasks=watch_tasks(lake),
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    # metric-filter ---------------------------------------------------------------------------
    mf = sub.add_parser("metric-filter", help="CloudWatch Logs metric filters over lake tables")
    mfs = mf.add_subparsers(dest="mf_command", metavar="ACTION", required=True)

    p = mfs.add_parser("test", help="match sample messages against a pattern (TestMetricFilter)")
    p.add_argument("pattern", help="filter pattern")
    p.add_argument("file", help="file with one message per line, or - for stdin")
    p.add_argument("--transformation", help="metricTransformations item (JSON or file://)")
    p.set_defaults(handler=_mf_test, needs_lake=False)

    p = mfs.add_parser("put", help="create or replace a metric filter (PutMetricFilter)")
    p.add_argument("--json", help="PutMetricFilter request (JSON, file://path or -)")
    p.add_argument("--name", help="filterName")
    p.add_argument("--pattern", help="filterPattern")
    p.add_argument("--table", help="table the filter reads (db.table), e.g. cloudtrail")
    p.add_argument("--log-group", help="logGroupName (reads the cloudwatch_logs table)")
    p.add_argument("--condition", help="SQL condition restricting the table's rows")
    p.add_argument("--metric-name")
    p.add_argument("--namespace", help="metricNamespace")
    p.add_argument("--value", default="1", help="metricValue: a number, $.path or $field")
    p.add_argument("--default-value", type=float)
    p.add_argument("--dimension", action="append", help="NAME=$.path (up to 3)")
    p.add_argument("--unit")
    p.add_argument("--backfill-start", help="also count older events from this time (ISO 8601)")
    p.add_argument("--backfill-end", help="... up to this time")
    p.set_defaults(handler=_mf_put)

    p = mfs.add_parser("list", help="list metric filters")
    p.add_argument("--prefix", help="filterNamePrefix")
    p.set_defaults(handler=_mf_list)

    p = mfs.add_parser("delete", help="delete a metric filter")
    p.add_argument("name")
    p.set_defaults(handler=_mf_delete)

    p = mfs.add_parser("import", help="import `aws logs describe-metric-filters` output")
    p.add_argument("file", help="JSON file, file://path or -")
    p.add_argument("--table", help="table for every imported filter (e.g. cloudtrail)")
    p.set_defaults(handler=_mf_import)

    p = mfs.add_parser("run", help="bring metric filters up to date with their tables")
    p.add_argument("names", nargs="*")
    p.set_defaults(handler=_mf_run)

    p = mfs.add_parser("backfill", help="count events from before a filter existed")
    p.add_argument("name")
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.set_defaults(handler=_mf_backfill)

    # metrics -----------------------------------------------------------------------------------
    mt = sub.add_parser("metrics", help="CloudWatch-style metrics: put and get datapoints")
    mts = mt.add_subparsers(dest="metrics_command", metavar="ACTION", required=True)
    p = mts.add_parser("put", help="PutMetricData")
    p.add_argument("--namespace", required=True)
    p.add_argument(
        "--metric-data", help="MetricData list as `aws cloudwatch put-metric-data` takes it"
    )
    p.add_argument("--metric-name")
    p.add_argument("--value", type=float)
    p.add_argument("--unit")
    p.add_argument("--timestamp")
    p.add_argument("--dimensions", help="Name=a,Value=b ... or a=b,c=d")
    p.add_argument("--storage-resolution", type=int)
    p.set_defaults(handler=_metrics_put)

    p = mts.add_parser("get-statistics", help="GetMetricStatistics")
    p.add_argument("--namespace", required=True)
    p.add_argument("--metric-name", required=True)
    p.add_argument("--start-time", required=True)
    p.add_argument("--end-time", required=True)
    p.add_argument("--period", type=int, required=True)
    p.add_argument("--statistics", nargs="+")
    p.add_argument("--extended-statistics", nargs="+")
    p.add_argument("--dimensions")
    p.add_argument("--unit")
    p.set_defaults(handler=_metrics_stats)

    p = mts.add_parser("get-data", help="GetMetricData (MetricStat queries)")
    p.add_argument("--metric-data-queries", required=True)
    p.add_argument("--start-time", required=True)
    p.add_argument("--end-time", required=True)
    p.add_argument(
        "--scan-by",
        default="TimestampDescending",
        choices=["TimestampDescending", "TimestampAscending"],
    )
    p.set_defaults(handler=_metrics_data)

    # alarms ------------------------------------------------------------------------------------
    al = sub.add_parser("alarm", help="CloudWatch-style metric and composite alarms")
    als = al.add_subparsers(dest="alarm_command", metavar="ACTION", required=True)
    p = als.add_parser("put", help="PutMetricAlarm / PutCompositeAlarm")
    p.add_argument("--json", required=True, help="request JSON, file://path or -")
    p.set_defaults(handler=_alarm_put)
    p = als.add_parser("list", help="alarms and their states")
    p.add_argument("--state-value", choices=["OK", "ALARM", "INSUFFICIENT_DATA"])
    add_output_options(p, output=False)
    p.set_defaults(handler=_alarm_list)
    p = als.add_parser("describe", help="DescribeAlarms")
    p.add_argument("names", nargs="*")
    p.set_defaults(handler=_alarm_describe)
    p = als.add_parser("history", help="DescribeAlarmHistory")
    p.add_argument("name", nargs="?")
    p.add_argument("--history-item-type", choices=["ConfigurationUpdate", "StateUpdate", "Action"])
    p.add_argument("--max-records", type=int, default=100)
    p.set_defaults(handler=_alarm_history)
    p = als.add_parser("import", help="import `aws cloudwatch describe-alarms` output")
    p.add_argument("file", help="JSON file, file://path or -")
    p.add_argument("--action-map", action="append", help="ARN=TARGET (webhook, file:, exec:)")
    p.set_defaults(handler=_alarm_import)
    p = als.add_parser("set-state", help="SetAlarmState (until the next evaluation)")
    p.add_argument("alarm_name")
    p.add_argument("--state-value", required=True, choices=["OK", "ALARM", "INSUFFICIENT_DATA"])
    p.add_argument("--state-reason", required=True)
    p.add_argument("--state-reason-data")
    p.set_defaults(handler=_alarm_set_state)
    p = als.add_parser("delete", help="DeleteAlarms")
    p.add_argument("names", nargs="+")
    p.set_defaults(handler=_alarm_delete)
    p = als.add_parser("evaluate", help="evaluate alarms now and run the actions of transitions")
    p.add_argument("--at", help="evaluation time (ISO 8601; default now)")
    p.add_argument(
        "--replay-from",
        metavar="TIME",
        help="evaluate every minute from TIME to --at, as the watch loop would have (one query)",
    )
    p.add_argument(
        "--no-actions", action="store_true", help="with --replay-from: record, notify no one"
    )
    p.set_defaults(handler=_alarm_evaluate)

    # saved queries -----------------------------------------------------------------------------
    sq = sub.add_parser("saved-query", help="SQL queries run incrementally over new rows")
    sqs = sq.add_subparsers(dest="sq_command", metavar="ACTION", required=True)
    p = sqs.add_parser("save", help="save a query with a checkpoint")
    p.add_argument("name")
    p.add_argument("sql")
    p.add_argument("--table", help="the table read incrementally (default: the one in FROM)")
    p.add_argument("--destination", help="append results to this table (exactly once)")
    p.add_argument("--from-start", action="store_true", help="first run reads all rows")
    p.set_defaults(handler=_sq_save)
    p = sqs.add_parser("run", help="results over rows committed since the last run")
    p.add_argument("name")
    add_output_options(p)
    p.set_defaults(handler=_sq_run)
    p = sqs.add_parser("list", help="saved queries")
    p.set_defaults(handler=_sq_list)

    # monitor install-pack ------------------------------------------------------------------------
    mon = sub.add_parser("monitor", help="monitoring packs")
    mons = mon.add_subparsers(dest="monitor_command", metavar="ACTION", required=True)
    p = mons.add_parser("install-pack", help="create a pack's metric filters and alarms")
    p.add_argument("pack", choices=["cis"])
    p.add_argument("--table", default="cloudtrail", help="CloudTrail table (default: cloudtrail)")
    p.add_argument("--action", action="append", help="alarm action target (repeatable)")
    p.set_defaults(handler=_install_pack)

    # watch ---------------------------------------------------------------------------------------
    p = sub.add_parser("watch", help="ingest, run metric filters and evaluate alarms in a loop")
    p.add_argument("--source", help="raw export URL to ingest new objects from each cycle")
    p.add_argument("--interval", type=float, default=60, help="seconds between cycles")
    p.add_argument("--once", action="store_true", help="run a single cycle")
    p.set_defaults(handler=_watch, creates_lake=True)  # it ingests
