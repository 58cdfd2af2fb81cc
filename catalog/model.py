"""The catalog's records: databases, tables, views and partitions, as Glue models them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from loglake.catalog.types import from_arrow, normalise_type, to_arrow
from loglake.errors import CatalogError

#: table formats: managed Delta tables and the external formats Athena reads
FORMATS = ("delta", "parquet", "json", "csv", "text")
MANAGED = "MANAGED_TABLE"
EXTERNAL = "EXTERNAL_TABLE"


def check_name(name: str, what: str) -> str:
    """Glue names: lower case letters, digits and underscores (Athena lower-cases them)."""
    lowered = name.strip('`"').lower()
    if not lowered or not all(c.isalnum() or c == "_" for c in lowered):
        raise CatalogError(f"invalid {what} name {name!r}: use letters, digits and underscores")
    return lowered


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", self.name.strip('`"').lower())
        object.__setattr__(self, "type", normalise_type(self.type))

    def arrow_field(self) -> pa.Field:
        return pa.field(self.name, to_arrow(self.type))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.comment:
            out["comment"] = self.comment
        return out

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Column:
        return cls(body["name"], body["type"], body.get("comment"))


def columns_from_arrow(schema: pa.Schema) -> list[Column]:
    return [Column(f.name, from_arrow(f.type)) for f in schema]


@dataclass(frozen=True)
class TableDefinition:
    """A table: its columns, partition keys, where its data lives and how it is stored."""

    database: str
    name: str
    columns: tuple[Column, ...]
    location: str
    format: str
    table_type: str = EXTERNAL
    partition_keys: tuple[Column, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)
    serde: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    version: int = 0

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise CatalogError(f"unsupported table format {self.format!r}; use one of {FORMATS}")
        names = [c.name for c in (*self.columns, *self.partition_keys)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise CatalogError(f"table {self.qualified_name} repeats column(s) {duplicates}")

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def is_managed(self) -> bool:
        return self.table_type == MANAGED

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return (*self.columns, *self.partition_keys)

    @property
    def projection_enabled(self) -> bool:
        return self.properties.get("projection.enabled", "false").lower() == "true"

    def arrow_schema(self) -> pa.Schema:
        """Data columns followed by partition keys, as a query sees them."""
        return pa.schema([c.arrow_field() for c in self.all_columns])

    def column(self, name: str) -> Column:
        for c in self.all_columns:
            if c.name == name.lower():
                return c
        raise CatalogError(f"table {self.qualified_name} has no column {name!r}")

    def replace(self, **changes: Any) -> TableDefinition:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "table",
            "database": self.database,
            "name": self.name,
            "columns": [c.to_json() for c in self.columns],
            "partition_keys": [c.to_json() for c in self.partition_keys],
            "location": self.location,
            "format": self.format,
            "table_type": self.table_type,
            "properties": dict(self.properties),
            "serde": dict(self.serde),
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any], version: int = 0) -> TableDefinition:
        return cls(
            database=body["database"],
            name=body["name"],
            columns=tuple(Column.from_json(c) for c in body["columns"]),
            partition_keys=tuple(Column.from_json(c) for c in body.get("partition_keys", [])),
            location=body["location"],
            format=body["format"],
            table_type=body.get("table_type", EXTERNAL),
            properties=dict(body.get("properties", {})),
            serde=dict(body.get("serde", {})),
            comment=body.get("comment"),
            version=version,
        )


@dataclass(frozen=True)
class ViewDefinition:
    """A view: its SQL text (Athena dialect) and the columns it produced when created."""

    database: str
    name: str
    sql: str
    columns: tuple[Column, ...] = ()
    comment: str | None = None
    version: int = 0

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "view",
            "database": self.database,
            "name": self.name,
            "sql": self.sql,
            "columns": [c.to_json() for c in self.columns],
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any], version: int = 0) -> ViewDefinition:
        return cls(
            database=body["database"],
            name=body["name"],
            sql=body["sql"],
            columns=tuple(Column.from_json(c) for c in body.get("columns", [])),
            comment=body.get("comment"),
            version=version,
        )


@dataclass(frozen=True)
class Partition:
    """One partition of an external table: its key values (in key order) and its folder."""

    values: tuple[str, ...]
    location: str

    def as_dict(self, keys: tuple[Column, ...]) -> dict[str, str]:
        return {k.name: v for k, v in zip(keys, self.values, strict=True)}


@dataclass(frozen=True)
class DataFile:
    """A data file a query may read, with what is known about it before reading it."""

    path: str
    size: int
    partition: dict[str, Any] = field(default_factory=dict)
    num_records: int | None = None
    min_values: dict[str, Any] = field(default_factory=dict)
    max_values: dict[str, Any] = field(default_factory=dict)
    null_counts: dict[str, Any] = field(default_factory=dict)
