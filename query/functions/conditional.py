"""Conditional functions: IF, TRY, GREATEST, LEAST (COALESCE, NULLIF, CASE and TRY_CAST are
compiled by the core expression module)."""

from __future__ import annotations

import polars as pl
from sqlglot import exp

from loglake.query.expressions import unify_results
from loglake.query.functions.common import call_name, fail, no_errors
from loglake.query.registry import ExprCompiler, translates


@translates(exp.If)
def if_(compiler: ExprCompiler, node: exp.If) -> pl.Expr:
    """IF(condition, a[, b]): a NULL condition (even an untyped NULL) takes the ELSE branch."""
    condition = compiler.expr(node.this).cast(pl.Boolean).fill_null(False)
    false_node = node.args.get("false")
    if false_node is not None:
        then, otherwise = unify_results(compiler, [node.args["true"], false_node])
    else:
        then, otherwise = compiler.expr(node.args["true"]), pl.lit(None)
    return pl.when(condition).then(then).otherwise(otherwise)


@translates(exp.Try)
def try_(compiler: ExprCompiler, node: exp.Try) -> pl.Expr:
    """TRY(x): casts and parses inside x give NULL instead of failing the query."""
    with no_errors():
        return compiler.expr(node.this)


def _extreme(compiler: ExprCompiler, node: exp.Expression, largest: bool) -> pl.Expr:
    """GREATEST/LEAST: NULL if any argument is NULL (Trino), unlike Polars' horizontal max."""
    args = [node.this, *node.expressions]
    if len(args) < 2:
        fail(compiler, node, f"{call_name(node)}() needs at least two arguments")
    values = unify_results(compiler, args)
    combined = pl.max_horizontal(values) if largest else pl.min_horizontal(values)
    any_null = pl.any_horizontal([v.is_null() for v in values])
    return pl.when(any_null).then(None).otherwise(combined)


@translates(exp.Greatest, signatures="greatest(T...) -> T")
def greatest(compiler: ExprCompiler, node: exp.Greatest) -> pl.Expr:
    return _extreme(compiler, node, largest=True)


@translates(exp.Least, signatures="least(T...) -> T")
def least(compiler: ExprCompiler, node: exp.Least) -> pl.Expr:
    return _extreme(compiler, node, largest=False)
