"""Aggregate functions beyond count/sum/avg/min/max (which the core compiles).

Each translator returns one Polars aggregation over the group's rows; the compiler places it in
``group_by(...).agg(...)`` (or a global ``select``). As in Trino, aggregates skip NULL inputs
(array_agg keeps them) and give NULL over no rows (count_if gives 0).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.functions.common import arity, fail, require_constant
from loglake.query.registry import EXPRESSIONS, NAMED_FUNCTIONS, function, translates


def _argument(compiler: Any, node: exp.Expression) -> tuple[pl.Expr, bool]:
    """(compiled argument, DISTINCT?) of an aggregate's first argument."""
    arg = node.this
    if isinstance(arg, exp.Distinct):
        if len(arg.expressions) != 1:
            fail(compiler, node, "DISTINCT aggregates take one argument")
        return compiler.expr(arg.expressions[0]), True
    return compiler.expr(arg), False


def _none_if_empty(value: pl.Expr, inputs: pl.Expr) -> pl.Expr:
    return pl.when(inputs.count() > 0).then(value).otherwise(None)


class _FilteredInputs:
    """The compiler, except that an aggregate's arguments keep only the rows FILTER selects."""

    def __init__(self, compiler: Any, condition: pl.Expr):
        self._compiler = compiler
        self._condition = condition

    def expr(self, node: exp.Expression) -> pl.Expr:
        return self._compiler.expr(node).filter(self._condition)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compiler, name)


@translates(exp.Filter)
def aggregate_filter(compiler: Any, node: exp.Filter) -> pl.Expr:
    """agg(...) FILTER (WHERE condition) for the library's aggregates."""
    where = node.expression
    condition = compiler.expr(where.this if isinstance(where, exp.Where) else where)
    inner = node.this
    translator = EXPRESSIONS.get(type(inner))
    if translator is None and isinstance(inner, exp.Anonymous):
        translator = NAMED_FUNCTIONS.get(inner.name.lower())
    if translator is None:
        fail(compiler, node, "FILTER applies only to aggregate functions")
    return translator(_FilteredInputs(compiler, condition.fill_null(False)), inner)


@translates(exp.CountIf, aggregate=True)
def count_if(compiler: Any, node: exp.CountIf) -> pl.Expr:
    return compiler.expr(node.this).fill_null(False).cast(pl.Int64).sum()


@translates(exp.ArgMin, aggregate=True)
def min_by(compiler: Any, node: exp.ArgMin) -> pl.Expr:
    """min_by(x, y): x of the row with the smallest y (rows with NULL y are skipped)."""
    return _by(compiler, node, smallest=True)


@translates(exp.ArgMax, aggregate=True)
def max_by(compiler: Any, node: exp.ArgMax) -> pl.Expr:
    return _by(compiler, node, smallest=False)


def _by(compiler: Any, node: exp.Expression, smallest: bool) -> pl.Expr:
    if node.args.get("count") is not None:
        fail(compiler, node, f"{node.sql_name().lower()}() with a count is not supported")
    value = compiler.expr(node.this)
    key = compiler.expr(node.expression)
    kept = value.filter(key.is_not_null())
    order = key.filter(key.is_not_null())
    return kept.min_by(order) if smallest else kept.max_by(order)


@translates(exp.AnyValue, aggregate=True)
def arbitrary(compiler: Any, node: exp.AnyValue) -> pl.Expr:
    """arbitrary(x) / any_value(x): some non-NULL x of the group (here: the first one)."""
    return compiler.expr(node.this).drop_nulls().first()


@translates(exp.ArrayAgg, aggregate=True)
def array_agg(compiler: Any, node: exp.ArrayAgg) -> pl.Expr:
    """array_agg(x [ORDER BY ...]): every x, NULLs included; DISTINCT keeps first occurrences."""
    arg = node.this
    order: list[exp.Ordered] = []
    if isinstance(arg, exp.Order):
        order = list(arg.expressions)
        arg = arg.this
    distinct = isinstance(arg, exp.Distinct)
    if distinct:
        arg = arg.expressions[0]
    value = compiler.expr(arg)
    if order:
        keys = [compiler.expr(o.this) for o in order]
        descending = [bool(o.args.get("desc")) for o in order]
        nulls_last = [not o.args.get("nulls_first") for o in order]
        value = value.sort_by(keys, descending=descending, nulls_last=nulls_last)
    if distinct:
        value = value.unique(maintain_order=True)
    return pl.when(value.len() > 0).then(value.implode()).otherwise(None)


@translates(exp.GroupConcat, aggregate=True)
def listagg(compiler: Any, node: exp.GroupConcat) -> pl.Expr:
    """listagg(x, separator) WITHIN GROUP (ORDER BY ...): NULL values are skipped."""
    arg = node.this
    order: list[exp.Ordered] = []
    if isinstance(arg, exp.Order):
        order = list(arg.expressions)
        arg = arg.this
    separator = node.args.get("separator")
    sep = "" if separator is None else require_constant(compiler, separator, "listagg separator")
    value = compiler.expr(arg).cast(pl.String)
    if order:
        keys = [compiler.expr(o.this) for o in order]
        value = value.sort_by(keys, descending=[bool(o.args.get("desc")) for o in order])
    return _none_if_empty(value.drop_nulls().str.join(sep), value)


