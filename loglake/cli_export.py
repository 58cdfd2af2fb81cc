"""``loglake export``: the lake's OCSF views as Amazon Security Lake custom sources."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from loglake.ingest.ocsf import CLASSES


def register(sub: argparse._SubParsersAction) -> None:
    keys = [c.view.removeprefix("ocsf_") for c in CLASSES]
    export = sub.add_parser(
        "export",
        help="write the OCSF views as Parquet for Amazon Security Lake (custom sources)",
        description="Write each OCSF class (API Activity, Authentication, Account Change, Network "
        "Activity) under DESTINATION/<source>/region=/accountId=/eventDay=/ as zstd Parquet, "
        "the layout of a Security Lake custom source. Exporting a day again replaces its files.",
    )
    export.add_argument(
        "destination", help="folder or s3:// prefix, e.g. the Security Lake bucket's ext/ folder"
    )
    export.add_argument("--format", choices=["security-lake"], required=True)
    export.add_argument(
        "--class",
        dest="classes",
        action="append",
        choices=keys,
        help="only this class (repeatable; default: all four)",
    )
    export.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="CLASS=NAME",
        help="custom source name of a class (default: loglake-api-activity, ...)",
    )
    export.add_argument("--since", help="first day to export (YYYY-MM-DD)")
    export.add_argument("--until", help="last day to export (YYYY-MM-DD)")
    export.add_argument(
        "--target-database", default="aws", help="database of the ingested tables (default: aws)"
    )
    export.add_argument("--json", action="store_true", help="print the report as JSON")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace, lake: Any) -> int:
    from loglake.security_lake import export_security_lake, parse_sources

    report = export_security_lake(
        lake,
        args.destination,
        database=args.target_database,
        classes=args.classes,
        source_names=parse_sources(args.source),
        since=args.since,
        until=args.until,
        progress=None if args.json else lambda line: print(line, file=sys.stderr),
    )
    if args.json:
        print(
            json.dumps(
                {"destination": report.destination, "rows": report.rows, "files": report.files},
                indent=2,
            )
        )
    else:
        for source, rows in report.rows.items():
            print(f"{source}: {rows} rows")
        print(f"{len(report.files)} files under {report.destination}")
    return 0
