"""A correlated MIN or MAX over the tables the outer query already joins, read from its rows.

TPC-H q2 compares each supplier's cost with ``(SELECT min(ps_supplycost) FROM partsupp, supplier,
nation, region WHERE p_partkey = ps_partkey AND <the outer query's own joins and filters>)``.
The outer relation is those four tables, joined and filtered the same way, joined with ``part``
along the correlation keys. Grouped by the outer correlation keys, its rows for a key hold every
row of the subquery's relation for that key (and nothing else): each appears once per outer row
of that key instead of once, which MIN and MAX do not notice. So the subquery's value is a
group-by over the outer rows, and the subquery's tables need not be read and joined again.

:func:`outer_aggregate` decides whether that holds, from the query text alone: the subquery's
FROM tables must each be one of the outer query's (plain tables, inner joins), and the outer
conjuncts that touch those tables must be exactly the subquery's conjuncts plus the correlation
equalities (the other outer conjuncts may only filter the remaining outer tables).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from loglake.query.functions.common import call_name

#: functions whose value differs between two evaluations of the same text
_VOLATILE = {"rand", "random", "uuid", "shuffle"}


@dataclass(frozen=True)
class OuterAggregate:
    """``aggregate`` (MIN or MAX, its argument renamed to the outer query's aliases) computed
    per outer correlation key over the outer rows."""

    aggregate: exp.Expression


def outer_aggregate(
    outer: exp.Select,
    outer_conjuncts: list[exp.Expression],
    subquery: exp.Select,
    keys: list[tuple[exp.Expression, exp.Expression]],
) -> OuterAggregate | None:
    """The rewrite, when ``subquery`` (decorrelated: its WHERE without the correlation
    equalities ``keys`` of (inner, outer) expressions) may be computed from ``outer``'s rows
    after its ``outer_conjuncts`` (the WHERE conjuncts without subqueries) were applied."""
    if not keys or not _plain_aggregate_query(subquery):
        return None
    item = subquery.expressions[0].unalias()
    if not isinstance(item, exp.Min | exp.Max) or item.expressions:
        return None  # (min(x, n) is an array of the n smallest)
    if isinstance(item.this, exp.Distinct):
        return None
    outer_tables, sub_tables = _tables(outer), _tables(subquery)
    if outer_tables is None or sub_tables is None:
        return None
    renames = _alias_map(sub_tables, outer_tables)
    if renames is None:
        return None
    mapped_aliases = set(renames.values())
    where = subquery.args.get("where")
    inner = [*(_conjuncts(where.this) if where else []), *_on_conjuncts(subquery)]
    if any(not _aliases(c) <= set(renames) for c in inner):
        return None  # a conjunct that still reads the outer query (a residual correlation)
    wanted = {_normal(_renamed(c, renames)) for c in inner}
    for inner_key, outer_key in keys:
        if not _aliases(inner_key) <= set(renames) or _aliases(outer_key) & mapped_aliases:
            return None
        wanted.add(_normal(exp.EQ(this=_renamed(inner_key, renames), expression=outer_key.copy())))
    found = set()
    for c in [*outer_conjuncts, *_on_conjuncts(outer)]:
        if _aliases(c) & mapped_aliases:
            found.add(_normal(c))
    if found != wanted or any(_volatile(c) for c in inner):
        return None
    argument = item.this
    if not _aliases(argument) <= set(renames) or _volatile(argument):
        return None
    renamed = item.copy()
    renamed.set("this", _renamed(argument, renames))
    return OuterAggregate(renamed)


def _plain_aggregate_query(select: exp.Select) -> bool:
    """One aggregate over the FROM relation: no grouping, ordering, limit or windows."""
    if len(select.expressions) != 1:
        return False
    return not any(
        select.args.get(arg)
        for arg in ("group", "having", "order", "limit", "offset", "distinct", "qualify", "with_")
    )


def _tables(select: exp.Select) -> dict[str, tuple[str, str]] | None:
    """alias -> (database, table) of a FROM of plain tables and inner joins, else None."""
    from_ = select.args.get("from_")
    if from_ is None:
        return None
    items = [from_.this]
    for join in select.args.get("joins") or []:
        if join.side or join.args.get("using") or join.kind not in ("", "INNER", "CROSS"):
            return None
        items.append(join.this)
    found: dict[str, tuple[str, str]] = {}
    for item in items:
        if not isinstance(item, exp.Table) or not isinstance(item.this, exp.Identifier):
            return None
        if any(item.args.get(arg) for arg in ("sample", "joins", "pivots", "laterals", "hints")):
            return None
        alias = item.alias_or_name.lower()
        if alias in found:
            return None
        found[alias] = (item.db.lower(), item.name.lower())
    return found


def _alias_map(
    inner: dict[str, tuple[str, str]], outer: dict[str, tuple[str, str]]
) -> dict[str, str] | None:
    """Each subquery alias -> the outer alias of the same table (one each), else None."""
    renames: dict[str, str] = {}
    for alias, table in inner.items():
        same = [a for a, t in outer.items() if t == table]
        if len(same) > 1:
            same = [a for a in same if a == alias]
        if len(same) != 1 or same[0] in renames.values():
            return None
        renames[alias] = same[0]
    return renames


def _on_conjuncts(select: exp.Select) -> list[exp.Expression]:
    found = []
    for join in select.args.get("joins") or []:
        on = join.args.get("on")
        if on is not None:
            found.extend(_conjuncts(on))
    return found


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.this if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        return [*_conjuncts(node.this), *_conjuncts(node.expression)]
    return [node]


def _aliases(node: exp.Expression) -> set[str]:
    return {c.table.lower() for c in node.find_all(exp.Column) if c.table}


def _renamed(node: exp.Expression, renames: dict[str, str]) -> exp.Expression:
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        target = renames.get(column.table.lower())
        if target is not None:
            column.set("table", exp.to_identifier(target))
    return copy


def _normal(node: exp.Expression) -> str:
    """Comparable text of a conjunct: names in lower case and unquoted, the two sides of an
    equality in either order."""
    if isinstance(node, exp.EQ):
        sides = sorted([_text(node.this), _text(node.expression)])
        return f"{sides[0]} = {sides[1]}"
    return _text(node)


def _text(node: exp.Expression) -> str:
    copy = node.copy()
    for name in copy.find_all(exp.Identifier):
        name.set("this", name.name.lower())
        name.set("quoted", False)
    return copy.sql("trino")


def _volatile(node: exp.Expression) -> bool:
    """Whether two evaluations of ``node`` may differ (or it holds a query of its own)."""
    if node.find(exp.Select) is not None:
        return True
    for call in node.find_all(exp.Func):
        if isinstance(call, exp.Rand) or call_name(call) in _VOLATILE:
            return True
    return False