@function("map_agg", aggregate=True)
def map_agg(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """map_agg(key, value): a map over the group's rows; rows with a NULL key are skipped."""
    key_node, value_node = arity(compiler, node, 2)
    key = compiler.expr(key_node)
    value = compiler.expr(value_node)
    entries = pl.struct(key.alias("key"), value.alias("value")).filter(key.is_not_null())
    return _none_if_empty(entries.implode().list.to_map(), key)


@function("histogram", aggregate=True)
def histogram(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """histogram(x): map from each distinct non-NULL x to its number of rows."""
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    counts = value.drop_nulls().value_counts(sort=True, name="value")
    entries = counts.struct.rename_fields(["key", "value"]).struct.with_fields(
        pl.field("value").cast(pl.Int64)
    )
    return _none_if_empty(entries.implode().list.to_map(), value)


@translates(exp.ApproxDistinct, aggregate=True)
def approx_distinct(compiler: Any, node: exp.ApproxDistinct) -> pl.Expr:
    """approx_distinct(x): computed exactly (a count of distinct non-NULL values)."""
    return compiler.expr(node.this).drop_nulls().n_unique().cast(pl.Int64)


@translates(exp.ApproxQuantile, aggregate=True)
def approx_percentile(compiler: Any, node: exp.ApproxQuantile) -> pl.Expr:
    """approx_percentile(x, p) or (x, ARRAY[p1, p2, ...]): the value at rank p (nearest)."""
    if node.args.get("weight") is not None or node.args.get("accuracy") is not None:
        fail(compiler, node, "approx_percentile() with weights or accuracy is not supported")
    value = compiler.expr(node.this)
    quantile = node.args.get("quantile")
    if isinstance(quantile, exp.Array):
        points = [require_constant(compiler, q, "percentile") for q in quantile.expressions]
    else:
        points = [require_constant(compiler, quantile, "percentile")]
    for p in points:
        if not isinstance(p, int | float) or not 0 <= p <= 1:
            fail(compiler, quantile, "Percentile must be between 0 and 1")
    results = [value.quantile(p, interpolation="nearest") for p in points]
    dtype = compiler.dtype(value)
    if T.is_integer(dtype) or dtype == pl.Float32:
        # Trino answers in the input's type: approx_percentile(bigint, double) -> bigint
        target = pl.Int64 if T.is_integer(dtype) else pl.Float32
        results = [r.cast(target) for r in results]
    if isinstance(quantile, exp.Array):
        return _none_if_empty(pl.concat_list(results), value)
    return results[0]


def _spread(compiler: Any, node: exp.Expression, ddof: int, root: bool) -> pl.Expr:
    value = compiler.expr(node.this).cast(pl.Float64)
    out = value.std(ddof=ddof) if root else value.var(ddof=ddof)
    return pl.when(value.count() > ddof).then(out).otherwise(None)


@translates(exp.Stddev, exp.StddevSamp, aggregate=True)
def stddev(compiler: Any, node: exp.Expression) -> pl.Expr:
    return _spread(compiler, node, ddof=1, root=True)


@translates(exp.StddevPop, aggregate=True)
def stddev_pop(compiler: Any, node: exp.StddevPop) -> pl.Expr:
    return _spread(compiler, node, ddof=0, root=True)


@translates(exp.Variance, aggregate=True)
def variance(compiler: Any, node: exp.Variance) -> pl.Expr:
    return _spread(compiler, node, ddof=1, root=False)


@translates(exp.VariancePop, aggregate=True)
def var_pop(compiler: Any, node: exp.VariancePop) -> pl.Expr:
    return _spread(compiler, node, ddof=0, root=False)


@translates(exp.LogicalAnd, aggregate=True)
def bool_and(compiler: Any, node: exp.LogicalAnd) -> pl.Expr:
    value = compiler.expr(node.this)
    return _none_if_empty(value.drop_nulls().all(), value)


@function("every", aggregate=True)
def every(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    return _none_if_empty(value.drop_nulls().all(), value)


@translates(exp.LogicalOr, aggregate=True)
def bool_or(compiler: Any, node: exp.LogicalOr) -> pl.Expr:
    value = compiler.expr(node.this)
    return _none_if_empty(value.drop_nulls().any(), value)


def _pairs(compiler: Any, node: exp.Expression) -> tuple[pl.Expr, pl.Expr]:
    y = compiler.expr(node.this).cast(pl.Float64)
    x = compiler.expr(node.expression).cast(pl.Float64)
    both = y.is_not_null() & x.is_not_null()
    return y.filter(both), x.filter(both)


@translates(exp.Corr, aggregate=True)
def corr(compiler: Any, node: exp.Corr) -> pl.Expr:
    y, x = _pairs(compiler, node)
    return pl.when(y.count() > 1).then(pl.corr(y, x)).otherwise(None)


@translates(exp.CovarSamp, aggregate=True)
def covar_samp(compiler: Any, node: exp.CovarSamp) -> pl.Expr:
    y, x = _pairs(compiler, node)
    return pl.when(y.count() > 1).then(pl.cov(y, x, ddof=1)).otherwise(None)


@translates(exp.CovarPop, aggregate=True)
def covar_pop(compiler: Any, node: exp.CovarPop) -> pl.Expr:
    y, x = _pairs(compiler, node)
    return pl.when(y.count() > 0).then(pl.cov(y, x, ddof=0)).otherwise(None)


@function("geometric_mean", aggregate=True)
def geometric_mean(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg).cast(pl.Float64)
    return _none_if_empty(value.log().mean().exp(), value)
