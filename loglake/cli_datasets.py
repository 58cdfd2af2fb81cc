"""``loglake datasets ...``: generate realistic raw AWS exports with incidents and ground truth."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from loglake.datasets import DEFAULT_START, SCENARIOS, SOURCES, generate
from loglake.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "datasets",
        help="generate synthetic AWS log exports with incident scenarios",
        description="Generate raw CloudTrail, VPC Flow Logs, Config and CloudWatch Logs exports "
        "laid out exactly as AWS delivers them, with optional incident scenarios and a "
        "ground_truth.json describing them.",
    )
    commands = parser.add_subparsers(dest="datasets_command", metavar="COMMAND")
    commands.required = True

    gen = commands.add_parser(
        "generate",
        help="write a synthetic log bucket to a folder or s3:// prefix",
        description="Write raw AWS exports under OUT (a folder or s3://bucket/prefix).",
    )
    gen.add_argument("out", metavar="OUT", help="folder or s3://bucket/prefix to write into")
    gen.add_argument("--accounts", type=int, default=3, help="number of AWS accounts (default 3)")
    gen.add_argument(
        "--regions", type=int, default=2, help="number of regions, us-east-1 first (default 2)"
    )
    gen.add_argument("--days", type=int, default=7, help="number of days (default 7)")
    gen.add_argument(
        "--events-per-day",
        type=int,
        default=200_000,
        help="baseline CloudTrail events per account and region per day (default 200000)",
    )
    gen.add_argument("--seed", type=int, default=42, help="random seed; same seed, same bytes")
    gen.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME[@ISO-TIME]",
        help="incident to include (repeatable); 'all' for every scenario. Names: "
        + ", ".join(SCENARIOS),
    )
    gen.add_argument(
        "--start", default=DEFAULT_START, help=f"first day (UTC; default {DEFAULT_START})"
    )
    gen.add_argument(
        "--flows-per-day",
        type=int,
        default=None,
        help="network connections per account and region per day (default events/10)",
    )
    gen.add_argument(
        "--log-events-per-day",
        type=int,
        default=None,
        help="application log lines per account and region per day (default events/10)",
    )
    gen.add_argument(
        "--organization-trail",
        action="store_true",
        help="use the organisation trail key layout (AWSLogs/o-.../ACCOUNT/...)",
    )
    gen.add_argument("--bucket", default=None, help="bucket name digests record for a local OUT")
    gen.add_argument(
        "--compress-level",
        type=int,
        default=3,
        choices=range(1, 10),
        metavar="1-9",
        help="gzip level (default 3)",
    )
    gen.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help=f"comma-separated subset of {','.join(SOURCES)}",
    )
    bar = gen.add_mutually_exclusive_group()
    bar.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show the progress bar",
    )
    bar.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never show the progress bar"
    )
    gen.add_argument("--json", action="store_true", help="print the summary as JSON")
    gen.set_defaults(handler=_generate, needs_lake=False)

    lst = commands.add_parser("scenarios", help="list the incident scenarios")
    lst.set_defaults(handler=_scenarios, needs_lake=False)


def _filesystem(args: argparse.Namespace, lake: Any) -> Any:
    """An S3 filesystem for OUT built from the global storage options (endpoint, region, profile,
    path style, config file), so a MinIO or AWS bucket is reached the way the lake would be."""
    if not args.out.startswith(("s3://", "s3a://")):
        return None
    from loglake.cli import storage_settings

    return storage_settings(args, args.out).filesystem()


def _generate(args: argparse.Namespace, lake: Any) -> int:
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    try:
        summary = generate(
            args.out,
            accounts=args.accounts,
            regions=args.regions,
            days=args.days,
            events_per_day=args.events_per_day,
            seed=args.seed,
            scenarios=args.scenario,
            start=args.start,
            filesystem=_filesystem(args, lake),
            progress=args.progress,
            flows_per_day=args.flows_per_day,
            log_events_per_day=args.log_events_per_day,
            organization_trail=args.organization_trail,
            bucket=args.bucket,
            compresslevel=args.compress_level,
            sources=sources,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
        return 0
    print(f"wrote {summary.out}  ({summary.start} .. {summary.end}, seed {summary.seed})")
    print(f"  accounts: {', '.join(summary.accounts)}   regions: {', '.join(summary.regions)}")
    for source, n in summary.files.items():
        print(f"  {source:<20} {n:>8,} files")
    for source, n in summary.events.items():
        print(f"  {source:<20} {n:>8,} records")
    print(f"  {'bytes':<20} {summary.bytes:>8,}")
    if summary.scenarios:
        print(f"  scenarios: {', '.join(summary.scenarios)}")
    print(f"  ground truth: {summary.ground_truth}")
    print(f"  {summary.elapsed_seconds:.1f}s", file=sys.stderr)
    return 0


def _scenarios(args: argparse.Namespace, lake: Any) -> int:
    for name, (description, _) in SCENARIOS.items():
        print(name)
        print(textwrap.indent(textwrap.fill(description, 90), "    "))
    return 0
