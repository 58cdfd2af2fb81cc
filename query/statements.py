"""Statements that write: CTAS, INSERT INTO, CREATE/DROP VIEW and UNLOAD (each a handler of the
engine's statement table, ``STATEMENTS`` in ``query/engine.py``).

They compile their query with the engine like any SELECT, then hand the rows to the catalog
(managed Delta tables, views) or to storage (UNLOAD), and answer with a one-row summary.
"""

from __future__ import annotations

import gzip
import re
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa
from sqlglot import exp

from loglake.catalog import Column
from loglake.catalog.paths import NULL_PARTITION, partition_path
from loglake.catalog.types import from_arrow
from loglake.errors import SqlError
from loglake.query.checks import node_span
from loglake.query.types import polars_schema_from_arrow

if TYPE_CHECKING:
    from loglake.query.engine import Engine, QueryResult, QueryStats, Statement


def arrow_table(df: pl.DataFrame) -> pa.Table:
    """Arrow data with the plain (non-view, non-large) types Hive type strings describe."""
    table = df.to_arrow(compat_level=pl.CompatLevel.oldest())
    return table.cast(pa.schema([pa.field(f.name, _plain(f.type)) for f in table.schema]))


def _plain(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_list(t):
        return pa.list_(_plain(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain(f.type)) for f in t])
    if pa.types.is_map(t):
        return pa.map_(_plain(t.key_type), _plain(t.item_type))
    return t


def hive_type(dtype: pl.DataType) -> str:
    """The Hive type string of a Polars dtype (for view and CTAS column documentation)."""
    arrow = pl.Series([], dtype=dtype).to_arrow(compat_level=pl.CompatLevel.oldest()).type
    return from_arrow(_plain(arrow))


def unsupported_statement(sql: str) -> SqlError:
    first = sql.strip().split(None, 1)[0].upper() if sql.strip() else ""
    return SqlError(f"unsupported statement: {first}", sql, 0, len(first))


def require_catalog(engine: Engine, what: str) -> Any:
    if engine.catalog is None:
        raise SqlError(f"{what} needs a lake catalog (this engine reads in-memory tables)")
    return engine.catalog


def _names(engine: Engine, table: exp.Table) -> tuple[str, str]:
    return (table.db or engine.default_database).lower(), table.name.lower()


def _summary(engine: Engine, stats: QueryStats, statement: str, **values: Any) -> QueryResult:
    from loglake.query.engine import QueryResult

    stats.statement = statement
    return QueryResult(pl.DataFrame({k: [v] for k, v in values.items()}), None, stats)


def _run_query(engine: Engine, query: exp.Expression, sql: str, stats: QueryStats) -> pl.DataFrame:
    return engine._query(query, sql, stats, lazy=False).frame()


def drop_view(engine: Engine, statement: Statement) -> QueryResult:
    tree = statement.tree
    catalog = require_catalog(engine, "DROP VIEW")
    dropped = []
    for table in tree.args.get("tables") or [tree.this]:
        db, name = _names(engine, table)
        catalog.drop_view(db, name, if_exists=bool(tree.args.get("exists")))
        dropped.append(f"{db}.{name}")
    return _summary(
        engine, statement.stats, "DROP VIEW", result=f"dropped view {', '.join(dropped)}"
    )


#: a ``key = 'text'`` or ``key = ARRAY[...]`` item of a WITH (...) list
_PROPERTY = re.compile(
    r"(?P<key>\w+)\s*=\s*(?:'(?P<text>(?:[^']|'')*)'|ARRAY\s*\[(?P<array>[^\]]*)\]|(?P<other>[^,)]+))",
    re.I,
)
#: the WITH (...) list of a CTAS, before its AS
_CTAS_WITH = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[^\s(]+(?:\s*\([^)]*\))?\s+"
    r"WITH\s*\((?P<props>.*?)\)\s*AS\b",
    re.I | re.S,
)
#: what CTAS accepts, as Athena documents it; loglake writes Delta, so the rest are kept as notes
CTAS_PROPERTIES = (
    "format",
    "partitioned_by",
    "table_type",
    "write_compression",
    "parquet_compression",
    "compression_level",
    "bucketed_by",
    "bucket_count",
    "field_delimiter",
    "is_external",
    "external_location",
    "location",
)
#: UNLOAD's properties and the compressions each format takes (the first one is the default)
UNLOAD_PROPERTIES = (
    "format",
    "compression",
    "compression_level",
    "field_delimiter",
    "partitioned_by",
)
#: Polars' name of each Parquet compression UNLOAD takes
_PARQUET_CODECS: dict[str, Literal["zstd", "gzip", "snappy", "lz4", "uncompressed"]] = {
    "zstd": "zstd",
    "gzip": "gzip",
    "snappy": "snappy",
    "lz4": "lz4",
    "none": "uncompressed",
}
UNLOAD_COMPRESSIONS = {
    "PARQUET": ("zstd", "gzip", "snappy", "lz4", "none"),
    "JSON": ("none", "gzip"),
    "TEXTFILE": ("none", "gzip"),
    "CSV": ("none", "gzip"),
}


