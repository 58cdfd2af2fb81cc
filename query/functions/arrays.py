"""Array functions and lambdas over Polars lists.

Arrays are 1-based in SQL. Lambdas (``x -> x + 1``) run inside ``list.eval`` with the parameter
bound to ``pl.element()``; a lambda body may use the element and constants, not other columns
(Polars evaluates it per list, away from the row).
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.functions import folds
from loglake.query.functions.common import (
    arity,
    bind_lambda,
    constant,
    fail,
    is_entry_list,
    null_if_any_null,
    require_constant,
)
from loglake.query.functions.lambdas import (
    apply,
    fields,
    keep_elements,
    lambda_of,
    zip_lists,
)
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard


def _has_null(values: pl.Expr) -> pl.Expr:
    return values.list.eval(pl.element().is_null().any()).list.first()


def dtype_switch(value: pl.Expr, choose: Any) -> pl.Expr:
    """Pick the translation once the input's Polars dtype is known (at plan time)."""
    return value.pipe_with_dtype(choose)


@translates(
    exp.ArraySize,
    signatures=("cardinality(array(E)) -> bigint", "cardinality(map(K, V)) -> bigint"),
    arguments=lambda node, name: [node.this],
)
def cardinality(compiler: ExprCompiler, node: exp.ArraySize) -> pl.Expr:
    """cardinality(array | map)."""

    def choose(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        if isinstance(dtype, pl.Map):
            return value.map.len().cast(pl.Int64)
        return value.list.len().cast(pl.Int64)  # also the {key, value} list layout of maps

    return dtype_switch(compiler.expr(node.this), choose)


@translates(
    exp.ArrayContains,
    signatures=("contains(array(T), T) -> boolean", "contains(ipprefix, ipaddress) -> boolean"),
    arguments=lambda node, name: [node.this, node.expression],
)
def contains(compiler: ExprCompiler, node: exp.ArrayContains) -> pl.Expr:
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


def _one_based(compiler: ExprCompiler, node: exp.Bracket) -> tuple[exp.Expression, bool]:
    """The index node and whether it is 1-based (sqlglot pre-shifts literal subscripts)."""
    (index,) = node.expressions
    if node.args.get("offset") == 1:
        return index, True
    base_type = node.this.type
    if base_type is not None and base_type.is_type(exp.DataType.Type.STRUCT):
        return index, True  # a subscript of a known ROW is left as written
    return index, not (isinstance(index, exp.Literal) and not index.is_string)


def _checked_subscript(
    compiler: ExprCompiler, node: exp.Expression, found: pl.Expr, index: pl.Expr, values: pl.Expr
) -> pl.Expr:
    """array[i] past the end fails the query, as in Trino (element_at gives NULL instead)."""
    size = values.list.len().cast(pl.Int64)
    message = pl.concat_str(
        [
            pl.lit("Array subscript must be less than or equal to array length: "),
            index.cast(pl.String),
            pl.lit(" > "),
            size.cast(pl.String),
        ]
    )
    return guard(compiler, node, found, index > size, message)


@translates(
    exp.Bracket,
    signatures=("element_at(array(E), bigint) -> E", "element_at(map(K, V), K) -> V"),
    arguments=lambda node, name: [node.this, *node.expressions] if node.args.get("safe") else None,
)
def subscript(compiler: ExprCompiler, node: exp.Bracket) -> pl.Expr:
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
            # sqlglot has already made a literal subscript 0-based
            i = key.cast(pl.Int64) + 1
            found = expr.list.get(key.cast(pl.Int64), null_on_oob=True)
            return _checked_subscript(compiler, node, found, i, expr)
        if isinstance(literal, int) and literal == 0:
            fail(compiler, index_node, "SQL array indices start at 1")
        if not safe and isinstance(literal, int) and literal < 0:
            fail(compiler, index_node, f"Array subscript is negative: {literal}")
        i = key.cast(pl.Int64)
        found = expr.list.get(pl.when(i > 0).then(i - 1).otherwise(i), null_on_oob=True)
        if safe:
            return found
        return _checked_subscript(compiler, node, found, i, expr)

    return dtype_switch(container, choose)


@translates(
    exp.ArrayToString,
    signatures=(
        "array_join(array(T), varchar) -> varchar",
        "array_join(array(T), varchar, varchar) -> varchar",
    ),
    arguments=lambda node, name: [
        a for a in (node.this, node.expression, node.args.get("null")) if a
    ],
)
def array_join(compiler: ExprCompiler, node: exp.ArrayToString) -> pl.Expr:
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


@translates(
    exp.ArrayDistinct,
    signatures="array_distinct(array(E)) -> array(E)",
    arguments=lambda node, name: [node.this],
)
def array_distinct(compiler: ExprCompiler, node: exp.ArrayDistinct) -> pl.Expr:
    return compiler.expr(node.this).list.unique(maintain_order=True)


@translates(exp.ArrayMax, signatures="array_max(array(E)) -> E")
def array_max(compiler: ExprCompiler, node: exp.ArrayMax) -> pl.Expr:
    """array_max(array): NULL when any element is NULL, as in Trino."""
    values = compiler.expr(node.this)
    return pl.when(_has_null(values)).then(None).otherwise(values.list.max())


@translates(exp.ArrayMin, signatures="array_min(array(E)) -> E")
def array_min(compiler: ExprCompiler, node: exp.ArrayMin) -> pl.Expr:
    values = compiler.expr(node.this)
    return pl.when(_has_null(values)).then(None).otherwise(values.list.min())


@translates(
    exp.ArraySlice,
    signatures="slice(array(E), bigint, bigint) -> array(E)",
    arguments=lambda node, name: [
        a for a in (node.this, node.args.get("start"), node.args.get("end")) if a
    ],
)
def slice_(compiler: ExprCompiler, node: exp.ArraySlice) -> pl.Expr:
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


@translates(exp.Flatten, signatures="flatten(array(array(E))) -> array(E)")
def flatten(compiler: ExprCompiler, node: exp.Flatten) -> pl.Expr:
    return compiler.expr(node.this).list.eval(pl.element().explode())


#: Trino's limit on the entries one sequence() call may return
SEQUENCE_MAX_ENTRIES = 10_000
_FIXED_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@translates(exp.GenerateSeries)
def sequence(compiler: ExprCompiler, node: exp.GenerateSeries) -> pl.Expr:
    """sequence(start, stop[, step]): inclusive; integers step by ±1 and dates by one day
    unless a step is given. More than 10,000 entries fail as in Trino, before any is made (a
    row that would break the limit builds an empty range, then the guard fails the query)."""
    start = compiler.expr(node.args["start"])
    stop = compiler.expr(node.args["end"])
    step_node = node.args.get("step")
    if step_node is not None and constant(step_node) == 0:
        fail(compiler, step_node, "step must not be zero")
    message = f"result of sequence function must not have more than {SEQUENCE_MAX_ENTRIES} entries"

    def planned(pairs: list[tuple[pl.Expr, pl.DataType]]) -> tuple[pl.Expr, pl.Expr]:
        """The ranges (empty where there would be too many entries) and where that is."""
        (first, dtype), (last, _) = pairs
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            interval = "1d" if step_node is None else _interval_text(compiler, step_node)
            too_many = _too_many_steps(first, last, interval)
            last = pl.when(too_many).then(first).otherwise(last)
            ranges = (
                pl.date_ranges(first, last, interval, closed="both")
                if dtype == pl.Date
                else pl.datetime_ranges(first, last, interval, closed="both")
            )
            return ranges, too_many
        a, b = first.cast(pl.Int64), last.cast(pl.Int64)
        if step_node is None:
            step = pl.when(b >= a).then(pl.lit(1, pl.Int64)).otherwise(pl.lit(-1, pl.Int64))
        else:
            value = constant(step_node)
            if value == 0:
                fail(compiler, step_node, "step must not be zero")
            step = compiler.expr(step_node).cast(pl.Int64)
        span = b.cast(pl.Int128) - a.cast(pl.Int128)
        too_many = ((span >= 0) == (step > 0)) & (
            span.abs() >= step.cast(pl.Int128).abs() * SEQUENCE_MAX_ENTRIES
        )
        b = pl.when(too_many).then(a).otherwise(b)
        end = b + pl.when(step > 0).then(pl.lit(1, pl.Int64)).otherwise(pl.lit(-1, pl.Int64))
        return pl.int_ranges(a, end, step, dtype=pl.Int64), too_many

    # the guard is placed here, not inside the callbacks (they run later, outside any TRY)
    ranges = pl.pipe_with_dtype([start, stop], lambda pairs: planned(pairs)[0])
    too_many = pl.pipe_with_dtype([start, stop], lambda pairs: planned(pairs)[1])
    return guard(compiler, node, ranges, too_many, message)


def _too_many_steps(first: pl.Expr, last: pl.Expr, interval: str) -> pl.Expr:
    """Whether stepping from ``first`` to ``last`` by ``interval`` (a Polars interval such as
    ``3d`` or ``1mo``) makes more than the allowed number of entries."""
    amount, unit = int(interval.rstrip("smhdwoy")), interval.lstrip("0123456789")
    if unit in _FIXED_SECONDS:
        seconds = (last.cast(pl.Datetime("ms")) - first.cast(pl.Datetime("ms"))).dt.total_seconds()
        steps = seconds.abs() // (amount * _FIXED_SECONDS[unit])
    else:  # months or years: whole calendar months between the two
        months = (last.dt.year() - first.dt.year()).cast(pl.Int64) * 12 + (
            last.dt.month().cast(pl.Int64) - first.dt.month().cast(pl.Int64)
        )
        steps = months.abs() // (amount * (12 if unit == "y" else 1))
    return steps >= SEQUENCE_MAX_ENTRIES


def _interval_text(compiler: ExprCompiler, node: exp.Expression) -> str:
    if not isinstance(node, exp.Interval):
        fail(compiler, node, "a date sequence step must be an INTERVAL literal")
    amount = require_constant(compiler, node.this, "interval")
    unit = node.text("unit").lower().rstrip("s")
    if unit not in _SEQUENCE_UNITS:
        fail(compiler, node, f"unsupported interval unit {unit!r}")
    return f"{int(amount)}{T.DURATION_SUFFIX[unit]}"


#: the interval units a date sequence may step by
_SEQUENCE_UNITS = T.INTERVAL_UNITS - {"millisecond"}


# --- lambdas -------------------------------------------------------------------------------------


@translates(exp.Transform, signatures="transform(array(T), function(T, U)) -> array(U)")
def transform(compiler: ExprCompiler, node: exp.Transform) -> pl.Expr:
    """transform(array, x -> f(x)); f may read the row's other columns."""
    lam = lambda_of(compiler, node.expression, 1)
    return apply(compiler, compiler.expr(node.this), lam)


@translates(exp.ArrayFilter, signatures="filter(array(T), function(T, boolean)) -> array(T)")
def filter_(compiler: ExprCompiler, node: exp.ArrayFilter) -> pl.Expr:
    """filter(array, x -> predicate): keeps elements whose predicate is true (not NULL)."""
    lam = lambda_of(compiler, node.expression, 1)
    return keep_elements(compiler, compiler.expr(node.this), lam)


def _match(compiler: ExprCompiler, node: exp.Anonymous, kind: str) -> pl.Expr:
    values_node, lam_node = arity(compiler, node, 2)
    lam = lambda_of(compiler, lam_node, 1)
    values = compiler.expr(values_node)
    tests = apply(compiler, values, lam)
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


@function("any_match", signatures="any_match(array(T), function(T, boolean)) -> boolean")
def any_match(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """any_match(array, x -> p): true if p holds for some element; NULL if undecided."""
    return _match(compiler, node, "any")


@function("all_match", signatures="all_match(array(T), function(T, boolean)) -> boolean")
def all_match(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _match(compiler, node, "all")


@function("none_match", signatures="none_match(array(T), function(T, boolean)) -> boolean")
def none_match(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _match(compiler, node, "none")


def _inner_type(compiler: ExprCompiler, values: pl.Expr) -> pl.DataType:
    dtype = compiler.dtype(values)
    return dtype.inner if isinstance(dtype, pl.List) else dtype  # type: ignore[return-value]


@translates(
    exp.Reduce,
    signatures="reduce(array(T), S, function(S, T, S), function(S, R)) -> R",
    arguments=lambda node, name: [
        a
        for a in (
            node.this,
            node.args.get("initial"),
            node.args.get("merge"),
            node.args.get("finish"),
        )
        if a is not None
    ],
)
def reduce_(compiler: ExprCompiler, node: exp.Reduce) -> pl.Expr:
    """reduce(array, initial, (s, x) -> merge, s -> finish): the merge must be a fold that
    folds.plan reads (s + f(x), s * f(x), greatest, least, IF(...), per field of a ROW)."""
    fold_plan = folds.plan(compiler, node.args.get("merge"))
    values = compiler.expr(node.this)
    initial = compiler.expr(node.args["initial"])
    fields_out = []
    any_null = pl.lit(False)
    for step in fold_plan.steps:
        per_element = exp.Lambda(
            this=step.contribution.copy(), expressions=[exp.to_identifier(fold_plan.element)]
        )
        contributions = apply(compiler, values, per_element)
        start = initial if step.field is None else initial.struct.field(step.field)
        start_type = compiler.dtype(start)
        inner = _inner_type(compiler, contributions)
        target = T.common_supertype(start_type, inner) if inner != pl.Null else start_type
        target = target or start_type
        folded = folds.fold(step.operator, contributions.cast(pl.List(target)), within_list=True)
        combined = folds.combine(step.operator, start.cast(target), folded.cast(target))
        any_null = any_null | _has_null(contributions).fill_null(False)
        fields_out.append(combined.alias(step.field or "value"))
    if fold_plan.row_type is not None:
        state = pl.struct(fields_out)
        state = (
            pl.when(values.list.len() == 0)
            .then(initial)
            .otherwise(state.cast(T.polars_type(fold_plan.row_type)))
        )
    else:
        state = pl.when(values.list.len() == 0).then(initial).otherwise(fields_out[0])
    result = null_if_any_null(pl.when(any_null).then(None).otherwise(state), values)
    finish = node.args.get("finish")
    if finish is None:
        return result
    return bind_lambda(compiler, finish, [result], 1)


@translates(
    exp.ArrayPosition,
    signatures="array_position(array(T), T) -> bigint",
    arguments=lambda node, name: [node.this, node.expression],
)
def array_position(compiler: ExprCompiler, node: exp.ArrayPosition) -> pl.Expr:
    """array_position(array, x): 1-based position of the first x, 0 when absent."""
    value = require_constant(compiler, node.expression, "array_position() value")
    values = compiler.expr(node.this)
    if value is None:
        return pl.lit(None, pl.Int64)
    found = values.list.eval(pl.element().index_of(value)).list.first()
    return pl.when(values.is_null()).then(None).otherwise((found.cast(pl.Int64) + 1).fill_null(0))


@translates(
    exp.ArrayRemove,
    signatures="array_remove(array(E), E) -> array(E)",
    arguments=lambda node, name: [node.this, node.expression],
)
def array_remove(compiler: ExprCompiler, node: exp.ArrayRemove) -> pl.Expr:
    value = require_constant(compiler, node.expression, "array_remove() value")
    values = compiler.expr(node.this)
    if value is None:
        return pl.lit(None, pl.List(pl.Null))
    return values.list.eval(pl.element().filter((pl.element() != value).fill_null(True)))


@translates(exp.ArrayIntersect, signatures="array_intersect(array(E), array(E)) -> array(E)")
def array_intersect(compiler: ExprCompiler, node: exp.ArrayIntersect) -> pl.Expr:
    first, *rest = (compiler.expr(e) for e in node.expressions)
    out = first.list.unique(maintain_order=True)
    for other in rest:
        out = out.list.set_intersection(other)
    return out


@translates(
    exp.ArrayExcept,
    signatures="array_except(array(E), array(E)) -> array(E)",
    arguments=lambda node, name: [node.this, node.expression],
)
def array_except(compiler: ExprCompiler, node: exp.ArrayExcept) -> pl.Expr:
    a = compiler.expr(node.this)
    b = compiler.expr(node.expression)
    return a.list.unique(maintain_order=True).list.set_difference(b)


@function("array_union", signatures="array_union(array(E), array(E)) -> array(E)")
def array_union(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    a, b = (compiler.expr(e) for e in arity(compiler, node, 2))
    return a.list.set_union(b)


@function("arrays_overlap", signatures="arrays_overlap(array(E), array(E)) -> boolean")
def arrays_overlap(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    a, b = (compiler.expr(e) for e in arity(compiler, node, 2))
    common = a.list.drop_nulls().list.set_intersection(b.list.drop_nulls())
    return null_if_any_null(common.list.len() > 0, a, b)


# --- more array functions ------------------------------------------------------------------------


@translates(exp.ArrayFirst, signatures="array_first(array(E)) -> E")
def array_first(compiler: ExprCompiler, node: exp.ArrayFirst) -> pl.Expr:
    """array_first(array): the first element, NULL for an empty array."""
    return compiler.expr(node.this).list.first()


@translates(exp.ArrayLast, signatures="array_last(array(E)) -> E")
def array_last(compiler: ExprCompiler, node: exp.ArrayLast) -> pl.Expr:
    return compiler.expr(node.this).list.last()


@function("array_histogram", signatures="array_histogram(array(K)) -> map(K, bigint)")
def array_histogram(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """array_histogram(array): each distinct non-NULL element and how often it occurs."""
    (arg,) = arity(compiler, node, 1)
    values = compiler.expr(arg)
    if compiler.dtype(values) == pl.List(pl.Null):
        values = values.cast(pl.List(pl.String))
    present = pl.element().drop_nulls()
    entries = values.list.eval(
        pl.struct(
            present.unique(maintain_order=True).alias("key"),
            present.unique_counts().cast(pl.Int64).alias("value"),
        )
    )
    return entries.list.to_map()


@translates(
    exp.ArraySort,
    arguments=lambda node, name: [a for a in (node.this, node.args.get("expression")) if a],
    signatures=(
        "array_sort(array(E)) -> array(E)",
        "array_sort(array(T), function(T, T, integer)) -> array(T)",
    ),
)
def array_sort(compiler: ExprCompiler, node: exp.ArraySort) -> pl.Expr:
    """array_sort(array): ascending, NULLs last; array_sort(array, (x, y) -> -1 | 0 | 1)."""
    values = compiler.expr(node.this)
    comparator = node.args.get("expression")
    if comparator is None:
        return values.list.sort(nulls_last=True)
    lam = lambda_of(compiler, comparator, 2)
    from loglake.query.functions.common import bind_lambda

    element, size = pl.element(), pl.len()
    pair = pl.int_range(size * size)
    me, other = pair // size, pair % size
    # c = compare(other, me): the elements that sort before me, and my equals that come before me
    c = bind_lambda(compiler, lam, [element.gather(other), element.gather(me)])
    before = (other != me) & ((c < 0) | ((c == 0) & (other < me)))
    running = before.cast(pl.Int64).cum_sum()
    ends = running.gather(pl.int_range(1, size + 1) * size - 1)
    rank = ends - ends.shift(1).fill_null(0)
    ordered = values.list.eval(element.sort_by(rank))
    results = values.list.eval(c)
    invalid = results.list.eval(
        (~pl.element().is_in([-1, 0, 1])).fill_null(True).any()
    ).list.first()
    return guard(
        compiler, node, ordered, invalid, "Lambda comparator must return either -1, 0, or 1"
    )


def _constant_count(compiler: ExprCompiler, node: exp.Expression, what: str) -> int:
    value = constant(node)
    if not isinstance(value, int) or isinstance(value, bool):
        fail(compiler, node, f"{what} must be a constant integer")
    return value


@function("combinations", signatures="combinations(array(T), integer) -> array(array(T))")
def combinations(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """combinations(array, n): every n-element subgroup, in lexicographic order of positions."""
    values_node, n_node = arity(compiler, node, 2)
    n = _constant_count(compiler, n_node, "combination size")
    if n < 0:
        fail(compiler, n_node, f"combination size must not be negative: {n}")
    if n > 5:
        fail(compiler, n_node, f"combination size must not exceed 5: {n}")
    values = compiler.expr(values_node)
    if n == 0:
        return pl.when(values.is_null()).then(None).otherwise(pl.lit([[]]))
    element, size = pl.element(), pl.len()
    candidates = pl.int_range(size**n)
    positions = [(candidates // size ** (n - 1 - k)) % size for k in range(n)]
    increasing = pl.lit(True)
    for left, right in itertools.pairwise(positions):
        increasing = increasing & (left < right)
    chosen = [p.filter(increasing) for p in positions]
    groups = values.list.eval(pl.concat_list([element.gather(p) for p in chosen]))
    too_many = values.list.len().cast(pl.Float64).pow(n) > 10_000_000
    return guard(compiler, node, groups, too_many, "combinations exceed the maximum size")


@function("ngrams", signatures="ngrams(array(T), integer) -> array(array(T))")
def ngrams(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """ngrams(array, n): the runs of n adjacent elements; the whole array when it is shorter."""
    values_node, n_node = arity(compiler, node, 2)
    n = _constant_count(compiler, n_node, "ngram size")
    if n <= 0:
        fail(compiler, n_node, f"N must be positive: {n}")
    values = compiler.expr(values_node)
    element, size = pl.element(), pl.len()
    starts = pl.int_range((size - n + 1).clip(lower_bound=0))
    windows = values.list.eval(pl.concat_list([element.gather(starts + k) for k in range(n)]))
    short = values.list.len() <= n
    return pl.when(short).then(values.repeat_by(1)).otherwise(windows)


@function("contains_sequence", signatures="contains_sequence(array(T), array(T)) -> boolean")
def contains_sequence(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """contains_sequence(x, seq): seq occurs in x as consecutive elements."""
    x_node, seq_node = arity(compiler, node, 2)
    x, seq = compiler.expr(x_node), compiler.expr(seq_node)

    def encoded(values: pl.Expr) -> pl.Expr:
        # each element as JSON between separators, so that element boundaries cannot blur
        items = values.list.eval(pl.struct(pl.element().alias("v")).struct.json_encode())
        return pl.concat_str([pl.lit("\x1f"), items.list.join("\x1f"), pl.lit("\x1f")])

    found = encoded(x).str.contains(encoded(seq), literal=True)
    return null_if_any_null(pl.when(seq.list.len() == 0).then(True).otherwise(found), x, seq)


@translates(
    exp.Repeat,
    signatures=("repeat(T, bigint) -> array(T)",),
    arguments=lambda node, name: [node.this, node.args["times"]],
)
def repeat(compiler: ExprCompiler, node: exp.Repeat) -> pl.Expr:
    """repeat(element, count): an array of count copies (0 to 10000)."""
    element = compiler.expr(node.this)
    count = compiler.expr(node.args["times"]).cast(pl.Int64)
    # a refused count builds nothing: the guards below would come too late
    safe = pl.when(count > 10_000).then(0).otherwise(count.clip(lower_bound=0))
    out = null_if_any_null(element.repeat_by(safe), count)
    out = guard(
        compiler,
        node,
        out,
        count < 0,
        "count argument of repeat function must be greater than or equal to 0",
    )
    return guard(
        compiler,
        node,
        out,
        count > 10_000,
        "count argument of repeat function must be less than or equal to 10000",
    )


@translates(exp.Shuffle, signatures="shuffle(array(E)) -> array(E)")
def shuffle(compiler: ExprCompiler, node: exp.Shuffle) -> pl.Expr:
    """shuffle(array): a random permutation of the elements."""
    return compiler.expr(node.this).list.eval(pl.element().shuffle())


@function("trim_array", signatures="trim_array(array(E), bigint) -> array(E)")
def trim_array(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """trim_array(array, n): drops the last n elements."""
    values_node, n_node = arity(compiler, node, 2)
    values = compiler.expr(values_node)
    n = compiler.expr(n_node).cast(pl.Int64)
    size = values.list.len().cast(pl.Int64)
    out = null_if_any_null(values.list.head((size - n).clip(lower_bound=0)), n)
    bad = (n < 0) | (n > size)
    message = pl.concat_str(
        [
            pl.lit("size must not exceed array cardinality "),
            size.cast(pl.String),
            pl.lit(": "),
            n.cast(pl.String),
        ]
    )
    return guard(compiler, node, out, bad, message)


@function(
    "zip",
    signatures=tuple(
        "zip(" + ", ".join(f"array({v})" for v in "TUVWX"[:k]) + ") -> array(row)"
        for k in range(2, 6)
    ),
)
def zip_(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """zip(a1, a2, ...): rows of the elements at each position; shorter arrays give NULLs."""
    args = arity(compiler, node, 2, 5)
    return zip_lists([compiler.expr(a) for a in args], T.anonymous_row_fields(len(args)))


@function("zip_with", signatures="zip_with(array(T), array(U), function(T, U, R)) -> array(R)")
def zip_with(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """zip_with(a, b, (x, y) -> f): f over the pairs; the shorter array is padded with NULLs."""
    a_node, b_node, lam_node = arity(compiler, node, 3)
    lam = lambda_of(compiler, lam_node, 2)
    pairs = zip_lists([compiler.expr(a_node), compiler.expr(b_node)])
    return apply(compiler, pairs, lam, fields("f0", "f1"))
