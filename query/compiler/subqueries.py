"""Subqueries: [NOT] EXISTS and [NOT] IN become semi and anti joins, scalar subqueries joined
columns.

A correlated subquery is first split into an uncorrelated query, the equalities between its
columns and the outer query's (the join keys) and any other correlated condition (matched after
the join). A grouped correlated subquery only aggregates the groups the outer rows look up
(``KeyLookup``); a correlated MIN/MAX over the outer query's own tables is read from its rows
(``query/outer_reuse.py``).
"""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from loglake.query import outer_reuse
from loglake.query import types as T
from loglake.query.compiler import relations, tree
from loglake.query.compiler.context import KeyLookup, Output, Rel, Scope
from loglake.query.runtime import guard

if TYPE_CHECKING:
    from loglake.query.compiler.core import Compiler


def filter_by_subquery(
    compiler: Compiler,
    rel: Rel,
    conj: exp.Expression,
    outer: tuple[exp.Select, list[exp.Expression]] | None = None,
) -> Rel:
    """WHERE conjuncts with [NOT] EXISTS / [NOT] IN (subquery) become semi / anti joins.

    ``outer`` (the SELECT and its WHERE conjuncts without subqueries) is given when ``rel``
    is that SELECT's FROM relation filtered by exactly those conjuncts.
    """
    negated = False
    node = conj
    while isinstance(node, exp.Not):
        negated = not negated
        node = node.this
    node = node.this if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.Exists):
        return _semi_join(compiler, rel, node.this, None, negated, node)
    if isinstance(node, exp.In) and node.args.get("query") is not None:
        return _semi_join(compiler, rel, node.args["query"], node.this, negated, node)
    replacements: dict[exp.Expression, pl.Expr] = {}
    for sub in tree.subqueries(conj):
        rel, replacements = attach(compiler, rel, sub, replacements, False, outer)
    with compiler.context(rel.scope, rel.schema, replacements):
        pred = relations.condition(compiler, conj)
    return Rel(keep_rows(compiler, rel.lf, pred), rel.schema, rel.scope)