class _WithList:
    """The ``key = value`` items of a statement's WITH (...) list and where each one is, so
    that an error about one points at it."""

    def __init__(self, sql: str, text: str | None, offset: int):
        self.sql = sql
        self.values: dict[str, Any] = {}
        self.spans: dict[str, tuple[int, int]] = {}
        self.arrays: set[str] = set()
        for item in _PROPERTY.finditer(text or ""):
            key = item.group("key").lower()
            self.spans[key] = (offset + item.start(), offset + item.end())
            if item.group("array") is not None:
                self.arrays.add(key)
                self.values[key] = [
                    v.strip().strip("'").lower()
                    for v in item.group("array").split(",")
                    if v.strip()
                ]
            elif item.group("text") is not None:
                self.values[key] = item.group("text").replace("''", "'")
            else:
                self.values[key] = item.group("other").strip()

    def error(self, key: str, message: str) -> SqlError:
        start, end = self.spans.get(key, (None, None))
        return SqlError(message, self.sql, start, end)

    def check_known(self, known: tuple[str, ...], what: str) -> None:
        for key in self.spans:
            if key not in known:
                raise self.error(
                    key, f"{what} property '{key}' does not exist (known: {', '.join(known)})"
                )

    def partition_columns(self, columns: list[str]) -> list[str]:
        """``partitioned_by``: an ARRAY of the query's columns (Trino refuses anything else)."""
        if "partitioned_by" not in self.spans:
            return []
        if "partitioned_by" not in self.arrays:
            raise self.error(
                "partitioned_by",
                "Invalid value for table property 'partitioned_by': expected an ARRAY of "
                "column names, such as ARRAY['day']",
            )
        names = self.values["partitioned_by"]
        missing = [p for p in names if p not in columns]
        if missing:
            raise self.error(
                "partitioned_by", f"partition column(s) {missing} are not in the query's columns"
            )
        if len(names) == len(columns):
            raise self.error("partitioned_by", "Table contains only partition columns")
        return names


def _properties(tree: exp.Expr) -> dict[str, Any]:
    props: dict[str, Any] = {}
    node = tree.args.get("properties")
    for prop in node.expressions if node is not None else []:
        if isinstance(prop, exp.FileFormatProperty):
            props["format"] = (
                prop.this.name if isinstance(prop.this, exp.Expression) else str(prop.this)
            )
        elif isinstance(prop, exp.PartitionedByProperty):
            value = prop.this
            items = (
                value.expressions
                if isinstance(value, exp.Array | exp.Schema | exp.Tuple)
                else [value]
            )
            props["partitioned_by"] = [i.name.lower() for i in items]
        elif isinstance(prop, exp.LocationProperty):
            props["location"] = prop.this.name
        elif isinstance(prop, exp.Property):
            key = prop.name.lower()
            value = prop.args.get("value")
            if isinstance(value, exp.Array):
                props[key] = [v.name for v in value.expressions]
            elif isinstance(value, exp.Expression):
                props[key] = value.name
    return props


def create_table_as(engine: Engine, statement: Statement) -> QueryResult:
    """``CREATE TABLE t WITH (format='PARQUET', partitioned_by=ARRAY['dt']) AS SELECT ...``."""
    tree, sql, stats = statement.tree, statement.sql, statement.stats
    catalog = require_catalog(engine, "CREATE TABLE AS")
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    db, name = _names(engine, target)
    props = _properties(tree)
    found = _CTAS_WITH.match(sql)
    options = _WithList(sql, found.group("props"), found.start("props")) if found else None
    if options is not None:
        options.check_known(CTAS_PROPERTIES, "Table")
    where = options.error if options is not None else (lambda key, message: SqlError(message))
    fmt = str(props.pop("format", "PARQUET")).upper()
    if fmt not in ("PARQUET", "DELTA"):
        raise where(
            "format", f"tables created by CTAS are stored as Parquet (Delta Lake), not {fmt}"
        )
    for key in ("location", "external_location"):
        if key in props:
            raise where(key, "CTAS creates managed tables; external_location is not supported")
    partitioned_by = props.pop("partitioned_by", [])
    if tree.args.get("exists") and catalog.table_exists(db, name):
        return _summary(engine, stats, "CREATE TABLE AS", rows=0)
    df = _run_query(engine, tree.expression, sql, stats)
    if options is not None:
        partitioned_by = options.partition_columns(df.columns)
    elif missing := [p for p in partitioned_by if p not in df.columns]:
        raise SqlError(f"partition column(s) {missing} are not in the query's columns")
    with_data = not re.search(r"WITH\s+NO\s+DATA\s*;?\s*$", sql, re.I)
    data = arrow_table(df if with_data else df.clear())
    catalog.create_managed_table(
        db,
        name,
        schema=data.schema,
        partition_by=partitioned_by,
        properties={k: str(v) for k, v in props.items()},
        data=data,
    )
    return _summary(engine, stats, "CREATE TABLE AS", rows=data.num_rows if with_data else 0)


