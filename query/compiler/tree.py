"""Questions about a sqlglot query tree that every part of the compiler asks: the conjuncts of a
condition, the table aliases an expression reads, where its subqueries, aggregates and windows
are, the name an output column gets. Nothing here compiles anything."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

from loglake.query import registry


def shown(node: exp.Expression) -> str:
    """A node as SQL text for an error message, or its kind when it has no SQL spelling."""
    try:
        return node.sql("trino")
    except Exception:
        return type(node).__name__


def conjuncts(node: exp.Expression) -> Iterator[exp.Expression]:
    if isinstance(node, exp.And):
        yield from conjuncts(node.this)
        yield from conjuncts(node.expression)
    elif isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        yield from conjuncts(node.this)
    else:
        yield node


def walk_scope(node: exp.Expression) -> Iterator[exp.Expression]:
    """Nodes of an expression without descending into nested queries."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, exp.Subquery | exp.Select | exp.SetOperation) and n is not node:
            continue
        if isinstance(n, exp.Exists) and n is not node:
            continue
        for child in n.iter_expressions():
            if isinstance(child, exp.Select | exp.SetOperation | exp.Subquery) and isinstance(
                n, exp.In | exp.Exists | exp.Subquery
            ):
                continue
            stack.append(child)


def has_subquery(node: exp.Expression) -> bool:
    cached = node.meta.get("has_subquery")
    if cached is None:
        cached = node.meta["has_subquery"] = _find_subquery(node)
    return cached


def _find_subquery(node: exp.Expression) -> bool:
    return any(
        isinstance(n, exp.Subquery | exp.Exists) or (isinstance(n, exp.In) and n.args.get("query"))
        for n in walk_scope(node)
    )


def subqueries(node: exp.Expression) -> list[exp.Expression]:
    """Scalar subqueries, EXISTS and IN (subquery) nodes in an expression (outermost first)."""
    found: list[exp.Expression] = []
    for n in walk_scope(node):
        if (
            isinstance(n, exp.Exists)
            or (isinstance(n, exp.In) and n.args.get("query"))
            or (isinstance(n, exp.Subquery) and not isinstance(n.parent, exp.In | exp.Exists))
        ):
            found.append(n)
    return found


_JSON_NODES = (
    exp.JSONExtract,
    exp.JSONExtractScalar,
    exp.JSONValue,
    exp.JSONArrayContains,
    exp.JSONFormat,
    exp.ParseJSON,
)


def reads_json(node: exp.Expression) -> bool:
    """Whether a condition reads JSON documents (a JSON function anywhere in it)."""
    if node.find(*_JSON_NODES) is not None:
        return True
    names = (f.name.lower() for f in node.find_all(exp.Anonymous))
    return any(name.startswith(("json", "is_json")) for name in names)


def referenced_aliases(node: exp.Expression) -> set[str]:
    """Table aliases an expression reads (memoised on the node: join planning asks often)."""
    cached = node.meta.get("_aliases")
    if cached is None:
        cached = node.meta["_aliases"] = frozenset(
            c.table.lower() for c in walk_scope(node) if isinstance(c, exp.Column) and c.table
        )
    return set(cached)


def declared_aliases(select: exp.Select) -> set[str]:
    aliases = set()
    from_ = select.args.get("from_")
    items = ([from_.this] if from_ else []) + [j.this for j in select.args.get("joins") or []]
    for item in items:
        aliases.add(item.alias_or_name.lower())
    return aliases


def inside_nested_select(col: exp.Column, top: exp.Select, top_aliases: set[str]) -> bool:
    """Whether a column belongs to a select nested in ``top`` that declares its table itself."""
    node = col.parent
    while node is not None and node is not top:
        if isinstance(node, exp.Select) and col.table.lower() in declared_aliases(node):
            return True
        node = node.parent
    return False


def equi_keys(
    conjuncts: list[exp.Expression], left: set[str], right: set[str]
) -> list[tuple[exp.Expression, exp.Expression, exp.Expression]]:
    """Equalities usable as hash-join keys between two alias sets: (left expr, right expr, conjunct)."""
    keys: list[tuple[exp.Expression, exp.Expression, exp.Expression]] = []
    for c in conjuncts:
        if not isinstance(c, exp.EQ) or has_subquery(c):
            continue
        a, b = referenced_aliases(c.this), referenced_aliases(c.expression)
        if a and b and a <= left and b <= right:
            keys.append((c.this, c.expression, c))
        elif a and b and a <= right and b <= left:
            keys.append((c.expression, c.this, c))
    return keys


def single_source_conjuncts(conjuncts: list[exp.Expression]) -> dict[str, list[exp.Expression]]:
    hints: dict[str, list[exp.Expression]] = {}
    for c in conjuncts:
        refs = referenced_aliases(c)
        if len(refs) == 1 and not has_subquery(c):
            hints.setdefault(next(iter(refs)), []).append(c)
    return hints


def is_aggregate(node: exp.Expression) -> bool:
    if type(node) in registry.AGGREGATE_CLASSES:
        return True
    if isinstance(node, exp.Anonymous) and node.name.lower() in registry.AGGREGATE_NAMES:
        return True
    return (
        isinstance(node, exp.Func)
        and node.sql_name().lower() in registry.AGGREGATE_NAMES
        and not isinstance(node, exp.Anonymous)
        and type(node) not in registry.EXPRESSIONS
    )


def find_aggregates(exprs: list[exp.Expression]) -> list[exp.Expression]:
    """Outermost aggregate calls (with their FILTER clause), skipping subqueries and window calls."""
    found: list[exp.Expression] = []

    def visit(node: exp.Expression, in_window: bool) -> None:
        if isinstance(node, exp.Subquery | exp.Select | exp.Exists):
            return
        if isinstance(node, exp.In) and node.args.get("query"):
            visit(node.this, in_window)
            return
        if isinstance(node, exp.Window):
            fn = node.this
            inner = fn.this if isinstance(fn, exp.Filter) else fn
            for child in inner.iter_expressions():
                visit(child, False)
            for p in node.args.get("partition_by") or []:
                visit(p, False)
            if node.args.get("order"):
                for o in node.args["order"].expressions:
                    visit(o.this, False)
            return
        if isinstance(node, exp.Filter) and is_aggregate(node.this):
            found.append(node)
            return
        if is_aggregate(node):
            found.append(node)
            return
        for child in node.iter_expressions():
            visit(child, in_window)

    for e in exprs:
        visit(e, False)
    return found


def find_windows(exprs: list[exp.Expression]) -> list[exp.Window]:
    found = []
    for e in exprs:
        for n in walk_scope(e):
            if isinstance(n, exp.Window):
                found.append(n)
    return found


def output_name(item: exp.Expression, index: int) -> str:
    if isinstance(item, exp.Alias):
        return item.alias.lower() if not item.args["alias"].quoted else item.alias
    if isinstance(item, exp.Column):
        return item.name.lower()
    if isinstance(item, exp.Dot):
        return item.name.lower()
    return f"_col{index}"
