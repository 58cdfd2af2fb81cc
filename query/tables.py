"""Where tables come from: the interface the compiler reads through, and an in-memory provider.

The compiler asks a provider for a table's schema (to qualify names), then for a scan given the
simple predicates the query puts on that table, so that a provider backed by files can skip files
before anything is read. The catalog-backed provider lives in ``query/catalog_tables.py``.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from loglake.errors import CatalogError, close_names

#: pseudo-columns Athena offers on every table; never part of ``SELECT *``
PSEUDO_COLUMNS: dict[str, pl.DataType] = {"$path": pl.String(), "$file_size": pl.Int64()}


@dataclass(frozen=True)
class Predicate:
    """A conjunct ``column <op> literal`` a provider may use to skip files (never required to)."""

    column: str
    op: str  # "=", "<", "<=", ">", ">=", "in", "is_null", "not_null"
    values: tuple[Any, ...] = ()


#: a scan's (min, max) of a column over every row it reads, None when unknown
ColumnBounds = Callable[[str], "tuple[decimal.Decimal, decimal.Decimal] | None"]


#: a scan's share of NULLs in a column over every row it reads, None when unknown
NullFraction = Callable[[str], "float | None"]


#: whether the statistics of every file a scan reads say a column holds no NULL there
NullFree = Callable[[str], bool]


def _unknown(column: str) -> tuple[decimal.Decimal, decimal.Decimal] | None:
    return None


def _uncounted(column: str) -> float | None:
    return None


def _unproven(column: str) -> bool:
    return False


@dataclass
class Scan:
    """A table's rows as a LazyFrame, with what pruning kept and skipped, and the bounds of
    column values, the share of NULLs and the columns without NULLs the files' statistics give
    (asked only by the translations that can use them)."""

    lf: pl.LazyFrame
    files_kept: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    bytes_scanned: int = 0
    bounds: ColumnBounds = _unknown
    null_fraction: NullFraction = _uncounted
    null_free: NullFree = _unproven

    @property
    def files_scanned(self) -> int:
        return len(self.files_kept)


class TableProvider(Protocol):
    """What the compiler needs from a source of tables."""

    def schema(self, database: str | None, name: str) -> pl.Schema:
        """Columns of a table (raise CatalogError if it does not exist)."""
        ...

    def scan(
        self,
        database: str | None,
        name: str,
        predicates: list[Predicate],
        pseudo_columns: set[str],
    ) -> Scan:
        """Rows of a table; ``predicates`` are hints for skipping files, not filters."""
        ...

    def view_sql(self, database: str | None, name: str) -> str | None:
        """The SQL of a view of that name, or None when it is not a view."""
        ...


def suggest(name: str, candidates: list[str]) -> str:
    """A ' Did you mean ...?' hint for a misspelt name (empty when nothing is close)."""
    close = [c.lower() for c in close_names(name, candidates)]
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"


class MemoryTables:
    """Tables held in memory (``{"name" or "db.name": DataFrame | LazyFrame}``), for tests and notebooks."""

    def __init__(self, tables: dict[str, pl.DataFrame | pl.LazyFrame] | None = None):
        self.tables: dict[str, pl.LazyFrame] = {}
        self.views: dict[str, str] = {}
        for key, frame in (tables or {}).items():
            self.register(key, frame)

    def register(self, name: str, frame: pl.DataFrame | pl.LazyFrame) -> None:
        self.tables[name.lower()] = frame.lazy()

    def _key(self, database: str | None, name: str) -> str:
        qualified = f"{database}.{name}".lower() if database else name.lower()
        if qualified in self.tables or qualified in self.views:
            return qualified
        if name.lower() in self.tables or name.lower() in self.views:
            return name.lower()
        raise CatalogError(
            f"table {qualified!r} does not exist." + suggest(name, list(self.tables))
        )

    def schema(self, database: str | None, name: str) -> pl.Schema:
        return self.tables[self._key(database, name)].collect_schema()

    def scan(
        self,
        database: str | None,
        name: str,
        predicates: list[Predicate],
        pseudo_columns: set[str],
    ) -> Scan:
        lf = self.tables[self._key(database, name)]
        extra = []
        if "$path" in pseudo_columns:
            extra.append(pl.lit(f"memory://{name}", pl.String).alias("$path"))
        if "$file_size" in pseudo_columns:
            extra.append(pl.lit(None, pl.Int64).alias("$file_size"))
        if extra:
            lf = lf.with_columns(extra)
        return Scan(lf)

    def view_sql(self, database: str | None, name: str) -> str | None:
        key = f"{database}.{name}".lower() if database else name.lower()
        return self.views.get(key) or self.views.get(name.lower())
