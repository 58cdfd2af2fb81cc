"""File pruning hints: the WHERE conjuncts on one table that compare a column (or a struct field)
with constants become ``Predicate``s the table provider checks against file statistics and
partition values before anything is read."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

from sqlglot import exp

from loglake.query import types as T
from loglake.query.tables import Predicate


def _literal(node: exp.Expression) -> tuple[bool, Any]:
    """(True, value) when ``node`` is a constant simple enough for file pruning."""
    if isinstance(node, exp.Literal):
        return True, T.literal_python(node)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        ok, v = _literal(node.this)
        return ok, -v
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        kind = node.to.this
        text = node.this.this
        try:
            if kind == exp.DataType.Type.DATE:
                return True, datetime.date.fromisoformat(text)
            if kind in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
                return True, datetime.datetime.fromisoformat(text)
            if kind == exp.DataType.Type.DECIMAL:
                return True, decimal.Decimal(text)
        except ValueError:
            return False, None
    return False, None


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_OPS: dict[type[exp.Expr], str] = {
    exp.EQ: "=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}


def _field_path(node: exp.Expression) -> str | None:
    """The column (``eventname``) or struct field (``useridentity.type``) a node reads, else None."""
    if isinstance(node, exp.Column):
        return node.name.lower()
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        base = _field_path(node.this)
        return f"{base}.{node.expression.name.lower()}" if base else None
    return None


def predicate(node: exp.Expression) -> Predicate | None:
    """A file-pruning hint for ``col op literal`` / IN / BETWEEN / IS [NOT] NULL conjuncts
    (``col`` may be a struct field: ``useridentity.type = 'Root'``)."""
    if type(node) in _OPS:
        op = _OPS[type(node)]
        left, right = node.this, node.expression
        if isinstance(right, exp.Column | exp.Dot) and not isinstance(left, exp.Column | exp.Dot):
            left, right, op = right, left, _FLIP[op]
        name = _field_path(left)
        if name:
            ok, value = _literal(right)
            if ok:
                return Predicate(name, op, (value,))
    if isinstance(node, exp.In) and not node.args.get("query"):
        name = _field_path(node.this)
        if not name:
            return None
        values = []
        for v in node.expressions:
            ok, value = _literal(v)
            if not ok:
                return None
            values.append(value)
        return Predicate(name, "in", tuple(values))
    if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
        ok1, low = _literal(node.args["low"])
        ok2, high = _literal(node.args["high"])
        if ok1 and ok2:
            return Predicate(node.this.name.lower(), "between", (low, high))
    if (
        isinstance(node, exp.Is)
        and isinstance(node.this, exp.Column)
        and isinstance(node.expression, exp.Null)
    ):
        return Predicate(node.this.name.lower(), "is_null")
    if (
        isinstance(node, exp.Not)
        and isinstance(node.this, exp.Is)
        and isinstance(node.this.this, exp.Column)
        and isinstance(node.this.expression, exp.Null)
    ):
        return Predicate(node.this.this.name.lower(), "not_null")
    return None


def hints_for_projection(node: exp.Expression, hints: list[exp.Expression]) -> list[exp.Expression]:
    """The outer conjuncts a SELECT's single table may prune its files with, in the table's
    column names: those comparing a column the SELECT passes through unchanged (``day`` of
    ``SELECT *, CAST(day AS DATE) AS "date" FROM t``) with literals. Only a row-for-row SELECT
    qualifies (no join, grouping, aggregate, window, DISTINCT, LIMIT or OFFSET), where keeping
    only the files that can hold such rows cannot change the outer answer."""
    if not hints or not isinstance(node, exp.Select) or node.args.get("joins"):
        return []
    from_ = node.args.get("from_")
    if from_ is None or not isinstance(from_.this, exp.Table):
        return []
    if any(node.args.get(k) for k in ("group", "having", "limit", "offset", "distinct", "qualify")):
        return []
    passed: dict[str, str] = {}
    for projection in node.expressions:
        if projection.find(exp.Window, exp.AggFunc) is not None:
            return []
        value = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(value, exp.Column):
            passed.setdefault(projection.alias_or_name.lower(), value.name.lower())
    handed = []
    for hint in hints:
        if predicate(hint) is None:
            continue
        columns = list(hint.find_all(exp.Column))
        if not columns or any(c.name.lower() not in passed for c in columns):
            continue
        copy = hint.copy()
        for column in copy.find_all(exp.Column):
            column.replace(exp.column(passed[column.name.lower()]))
        handed.append(copy)
    return handed
