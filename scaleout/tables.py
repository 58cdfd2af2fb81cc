"""Every catalog table and view as a temporary view of a SparkSession.

A managed (Delta) table is read from the files of its current snapshot, as the catalog lists them,
so Spark needs no Delta jars and never sees files a compaction has replaced. An external Parquet
table is read from the files its partitions (listed, added or projected) hold. Files in Hive-style
folders (``key=value``) are read in one scan whose partition columns come from the paths; other
layouts (projection templates) are read per partition with the values as literals. Partition
values are read as text and cast to the catalog's types. A view is translated to Spark SQL and
registered after the relations it reads. JSON and delimited text tables are read on the executors
by loglake's own SerDe readers (keys matched without case, ``mapping.*``, CloudTrail's
``Records``, ragged lines), so Spark gives the rows loglake gives. What Spark cannot read (views
that use functions Spark lacks) is listed in the result with the reason, not silently dropped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from loglake.catalog.model import TableDefinition
from loglake.errors import LoglakeError
from loglake.scaleout.naming import spark_name

#: table formats Spark reads here (the text ones with loglake's own SerDe readers)
READABLE = ("delta", "parquet", "json", "csv", "text")
TEXT_FORMATS = ("json", "csv", "text")


@dataclass
class Registration:
    """What :func:`register` made visible in the session, and what it left out and why."""

    views: dict[str, str] = field(default_factory=dict)  # Spark view name -> catalog name
    skipped: dict[str, str] = field(default_factory=dict)  # catalog name -> reason

    def __str__(self) -> str:
        lines = [f"{len(self.views)} Spark views"]
        lines += [f"  skipped {name}: {reason}" for name, reason in sorted(self.skipped.items())]
        return "\n".join(lines)


def register(lake: Any, session: Any, current_database: str | None = None) -> Registration:
    """Register the lake's tables and views in ``session``: ``db__name`` for every relation, and
    the bare name for those an unqualified name finds along the search path."""
    catalog = lake.catalog
    current = current_database or lake.database
    done = Registration()
    views: list[tuple[str, str]] = []
    for database in catalog.list_databases():
        for name in catalog.list_tables(database):
            table = catalog.get_table(database, name)
            if table.format not in READABLE:
                done.skipped[table.qualified_name] = (
                    f"{table.format} tables are read by loglake only "
                    f"(Spark reads {', '.join(READABLE)})"
                )
                continue
            try:
                frame = table_frame(session, catalog, table)
            except LoglakeError as err:
                done.skipped[table.qualified_name] = str(err)
                continue
            _name(done, frame, spark_name(database, name), table.qualified_name)
        views += [(database, name) for name in catalog.list_views(database)]
    _register_views(lake, session, views, done)
    for database, name in catalog.visible_relations(current):
        qualified = spark_name(database, name)
        if qualified in done.views:
            _name(done, session.table(qualified), name, f"{database}.{name}")
    return done


def _name(done: Registration, frame: Any, view: str, catalog_name: str) -> None:
    owner = done.views.get(view)
    if owner is not None and owner != catalog_name:
        raise LoglakeError(f"{catalog_name} and {owner} would both be Spark view {view}")
    frame.createOrReplaceTempView(view)
    done.views[view] = catalog_name


def _register_views(
    lake: Any, session: Any, pending: list[tuple[str, str]], done: Registration
) -> None:
    """Views in passes: one that reads another view waits until that one is registered."""
    from loglake.errors import SqlError
    from loglake.query.engine import Engine
    from loglake.scaleout.translate import to_spark_sql

    errors: dict[str, str] = {}
    while pending:
        waiting = []
        for database, name in pending:
            view = lake.catalog.get_view(database, name)
            engine = Engine(catalog=lake.catalog, default_database=database, record_history=False)
            try:
                text = to_spark_sql(
                    engine, view.sql, function_exists=session.catalog.functionExists
                )
                frame = session.sql(text)
            except SqlError as err:
                errors[view.qualified_name] = str(err).splitlines()[0]
                continue
            except Exception as err:  # a view over a relation not registered yet
                errors[view.qualified_name] = str(err).splitlines()[0]
                waiting.append((database, name))
                continue
            errors.pop(view.qualified_name, None)
            _name(done, frame, spark_name(database, name), view.qualified_name)
        if len(waiting) == len(pending):
            break
        pending = waiting
    done.skipped.update(errors)


def table_frame(session: Any, catalog: Any, table: TableDefinition) -> Any:
    """A Spark DataFrame of one Delta or Parquet table, with the catalog's columns and types."""
    from pyspark.sql import functions as F

    files = catalog.files(table)
    data = ", ".join(f"`{c.name}` {c.type}" for c in table.columns)
    keys = table.partition_keys
    if files and table.format in TEXT_FORMATS:
        frame = _text_files(session, catalog.settings, table, files)
    elif not files:
        every = ", ".join(f"`{c.name}` {c.type}" for c in (*table.columns, *keys))
        return session.createDataFrame([], schema=every)
    elif not keys:
        frame = session.read.schema(data).parquet(*[f.path for f in files])
    elif all(_hive_style(f.path, f.partition, keys) for f in files):
        base = table.location.rstrip("/")
        frame = session.read.schema(data).option("basePath", base).parquet(*[f.path for f in files])
    else:
        reader = session.read.schema(data)
        by_partition: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for f in files:
            by_partition[tuple(str(f.partition.get(k.name)) for k in keys)].append(f.path)
        frame = None
        for values, paths in by_partition.items():
            part = reader.parquet(*paths).select(
                *[F.col(f"`{c.name}`") for c in table.columns],
                *[F.lit(v).alias(k.name) for k, v in zip(keys, values, strict=True)],
            )
            frame = part if frame is None else frame.unionByName(part)
    columns = [F.col(f"`{c.name}`") for c in table.columns]
    columns += [F.col(f"`{k.name}`").cast(k.type).alias(k.name) for k in keys]
    return frame.select(*columns)


