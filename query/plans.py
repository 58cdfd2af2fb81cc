"""Compiled plans kept between statements, so that a repeated query skips parsing and compiling.

A dashboard, a scheduled report or an alarm asks the same question again and again. A plan is
kept per statement text (with its parameters and the current database) together with what it
read: the catalog generation, each table's definition version and the files its scans were
built from. It is used again only when all of those are unchanged; a new file in an external
table's folder, a Delta commit or any catalog change in any process makes it compile afresh.
Statements whose value depends on when they run (``now()``, ``current_date``, ``rand()``,
``uuid()``) are never kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlglot import exp

#: plans kept per engine, least recently used dropped first
CAPACITY = 256
_VOLATILE_NAMES = frozenset({"now", "rand", "randn", "randstr", "random", "uuid", "shuffle"})
_VOLATILE_PREFIXES = ("current", "local")


@dataclass(frozen=True)
class Plan:
    """A compiled query: its frame, the scans it holds (for statistics) and what it read."""

    lf: pl.LazyFrame
    scans: list[Any]
    tables: Any  # the table provider it was compiled against
    reads: Any  # the provider's record of what the plan read, for its ``unchanged()``


class PlanCache:
    """Plans by statement, checked against the table provider before each use.

    Only a provider that records what a statement read (``reads()``) and can tell whether that
    changed (``unchanged(reads)``) gets its plans kept.
    """

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._plans: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()

    def get(self, key: tuple[Any, ...], tables: Any) -> Plan | None:
        """The kept plan for ``key`` if everything it read is unchanged, else None."""
        plan = self._plans.get(key)
        if plan is None:
            return None
        if plan.tables is not tables or not tables.unchanged(plan.reads):
            del self._plans[key]
            return None
        self._plans.move_to_end(key)
        return plan

    def put(
        self,
        key: tuple[Any, ...],
        tree: exp.Expression,
        tables: Any,
        lf: pl.LazyFrame,
        scans: list[Any],
    ) -> None:
        reads = getattr(tables, "reads", None)
        if reads is None or not hasattr(tables, "unchanged") or is_volatile(tree):
            return
        self._plans[key] = Plan(lf, scans, tables, reads())
        self._plans.move_to_end(key)
        while len(self._plans) > self.capacity:
            self._plans.popitem(last=False)

    def clear(self) -> None:
        self._plans.clear()


def plan_key(sql: str, params: Any, database: str) -> tuple[Any, ...]:
    """Statement text, parameter values with their types, and the database names resolve in."""
    values = tuple((type(p).__name__, repr(p)) for p in params) if params else ()
    return sql, values, database


def is_volatile(tree: exp.Expression) -> bool:
    """Whether the statement's answer depends on when it runs, not only on the data."""
    for node in tree.walk():
        name = (node.name if isinstance(node, exp.Anonymous) else type(node).__name__).lower()
        if name in _VOLATILE_NAMES or name.startswith(_VOLATILE_PREFIXES):
            return True
    return False


class TreeCache:
    """Statement trees kept by key, shared by every engine of the process: parsed trees by text
    and parameters, qualified trees also by the schemas their tables had.

    A report's controls and a detection's rule are compiled again at every run (each run reads
    new table versions or new rows, so whole plans cannot be kept), but their text and the
    schemas it resolves against rarely change; parsing and qualifying cost about half of
    compiling. Each use gets its own copy, since compiling changes a tree in place."""

    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._trees: OrderedDict[tuple[Any, ...], exp.Expression] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> exp.Expression | None:
        tree = self._trees.get(key)
        if tree is None:
            self.misses += 1
            return None
        self.hits += 1
        self._trees.move_to_end(key)
        return tree.copy()

    def put(self, key: tuple[Any, ...], tree: exp.Expression) -> None:
        self._trees[key] = tree.copy()
        self._trees.move_to_end(key)
        while len(self._trees) > self.capacity:
            self._trees.popitem(last=False)

    def clear(self) -> None:
        self._trees.clear()


#: parsed statements, by text and parameters
PARSED = TreeCache()
#: qualified queries, by parse key, current database and the schemas of the tables they read
QUALIFIED = TreeCache()