def insert_into(engine: Engine, statement: Statement) -> QueryResult:
    """``INSERT INTO t [(columns)] SELECT ...`` appends to a managed table (by position)."""
    tree, sql, stats = statement.tree, statement.sql, statement.stats
    catalog = require_catalog(engine, "INSERT INTO")
    target = tree.this
    columns: list[str] | None = None
    if isinstance(target, exp.Schema):
        columns = [c.name.lower() for c in target.expressions]
        target = target.this
    db, name = _names(engine, target)
    table = catalog.get_table(db, name)
    if not table.is_managed and table.format not in ("parquet", "json"):
        raise SqlError(
            f"INSERT INTO {db}.{name}: tables stored as {table.format} are read-only",
            sql,
            *node_span(target),
        )
    schema = table.arrow_schema()
    names = [f.name for f in schema]
    listed = tree.this.expressions if isinstance(tree.this, exp.Schema) else []
    for column in listed:
        if column.name.lower() not in names:
            raise SqlError(
                f"Insert column(s) ['{column.name.lower()}'] do not exist in {db}.{name}",
                sql,
                *node_span(column),
            )
    df = _run_query(engine, tree.expression, sql, stats)
    columns = columns or names
    if len(columns) != df.width:
        raise SqlError(
            f"Insert query has {df.width} columns but table {db}.{name} expects {len(columns)}",
            sql,
            *node_span(tree.expression),
        )
    target_schema = polars_schema_from_arrow(schema)
    exprs = []
    by_name = dict(zip(columns, df.columns, strict=True))
    for column in names:
        dtype = target_schema[column]
        if column in by_name:
            exprs.append(pl.col(by_name[column]).cast(dtype).alias(column))
        else:
            exprs.append(pl.lit(None, dtype).alias(column))
    try:
        shaped = df.select(exprs)
    except pl.exceptions.PolarsError as err:
        raise SqlError(f"Insert query has mismatched column types: {err}") from err
    data = arrow_table(shaped).cast(schema)
    if data.num_rows and table.is_managed:
        catalog.managed(db, name).append(data)
    elif data.num_rows:
        _write_external(catalog, table, shaped, stats.query_id)
    return _summary(engine, stats, "INSERT", rows=data.num_rows)


def _write_external(catalog: Any, table: Any, df: pl.DataFrame, query_id: str) -> None:
    """Add files (one per partition) under an external table's location, as Athena's INSERT does."""
    from loglake.catalog import Partition

    settings = catalog.settings
    catalog.location_policy().check_write(table.location, f"INSERT INTO {table.qualified_name}")
    fs = settings.filesystem()
    keys = [c.name for c in table.partition_keys]
    groups = df.partition_by(keys, as_dict=True, include_key=False) if keys else {(): df}
    added = []
    for values, part in groups.items():
        texts = tuple(NULL_PARTITION if v is None else str(v) for v in values)
        folder = "/".join(filter(None, [table.location.rstrip("/"), partition_path(keys, texts)]))
        path = settings.fs_path(folder)
        fs.makedirs(path, exist_ok=True)
        extension = "parquet" if table.format == "parquet" else "json"
        with fs.open(f"{path}/{query_id}.{extension}", "wb") as handle:
            if table.format == "parquet":
                part.write_parquet(handle)
            else:
                part.write_ndjson(handle)
        if keys:
            added.append(Partition(texts, folder))
    if added and not table.projection_enabled:
        catalog.add_partitions(table, added, if_not_exists=True)


_VIEW_BODY = re.compile(
    r"^\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\s+[^\s(]+\s+AS\s+(?P<body>.*?)\s*;?\s*$", re.I | re.S
)


