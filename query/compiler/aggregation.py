"""GROUP BY, grouping sets (ROLLUP, CUBE, GROUPING SETS) and aggregate calls.

COUNT, SUM, AVG, MIN and MAX are split into plain per-group reductions over pre-computed input
columns, shared between calls over the same input (TPC-H q1's SUM and AVG of one column read one
null-aware sum); every other aggregate goes to ``agg()`` as its translator builds it. Grouping
sets are one group-by per set, concatenated, with a bitmask column for ``grouping()``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.compiler.context import Grouping, Rel, Scope
from loglake.query.compiler.unscaled import decimal_mean, rescaled, summable
from loglake.query.guards import integer_sum

if TYPE_CHECKING:
    from loglake.query.compiler.core import Compiler

#: aggregates split into simple per-group reductions (the rest go to agg() as they are built)
CORE_AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)


@dataclass
class _Reductions:
    """What one GROUP BY computes: input columns added before grouping (``pre``, typed in
    ``pre_schema``), the reductions per group (``aggs``), and which input, count and sum
    columns already exist, so that calls over the same input share them."""

    pre_schema: dict[str, pl.DataType]
    pre: list[pl.Expr] = field(default_factory=list)
    aggs: list[pl.Expr] = field(default_factory=list)
    inputs: list[tuple[pl.Expr, str]] = field(default_factory=list)
    counts: dict[tuple[str, bool], str] = field(default_factory=dict)
    sums: dict[tuple[str, bool], str] = field(default_factory=dict)
    #: whether the input's columns are the scans' own (no outer join NULL-extended them), so
    #: that their files' statistics tell which hold no NULL
    scanned: bool = False
    rows: str | None = None  # the column of the group's row count, once one is asked for


def aggregate(
    compiler: Compiler,
    rel: Rel,
    group: exp.Group | None,
    aggregates: list[exp.Expression],
    scanned: bool = False,
) -> tuple[Rel, dict[exp.Expression, pl.Expr], Grouping | None]:
    """GROUP BY (with grouping sets) and the aggregate calls of a SELECT: the grouped relation,
    the final value of each aggregate and key by its node, and the grouping-set column.
    ``scanned``: no outer join feeds ``rel``, so its scanned columns hold only the files'
    values (a column whose files have no NULL counts as the group's row count)."""
    keys: list[exp.Expression] = []
    sets: list[list[int]] | None = None
    if group is not None:
        keys, sets = _grouping_sets(compiler, group)
    plan = _Reductions(pre_schema=dict(rel.schema), scanned=scanned)
    pre, aggs, pre_schema = plan.pre, plan.aggs, plan.pre_schema
    key_cols = []
    with compiler.context(rel.scope, rel.schema):
        for k in keys:
            if isinstance(k, exp.Literal) and not k.is_string:
                raise compiler.error(k, "GROUP BY position is not in select list")
            col = compiler.fresh("_g")
            compiled = compiler.expr(k)
            pre.append(compiled.alias(col))
            key_cols.append(col)
            pre_schema[col] = compiler.dtype(compiled)
        finals: dict[exp.Expression, pl.Expr] = {}
        seen: dict[exp.Expression, pl.Expr] = {}
        for node in aggregates:
            if node in seen:
                continue
            final = _split_aggregate(compiler, node, plan)
            seen[node] = final
            finals[node] = final
    lf = rel.lf.with_columns(pre) if pre else rel.lf
    if sets is None or len(sets) == 1:
        if key_cols:
            lf = lf.group_by(key_cols).agg(aggs)
        else:
            lf = lf.select(aggs if aggs else [pl.len().alias(compiler.fresh("_n"))])
        grouping_col = None
    else:
        grouping_col = compiler.fresh("_grouping")
        parts = []
        for s in sets:
            members = [key_cols[i] for i in s]
            mask = sum(1 << (len(key_cols) - 1 - i) for i in range(len(key_cols)) if i not in s)
            nulls = [
                pl.lit(None, pre_schema[key_cols[i]]).alias(key_cols[i])
                for i in range(len(key_cols))
                if i not in s
            ]
            if members:
                part = lf.group_by(members).agg(aggs)
            else:
                part = lf.select(aggs)
            parts.append(part.with_columns([*nulls, pl.lit(mask, pl.Int64).alias(grouping_col)]))
        lf = pl.concat(parts, how="diagonal_relaxed")
    replacements: dict[exp.Expression, pl.Expr] = dict(finals)
    for k, col in zip(keys, key_cols, strict=True):
        replacements.setdefault(k, pl.col(col))
    schema = dict(lf.collect_schema())
    rel = Rel(lf, schema, Scope())
    grouping = Grouping(grouping_col, keys) if grouping_col is not None else None
    return rel, replacements, grouping


def _grouping_sets(
    compiler: Compiler, group: exp.Group
) -> tuple[list[exp.Expression], list[list[int]] | None]:
    keys: list[exp.Expression] = []

    def index(e: exp.Expression) -> int:
        e = e.this if isinstance(e, exp.Paren) else e
        if e not in keys:
            keys.append(e)
        return keys.index(e)

    def members(e: exp.Expression) -> list[int]:
        if isinstance(e, exp.Tuple):
            return [index(x) for x in e.expressions]
        return [index(e)]

    plain = [
        index(e)
        for e in group.expressions
        if not isinstance(e, exp.Rollup | exp.Cube | exp.GroupingSets)
    ]
    _check_grouping_set_count(compiler, group)
    # Combine plain keys with each grouping-set family by cross product
    families: list[list[list[int]]] = []
    for e in group.expressions:
        if isinstance(e, exp.GroupingSets):
            families.append([members(x) for x in e.expressions])
        elif isinstance(e, exp.Rollup):
            items = [members(x) for x in e.expressions]
            families.append(
                [reduce(operator.iadd, items[:n], []) for n in range(len(items), -1, -1)]
            )
        elif isinstance(e, exp.Cube):
            items = [members(x) for x in e.expressions]
            fam: list[list[int]] = []
            for n in range(len(items), -1, -1):
                for combo in itertools.combinations(range(len(items)), n):
                    fam.append(reduce(operator.iadd, (items[i] for i in combo), []))
            families.append(fam)
    for key in ("grouping_sets", "rollup", "cube"):
        for e in group.args.get(key) or []:
            wrapped = {
                "grouping_sets": exp.GroupingSets,
                "rollup": exp.Rollup,
                "cube": exp.Cube,
            }[key]
            sub = wrapped(expressions=e.expressions if hasattr(e, "expressions") else [e])
            g = exp.Group(expressions=[sub])
            k2, s2 = _grouping_sets(compiler, g)
            families.append([[index(k2[i]) for i in s] for s in (s2 or [])])
    if not families:
        return keys, None
    sets = [list(plain)]
    for fam in families:
        sets = [sorted(set(a + b), key=(a + b).index) for a in sets for b in fam]
    return keys, sets


def _split_aggregate(
    compiler: Compiler,
    node: exp.Expression,
    plan: _Reductions,
) -> pl.Expr:
    """Split a core aggregate into plain reductions (fast path) and return its final value."""
    aggs = plan.aggs
    cond = None
    target = node
    if isinstance(node, exp.Filter):
        cond = compiler.expr(node.expression.this)
        target = node.this
    if isinstance(target, CORE_AGGREGATES) and len(target.expressions) == 0:
        arg = target.this
        distinct = isinstance(arg, exp.Distinct)
        if distinct:
            if len(arg.expressions) != 1:
                raise compiler.error(target, "DISTINCT aggregates take one argument")
            arg = arg.expressions[0]
        fast = None
        if isinstance(target, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
            if cond is None:
                return pl.col(_rows(compiler, plan))
            arg = exp.true()
            compiled: pl.Expr = pl.when(cond).then(pl.lit(1))
            cond = None
        else:
            fast = summable(compiler, arg) if isinstance(target, exp.Sum | exp.Avg) else None
            compiled = compiler.expr(arg) if fast is None else fast.expr
        if cond is not None:
            compiled = pl.when(cond).then(compiled)
        # decimal arithmetic summed as unscaled integers: the decimal type it stands for
        dtype = compiler.dtype(compiled) if fast is None else pl.Decimal(38, fast.scale)
        if isinstance(target, exp.Sum | exp.Avg) and not (T.is_numeric(dtype) or dtype == pl.Null):
            raise compiler.error(
                target,
                f"Unexpected parameters ({T.sql_name(dtype).lower()}) for function {target.sql_name().lower()}",
            )
        src = _input(plan, compiler, compiled, dtype if fast is None else pl.Int128())
        col = pl.col(src)
        # a column whose files hold no NULL counts every row (len() costs nothing per row)
        null_free = plan.scanned and cond is None and arg is not None and compiler.null_free(arg)
        out = compiler.fresh("_a")
        if isinstance(target, exp.Count):
            if not distinct:
                return pl.col(_value_count(compiler, plan, col, src, null_free)).cast(pl.Int64)
            aggs.append(col.drop_nulls().n_unique().alias(out))
            return pl.col(out).cast(pl.Int64)
        if distinct:
            col = col.unique()
        if isinstance(target, exp.Min | exp.Max):
            aggs.append((col.min() if isinstance(target, exp.Min) else col.max()).alias(out))
            return pl.col(out)
        if isinstance(target, exp.Sum):
            if T.is_integer(dtype):  # an overflow fails as in Trino
                summed, result = integer_sum(compiler, target, col, out)
                aggs.append(summed)
                return result
            summed = pl.col(_null_aware_sum(compiler, plan, col, src, distinct))
            if fast is not None:
                return rescaled(summed, fast.scale)
            return summed.cast(T.sum_type(dtype)) if T.is_decimal(dtype) else summed
        if distinct:
            count = plan.counts.get((src, distinct))
            if count is None:
                count = plan.counts[(src, distinct)] = compiler.fresh("_a")
                aggs.append(col.count().alias(count))
        else:
            count = _value_count(compiler, plan, col, src, null_free)
        # avg: Trino keeps the decimal scale, and averages everything else as double
        average = T.avg_type(dtype)
        if T.is_decimal(dtype):
            # the sum a SUM of the same input computes (TPC-H q1 asks for both)
            # (over unscaled Int128 when ``fast``: to_physical leaves those as they are)
            total = pl.col(_null_aware_sum(compiler, plan, col, src, distinct))
            return decimal_mean(total, pl.col(count), average)
        aggs.append(col.cast(pl.Float64).mean().cast(average).alias(out))
        return pl.col(out)
    compiled = compiler.expr(node)
    out = compiler.fresh("_a")
    aggs.append(compiled.alias(out))
    return pl.col(out)


def _input(plan: _Reductions, compiler: Compiler, compiled: pl.Expr, dtype: pl.DataType) -> str:
    """The input column computing ``compiled`` before grouping, one for every call over it."""
    src = next((n for e, n in plan.inputs if e.meta.eq(compiled)), None)
    if src is None:
        src = compiler.fresh("_i")
        plan.inputs.append((compiled, src))
        plan.pre.append(compiled.alias(src))
        plan.pre_schema[src] = dtype
    return src


def _rows(compiler: Compiler, plan: _Reductions) -> str:
    """The column of each group's row count (BIGINT), one for every call that counts rows."""
    if plan.rows is None:
        plan.rows = compiler.fresh("_a")
        plan.aggs.append(pl.len().cast(pl.Int64).alias(plan.rows))
    return plan.rows


def _value_count(
    compiler: Compiler, plan: _Reductions, col: pl.Expr, src: str, null_free: bool
) -> str:
    """The column of the count of ``col``'s values per group, one for every COUNT and AVG of
    the same input: the row count where the files say the column holds no NULL."""
    count = plan.counts.get((src, False))
    if count is None:
        if null_free:
            count = plan.counts[(src, False)] = _rows(compiler, plan)
        else:
            count = plan.counts[(src, False)] = compiler.fresh("_a")
            plan.aggs.append(col.count().alias(count))
    return count


def _null_aware_sum(
    compiler: Compiler, plan: _Reductions, col: pl.Expr, src: str, distinct: bool
) -> str:
    """The column of ``col``'s sum per group, NULL for a group without values, computed once
    for every SUM and decimal AVG of the same input (Polars runs it as one null-aware sum)."""
    name = plan.sums.get((src, distinct))
    if name is None:
        name = plan.sums[(src, distinct)] = compiler.fresh("_a")
        plan.aggs.append(pl.when(col.count() > 0).then(col.sum()).alias(name))
    return name


#: Trino's default max-grouping-sets: CUBE over n columns makes 2^n sets
MAX_GROUPING_SETS = 2048


def _check_grouping_set_count(compiler: Compiler, group: exp.Group) -> None:
    """Fail as Trino does before a GROUP BY's grouping sets are spelled out one by one."""
    sizes: dict[type[exp.Expr], Callable[[int], int]] = {
        exp.GroupingSets: lambda n: n,
        exp.Rollup: lambda n: n + 1,
        exp.Cube: lambda n: 2**n,
    }
    kinds = (exp.GroupingSets, exp.Rollup, exp.Cube)
    parts: list[exp.Expr] = [e for e in group.expressions if isinstance(e, kinds)]
    for key, kind in (
        ("grouping_sets", exp.GroupingSets),
        ("rollup", exp.Rollup),
        ("cube", exp.Cube),
    ):
        for e in group.args.get(key) or []:
            parts.append(kind(expressions=e.expressions if hasattr(e, "expressions") else [e]))
    count = 1
    for part in parts:
        count *= sizes[type(part)](len(part.expressions))
    if count > MAX_GROUPING_SETS:
        raise compiler.error(
            group, f"GROUP BY has {count} grouping sets but can contain at most {MAX_GROUPING_SETS}"
        )
