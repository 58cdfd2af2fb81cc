"""Lambdas over the elements of arrays and maps (transform, filter, zip_with, map_filter, ...).

A lambda whose body uses only its parameters and constants runs inside ``list.eval``, element
by element. A body that also reads a column of the row (``transform(xs, x -> a * x + b)``, as
Trino allows) runs on the row's elements exploded next to that row's values and gathered back
per row (``implode().over(row)``): still Polars kernels, but a grouping per row, so slower.

Several parameters (``(k, v) -> ...``, ``(x, y) -> ...``) read the fields of a struct element:
map entries are ``{key, value}`` structs and :func:`zip_lists` builds ``{f0, f1, ...}`` ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import bind_lambda, fail
from loglake.query.registry import ExprCompiler

#: how a list element becomes the lambda's parameter values
Binder = Callable[[pl.Expr], list[pl.Expr]]


def _row() -> pl.Expr:
    return pl.int_range(pl.len(), dtype=pl.Int64)


def lambda_of(compiler: ExprCompiler, node: exp.Expression, count: int) -> exp.Lambda:
    """``node`` as a lambda of ``count`` parameters, or an error at it."""
    if not isinstance(node, exp.Lambda):
        fail(compiler, node, "expected a lambda expression such as x -> x + 1")
    if len(node.expressions) != count:
        fail(compiler, node, f"lambda must take {count} argument(s), got {len(node.expressions)}")
    return node


def reads_row(node: exp.Lambda) -> bool:
    """Whether the lambda's body reads anything but its (and nested lambdas') parameters, or a
    field of a ROW parameter (``r -> r.type``): inside ``list.eval`` the compiler cannot know
    the element's type, on the row's exploded elements it can."""
    bound = {p.name.lower() for p in node.expressions}
    for sub in node.this.walk():
        if isinstance(sub, exp.Lambda):
            bound |= {p.name.lower() for p in sub.expressions}
        elif (
            (isinstance(sub, exp.Column) and (sub.table or sub.name.lower() not in bound))
            or isinstance(sub, exp.Subquery | exp.Select)
            or (isinstance(sub, exp.Dot) and sub.this.name.lower() in bound)
        ):
            return True
    return False


def apply(
    compiler: ExprCompiler,
    values: pl.Expr,
    node: exp.Lambda,
    bind: Binder = lambda element: [element],
) -> pl.Expr:
    """The list of the lambda's results over the elements of ``values`` (NULL for a NULL list)."""
    if not reads_row(node):
        return values.list.eval(bind_lambda(compiler, node, bind(pl.element())))
    element = values.explode(empty_as_null=False)
    body = bind_lambda(compiler, node, bind(element))
    gathered = body.implode().over(_row())
    return pl.when(values.is_null()).then(None).otherwise(gathered)


def keep_elements(
    compiler: ExprCompiler,
    values: pl.Expr,
    node: exp.Lambda,
    bind: Binder = lambda element: [element],
) -> pl.Expr:
    """The elements of ``values`` for which the lambda is true (not false, not NULL)."""
    if not reads_row(node):
        predicate = bind_lambda(compiler, node, bind(pl.element()))
        return values.list.eval(pl.element().filter(predicate.fill_null(False)))
    element = values.explode(empty_as_null=False)
    predicate = bind_lambda(compiler, node, bind(element))
    kept = element.filter(predicate.fill_null(False)).implode().over(_row())
    return pl.when(values.is_null()).then(None).otherwise(kept)


def each_element(
    compiler: ExprCompiler,
    values: pl.Expr,
    fn: Callable[..., pl.Expr],
    outer: Sequence[pl.Expr] = (),
) -> pl.Expr:
    """``fn(element, *outer)`` over each element of ``values``; ``outer`` are per-row values
    (constants run inside ``list.eval``, columns through the per-row gathering)."""
    if all(not o.meta.root_names() for o in outer):
        return values.list.eval(fn(pl.element(), *outer))
    gathered = fn(values.explode(empty_as_null=False), *outer).implode().over(_row())
    return pl.when(values.is_null()).then(None).otherwise(gathered)


def zip_lists(lists: Sequence[pl.Expr], names: Sequence[str] | None = None) -> pl.Expr:
    """One list of structs from several lists, element by element; shorter lists are padded
    with NULLs (zip, zip_with). NULL when any list is NULL."""
    names = list(names) if names is not None else [f"f{i}" for i in range(len(lists))]
    longest = pl.max_horizontal([v.list.len() for v in lists])

    def padded(values: pl.Expr) -> pl.Expr:
        missing = (longest - values.list.len()).clip(lower_bound=0)
        return pl.concat_list([values, pl.lit(None).repeat_by(missing)])

    fields = [
        padded(v).explode(empty_as_null=False).alias(n) for v, n in zip(lists, names, strict=True)
    ]
    zipped = pl.struct(fields).implode().over(_row())
    any_null = pl.any_horizontal([v.is_null() for v in lists])
    return pl.when(any_null).then(None).otherwise(zipped)


def fields(*names: str) -> Binder:
    """Bind the parameters to the named fields of a struct element."""
    return lambda element: [element.struct.field(n) for n in names]
