"""FROM, joins and set operations: the relation a SELECT reads.

Comma-separated sources are joined greedily along the WHERE equalities between them, in written
order; explicit joins take their equalities as hash-join keys and the rest as a filter (or, for
an outer join, as a residual match); conditions on one source filter it before it is joined and
are handed to its table provider as file-pruning hints.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import reduce
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from sqlglot import exp

from loglake.errors import SqlError
from loglake.query import types as T
from loglake.query.compiler import pruning, tree
from loglake.query.compiler.context import KeyLookup, Output, Rel, ScanRecord, Scope
from loglake.query.tables import PSEUDO_COLUMNS

if TYPE_CHECKING:
    from loglake.query.compiler.core import Compiler

#: the joins Polars makes (``LazyFrame.join``'s ``how``)
JoinHow = Literal["inner", "left", "right", "full", "semi", "anti", "cross"]


def one_row() -> Rel:
    """The single row a FROM-less SELECT (or a lone UNNEST) reads, typed as its schema says."""
    return Rel(
        pl.LazyFrame({"_one": [1]}, schema={"_one": pl.Int32}), {"_one": pl.Int32()}, Scope()
    )


def set_operation(compiler: Compiler, node: exp.SetOperation) -> Output:
    left = compiler.query(node.this)
    right = compiler.query(node.expression)
    if len(left.internal) != len(right.internal):
        raise compiler.error(
            node,
            f"{node.key.upper()} query has different number of fields: "
            f"{len(left.internal)}, {len(right.internal)}",
        )
    casts_l, casts_r = [], []
    # the result's types are known here: kept, so that a chain of 600 UNION ALLs does not
    # resolve the growing plan's schema at every link (quadratic work)
    known: dict[str, pl.DataType] | None = {}
    for li, ri in zip(left.internal, right.internal, strict=True):
        lt, rt = left.schema.get(li), right.schema.get(ri)
        target = T.common_supertype(lt, rt) if lt is not None and rt is not None else None
        if known is not None and target is not None:
            known[li] = target
        else:
            known = None
        if lt is not None and rt is not None and target is None:
            raise compiler.error(
                node,
                f"column types of {node.key.upper()} do not match: "
                f"{T.sql_name(lt)} and {T.sql_name(rt)}",
            )
        casts_l.append(
            pl.col(li).cast(target) if target is not None and target != lt else pl.col(li)
        )
        casts_r.append(
            (pl.col(ri).cast(target) if target is not None and target != rt else pl.col(ri)).alias(
                li
            )
        )
    lf_l = left.lf.select(casts_l)
    lf_r = right.lf.select(casts_r)
    distinct = node.args.get("distinct", True)
    if isinstance(node, exp.Union):
        lf = pl.concat([lf_l, lf_r], how="vertical_relaxed")
        if distinct:
            lf = lf.unique()
    else:
        if not distinct:
            raise compiler.error(node, f"{node.key.upper()} ALL is not supported")
        how: JoinHow = "semi" if isinstance(node, exp.Intersect) else "anti"
        lf = lf_l.unique().join(lf_r, on=left.internal, how=how, nulls_equal=True)
    out = Output(lf, left.names, left.internal, known)
    return compiler.modifiers(node, out)


def restrict_keys(compiler: Compiler, rel: Rel, lookup: KeyLookup) -> Rel:
    """Keep the rows of ``rel`` whose correlation keys the outer query looks up."""
    with compiler.context(rel.scope, rel.schema):
        inner = [compiler.expr(n) for n in lookup.inner]
    keys_lf = lookup.keys.select(
        [
            pl.col(k).cast(compiler.rel_dtype(rel, e))
            for k, e in zip(lookup.names, inner, strict=True)
        ]
    )
    lf = join_frames(compiler, rel.lf, keys_lf, inner, list(lookup.names), "semi")
    return Rel(lf, rel.schema, rel.scope)


def from_clause(
    compiler: Compiler,
    node: exp.Select,
    conjuncts: list[exp.Expression],
    restrict: tuple[str, KeyLookup] | None = None,
    handed: list[exp.Expression] | None = None,
) -> tuple[Rel, list[exp.Expression], bool]:
    """Build the joined relation; WHERE conjuncts used as join keys are consumed.

    ``restrict`` (an alias and correlation keys) semi-joins that source with the keys as
    soon as it is read; the flag returned says whether it was. ``handed``: pruning hints an
    outer query passes to this SELECT's single table (see ``pruning.hints_for_projection``).
    """
    from_ = node.args.get("from_")
    joins = node.args.get("joins") or []
    if from_ is None:
        return one_row(), conjuncts, False
    outer = any(j.side in ("RIGHT", "FULL") for j in joins)
    table_hints = {} if outer else tree.single_source_conjuncts(conjuncts)
    if handed:  # only a single-table SELECT gets them (see pruning.hints_for_projection)
        table_hints.setdefault(from_.this.alias_or_name.lower(), []).extend(handed)
    remaining = list(conjuncts)
    restricted = False

    def source(target: exp.Expression) -> Rel:
        nonlocal restricted
        rel = from_item(compiler, target, table_hints, None)
        if restrict is not None and not restricted and restrict[0] in rel.aliases:
            rel, restricted = restrict_keys(compiler, rel, restrict[1]), True
        return rel

    pool: list[Rel] = [source(from_.this)]
    current: Rel | None = None
    for join in joins:
        target = join.this
        lateral = isinstance(target, exp.Unnest | exp.Lateral)
        comma = not join.side and not join.args.get("on") and not join.args.get("using")
        if comma and not lateral and join.kind in ("", "CROSS", "INNER"):
            pool.append(source(target))
            continue
        current, remaining = _flush(compiler, current, pool, remaining, use_where=not outer)
        pool = []
        if lateral:
            if isinstance(target, exp.Lateral):
                raise compiler.error(target, "LATERAL subqueries are not supported")
            current = unnest(compiler, current, target, left=join.side == "LEFT")
            continue
        right = source(target)
        current = join_on(compiler, current, right, join)
    current, remaining = _flush(compiler, current, pool, remaining, use_where=not outer)
    return current, remaining, restricted


def _flush(
    compiler: Compiler,
    current: Rel | None,
    pool: list[Rel],
    conjuncts: list[exp.Expression],
    use_where: bool,
) -> tuple[Rel, list[exp.Expression]]:
    """Join the comma-separated sources greedily along WHERE equalities, in written order."""
    if not pool:
        assert current is not None
        return current, conjuncts
    pool = list(pool)
    if current is None:
        current = pool.pop(0)
    remaining = list(conjuncts)
    if use_where:
        current, remaining = _apply_covered(compiler, current, remaining)
    while pool:
        chosen = None
        keys: list[tuple[exp.Expression, exp.Expression, exp.Expression]] = []
        if use_where:
            for candidate in pool:
                keys = tree.equi_keys(remaining, current.aliases, candidate.aliases)
                if keys:
                    chosen = candidate
                    break
        if chosen is None:
            chosen = pool[0]
            keys = []
        pool.remove(chosen)
        if use_where:
            chosen, remaining = _apply_covered(compiler, chosen, remaining)
        used = {id(k[2]) for k in keys}
        remaining = [c for c in remaining if id(c) not in used]
        current = _equi_join(compiler, current, chosen, [(k[0], k[1]) for k in keys], "inner")
        if use_where:
            current, remaining = _apply_covered(compiler, current, remaining)
    return current, remaining


def _apply_covered(
    compiler: Compiler, rel: Rel, conjuncts: list[exp.Expression]
) -> tuple[Rel, list[exp.Expression]]:
    """Filter ``rel`` by the plain conjuncts that only reference its sources."""
    mine, rest = [], []
    for c in conjuncts:
        refs = tree.referenced_aliases(c)
        if refs and refs <= rel.aliases and not tree.has_subquery(c):
            mine.append(c)
        else:
            rest.append(c)
    if mine:
        rel = filter_rel(compiler, rel, mine)
    return rel, rest


def filter_rel(compiler: Compiler, rel: Rel, conjuncts: list[exp.Expression]) -> Rel:
    """Keep the rows every conjunct accepts; conditions on JSON documents apply after the
    others, as a computed column.

    Polars evaluates a filter it pushes into the Parquet reader once per row group's
    statistics and per page batch: a JSON walk's many steps cost more there than the walk
    itself (demo lake, WHERE json_extract_scalar(...) IS NOT NULL: 75 -> 48 ms of CPU),
    and after the cheap conditions it reads only the rows they kept.
    """
    with compiler.context(rel.scope, rel.schema):
        preds = [condition(compiler, c) for c in conjuncts]
    late = [p for c, p in zip(conjuncts, preds, strict=True) if tree.reads_json(c)]
    early = [p for c, p in zip(conjuncts, preds, strict=True) if not tree.reads_json(c)]
    lf = rel.lf.filter(reduce(operator.and_, early)) if early else rel.lf
    if late:
        lf = filter_by_flag(compiler, lf, reduce(operator.and_, late))
    return Rel(lf, rel.schema, rel.scope)


def filter_by_flag(compiler: Compiler, lf: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
    """Filter by ``condition`` computed as a column first, which Polars neither pushes into
    the scan nor folds into a join."""
    flag = compiler.fresh("_keep")
    return lf.with_columns(condition.alias(flag)).filter(pl.col(flag)).drop(flag)


def condition(compiler: Compiler, node: exp.Expression) -> pl.Expr:
    pred = compiler.expr(node)
    dtype = compiler.dtype(pred)
    if dtype not in (pl.Boolean, pl.Null):
        raise compiler.error(
            node, f"WHERE clause must evaluate to a boolean: actual type {T.sql_name(dtype)}"
        )
    return pred


def join_frames(
    compiler: Compiler,
    left: pl.LazyFrame,
    right: pl.LazyFrame,
    left_on: Sequence[pl.Expr],
    right_on: Sequence[pl.Expr | str],
    how: JoinHow,
    **options: Any,
) -> pl.LazyFrame:
    """``left.join(right, ...)`` with computed keys made columns first: Polars joins only
    on columns and plain elementwise expressions, and some translations are neither
    (casts whose format is inferred, staged formulas)."""
    temporary: list[str] = []

    def as_columns(frame: pl.LazyFrame, keys: list[pl.Expr | str], side: str) -> pl.LazyFrame:
        for i, key in enumerate(keys):
            if isinstance(key, str) or key.meta.is_column():
                continue
            name = compiler.fresh(f"_jk{side}")
            temporary.append(name)
            frame = frame.with_columns(key.alias(name))
            keys[i] = pl.col(name)
        return frame

    left_keys: list[pl.Expr | str] = list(left_on)
    right_keys: list[pl.Expr | str] = list(right_on)
    left = as_columns(left, left_keys, "l")
    right = as_columns(right, right_keys, "r")
    joined = left.join(right, left_on=left_keys, right_on=right_keys, how=how, **options)
    return joined.drop(temporary, strict=False) if temporary else joined


def _equi_join(
    compiler: Compiler,
    left: Rel,
    right: Rel,
    keys: list[tuple[exp.Expression, exp.Expression]],
    how: JoinHow,
) -> Rel:
    schema = {**left.schema, **right.schema}
    scope = left.scope.merged(right.scope)
    if not keys:
        if how != "inner":
            raise SqlError(f"{how.upper()} JOIN needs a join condition")
        return Rel(left.lf.join(right.lf, how="cross"), schema, scope)
    lkeys, rkeys = [], []
    for lnode, rnode in keys:
        lk = compiler.rel_expr(left, lnode)
        rk = compiler.rel_expr(right, rnode)
        with compiler.context(left.scope, left.schema):
            lt = compiler.dtype(lk)
        with compiler.context(right.scope, right.schema):
            rt = compiler.dtype(rk)
        if lt != rt:
            target = T.common_supertype(lt, rt)
            if target is None:
                raise compiler.error(
                    lnode.parent, f"Cannot join on {T.sql_name(lt)} = {T.sql_name(rt)}"
                )
            lk, rk = lk.cast(target), rk.cast(target)
        lkeys.append(lk)
        rkeys.append(rk)
    lf = join_frames(compiler, left.lf, right.lf, lkeys, rkeys, how, coalesce=False)
    return Rel(lf, schema, scope)


def join_on(compiler: Compiler, left: Rel, right: Rel, join: exp.Join) -> Rel:
    side = (join.side or "").upper()
    kind = (join.kind or "").upper()
    on = join.args.get("on")
    using = join.args.get("using")
    conds: list[exp.Expression] = []
    if using:
        for ident in using:
            name = ident.name.lower()
            lcol = [a for a, cols in left.scope.sources.items() if name in cols]
            rcol = [a for a, cols in right.scope.sources.items() if name in cols]
            if not lcol or not rcol:
                raise compiler.error(ident, f"Column '{name}' is missing in USING join")
            conds.append(
                exp.EQ(
                    this=exp.column(name, table=lcol[-1]),
                    expression=exp.column(name, table=rcol[0]),
                )
            )
    elif on is not None:
        conds = list(tree.conjuncts(on))
    if kind == "CROSS" or (not conds and not side):
        return _equi_join(compiler, left, right, [], "inner")
    keys = tree.equi_keys(conds, left.aliases, right.aliases)
    used = {id(k[2]) for k in keys}
    rest = [c for c in conds if id(c) not in used]
    sides: dict[str, JoinHow] = {"": "inner", "LEFT": "left", "RIGHT": "right", "FULL": "full"}
    how = sides[side]
    left_only = [
        c for c in rest if tree.referenced_aliases(c) <= left.aliases and tree.referenced_aliases(c)
    ]
    right_only = [
        c
        for c in rest
        if tree.referenced_aliases(c) <= right.aliases and tree.referenced_aliases(c)
    ]
    if how in ("inner", "left") and right_only:
        right = filter_rel(compiler, right, right_only)
        rest = [c for c in rest if c not in right_only]
    if how in ("inner", "right") and left_only:
        left = filter_rel(compiler, left, left_only)
        rest = [c for c in rest if c not in left_only]
    if any(tree.has_subquery(c) for c in rest):
        raise compiler.error(on, "subqueries in a JOIN condition are not supported")
    pairs = [(k[0], k[1]) for k in keys]
    if how == "inner" or not rest:
        joined = _equi_join(compiler, left, right, pairs, how) if pairs or how == "inner" else None
        if joined is None:
            return _residual_join(compiler, left, right, pairs, rest, how)
        if rest:
            joined = filter_rel(compiler, joined, rest)
        return joined
    return _residual_join(compiler, left, right, pairs, rest, how)


def _residual_join(
    compiler: Compiler,
    left: Rel,
    right: Rel,
    pairs: list[tuple[exp.Expression, exp.Expression]],
    rest: list[exp.Expression],
    how: JoinHow,
) -> Rel:
    """Outer join whose condition is not only equalities: match, then add unmatched rows."""
    lid, rid = compiler.fresh("_lid"), compiler.fresh("_rid")
    # cache(): both uses of each numbered side must see the same numbering
    left = Rel(left.lf.with_row_index(lid).cache(), {**left.schema, lid: pl.UInt32()}, left.scope)
    right = Rel(
        right.lf.with_row_index(rid).cache(), {**right.schema, rid: pl.UInt32()}, right.scope
    )
    matched = _equi_join(compiler, left, right, pairs, "inner")
    if rest:
        matched = filter_rel(compiler, matched, rest)
    parts = [matched.lf]
    if how in ("left", "full"):
        parts.append(left.lf.join(matched.lf.select(lid), on=lid, how="anti"))
    if how in ("right", "full"):
        parts.append(right.lf.join(matched.lf.select(rid), on=rid, how="anti"))
    lf = pl.concat(parts, how="diagonal_relaxed").drop(lid, rid)
    schema = {k: v for k, v in matched.schema.items() if k not in (lid, rid)}
    return Rel(lf, schema, matched.scope)


# ------------------------------------------------------------------ sources


def from_item(
    compiler: Compiler,
    node: exp.Expression,
    hints: dict[str, list[exp.Expression]],
    lateral_of: Rel | None,
) -> Rel:
    alias = node.alias_or_name.lower()
    if isinstance(node, exp.Table) and not isinstance(node.this, exp.Values):
        return table(compiler, node, alias, hints.get(alias, []))
    if isinstance(node, exp.Unnest):
        return unnest(compiler, one_row(), node, left=False)
    if isinstance(node, exp.Subquery | exp.Values) or (
        isinstance(node, exp.Table) and isinstance(node.this, exp.Values)
    ):
        inner = node.this if isinstance(node, exp.Subquery) else node
        alias_node = node.args.get("alias")
        renamed_to = [] if alias_node is None else alias_node.columns
        renamed = bool(renamed_to)
        out = (
            compiler.query(inner)
            if renamed
            else _query_with_hints(compiler, inner, hints.get(alias))
        )
        names = out.names
        if renamed:
            names = [c.name.lower() for c in renamed_to]
        return alias_output(compiler, out, alias, names)
    raise compiler.error(node, f"unsupported FROM item: {node.sql('trino')[:60]}")


def _query_with_hints(
    compiler: Compiler, node: exp.Expression, hints: list[exp.Expression] | None
) -> Output:
    """Compile a view's or derived table's query, handing it the outer conjuncts on its
    plain columns as pruning hints (the outer query still applies them as filters)."""
    handed = pruning.hints_for_projection(node, hints or [])
    return compiler.query(node, hints=handed or None)


def alias_output(compiler: Compiler, out: Output, alias: str, names: list[str]) -> Rel:
    mapping: dict[str, str] = {}
    columns: dict[str, str] = {}
    schema: dict[str, pl.DataType] = {}
    for name, col in zip(names, out.internal, strict=True):
        target = f"{alias}.{name}"
        while target in mapping.values():
            target = compiler.fresh(target + "_")
        mapping[col] = target
        compiler.derived_column(target)
        columns.setdefault(name.lower(), target)
        schema[target] = out.schema.get(col, pl.Null())
    scope = Scope()
    scope.add(alias, columns)
    return Rel(out.lf.rename(mapping), schema, scope)


def table(compiler: Compiler, node: exp.Table, alias: str, hints: list[exp.Expression]) -> Rel:
    name = node.name.lower()
    db = node.db.lower() or None
    if db is None:
        cte = compiler.cte(name)
        if cte is not None:
            return alias_output(compiler, cte, alias, cte.names)
    if compiler.view_loader is not None:
        view = compiler.view_loader(db, name)
        if view is not None:
            out = _query_with_hints(compiler, view, hints)
            return alias_output(compiler, out, alias, out.names)
    try:
        schema = compiler.tables.schema(db, name)
    except SqlError:
        raise
    except Exception as err:
        raise compiler.error(node, str(err)) from err
    pseudo = set()
    if any(p in compiler.sql for p in PSEUDO_COLUMNS):
        pseudo = {
            c.name
            for c in (node.parent_select or node.root()).find_all(exp.Column)
            if c.name in PSEUDO_COLUMNS and c.table.lower() == alias
        }
    predicates = [p for p in (pruning.predicate(c) for c in hints) if p is not None]
    scan = compiler.tables.scan(db, name, predicates, pseudo)
    compiler.scans.append(ScanRecord(f"{db}.{name}" if db else name, scan))
    columns = {c: f"{alias}.{c}" for c in schema}
    for p in pseudo:
        columns[p] = f"{alias}.{p}"
    rel_schema = {f"{alias}.{c}": t for c, t in schema.items()}
    for c in schema:
        compiler.scanned_column(f"{alias}.{c}", scan, c)
    for p in pseudo:
        rel_schema[f"{alias}.{p}"] = PSEUDO_COLUMNS[p]
    lf = scan.lf
    compiler.references.append(alias)
    if alias in compiler.unshared:
        # a step of this reference's own, gone once projections are pushed down: Polars then
        # finds only the scan in common with the alias's other references (see ``sharing``)
        own = compiler.fresh("_ref")
        lf = lf.with_columns(pl.lit(None).alias(own)).drop(own)
    lf = lf.rename({c: t for c, t in columns.items()})
    scope = Scope()
    scope.add(alias, columns)
    return Rel(lf, rel_schema, scope)


def unnest(compiler: Compiler, rel: Rel, node: exp.Unnest, left: bool) -> Rel:
    """``CROSS JOIN UNNEST(array) [WITH ORDINALITY] AS t(a, ...)``: one row per element."""
    alias_node = node.args.get("alias")
    alias = (alias_node.name if alias_node is not None else "") or compiler.fresh("_unnest")
    alias = alias.lower()
    names = [c.name.lower() for c in alias_node.columns] if alias_node is not None else []
    arrays = node.expressions
    tmp = [compiler.fresh("_u") for _ in arrays]
    with compiler.context(rel.scope, rel.schema):
        compiled = [compiler.expr(a) for a in arrays]
        dtypes = [compiler.dtype(c) for c in compiled]
        for i, d in enumerate(dtypes):
            if isinstance(d, pl.Map):
                compiled[i] = compiled[i].map.entries()
                dtypes[i] = compiler.dtype(compiled[i])
    listed: list[pl.List | pl.Array] = []
    for a, d in zip(arrays, dtypes, strict=True):
        if not isinstance(d, pl.List | pl.Array):
            raise compiler.error(a, f"Cannot unnest type: {T.sql_name(d)}")
        listed.append(d)
    lf = rel.lf.with_columns([c.alias(t) for c, t in zip(compiled, tmp, strict=True)])
    if not left:
        lf = lf.filter(pl.max_horizontal([pl.col(t).list.len() for t in tmp]) > 0)
    offset = node.args.get("offset")
    ord_col = compiler.fresh("_ord") if offset is not None else None
    if len(tmp) > 1:
        longest = pl.max_horizontal([pl.col(t).list.len() for t in tmp])
        lf = lf.with_columns(
            [
                pl.concat_list(
                    pl.col(t),
                    pl.lit(None).repeat_by(longest - pl.col(t).list.len().fill_null(0)),
                ).alias(t)
                for t in tmp
            ]
        )
    if ord_col is not None:
        lf = lf.with_columns(
            pl.int_ranges(1, pl.col(tmp[0]).list.len() + 1, dtype=pl.Int64).alias(ord_col)
        )
    lf = lf.explode([*tmp, *([ord_col] if ord_col else [])], empty_as_null=left)
    # output columns: struct elements expand into their fields, maps into key and value
    outputs: list[tuple[pl.Expr, pl.DataType]] = []
    for t, d in zip(tmp, listed, strict=True):
        inner = T.nested(d.inner)
        # a map's entries are {key, value} rows: they always expand
        if isinstance(inner, pl.Struct) and (T.is_map(d) or len(names) != len(arrays)):
            outputs += [(pl.col(t).struct.field(f.name), T.nested(f.dtype)) for f in inner.fields]
        else:
            outputs.append((pl.col(t), inner))
    if ord_col is not None:
        outputs.append((pl.col(ord_col), pl.Int64()))
    if not names:
        names = [f"_col{i}" for i in range(len(outputs))]
    if ord_col is not None and len(names) == len(outputs) - 1:
        names.append(offset.name.lower() if isinstance(offset, exp.Identifier) else "ordinality")
    if len(names) != len(outputs):
        raise compiler.error(
            alias_node or node,
            f"Column alias list has {len(names)} entries but '{alias}' has {len(outputs)} columns available",
        )
    columns = {}
    schema = dict(rel.schema)
    new = []
    for name, (e, d) in zip(names, outputs, strict=True):
        target = f"{alias}.{name}"
        compiler.derived_column(target)
        columns[name] = target
        schema[target] = d
        new.append(e.alias(target))
    lf = lf.with_columns(new).drop([*tmp, *([ord_col] if ord_col else [])])
    scope = Scope(dict(rel.scope.sources))
    scope.add(alias, columns)
    return Rel(lf, schema, scope)
