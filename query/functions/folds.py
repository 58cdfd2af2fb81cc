"""Folds for reduce(array, ...) and reduce_agg(value, ...) as vectorised reductions.

Polars has no left fold with an arbitrary step, but the merge functions people write combine the
state with a contribution of the element by an associative operator: ``s + x``,
``s * f(x)``, ``greatest(s, x)``, ``IF(x IS NULL, s, s + x)``, or field by field on a row state
(``CAST(ROW(s.sum + x, s.count + 1) AS ROW(sum DOUBLE, count INTEGER))``). :func:`plan` reads
such a merge lambda into one step per state field; each step is then a sum, product, max or min
of the contributions, computed by Polars kernels. Other merge functions are refused with an
error that says which forms work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import fail
from loglake.query.registry import ExprCompiler

#: the value that leaves the state unchanged under each operator (an IF's "keep s" branch)
_IDENTITY: dict[type, exp.Expression] = {
    exp.Add: exp.Literal.number(0),
    exp.Mul: exp.Literal.number(1),
}
_SUPPORTED = (
    "reduce merge functions must combine the state with a function of the element: "
    "s + f(x), s * f(x), greatest(s, f(x)), least(s, f(x)), IF(p(x), s, s + f(x)), "
    "or those per field of a ROW state"
)


@dataclass
class Step:
    """One state field: new = old OP contribution(element)."""

    operator: type
    contribution: exp.Expression
    field: str | None = None


@dataclass
class Plan:
    steps: list[Step]
    row_type: exp.DataType | None
    element: str


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _mentions(node: exp.Expression, state: str) -> bool:
    return any(
        isinstance(sub, exp.Column | exp.Identifier)
        and (
            sub.name.lower() == state
            or (isinstance(sub, exp.Column) and sub.table.lower() == state)
        )
        for sub in node.walk()
    )


def _step(
    compiler: ExprCompiler, node: exp.Expression, is_state: Any, state: str, field: str | None
) -> Step:
    node = _unparen(node)
    if isinstance(node, exp.Add | exp.Mul):
        operands = [_unparen(node.this), _unparen(node.expression)]
        operator: type = type(node)
    elif isinstance(node, exp.Greatest | exp.Least) and len(node.expressions) == 1:
        operands = [_unparen(node.this), _unparen(node.expressions[0])]
        operator = type(node)
    elif isinstance(node, exp.If) and node.args.get("false") is not None:
        condition = node.this
        kept, changed = _unparen(node.args["true"]), _unparen(node.args["false"])
        keep_first = True
        if not is_state(kept):
            kept, changed, keep_first = changed, kept, False
        if not is_state(kept) or _mentions(condition, state):
            fail(compiler, node, _SUPPORTED)
        inner = _step(compiler, changed, is_state, state, field)
        identity = _IDENTITY.get(inner.operator)
        if identity is None:
            fail(compiler, node, _SUPPORTED)
        branches = (
            (identity.copy(), inner.contribution)
            if keep_first
            else (inner.contribution, identity.copy())
        )
        contribution = exp.If(this=condition.copy(), true=branches[0], false=branches[1])
        return Step(inner.operator, contribution, field)
    else:
        fail(compiler, node, _SUPPORTED)
    rest = [o for o in operands if not is_state(o)]
    if len(rest) != 1 or _mentions(rest[0], state):
        fail(compiler, node, _SUPPORTED)
    return Step(operator, rest[0], field)


def plan(compiler: ExprCompiler, merge: exp.Expression | None) -> Plan:
    """The steps of a merge lambda ``(s, x) -> ...`` (an error when it is not a fold)."""
    if not isinstance(merge, exp.Lambda) or len(merge.expressions) != 2:
        fail(compiler, merge, "reduce needs a two-argument merge lambda (s, x) -> ...")
    state, element = (p.name.lower() for p in merge.expressions)
    body = _unparen(merge.this)
    row_type = None
    items: list[exp.Expression] | None = None
    if isinstance(body, exp.Cast) and isinstance(_unparen(body.this), exp.Struct | exp.Tuple):
        row_type, items = body.to, list(_unparen(body.this).expressions)
    elif isinstance(body, exp.Struct | exp.Tuple):
        items = list(body.expressions)
    if items is None:

        def is_state(e: exp.Expression) -> bool:
            return (
                isinstance(e, exp.Column | exp.Identifier)
                and not (isinstance(e, exp.Column) and e.table)
                and e.name.lower() == state
            )

        return Plan([_step(compiler, body, is_state, state, None)], None, element)
    names = (
        [c.name.lower() for c in row_type.expressions]
        if row_type is not None
        else [f"field{i}" for i in range(len(items))]
    )
    steps = []
    for name, item in zip(names, items, strict=True):

        def is_field(e: exp.Expression, name: str = name) -> bool:
            return (
                isinstance(e, exp.Column) and e.table.lower() == state and e.name.lower() == name
            ) or (
                isinstance(e, exp.Dot) and e.this.name.lower() == state and e.name.lower() == name
            )

        steps.append(_step(compiler, item, is_field, state, name))
    return Plan(steps, row_type, element)


def fold(operator: type, contributions: pl.Expr, within_list: bool) -> pl.Expr:
    """Reduce contributions with the step's operator (over a list, or over a group's rows)."""
    if within_list:
        if operator is exp.Add:
            return contributions.list.sum()
        if operator is exp.Mul:
            return contributions.list.eval(pl.element().product()).list.first()
        if operator is exp.Greatest:
            return contributions.list.max()
        return contributions.list.min()
    if operator is exp.Add:
        return contributions.sum()
    if operator is exp.Mul:
        return contributions.product()
    if operator is exp.Greatest:
        return contributions.max()
    return contributions.min()


def combine(operator: type, state: pl.Expr, folded: pl.Expr) -> pl.Expr:
    if operator is exp.Add:
        return state + folded
    if operator is exp.Mul:
        return state * folded
    if operator is exp.Greatest:
        return pl.max_horizontal(state, folded)
    return pl.min_horizontal(state, folded)
