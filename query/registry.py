"""Dispatch tables from sqlglot expression classes (and function names) to Polars translators.

A translator is a small function ``(compiler, node) -> pl.Expr``: it compiles the node's children
through ``compiler.expr(child)`` and combines them. Scalar functions, operators and aggregates all
live in the same tables; the compiler decides the context (row, group, window) they run in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

Translator = Callable[[Any, "exp.Expression"], "pl.Expr"]

#: sqlglot expression class -> translator (exp.Lower, exp.RegexpLike, exp.Add, ...)
EXPRESSIONS: dict[type, Translator] = {}
#: lower-case function name -> translator, for calls sqlglot parses as exp.Anonymous
NAMED_FUNCTIONS: dict[str, Translator] = {}
#: expression classes and names that aggregate rows (the compiler needs to know for GROUP BY)
AGGREGATE_CLASSES: set[type] = set()
AGGREGATE_NAMES: set[str] = set()


def translates(*classes: type, aggregate: bool = False) -> Callable[[Translator], Translator]:
    """Register a translator for one or more sqlglot expression classes."""

    def decorate(fn: Translator) -> Translator:
        for cls in classes:
            EXPRESSIONS[cls] = fn
            if aggregate:
                AGGREGATE_CLASSES.add(cls)
        return fn

    return decorate


def function(*names: str, aggregate: bool = False) -> Callable[[Translator], Translator]:
    """Register a translator for functions sqlglot does not know (parsed as exp.Anonymous)."""

    def decorate(fn: Translator) -> Translator:
        for name in names:
            NAMED_FUNCTIONS[name.lower()] = fn
            if aggregate:
                AGGREGATE_NAMES.add(name.lower())
        return fn

    return decorate


#: Casts owned by the function library (JSON, IPADDRESS, ...): each hook returns a translation of
#: the exp.Cast node, or None to leave the cast to the core rules. The core cast consults them
#: first, in order.
CAST_HOOKS: list[Translator] = []
