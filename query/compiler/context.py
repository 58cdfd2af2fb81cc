"""The compiler's data: frames under construction, compiled queries, and the expression context.

``ExprContext`` is everything an expression compiles against (names in scope, the frame's dtypes,
sub-expressions already computed as columns, whether rows are grouped, the grouping-set column);
the compiler swaps it with ``Compiler.context(...)`` and nothing else changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
from sqlglot import exp

from loglake.query.tables import Scan


@dataclass
class Scope:
    """SQL names visible in a clause: table alias -> column name -> internal frame column."""

    sources: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, alias: str, columns: dict[str, str]) -> None:
        self.sources[alias.lower()] = {k.lower(): v for k, v in columns.items()}

    def merged(self, other: Scope) -> Scope:
        return Scope({**self.sources, **other.sources})

    def all_columns(self) -> list[str]:
        return [c for cols in self.sources.values() for c in cols]


@dataclass(eq=False)
class Rel:
    """A frame under construction plus the names a clause can see in it."""

    lf: pl.LazyFrame
    schema: dict[str, pl.DataType]
    scope: Scope

    @property
    def aliases(self) -> set[str]:
        return set(self.scope.sources)


@dataclass(eq=False)
class Output:
    """A compiled query: ``lf`` has exactly the columns ``internal``; ``names`` are SQL names."""

    lf: pl.LazyFrame
    names: list[str]
    internal: list[str]
    known_schema: dict[str, pl.DataType] | None = None

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """Column dtypes, resolved only when a consumer needs them (it costs a plan walk)."""
        if self.known_schema is None:
            self.known_schema = dict(self.lf.collect_schema())
        return self.known_schema

    def final_names(self) -> list[str]:
        """User-facing column names (duplicates get a numeric suffix)."""
        seen: dict[str, int] = {}
        final = []
        for name in self.names:
            n = seen.get(name, 0)
            seen[name] = n + 1
            final.append(name if n == 0 else f"{name}_{n}")
        return final

    def renamed(self) -> pl.LazyFrame:
        """The frame with user-facing column names."""
        final = self.final_names()
        mapping = {i: f for i, f in zip(self.internal, final, strict=True) if i != f}
        return self.lf.rename(mapping) if mapping else self.lf


@dataclass
class ScanRecord:
    """What one table scan kept and skipped (for statistics and EXPLAIN)."""

    table: str
    scan: Scan


@dataclass(frozen=True, slots=True)
class Grouping:
    """The grouping-set bitmask column of an aggregated SELECT and its keys, for ``grouping()``."""

    column: str
    keys: list[exp.Expression]


@dataclass(slots=True)
class ExprContext:
    """What an expression is compiled against (see the module docstring); never changed once
    made (not frozen only because a frozen dataclass is slower to create, and the compiler
    makes one per clause and join key)."""

    scope: Scope
    schema: dict[str, pl.DataType]
    replacements: dict[exp.Expression, pl.Expr]
    aggregated: bool = False
    grouping: Grouping | None = None


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """The correlation keys an outer query will look a grouped subquery's rows up by: only those
    groups are worth aggregating (``inner``: the subquery's key expressions; ``keys``: a frame of
    the outer query's distinct key values in columns ``names``)."""

    inner: list[exp.Expression]
    keys: pl.LazyFrame
    names: list[str]
