"""Checks Trino makes on a statement before planning it, so a query it refuses is refused here too.

Each check walks the parsed tree once and raises a :class:`SqlError` at the offending text:
an aggregate in WHERE, an aggregate nested in another, a JOIN without ON or USING, a negative
LIMIT or OFFSET, a column alias list that does not fit its relation, a numeric literal that is
not a number. Without them Polars would answer these queries, wrongly.
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterator
from typing import Any

from sqlglot import exp

from loglake.errors import SqlError

#: the widest exact number Trino reads (DECIMAL(38))
_MAX_DIGITS = 38


def check_statement(tree: exp.Expr, sql: str) -> None:
    """Raise the error Trino would raise for ``tree`` before running it, if any."""
    for node in tree.walk():
        check = _CHECKS.get(type(node))
        if check is not None:
            check(node, sql)
        elif isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window):
            _no_nested_aggregate(node, sql)


def node_span(node: exp.Expr) -> tuple[int | None, int | None]:
    """Where ``node`` is in the text: from the first to the last positioned token inside it."""
    spans = [
        (sub.meta["start"], sub.meta["end"] + 1)
        for sub in node.walk()
        if sub.meta and "start" in sub.meta
    ]
    if not spans:
        return None, None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _span(node: exp.Expr, sql: str) -> tuple[int | None, int | None]:
    return node_span(node)


def _error(message: str, node: exp.Expr, sql: str) -> SqlError:
    start, end = _span(node, sql)
    return SqlError(message, sql, start, end)


def _same_scope(node: exp.Expr) -> Iterator[exp.Expr]:
    """Nodes under ``node`` that belong to its query (not to a subquery inside it)."""
    stack = list(node.iter_expressions())
    while stack:
        sub = stack.pop()
        if isinstance(sub, exp.Query | exp.Subquery):
            continue
        yield sub
        stack.extend(sub.iter_expressions())


def _aggregates(node: exp.Expr) -> Iterator[exp.Expr]:
    return (n for n in _same_scope(node) if isinstance(n, exp.AggFunc | exp.Window))


def _where(node: exp.Where, sql: str) -> None:
    for found in _aggregates(node):
        raise _error(
            "WHERE clause cannot contain aggregations, window functions or grouping operations: "
            f"[{found.sql(dialect='athena')}]",
            found,
            sql,
        )


def _no_nested_aggregate(node: exp.AggFunc, sql: str) -> None:
    for inner in _same_scope(node):
        if isinstance(inner, exp.AggFunc):
            kind = "window functions" if isinstance(inner.parent, exp.Window) else "aggregations"
            raise _error(
                f"Cannot nest {kind} inside aggregation '{node.sql_name().lower()}': "
                f"[{inner.sql(dialect='athena')}]",
                inner,
                sql,
            )


def _join(node: exp.Join, sql: str) -> None:
    # a comma join (FROM a, b) is parsed without "pivots"; a JOIN keyword always sets it
    keyword = "pivots" in node.args
    kind = (node.args.get("kind") or "").upper()
    if not keyword or kind == "CROSS" or node.args.get("on") or node.args.get("using"):
        return
    if node.args.get("method") or kind in ("SEMI", "ANTI"):
        return
    raise _error("JOIN needs ON or USING; write CROSS JOIN for every pair of rows", node.this, sql)


def _non_negative(keyword: str) -> Callable[[exp.Expr, str], None]:
    def check(node: exp.Expr, sql: str) -> None:
        value = node.expression if isinstance(node, exp.Limit | exp.Offset) else None
        if isinstance(value, exp.Neg) and isinstance(value.this, exp.Literal):
            start, _ = _span(value, sql)
            minus = sql.rfind("-", 0, start) if start is not None else -1
            raise SqlError(
                f"{keyword} must be a non-negative integer, not -{value.this.this}",
                sql,
                minus if minus >= 0 else start,
                _span(value, sql)[1],
            )

    return check


def _literal(node: exp.Literal, sql: str) -> None:
    if node.is_string:
        return
    text = str(node.this)
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise _error(f"Invalid numeric literal: {text}", node, sql) from None
    if not number.is_finite():
        raise _error(f"Invalid numeric literal: {text}", node, sql)
    exact = re.fullmatch(r"\d+(\.\d*)?|\.\d+", text)
    if exact and len(text.replace(".", "").lstrip("0")) > _MAX_DIGITS:
        raise _error(
            f"Invalid numeric literal: {text} has more than {_MAX_DIGITS} digits", node, sql
        )


def _alias_columns(node: exp.TableAlias, sql: str) -> None:
    columns = node.args.get("columns") or []
    relation = node.parent
    if not columns or not isinstance(relation, exp.Values | exp.Subquery):
        return
    if isinstance(relation, exp.Subquery) and isinstance(relation.this, exp.Values):
        relation = relation.this
    if isinstance(relation, exp.Values):
        rows = relation.expressions
        width = len(rows[0].expressions) if rows and isinstance(rows[0], exp.Tuple) else 1
    elif isinstance(relation.this, exp.Select) and not any(
        isinstance(e, exp.Star) for e in relation.this.expressions
    ):
        width = len(relation.this.expressions)
    else:
        return
    if width != len(columns):
        raise _error(
            f"Column alias list has {len(columns)} entries but '{node.name}' has {width} "
            "columns available",
            node,
            sql,
        )


def _decimal_literal(node: exp.Cast, sql: str) -> None:
    """``DECIMAL 'x'`` (a typed literal) must hold a finite number."""
    target = node.args.get("to")
    value = node.this
    if not (
        isinstance(value, exp.Literal) and value.is_string and isinstance(target, exp.DataType)
    ):
        return
    if not target.is_type(exp.DataType.Type.DECIMAL):
        return
    try:
        finite = decimal.Decimal(value.this.strip()).is_finite()
    except decimal.InvalidOperation:
        finite = False
    if not finite:
        raise _error(
            f"Cannot cast VARCHAR '{value.this}' to {target.sql(dialect='athena')}: "
            "value is not a number",
            node,
            sql,
        )


#: each check takes a node of the class it is listed under
_CHECKS: dict[type[exp.Expr], Callable[[Any, str], None]] = {
    exp.Cast: _decimal_literal,
    exp.Where: _where,
    exp.Join: _join,
    exp.Limit: _non_negative("LIMIT"),
    exp.Offset: _non_negative("OFFSET"),
    exp.Literal: _literal,
    exp.TableAlias: _alias_columns,
}
