"""Investigation commands: ``detect`` (run, test, backtest, list, hits, import-sigma) and
``investigate`` (timeline, chain, first-seen)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl

from loglake import render
from loglake.errors import UserError

FORMATS = ("table", "json", "csv")


def _write(frame: pl.DataFrame, fmt: str, output: str | None = None) -> None:
    """A result through the renderer every command uses (all rows: investigations are short)."""
    render.write(frame, fmt, output, wide=True)


def _selected(args: argparse.Namespace, lake: Any) -> list:
    packs = args.pack if args.pack is not None else ([] if args.dir else ["aws"])
    detections = lake.investigate.detections(packs=packs, paths=args.dir or [])
    if args.id:
        wanted = set(args.id)
        detections = [d for d in detections if d.id in wanted]
        missing = wanted - {d.id for d in detections}
        if missing:
            raise UserError(f"No detection {sorted(missing)[0]!r} in the chosen packs and folders")
    return detections


HIT_COLUMNS = [
    "event_time",
    "severity",
    "detection_id",
    "event_id",
    "event_name",
    "principal",
    "source_ip",
    "account",
    "region",
    "author",
    "late",
]


def _hit_view(hits: pl.DataFrame, fmt: str) -> pl.DataFrame:
    if fmt != "table":
        return hits.drop(
            [c for c in ("detected_at", "run_id") if c in hits.columns and fmt == "csv"]
        )
    return hits.select([c for c in HIT_COLUMNS if c in hits.columns]).sort("event_time")


# ---------------------------------------------------------------------------------------------
# detect


def _detect_list(args: argparse.Namespace, lake: Any) -> int:
    rows = [
        {
            "id": d.id,
            "severity": d.severity,
            "title": d.title,
            "mitre": ", ".join(d.mitre),
            "window": d.window or d.lookback or None,
            "source": d.source,
        }
        for d in _selected(args, lake)
    ]
    _write(pl.DataFrame(rows), args.format)
    return 0


def _detect_run(args: argparse.Namespace, lake: Any) -> int:
    from loglake.investigate.api import parse_when

    detections = _selected(args, lake)
    if args.since or args.until:
        hits = lake.investigate.hunt(
            detections, since=parse_when(args.since), until=parse_when(args.until)
        )
        _write(_hit_view(hits, args.format), args.format, args.output)
        print(f"{hits.height} hits of {len(detections)} detections", file=sys.stderr)
        return 0
    report = lake.investigate.run(detections, targets=args.action or [], final=args.final)
    hits = report.hits if report.hits is not None else pl.DataFrame()
    _write(_hit_view(hits, args.format), args.format, args.output)
    alerts = sum(r.alerts for r in report.runs)
    print(
        f"{hits.height} new hits ({alerts} new incidents) from {len(report.runs)} detections; "
        f"{report.notified} notifications sent"
        + (f"; busy: {', '.join(report.busy)}" if report.busy else ""),
        file=sys.stderr,
    )
    for failure in report.failed_actions:
        print(f"loglake: action failed: {failure}", file=sys.stderr)
    return 1 if report.failed_actions else 0


def _detect_test(args: argparse.Namespace, lake: Any) -> int:
    data = sys.stdin.buffer.read() if args.events == "-" else _read_bytes(args.events)
    hits = lake.investigate.test(args.detection, data)
    _write(_hit_view(hits, args.format), args.format)
    print(f"{hits.height} of the events match", file=sys.stderr)
    return 0


def _detect_backtest(args: argparse.Namespace, lake: Any) -> int:
    result = lake.investigate.backtest(args.detection, since=args.since, until=args.until)
    summary = {k: result[k] for k in ("detection", "since", "until", "events", "alerts")}
    if args.format == "json":
        summary["per_day"] = (
            result["per_day"].with_columns(pl.col("day").cast(pl.String)).to_dicts()
        )
        summary["alerts_detail"] = json.loads(
            result["alerts_detail"]
            .with_columns(pl.col("first", "last").cast(pl.String))
            .write_json()
        )
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{summary['detection']}: {summary['alerts']} alerts ({summary['events']} events) "
        f"from {summary['since']} to {summary['until']}"
    )
    if result["alerts"]:
        _write(result["per_day"], args.format)
        _write(result["alerts_detail"], args.format)
    return 0


def _detect_hits(args: argparse.Namespace, lake: Any) -> int:
    hits = lake.investigate.hits()
    if args.id:
        hits = hits.filter(pl.col("detection_id").is_in(args.id))
    _write(_hit_view(hits, args.format), args.format, args.output)
    return 0


def _detect_import_sigma(args: argparse.Namespace, lake: Any) -> int:
    from loglake.investigate.sigma import import_sigma_files

    report = import_sigma_files(args.rules, args.out)
    for item in report.converted:
        print(f"converted {item.source} -> {item.path}")
    for skipped in report.skipped:
        print(f"skipped {skipped.source}: {skipped.reason}", file=sys.stderr)
    print(f"{len(report.converted)} converted, {len(report.skipped)} skipped", file=sys.stderr)
    return 0 if report.converted or not report.skipped else 1


def _read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}") from None


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pack", action="append", help="shipped detection pack (default: aws); repeatable"
    )
    parser.add_argument("--dir", action="append", help="folder or file of .sql detections")
    parser.add_argument("--id", action="append", help="only this detection id; repeatable")


# ---------------------------------------------------------------------------------------------
# investigate


def _entity_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "principal": args.principal,
        "access_key": args.access_key,
        "ip": args.ip,
        "resource": getattr(args, "resource", None),
    }


def _timeline(args: argparse.Namespace, lake: Any) -> int:
    built = lake.investigate.build_timeline(
        **_entity_options(args), start=args.start, end=args.end, sessions=not args.no_sessions
    )
    frame = built.frame
    if args.format == "html":
        from loglake.investigate.render import timeline_html

        entity = built.entity
        title = f"Timeline of {entity.kind.replace('_', ' ')} {entity.value}"
        meta = (
            f"{frame.height} rows; addresses: {', '.join(built.addresses) or 'none'}; "
            f"session keys followed: {len(built.keys)}"
        )
        hits = set()
        if args.hits:
            hits = set(lake.investigate.hits()["event_id"].to_list())
        page = timeline_html(frame, title, meta, hits)
        if args.output:
            Path(args.output).write_text(page)
        else:
            sys.stdout.write(page)
        return 0
    view = (
        frame if args.format != "table" else frame.select("time", "source", "summary", "event_id")
    )
    if args.format == "json":
        view = view.with_columns(pl.col("time").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    _write(view, args.format, args.output)
    return 0


def _chain(args: argparse.Namespace, lake: Any) -> int:
    chain = lake.investigate.chain(args.key)
    if args.format == "json":
        print(json.dumps(chain, indent=2))
        return 0
    print(
        f"origin: {chain['origin'] or 'unknown'} ({chain['origin_kind']})"
        + (
            ""
            if chain["complete"]
            else "; the call that issued the first session is not in the lake"
        )
    )
    _write(pl.DataFrame(chain["steps"]), "table")
    return 0


def _first_seen(args: argparse.Namespace, lake: Any) -> int:
    options = {k: v for k, v in _entity_options(args).items() if k != "resource"}
    if args.rare:
        frame = lake.investigate.rare_calls(
            **options, start=args.start, end=args.end, baseline=args.baseline, at_most=args.at_most
        )
    else:
        frame = lake.investigate.first_seen(
            **options, start=args.start, end=args.end, baseline=args.baseline
        )
    _write(frame, args.format, args.output)
    return 0


def _add_entity(parser: argparse.ArgumentParser, resource: bool = True) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--principal", help="an IAM user, role, session or root ARN")
    group.add_argument("--access-key", help="an access key id (AKIA... or ASIA...)")
    group.add_argument("--ip", help="a source or destination address")
    if resource:
        group.add_argument("--resource", help="a resource id or ARN (sg-..., i-..., a key ARN...)")


def register(sub: argparse._SubParsersAction) -> None:
    detect = sub.add_parser("detect", help="detections as code: run, test, backtest, import Sigma")
    dsub = detect.add_subparsers(dest="detect_command", metavar="ACTION", required=True)

    p = dsub.add_parser("list", help="the detections of packs and folders")
    _add_selection(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=_detect_list)

    p = dsub.add_parser(
        "run",
        help="run detections over what is new since their checkpoints (or over --since/--until)",
    )
    _add_selection(p)
    p.add_argument("--since", help="hunt over events from this time (ISO time or span: 90d)")
    p.add_argument("--until", help="hunt over events before this time")
    p.add_argument(
        "--final",
        action="store_true",
        help="treat the data as complete: windowed rules do not wait for late events",
    )
    p.add_argument(
        "--action",
        action="append",
        help="notify this target once per new incident (http(s)://, file:, exec:); repeatable",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", help="write the hits to this file")
    p.set_defaults(handler=_detect_run)

    p = dsub.add_parser("test", help="run one detection over given CloudTrail events")
    p.add_argument("detection", help="pack detection id or .sql file")
    p.add_argument("events", help="JSON file of CloudTrail records (Records, array or lines), or -")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=_detect_test)

    p = dsub.add_parser("backtest", help="how often a detection would have fired over history")
    p.add_argument("detection", help="pack detection id or .sql file")
    p.add_argument("--since", default="90d", help="start (ISO time or span back from now)")
    p.add_argument("--until", help="end (default: now)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(handler=_detect_backtest)

    p = dsub.add_parser("hits", help="hits recorded by incremental runs")
    p.add_argument("--id", action="append", help="only this detection id; repeatable")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", help="write to this file")
    p.set_defaults(handler=_detect_hits)

    investigate = sub.add_parser(
        "investigate", help="timelines, identity chains and first-seen behaviour"
    )
    isub = investigate.add_subparsers(dest="investigate_command", metavar="ACTION", required=True)
    p = isub.add_parser("timeline", help="everything about one entity, in time order")
    _add_entity(p)
    p.add_argument("--from", dest="start", help="start (ISO time or span back from now: 7d)")
    p.add_argument("--to", dest="end", help="end (ISO time)")
    p.add_argument(
        "--no-sessions",
        action="store_true",
        help="leave out what was done through role sessions the principal or key started",
    )
    p.add_argument("--format", choices=(*FORMATS, "html"), default="table")
    p.add_argument("--hits", action="store_true", help="mark events with detection hits (html)")
    p.add_argument("--output", help="write to this file")
    p.set_defaults(handler=_timeline)

    p = isub.add_parser("chain", help="who really acted with a key or session")
    p.add_argument("key", help="access key id or assumed-role session ARN")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=_chain)

    p = isub.add_parser("first-seen", help="what an entity did in a window and never before")
    _add_entity(p, resource=False)
    p.add_argument("--from", dest="start", required=True, help="window start")
    p.add_argument("--to", dest="end", help="window end (default: now)")
    p.add_argument("--baseline", default="30d", help="how far back 'never' looks (default 30d)")
    p.add_argument("--rare", action="store_true", help="calls rare across the account instead")
    p.add_argument("--at-most", type=int, default=5, help="rare: at most this many calls")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", help="write to this file")
    p.set_defaults(handler=_first_seen)

    p = dsub.add_parser("import-sigma", help="convert Sigma rules for CloudTrail to detections")
    p.add_argument("rules", nargs="+", help="Sigma YAML files or folders")
    p.add_argument("--out", required=True, help="folder for the converted .sql detections")
    p.set_defaults(handler=_detect_import_sigma, needs_lake=False)