def create_view(engine: Engine, statement: Statement) -> QueryResult:
    """``CREATE [OR REPLACE] VIEW v AS SELECT ...``: checked by compiling it, stored as text."""
    tree, sql, stats = statement.tree, statement.sql, statement.stats
    catalog = require_catalog(engine, "CREATE VIEW")
    db, name = _names(engine, tree.this)
    match = _VIEW_BODY.match(sql)
    body = match.group("body") if match else tree.expression.sql(dialect="athena")
    lf, _ = engine.compile(body)
    schema = lf.collect_schema()
    columns = [Column(c, hive_type(t)) for c, t in schema.items()]
    catalog.create_view(db, name, body, columns, replace=bool(tree.args.get("replace")))
    return _summary(engine, stats, "CREATE VIEW", result=f"created view {db}.{name}")


# ---------------------------------------------------------------------- UNLOAD


_UNLOAD = re.compile(
    r"^\s*UNLOAD\s*\((?P<query>.*)\)\s*TO\s*'(?P<url>[^']*)'\s*(WITH\s*\((?P<props>.*)\))?\s*;?\s*$",
    re.I | re.S,
)


def unload(engine: Engine, statement: Statement) -> QueryResult:
    """``UNLOAD (SELECT ...) TO 's3://...' WITH (format = 'PARQUET', partitioned_by = ARRAY[...])``."""
    from loglake.catalog import StorageSettings
    from loglake.query.frontend import parse

    sql, params, stats = statement.sql, statement.params, statement.stats
    match = _UNLOAD.match(sql)
    if match is None:
        raise SqlError(
            "expected UNLOAD (query) TO 'location' [WITH (property = value, ...)]", sql, 0
        )
    query_text = match.group("query")
    url = match.group("url").rstrip("/")
    options = _WithList(sql, match.group("props"), match.start("props"))
    options.check_known(UNLOAD_PROPERTIES, "UNLOAD")
    props = options.values
    fmt = str(props.get("format", "PARQUET")).upper()
    if fmt not in UNLOAD_COMPRESSIONS:
        raise options.error(
            "format", f"UNLOAD format {fmt} is not supported (PARQUET, JSON, TEXTFILE)"
        )
    compressions = UNLOAD_COMPRESSIONS[fmt]
    compression = str(props.get("compression", compressions[0])).lower()
    if compression not in compressions:
        raise options.error(
            "compression",
            f"compression '{compression}' is not supported for {fmt} (use {', '.join(compressions)})",
        )
    delimiter = str(props.get("field_delimiter", ","))
    if len(delimiter.encode()) != 1:
        raise options.error("field_delimiter", "field_delimiter must be one single-byte character")
    if engine.catalog is not None:
        url = engine.catalog.location_policy().check_write(url, "UNLOAD destination")
    df = _run_query(engine, parse(query_text, params), query_text, stats)
    if engine.catalog is not None:
        settings = engine.catalog.settings.with_root(url)
    else:
        settings = StorageSettings.resolve(url)
    fs = settings.filesystem()
    root = settings.fs_path(url)
    if fs.exists(root) and fs.find(root):
        raise SqlError(
            f"UNLOAD destination {url} is not empty", sql, match.start("url"), match.end("url")
        )
    partitioned_by = options.partition_columns(df.columns)
    extension = {"PARQUET": "parquet", "JSON": "json", "TEXTFILE": "csv", "CSV": "csv"}[fmt]
    if compression == "gzip" and fmt != "PARQUET":
        extension += ".gz"
    written: list[str] = []
    groups = (
        df.partition_by(partitioned_by, as_dict=True, include_key=False)
        if partitioned_by
        else {(): df}
    )
    for values, part in groups.items():
        folder = "/".join(filter(None, [root, partition_path(partitioned_by, values)]))
        fs.makedirs(folder, exist_ok=True)
        path = f"{folder}/{stats.query_id}.{extension}"
        with fs.open(path, "wb") as raw:
            if fmt == "PARQUET":
                part.write_parquet(raw, compression=_PARQUET_CODECS[compression])
            elif compression == "gzip":
                with gzip.GzipFile(fileobj=raw, mode="wb") as packed:
                    _write_text(part, packed, fmt, delimiter)
            else:
                _write_text(part, raw, fmt, delimiter)
        written.append(path if not settings.is_s3 else f"s3://{path}")
    return _summary(engine, stats, "UNLOAD", rows=df.height, files=len(written), location=url)


def _write_text(part: pl.DataFrame, handle: Any, fmt: str, delimiter: str) -> None:
    if fmt == "JSON":
        part.write_ndjson(handle)
    else:
        part.write_csv(handle, separator=delimiter, include_header=False)
