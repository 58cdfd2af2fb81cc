"""Conditional functions: IF, COALESCE, NULLIF, TRY, TRY_CAST, GREATEST, LEAST."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import fail, no_errors
from loglake.query.registry import translates


@translates(exp.If)
def if_(compiler: Any, node: exp.If) -> pl.Expr:
    """IF(condition, a[, b]): a NULL condition takes the ELSE branch (NULL without one)."""
    condition = compiler.expr(node.this)
    then = compiler.expr(node.args["true"])
    false_node = node.args.get("false")
    otherwise = compiler.expr(false_node) if false_node is not None else pl.lit(None)
    return pl.when(condition.fill_null(False)).then(then).otherwise(otherwise)


@translates(exp.Coalesce)
def coalesce(compiler: Any, node: exp.Coalesce) -> pl.Expr:
    return pl.coalesce([compiler.expr(node.this), *(compiler.expr(e) for e in node.expressions)])


@translates(exp.Nullif)
def nullif(compiler: Any, node: exp.Nullif) -> pl.Expr:
    value = compiler.expr(node.this)
    other = compiler.expr(node.expression)
    return pl.when((value == other).fill_null(False)).then(None).otherwise(value)


@translates(exp.Try)
def try_(compiler: Any, node: exp.Try) -> pl.Expr:
    """TRY(x): casts and parses inside x give NULL instead of failing the query."""
    with no_errors():
        return compiler.expr(node.this)


@translates(exp.TryCast)
def try_cast(compiler: Any, node: exp.TryCast) -> pl.Expr:
    """TRY_CAST is CAST compiled in lenient mode, so the core cast rules apply unchanged."""
    cast = exp.Cast(this=node.this, to=node.to)
    cast.meta.update(node.meta)
    with no_errors():
        return compiler.expr(cast)


def _extreme(compiler: Any, node: exp.Expression, largest: bool) -> pl.Expr:
    """GREATEST/LEAST: NULL if any argument is NULL (Trino), unlike Polars' horizontal max."""
    args = [node.this, *node.expressions]
    if len(args) < 2:
        fail(compiler, node, f"{node.sql_name().lower()}() needs at least two arguments")
    values = [compiler.expr(a) for a in args]
    combined = pl.max_horizontal(values) if largest else pl.min_horizontal(values)
    any_null = pl.any_horizontal([v.is_null() for v in values])
    return pl.when(any_null).then(None).otherwise(combined)


@translates(exp.Greatest)
def greatest(compiler: Any, node: exp.Greatest) -> pl.Expr:
    return _extreme(compiler, node, largest=True)


@translates(exp.Least)
def least(compiler: Any, node: exp.Least) -> pl.Expr:
    return _extreme(compiler, node, largest=False)
