"""Tables from the catalog: managed Delta tables and external Parquet / JSON-lines / CSV tables.

Before anything is read, the query's simple predicates prune the file list: predicates on
partition columns choose the partitions (the catalog enumerates projected or registered
partitions from them), and predicates on columns with per-file min/max statistics (Delta's add
actions) skip whole files. Polars then pushes projections and the remaining predicates into the
scan of the files that are left.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars.datatypes import DataTypeClass

from loglake.catalog import DEFAULT_DATABASE, DataFile, PartitionConstraint, TableDefinition
from loglake.catalog.json_serde import JsonLayout, read_json_files
from loglake.catalog.managed import ManagedTable
from loglake.catalog.paths import LocationPolicy
from loglake.catalog.types import to_arrow
from loglake.errors import CatalogError
from loglake.query import types as T
from loglake.query.tables import Predicate, Scan

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: most Parquet footers read to bound a column's values, and footers sampled for its NULLs
_MAX_FOOTERS = 1000
_SAMPLED_FOOTERS = 64
#: footers read at once when looking at the names of an external table's files
_FOOTER_READERS = 8


@dataclass(frozen=True)
class TableRead:
    """One table a statement read: which definition, and the files it listed (path and size)."""

    database: str | None
    name: str
    table_version: int
    constraints: dict[str, PartitionConstraint] | None
    signature: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class StatementReads:
    """What one statement's plan was built from: the catalog as of a generation, and files."""

    generation: str | None
    tables: tuple[TableRead, ...]


def _signature(files: list[DataFile]) -> tuple[tuple[str, int], ...]:
    return tuple((f.path, f.size) for f in files)


