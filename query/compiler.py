"""The compiler: one qualified sqlglot query tree in, one Polars LazyFrame out.

Relational clauses are walked here (FROM/JOIN, WHERE, GROUP BY, HAVING, windows, ORDER BY, LIMIT,
set operations, CTEs, subqueries); scalar expressions are looked up in the dispatch tables of
``query/registry.py``. A translator registered there receives the compiler and may use:

``compiler.expr(node) -> pl.Expr``
    compile a child expression in the current context (row, group or window).
``compiler.dtype(expr: pl.Expr) -> pl.DataType``
    the Polars dtype a compiled expression has in the current context.
``compiler.type_of(node) -> sqlglot.exp.DataType | None``
    the SQL type of an uncompiled child, when it can be known.
``compiler.error(node, message) -> SqlError``
    an error pointing at the node's text in the query (``raise compiler.error(...)``).
``compiler.literal_value(node)``
    the Python value of a constant child (or raise an error naming the argument).

Every frame the compiler builds names its columns with unique internal names; a scope maps the
SQL-visible ``(table alias, column)`` pairs to them, so joins never collide and Polars can push
projections and predicates down through the renames into the scans.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.errors import SqlError
from loglake.query import outer_reuse, registry
from loglake.query import types as T
from loglake.query.guards import integer_sum
from loglake.query.signatures import check_call, names_of, unknown_function_message
from loglake.query.tables import PSEUDO_COLUMNS, Predicate, Scan, TableProvider, suggest

#: aggregates the compiler splits into simple per-group reductions (the rest go to agg() as-is)
CORE_AGGREGATES = (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)
SUBQUERY_NODES = (exp.Subquery, exp.Exists)


@dataclass
class Scope:
    """SQL names visible in a clause: table alias -> column name -> internal frame column."""

    sources: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, alias: str, columns: dict[str, str]) -> None:
        self.sources[alias.lower()] = {k.lower(): v for k, v in columns.items()}

    def merged(self, other: Scope) -> Scope:
        return Scope({**self.sources, **other.sources})

    def all_columns(self) -> list[str]:
        return [c for cols in self.sources.values() for c in cols]


@dataclass(eq=False)
class Rel:
    """A frame under construction plus the names a clause can see in it."""

    lf: pl.LazyFrame
    schema: dict[str, pl.DataType]
    scope: Scope

    @property
    def aliases(self) -> set[str]:
        return set(self.scope.sources)


@dataclass(eq=False)
class Output:
    """A compiled query: ``lf`` has exactly the columns ``internal``; ``names`` are SQL names."""

    lf: pl.LazyFrame
    names: list[str]
    internal: list[str]
    known_schema: dict[str, pl.DataType] | None = None

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """Column dtypes, resolved only when a consumer needs them (it costs a plan walk)."""
        if self.known_schema is None:
            self.known_schema = dict(self.lf.collect_schema())
        return self.known_schema

    def final_names(self) -> list[str]:
        """User-facing column names (duplicates get a numeric suffix)."""
        seen: dict[str, int] = {}
        final = []
        for name in self.names:
            n = seen.get(name, 0)
            seen[name] = n + 1
            final.append(name if n == 0 else f"{name}_{n}")
        return final

    def renamed(self) -> pl.LazyFrame:
        """The frame with user-facing column names."""
        final = self.final_names()
        mapping = {i: f for i, f in zip(self.internal, final, strict=True) if i != f}
        return self.lf.rename(mapping) if mapping else self.lf


@dataclass
class ScanRecord:
    """What one table scan kept and skipped (for statistics and EXPLAIN)."""

    table: str
    scan: Scan


class Compiler:
    """Compile one statement's query trees into LazyFrames (see the module docstring)."""

    def __init__(self, tables: TableProvider, sql: str, view_loader: Any = None):
        self.tables = tables
        self.sql = sql
        self.view_loader = view_loader  # callable(db, name) -> qualified tree of a view, or None
        self.scans: list[ScanRecord] = []
        self._counter = itertools.count()
        self._ctes: list[dict[str, Output]] = []
        # expression context
        self.scope = Scope()
        self.schema: dict[str, pl.DataType] = {}
        self.replacements: dict[exp.Expression, pl.Expr] = {}
        self.aggregated = False
        self._frames: dict[tuple[Any, ...], pl.LazyFrame] = {}
        # (inner key nodes, outer key frame, its column names) for the next SELECT compiled
        self._magic: tuple[list[exp.Expression], pl.LazyFrame, list[str]] | None = None
        # (bitmask column, grouping keys) of the SELECT being compiled, for grouping()
        self._grouping_col: tuple[str, list[exp.Expression]] | None = None
        # pruning hints an outer query hands to the SELECT of a view or derived table it reads
        # (by id of that SELECT), so a filter on a view's plain column skips the table's files
        self._passed_hints: dict[int, list[exp.Expression]] = {}
        # arguments compiled for a signature check, handed once to the translator that follows
        self._ahead: dict[int, tuple[exp.Expression, dict[str, pl.DataType], pl.Expr]] = {}
        self._dtypes: dict[int, tuple[pl.Expr, dict[str, pl.DataType], pl.DataType]] = {}
        # the calls being compiled, innermost last (where an error without a place points)
        self._compiling: list[exp.Expression] = []
        # columns holding an uncorrelated scalar subquery's value, cross-joined onto every row
        self._scalars: set[str] = set()
        # steps for the statement's final frame (and its column names) that translators ask
        # for, such as IPADDRESS values shown as text
        self.finishers: list[Callable[[pl.LazyFrame, list[str]], pl.LazyFrame]] = []

    # ------------------------------------------------------------------ helpers for translators

    def fresh(self, prefix: str = "_t") -> str:
        return f"{prefix}{next(self._counter)}"

    def error(self, node: exp.Expression | None, message: str) -> SqlError:
        start, end = self.position(node)
        return SqlError(message, self.sql, start, end)

    def position(self, node: exp.Expression | None) -> tuple[int | None, int | None]:
        """Character span of a node in the query text, from identifier metadata or its name."""
        if node is None:
            return None, None
        meta = getattr(node, "_meta", None) or {}
        if "start" in meta:
            return meta["start"], meta["end"] + 1
        # otherwise the span of the tokens inside it (identifiers, literals, calls)
        spans = [
            (m["start"], m["end"] + 1)
            for sub in node.walk()
            if "start" in (m := getattr(sub, "_meta", None) or {})
        ]
        if spans:
            return min(s for s, _ in spans), max(e for _, e in spans)
        name = None
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        elif isinstance(node, exp.Column | exp.Identifier):
            name = node.name
        if name:
            match = re.search(rf"(?i)\b{re.escape(name)}\b", self.sql)
            if match:
                return match.start(), match.end()
        for name in names_of(node):
            match = re.search(rf"(?i)\b{re.escape(name)}\s*\(", self.sql)
            if match:
                return match.start(), match.start() + len(name)
        # a node made while compiling (a parsed JSON path, a rewritten call): its parent's place,
        # or else the place of the call being compiled
        if node.parent is not None:
            return self.position(node.parent)
        for call in reversed(self._compiling):
            if call is not node:
                return self.position(call)
        return None, None

    def expr(self, node: exp.Expression) -> pl.Expr:
        """Compile a scalar (or aggregate, in group context) expression."""
        if self.replacements:
            hit = self.replacements.get(node)
            if hit is not None:
                return hit
        if self._ahead:
            ahead = self._ahead.pop(id(node), None)
            if ahead is not None and ahead[0] is node and ahead[1] is self.schema:
                return ahead[2]
        key: type | str = type(node)
        translator = registry.EXPRESSIONS.get(type(node))
        if translator is None and isinstance(node, exp.Func):
            key = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            key = key.lower()
            translator = registry.NAMED_FUNCTIONS.get(key)
        if translator is None:
            if isinstance(node, exp.Func):
                raise self.error(node, unknown_function_message(str(key)))
            raise self.error(node, f"unsupported expression: {_shown(node)}")
        self._compiling.append(node)
        try:
            if key in registry.DECLARED:
                check_call(self, node, key)
            return translator(self, node)
        finally:
            self._compiling.pop()

    def compile_ahead(self, node: exp.Expression) -> pl.Expr:
        """Compile ``node`` now and hand the result to the next ``expr(node)`` call."""
        compiled = self.expr(node)
        self._ahead[id(node)] = (node, self.schema, compiled)
        return compiled

    def retype_ahead(self, node: exp.Expression, dtype: pl.DataType) -> None:
        """Cast an argument compiled ahead (an untyped NULL given a parameter's type)."""
        ahead = self._ahead.get(id(node))
        if ahead is not None:
            self._ahead[id(node)] = (node, ahead[1], ahead[2].cast(dtype))

    def dtype(self, expr: pl.Expr) -> pl.DataType:
        """The dtype ``expr`` has over the current frame."""
        if expr.meta.is_column():
            known = self.schema.get(expr.meta.output_name())
            if known is not None:
                return known
        cached = self._dtypes.get(id(expr))
        if cached is not None and cached[0] is expr and cached[1] is self.schema:
            return cached[2]
        roots = sorted(set(expr.meta.root_names()))
        key = tuple((r, self.schema.get(r)) for r in roots)
        frame = self._frames.get(key)
        if frame is None:
            frame = pl.LazyFrame(schema={r: t for r, t in key if t is not None})
            self._frames[key] = frame
        try:
            dtype = frame.select(expr.alias("_x")).collect_schema()["_x"]
        except pl.exceptions.PolarsError:
            return pl.Null()
        self._dtypes[id(expr)] = (expr, self.schema, dtype)
        return dtype

    def type_of(self, node: exp.Expression) -> exp.DataType | None:
        """The SQL type of a child node, or None when it cannot be known before running."""
        try:
            return T.sqlglot_type(self.dtype(self.expr(node)))
        except (SqlError, ValueError):
            return None

    def literal_value(self, node: exp.Expression) -> Any:
        """The value of a constant argument (raise an error naming the node otherwise)."""
        try:
            value = pl.select(self.expr(node)).item()
        except Exception as err:
            raise self.error(node, f"expected a constant, found {node.sql('trino')}") from err
        return value

    def column(self, node: exp.Column) -> pl.Expr:
        """A column reference in the current scope."""
        table = node.table.lower()
        name = node.name.lower()
        if self.aggregated:
            raise self.error(
                node,
                f"'{node.sql('trino')}' must be an aggregate expression or appear in GROUP BY clause",
            )
        cols = self.scope.sources.get(table) if table else None
        if cols is None and not table:
            owners = [c for c in self.scope.sources.values() if name in c]
            if len(owners) == 1:
                cols = owners[0]
            elif len(owners) > 1:
                raise self.error(node, f"Column '{name}' is ambiguous")
        if cols is None or name not in cols:
            candidates = self.scope.all_columns()
            raise self.error(
                node,
                f"Column '{node.sql('trino')}' cannot be resolved." + suggest(name, candidates),
            )
        return pl.col(cols[name])

    @contextmanager
    def context(
        self,
        scope: Scope,
        schema: dict[str, pl.DataType],
        replacements: dict[exp.Expression, pl.Expr] | None = None,
        aggregated: bool = False,
    ) -> Iterator[None]:
        saved = (self.scope, self.schema, self.replacements, self.aggregated)
        self.scope, self.schema = scope, schema
        self.replacements = replacements or {}
        self.aggregated = aggregated
        try:
            yield
        finally:
            self.scope, self.schema, self.replacements, self.aggregated = saved

    def rel_dtype(self, rel: Rel, expr: pl.Expr) -> pl.DataType:
        with self.context(rel.scope, rel.schema):
            return self.dtype(expr)

    def rel_expr(self, rel: Rel, node: exp.Expression) -> pl.Expr:
        with self.context(rel.scope, rel.schema):
            return self.expr(node)

    # ------------------------------------------------------------------ queries

    def query(self, node: exp.Expression) -> Output:
        """Compile SELECT, a set operation, VALUES or a parenthesised query."""
        if isinstance(node, exp.Subquery):
            inner = self.query(node.this)
            return self._modifiers(node, inner)
        if isinstance(node, exp.Select):
            with self._with_ctes(node):
                return self.select(node)
        if isinstance(node, exp.SetOperation):
            with self._with_ctes(node):
                return self.set_operation(node)
        if isinstance(node, exp.Values):
            return self.values(node)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Values):
            return self.values(node.this)
        raise self.error(node, f"unsupported query: {node.sql('trino')[:60]}")

    @contextmanager
    def _with_ctes(self, node: exp.Expression) -> Iterator[None]:
        with_ = node.args.get("with_")
        if not with_:
            yield
            return
        frame: dict[str, Output] = {}
        self._ctes.append(frame)
        try:
            for cte in with_.expressions:
                if with_.args.get("recursive"):
                    raise self.error(cte, "WITH RECURSIVE is not supported")
                out = self.query(cte.this)
                columns = (
                    [c.name for c in cte.args["alias"].columns] if cte.args.get("alias") else []
                )
                if columns:
                    out = Output(out.lf, columns, out.internal, out.known_schema)
                frame[cte.alias_or_name.lower()] = out
            yield
        finally:
            self._ctes.pop()

    def _cte(self, name: str) -> Output | None:
        for frame in reversed(self._ctes):
            if name in frame:
                return frame[name]
        return None

    def values(self, node: exp.Values) -> Output:
        alias = node.args.get("alias")
        rows = []
        width = None
        for row in node.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            if width is None:
                width = len(items)
            elif len(items) != width:
                raise self.error(row, "VALUES rows must all have the same number of columns")
            with self.context(Scope(), {}):
                rows.append(
                    pl.LazyFrame().select(
                        [self.expr(v).alias(f"_col{i}") for i, v in enumerate(items)]
                    )
                )
        lf = pl.concat(rows, how="vertical_relaxed") if len(rows) > 1 else rows[0]
        internal = [f"_col{i}" for i in range(width or 0)]
        names = list(internal)
        if alias is not None and alias.columns:
            names = [c.name.lower() for c in alias.columns]
        schema = dict(lf.collect_schema())
        return Output(lf, names, internal, schema)

    # ------------------------------------------------------------------ SELECT

    def select(self, node: exp.Select) -> Output:
        magic, self._magic = self._magic, None
        where = node.args.get("where")
        conjuncts = list(_conjuncts(where.this)) if where else []
        # only the groups the outer query will look up are worth aggregating: restrict the table
        # the keys come from before it is joined (inner joins only), else the joined rows
        restrict = None
        if magic is not None and not any(j.side for j in node.args.get("joins") or []):
            owners = set().union(*(_referenced_aliases(n) for n in magic[0]))
            restrict = (owners.pop(), magic) if len(owners) == 1 else None
        rel, conjuncts, restricted = self.from_clause(node, conjuncts, restrict)
        if magic is not None and not restricted:
            rel = self._restrict_keys(rel, magic)

        plain = [c for c in conjuncts if not _has_subquery(c)]
        with_subqueries = [c for c in conjuncts if _has_subquery(c)]
        if plain:
            rel = self.filter(rel, plain)
        # the first subquery conjunct sees the FROM relation with exactly the plain conjuncts
        # applied, which a correlated MIN / MAX over the same tables may read instead
        outer = None
        if magic is None and where is not None:
            outer = (node, [c for c in _conjuncts(where.this) if not _has_subquery(c)])
        for conj in with_subqueries:
            rel = self.subquery_filter(rel, conj, outer)
            outer = None

        selects = node.expressions
        having = node.args.get("having")
        order = node.args.get("order")
        group = node.args.get("group")
        scan_exprs = [*selects, *([having.this] if having else [])]
        if order:
            scan_exprs += [o.this for o in order.expressions]
        aggregates = _find_aggregates(scan_exprs)
        replacements: dict[exp.Expression, pl.Expr] = {}
        aggregated = False
        self._grouping_col = None
        if group is not None or aggregates:
            rel, replacements = self.aggregate(rel, group, aggregates)
            aggregated = True
        grouping = self._grouping_col
        # scalar subqueries in the select list / HAVING / ORDER BY become joined columns
        for e in scan_exprs:
            for sub in _subqueries(e):
                rel, replacements = self.attach_subquery(rel, sub, replacements, aggregated)
        self._grouping_col = grouping
        if having is not None:
            with self.context(rel.scope, rel.schema, replacements, aggregated):
                cond = self.expr(having.this)
            rel = Rel(self._keep_rows(rel.lf, cond), rel.schema, rel.scope)
        windows = _find_windows(scan_exprs)
        if windows:
            rel, replacements = self.windows(rel, windows, replacements, aggregated)

        names: list[str] = []
        internal: list[str] = []
        exprs: list[pl.Expr] = []
        self._grouping_col = grouping
        with self.context(rel.scope, rel.schema, replacements, aggregated):
            for i, item in enumerate(selects):
                if isinstance(item, exp.Star):
                    raise self.error(item, "SELECT * could not be expanded")
                name = _output_name(item, i)
                target = self.fresh("_o")
                names.append(name)
                internal.append(target)
                exprs.append(self.expr(item.unalias()).alias(target))
            order_keys, hidden = self._order_keys(order, selects, internal, names)
        every = exprs + hidden
        if any(not e.meta.root_names() for e in every) and not aggregated:
            # a projection of constants only must keep the input's row count (Polars would
            # broadcast it to one row)
            lf = rel.lf.with_columns(every).select([e.meta.output_name() for e in every])
        else:
            lf = rel.lf.select(every)
        if node.args.get("distinct"):
            if hidden:
                raise self.error(
                    order, "For SELECT DISTINCT, ORDER BY expressions must appear in select list"
                )
            lf = lf.unique()
        if order_keys:
            lf = self._sort(lf, order_keys)
        lf = self._limit(node, lf)
        if hidden:
            lf = lf.select(internal)
        return Output(lf, names, internal)

    def _order_keys(
        self,
        order: exp.Order | None,
        selects: list[exp.Expression],
        internal: list[str],
        names: list[str],
    ) -> tuple[list[tuple[str, bool, bool]], list[pl.Expr]]:
        """Sort keys: output columns where ORDER BY names one, hidden columns otherwise."""
        if order is None:
            return [], []
        keys: list[tuple[str, bool, bool]] = []
        hidden: list[pl.Expr] = []
        plain = [s.unalias() for s in selects]
        for ordered in order.expressions:
            target = ordered.this
            desc = bool(ordered.args.get("desc"))
            nulls_last = not ordered.args.get("nulls_first")
            col = None
            if isinstance(target, exp.Column) and not target.table and target.name.lower() in names:
                col = internal[names.index(target.name.lower())]
            elif isinstance(target, exp.Literal) and not target.is_string:
                index = int(target.this) - 1
                if not 0 <= index < len(internal):
                    raise self.error(target, f"ORDER BY position {index + 1} is not in select list")
                col = internal[index]
            elif target in plain:
                col = internal[plain.index(target)]
            else:
                col = self.fresh("_s")
                hidden.append(self.expr(target).alias(col))
            keys.append((col, desc, nulls_last))
        return keys, hidden

    @staticmethod
    def _sort(lf: pl.LazyFrame, keys: list[tuple[str, bool, bool]]) -> pl.LazyFrame:
        return lf.sort(
            [k[0] for k in keys],
            descending=[k[1] for k in keys],
            nulls_last=[k[2] for k in keys],
            maintain_order=False,
        )

    def _limit(self, node: exp.Expression, lf: pl.LazyFrame) -> pl.LazyFrame:
        limit = node.args.get("limit")
        offset = node.args.get("offset")
        off = 0
        if offset is not None:
            off = int(self.literal_value(offset.expression))
        if limit is not None:
            count = limit.expression
            if isinstance(count, exp.Literal) or not isinstance(count, exp.Null):
                n = int(self.literal_value(count))
                return lf.slice(off, n)
        if off:
            return lf.slice(off)
        return lf

    def _modifiers(self, node: exp.Expression, out: Output) -> Output:
        """ORDER BY / LIMIT attached to a parenthesised query or set operation."""
        order = node.args.get("order")
        lf = out.lf
        if order is not None:
            keys = []
            scope = Scope({"": dict(zip(out.names, out.internal, strict=True))})
            hidden = []
            with self.context(scope, out.schema):
                for ordered in order.expressions:
                    target = ordered.this
                    if isinstance(target, exp.Literal) and not target.is_string:
                        col = out.internal[int(target.this) - 1]
                    elif isinstance(target, exp.Column) and target.name.lower() in out.names:
                        col = out.internal[out.names.index(target.name.lower())]
                    else:
                        col = self.fresh("_s")
                        hidden.append(self.expr(target).alias(col))
                    keys.append(
                        (col, bool(ordered.args.get("desc")), not ordered.args.get("nulls_first"))
                    )
            if hidden:
                lf = lf.with_columns(hidden)
            lf = self._sort(lf, keys)
            if hidden:
                lf = lf.select(out.internal)
        lf = self._limit(node, lf)
        return Output(lf, out.names, out.internal, out.known_schema)

    # ------------------------------------------------------------------ set operations

    def set_operation(self, node: exp.SetOperation) -> Output:
        left = self.query(node.this)
        right = self.query(node.expression)
        if len(left.internal) != len(right.internal):
            raise self.error(
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
                raise self.error(
                    node,
                    f"column types of {node.key.upper()} do not match: "
                    f"{T.sql_name(lt)} and {T.sql_name(rt)}",
                )
            casts_l.append(
                pl.col(li).cast(target) if target is not None and target != lt else pl.col(li)
            )
            casts_r.append(
                (
                    pl.col(ri).cast(target) if target is not None and target != rt else pl.col(ri)
                ).alias(li)
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
                raise self.error(node, f"{node.key.upper()} ALL is not supported")
            how = "semi" if isinstance(node, exp.Intersect) else "anti"
            lf = lf_l.unique().join(lf_r, on=left.internal, how=how, nulls_equal=True)
        out = Output(lf, left.names, left.internal, known)
        return self._modifiers(node, out)

    # ------------------------------------------------------------------ FROM and joins

    def _restrict_keys(
        self, rel: Rel, magic: tuple[list[exp.Expression], pl.LazyFrame, list[str]]
    ) -> Rel:
        """Keep the rows of ``rel`` whose correlation keys the outer query looks up."""
        inner_nodes, keys_lf, key_names = magic
        with self.context(rel.scope, rel.schema):
            inner = [self.expr(n) for n in inner_nodes]
        keys_lf = keys_lf.select(
            [pl.col(k).cast(self.rel_dtype(rel, e)) for k, e in zip(key_names, inner, strict=True)]
        )
        lf = self._join(rel.lf, keys_lf, inner, key_names, "semi")
        return Rel(lf, rel.schema, rel.scope)

    def from_clause(
        self,
        node: exp.Select,
        conjuncts: list[exp.Expression],
        restrict: tuple[str, tuple[list[exp.Expression], pl.LazyFrame, list[str]]] | None = None,
    ) -> tuple[Rel, list[exp.Expression], bool]:
        """Build the joined relation; WHERE conjuncts used as join keys are consumed.

        ``restrict`` (an alias and correlation keys) semi-joins that source with the keys as
        soon as it is read; the flag returned says whether it was.
        """
        from_ = node.args.get("from_")
        joins = node.args.get("joins") or []
        if from_ is None:
            lf = pl.LazyFrame({"_one": [1]})
            return Rel(lf, {"_one": pl.Int32}, Scope()), conjuncts, False
        outer = any(j.side in ("RIGHT", "FULL") for j in joins)
        table_hints = {} if outer else _single_source_conjuncts(conjuncts)
        handed = self._passed_hints.pop(id(node), None)
        if handed:  # only a single-table SELECT gets them (see _hints_for_projection)
            table_hints.setdefault(from_.this.alias_or_name.lower(), []).extend(handed)
        remaining = list(conjuncts)
        restricted = False

        def source(target: exp.Expression) -> Rel:
            nonlocal restricted
            rel = self.source(target, table_hints, None)
            if restrict is not None and not restricted and restrict[0] in rel.aliases:
                rel, restricted = self._restrict_keys(rel, restrict[1]), True
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
            current, remaining = self._flush(current, pool, remaining, use_where=not outer)
            pool = []
            if lateral:
                if isinstance(target, exp.Lateral):
                    raise self.error(target, "LATERAL subqueries are not supported")
                current = self.unnest(current, target, left=join.side == "LEFT")
                continue
            right = source(target)
            current = self.join(current, right, join)
        current, remaining = self._flush(current, pool, remaining, use_where=not outer)
        return current, remaining, restricted

    def _flush(
        self,
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
            current, remaining = self._apply_covered(current, remaining)
        while pool:
            chosen = None
            keys: list[tuple[exp.Expression, exp.Expression, exp.Expression]] = []
            if use_where:
                for candidate in pool:
                    keys = _equi_keys(remaining, current.aliases, candidate.aliases)
                    if keys:
                        chosen = candidate
                        break
            if chosen is None:
                chosen = pool[0]
                keys = []
            pool.remove(chosen)
            if use_where:
                chosen, remaining = self._apply_covered(chosen, remaining)
            used = {id(k[2]) for k in keys}
            remaining = [c for c in remaining if id(c) not in used]
            current = self._equi_join(current, chosen, [(k[0], k[1]) for k in keys], "inner")
            if use_where:
                current, remaining = self._apply_covered(current, remaining)
        return current, remaining

    def _apply_covered(
        self, rel: Rel, conjuncts: list[exp.Expression]
    ) -> tuple[Rel, list[exp.Expression]]:
        """Filter ``rel`` by the plain conjuncts that only reference its sources."""
        mine, rest = [], []
        for c in conjuncts:
            refs = _referenced_aliases(c)
            if refs and refs <= rel.aliases and not _has_subquery(c):
                mine.append(c)
            else:
                rest.append(c)
        if mine:
            rel = self.filter(rel, mine)
        return rel, rest

    def filter(self, rel: Rel, conjuncts: list[exp.Expression]) -> Rel:
        """Keep the rows every conjunct accepts; conditions on JSON documents apply after the
        others, as a computed column.

        Polars evaluates a filter it pushes into the Parquet reader once per row group's
        statistics and per page batch: a JSON walk's many steps cost more there than the walk
        itself (demo lake, WHERE json_extract_scalar(...) IS NOT NULL: 75 -> 48 ms of CPU),
        and after the cheap conditions it reads only the rows they kept.
        """
        with self.context(rel.scope, rel.schema):
            preds = [self._predicate(c) for c in conjuncts]
        late = [p for c, p in zip(conjuncts, preds, strict=True) if _reads_json(c)]
        early = [p for c, p in zip(conjuncts, preds, strict=True) if not _reads_json(c)]
        lf = rel.lf.filter(reduce(operator.and_, early)) if early else rel.lf
        if late:
            lf = self._filter_by_flag(lf, reduce(operator.and_, late))
        return Rel(lf, rel.schema, rel.scope)

    def _predicate(self, node: exp.Expression) -> pl.Expr:
        pred = self.expr(node)
        dtype = self.dtype(pred)
        if dtype not in (pl.Boolean, pl.Null):
            raise self.error(
                node, f"WHERE clause must evaluate to a boolean: actual type {T.sql_name(dtype)}"
            )
        return pred

    def _join(
        self,
        left: pl.LazyFrame,
        right: pl.LazyFrame,
        left_on: list[pl.Expr],
        right_on: list[pl.Expr | str],
        how: str,
        **options: Any,
    ) -> pl.LazyFrame:
        """``left.join(right, ...)`` with computed keys made columns first: Polars joins only
        on columns and plain elementwise expressions, and some translations are neither
        (casts whose format is inferred, staged formulas)."""
        temporary: list[str] = []

        def as_columns(frame: pl.LazyFrame, keys: list[Any], side: str) -> pl.LazyFrame:
            for i, key in enumerate(keys):
                if isinstance(key, str) or key.meta.is_column():
                    continue
                name = self.fresh(f"_jk{side}")
                temporary.append(name)
                frame = frame.with_columns(key.alias(name))
                keys[i] = pl.col(name)
            return frame

        left_on, right_on = list(left_on), list(right_on)
        left = as_columns(left, left_on, "l")
        right = as_columns(right, right_on, "r")
        joined = left.join(right, left_on=left_on, right_on=right_on, how=how, **options)  # type: ignore[arg-type]
        return joined.drop(temporary, strict=False) if temporary else joined

    def _equi_join(
        self,
        left: Rel,
        right: Rel,
        keys: list[tuple[exp.Expression, exp.Expression]],
        how: str,
    ) -> Rel:
        schema = {**left.schema, **right.schema}
        scope = left.scope.merged(right.scope)
        if not keys:
            if how != "inner":
                raise SqlError(f"{how.upper()} JOIN needs a join condition")
            return Rel(left.lf.join(right.lf, how="cross"), schema, scope)
        lkeys, rkeys = [], []
        for lnode, rnode in keys:
            lk = self.rel_expr(left, lnode)
            rk = self.rel_expr(right, rnode)
            with self.context(left.scope, left.schema):
                lt = self.dtype(lk)
            with self.context(right.scope, right.schema):
                rt = self.dtype(rk)
            if lt != rt:
                target = T.common_supertype(lt, rt)
                if target is None:
                    raise self.error(
                        lnode.parent, f"Cannot join on {T.sql_name(lt)} = {T.sql_name(rt)}"
                    )
                lk, rk = lk.cast(target), rk.cast(target)
            lkeys.append(lk)
            rkeys.append(rk)
        lf = self._join(left.lf, right.lf, lkeys, rkeys, how, coalesce=False)
        return Rel(lf, schema, scope)

    def join(self, left: Rel, right: Rel, join: exp.Join) -> Rel:
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
                    raise self.error(ident, f"Column '{name}' is missing in USING join")
                conds.append(
                    exp.EQ(
                        this=exp.column(name, table=lcol[-1]),
                        expression=exp.column(name, table=rcol[0]),
                    )
                )
        elif on is not None:
            conds = list(_conjuncts(on))
        if kind == "CROSS" or (not conds and not side):
            return self._equi_join(left, right, [], "inner")
        keys = _equi_keys(conds, left.aliases, right.aliases)
        used = {id(k[2]) for k in keys}
        rest = [c for c in conds if id(c) not in used]
        how = {"": "inner", "LEFT": "left", "RIGHT": "right", "FULL": "full"}[side]
        left_only = [
            c for c in rest if _referenced_aliases(c) <= left.aliases and _referenced_aliases(c)
        ]
        right_only = [
            c for c in rest if _referenced_aliases(c) <= right.aliases and _referenced_aliases(c)
        ]
        if how in ("inner", "left") and right_only:
            right = self.filter(right, right_only)
            rest = [c for c in rest if c not in right_only]
        if how in ("inner", "right") and left_only:
            left = self.filter(left, left_only)
            rest = [c for c in rest if c not in left_only]
        if any(_has_subquery(c) for c in rest):
            raise self.error(on, "subqueries in a JOIN condition are not supported")
        pairs = [(k[0], k[1]) for k in keys]
        if how == "inner" or not rest:
            joined = self._equi_join(left, right, pairs, how) if pairs or how == "inner" else None
            if joined is None:
                return self._residual_join(left, right, pairs, rest, how)
            if rest:
                joined = self.filter(joined, rest)
            return joined
        return self._residual_join(left, right, pairs, rest, how)

    def _residual_join(
        self,
        left: Rel,
        right: Rel,
        pairs: list[tuple[exp.Expression, exp.Expression]],
        rest: list[exp.Expression],
        how: str,
    ) -> Rel:
        """Outer join whose condition is not only equalities: match, then add unmatched rows."""
        lid, rid = self.fresh("_lid"), self.fresh("_rid")
        # cache(): both uses of each numbered side must see the same numbering
        left = Rel(left.lf.with_row_index(lid).cache(), {**left.schema, lid: pl.UInt32}, left.scope)
        right = Rel(
            right.lf.with_row_index(rid).cache(), {**right.schema, rid: pl.UInt32}, right.scope
        )
        matched = self._equi_join(left, right, pairs, "inner")
        if rest:
            matched = self.filter(matched, rest)
        parts = [matched.lf]
        if how in ("left", "full"):
            parts.append(left.lf.join(matched.lf.select(lid), on=lid, how="anti"))
        if how in ("right", "full"):
            parts.append(right.lf.join(matched.lf.select(rid), on=rid, how="anti"))
        lf = pl.concat(parts, how="diagonal_relaxed").drop(lid, rid)
        schema = {k: v for k, v in matched.schema.items() if k not in (lid, rid)}
        return Rel(lf, schema, matched.scope)

    # ------------------------------------------------------------------ sources

    def source(
        self,
        node: exp.Expression,
        hints: dict[str, list[exp.Expression]],
        lateral_of: Rel | None,
    ) -> Rel:
        alias = node.alias_or_name.lower()
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Values):
            return self.table(node, alias, hints.get(alias, []))
        if isinstance(node, exp.Unnest):
            base = Rel(pl.LazyFrame({"_one": [1]}), {"_one": pl.Int32}, Scope())
            return self.unnest(base, node, left=False)
        if isinstance(node, exp.Subquery | exp.Values) or (
            isinstance(node, exp.Table) and isinstance(node.this, exp.Values)
        ):
            inner = node.this if isinstance(node, exp.Subquery) else node
            alias_node = node.args.get("alias")
            renamed = alias_node is not None and bool(alias_node.columns)
            out = self.query(inner) if renamed else self._query_with_hints(inner, hints.get(alias))
            names = out.names
            if renamed:
                names = [c.name.lower() for c in alias_node.columns]
            return self._alias_output(out, alias, names)
        raise self.error(node, f"unsupported FROM item: {node.sql('trino')[:60]}")

    def _query_with_hints(self, node: exp.Expression, hints: list[exp.Expression] | None) -> Output:
        """Compile a view's or derived table's query, handing it the outer conjuncts on its
        plain columns as pruning hints (the outer query still applies them as filters)."""
        handed = _hints_for_projection(node, hints or [])
        if handed:
            self._passed_hints[id(node)] = handed
        try:
            return self.query(node)
        finally:
            self._passed_hints.pop(id(node), None)

    def _alias_output(self, out: Output, alias: str, names: list[str]) -> Rel:
        mapping: dict[str, str] = {}
        columns: dict[str, str] = {}
        schema: dict[str, pl.DataType] = {}
        for name, col in zip(names, out.internal, strict=True):
            target = f"{alias}.{name}"
            while target in mapping.values():
                target = self.fresh(target + "_")
            mapping[col] = target
            columns.setdefault(name.lower(), target)
            schema[target] = out.schema.get(col, pl.Null())
        scope = Scope()
        scope.add(alias, columns)
        return Rel(out.lf.rename(mapping), schema, scope)

    def table(self, node: exp.Table, alias: str, hints: list[exp.Expression]) -> Rel:
        name = node.name.lower()
        db = node.db.lower() or None
        if db is None:
            cte = self._cte(name)
            if cte is not None:
                return self._alias_output(cte, alias, cte.names)
        if self.view_loader is not None:
            view = self.view_loader(db, name)
            if view is not None:
                out = self._query_with_hints(view, hints)
                return self._alias_output(out, alias, out.names)
        try:
            schema = self.tables.schema(db, name)
        except SqlError:
            raise
        except Exception as err:
            raise self.error(node, str(err)) from err
        pseudo = set()
        if any(p in self.sql for p in PSEUDO_COLUMNS):
            pseudo = {
                c.name
                for c in (node.parent_select or node.root()).find_all(exp.Column)
                if c.name in PSEUDO_COLUMNS and c.table.lower() == alias
            }
        predicates = [p for p in (_pruning_predicate(c) for c in hints) if p is not None]
        scan = self.tables.scan(db, name, predicates, pseudo)
        self.scans.append(ScanRecord(f"{db}.{name}" if db else name, scan))
        columns = {c: f"{alias}.{c}" for c in schema}
        for p in pseudo:
            columns[p] = f"{alias}.{p}"
        rel_schema = {f"{alias}.{c}": t for c, t in schema.items()}
        for p in pseudo:
            rel_schema[f"{alias}.{p}"] = PSEUDO_COLUMNS[p]
        lf = scan.lf.rename({c: t for c, t in columns.items()})
        scope = Scope()
        scope.add(alias, columns)
        return Rel(lf, rel_schema, scope)

    def unnest(self, rel: Rel, node: exp.Unnest, left: bool) -> Rel:
        """``CROSS JOIN UNNEST(array) [WITH ORDINALITY] AS t(a, ...)``: one row per element."""
        alias_node = node.args.get("alias")
        alias = (alias_node.name if alias_node is not None else "") or self.fresh("_unnest")
        alias = alias.lower()
        names = [c.name.lower() for c in alias_node.columns] if alias_node is not None else []
        arrays = node.expressions
        tmp = [self.fresh("_u") for _ in arrays]
        with self.context(rel.scope, rel.schema):
            compiled = [self.expr(a) for a in arrays]
            dtypes = [self.dtype(c) for c in compiled]
            for i, d in enumerate(dtypes):
                if isinstance(d, pl.Map):
                    compiled[i] = compiled[i].map.entries()
                    dtypes[i] = self.dtype(compiled[i])
        for a, d in zip(arrays, dtypes, strict=True):
            if not isinstance(d, pl.List | pl.Array):
                raise self.error(a, f"Cannot unnest type: {T.sql_name(d)}")
        lf = rel.lf.with_columns([c.alias(t) for c, t in zip(compiled, tmp, strict=True)])
        if not left:
            lf = lf.filter(pl.max_horizontal([pl.col(t).list.len() for t in tmp]) > 0)
        offset = node.args.get("offset")
        ord_col = self.fresh("_ord") if offset is not None else None
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
        for t, d in zip(tmp, dtypes, strict=True):
            inner = d.inner  # type: ignore[union-attr]
            if T.is_map(d) or (isinstance(inner, pl.Struct) and len(names) != len(arrays)):
                outputs += [(pl.col(t).struct.field(f.name), f.dtype) for f in inner.fields]
            else:
                outputs.append((pl.col(t), inner))
        if ord_col is not None:
            outputs.append((pl.col(ord_col), pl.Int64))
        if not names:
            names = [f"_col{i}" for i in range(len(outputs))]
        if ord_col is not None and len(names) == len(outputs) - 1:
            names.append(
                offset.name.lower() if isinstance(offset, exp.Identifier) else "ordinality"
            )
        if len(names) != len(outputs):
            raise self.error(
                alias_node or node,
                f"Column alias list has {len(names)} entries but '{alias}' has {len(outputs)} columns available",
            )
        columns = {}
        schema = dict(rel.schema)
        new = []
        for name, (e, d) in zip(names, outputs, strict=True):
            target = f"{alias}.{name}"
            columns[name] = target
            schema[target] = d
            new.append(e.alias(target))
        lf = lf.with_columns(new).drop([*tmp, *([ord_col] if ord_col else [])])
        scope = Scope(dict(rel.scope.sources))
        scope.add(alias, columns)
        return Rel(lf, schema, scope)

    # ------------------------------------------------------------------ aggregation

    def aggregate(
        self, rel: Rel, group: exp.Group | None, aggregates: list[exp.Expression]
    ) -> tuple[Rel, dict[exp.Expression, pl.Expr]]:
        keys: list[exp.Expression] = []
        sets: list[list[int]] | None = None
        if group is not None:
            keys, sets = self._grouping_sets(group)
        pre: list[pl.Expr] = []
        key_cols = []
        pre_schema = dict(rel.schema)
        with self.context(rel.scope, rel.schema):
            for k in keys:
                if isinstance(k, exp.Literal) and not k.is_string:
                    raise self.error(k, "GROUP BY position is not in select list")
                col = self.fresh("_g")
                compiled = self.expr(k)
                pre.append(compiled.alias(col))
                key_cols.append(col)
                pre_schema[col] = self.dtype(compiled)
            aggs: list[pl.Expr] = []
            self._agg_inputs: list[tuple[pl.Expr, str]] = []
            self._agg_counts: dict[tuple[str, bool], str] = {}
            self._agg_sums: dict[tuple[str, bool], str] = {}
            finals: dict[exp.Expression, pl.Expr] = {}
            seen: dict[exp.Expression, pl.Expr] = {}
            for node in aggregates:
                if node in seen:
                    continue
                final = self._aggregate(node, pre, aggs, pre_schema)
                seen[node] = final
                finals[node] = final
        lf = rel.lf.with_columns(pre) if pre else rel.lf
        if sets is None or len(sets) == 1:
            if key_cols:
                lf = lf.group_by(key_cols).agg(aggs)
            else:
                lf = lf.select(aggs if aggs else [pl.len().alias(self.fresh("_n"))])
            grouping_col = None
        else:
            grouping_col = self.fresh("_grouping")
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
                parts.append(
                    part.with_columns([*nulls, pl.lit(mask, pl.Int64).alias(grouping_col)])
                )
            lf = pl.concat(parts, how="diagonal_relaxed")
        replacements: dict[exp.Expression, pl.Expr] = dict(finals)
        for k, col in zip(keys, key_cols, strict=True):
            replacements.setdefault(k, pl.col(col))
        schema = dict(lf.collect_schema())
        rel = Rel(lf, schema, Scope())
        if grouping_col is not None:
            self._grouping_col = (grouping_col, keys)
        else:
            self._grouping_col = None
        return rel, replacements

    def _grouping_sets(
        self, group: exp.Group
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
        _check_grouping_set_count(self, group)
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
                fam = []
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
                k2, s2 = self._grouping_sets(g)
                families.append([[index(k2[i]) for i in s] for s in (s2 or [])])
        if not families:
            return keys, None
        sets = [list(plain)]
        for fam in families:
            sets = [sorted(set(a + b), key=(a + b).index) for a in sets for b in fam]
        return keys, sets

    def _aggregate(
        self,
        node: exp.Expression,
        pre: list[pl.Expr],
        aggs: list[pl.Expr],
        pre_schema: dict[str, pl.DataType],
    ) -> pl.Expr:
        """Split a core aggregate into plain reductions (fast path) and return its final value."""
        cond = None
        target = node
        if isinstance(node, exp.Filter):
            cond = self.expr(node.expression.this)
            target = node.this
        if isinstance(target, CORE_AGGREGATES) and len(target.expressions) == 0:
            arg = target.this
            distinct = isinstance(arg, exp.Distinct)
            if distinct:
                if len(arg.expressions) != 1:
                    raise self.error(target, "DISTINCT aggregates take one argument")
                arg = arg.expressions[0]
            if isinstance(target, exp.Count) and (arg is None or isinstance(arg, exp.Star)):
                if cond is None:
                    col = self.fresh("_a")
                    aggs.append(pl.len().cast(pl.Int64).alias(col))
                    return pl.col(col)
                arg = exp.true()
                compiled = pl.when(cond).then(pl.lit(1))
                cond = None
            else:
                compiled = self.expr(arg)
            if cond is not None:
                compiled = pl.when(cond).then(compiled)
            dtype = self.dtype(compiled)
            if isinstance(target, exp.Sum | exp.Avg) and not (
                T.is_numeric(dtype) or dtype == pl.Null
            ):
                raise self.error(
                    target,
                    f"Unexpected parameters ({T.sql_name(dtype).lower()}) for function {target.sql_name().lower()}",
                )
            src = next((n for e, n in self._agg_inputs if e.meta.eq(compiled)), None)
            if src is None:
                src = self.fresh("_i")
                self._agg_inputs.append((compiled, src))
                pre.append(compiled.alias(src))
                pre_schema[src] = dtype
            col = pl.col(src)
            out = self.fresh("_a")
            if isinstance(target, exp.Count):
                aggs.append((col.drop_nulls().n_unique() if distinct else col.count()).alias(out))
                return pl.col(out).cast(pl.Int64)
            if distinct:
                col = col.unique()
            if isinstance(target, exp.Min | exp.Max):
                aggs.append((col.min() if isinstance(target, exp.Min) else col.max()).alias(out))
                return pl.col(out)
            if isinstance(target, exp.Sum):
                if T.is_integer(dtype):  # an overflow fails as in Trino
                    summed, result = integer_sum(self, target, col, out)
                    aggs.append(summed)
                    return result
                summed = pl.col(self._null_aware_sum(aggs, col, src, distinct))
                return summed.cast(T.sum_type(dtype)) if T.is_decimal(dtype) else summed
            count = self._agg_counts.get((src, distinct))
            if count is None:
                count = self._agg_counts[(src, distinct)] = self.fresh("_a")
                aggs.append(col.count().alias(count))
            # avg: Trino keeps the decimal scale, and averages everything else as double
            result = T.avg_type(dtype)
            if T.is_decimal(dtype):
                # the sum a SUM of the same input computes (TPC-H q1 asks for both)
                total = pl.col(self._null_aware_sum(aggs, col, src, distinct))
                return pl.when(pl.col(count) > 0).then(
                    (total.cast(result) / pl.col(count).cast(pl.Decimal(38, 0))).cast(result)
                )
            aggs.append(col.cast(result).mean().alias(out))
            return pl.col(out)
        compiled = self.expr(node)
        out = self.fresh("_a")
        aggs.append(compiled.alias(out))
        return pl.col(out)

    def _null_aware_sum(self, aggs: list[pl.Expr], col: pl.Expr, src: str, distinct: bool) -> str:
        """The column of ``col``'s sum per group, NULL for a group without values, computed once
        for every SUM and decimal AVG of the same input (Polars runs it as one null-aware sum)."""
        name = self._agg_sums.get((src, distinct))
        if name is None:
            name = self._agg_sums[(src, distinct)] = self.fresh("_a")
            aggs.append(pl.when(col.count() > 0).then(col.sum()).alias(name))
        return name

    # ------------------------------------------------------------------ windows

    def windows(
        self,
        rel: Rel,
        windows: list[exp.Window],
        replacements: dict[exp.Expression, pl.Expr],
        aggregated: bool,
    ) -> tuple[Rel, dict[exp.Expression, pl.Expr]]:
        from loglake.query.windows import compile_window

        replacements = dict(replacements)
        lf = rel.lf
        schema = dict(rel.schema)
        for w in windows:
            if w in replacements:
                continue
            col = self.fresh("_w")
            with self.context(rel.scope, schema, replacements, aggregated):
                lf = compile_window(self, lf, w, col)
            schema = dict(lf.collect_schema())
            replacements[w] = pl.col(col)
        return Rel(lf, schema, rel.scope), replacements

    # ------------------------------------------------------------------ subqueries

    def subquery_filter(
        self,
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
            return self._semi_join(rel, node.this, None, negated, node)
        if isinstance(node, exp.In) and node.args.get("query") is not None:
            return self._semi_join(rel, node.args["query"], node.this, negated, node)
        replacements: dict[exp.Expression, pl.Expr] = {}
        for sub in _subqueries(conj):
            rel, replacements = self.attach_subquery(rel, sub, replacements, False, outer)
        with self.context(rel.scope, rel.schema, replacements):
            pred = self._predicate(conj)
        return Rel(self._keep_rows(rel.lf, pred), rel.schema, rel.scope)

    def _keep_rows(self, lf: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
        """Filter rows; a comparison with a cross-joined scalar subquery is evaluated row by row.

        Polars would fold the cross join and an inequality filter into an inequality join that
        sorts both sides, where the scalar side has one row (TPC-H q22: 145 -> 63 ms).
        """
        if not self._scalars & set(condition.meta.root_names()):
            return lf.filter(condition)
        return self._filter_by_flag(lf, condition)

    def _filter_by_flag(self, lf: pl.LazyFrame, condition: pl.Expr) -> pl.LazyFrame:
        """Filter by ``condition`` computed as a column first, which Polars neither pushes into
        the scan nor folds into a join."""
        flag = self.fresh("_keep")
        return lf.with_columns(condition.alias(flag)).filter(pl.col(flag)).drop(flag)

    def _decorrelate(
        self, query: exp.Expression, outer: Rel
    ) -> tuple[exp.Expression, list[tuple[exp.Expression, exp.Expression]], list[exp.Expression]]:
        """Split a subquery into (uncorrelated query, [(inner, outer) equalities], residual)."""
        query = query.this if isinstance(query, exp.Subquery) else query
        if not isinstance(query, exp.Select):
            return query, [], []
        inner_aliases = _declared_aliases(query)
        outer_refs = [
            c
            for c in query.find_all(exp.Column)
            if c.table
            and c.table.lower() not in inner_aliases
            and c.table.lower() in outer.aliases
            and not _inside_nested_select(c, query, inner_aliases)
        ]
        if not outer_refs:
            return query, [], []
        where = query.args.get("where")
        conjs = list(_conjuncts(where.this)) if where else []
        keys, residual, kept = [], [], []
        for c in conjs:
            refs = _referenced_aliases(c)
            if not refs & outer.aliases - inner_aliases:
                kept.append(c)
                continue
            if isinstance(c, exp.EQ):
                lr, rr = _referenced_aliases(c.this), _referenced_aliases(c.expression)
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
            if (
                c.table
                and c.table.lower() not in inner_aliases
                and c.table.lower() in outer.aliases
            ):
                raise self.error(c, "this correlated subquery is not supported")
        return stripped, keys, residual

    def _sub_output(
        self, query: exp.Expression, extra: list[exp.Expression]
    ) -> tuple[Output, list[str]]:
        """Compile a (de-correlated) subquery with extra output expressions appended."""
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
        with self.context(Scope(), {}):
            out = self.query(query)
        # rename outputs to fresh names that cannot clash with the outer frame
        fresh = [self.fresh("_q") for _ in out.internal]
        lf = out.lf.rename(dict(zip(out.internal, fresh, strict=True)))
        schema = {f: out.schema[i] for i, f in zip(out.internal, fresh, strict=True)}
        return Output(lf, out.names, fresh, schema), fresh

    def _semi_join(
        self,
        rel: Rel,
        query: exp.Expression,
        probe: exp.Expression | None,
        negated: bool,
        node: exp.Expression,
    ) -> Rel:
        stripped, keys, residual = self._decorrelate(query, rel)
        inner_aliases = _declared_aliases(stripped) if isinstance(stripped, exp.Select) else set()
        residual_cols = []
        for r in residual:
            for c in r.find_all(exp.Column):
                if c.table.lower() in inner_aliases and c not in residual_cols:
                    residual_cols.append(c)
        if (
            isinstance(stripped, exp.Select)
            and (keys or residual)
            and (stripped.args.get("group") or _find_aggregates(stripped.expressions))
        ):
            raise self.error(node, "correlated EXISTS / IN with aggregation is not supported")
        if isinstance(stripped, exp.Select) and probe is None:
            # EXISTS: the select list does not matter
            stripped = stripped.copy()
            stripped.set("expressions", [exp.alias_(exp.Literal.number(1), "_one")])
            stripped.set("distinct", None)
        extra = [k[0] for k in keys] + residual_cols
        out, cols = self._sub_output(stripped, extra)
        base = 1  # the first output is the IN value or EXISTS' constant
        value_col = cols[0] if probe is not None else None
        key_cols = cols[base : base + len(keys)]
        res_cols = cols[base + len(keys) :]
        sub_schema = out.schema
        left_keys: list[pl.Expr] = []
        right_keys: list[pl.Expr] = []
        with self.context(rel.scope, rel.schema):
            if probe is not None:
                if len(out.internal) - len(extra) != 1:
                    raise self.error(
                        node, "Multiple columns returned by subquery are not supported"
                    )
                pe = self.expr(probe)
                pt, vt = self.dtype(pe), sub_schema[value_col]
                ve = pl.col(value_col)
                if pt != vt:
                    target = T.common_supertype(pt, vt)
                    if target is None:
                        raise self.error(
                            node,
                            f"Value expression and result of subquery must be of the same type: {T.sql_name(pt)} vs {T.sql_name(vt)}",
                        )
                    pe, ve = pe.cast(target), ve.cast(target)
                left_keys.append(pe)
                right_keys.append(ve)
            for (_, outer_node), kc in zip(keys, key_cols, strict=True):
                oe = self.expr(outer_node)
                ot, it = self.dtype(oe), sub_schema[kc]
                ie = pl.col(kc)
                if ot != it:
                    target = T.common_supertype(ot, it)
                    if target is not None:
                        oe, ie = oe.cast(target), ie.cast(target)
                left_keys.append(oe)
                right_keys.append(ie)
        how = "anti" if negated else "semi"
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
            key_names = [self.fresh("_ck") for _ in left_keys]
            # the outer rows feed both the probe and the final join: compute them once
            rel = Rel(rel.lf.cache(), rel.schema, rel.scope)
            probe = rel.lf.select(
                [k.alias(n) for k, n in zip(left_keys, key_names, strict=True)]
                + [pl.col(c) for c in outer_cols]
            ).unique()
            inner_scope = Scope()
            for c, col in zip(residual_cols, res_cols, strict=True):
                inner_scope.sources.setdefault(c.table.lower(), {})[c.name.lower()] = col
            scope = rel.scope.merged(inner_scope)
            schema = {**rel.schema, **sub_schema}
            if left_keys:
                matched = probe.join(sub_lf, left_on=key_names, right_on=right_keys, how="inner")
            else:
                matched = probe.join(sub_lf, how="cross")
            with self.context(scope, schema):
                cond = reduce(lambda a, b: a & b, [self._predicate(r) for r in residual])
            hits = matched.filter(cond).select([*key_names, *outer_cols]).unique()
            lf = self._join(
                rel.lf,
                hits,
                [*left_keys, *[pl.col(c) for c in outer_cols]],
                [*key_names, *outer_cols],
                how,
            )
            return Rel(lf, rel.schema, rel.scope)
        if not left_keys:
            # uncorrelated EXISTS: keep everything or nothing
            flag = self.fresh("_exists")
            present = sub_lf.select(pl.len().alias(flag))
            keep = pl.col(flag) > 0
            lf = rel.lf.join(present, how="cross").filter(~keep if negated else keep).drop(flag)
            return Rel(lf, rel.schema, rel.scope)
        if negated and probe is not None:
            # NOT IN: any NULL in the subquery (or a NULL probe) makes the predicate unknown
            stats = self.fresh("_nn")
            total = self.fresh("_cnt")
            summary = sub_lf.select(
                pl.col(value_col).null_count().alias(stats), pl.len().alias(total)
            )
            lf = self._join(rel.lf, sub_lf, left_keys, right_keys, "anti")
            lf = (
                lf.join(summary, how="cross")
                .filter((pl.col(total) == 0) | ((pl.col(stats) == 0) & left_keys[0].is_not_null()))
                .drop(stats, total)
            )
            return Rel(lf, rel.schema, rel.scope)
        lf = self._join(rel.lf, sub_lf, left_keys, right_keys, how)
        return Rel(lf, rel.schema, rel.scope)

    def attach_subquery(
        self,
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
            flag = self.fresh("_mark")
            query = sub.this if isinstance(sub, exp.Exists) else sub.args["query"]
            stripped, keys, residual = self._decorrelate(query, rel)
            if residual or keys:
                raise self.error(sub, "correlated EXISTS / IN used as a value is not supported")
            if isinstance(sub, exp.Exists):
                out, cols = self._sub_output(stripped, [])
                present = out.lf.select((pl.len() > 0).alias(flag))
                lf = rel.lf.join(present, how="cross")
                replacements[sub] = pl.col(flag)
            else:
                out, cols = self._sub_output(stripped, [])
                values = out.lf.select(pl.col(cols[0]).alias(flag + "_v")).unique()
                with self.context(rel.scope, rel.schema, replacements, aggregated):
                    probe = self.expr(sub.this)
                nulls = self.fresh("_nn")
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
        stripped, keys, residual = self._decorrelate(query, rel)
        if residual:
            raise self.error(
                sub, "correlated scalar subquery with non-equality conditions is not supported"
            )
        if keys and outer is not None and not aggregated and isinstance(stripped, exp.Select):
            reuse = outer_reuse.outer_aggregate(outer[0], outer[1], stripped, keys)
            if reuse is not None:
                return self._attach_outer_aggregate(rel, sub, reuse, keys, replacements)
        has_agg = False
        if keys:
            if aggregated:
                raise self.error(
                    sub, "correlated subqueries in an aggregated select list are not supported"
                )
            assert isinstance(stripped, exp.Select)
            stripped = stripped.copy()
            has_agg = bool(_find_aggregates(stripped.expressions) or stripped.args.get("group"))
            if has_agg:
                group = stripped.args.get("group")
                existing = list(group.expressions) if group else []
                stripped.set("group", exp.Group(expressions=existing + [k[0].copy() for k in keys]))
        if keys and isinstance(stripped, exp.Select) and stripped.args.get("group"):
            key_names = [self.fresh("_mk") for _ in keys]
            with self.context(rel.scope, rel.schema):
                outer_keys = [
                    self.expr(k[1]).alias(n) for k, n in zip(keys, key_names, strict=True)
                ]
            # the outer rows feed both the key filter and the final join: compute them once
            rel = Rel(rel.lf.cache(), rel.schema, rel.scope)
            self._magic = (
                [k[0] for k in keys],
                rel.lf.select(outer_keys).unique(),
                key_names,
            )
        try:
            out, cols = self._sub_output(stripped, [k[0] for k in keys])
        finally:
            self._magic = None
        if len(out.internal) - len(keys) != 1:
            raise self.error(sub, "Multiple columns returned by subquery are not supported")
        value = cols[0]
        if keys:
            with self.context(rel.scope, rel.schema):
                left_keys = []
                right_keys = []
                for (_, outer_node), kc in zip(keys, cols[1:], strict=True):
                    oe = self.expr(outer_node)
                    ot, it = self.dtype(oe), out.schema[kc]
                    ie = pl.col(kc)
                    if ot != it:
                        target = T.common_supertype(ot, it)
                        if target is not None:
                            oe, ie = oe.cast(target), ie.cast(target)
                    left_keys.append(oe)
                    right_keys.append(ie)
            # at most one value per key (the first, where an unaggregated subquery has several)
            values = out.lf if has_agg else out.lf.unique(subset=cols[1:], keep="any")
            lf = self._join(rel.lf, values, left_keys, right_keys, "left", coalesce=False)
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
            and _find_aggregates(stripped.expressions)
        ):
            # a global aggregate always has exactly one row
            lf = rel.lf.join(out.lf.select(value), how="cross")
            self._scalars.add(value)
        else:
            # an empty subquery yields one NULL, never zero rows
            one = pl.concat(
                [
                    out.lf.select(value).slice(0, 1),
                    pl.LazyFrame({value: [None]}, schema={value: out.schema[value]}),
                ],
                how="vertical_relaxed",
            ).slice(0, 1)
            lf = rel.lf.join(one, how="cross")
            self._scalars.add(value)
        schema = {**rel.schema, value: out.schema[value]}
        replacements[sub] = pl.col(value)
        return Rel(lf, schema, rel.scope), replacements

    def _attach_outer_aggregate(
        self,
        rel: Rel,
        sub: exp.Expression,
        reuse: outer_reuse.OuterAggregate,
        keys: list[tuple[exp.Expression, exp.Expression]],
        replacements: dict[exp.Expression, pl.Expr],
    ) -> tuple[Rel, dict[exp.Expression, pl.Expr]]:
        """A correlated MIN / MAX computed per correlation key over ``rel``'s own rows (see
        ``query/outer_reuse.py``), joined back as a column."""
        base = rel.lf.cache()
        names = [self.fresh("_ok") for _ in keys]
        value = self.fresh("_q")
        with self.context(rel.scope, rel.schema):
            outer_keys = [self.expr(k[1]) for k in keys]
            argument = self.expr(reuse.aggregate.this)
            dtype = self.dtype(argument)
        reduced = argument.min() if isinstance(reuse.aggregate, exp.Min) else argument.max()
        values = base.group_by([k.alias(n) for k, n in zip(outer_keys, names, strict=True)]).agg(
            reduced.alias(value)
        )
        lf = self._join(base, values, outer_keys, list(names), "left", coalesce=False)
        replacements[sub] = pl.col(value)
        return Rel(lf.drop(names), {**rel.schema, value: dtype}, rel.scope), replacements


# ---------------------------------------------------------------------- tree helpers


def _shown(node: exp.Expression) -> str:
    """A node as SQL text for an error message, or its kind when it has no SQL spelling."""
    try:
        return node.sql("trino")
    except Exception:
        return type(node).__name__


def _conjuncts(node: exp.Expression) -> Iterator[exp.Expression]:
    if isinstance(node, exp.And):
        yield from _conjuncts(node.this)
        yield from _conjuncts(node.expression)
    elif isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        yield from _conjuncts(node.this)
    else:
        yield node


def _walk_scope(node: exp.Expression) -> Iterator[exp.Expression]:
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


def _has_subquery(node: exp.Expression) -> bool:
    cached = node.meta.get("_has_subquery")
    if cached is None:
        cached = node.meta["_has_subquery"] = _find_subquery(node)
    return cached


def _find_subquery(node: exp.Expression) -> bool:
    return any(
        isinstance(n, exp.Subquery | exp.Exists) or (isinstance(n, exp.In) and n.args.get("query"))
        for n in _walk_scope(node)
    )


def _subqueries(node: exp.Expression) -> list[exp.Expression]:
    """Scalar subqueries, EXISTS and IN (subquery) nodes in an expression (outermost first)."""
    found = []
    for n in _walk_scope(node):
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


def _reads_json(node: exp.Expression) -> bool:
    """Whether a condition reads JSON documents (a JSON function anywhere in it)."""
    if node.find(*_JSON_NODES) is not None:
        return True
    names = (f.name.lower() for f in node.find_all(exp.Anonymous))
    return any(name.startswith(("json", "is_json")) for name in names)


def _referenced_aliases(node: exp.Expression) -> set[str]:
    """Table aliases an expression reads (memoised on the node: join planning asks often)."""
    cached = node.meta.get("_aliases")
    if cached is None:
        cached = node.meta["_aliases"] = frozenset(
            c.table.lower() for c in _walk_scope(node) if isinstance(c, exp.Column) and c.table
        )
    return set(cached)


def _declared_aliases(select: exp.Select) -> set[str]:
    aliases = set()
    from_ = select.args.get("from_")
    items = ([from_.this] if from_ else []) + [j.this for j in select.args.get("joins") or []]
    for item in items:
        aliases.add(item.alias_or_name.lower())
    return aliases


def _inside_nested_select(col: exp.Column, top: exp.Select, top_aliases: set[str]) -> bool:
    """Whether a column belongs to a select nested in ``top`` that declares its table itself."""
    node = col.parent
    while node is not None and node is not top:
        if isinstance(node, exp.Select) and col.table.lower() in _declared_aliases(node):
            return True
        node = node.parent
    return False


def _equi_keys(
    conjuncts: list[exp.Expression], left: set[str], right: set[str]
) -> list[tuple[exp.Expression, exp.Expression, exp.Expression]]:
    """Equalities usable as hash-join keys between two alias sets: (left expr, right expr, conjunct)."""
    keys = []
    for c in conjuncts:
        if not isinstance(c, exp.EQ) or _has_subquery(c):
            continue
        a, b = _referenced_aliases(c.this), _referenced_aliases(c.expression)
        if a and b and a <= left and b <= right:
            keys.append((c.this, c.expression, c))
        elif a and b and a <= right and b <= left:
            keys.append((c.expression, c.this, c))
    return keys


def _hints_for_projection(
    node: exp.Expression, hints: list[exp.Expression]
) -> list[exp.Expression]:
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
        if _pruning_predicate(hint) is None:
            continue
        columns = list(hint.find_all(exp.Column))
        if not columns or any(c.name.lower() not in passed for c in columns):
            continue
        copy = hint.copy()
        for column in copy.find_all(exp.Column):
            column.replace(exp.column(passed[column.name.lower()]))
        handed.append(copy)
    return handed


def _single_source_conjuncts(conjuncts: list[exp.Expression]) -> dict[str, list[exp.Expression]]:
    hints: dict[str, list[exp.Expression]] = {}
    for c in conjuncts:
        refs = _referenced_aliases(c)
        if len(refs) == 1 and not _has_subquery(c):
            hints.setdefault(next(iter(refs)), []).append(c)
    return hints


def _literal(node: exp.Expression) -> tuple[bool, Any]:
    """(True, value) when ``node`` is a constant simple enough for file pruning."""
    if isinstance(node, exp.Literal):
        return True, T.literal_python(node)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        ok, v = _literal(node.this)
        return ok, -v
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string:
        kind = node.to.this
        import datetime as _dt
        import decimal as _dec

        text = node.this.this
        try:
            if kind == exp.DataType.Type.DATE:
                return True, _dt.date.fromisoformat(text)
            if kind in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
                return True, _dt.datetime.fromisoformat(text)
            if kind == exp.DataType.Type.DECIMAL:
                return True, _dec.Decimal(text)
        except ValueError:
            return False, None
    return False, None


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
_OPS = {exp.EQ: "=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}


def _field_path(node: exp.Expression) -> str | None:
    """The column (``eventname``) or struct field (``useridentity.type``) a node reads, else None."""
    if isinstance(node, exp.Column):
        return node.name.lower()
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Identifier):
        base = _field_path(node.this)
        return f"{base}.{node.expression.name.lower()}" if base else None
    return None


def _pruning_predicate(node: exp.Expression) -> Predicate | None:
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


def _is_aggregate(node: exp.Expression) -> bool:
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


def _find_aggregates(exprs: list[exp.Expression]) -> list[exp.Expression]:
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
        if isinstance(node, exp.Filter) and _is_aggregate(node.this):
            found.append(node)
            return
        if _is_aggregate(node):
            found.append(node)
            return
        for child in node.iter_expressions():
            visit(child, in_window)

    for e in exprs:
        visit(e, False)
    return found


def _find_windows(exprs: list[exp.Expression]) -> list[exp.Window]:
    found = []
    for e in exprs:
        for n in _walk_scope(e):
            if isinstance(n, exp.Window):
                found.append(n)
    return found


def _output_name(item: exp.Expression, index: int) -> str:
    if isinstance(item, exp.Alias):
        return item.alias.lower() if not item.args["alias"].quoted else item.alias
    if isinstance(item, exp.Column):
        return item.name.lower()
    if isinstance(item, exp.Dot):
        return item.name.lower()
    return f"_col{index}"


#: Trino's default max-grouping-sets: CUBE over n columns makes 2^n sets
MAX_GROUPING_SETS = 2048


def _check_grouping_set_count(compiler: Any, group: exp.Group) -> None:
    """Fail as Trino does before a GROUP BY's grouping sets are spelled out one by one."""
    sizes = {exp.GroupingSets: lambda n: n, exp.Rollup: lambda n: n + 1, exp.Cube: lambda n: 2**n}
    parts = [e for e in group.expressions if isinstance(e, tuple(sizes))]
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
