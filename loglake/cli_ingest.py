"""Commands of the ingest area: ingest, quarantine, coverage, optimize, vacuum, trail validate."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from loglake.cli_spark import add_engine_options
from loglake.errors import UserError
from loglake.ingest.sources import SOURCE_NAMES
from loglake.render import add_output_options, emit


def register(sub: argparse._SubParsersAction) -> None:
    ingest = sub.add_parser(
        "ingest",
        help="load AWS exports (CloudTrail, VPC flow logs, Config, CloudWatch Logs, Route 53 "
        "Resolver query logs) exactly once",
        description="Walk a folder or s3:// prefix, recognise AWS delivery layouts and load every "
        "new or changed object into the lake's tables. Exit code 1 if anything was quarantined.",
    )
    ingest.add_argument("url", help="a folder or s3://bucket/prefix holding AWSLogs/ or exports")
    ingest.add_argument(
        "--source",
        choices=SOURCE_NAMES,
        help="only this source (and read files outside AWS layouts as this source)",
    )
    ingest.add_argument("--since", help="skip delivery dates before this day (YYYY-MM-DD)")
    ingest.add_argument(
        "--target-database", default="aws", help="database of the tables (default: aws)"
    )
    ingest.add_argument("--workers", type=int, default=1, help="parser processes (default: 1)")
    ingest.add_argument(
        "--log-group", help="log group of CloudWatch Logs export chunks no prefix below names"
    )
    ingest.add_argument(
        "--log-group-prefix",
        action="append",
        metavar="PREFIX=GROUP",
        help="export chunks under PREFIX belong to log group GROUP (repeatable; kept in the catalog)",
    )
    ingest.add_argument(
        "--envelope",
        metavar="PATH",
        help="CloudTrail events sit under this key of each record (dotted path, e.g. detail or "
        "logEvents.message; kept in the catalog for this URL)",
    )
    ingest.add_argument(
        "--time-field",
        metavar="PATH",
        help="the event time is in this field instead of eventTime (e.g. @timestamp; kept in the "
        "catalog for this URL)",
    )
    ingest.add_argument(
        "--batch-objects",
        type=int,
        help="commit every N objects (default: gather batches into files of about 64 MB)",
    )
    ingest.add_argument(
        "--full-listing",
        action="store_true",
        help="list every folder in full instead of resuming after the keys already ingested",
    )
    ingest.add_argument(
        "--compact-files",
        type=int,
        help="afterwards, compact the partitions holding more files than this (0: never; "
        "default: the lake setting ingest_compact_files, 32)",
    )
    add_engine_options(
        ingest, "parse here (default) or on Spark executors, committing here (docs/scale-out.md)"
    )
    ingest.add_argument("--json", action="store_true", help="print the report as JSON")
    ingest.add_argument("--no-progress", action="store_true", help="no progress bar")
    ingest.set_defaults(handler=_ingest, creates_lake=True)

    quarantine = sub.add_parser("quarantine", help="inputs that could not be ingested")
    qsub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    qlist = qsub.add_parser("list", help="list quarantined objects and records")
    qlist.add_argument("--json", action="store_true", help="print whole entries as JSON lines")
    add_output_options(qlist, output=False)
    qlist.set_defaults(handler=_quarantine_list)
    retry = qsub.add_parser("retry", help="read quarantined objects again (after fixing them)")
    retry.add_argument("--target-database", default="aws")
    retry.add_argument("--log-group", help="log group of CloudWatch Logs export chunks")
    retry.set_defaults(handler=_quarantine_retry)
    clear = qsub.add_parser(
        "clear",
        help="forget quarantine entries (never touches the source objects)",
        description="Remove the quarantine entries that match every filter given, or all of them "
        "with --all. Only the entries go: the source objects stay where they are.",
    )
    clear.add_argument("--older-than", metavar="DURATION", help="quarantined longer ago (7d, 12h)")
    clear.add_argument("--reason", metavar="TEXT", help="entries whose reason contains TEXT")
    clear.add_argument(
        "--object", metavar="URL", help="entries of objects under this folder/prefix"
    )
    clear.add_argument("--all", action="store_true", help="every entry")
    clear.add_argument("--dry-run", action="store_true", help="list what would be cleared")
    add_output_options(clear, output=False)
    clear.set_defaults(handler=_quarantine_clear)

    cover = sub.add_parser("coverage", help="objects and rows per source, account, region and day")
    cover.add_argument("--source", choices=SOURCE_NAMES)
    add_output_options(cover, output=False)
    cover.set_defaults(handler=_coverage)

    optimize = sub.add_parser("optimize", help="merge small files of a table (~128 MB files)")
    optimize.add_argument("table", help="table name, e.g. cloudtrail or aws.cloudtrail")
    optimize.add_argument("--where", help="partition filter, e.g. \"day = '2024-05-10'\"")
    optimize.add_argument("--target-database", default="aws")
    optimize.set_defaults(handler=_optimize)

    vacuum = sub.add_parser("vacuum", help="delete data files no table version needs any more")
    vacuum.add_argument("table")
    vacuum.add_argument("--retention-hours", type=float, default=168)
    vacuum.add_argument("--dry-run", action="store_true")
    vacuum.add_argument("--target-database", default="aws")
    vacuum.set_defaults(handler=_vacuum)

    trail = sub.add_parser("trail", help="CloudTrail tools")
    tsub = trail.add_subparsers(dest="trail_command", metavar="ACTION", required=True)
    validate = tsub.add_parser(
        "validate", help="validate log files against their digest chain (validate-logs)"
    )
    validate.add_argument("url", help="folder or s3:// prefix holding AWSLogs/")
    validate.add_argument("--start", required=True, help="start time, e.g. 2024-05-10T00:00:00Z")
    validate.add_argument("--end", help="end time (default: now)")
    validate.add_argument(
        "--public-keys",
        required=True,
        action="append",
        help="PEM/DER public key(s) or the JSON of `aws cloudtrail list-public-keys` "
        "(repeat for the keys of several regions)",
    )
    validate.add_argument("--account-id", help="only this account (organization trails)")
    validate.add_argument("--trail-region", help="only digests delivered by this region")
    validate.add_argument("--trail-name", help="only this trail")
    validate.add_argument("--verbose", action="store_true", help="also list valid files")
    validate.set_defaults(handler=_validate, needs_lake=False)


def _ingest(args: argparse.Namespace, lake: Any) -> int:
    from loglake.ingest import ingest
    from loglake.ingest.log_groups import parse_mapping

    runner = None
    if args.engine == "spark":
        from loglake.scaleout.ingest import spark_batches
        from loglake.scaleout.session import spark_session

        runner = spark_batches(spark_session(args.spark_master))
    report = ingest(
        lake.catalog,
        args.url,
        source=args.source,
        since=args.since,
        database=args.target_database,
        workers=args.workers,
        progress=False if args.no_progress else None,
        log_group=args.log_group,
        log_groups=parse_mapping(args.log_group_prefix),
        batch_objects=args.batch_objects,
        full_listing=args.full_listing,
        batch_runner=runner,
        envelope=args.envelope,
        time_field=args.time_field,
        **({} if args.compact_files is None else {"compact_files": args.compact_files}),
    )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report)
    return 0 if report.ok else 1


def _quarantine_list(args: argparse.Namespace, lake: Any) -> int:
    import polars as pl

    from loglake.ingest.quarantine import Quarantine

    entries = Quarantine(lake.settings).entries()
    if args.json:
        for entry in entries:
            print(json.dumps(entry.to_json()))
        return 0
    rows = [(e.id, e.source_key, e.where(), e.error) for e in entries]
    emit(pl.DataFrame(rows, schema=["id", "object", "where", "reason"], orient="row"), args)
    return 0


def _quarantine_clear(args: argparse.Namespace, lake: Any) -> int:
    import datetime as dt

    import polars as pl

    from loglake.ingest.quarantine import Quarantine
    from loglake.ingest.record_mapping import normal_prefix
    from loglake.investigate.detections import parse_duration

    filters = (args.older_than, args.reason, args.object)
    if args.all == any(f is not None for f in filters):
        raise UserError(
            "say which entries to clear: --older-than, --reason and/or --object, or --all "
            "(not both); --dry-run lists them first"
        )
    quarantine = Quarantine(lake.settings)
    chosen = quarantine.select(
        older_than=None
        if args.older_than is None
        else dt.timedelta(seconds=parse_duration(args.older_than, "--older-than")),
        reason=args.reason,
        under=None if args.object is None else normal_prefix(args.object),
    )
    if chosen:
        rows = [(e.id, e.source_key, e.where(), e.error, e.quarantined_at) for e in chosen]
        columns = ["id", "object", "where", "reason", "quarantined_at"]
        emit(pl.DataFrame(rows, schema=columns, orient="row"), args)
    if not args.dry_run:
        quarantine.remove(chosen)
    verb = "would clear" if args.dry_run else "cleared"
    print(
        f"{verb} {len(chosen)} quarantine entr{'y' if len(chosen) == 1 else 'ies'}; "
        "the source objects are untouched",
        file=sys.stderr,
    )
    return 0


def _quarantine_retry(args: argparse.Namespace, lake: Any) -> int:
    from loglake.ingest.retry import retry_quarantine

    def said(number: int, count: int, url: str, report: Any) -> None:
        if report.objects_seen == 0:
            outcome = "gone from the source; its entries are kept"
        elif report.quarantine_ids:
            outcome = f"still fails: {len(report.quarantine_ids)} quarantine entries"
        else:
            outcome = f"ingested ({report.total_rows:,} rows)"
        print(f"[{number}/{count}] {url}: {outcome}", file=sys.stderr, flush=True)

    report = retry_quarantine(
        lake.catalog, database=args.target_database, log_group=args.log_group, on_object=said
    )
    print(report)
    return 0 if report.ok else 1


def _coverage(args: argparse.Namespace, lake: Any) -> int:
    from loglake.ingest.coverage import coverage

    report = coverage(lake.settings, source=args.source)
    emit(report.table, args)
    if report.gaps.height:
        print("\ngaps (hours without a delivery between hours with deliveries):")
        emit(report.gaps, args)
    return 0


def _optimize(args: argparse.Namespace, lake: Any) -> int:
    from loglake.ingest.compaction import optimize

    metrics = optimize(lake.catalog, args.table, where=args.where, database=args.target_database)
    added = metrics.get("numFilesAdded", 0)
    removed = metrics.get("numFilesRemoved", 0)
    print(f"optimize {args.table}: {removed} file(s) merged into {added}")
    return 0


def _vacuum(args: argparse.Namespace, lake: Any) -> int:
    from loglake.ingest.compaction import vacuum

    removed = vacuum(
        lake.catalog,
        args.table,
        retention_hours=args.retention_hours,
        dry_run=args.dry_run,
        database=args.target_database,
    )
    verb = "would remove" if args.dry_run else "removed"
    print(f"vacuum {args.table}: {verb} {len(removed)} file(s)")
    for path in removed if args.dry_run else []:
        print(f"  {path}")
    return 0


def _validate(args: argparse.Namespace, lake: Any) -> int:
    from loglake.cli import storage_settings
    from loglake.ingest.digest import load_public_keys, validate_trail

    settings = storage_settings(args, args.url)
    keys = {}
    for path in args.public_keys:
        try:
            keys.update(load_public_keys(path))
        except FileNotFoundError:
            raise UserError(f"public keys file {path} does not exist") from None
    report = validate_trail(
        settings,
        args.url,
        start=args.start,
        end=args.end,
        public_keys=keys,
        account=args.account_id,
        region=args.trail_region,
        trail=args.trail_name,
    )
    if args.lake or os.environ.get("LOGLAKE_LAKE"):
        # the outcome is evidence for compliance reports over the same period
        from loglake.cli import open_lake
        from loglake.reports.store import record_trail_validation, validation_record

        record_trail_validation(open_lake(args).catalog, validation_record(report, args.url))
    print(f"Validating log files between {args.start} and {args.end or 'now'}")
    text = report.summary(verbose=args.verbose)
    for line in text.splitlines():
        stream = sys.stderr if "\tINVALID" in line else sys.stdout
        print(line, file=stream)
    return 0 if report.ok else 1
