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
from loglake.query.registry import EXPRESSIONS, NAMED_FUNCTIONS, ExprCompiler, function, translates


def _none_if_empty(value: pl.Expr, inputs: pl.Expr) -> pl.Expr:
    return pl.when(inputs.count() > 0).then(value).otherwise(None)


class _FilteredInputs:
    """The compiler, except that an aggregate's arguments keep only the rows FILTER selects."""

    def __init__(self, compiler: ExprCompiler, condition: pl.Expr):
        self._compiler = compiler
        self._condition = condition

    def expr(self, node: exp.Expression) -> pl.Expr:
        return self._compiler.expr(node).filter(self._condition)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._compiler, name)


@translates(exp.Filter)
def aggregate_filter(compiler: ExprCompiler, node: exp.Filter) -> pl.Expr:
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


@translates(
    exp.CountIf,
    aggregate=True,
    signatures="count_if(boolean) -> bigint",
    arguments=lambda node, name: [node.this],
)
def count_if(compiler: ExprCompiler, node: exp.CountIf) -> pl.Expr:
    """The sum of a boolean counts its true values and skips NULLs, and is 0 over no rows."""
    return compiler.expr(node.this).sum().cast(pl.Int64)


@translates(
    exp.ArgMin,
    aggregate=True,
    signatures=("min_by(T, K) -> T", "min_by(T, K, bigint) -> array(T)"),
)
def min_by(compiler: ExprCompiler, node: exp.ArgMin) -> pl.Expr:
    """min_by(x, y): x of the row with the smallest y (rows with NULL y are skipped)."""
    return _by(compiler, node, smallest=True)


@translates(
    exp.ArgMax,
    aggregate=True,
    signatures=("max_by(T, K) -> T", "max_by(T, K, bigint) -> array(T)"),
)
def max_by(compiler: ExprCompiler, node: exp.ArgMax) -> pl.Expr:
    return _by(compiler, node, smallest=False)


def _by(compiler: ExprCompiler, node: exp.Expression, smallest: bool) -> pl.Expr:
    """x of the row with the smallest/largest y; with n, the x of the n smallest/largest y."""
    value = compiler.expr(node.this)
    key = compiler.expr(node.expression)
    kept = value.filter(key.is_not_null())
    order = key.filter(key.is_not_null())
    count_node = node.args.get("count")
    if count_node is None:
        return kept.min_by(order) if smallest else kept.max_by(order)
    name = "min_by" if smallest else "max_by"
    n = _count_argument(compiler, count_node, name)
    chosen = kept.sort_by(order, descending=not smallest).head(n)
    return pl.when(order.count() > 0).then(chosen.implode())


@translates(exp.AnyValue, aggregate=True, signatures=("arbitrary(T) -> T", "any_value(T) -> T"))
def arbitrary(compiler: ExprCompiler, node: exp.AnyValue) -> pl.Expr:
    """arbitrary(x) / any_value(x): some non-NULL x of the group (here: the first one)."""
    return compiler.expr(node.this).drop_nulls().first()


@translates(exp.ArrayAgg, aggregate=True)
def array_agg(compiler: ExprCompiler, node: exp.ArrayAgg) -> pl.Expr:
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
def listagg(compiler: ExprCompiler, node: exp.GroupConcat) -> pl.Expr:
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


