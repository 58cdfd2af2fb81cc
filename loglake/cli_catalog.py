"""Catalog commands: init, databases, tables, describe, crawl, catalog export."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from loglake.errors import CatalogError
from loglake.render import add_output_options, emit


def _init(args: argparse.Namespace, lake) -> int:
    from loglake.cli import storage_settings
    from loglake.lake import Lake

    lake = Lake(storage_settings(args, args.path), create=True)
    lake.catalog.initialise(args.databases or ["aws"])
    if args.allowed:
        known = lake.catalog.lake_settings().allowed_locations
        wanted = [item.strip() for text in args.allowed for item in text.split(",")]
        lake.catalog.update_lake_settings(
            allowed_locations=list(dict.fromkeys([*known, *filter(None, wanted)]))
        )
    print(
        f"lake ready at {lake.settings.root} (databases: {', '.join(lake.catalog.list_databases())})"
    )
    allowed = lake.catalog.lake_settings().allowed_locations
    if allowed:
        print(f"SQL may also read and write: {', '.join(allowed)}")
    return 0


def _databases(args: argparse.Namespace, lake) -> int:
    emit(pl.DataFrame({"database_name": lake.catalog.list_databases()}), args)
    return 0


def _tables(args: argparse.Namespace, lake) -> int:
    databases = [args.database_name] if args.database_name else lake.catalog.list_databases()
    rows = []
    damaged = []
    for database in databases:
        for name in lake.catalog.list_tables(database):
            try:
                table = lake.catalog.get_table(database, name)
            except CatalogError as error:  # one damaged document hides no other table
                damaged.append(str(error))
                rows.append((database, name, "damaged", "", ""))
                continue
            rows.append((database, name, "table", table.format, table.location))
        for name in lake.catalog.list_views(database):
            rows.append((database, name, "view", "", ""))
    emit(
        pl.DataFrame(rows, schema=["database", "name", "kind", "format", "location"], orient="row"),
        args,
    )
    for message in damaged:
        print(f"error: {message}", file=sys.stderr)
    return 1 if damaged else 0


def _describe(args: argparse.Namespace, lake) -> int:
    from loglake.catalog.model import check_name

    parts = [check_name(part, "table") for part in args.table.split(".")]
    if len(parts) > 2:
        from loglake.errors import UserError

        raise UserError(f"expected [database.]table, not {args.table!r}")
    # as a statement, so that a view stored without its columns gets them from its SQL
    frame = lake.sql(f"DESCRIBE FORMATTED {'.'.join(parts)}")
    emit(frame, args)
    return 0


def _crawl(args: argparse.Namespace, lake) -> int:
    from loglake.catalog.crawler import crawl

    database, _, name = args.table.rpartition(".")
    database = database or lake.database
    lake.catalog.get_database(database)
    table = crawl(lake.catalog, args.url, database, name, replace=args.replace)
    partitions = lake.catalog.partitions(table)
    print(
        f"registered {table.qualified_name}: {len(table.columns)} columns, "
        f"{len(table.partition_keys)} partition keys, {len(partitions)} partitions"
    )
    return 0


def _export(args: argparse.Namespace, lake) -> int:
    from loglake.catalog.export import export_catalog

    databases = [args.database_name] if args.database_name else lake.catalog.list_databases()
    tables = [
        lake.catalog.get_table(db, t) for db in databases for t in lake.catalog.list_tables(db)
    ]
    views = [lake.catalog.get_view(db, v) for db in databases for v in lake.catalog.list_views(db)]
    text = export_catalog(tables, views, args.format)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(text)
        print(
            f"wrote {len(tables)} tables and {len(views)} views to {args.output}", file=sys.stderr
        )
    else:
        sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="create a lake (the default database and aws)")
    init.add_argument("path", nargs="?", help="lake root to create (default: --lake)")
    init.add_argument(
        "--create-database",
        dest="databases",
        action="append",
        help="also create this database (repeatable; default: aws)",
    )
    init.add_argument(
        "--allow-location",
        dest="allowed",
        action="append",
        metavar="LOCATION",
        help="a folder or s3://bucket/prefix SQL may read and write besides the lake root, e.g. "
        "the raw exports external tables read (repeatable; the allowed_locations setting)",
    )
    init.set_defaults(handler=_init, creates_lake=True, needs_lake=False)

    databases = sub.add_parser("databases", help="list databases")
    add_output_options(databases, output=False)
    databases.set_defaults(handler=_databases)

    tables = sub.add_parser("tables", help="list tables and views")
    tables.add_argument("--in", dest="database_name", help="only this database")
    add_output_options(tables, output=False)
    tables.set_defaults(handler=_tables)

    describe = sub.add_parser("describe", help="columns, partition keys and storage of a table")
    describe.add_argument("table", help="[database.]table")
    add_output_options(describe, output=False)
    # a column's type is shown whole (a struct's type is as long as it is)
    describe.set_defaults(handler=_describe, wide=True)

    crawl = sub.add_parser(
        "crawl", help="infer a Parquet folder's schema and partitions and register it"
    )
    crawl.add_argument("url", help="folder or s3:// prefix holding the table's Parquet files")
    crawl.add_argument("--table", required=True, help="[database.]table to register")
    crawl.add_argument("--replace", action="store_true", help="replace an existing definition")
    crawl.set_defaults(handler=_crawl)

    catalog = sub.add_parser("catalog", help="catalog maintenance")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    export = catalog_sub.add_parser(
        "export", help="write table definitions for Glue, Athena/Hive or Spark"
    )
    export.add_argument("--format", choices=["glue", "hive", "spark"], required=True)
    export.add_argument("--in", dest="database_name", help="only this database")
    export.add_argument("--output", "-o", help="file to write (default: standard output)")
    export.set_defaults(handler=_export)
