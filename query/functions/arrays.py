"""Array functions and lambdas over Polars lists.

Arrays are 1-based in SQL. Lambdas (``x -> x + 1``) run inside ``list.eval`` with the parameter
bound to ``pl.element()``; a lambda body may use the element and constants, not other columns
(Polars evaluates it per list, away from the row).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import (
    arity,
    bind_lambda,
    constant,
    fail,
    is_entry_list,
    null_if_any_null,
    require_constant,
)
from loglake.query.registry import function, translates


def _has_null(values: pl.Expr) -> pl.Expr:
    return values.list.eval(pl.element().is_null().any()).list.first()


def dtype_switch(value: pl.Expr, choose: Any) -> pl.Expr:
    """Pick the translation once the input's Polars dtype is known (at plan time)."""
    return value.pipe_with_dtype(choose)


@translates(exp.ArraySize)
def cardinality(compiler: Any, node: exp.ArraySize) -> pl.Expr:
    """cardinality(array | map)."""

    def choose(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        if isinstance(dtype, pl.Map):
            return value.map.len().cast(pl.Int64)
        return value.list.len().cast(pl.Int64)  # also the {key, value} list layout of maps

    return dtype_switch(compiler.expr(node.this), choose)


@translates(exp.ArrayContains)
def contains(compiler: Any, node: exp.ArrayContains) -> pl.Expr:
    """contains(array, x): NULL when x is absent but the array holds NULLs (Trino).

    contains('10.0.0.0/8', ip) tests an IP address against a CIDR prefix (see ip.py).
    """
    from loglake.query.functions import ip

    container = compiler.expr(node.this)
    value = compiler.expr(node.expression)

    def choose(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        if dtype in (pl.String, pl.Null) and not isinstance(dtype, pl.List):
            prefix = constant(node.this)
            return ip.prefix_contains(expr, value, prefix if isinstance(prefix, str) else None)
        found = expr.list.contains(value)
        return null_if_any_null(
            pl.when(found).then(True).when(_has_null(expr)).then(None).otherwise(False),
            expr,
            value,
        )

    return dtype_switch(container, choose)


def _one_based(compiler: Any, node: exp.Bracket) -> tuple[exp.Expression, bool]:
    """The index node and whether it is 1-based (sqlglot pre-shifts literal subscripts)."""
    (index,) = node.expressions
    if node.args.get("offset") == 1:
        return index, True
    base_type = node.this.type
    if base_type is not None and base_type.is_type(exp.DataType.Type.STRUCT):
        return index, True  # a subscript of a known ROW is left as written
    return index, not (isinstance(index, exp.Literal) and not index.is_string)


@translates(exp.Bracket)
def subscript(compiler: Any, node: exp.Bracket) -> pl.Expr:
    """array[i], map[key] and element_at(array | map, i | key).

    element_at counts negative indexes from the end and gives NULL past either end or for a
    missing key; array[i] out of bounds fails the query, as in Trino.
    """
    if len(node.expressions) != 1:
        fail(compiler, node, "subscript takes one index")
    index_node, one_based = _one_based(compiler, node)
    literal = constant(index_node)
    safe = bool(node.args.get("safe"))
    container = compiler.expr(node.this)
    key = compiler.expr(index_node)

    def choose(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        if isinstance(dtype, pl.Map):
            return expr.map.get(key)
        if is_entry_list(dtype):
            return expr.list.to_map().map.get(key)
        if isinstance(dtype, pl.Struct):
            position = literal + (0 if one_based else 1) if isinstance(literal, int) else None
            if position is None or not 1 <= position <= len(dtype.fields):
                shown = index_node.sql("trino") if position is None else position
                fail(compiler, index_node, f"Invalid field index {shown} for a row")
            return expr.struct.field(dtype.fields[position - 1].name)
        if not one_based:
            return expr.list.get(key.cast(pl.Int64), null_on_oob=False)
        if isinstance(literal, int) and literal == 0:
            fail(compiler, index_node, "SQL array indices start at 1")
        if not safe and isinstance(literal, int) and literal < 0:
            fail(compiler, index_node, f"Array subscript is negative: {literal}")
        i = key.cast(pl.Int64)
        return expr.list.get(pl.when(i > 0).then(i - 1).otherwise(i), null_on_oob=safe)

    return dtype_switch(container, choose)


@translates(exp.ArrayToString)
def array_join(compiler: Any, node: exp.ArrayToString) -> pl.Expr:
    """array_join(array, delimiter[, null_replacement]): NULL elements are skipped unless a
    replacement is given."""
    values = compiler.expr(node.this)
    delimiter = require_constant(compiler, node.expression, "array_join() delimiter")
    replacement_node = node.args.get("null")
    as_text = values.list.eval(pl.element().cast(pl.String))
    if replacement_node is not None:
        replacement = require_constant(compiler, replacement_node, "array_join() replacement")
        if replacement is None:
            return pl.lit(None, pl.String)
        as_text = as_text.list.eval(pl.element().fill_null(replacement))
    if delimiter is None:
        return pl.lit(None, pl.String)
    return as_text.list.join(delimiter, ignore_nulls=True)


@translates(exp.ArrayDistinct)
def array_distinct(compiler: Any, node: exp.ArrayDistinct) -> pl.Expr:
    return compiler.expr(node.this).list.unique(maintain_order=True)


@translates(exp.ArraySort)
def array_sort(compiler: Any, node: exp.ArraySort) -> pl.Expr:
    """array_sort(array): ascending, NULLs last. A comparator lambda is not supported."""
    if node.args.get("expression") is not None:
        fail(compiler, node.args["expression"], "array_sort() with a comparator is not supported")
    return compiler.expr(node.this).list.sort(nulls_last=True)


@translates(exp.ArrayMax)
def array_max(compiler: Any, node: exp.ArrayMax) -> pl.Expr:
    """array_max(array): NULL when any element is NULL, as in Trino."""
    values = compiler.expr(node.this)
    return pl.when(_has_null(values)).then(None).otherwise(values.list.max())


@translates(exp.ArrayMin)
def array_min(compiler: Any, node: exp.ArrayMin) -> pl.Expr:
    values = compiler.expr(node.this)
    return pl.when(_has_null(values)).then(None).otherwise(values.list.min())


@translates(exp.ArraySlice)
def slice_(compiler: Any, node: exp.ArraySlice) -> pl.Expr:
    """slice(array, start, length): 1-based start, negative counts from the end."""
    values = compiler.expr(node.this)
    start_node = node.args.get("start")
    length_node = node.args.get("end")
    if start_node is None or length_node is None:
        fail(compiler, node, "slice() takes three arguments: array, start, length")
    start_value = constant(start_node)
    if start_value == 0:
        fail(compiler, start_node, "SQL array indices start at 1")
    length_value = constant(length_node)
    if isinstance(length_value, int) and length_value < 0:
        fail(compiler, length_node, "length must be greater than or equal to 0")
    start = compiler.expr(start_node).cast(pl.Int64)
    length = compiler.expr(length_node).cast(pl.Int64)
    size = values.list.len().cast(pl.Int64)
    offset = pl.when(start > 0).then(start - 1).otherwise(size + start)
    empty = (offset < 0) | (offset >= size)
    sliced = values.list.slice(offset.clip(lower_bound=0), length)
    out = pl.when(empty).then(values.list.head(0)).otherwise(sliced)
    return null_if_any_null(out, values, start, length)


@translates(exp.Flatten)
def flatten(compiler: Any, node: exp.Flatten) -> pl.Expr:
    return compiler.expr(node.this).list.eval(pl.element().explode())


@translates(exp.GenerateSeries)
def sequence(compiler: Any, node: exp.GenerateSeries) -> pl.Expr:
    """sequence(start, stop[, step]): inclusive; integers step by ±1 and dates by one day
    unless a step is given."""
    start = compiler.expr(node.args["start"])
    stop = compiler.expr(node.args["end"])
    step_node = node.args.get("step")

    def choose(pairs: list[tuple[pl.Expr, pl.DataType]]) -> pl.Expr:
        (first, dtype), (last, _) = pairs
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            if step_node is None:
                interval = "1d"
            else:
                interval = _interval_text(compiler, step_node)
            ranges = (
                pl.date_ranges(first, last, interval, closed="both")
                if dtype == pl.Date
                else pl.datetime_ranges(first, last, interval, closed="both")
            )
            return ranges
        a, b = first.cast(pl.Int64), last.cast(pl.Int64)
        if step_node is None:
            step = pl.when(b >= a).then(pl.lit(1, pl.Int64)).otherwise(pl.lit(-1, pl.Int64))
        else:
            value = constant(step_node)
            if value == 0:
                fail(compiler, step_node, "step must not be zero")
            step = compiler.expr(step_node).cast(pl.Int64)
        end = b + pl.when(step > 0).then(pl.lit(1, pl.Int64)).otherwise(pl.lit(-1, pl.Int64))
        return pl.int_ranges(a, end, step, dtype=pl.Int64)

    return pl.pipe_with_dtype([start, stop], choose)


def _interval_text(compiler: Any, node: exp.Expression) -> str:
    if not isinstance(node, exp.Interval):
        fail(compiler, node, "a date sequence step must be an INTERVAL literal")
    amount = require_constant(compiler, node.this, "interval")
    unit = node.text("unit").lower().rstrip("s")
    suffix = {
        "second": "s",
        "minute": "m",
        "hour": "h",
        "day": "d",
        "week": "w",
        "month": "mo",
        "year": "y",
    }
    if unit not in suffix:
        fail(compiler, node, f"unsupported interval unit {unit!r}")
    return f"{int(amount)}{suffix[unit]}"


# --- lambdas -------------------------------------------------------------------------------------


@translates(exp.Transform)
def transform(compiler: Any, node: exp.Transform) -> pl.Expr:
    """transform(array, x -> f(x))."""
    body = bind_lambda(compiler, node.expression, [pl.element()], 1)
    return compiler.expr(node.this).list.eval(body)


@translates(exp.ArrayFilter)
def filter_(compiler: Any, node: exp.ArrayFilter) -> pl.Expr:
    """filter(array, x -> predicate): keeps elements whose predicate is true (not NULL)."""
    predicate = bind_lambda(compiler, node.expression, [pl.element()], 1)
    return compiler.expr(node.this).list.eval(pl.element().filter(predicate.fill_null(False)))


def _match(compiler: Any, node: exp.Anonymous, kind: str) -> pl.Expr:
    values_node, lam = arity(compiler, node, 2)
    predicate = bind_lambda(compiler, lam, [pl.element()], 1)
    values = compiler.expr(values_node)
    tests = values.list.eval(predicate)
    any_true = tests.list.eval((pl.element() == True).any()).list.first()  # noqa: E712
    any_false = tests.list.eval((pl.element() == False).any()).list.first()  # noqa: E712
    any_null = tests.list.eval(pl.element().is_null().any()).list.first()
    if kind == "any":
        out = pl.when(any_true).then(True).when(any_null).then(None).otherwise(False)
    elif kind == "all":
        out = pl.when(any_false).then(False).when(any_null).then(None).otherwise(True)
    else:
        out = pl.when(any_true).then(False).when(any_null).then(None).otherwise(True)
    return null_if_any_null(out, values)


@function("any_match")
def any_match(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """any_match(array, x -> p): true if p holds for some element; NULL if undecided."""
    return _match(compiler, node, "any")


@function("all_match")
def all_match(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    return _match(compiler, node, "all")


@function("none_match")
def none_match(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    return _match(compiler, node, "none")


def _inner_type(compiler: Any, values: pl.Expr) -> pl.DataType:
    dtype = compiler.dtype(values)
    return dtype.inner if isinstance(dtype, pl.List) else dtype  # type: ignore[return-value]


_FOLDS = {
    exp.Add: lambda items: items.list.sum(),
    exp.Mul: lambda items: items.list.eval(pl.element().product()).list.first(),
    exp.Greatest: lambda items: items.list.max(),
    exp.Least: lambda items: items.list.min(),
}


@translates(exp.Reduce)
def reduce_(compiler: Any, node: exp.Reduce) -> pl.Expr:
    """reduce(array, initial, (s, x) -> s OP f(x), s -> g(s)) for OP in +, *, greatest, least.

    Polars has no general left fold over list elements, so the merge lambda must combine the
    state with a function of the element by one of those operators; anything else is an error.
    """
    merge = node.args.get("merge")
    if not isinstance(merge, exp.Lambda) or len(merge.expressions) != 2:
        fail(compiler, node, "reduce() needs a two-argument merge lambda (s, x) -> ...")
    state, element = (p.name.lower() for p in merge.expressions)
    body = merge.this
    while isinstance(body, exp.Paren):
        body = body.this
    operands: list[exp.Expression] = []
    if isinstance(body, exp.Add | exp.Mul):
        operands = [body.this, body.expression]
    elif isinstance(body, exp.Greatest | exp.Least) and len(body.expressions) == 1:
        operands = [body.this, body.expressions[0]]
    else:
        fail(compiler, merge, "reduce() supports merge lambdas s + f(x), s * f(x), greatest, least")

    def is_state(e: exp.Expression) -> bool:
        return isinstance(e, exp.Identifier | exp.Column) and e.name.lower() == state

    rest = [e for e in operands if not is_state(e)]
    mentions = [
        sub
        for e in rest
        for sub in e.walk()
        if isinstance(sub, exp.Identifier | exp.Column) and sub.name.lower() == state
    ]
    if len(rest) != 1 or mentions:
        fail(compiler, merge, "reduce(): the merge lambda must combine s with a function of x")
    per_element = exp.Lambda(this=rest[0].copy(), expressions=[exp.to_identifier(element)])
    mapped_body = bind_lambda(compiler, per_element, [pl.element()], 1)
    values = compiler.expr(node.this)
    mapped = values.list.eval(mapped_body)
    folded = _FOLDS[type(body)](mapped).cast(_inner_type(compiler, mapped))
    initial = compiler.expr(node.args["initial"])
    if isinstance(body, exp.Add):
        combined = initial + folded
    elif isinstance(body, exp.Mul):
        combined = initial * folded
    elif isinstance(body, exp.Greatest):
        combined = pl.max_horizontal(initial, folded)
    else:
        combined = pl.min_horizontal(initial, folded)
    empty = values.list.len() == 0
    result = pl.when(empty).then(initial).when(_has_null(mapped)).then(None).otherwise(combined)
    result = null_if_any_null(result, values)
    finish = node.args.get("finish")
    if finish is None:
        return result
    return bind_lambda(compiler, finish, [result], 1)


@translates(exp.ArrayPosition)
def array_position(compiler: Any, node: exp.ArrayPosition) -> pl.Expr:
    """array_position(array, x): 1-based position of the first x, 0 when absent."""
    value = require_constant(compiler, node.expression, "array_position() value")
    values = compiler.expr(node.this)
    if value is None:
        return pl.lit(None, pl.Int64)
    found = values.list.eval(pl.element().index_of(value)).list.first()
    return pl.when(values.is_null()).then(None).otherwise((found.cast(pl.Int64) + 1).fill_null(0))


@translates(exp.ArrayRemove)
def array_remove(compiler: Any, node: exp.ArrayRemove) -> pl.Expr:
    value = require_constant(compiler, node.expression, "array_remove() value")
    values = compiler.expr(node.this)
    if value is None:
        return pl.lit(None, pl.List(pl.Null))
    return values.list.eval(pl.element().filter((pl.element() != value).fill_null(True)))


@translates(exp.ArrayIntersect)
def array_intersect(compiler: Any, node: exp.ArrayIntersect) -> pl.Expr:
    first, *rest = (compiler.expr(e) for e in node.expressions)
    out = first.list.unique(maintain_order=True)
    for other in rest:
        out = out.list.set_intersection(other)
    return out


@translates(exp.ArrayExcept)
def array_except(compiler: Any, node: exp.ArrayExcept) -> pl.Expr:
    a = compiler.expr(node.this)
    b = compiler.expr(node.expression)
    return a.list.unique(maintain_order=True).list.set_difference(b)


@function("array_union")
def array_union(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    a, b = (compiler.expr(e) for e in arity(compiler, node, 2))
    return a.list.set_union(b)


@function("arrays_overlap")
def arrays_overlap(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    a, b = (compiler.expr(e) for e in arity(compiler, node, 2))
    common = a.list.drop_nulls().list.set_intersection(b.list.drop_nulls())
    return null_if_any_null(common.list.len() > 0, a, b)
