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
from collections.abc import Callable
from typing import Any

import polars as pl

from loglake.catalog import DEFAULT_DATABASE, DataFile, PartitionConstraint, TableDefinition
from loglake.catalog.types import to_arrow
from loglake.errors import CatalogError
from loglake.query import types as T
from loglake.query.tables import Predicate, Scan

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


class CatalogTables:
    """The TableProvider over a :class:`loglake.catalog.Catalog`."""

    def __init__(self, catalog: Any, default_database: str = DEFAULT_DATABASE):
        self.catalog = catalog
        self.default_database = default_database
        self._relations: dict[tuple[str | None, str], Any] = {}
        self._view_schemas: dict[tuple[str | None, str], pl.Schema] = {}
        # set by the engine: the output schema of a view's SQL (for views stored without columns)
        self.view_schema: Callable[[str], pl.Schema] | None = None

    def reset(self) -> None:
        """Forget looked-up definitions (the engine calls this before each statement)."""
        self._relations.clear()
        self._view_schemas.clear()

    def _relation(self, database: str | None, name: str) -> Any:
        # one statement asks several times per table (qualify, views, scan): read it once
        key = (database, name)
        if key not in self._relations:
            self._relations[key] = self.catalog.find_relation(
                name, database, current_database=self.default_database
            )
        return self._relations[key]

    def schema(self, database: str | None, name: str) -> pl.Schema:
        relation = self._relation(database, name)
        if isinstance(relation, TableDefinition):
            return T.polars_schema_from_arrow(relation.arrow_schema())
        if not relation.columns and self.view_schema is not None:
            return self._derived_view_schema(database, name, relation.sql)
        import pyarrow as pa

        fields = [pa.field(c.name, to_arrow(c.type)) for c in relation.columns]
        return T.polars_schema_from_arrow(pa.schema(fields))

    def _derived_view_schema(self, database: str | None, name: str, sql: str) -> pl.Schema:
        """A view stored without its columns (created through the catalog API) gets them by
        compiling its SQL, once per statement."""
        key = (database, name)
        if key not in self._view_schemas:
            if self.view_schema is None:
                raise CatalogError(f"view {name} has no column list")
            self._view_schemas[key] = pl.Schema()  # a view that reads itself finds no columns
            self._view_schemas[key] = self.view_schema(sql)
        return self._view_schemas[key]

    def view_sql(self, database: str | None, name: str) -> str | None:
        try:
            relation = self._relation(database, name)
        except CatalogError:
            return None
        return None if isinstance(relation, TableDefinition) else relation.sql

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
        schema = T.polars_schema_from_arrow(table.arrow_schema())
        keys = [c.name for c in table.partition_keys]
        constraints = partition_constraints(predicates, set(keys))
        # a managed table's file list is in its Delta log anyway: prune it here so that the
        # skipped files are counted; other tables list only the partitions the predicates admit
        files = self.catalog.files(table, None if table.is_managed else constraints or None)
        kept, skipped = [], []
        for f in files:
            (kept if file_may_match(f, predicates, keys, schema) else skipped).append(f)
        lf = self._read(table, kept, schema, keys, pseudo_columns)
        return Scan(
            lf,
            files_kept=[f.path for f in kept],
            files_skipped=[f.path for f in skipped],
            bytes_scanned=sum(f.size for f in kept),
        )

    # ------------------------------------------------------------------ reading files

    def _read(
        self,
        table: TableDefinition,
        files: list[DataFile],
        schema: pl.Schema,
        keys: list[str],
        pseudo: set[str],
    ) -> pl.LazyFrame:
        data_schema = pl.Schema({c: t for c, t in schema.items() if c not in keys})
        wanted = dict(schema)
        for p in pseudo:
            wanted[p] = pl.String if p == "$path" else pl.Int64
        if not files:
            return pl.LazyFrame(schema=wanted)
        groups: dict[tuple[Any, ...], list[DataFile]] = {}
        for f in files:
            groups.setdefault(tuple(f.partition.get(k) for k in keys), []).append(f)
        frames = []
        for values, group in groups.items():
            lf = self._scan_files(table, [f.path for f in group], data_schema, "$path" in pseudo)
            extra = [
                pl.lit(_partition_value(v, schema[k]), schema[k]).alias(k)
                for k, v in zip(keys, values, strict=True)
            ]
            if "$file_size" in pseudo:
                sizes = {f.path: f.size for f in group}
                extra.append(
                    pl.col("$path")
                    .replace_strict(sizes, default=None, return_dtype=pl.Int64)
                    .alias("$file_size")
                    if "$path" in pseudo
                    else pl.lit(group[0].size if len(group) == 1 else None, pl.Int64).alias(
                        "$file_size"
                    )
                )
            if extra:
                lf = lf.with_columns(extra)
            frames.append(lf.select(list(wanted)))
        return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")

    def _scan_files(
        self, table: TableDefinition, paths: list[str], schema: pl.Schema, with_path: bool
    ) -> pl.LazyFrame:
        options = self.catalog.settings.polars_storage_options()
        include = "$path" if with_path else None
        fmt = table.format
        if fmt in ("delta", "parquet"):
            return pl.scan_parquet(
                paths,
                schema=schema,
                hive_partitioning=False,
                include_file_paths=include,
                storage_options=options,
                missing_columns="insert",
                extra_columns="ignore",
            )
        if fmt == "json":
            return pl.scan_ndjson(
                paths, schema=schema, include_file_paths=include, storage_options=options
            )
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
            )
            return raw.with_columns(
                [pl.col(c).cast(t, strict=False) for c, t in schema.items() if t != pl.String]
            )
        raise CatalogError(f"cannot read tables stored as {fmt}")


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
    for literal in p.values:
        if _comparable(low, literal) is None:
            return True
    lo = [_comparable(low, v) for v in p.values]
    hi = [_comparable(high, v) for v in p.values] if high is not None else None

    def above_low(i: int, strict: bool) -> bool:  # literal > low (or >=)
        s, v = lo[i]  # type: ignore[index,misc]
        return v > s if strict else v >= s

    def below_high(i: int, strict: bool) -> bool:  # literal < high (or <=)
        if hi is None:
            return True
        s, v = hi[i]  # type: ignore[misc]
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
        if p.column in keys:
            raw = data_file.partition.get(p.column)
            value = _partition_value(raw, schema.get(p.column, pl.String))
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