@function("map_agg", aggregate=True, signatures="map_agg(K, V) -> map(K, V)")
def map_agg(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """map_agg(key, value): a map over the group's rows; rows with a NULL key are skipped."""
    key_node, value_node = arity(compiler, node, 2)
    key = compiler.expr(key_node)
    value = compiler.expr(value_node)
    entries = pl.struct(key.alias("key"), value.alias("value")).filter(key.is_not_null())
    return _none_if_empty(entries.implode().list.to_map(), key)


@function("histogram", aggregate=True, signatures="histogram(T) -> map(T, bigint)")
def histogram(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """histogram(x): map from each distinct non-NULL x to its number of rows."""
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    counts = value.drop_nulls().value_counts(sort=True, name="value")
    entries = counts.struct.rename_fields(["key", "value"]).struct.with_fields(
        pl.field("value").cast(pl.Int64)
    )
    return _none_if_empty(entries.implode().list.to_map(), value)


@translates(
    exp.ApproxDistinct,
    aggregate=True,
    signatures=("approx_distinct(T) -> bigint", "approx_distinct(T, double) -> bigint"),
    arguments=lambda node, name: [a for a in (node.this, node.args.get("accuracy")) if a],
)
def approx_distinct(compiler: ExprCompiler, node: exp.ApproxDistinct) -> pl.Expr:
    """approx_distinct(x): computed exactly (a count of distinct non-NULL values)."""
    return compiler.expr(node.this).drop_nulls().n_unique().cast(pl.Int64)


@translates(exp.ApproxQuantile, aggregate=True)
def approx_percentile(compiler: ExprCompiler, node: exp.ApproxQuantile) -> pl.Expr:
    """approx_percentile(x, p) or (x, ARRAY[p1, p2, ...]): the value at rank p (nearest)."""
    value = compiler.expr(node.this)
    weight_node = node.args.get("weight")
    quantile = node.args.get("quantile")
    if isinstance(quantile, exp.Array):
        points = [require_constant(compiler, q, "percentile") for q in quantile.expressions]
    else:
        points = [require_constant(compiler, quantile, "percentile")]
    for p in points:
        if not isinstance(p, int | float) or not 0 <= p <= 1:
            fail(compiler, quantile, "Percentile must be between 0 and 1")
    if weight_node is not None:
        weight = compiler.expr(weight_node).cast(pl.Float64)
        present = value.is_not_null() & weight.is_not_null()
        order = value.filter(present).arg_sort()
        ordered = value.filter(present).gather(order)
        running = weight.filter(present).gather(order).cum_sum()
        total = running.last()
        results = [ordered.gather((running >= p * total).arg_max()).first() for p in points]
    else:
        results = [value.quantile(p, interpolation="nearest") for p in points]
    dtype = compiler.dtype(value)
    if T.is_integer(dtype) or dtype == pl.Float32:
        # Trino answers in the input's type: approx_percentile(bigint, double) -> bigint
        target = pl.Int64 if T.is_integer(dtype) else pl.Float32
        results = [r.cast(target) for r in results]
    if isinstance(quantile, exp.Array):
        return _none_if_empty(pl.concat_list(results), value)
    return results[0]


def _spread(compiler: ExprCompiler, node: exp.Expression, ddof: int, root: bool) -> pl.Expr:
    value = compiler.expr(node.this).cast(pl.Float64)
    out = value.std(ddof=ddof) if root else value.var(ddof=ddof)
    return pl.when(value.count() > ddof).then(out).otherwise(None)


@translates(
    exp.Stddev,
    exp.StddevSamp,
    aggregate=True,
    signatures=("stddev(double) -> double", "stddev_samp(double) -> double"),
)
def stddev(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    return _spread(compiler, node, ddof=1, root=True)


@translates(exp.StddevPop, aggregate=True, signatures="stddev_pop(double) -> double")
def stddev_pop(compiler: ExprCompiler, node: exp.StddevPop) -> pl.Expr:
    return _spread(compiler, node, ddof=0, root=True)


@translates(
    exp.Variance,
    aggregate=True,
    signatures=("variance(double) -> double", "var_samp(double) -> double"),
)
def variance(compiler: ExprCompiler, node: exp.Variance) -> pl.Expr:
    return _spread(compiler, node, ddof=1, root=False)


@translates(exp.VariancePop, aggregate=True, signatures="var_pop(double) -> double")
def var_pop(compiler: ExprCompiler, node: exp.VariancePop) -> pl.Expr:
    return _spread(compiler, node, ddof=0, root=False)


@translates(exp.LogicalAnd, aggregate=True, signatures="bool_and(boolean) -> boolean")
def bool_and(compiler: ExprCompiler, node: exp.LogicalAnd) -> pl.Expr:
    value = compiler.expr(node.this)
    return _none_if_empty(value.drop_nulls().all(), value)


@function("every", aggregate=True, signatures="every(boolean) -> boolean")
def every(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    return _none_if_empty(value.drop_nulls().all(), value)


@translates(exp.LogicalOr, aggregate=True, signatures="bool_or(boolean) -> boolean")
def bool_or(compiler: ExprCompiler, node: exp.LogicalOr) -> pl.Expr:
    value = compiler.expr(node.this)
    return _none_if_empty(value.drop_nulls().any(), value)


def _pairs(compiler: ExprCompiler, node: exp.Expression) -> tuple[pl.Expr, pl.Expr]:
    y = compiler.expr(node.this).cast(pl.Float64)
    x = compiler.expr(node.expression).cast(pl.Float64)
    both = y.is_not_null() & x.is_not_null()
    return y.filter(both), x.filter(both)


@translates(
    exp.Corr,
    aggregate=True,
    signatures="corr(double, double) -> double",
    arguments=lambda node, name: [node.this, node.expression],
)
def corr(compiler: ExprCompiler, node: exp.Corr) -> pl.Expr:
    y, x = _pairs(compiler, node)
    return pl.when(y.count() > 1).then(pl.corr(y, x)).otherwise(None)


@translates(exp.CovarSamp, aggregate=True, signatures="covar_samp(double, double) -> double")
def covar_samp(compiler: ExprCompiler, node: exp.CovarSamp) -> pl.Expr:
    y, x = _pairs(compiler, node)
    return pl.when(y.count() > 1).then(pl.cov(y, x, ddof=1)).otherwise(None)


@translates(exp.CovarPop, aggregate=True, signatures="covar_pop(double, double) -> double")
def covar_pop(compiler: ExprCompiler, node: exp.CovarPop) -> pl.Expr:
    y, x = _pairs(compiler, node)
    return pl.when(y.count() > 0).then(pl.cov(y, x, ddof=0)).otherwise(None)


@function("geometric_mean", aggregate=True, signatures="geometric_mean(double) -> double")
def geometric_mean(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg).cast(pl.Float64)
    return _none_if_empty(value.log().mean().exp(), value)


# --- statistical aggregates ----------------------------------------------------------------------


@translates(exp.Kurtosis, aggregate=True, signatures="kurtosis(double) -> double")
def kurtosis(compiler: ExprCompiler, node: exp.Kurtosis) -> pl.Expr:
    """Excess kurtosis, the unbiased estimate (NULL with fewer than four values)."""
    value = compiler.expr(node.this).cast(pl.Float64)
    return pl.when(value.count() > 3).then(value.kurtosis(fisher=True, bias=False))


@translates(exp.Skewness, aggregate=True, signatures="skewness(double) -> double")
def skewness(compiler: ExprCompiler, node: exp.Skewness) -> pl.Expr:
    """Fisher's moment coefficient of skewness (NULL with fewer than three values)."""
    value = compiler.expr(node.this).cast(pl.Float64)
    return pl.when(value.count() > 2).then(value.skew(bias=True))


def _regression(compiler: ExprCompiler, node: exp.Expression) -> tuple[pl.Expr, pl.Expr]:
    y, x = _pairs(compiler, node)
    n = x.count().cast(pl.Float64)
    slope = (n * (x * y).sum() - x.sum() * y.sum()) / (n * (x * x).sum() - x.sum() ** 2)
    return slope, (y.sum() - slope * x.sum()) / n


@translates(exp.RegrSlope, aggregate=True, signatures="regr_slope(double, double) -> double")
def regr_slope(compiler: ExprCompiler, node: exp.RegrSlope) -> pl.Expr:
    """Least-squares slope of y on x over the rows where both are present."""
    slope, _ = _regression(compiler, node)
    y, _x = _pairs(compiler, node)
    return pl.when(y.count() > 0).then(slope)


@translates(
    exp.RegrIntercept, aggregate=True, signatures="regr_intercept(double, double) -> double"
)
def regr_intercept(compiler: ExprCompiler, node: exp.RegrIntercept) -> pl.Expr:
    _, intercept = _regression(compiler, node)
    y, _x = _pairs(compiler, node)
    return pl.when(y.count() > 0).then(intercept)


# --- top values ----------------------------------------------------------------------------------


def _count_argument(compiler: ExprCompiler, node: exp.Expression, name: str) -> int:
    value = require_constant(compiler, node, f"{name}() count")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        fail(compiler, node, f"second argument of {name} must be a positive integer")
    if value > 10_000:
        fail(compiler, node, f"second argument of {name} must be less than or equal to 10000")
    return value


def top_values(compiler: ExprCompiler, node: exp.Expression, largest: bool) -> pl.Expr:
    """max(x, n) / min(x, n): the n largest (smallest) non-NULL values, largest (smallest) first."""
    name = "max" if largest else "min"
    n = _count_argument(compiler, node.expressions[0], name)
    value = compiler.expr(node.this).drop_nulls()
    chosen = value.top_k(n) if largest else value.bottom_k(n)
    ordered = chosen.sort(descending=largest)
    return pl.when(value.count() > 0).then(ordered.implode())


@function(
    "approx_most_frequent",
    aggregate=True,
    signatures=("approx_most_frequent(bigint, T, bigint) -> map(T, bigint)",),
)
def approx_most_frequent(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """approx_most_frequent(buckets, value, capacity): the buckets most frequent values with
    their counts (counted exactly here)."""
    buckets_node, value_node, _capacity = arity(compiler, node, 3)
    buckets = _count_argument(compiler, buckets_node, "approx_most_frequent")
    value = compiler.expr(value_node)
    counts = value.drop_nulls().value_counts(sort=True, name="value").head(buckets)
    entries = counts.struct.rename_fields(["key", "value"]).struct.with_fields(
        pl.field("value").cast(pl.Int64)
    )
    return _none_if_empty(entries.implode().list.to_map(), value)


@function("multimap_agg", aggregate=True, signatures="multimap_agg(K, V) -> map(K, array(V))")
def multimap_agg(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """multimap_agg(key, value): each key with the array of its values (rows with a NULL key
    are skipped)."""
    from loglake.query.functions.maps import group_entries

    key_node, value_node = arity(compiler, node, 2)
    key = compiler.expr(key_node)
    entries = pl.struct(key.alias("key"), compiler.expr(value_node).alias("value"))
    grouped = group_entries(entries.filter(key.is_not_null()).implode())
    return _none_if_empty(grouped.list.to_map(), key)


@function("map_union", aggregate=True, signatures="map_union(map(K, V)) -> map(K, V)")
def map_union(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """map_union(m): every key of the group's maps; a repeated key keeps one of its values."""
    from loglake.query.functions.common import as_map

    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    entries = as_map(value).map.entries().explode().drop_nulls()
    first = entries.filter(entries.struct.field("key").is_first_distinct())
    return _none_if_empty(first.implode().list.to_map(), value)


@function("checksum", aggregate=True, signatures="checksum(T) -> varbinary")
def checksum(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """checksum(x): an order-insensitive 8-byte checksum of the group's values (NULLs count):
    the wrapping sum of each value's xxHash64, little-endian."""
    from loglake.query.functions.binary import from_hex_text, hex_digits

    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    hashed = value.hash(seed=0).cast(pl.UInt64)
    total = hashed.sum()
    big_endian = hex_digits(total, 16)
    little_endian = big_endian.str.extract_all("..").list.reverse().list.join("")
    return pl.when(pl.len() > 0).then(from_hex_text(little_endian))


@function(
    "numeric_histogram",
    aggregate=True,
    signatures=(
        "numeric_histogram(bigint, double) -> map(double, double)",
        "numeric_histogram(bigint, double, double) -> map(double, double)",
    ),
)
def numeric_histogram(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """numeric_histogram(buckets, value[, weight]): up to buckets (centroid, weight) pairs,
    made by merging the closest neighbouring values (Ben-Haim and Tom-Tov), per group."""
    args = arity(compiler, node, 2, 3)
    buckets = _count_argument(compiler, args[0], "numeric_histogram")
    value = compiler.expr(args[1]).cast(pl.Float64)
    weight = compiler.expr(args[2]).cast(pl.Float64) if len(args) > 2 else pl.lit(1.0)
    present = value.is_not_null() & weight.is_not_null()
    pairs = pl.struct(value.filter(present).alias("v"), weight.filter(present).alias("w"))

    def merge(groups: pl.Series) -> pl.Series:
        from loglake.query.functions.special import merge_histogram

        return pl.Series(
            groups.name,
            [None if g is None else merge_histogram(g, buckets) for g in groups.to_list()],
            dtype=pl.List(pl.Struct({"key": pl.Float64, "value": pl.Float64})),
        )

    histogram = pairs.implode().map_batches(
        merge,
        return_dtype=pl.List(pl.Struct({"key": pl.Float64, "value": pl.Float64})),
        returns_scalar=True,
    )
    return pl.when(present.any()).then(histogram.list.to_map())


@function(
    "reduce_agg",
    aggregate=True,
    signatures="reduce_agg(T, S, function(S, T, S), function(S, S, S)) -> S",
)
def reduce_agg(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """reduce_agg(value, initial, (s, x) -> merge, (a, b) -> combine): the merge must be a fold
    (see folds.plan); NULL values are skipped."""
    from loglake.query.functions import folds
    from loglake.query.functions.common import bind_lambda

    value_node, initial_node, merge, _combine = arity(compiler, node, 4)
    fold_plan = folds.plan(compiler, merge)
    if fold_plan.row_type is not None or len(fold_plan.steps) != 1:
        fail(compiler, merge, "reduce_agg supports a scalar state")
    step = fold_plan.steps[0]
    value = compiler.expr(value_node)
    kept = value.filter(value.is_not_null())
    per_value = exp.Lambda(
        this=step.contribution.copy(), expressions=[exp.to_identifier(fold_plan.element)]
    )
    contribution = bind_lambda(compiler, per_value, [kept], 1)
    initial = compiler.expr(initial_node)
    target = T.common_supertype(compiler.dtype(initial), compiler.dtype(value)) or compiler.dtype(
        initial
    )
    folded = folds.fold(step.operator, contribution.cast(target), within_list=False)
    return pl.when(kept.count() > 0).then(
        folds.combine(step.operator, initial.first(), folded).cast(target)
    )