class CatalogTables:
    """The TableProvider over a :class:`loglake.catalog.Catalog`.

    Definitions and their converted schemas are kept from one statement to the next for as long
    as the catalog's generation token stays the same (any change by any process replaces it);
    managed tables' file lists are kept per Delta version; external
    tables' folders are listed again for every statement, as Athena does, since files can
    appear in them without the catalog knowing.
    """

    def __init__(self, catalog: Any, default_database: str = DEFAULT_DATABASE):
        self.catalog = catalog
        self.default_database = default_database
        self._generation: str | None = None
        # kept while the generation holds
        self._relations: dict[tuple[str, str | None, str], Any] = {}
        self._schemas: dict[tuple[str, int], pl.Schema] = {}
        self._view_schemas: dict[tuple[str | None, str], pl.Schema] = {}
        # managed tables by location: each reads only the commits made since it last looked
        # (a dropped and re-created table starts a new log, hence kept per generation too)
        self._managed: dict[str, ManagedTable] = {}
        # column bounds from local Parquet footers, by file identity (path, size, mtime)
        self._footers: dict[tuple[str, int, int], FooterStatistics] = {}
        # names of external tables' Parquet files, by (path, size)
        self._names_in_files: dict[tuple[str, int], frozenset[str]] = {}
        # kept for one statement
        self._listings: dict[tuple[Any, ...], list[DataFile]] = {}
        self._frames: dict[tuple[Any, ...], pl.LazyFrame] = {}
        self._reads: list[TableRead] = []
        self._policy: LocationPolicy | None = None
        # set by the engine: the output schema of a view's SQL (for views stored without columns)
        self.view_schema: Callable[[str], pl.Schema] | None = None
        # set by the engine while it builds a plan only to show it (EXPLAIN): files that would
        # be read whole to build the plan (JSON SerDe tables) are not read
        self.plan_only = False

    def reset(self) -> None:
        """Start a statement (the engine calls this first): forget what another process may have
        changed since the last one."""
        generation = self.catalog.generation()
        if generation != self._generation:
            self._generation = generation
            self._relations.clear()
            self._schemas.clear()
            self._view_schemas.clear()
            self._managed.clear()
        self._listings.clear()
        self._frames.clear()
        self._reads = []
        self._policy = None

    # ------------------------------------------------------------------ what a statement read

    def reads(self) -> StatementReads:
        """What the current statement's plan was built from (for the plan cache)."""
        return StatementReads(self._generation, tuple(self._reads))

    def unchanged(self, reads: StatementReads) -> bool:
        """Whether a plan built from ``reads`` would read the same definitions and files now
        (asked after :meth:`reset`)."""
        if reads.generation != self._generation:
            return False
        for read in reads.tables:
            try:
                table = self._relation(read.database, read.name)
            except CatalogError:
                return False
            if not isinstance(table, TableDefinition) or table.version != read.table_version:
                return False
            if _signature(self._files(table, read.constraints)) != read.signature:
                return False
        return True

    # ------------------------------------------------------------------ definitions

    def _relation(self, database: str | None, name: str) -> Any:
        # a statement asks several times per table (qualify, views, scan): read it once
        key = (self.default_database, database, name)
        if key not in self._relations:
            self._relations[key] = self.catalog.find_relation(
                name, database, current_database=self.default_database
            )
        return self._relations[key]

    def _table_schema(self, table: TableDefinition) -> pl.Schema:
        key = (table.qualified_name, table.version)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = T.polars_schema_from_arrow(table.arrow_schema())
        return schema

    def elsewhere(self, database: str, name: str, column: str) -> list[str]:
        """Other databases' tables or views of the same name that have ``column`` (``athena``'s
        guide views carry the guides' columns, such as the VPC table's ``date``), as db.name."""
        found = []
        for other in self.catalog.list_databases():
            if other == database or not (
                self.catalog.table_exists(other, name) or self.catalog.view_exists(other, name)
            ):
                continue
            try:
                columns = self.schema(other, name)
            except Exception:  # a damaged definition elsewhere is no hint
                continue
            if any(c.lower() == column.lower() for c in columns):
                found.append(f"{other}.{name}")
        return found

    def resolve(self, database: str | None, name: str) -> tuple[str, str]:
        """The database a table name refers to, along the catalog's search path (read once per
        statement, as every other definition)."""
        relation = self._relation(database, name)
        return relation.database, relation.name

    def schema(self, database: str | None, name: str) -> pl.Schema:
        relation = self._relation(database, name)
        if isinstance(relation, TableDefinition):
            return self._table_schema(relation)
        if not relation.columns and self.view_schema is not None:
            return self._derived_view_schema(database, name, relation.sql)
        import pyarrow as pa

        fields = [pa.field(c.name, to_arrow(c.type)) for c in relation.columns]
        return T.polars_schema_from_arrow(pa.schema(fields))

    def _derived_view_schema(self, database: str | None, name: str, sql: str) -> pl.Schema:
        """A view stored without its columns (created through the catalog API) gets them by
        compiling its SQL, once per catalog generation."""
        key = (database, name)
        if key not in self._view_schemas:
            if self.view_schema is None:
                raise CatalogError(f"view {name} has no column list")
            self._view_schemas[key] = pl.Schema()  # a view that reads itself finds no columns
            try:
                self._view_schemas[key] = self.view_schema(sql)
            except Exception:
                del self._view_schemas[key]
                raise
        return self._view_schemas[key]

    def view_sql(self, database: str | None, name: str) -> str | None:
        try:
            relation = self._relation(database, name)
        except CatalogError:
            return None
        return None if isinstance(relation, TableDefinition) else relation.sql

    # ------------------------------------------------------------------ scans

    def scan(
        self,
        database: str | None,
        name: str,
        predicates: list[Predicate],
        pseudo_columns: set[str],
    ) -> Scan:
        table = self._relation(database, name)
        if not isinstance(table, TableDefinition):
            raise CatalogError(f"{name} is a view, not a table")
        schema = self._table_schema(table)
        keys = [c.name for c in table.partition_keys]
        # a managed table's file list is in its Delta log anyway: prune it here so that the
        # skipped files are counted; other tables list only the partitions the predicates admit
        constraints = None if table.is_managed else partition_constraints(predicates, set(keys))
        files = self._files(table, constraints or None)
        self._reads.append(
            TableRead(database, name, table.version, constraints or None, _signature(files))
        )
        kept, skipped = self._prune(table, files, predicates, keys, schema)
        lf = self._read(table, kept, schema, keys, pseudo_columns)
        return Scan(
            lf,
            files_kept=[f.path for f in kept],
            files_skipped=[f.path for f in skipped],
            bytes_scanned=sum(f.size for f in kept),
            bounds=lambda column: self._bounds(table, kept, keys, column),
            null_fraction=lambda column: self._null_fraction(table, kept, keys, column),
            null_free=lambda column: self._null_free(table, kept, keys, column),
        )

    def _bounds(
        self, table: TableDefinition, files: list[DataFile], keys: list[str], column: str
    ) -> tuple[decimal.Decimal, decimal.Decimal] | None:
        """(min, max) of a data column over ``files`` from their statistics (Delta's add
        actions, Parquet footers of local files); None unless every file that holds a value
        of it has them."""
        if column in keys or table.format not in ("delta", "parquet"):
            return None
        if table.format == "parquet" and len(files) > _MAX_FOOTERS:
            return None  # planning would read more footers than a query saves
        low: decimal.Decimal | None = None
        high: decimal.Decimal | None = None
        for f in files:
            if table.format == "delta":
                found = _delta_bounds(f, column)
            else:
                found = self._footer_bounds(f, column)
            if found is None:
                return None
            if found == ():
                continue  # no value in this file
            low = found[0] if low is None else min(low, found[0])
            high = found[1] if high is None else max(high, found[1])
        if low is None or high is None:
            return None
        return low, high

    def _footer_bounds(self, data_file: DataFile, column: str) -> tuple[Any, ...] | None:
        """(min, max) of a column in a local Parquet file's footer, () when it holds no value
        there, None when a row group lacks statistics."""
        footer = self._footer(data_file)
        return None if footer is None else footer.bounds.get(column.lower())

    def _footer(self, data_file: DataFile) -> FooterStatistics | None:
        """A local Parquet file's column statistics, kept by file identity (path, size, mtime)."""
        path = data_file.path.removeprefix("file://")
        if "://" in path:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        key = (path, stat.st_size, stat.st_mtime_ns)
        footer = self._footers.get(key)
        if footer is None:
            footer = self._footers[key] = _footer_statistics(path)
        return footer

    def _footer_nulls(self, data_file: DataFile, column: str) -> tuple[int, int] | None:
        """(NULL count, value count) of a column in a local Parquet file's footer, if it says."""
        footer = self._footer(data_file)
        return None if footer is None else footer.nulls.get(column.lower())

    def _null_fraction(
        self, table: TableDefinition, files: list[DataFile], keys: list[str], column: str
    ) -> float | None:
        """The share of NULLs in a data column over ``files``, from their Parquet footers (Delta
        tables' files too; up to about 64 of them, evenly spread); None unless each says."""
        if column in keys or table.format not in ("delta", "parquet") or not files:
            return None
        nulls = values = 0
        # a choice of reading method, not an answer, rests on it: a sample of the footers does
        for f in files[:: max(1, len(files) // _SAMPLED_FOOTERS)]:
            counted = self._footer_nulls(f, column)
            if counted is None:
                return None
            nulls, values = nulls + counted[0], values + counted[1]
        return nulls / values if values else None

    def _null_free(
        self, table: TableDefinition, files: list[DataFile], keys: list[str], column: str
    ) -> bool:
        """Whether every file of ``files`` says it holds no NULL of a data column (Delta's add
        actions, else the Parquet footers of local files): unlike the sampled share, an answer
        a result rests on, so every file must say so, and a file without the column (read as
        NULLs) says nothing."""
        if column in keys or table.format not in ("delta", "parquet"):
            return False
        if len(files) > _MAX_FOOTERS:
            return False  # planning would read more footers than a query saves
        for f in files:
            nulls = _stat(f.null_counts or {}, column) if table.format == "delta" else None
            if nulls is None:
                counted = self._footer_nulls(f, column)
                nulls = None if counted is None else counted[0]
            if nulls != 0:
                return False
        return True

    def _prune(
        self,
        table: TableDefinition,
        files: list[DataFile],
        predicates: list[Predicate],
        keys: list[str],
        schema: pl.Schema,
    ) -> tuple[list[DataFile], list[DataFile]]:
        """(files that may hold matching rows, files skipped); a subclass that knows more about
        the files (an index of their values) may skip more."""
        kept: list[DataFile] = []
        skipped: list[DataFile] = []
        for f in files:
            (kept if file_may_match(f, predicates, keys, schema) else skipped).append(f)
        return kept, skipped

    def _files(
        self, table: TableDefinition, constraints: dict[str, PartitionConstraint] | None
    ) -> list[DataFile]:
        """The table's files, listed once per statement for each set of partition constraints."""
        key = (
            table.qualified_name,
            table.version,
            tuple(sorted(constraints.items())) if constraints else (),
        )
        files = self._listings.get(key)
        if files is None:
            if table.is_managed:
                managed = self._managed.get(table.location)
                if managed is None:
                    managed = self._managed[table.location] = ManagedTable(
                        self.catalog.settings, table.location
                    )
                files = managed.files()  # read again only when its Delta version moved on
            else:
                if self._policy is None:  # the lake settings, read once per statement
                    self._policy = self.catalog.location_policy()
                files = self.catalog.files(table, constraints, policy=self._policy)
            self._listings[key] = files
        return files

    # ------------------------------------------------------------------ reading files

    def _read(
        self,
        table: TableDefinition,
        files: list[DataFile],
        schema: pl.Schema,
        keys: list[str],
        pseudo: set[str],
    ) -> pl.LazyFrame:
        """The rows of some files of a table, one LazyFrame per file set within a statement.

        Every reference to the same table and file set gets the same frame, so Polars sees the
        repeated sub-plans (a self-join, a correlated subquery over the table) as one and reads
        the files once.
        """
        key = (
            table.qualified_name,
            table.version,
            tuple(f.path for f in files),
            frozenset(pseudo),
        )
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = self._build_frame(table, files, schema, keys, pseudo)
        return frame

    def _build_frame(
        self,
        table: TableDefinition,
        files: list[DataFile],
        schema: pl.Schema,
        keys: list[str],
        pseudo: set[str],
    ) -> pl.LazyFrame:
        wanted: dict[str, pl.DataType | DataTypeClass] = dict(schema)
        for p in pseudo:
            wanted[p] = pl.String if p == "$path" else pl.Int64
        if not files:
            return pl.LazyFrame(schema=wanted)
        data_schema = pl.Schema({c: t for c, t in schema.items() if c not in keys})
        with_path = bool(pseudo)  # $file_size is looked up by path
        if table.format in ("delta", "parquet"):
            hive_schema = {k: schema[k] for k in keys}
            if not keys or _hive_layout(files, hive_schema):
                # one scan: Polars reads the partition values from the key=value folders
                lf = self._parquet_runs(table, files, data_schema, with_path, {}, hive_schema)
                return _in_order(self._with_pseudo(lf, files, pseudo), list(wanted))
        groups = _partition_groups(files, keys)
        frames = []
        # the first footer of each spelling decides the file types; later groups' scans of
        # that spelling are told them, so that planning does not read a footer per partition
        file_schemas: dict[frozenset[str], pl.Schema] = {}
        for values, group in groups.items():
            if table.format in ("delta", "parquet"):
                lf = self._parquet_runs(table, group, data_schema, with_path, file_schemas)
            else:
                lf = self.scan_text(table, [f.path for f in group], data_schema, with_path)
            lf = lf.with_columns(
                pl.lit(_partition_value(v, schema[k]), schema[k]).alias(k)
                for k, v in zip(keys, values, strict=True)
            )
            frames.append(_in_order(self._with_pseudo(lf, group, pseudo), list(wanted)))
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")

    @staticmethod
    def _with_pseudo(lf: pl.LazyFrame, files: list[DataFile], pseudo: set[str]) -> pl.LazyFrame:
        if "$file_size" not in pseudo:
            return lf
        sizes = {f.path: f.size for f in files}
        return lf.with_columns(
            pl.col("$path")
            .replace_strict(sizes, default=None, return_dtype=pl.Int64)
            .alias("$file_size")
        )

    def _parquet_runs(
        self,
        table: TableDefinition,
        files: list[DataFile],
        schema: pl.Schema,
        with_path: bool,
        file_schemas: dict[frozenset[str], pl.Schema],
        hive_schema: dict[str, pl.DataType] | None = None,
    ) -> pl.LazyFrame:
        """Parquet files as the table's columns, one scan per run of consecutive files that
        spell the table's names alike (in the files' order).

        A scan matches the names of every file (columns and struct fields) exactly as its first
        file spells them, so a later file that spells one in another case would read as NULLs
        there; Hive matches them regardless of case. Only external tables' files are looked
        at: a Delta table's files carry the names of its log. ``file_schemas`` keeps the types
        read per spelling, for the scans of later partitions.
        """
        runs: list[tuple[frozenset[str], list[str]]] = []
        for f, spelling in zip(files, self._spellings(table, files, schema), strict=True):
            if runs and runs[-1][0] == spelling:
                runs[-1][1].append(f.path)
            else:
                runs.append((spelling, [f.path]))
        frames = []
        for spelling, paths in runs:
            lf, file_schemas[spelling] = self._parquet_frame(
                paths, schema, with_path, file_schemas.get(spelling), hive_schema
            )
            frames.append(lf)
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")

    def _spellings(
        self, table: TableDefinition, files: list[DataFile], schema: pl.Schema
    ) -> list[frozenset[str]]:
        """Per file, the names (dotted paths into structs) it spells otherwise than the table
        does. A file's names are kept by path and size, as plans are (see ``unchanged``); the
        footers not seen yet are read a few at a time."""
        if table.format != "parquet":
            return [frozenset()] * len(files)
        settings = self.catalog.settings
        fs = settings.filesystem()

        def names(path: str) -> frozenset[str]:
            try:
                with fs.open(settings.fs_path(path), "rb") as handle:
                    found = T.polars_schema_from_arrow(pq.read_schema(handle))
            except (OSError, pa.ArrowException, pl.exceptions.PolarsError):
                return frozenset()  # the scan reports what is wrong with the file
            return frozenset(_name_paths(found))

        unseen = list({(f.path, f.size) for f in files} - self._names_in_files.keys())
        if unseen:
            with ThreadPoolExecutor(_FOOTER_READERS) as pool:
                found = pool.map(names, [path for path, _ in unseen])
                self._names_in_files.update(zip(unseen, found, strict=True))
        spelled = _name_paths(schema)
        lower = {name.lower() for name in spelled}
        return [
            frozenset(
                n
                for n in self._names_in_files[(f.path, f.size)]
                if n not in spelled and n.lower() in lower
            )
            for f in files
        ]

    def _parquet_frame(
        self,
        paths: list[str],
        schema: pl.Schema,
        with_path: bool,
        file_schema: pl.Schema | None,
        hive_schema: dict[str, pl.DataType] | None = None,
    ) -> tuple[pl.LazyFrame, pl.Schema]:
        """Parquet files as the table's columns, and the schema the scan read them with.

        Without ``file_schema`` the scan is not told a schema: Polars then reads the first
        file's footer when planning (row counts and column statistics, which it needs to order
        joins and pick build sides) and keeps it for the run. When that file has the table's
        columns and types (the usual case), the scan stays as it is; later files may still hold
        narrower numbers, coarser timestamps, fewer columns or struct fields, or more.

        When the first file differs (an evolved or foreign table), the scan is told the types to
        read every file into: the catalog's where Polars can widen each file's values into it,
        the file's own otherwise (those columns are cast afterwards), and the catalog's for
        columns the first file lacks, so that later files' values of them are not lost.
        """
        options = dict(
            hive_partitioning=hive_schema is not None,
            hive_schema=hive_schema,
            include_file_paths="$path" if with_path else None,
            storage_options=self.catalog.settings.polars_storage_options(),
            missing_columns="insert",
            extra_columns="ignore",
            cast_options=_FILE_CASTS,
        )
        passed = [*(hive_schema or {}), *(["$path"] if with_path else [])]
        if file_schema is None:
            lf = pl.scan_parquet(paths, **options)
            found = lf.collect_schema()
            names = _file_names(schema, found)
            present = {c: n for c, n in names.items() if n is not None}
            if len(present) == len(names) and all(
                found[n] == schema[c] for c, n in present.items()
            ):
                file_schema = pl.Schema({n: found[n] for n in present.values()})
                if list(found) == [*schema, *passed]:
                    return lf, file_schema  # already the table's columns: the scan stays bare
                return lf.select(_conformed(schema, present, file_schema, passed)), file_schema
            file_schema = pl.Schema(
                {
                    n or c: schema[c] if n is None or _widens(found[n], schema[c]) else found[n]
                    for c, n in names.items()
                }
            )
        lf = pl.scan_parquet(paths, schema=file_schema, **options)
        in_file = {c: n or c for c, n in _file_names(schema, file_schema).items()}
        return lf.select(_conformed(schema, in_file, file_schema, passed)), file_schema

    def scan_text(
        self, table: TableDefinition, paths: list[str], schema: pl.Schema, with_path: bool
    ) -> pl.LazyFrame:
        """JSON and delimited text files as Athena's SerDes read them (also what Spark's
        executors run for such tables: see ``loglake.scaleout.tables``)."""
        options = self.catalog.settings.polars_storage_options()
        include = "$path" if with_path else None
        fmt = table.format
        if fmt == "json":
            return self._json_frame(table, paths, schema, include)
        if fmt in ("csv", "text"):
            serde = table.serde or {}
            params = serde.get("parameters", serde) if isinstance(serde, dict) else {}
            separator = params.get("field.delim") or params.get("separatorChar") or ","
            header = int(table.properties.get("skip.header.line.count", "0") or 0)
            raw = pl.scan_csv(
                paths,
                separator=separator,
                has_header=False,
                skip_rows=header,
                schema={c: pl.String for c in schema},
                include_file_paths=include,
                storage_options=options,
                quote_char=params.get("quoteChar", '"'),
                # Hive's text SerDes: fields missing at the end of a line are null, extra
                # fields are ignored (flow logs of fewer fields than the table declares)
                missing_columns="insert",
                truncate_ragged_lines=True,
            )
            return raw.with_columns(
                [pl.col(c).cast(t, strict=False) for c, t in schema.items() if t != pl.String]
            )
        raise CatalogError(f"cannot read tables stored as {fmt}")

    def _json_frame(
        self, table: TableDefinition, paths: list[str], schema: pl.Schema, include: str | None
    ) -> pl.LazyFrame:
        """JSON files read as Athena's SerDes read them (keys matched without regard to case,
        ``mapping.*`` properties, CloudTrail's ``Records``): see ``catalog.json_serde``.

        The files are read when the plan is built (after partition pruning), once per
        statement and file set (see :meth:`_read`); a plan built only to be shown (EXPLAIN)
        reads none and scans an empty frame of the table's columns in their place."""
        if self.plan_only:
            return pl.LazyFrame(schema={**schema, **({include: pl.String} if include else {})})
        settings = self.catalog.settings
        fs = settings.filesystem()
        try:
            contents = fs.cat([settings.fs_path(p) for p in paths])
        except (OSError, ValueError) as error:
            raise CatalogError(
                f"cannot read the files of {table.qualified_name}: {error}"
            ) from None
        by_url = dict(zip(paths, (contents[settings.fs_path(p)] for p in paths), strict=True))
        arrow = pa.schema([c.arrow_field() for c in table.columns])
        rows = read_json_files(by_url, arrow, JsonLayout.of(table.serde or {}), include)
        # a Table gives a DataFrame: from_arrow has no overload that says so
        return pl.from_arrow(rows).lazy().cast(schema)  # type: ignore[union-attr]


#: how files that differ from the first one of a scan are read into its types
_FILE_CASTS = pl.ScanCastOptions(
    integer_cast="upcast",
    float_cast="upcast",
    datetime_cast=["nanosecond-downcast", "upcast", "convert-timezone"],
    missing_struct_fields="insert",
    extra_struct_fields="ignore",
    categorical_to_string="allow",
)
_INTEGER_TEXT = re.compile(r"-?\d+")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def _file_names(schema: pl.Schema, found: pl.Schema) -> dict[str, str | None]:
    """The file's name of each table column (Hive matches names case-insensitively), or None."""
    lower: dict[str, str] = {}
    for name in found:
        lower.setdefault(name.lower(), name)
    return {c: c if c in found else lower.get(c.lower()) for c in schema}


def _name_paths(schema: pl.Schema) -> set[str]:
    """The names of a schema's columns and, as dotted paths, of their struct fields (in lists
    too)."""

    def walk(prefix: str, dtype: pl.DataType | DataTypeClass) -> Iterator[str]:
        while isinstance(dtype, pl.List | pl.Array):
            dtype = dtype.inner
        if isinstance(dtype, pl.Struct):
            for field in dtype.fields:
                yield f"{prefix}.{field.name}"
                yield from walk(f"{prefix}.{field.name}", field.dtype)

    return {path for name, dtype in schema.items() for path in (name, *walk(name, dtype))}


def _in_order(lf: pl.LazyFrame, columns: list[str]) -> pl.LazyFrame:
    """``columns`` of a frame in that order, with no step added when it already has just them.

    A scan with nothing above it is what Polars reads best when a statement reads the table
    twice: each reader gets a scan of its own with its own filters (see compiler/sharing.py),
    where even a select that changes nothing makes Polars hold the rows for the slower reader.
    """
    if lf.collect_schema().names() == columns:
        return lf
    return lf.select(columns)


def _conformed(
    schema: pl.Schema, names: dict[str, str], found: pl.Schema, passed: list[str]
) -> list[pl.Expr]:
    """The table's columns from the file's: renamed where the case differs, cast where the type
    does; ``passed`` columns (partition values, the file path) are kept as they are."""
    exprs = [
        _conform(pl.col(names[c]), found[names[c]], dtype).alias(c) for c, dtype in schema.items()
    ]
    return [*exprs, *(pl.col(c) for c in passed)]


def _widens(have: pl.DataType | DataTypeClass, want: pl.DataType | DataTypeClass) -> bool:
    """Whether a scan told ``want`` reads a file's ``have`` values losslessly (see _FILE_CASTS)."""
    if have == want:
        return True
    if have.is_integer() and want.is_integer():
        if have.is_signed_integer() and want.is_unsigned_integer():
            return False
        if have.is_unsigned_integer() and want.is_signed_integer():
            return _bits(want) > _bits(have)
        return _bits(want) >= _bits(have)
    if have.is_float() and want.is_float():
        return _bits(have) <= _bits(want)
    if isinstance(have, pl.Datetime) and isinstance(want, pl.Datetime):
        return True
    if isinstance(have, pl.Decimal) and isinstance(want, pl.Decimal):
        return have.scale == want.scale and (have.precision or 38) <= (want.precision or 38)
    if isinstance(have, pl.Struct) and isinstance(want, pl.Struct):
        fields = {f.name: f.dtype for f in have.fields}
        lower = {name.lower() for name in fields}
        return all(
            _widens(fields[f.name], f.dtype) if f.name in fields else f.name.lower() not in lower
            for f in want.fields
        )
    if isinstance(have, pl.List) and isinstance(want, pl.List):
        return _widens(have.inner, want.inner)
    return False


def _bits(dtype: pl.DataType | DataTypeClass) -> int:
    return int(re.sub(r"\D", "", str(dtype)) or 0)


def _conform(
    expr: pl.Expr, have: pl.DataType | DataTypeClass, want: pl.DataType | DataTypeClass
) -> pl.Expr:
    """A value of the file's type as the catalog's: struct fields by name, lists element-wise."""
    if have == want:
        return expr
    if isinstance(have, pl.Struct) and isinstance(want, pl.Struct):
        fields = {f.name: f.dtype for f in have.fields}
        lower = {f.name.lower(): f.name for f in have.fields}
        parts = []
        for f in want.fields:
            name = f.name if f.name in fields else lower.get(f.name.lower())
            part = (
                pl.lit(None, f.dtype)
                if name is None
                else _conform(expr.struct.field(name), fields[name], f.dtype)
            )
            parts.append(part.alias(f.name))
        return pl.when(expr.is_not_null()).then(pl.struct(parts))
    if isinstance(have, pl.List) and isinstance(want, pl.List):
        return expr.list.eval(_conform(pl.element(), have.inner, want.inner))
    return expr.cast(want)


def _partition_groups(
    files: list[DataFile], keys: list[str]
) -> dict[tuple[Any, ...], list[DataFile]]:
    """Files by partition values, in the order the values first appear (the order a table
    that is not laid out in ``key=value`` folders is read in)."""
    groups: dict[tuple[Any, ...], list[DataFile]] = {}
    for f in files:
        groups.setdefault(tuple(f.partition.get(k) for k in keys), []).append(f)
    return groups


def _hive_layout(files: list[DataFile], keys: dict[str, pl.DataType]) -> bool:
    """Whether every file's path names exactly its partition values as ``key=value`` folders.

    Then one scan reads them all and Polars takes the values from the paths (as Delta and
    Hive lay tables out); a table whose partitions live in other folders is read per partition.
    """
    for dtype in keys.values():
        if not (dtype == pl.String or dtype == pl.Date or T.is_integer(dtype)):
            return False
    names = list(keys)
    for f in files:
        pairs = [part.split("=", 1) for part in f.path.split("/") if "=" in part]
        if [pair[0] for pair in pairs] != names:
            return False
        for (key, raw), dtype in zip(pairs, keys.values(), strict=True):
            text = None if raw == _NULL_PARTITION else urllib.parse.unquote(raw)
            expected = f.partition.get(key)
            if expected == _NULL_PARTITION:
                expected = None
            if text != (None if expected is None else str(expected)):
                return False
            if text is None or dtype == pl.String:
                continue
            pattern = _DATE_TEXT if dtype == pl.Date else _INTEGER_TEXT
            if not pattern.fullmatch(text):
                return False
    return True


# ---------------------------------------------------------------------- pruning


def partition_constraints(
    predicates: list[Predicate], keys: set[str]
) -> dict[str, PartitionConstraint]:
    """What the predicates allow for each partition column, in the catalog's string form."""
    out: dict[str, PartitionConstraint] = {}
    for p in predicates:
        if p.column not in keys:
            continue
        current = out.get(p.column, PartitionConstraint())
        values, low, high = current.values, current.low, current.high
        if p.op == "=":
            values = (
                frozenset({_text(p.values[0])}) if values is None else values & {_text(p.values[0])}
            )
        elif p.op == "in":
            new = frozenset(_text(v) for v in p.values)
            values = new if values is None else values & new
        elif p.op in (">", ">="):
            low = _text(p.values[0])
        elif p.op in ("<", "<="):
            high = _text(p.values[0])
        elif p.op == "between":
            low, high = _text(p.values[0]), _text(p.values[1])
        else:
            continue
        out[p.column] = PartitionConstraint(values=values, low=low, high=high)
    return out


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _partition_value(raw: Any, dtype: pl.DataType) -> Any:
    if raw is None or raw == _NULL_PARTITION:
        return None
    if not isinstance(raw, str):
        return raw
    try:
        if T.is_integer(dtype):
            return int(raw)
        if T.is_float(dtype):
            return float(raw)
        if T.is_decimal(dtype):
            return decimal.Decimal(raw)
        if dtype == pl.Date:
            return dt.date.fromisoformat(raw)
        if isinstance(dtype, pl.Datetime):
            return dt.datetime.fromisoformat(raw)
        if dtype == pl.Boolean:
            return raw.lower() == "true"
    except ValueError:
        return raw
    return raw


def _comparable(stat: Any, literal: Any) -> tuple[Any, Any] | None:
    """Bring a statistic and a query literal to one comparable type (None: cannot compare)."""
    if stat is None or literal is None:
        return None
    if isinstance(literal, bool) or isinstance(stat, bool):
        return (stat, literal) if type(stat) is type(literal) else None
    if isinstance(literal, int | float | decimal.Decimal) and isinstance(
        stat, int | float | decimal.Decimal
    ):
        return float(stat), float(literal)
    if isinstance(literal, dt.datetime):
        if isinstance(stat, str):
            try:
                stat = dt.datetime.fromisoformat(stat.replace("Z", "+00:00"))
            except ValueError:
                return None
        if isinstance(stat, dt.datetime):
            if stat.tzinfo is not None:
                stat = stat.astimezone(dt.UTC).replace(tzinfo=None)
            return stat, literal
        if isinstance(stat, dt.date):
            return dt.datetime(stat.year, stat.month, stat.day), literal
        return None
    if isinstance(literal, dt.date):
        if isinstance(stat, str):
            try:
                stat = dt.date.fromisoformat(stat[:10])
            except ValueError:
                return None
        if isinstance(stat, dt.datetime):
            stat = stat.date()
        return (stat, literal) if isinstance(stat, dt.date) else None
    if isinstance(literal, str) and isinstance(stat, str):
        return stat, literal
    return None


def _holds(value: Any, p: Predicate) -> bool | None:
    """Exact truth of a predicate for one (partition) value; None when it cannot be decided."""
    if p.op == "is_null":
        return value is None
    if p.op == "not_null":
        return value is not None
    if value is None:
        return False
    checks = []
    for literal in p.values:
        pair = _comparable(value, literal)
        if pair is None:
            return None
        checks.append(pair)
    a, b = checks[0]
    if p.op == "=":
        return a == b
    if p.op == "<":
        return a < b
    if p.op == "<=":
        return a <= b
    if p.op == ">":
        return a > b
    if p.op == ">=":
        return a >= b
    if p.op == "in":
        return any(x == y for x, y in checks)
    if p.op == "between":
        return checks[0][1] <= a <= checks[1][1]
    return None


def _may_overlap(low: Any, high: Any, p: Predicate, nulls: Any, rows: Any) -> bool:
    """Whether a file whose column spans [low, high] can hold a row satisfying ``p``."""
    if p.op == "is_null":
        return nulls is None or nulls > 0
    if p.op == "not_null":
        return nulls is None or rows is None or nulls < rows
    if low is None or high is None:
        return True
    if isinstance(high, str) and len(high) >= 32:
        high = None  # long string statistics may be truncated prefixes
    lo: list[tuple[Any, Any]] = []
    for literal in p.values:
        pair = _comparable(low, literal)
        if pair is None:
            return True
        lo.append(pair)
    hi = [_comparable(high, v) for v in p.values] if high is not None else None

    def above_low(i: int, strict: bool) -> bool:  # literal > low (or >=)
        s, v = lo[i]
        return v > s if strict else v >= s

    def below_high(i: int, strict: bool) -> bool:  # literal < high (or <=)
        pair = None if hi is None else hi[i]
        if pair is None:  # no upper statistic, or one that does not compare
            return True
        s, v = pair
        return v < s if strict else v <= s

    if p.op == "=":
        return above_low(0, False) and below_high(0, False)
    if p.op == "in":
        return any(above_low(i, False) and below_high(i, False) for i in range(len(p.values)))
    if p.op == "<":
        return above_low(0, True)
    if p.op == "<=":
        return above_low(0, False)
    if p.op == ">":
        return below_high(0, True)
    if p.op == ">=":
        return below_high(0, False)
    if p.op == "between":
        return above_low(1, False) and below_high(0, False)
    return True


def _delta_bounds(data_file: DataFile, column: str) -> tuple[Any, ...] | None:
    """(min, max) of a column from a Delta add action, () when the file holds only NULLs."""
    low = _as_decimal(_stat(data_file.min_values or {}, column))
    high = _as_decimal(_stat(data_file.max_values or {}, column))
    if low is not None and high is not None:
        return low, high
    nulls = _stat(data_file.null_counts or {}, column)
    if data_file.num_records is not None and nulls == data_file.num_records:
        return ()
    return None


@dataclass(frozen=True)
class FooterStatistics:
    """What a Parquet footer says of each top-level column (lower-case names): ``bounds`` its
    (min, max) over the row groups, () when it holds only NULLs, None when some row group has
    no min/max; ``nulls`` its (NULL count, value count), None when some row group lacks it."""

    bounds: dict[str, tuple[Any, ...] | None]
    nulls: dict[str, tuple[int, int] | None]


def _footer_statistics(path: str) -> FooterStatistics:
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return FooterStatistics({}, {})
    found: dict[str, tuple[Any, ...] | None] = {}
    nulls: dict[str, tuple[int, int] | None] = {}
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for i in range(row_group.num_columns):
            chunk = row_group.column(i)
            name = chunk.path_in_schema.lower()
            if "." in name:
                continue
            stats = chunk.statistics
            counted = nulls.get(name, (0, 0))
            if stats is None or not stats.has_null_count or counted is None:
                nulls[name] = None
            else:
                nulls[name] = (counted[0] + stats.null_count, counted[1] + chunk.num_values)
            if found.get(name, ()) is None:
                continue
            if stats is None:
                found[name] = None
                continue
            if not stats.has_min_max:
                all_null = stats.null_count == chunk.num_values
                found[name] = found.get(name, ()) if all_null else None
                continue
            low, high = _as_decimal(stats.min), _as_decimal(stats.max)
            if low is None or high is None:
                found[name] = None
                continue
            seen = found.get(name, ())
            found[name] = (min(seen[0], low), max(seen[1], high)) if seen else (low, high)
    return FooterStatistics(found, nulls)


def _as_decimal(value: Any) -> decimal.Decimal | None:
    """A numeric statistic as an exact Decimal (None for anything else)."""
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
        return None
    number = decimal.Decimal(value)
    return number if number.is_finite() else None


def _stat(values: dict[str, Any], column: str) -> Any:
    value: Any = values
    for part in column.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def file_may_match(
    data_file: DataFile, predicates: list[Predicate], keys: list[str], schema: pl.Schema
) -> bool:
    """False only when the file provably holds no row satisfying every predicate."""
    for p in predicates:
        if p.column == "$path":  # Athena's pseudo-column: the file's own path
            if _holds(data_file.path, p) is False:
                return False
            continue
        if p.column in keys:
            raw = data_file.partition.get(p.column)
            value = _partition_value(raw, schema.get(p.column, pl.String()))
            if _holds(value, p) is False:
                return False
            continue
        low = _stat(data_file.min_values or {}, p.column)
        high = _stat(data_file.max_values or {}, p.column)
        nulls = _stat(data_file.null_counts or {}, p.column)
        if isinstance(low, dict) or isinstance(high, dict):
            continue
        if not _may_overlap(low, high, p, nulls, data_file.num_records):
            return False
    return True