def _hive_style(path: str, partition: dict[str, Any], keys: tuple[Any, ...]) -> bool:
    segments = path.split("/")
    return all(
        f"{k.name}={quote(str(partition.get(k.name)), safe='')}" in segments
        or f"{k.name}={partition.get(k.name)}" in segments
        for k in keys
    )


def _text_files(session: Any, settings: Any, table: TableDefinition, files: list[Any]) -> Any:
    """A JSON or text table's files read on the executors by loglake's SerDe readers: one row
    per file (its path and partition values as text) goes out, its rows come back as Arrow."""
    keys = [k.name for k in table.partition_keys]
    listed = [(f.path, *[_text(f.partition.get(k)) for k in keys]) for f in files]
    inputs = ", ".join(["`$path` string", *[f"`{k}` string" for k in keys]])
    data = ", ".join(f"`{c.name}` {c.type}" for c in table.columns)
    output = ", ".join([data, *[f"`{k}` string" for k in keys]])
    tasks = min(len(listed), 4 * session.sparkContext.defaultParallelism)
    files_frame = session.createDataFrame(listed, inputs).repartition(tasks)
    return files_frame.mapInArrow(_reader(settings, table, keys), output)


def _reader(settings: Any, table: TableDefinition, keys: list[str]) -> Any:
    """The executor side of :func:`_text_files` (a closure Spark pickles with its inputs)."""

    def read(batches: Any) -> Any:
        # runs in Spark's Python worker, not inside a Polars callback: collecting here is safe
        import polars as pl
        import pyarrow as pa

        from loglake.catalog import Catalog
        from loglake.query.catalog_tables import CatalogTables
        from loglake.query.statements import arrow_table
        from loglake.query.types import polars_schema_from_arrow

        reader = CatalogTables(Catalog(settings))
        schema = polars_schema_from_arrow(pa.schema([c.arrow_field() for c in table.columns]))
        for batch in batches:
            groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
            for row in batch.to_pylist():
                groups[tuple(row[k] for k in keys)].append(row["$path"])
            for values, paths in groups.items():
                frame = reader.scan_text(table, paths, schema, with_path=False).collect()
                frame = frame.with_columns(
                    pl.lit(v, pl.String).alias(k) for k, v in zip(keys, values, strict=True)
                )
                # plain strings and lists: Spark's Arrow reader does not take the large forms
                yield from arrow_table(frame).to_batches()

    return read


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
