"""``loglake report``: list, show, validate, run, rerun, diff, runs and schedule compliance
benchmarks (``loglake.reports``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str, sort_keys=True))


def _list(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.definitions import available, load_benchmark

    for name, folder in sorted(available(args.path).items()):
        benchmark = load_benchmark(folder)
        print(f"{name:<24} {len(benchmark.controls()):>3} controls  {benchmark.title}  ({folder})")
    return 0


def _show(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.definitions import Control, find

    benchmark, control = find(args.target, args.path)
    if control is not None:
        print(f"{benchmark.id}/{control.id}  {control.title}")
        print(
            f"severity: {control.severity}   tags: {json.dumps(control.tags)}   file: {control.path}"
        )
        if control.description:
            print(control.description)
        print()
        print(control.sql)
        return 0
    print(f"{benchmark.id}: {benchmark.title}  ({benchmark.path})")
    if benchmark.description:
        print(benchmark.description.strip())
    print(f"period: {benchmark.period_days} days of CloudTrail before the report's instant")

    def walk(nodes: tuple, depth: int) -> None:
        for node in nodes:
            if isinstance(node, Control):
                print(f"{'  ' * depth}{node.id:<8} [{node.severity}] {node.title}")
            else:
                print(f"{'  ' * depth}{node.title}")
                walk(node.children, depth + 1)

    walk(benchmark.children, 1)
    return 0


def _validate(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.api import parse_time
    from loglake.reports.definitions import find
    from loglake.reports.runner import Runner

    benchmark, control = find(args.target, args.path)
    runner = Runner(lake.catalog, benchmark, as_of=parse_time(None), database=args.database)
    problems = runner.validate([control] if control else None)
    bad = {k: v for k, v in problems.items() if v}
    for control_id, error in bad.items():
        print(f"{benchmark.id}/{control_id}: {error}", file=sys.stderr)
    print(f"{len(problems) - len(bad)} of {len(problems)} controls compile against the catalog")
    return 1 if bad else 0


def _summary(report: Any) -> None:
    result = report.result
    counts = result.counts
    print(
        f"run {result.run_id}: {result.benchmark.id} as of {result.as_of:%Y-%m-%dT%H:%M:%SZ}, "
        f"{len(result.controls)} controls in {result.elapsed_s:.2f} s: "
        + ", ".join(f"{counts[s]} {s}" for s in counts)
    )
    alarms = result.results.filter(result.results["status"] == "alarm")
    for row in alarms.iter_rows(named=True):
        cause = (
            f"  <- {row['cause_event_name']} by {row['cause_principal']} from "
            f"{row['cause_source_ip']} at {row['cause_event_time']}"
            if row.get("cause_event_name")
            else ""
        )
        print(f"  ALARM {row['control_id']:<10} {row['resource'] or ''}: {row['reason']}{cause}")
    for cr in result.controls:
        if cr.error:
            print(f"  ERROR {cr.control.id:<10} {cr.error.splitlines()[0]}")
    for path in report.written:
        print(f"wrote {path}")


def _run(args: argparse.Namespace, lake: Any) -> int:
    from loglake.cli import storage_settings
    from loglake.reports.api import run_report

    formats = args.format or []
    report = run_report(
        lake.catalog,
        args.target,
        as_of=args.as_of,
        formats=formats,
        output=args.output,
        time_zone=args.time_zone,
        database=args.database,
        paths=args.path,
        storage=storage_settings(args, args.output)
        if args.output and "://" in args.output
        else None,
    )
    if formats and not args.output:
        from loglake.reports.render import EXTENSIONS

        for fmt in formats:
            name = "results.json" if fmt == "json" else f"report.{EXTENSIONS[fmt]}"
            sys.stdout.write(report.files[name].decode())
        return 0
    _summary(report)
    return 0


def _rerun(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.api import rerun

    again = rerun(lake.catalog, args.run_id, database=args.database)
    for name, (before, after) in again.outputs.items():
        mark = "same" if before == after else "DIFFERENT"
        print(f"{name:<14} {mark:<9} recorded {before[:16]}…  reproduced {after[:16]}…")
    print(
        f"run {args.run_id} reproduced "
        + ("byte for byte" if again.identical else "with DIFFERENCES")
        + f" from table versions {json.dumps(again.report.result.pins, sort_keys=True)}"
    )
    return 0 if again.identical else 1


def _diff(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.store import diff

    found = diff(lake.catalog, args.run_id, args.benchmark)
    if args.json:
        _print(found)
        return 0
    if found["previous"] is None:
        print(f"run {found['run_id']} has no earlier run of its benchmark to compare with")
        return 0
    print(f"run {found['run_id']} against {found['previous']}:")
    for title, rows in (("new failures", found["new_failures"]), ("fixed", found["fixed"])):
        print(f"  {title}: {len(rows)}")
        for row in rows:
            print(f"    {row['control_id']:<10} {row['resource'] or ''}: {row['reason']}")
    return 0


def _runs(args: argparse.Namespace, lake: Any) -> int:
    from loglake.render import emit
    from loglake.reports.store import runs_frame

    frame = runs_frame(lake.catalog)
    if args.benchmark:
        frame = frame.filter(frame["benchmark"] == args.benchmark)
    emit(
        frame.select(
            "run_id",
            "benchmark",
            "as_of",
            "ok",
            "alarm",
            "info",
            "skip",
            "error",
            "schedule",
            "late",
        ),
        args,
    )
    return 0


def _schedule_add(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.schedule import Schedules

    schedules = Schedules(lake.catalog)
    body = schedules.add(
        args.benchmark,
        args.cron,
        name=args.name,
        output=args.output,
        formats=args.format,
        notify=args.notify,
        time_zone=args.time_zone,
    )
    upcoming = schedules.next_times(body["name"])
    print(f"schedule {body['name']}: {body['benchmark']} at '{body['cron']}' ({body['time_zone']})")
    print("next runs: " + ", ".join(f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in upcoming))
    return 0


def _schedule_list(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.schedule import Schedules

    _print(
        [
            {k: v for k, v in s.items() if k != "outbox"} | {"pending": len(s.get("outbox", []))}
            for s in Schedules(lake.catalog).list()
        ]
    )
    return 0


def _schedule_delete(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.schedule import Schedules

    Schedules(lake.catalog).delete(args.name)
    return 0


def _schedule_run_due(args: argparse.Namespace, lake: Any) -> int:
    from loglake.reports.api import parse_time
    from loglake.reports.schedule import Schedules

    _print(Schedules(lake.catalog).run_due(parse_time(args.at) if args.at else None))
    return 0


def watch_tasks(lake: Any) -> dict[str, Callable[[datetime], Any]]:
    """What ``loglake watch`` runs each cycle besides monitoring: the due scheduled reports."""
    from loglake.reports.schedule import Schedules

    return {"reports": lambda now: Schedules(lake.catalog).run_due(now)}


def register(sub: argparse._SubParsersAction) -> None:
    from loglake.render import add_output_options

    report = sub.add_parser(
        "report",
        help="compliance reports: benchmarks of SQL controls, run at a point in time",
        description="Benchmarks are folders of controls (SQL files with a TOML header). Runs "
        "evaluate the estate as AWS Config recorded it at an instant, name the CloudTrail event "
        "behind every failure and record evidence that reproduces the run.",
    )
    cmds = report.add_subparsers(dest="report_command", metavar="ACTION", required=True)

    def with_path(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--path",
            action="append",
            help="folder with benchmark folders (repeatable; also "
            "$LOGLAKE_REPORTS_PATH); shipped benchmarks come last",
        )

    p = cmds.add_parser("list", help="benchmarks that can be run")
    with_path(p)
    p.set_defaults(handler=_list, needs_lake=False)

    p = cmds.add_parser("show", help="a benchmark's tree of controls, or one control")
    p.add_argument("target", help="BENCHMARK, BENCHMARK/CONTROL or a benchmark folder")
    with_path(p)
    p.set_defaults(handler=_show, needs_lake=False)

    p = cmds.add_parser("validate", help="compile every control against the catalog, run none")
    p.add_argument("target")
    with_path(p)
    p.set_defaults(handler=_validate)

    p = cmds.add_parser("run", help="run a benchmark (or one control) and record it")
    p.add_argument("target", help="BENCHMARK, BENCHMARK/CONTROL or a benchmark folder")
    p.add_argument("--as-of", help="the instant to evaluate, e.g. 2024-05-08T12:00Z (default: now)")
    p.add_argument(
        "--format",
        action="append",
        choices=["html", "md", "json", "csv", "junit"],
        help="output format (repeatable); printed unless --output is given",
    )
    p.add_argument("--output", help="file, folder/ or s3:// URL for the outputs")
    p.add_argument("--time-zone", default="UTC", help="zone times are shown in (default UTC)")
    with_path(p)
    p.set_defaults(handler=_run)

    p = cmds.add_parser("rerun", help="reproduce a recorded run from its table versions")
    p.add_argument("run_id")
    p.set_defaults(handler=_rerun)

    p = cmds.add_parser("diff", help="new failures and fixes since the previous run")
    p.add_argument("run_id", nargs="?", help="a run (default: the latest)")
    p.add_argument("--benchmark", help="latest run of this benchmark")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_diff)

    p = cmds.add_parser("runs", help="recorded runs (the _reports.runs table)")
    p.add_argument("--benchmark")
    add_output_options(p)
    p.set_defaults(handler=_runs)

    sched = cmds.add_parser("schedule", help="reports that `loglake watch` runs on a cron schedule")
    scmds = sched.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)
    p = scmds.add_parser("add", help="run a benchmark on a cron schedule")
    p.add_argument("benchmark")
    p.add_argument("--cron", required=True, help="five-field cron expression, e.g. '0 6 * * *'")
    p.add_argument("--name", help="schedule name (default: the benchmark)")
    p.add_argument("--output", help="folder or s3:// prefix; each run writes <benchmark>/<run id>/")
    p.add_argument(
        "--format",
        action="append",
        choices=["html", "md", "json", "csv", "junit"],
        help="output formats (repeatable, default html)",
    )
    p.add_argument("--notify", action="append", help="action target: http(s)://, file: or exec:")
    p.add_argument(
        "--time-zone", default="UTC", help="zone of the cron expression and of the reports"
    )
    p.set_defaults(handler=_schedule_add)
    p = scmds.add_parser("list", help="schedules with their last run")
    p.set_defaults(handler=_schedule_list)
    p = scmds.add_parser("delete", help="remove a schedule")
    p.add_argument("name")
    p.set_defaults(handler=_schedule_delete)
    p = scmds.add_parser("run-due", help="run the due scheduled reports once (what watch does)")
    p.add_argument("--at", help="pretend it is this time (UTC)")
    p.set_defaults(handler=_schedule_run_due)


__all__ = ["register", "watch_tasks"]