def keep_rows(compiler: Compiler, lf: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
    """Filter rows; a comparison with a cross-joined scalar subquery is evaluated row by row.

    Polars would fold the cross join and an inequality filter into an inequality join that
    sorts both sides, where the scalar side has one row (TPC-H q22: 145 -> 63 ms).
    """
    if not compiler.scalar_columns & set(condition.meta.root_names()):
        return lf.filter(condition)
    return relations.filter_by_flag(compiler, lf, condition)


def _decorrelate(
    compiler: Compiler, query: exp.Expression, outer: Rel
) -> tuple[exp.Expression, list[tuple[exp.Expression, exp.Expression]], list[exp.Expression]]:
    """Split a subquery into (uncorrelated query, [(inner, outer) equalities], residual)."""
    query = query.this if isinstance(query, exp.Subquery) else query
    if not isinstance(query, exp.Select):
        return query, [], []
    inner_aliases = tree.declared_aliases(query)
    outer_refs = [
        c
        for c in query.find_all(exp.Column)
        if c.table
        and c.table.lower() not in inner_aliases
        and c.table.lower() in outer.aliases
        and not tree.inside_nested_select(c, query, inner_aliases)
    ]
    if not outer_refs:
        return query, [], []
    where = query.args.get("where")
    conjs = list(tree.conjuncts(where.this)) if where else []
    keys, residual, kept = [], [], []
    for c in conjs:
        refs = tree.referenced_aliases(c)
        if not refs & outer.aliases - inner_aliases:
            kept.append(c)
            continue
        if isinstance(c, exp.EQ):
            lr, rr = tree.referenced_aliases(c.this), tree.referenced_aliases(c.expression)
            if lr and rr and lr <= inner_aliases and not (rr & inner_aliases):
                keys.append((c.this, c.expression))
                continue
            if lr and rr and rr <= inner_aliases and not (lr & inner_aliases):
                keys.append((c.expression, c.this))
                continue
        residual.append(c)
    stripped = query.copy()
    stripped.set("where", exp.Where(this=exp.and_(*kept)) if kept else None)
    # outer references must only remain in what we pulled out
    for c in stripped.find_all(exp.Column):
        if c.table and c.table.lower() not in inner_aliases and c.table.lower() in outer.aliases:
            raise compiler.error(c, "this correlated subquery is not supported")
    return stripped, keys, residual


def _sub_output(
    compiler: Compiler,
    query: exp.Expression,
    extra: list[exp.Expression],
    lookup: KeyLookup | None = None,
) -> tuple[Output, list[str]]:
    """Compile a (de-correlated) subquery with extra output expressions appended (``lookup``:
    the outer keys its groups will be looked up by, see ``KeyLookup``)."""
    if extra:
        query = query.copy()
        names = [f"_k{i}" for i in range(len(extra))]
        query.set(
            "expressions",
            [
                *query.expressions,
                *[exp.alias_(e, n) for e, n in zip(extra, names, strict=True)],
            ],
        )
    with compiler.context(Scope(), {}):
        out = compiler.query(query, lookup)
    # rename outputs to fresh names that cannot clash with the outer frame
    fresh = [compiler.fresh("_q") for _ in out.internal]
    lf = out.lf.rename(dict(zip(out.internal, fresh, strict=True)))
    schema = {f: out.schema[i] for i, f in zip(out.internal, fresh, strict=True)}
    return Output(lf, out.names, fresh, schema), fresh


def _semi_join(
    compiler: Compiler,
    rel: Rel,
    query: exp.Expression,
    probe: exp.Expression | None,
    negated: bool,
    node: exp.Expression,
) -> Rel:
    stripped, keys, residual = _decorrelate(compiler, query, rel)
    inner_aliases = tree.declared_aliases(stripped) if isinstance(stripped, exp.Select) else set()
    residual_cols = []
    for r in residual:
        for c in r.find_all(exp.Column):
            if c.table.lower() in inner_aliases and c not in residual_cols:
                residual_cols.append(c)
    if (
        isinstance(stripped, exp.Select)
        and (keys or residual)
        and (stripped.args.get("group") or tree.find_aggregates(stripped.expressions))
    ):
        raise compiler.error(node, "correlated EXISTS / IN with aggregation is not supported")
    if isinstance(stripped, exp.Select) and probe is None:
        # EXISTS: the select list does not matter
        stripped = stripped.copy()
        stripped.set("expressions", [exp.alias_(exp.Literal.number(1), "_one")])
        stripped.set("distinct", None)
    extra = [k[0] for k in keys] + residual_cols
    out, cols = _sub_output(compiler, stripped, extra)
    base = 1  # the first output is the IN value or EXISTS' constant
    value_col = cols[0]
    key_cols = cols[base : base + len(keys)]
    res_cols = cols[base + len(keys) :]
    sub_schema = out.schema
    left_keys: list[pl.Expr] = []
    right_keys: list[pl.Expr] = []
    with compiler.context(rel.scope, rel.schema):
        if probe is not None:
            if len(out.internal) - len(extra) != 1:
                raise compiler.error(
                    node, "Multiple columns returned by subquery are not supported"
                )
            pe = compiler.expr(probe)
            pt, vt = compiler.dtype(pe), sub_schema[value_col]
            ve = pl.col(value_col)
            if pt != vt:
                target = T.common_supertype(pt, vt)
                if target is None:
                    raise compiler.error(
                        node,
                        f"Value expression and result of subquery must be of the same type: {T.sql_name(pt)} vs {T.sql_name(vt)}",
                    )
                pe, ve = pe.cast(target), ve.cast(target)
            left_keys.append(pe)
            right_keys.append(ve)
        for (_, outer_node), kc in zip(keys, key_cols, strict=True):
            oe, ie = _key_pair(compiler, outer_node, kc, sub_schema[kc])
            left_keys.append(oe)
            right_keys.append(ie)
    how: relations.JoinHow = "anti" if negated else "semi"
    sub_lf = out.lf
    if residual:
        # the answer depends only on the outer values the conditions read: find the
        # distinct outer (keys, columns) combinations that have a match, then semi/anti join
        outer_cols = sorted(
            {
                rel.scope.sources[c.table.lower()][c.name.lower()]
                for r in residual
                for c in r.find_all(exp.Column)
                if c.table.lower() not in inner_aliases
                and c.name.lower() in rel.scope.sources.get(c.table.lower(), {})
            }
        )
        key_names = [compiler.fresh("_ck") for _ in left_keys]
        # the outer rows feed both the probe and the final join: compute them once
        rel = Rel(rel.lf.cache(), rel.schema, rel.scope)
        outer_rows = rel.lf.select(
            [k.alias(n) for k, n in zip(left_keys, key_names, strict=True)]
            + [pl.col(c) for c in outer_cols]
        ).unique()
        inner_scope = Scope()
        for c, col in zip(residual_cols, res_cols, strict=True):
            inner_scope.sources.setdefault(c.table.lower(), {})[c.name.lower()] = col
        scope = rel.scope.merged(inner_scope)
        schema = {**rel.schema, **sub_schema}
        if left_keys:
            matched = outer_rows.join(sub_lf, left_on=key_names, right_on=right_keys, how="inner")
        else:
            matched = outer_rows.join(sub_lf, how="cross")
        with compiler.context(scope, schema):
            cond = reduce(lambda a, b: a & b, [relations.condition(compiler, r) for r in residual])
        hits = matched.filter(cond).select([*key_names, *outer_cols]).unique()
        lf = relations.join_frames(
            compiler,
            rel.lf,
            hits,
            [*left_keys, *[pl.col(c) for c in outer_cols]],
            [*key_names, *outer_cols],
            how,
        )
        return Rel(lf, rel.schema, rel.scope)
    if not left_keys:
        # uncorrelated EXISTS: keep everything or nothing
        flag = compiler.fresh("_exists")
        present = sub_lf.select(pl.len().alias(flag))
        keep = pl.col(flag) > 0
        lf = rel.lf.join(present, how="cross").filter(~keep if negated else keep).drop(flag)
        return Rel(lf, rel.schema, rel.scope)
    if negated and probe is not None:
        # NOT IN: any NULL in the subquery (or a NULL probe) makes the predicate unknown
        stats = compiler.fresh("_nn")
        total = compiler.fresh("_cnt")
        summary = sub_lf.select(pl.col(value_col).null_count().alias(stats), pl.len().alias(total))
        lf = relations.join_frames(compiler, rel.lf, sub_lf, left_keys, right_keys, "anti")
        lf = (
            lf.join(summary, how="cross")
            .filter((pl.col(total) == 0) | ((pl.col(stats) == 0) & left_keys[0].is_not_null()))
            .drop(stats, total)
        )
        return Rel(lf, rel.schema, rel.scope)
    lf = relations.join_frames(compiler, rel.lf, sub_lf, left_keys, right_keys, how)
    return Rel(lf, rel.schema, rel.scope)


def attach(
    compiler: Compiler,
    rel: Rel,
    sub: exp.Expression,
    replacements: dict[exp.Expression, pl.Expr],
    aggregated: bool,
    outer: tuple[exp.Select, list[exp.Expression]] | None = None,
) -> tuple[Rel, dict[exp.Expression, pl.Expr]]:
    """Join a scalar subquery (or an EXISTS / IN used as a value) as a column of ``rel``
    (``outer``: see :meth:`subquery_filter`)."""
    replacements = dict(replacements)
    if sub in replacements:
        return rel, replacements
    if isinstance(sub, exp.Exists) or (isinstance(sub, exp.In) and sub.args.get("query")):
        flag = compiler.fresh("_mark")
        query = sub.this if isinstance(sub, exp.Exists) else sub.args["query"]
        stripped, keys, residual = _decorrelate(compiler, query, rel)
        if residual or keys:
            raise compiler.error(sub, "correlated EXISTS / IN used as a value is not supported")
        if isinstance(sub, exp.Exists):
            out, cols = _sub_output(compiler, stripped, [])
            present = out.lf.select((pl.len() > 0).alias(flag))
            lf = rel.lf.join(present, how="cross")
            replacements[sub] = pl.col(flag)
        else:
            out, cols = _sub_output(compiler, stripped, [])
            values = out.lf.select(pl.col(cols[0]).alias(flag + "_v")).unique()
            with compiler.context(rel.scope, rel.schema, replacements, aggregated):
                probe = compiler.expr(sub.this)
            nulls = compiler.fresh("_nn")
            summary = out.lf.select(
                pl.col(cols[0]).null_count().alias(nulls), pl.len().alias(flag + "_n")
            )
            probe_col = flag + "_p"
            lf = (
                rel.lf.with_columns(probe.alias(probe_col))
                .join(
                    values.with_columns(pl.lit(True).alias(flag)),
                    left_on=probe_col,
                    right_on=flag + "_v",
                    how="left",
                )
                .join(summary, how="cross")
            )
            hit = (
                pl.when(pl.col(flag + "_n") == 0)
                .then(pl.lit(False))
                .when(pl.col(flag).is_not_null())
                .then(pl.lit(True))
                .when(pl.col(probe_col).is_null() | (pl.col(nulls) > 0))
                .then(pl.lit(None, pl.Boolean))
                .otherwise(pl.lit(False))
            )
            replacements[sub] = hit
        schema = dict(lf.collect_schema())
        return Rel(lf, schema, rel.scope), replacements
    query = sub.this
    stripped, keys, residual = _decorrelate(compiler, query, rel)
    if residual:
        raise compiler.error(
            sub, "correlated scalar subquery with non-equality conditions is not supported"
        )
    if keys and outer is not None and not aggregated and isinstance(stripped, exp.Select):
        reuse = outer_reuse.outer_aggregate(outer[0], outer[1], stripped, keys)
        if reuse is not None:
            return _attach_outer_aggregate(compiler, rel, sub, reuse, keys, replacements)
    has_agg = False
    if keys:
        if aggregated:
            raise compiler.error(
                sub, "correlated subqueries in an aggregated select list are not supported"
            )
        assert isinstance(stripped, exp.Select)
        stripped = stripped.copy()
        has_agg = bool(tree.find_aggregates(stripped.expressions) or stripped.args.get("group"))
        if has_agg:
            group = stripped.args.get("group")
            existing = list(group.expressions) if group else []
            stripped.set("group", exp.Group(expressions=existing + [k[0].copy() for k in keys]))
    lookup = None
    if keys and isinstance(stripped, exp.Select) and stripped.args.get("group"):
        key_names = [compiler.fresh("_mk") for _ in keys]
        with compiler.context(rel.scope, rel.schema):
            outer_keys = [
                compiler.expr(k[1]).alias(n) for k, n in zip(keys, key_names, strict=True)
            ]
        # the outer rows feed both the key filter and the final join: compute them once
        rel = Rel(rel.lf.cache(), rel.schema, rel.scope)
        lookup = KeyLookup([k[0] for k in keys], rel.lf.select(outer_keys).unique(), key_names)
    out, cols = _sub_output(compiler, stripped, [k[0] for k in keys], lookup)
    if len(out.internal) - len(keys) != 1:
        raise compiler.error(sub, "Multiple columns returned by subquery are not supported")
    value = cols[0]
    if keys:
        with compiler.context(rel.scope, rel.schema):
            left_keys = []
            right_keys = []
            for (_, outer_node), kc in zip(keys, cols[1:], strict=True):
                oe, ie = _key_pair(compiler, outer_node, kc, out.schema[kc])
                left_keys.append(oe)
                right_keys.append(ie)
        # at most one value per key (the first, where an unaggregated subquery has several)
        values = out.lf if has_agg else out.lf.unique(subset=cols[1:], keep="any")
        lf = relations.join_frames(
            compiler, rel.lf, values, left_keys, right_keys, "left", coalesce=False
        )
        lf = lf.drop(cols[1:])
        first = stripped.expressions[0].unalias() if isinstance(stripped, exp.Select) else None
        if isinstance(first, exp.Count):
            # no matching rows: count() is 0, not NULL
            lf = lf.with_columns(pl.col(value).fill_null(0))
    elif (
        isinstance(stripped, exp.Select)
        and not stripped.args.get("group")
        and not stripped.args.get("having")
        and not stripped.args.get("limit")
        and tree.find_aggregates(stripped.expressions)
    ):
        # a global aggregate always has exactly one row
        lf = rel.lf.join(out.lf.select(value), how="cross")
        compiler.scalar_columns.add(value)
    else:
        # one row: the value (NULL for an empty subquery), or Trino's error for a second row
        first_two = out.lf.select(value).slice(0, 2)
        one = first_two.select(
            guard(
                compiler,
                sub,
                pl.col(value).first(),
                pl.len() > 1,
                "Scalar sub-query has returned multiple rows",
            ).alias(value)
        )
        lf = rel.lf.join(one, how="cross")
        compiler.scalar_columns.add(value)
    schema = {**rel.schema, value: out.schema[value]}
    replacements[sub] = pl.col(value)
    return Rel(lf, schema, rel.scope), replacements


def _attach_outer_aggregate(
    compiler: Compiler,
    rel: Rel,
    sub: exp.Expression,
    reuse: outer_reuse.OuterAggregate,
    keys: list[tuple[exp.Expression, exp.Expression]],
    replacements: dict[exp.Expression, pl.Expr],
) -> tuple[Rel, dict[exp.Expression, pl.Expr]]:
    """A correlated MIN / MAX computed per correlation key over ``rel``'s own rows (see
    ``query/outer_reuse.py``), joined back as a column."""
    base = rel.lf.cache()
    names = [compiler.fresh("_ok") for _ in keys]
    value = compiler.fresh("_q")
    with compiler.context(rel.scope, rel.schema):
        outer_keys = [compiler.expr(k[1]) for k in keys]
        argument = compiler.expr(reuse.aggregate.this)
        dtype = compiler.dtype(argument)
    reduced = argument.min() if isinstance(reuse.aggregate, exp.Min) else argument.max()
    values = base.group_by([k.alias(n) for k, n in zip(outer_keys, names, strict=True)]).agg(
        reduced.alias(value)
    )
    lf = relations.join_frames(
        compiler, base, values, outer_keys, list(names), "left", coalesce=False
    )
    replacements[sub] = pl.col(value)
    return Rel(lf.drop(names), {**rel.schema, value: dtype}, rel.scope), replacements


def _key_pair(
    compiler: Compiler, outer_node: exp.Expression, inner_col: str, inner_dtype: pl.DataType
) -> tuple[pl.Expr, pl.Expr]:
    """A correlation key as (outer expression, subquery column), both cast to their common type
    where they differ (compiled in the outer relation's context)."""
    outer = compiler.expr(outer_node)
    inner = pl.col(inner_col)
    outer_dtype = compiler.dtype(outer)
    if outer_dtype != inner_dtype:
        target = T.common_supertype(outer_dtype, inner_dtype)
        if target is not None:
            outer, inner = outer.cast(target), inner.cast(target)
    return outer, inner
