"""The compiler: one qualified sqlglot query tree in, one Polars LazyFrame out.

``Compiler`` holds what one statement's compilation shares (the tables, the query text, the scans
made, CTEs in scope, fresh-name counter) and the expression context; it compiles expressions by
looking their translators up in ``query/registry.py`` and walks a SELECT's clauses in order,
handing each to the module of its concern:

- ``relations``: FROM, joins, set operations, table scans, UNNEST;
- ``aggregation``: GROUP BY, grouping sets, aggregate calls;
- ``subqueries``: EXISTS / IN as semi and anti joins, scalar subqueries, decorrelation;
- ``windows``: window functions and frames;
- ``pruning``: WHERE conjuncts as file-pruning hints;
- ``tree``: questions about the sqlglot tree.

A translator sees the compiler only through ``registry.ExprCompiler``.

Every frame the compiler builds names its columns with unique internal names; a scope maps the
SQL-visible ``(table alias, column)`` pairs to them, so joins never collide and Polars can push
projections and predicates down through the renames into the scans.
"""

from __future__ import annotations

import decimal
import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.errors import SqlError
from loglake.query import registry
from loglake.query import types as T
from loglake.query.compiler import aggregation, relations, subqueries, tree, windows
from loglake.query.compiler.context import (
    ExprContext,
    Grouping,
    KeyLookup,
    Output,
    Rel,
    ScanRecord,
    Scope,
)
from loglake.query.functions.common import call_name
from loglake.query.signatures import check_call, names_of, unknown_function_message
from loglake.query.tables import Scan, TableProvider, suggest


class Compiler:
    """Compile one statement's query trees into LazyFrames (see the module docstring)."""

    def __init__(
        self,
        tables: TableProvider,
        sql: str,
        view_loader: Any = None,
        unshared: frozenset[str] = frozenset(),
    ):
        self.tables = tables
        self.sql = sql
        self.view_loader = view_loader  # callable(db, name) -> qualified tree of a view, or None
        self.scans: list[ScanRecord] = []
        # aliases of the table references made, and those whose references are kept apart
        # above their scans (see ``sharing``)
        self.references: list[str] = []
        self.unshared = unshared
        self._counter = itertools.count()
        self._ctes: list[dict[str, Output]] = []
        # what expressions compile against; swapped only by context()
        self.ctx = ExprContext(Scope(), {}, {})
        self._frames: dict[tuple[Any, ...], pl.LazyFrame] = {}
        # arguments compiled for a signature check, handed once to the translator that follows
        self._ahead: dict[int, tuple[exp.Expression, dict[str, pl.DataType], pl.Expr]] = {}
        self._dtypes: dict[int, tuple[pl.Expr, dict[str, pl.DataType], pl.DataType]] = {}
        # the calls being compiled, innermost last (where an error without a place points)
        self._compiling: list[exp.Expression] = []
        # columns holding an uncorrelated scalar subquery's value, cross-joined onto every row
        self.scalar_columns: set[str] = set()
        # steps for the statement's final frame (and its column names) that translators ask
        # for, such as IPADDRESS values shown as text
        self.finishers: list[Callable[[pl.LazyFrame, list[str]], pl.LazyFrame]] = []
        # frame columns read straight from table scans: the scans and their column, by frame
        # column; None for a name another relation (a subquery's alias) also gives a column
        self._sources: dict[str, list[tuple[Scan, str]] | None] = {}

    # ------------------------------------------------------------------ the expression context

    @property
    def scope(self) -> Scope:
        return self.ctx.scope

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return self.ctx.schema

    @property
    def replacements(self) -> dict[exp.Expression, pl.Expr]:
        return self.ctx.replacements

    @property
    def aggregated(self) -> bool:
        return self.ctx.aggregated

    @property
    def grouping(self) -> Grouping | None:
        return self.ctx.grouping

    @contextmanager
    def context(
        self,
        scope: Scope,
        schema: dict[str, pl.DataType],
        replacements: dict[exp.Expression, pl.Expr] | None = None,
        aggregated: bool = False,
        grouping: Grouping | None = None,
    ) -> Iterator[None]:
        """Compile expressions against another frame while the block runs."""
        saved = self.ctx
        self.ctx = ExprContext(scope, schema, replacements or {}, aggregated, grouping)
        try:
            yield
        finally:
            self.ctx = saved

    @contextmanager
    def extended(self, schema: dict[str, pl.DataType]) -> Iterator[None]:
        """The current context over a frame with more columns (``schema`` adds their dtypes)."""
        saved = self.ctx
        self.ctx = replace(saved, schema={**saved.schema, **schema})
        try:
            yield
        finally:
            self.ctx = saved

    # ------------------------------------------------------------------ value bounds

    def scanned_column(self, name: str, scan: Scan, column: str) -> None:
        """Frame column ``name`` holds ``column`` of ``scan`` (whose statistics may know it)."""
        sources = self._sources.get(name, [])
        if sources is not None:
            self._sources[name] = [*sources, (scan, column)]

    def derived_column(self, name: str) -> None:
        """Frame column ``name`` (also) holds values computed by a subquery: no statistics."""
        self._sources[name] = None

    def magnitude(self, name: str) -> decimal.Decimal | None:
        """The largest absolute value frame column ``name`` can hold, from the statistics of
        the files its scans read; None when unknown."""
        sources = self._sources.get(name)
        if not sources:
            return None
        largest = None
        for scan, column in sources:
            found = scan.bounds(column)
            if found is None:
                return None
            size = max(abs(found[0]), abs(found[1]))
            largest = size if largest is None else max(largest, size)
        return largest

    def null_fraction(self, node: exp.Expression) -> float | None:
        """The smallest share of NULLs the statistics of the scans give for the frame column
        ``node`` names; None when unknown or ``node`` is not a plain column."""
        sources = self._scan_sources(node)
        if not sources:
            return None
        shares = [scan.null_fraction(column) for scan, column in sources]
        known = [share for share in shares if share is not None]
        return min(known) if len(known) == len(shares) else None

    def null_free(self, node: exp.Expression) -> bool:
        """Whether the statistics of every file read for the frame column ``node`` names say
        it holds no NULL. The caller must know that nothing since the scan added any (an
        outer join)."""
        sources = self._scan_sources(node)
        if not sources:
            return False
        return all(scan.null_free(column) for scan, column in sources)

    def _scan_sources(self, node: exp.Expression) -> list[tuple[Scan, str]] | None:
        """The scans (and their column) behind a plain column reference, in parentheses or
        not; None for anything else."""
        while isinstance(node, exp.Paren):
            node = node.this
        if not isinstance(node, exp.Column):
            return None
        compiled = self.expr(node)
        return self._sources.get(compiled.meta.output_name()) if compiled.meta.is_column() else None

    # ------------------------------------------------------------------ helpers for translators

    def fresh(self, prefix: str = "_t") -> str:
        return f"{prefix}{next(self._counter)}"

    def error(self, node: exp.Expr | None, message: str) -> SqlError:
        start, end = self.position(node)
        return SqlError(message, self.sql, start, end)

    def _written_here(self, identifier: exp.Expr) -> bool:
        """Whether a token's position is where the query wrote it for this node. Name resolution
        qualifies a bare column with its table's identifier, position included (``i`` becomes
        ``t.i``, ``t`` pointing into the FROM clause): such a qualifier counts only when the
        text puts it right before the column's name (``t.i``, ``"t" . "i"``)."""
        column = identifier.parent
        if not isinstance(column, exp.Column) or identifier is column.this:
            return True
        name = getattr(column.this, "_meta", None) or {}
        here = getattr(identifier, "_meta", None) or {}
        if "start" not in name:
            return True
        return self.sql[here["end"] + 1 : name["start"]].strip() == "."

    def position(self, node: exp.Expr | None) -> tuple[int | None, int | None]:
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
            if "start" in (m := getattr(sub, "_meta", None) or {}) and self._written_here(sub)
        ]
        if spans:
            return min(s for s, _ in spans), max(e for _, e in spans)
        name = None
        if isinstance(node, exp.Func):
            name = call_name(node)
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
        ctx = self.ctx
        if ctx.replacements:
            hit = ctx.replacements.get(node)
            if hit is not None:
                return hit
        if self._ahead:
            ahead = self._ahead.pop(id(node), None)
            if ahead is not None and ahead[0] is node and ahead[1] is ctx.schema:
                return ahead[2]
        key: type | str = type(node)
        translator = registry.EXPRESSIONS.get(type(node))
        if translator is None and isinstance(node, exp.Func):
            key = call_name(node)
            translator = registry.NAMED_FUNCTIONS.get(key)
        if translator is None:
            if isinstance(node, exp.Func):
                raise self.error(node, unknown_function_message(str(key)))
            raise self.error(node, f"unsupported expression: {tree.shown(node)}")
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
        self._ahead[id(node)] = (node, self.ctx.schema, compiled)
        return compiled

    def retype_ahead(self, node: exp.Expression, dtype: pl.DataType) -> None:
        """Cast an argument compiled ahead (an untyped NULL given a parameter's type)."""
        ahead = self._ahead.get(id(node))
        if ahead is not None:
            self._ahead[id(node)] = (node, ahead[1], ahead[2].cast(dtype))

    def dtype(self, expr: pl.Expr) -> pl.DataType:
        """The dtype ``expr`` has over the current frame."""
        schema = self.ctx.schema
        if expr.meta.is_column():
            known = schema.get(expr.meta.output_name())
            if known is not None:
                return known
        cached = self._dtypes.get(id(expr))
        if cached is not None and cached[0] is expr and cached[1] is schema:
            return cached[2]
        roots = sorted(set(expr.meta.root_names()))
        key = tuple((r, schema.get(r)) for r in roots)
        frame = self._frames.get(key)
        if frame is None:
            frame = pl.LazyFrame(schema={r: t for r, t in key if t is not None})
            self._frames[key] = frame
        try:
            dtype = frame.select(expr.alias("_x")).collect_schema()["_x"]
        except pl.exceptions.PolarsError:
            return pl.Null()
        self._dtypes[id(expr)] = (expr, schema, dtype)
        return dtype

    def known_dtype(self, expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        """``expr``, with its dtype recorded: a translator that knows the type of what it built
        from its parts' types says so, and :meth:`dtype` then does not resolve the whole tree
        again (nested CASEs asked it once per level, each walk as deep as the rest: quadratic)."""
        self._dtypes[id(expr)] = (expr, self.ctx.schema, dtype)
        return expr

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
        ctx = self.ctx
        if ctx.aggregated:
            start, end = self.position(node)
            written = node.sql("trino") if start is None else self.sql[start:end]
            raise self.error(
                node, f"'{written}' must be an aggregate expression or appear in GROUP BY clause"
            )
        cols = ctx.scope.sources.get(table) if table else None
        if cols is None and not table:
            owners = [c for c in ctx.scope.sources.values() if name in c]
            if len(owners) == 1:
                cols = owners[0]
            elif len(owners) > 1:
                raise self.error(node, f"Column '{name}' is ambiguous")
        if cols is None or name not in cols:
            candidates = ctx.scope.all_columns()
            raise self.error(
                node,
                f"Column '{node.sql('trino')}' cannot be resolved." + suggest(name, candidates),
            )
        return pl.col(cols[name])

    def rel_dtype(self, rel: Rel, expr: pl.Expr) -> pl.DataType:
        with self.context(rel.scope, rel.schema):
            return self.dtype(expr)

    def rel_expr(self, rel: Rel, node: exp.Expression) -> pl.Expr:
        with self.context(rel.scope, rel.schema):
            return self.expr(node)

    # ------------------------------------------------------------------ queries

    def query(
        self,
        node: exp.Expression,
        lookup: KeyLookup | None = None,
        hints: list[exp.Expression] | None = None,
    ) -> Output:
        """Compile SELECT, a set operation, VALUES or a parenthesised query (``lookup``: the
        outer keys a grouped correlated SELECT is looked up by, see ``KeyLookup``; ``hints``:
        pruning hints an outer query hands a SELECT's single table)."""
        if isinstance(node, exp.Subquery):
            inner = self.query(node.this)
            return self.modifiers(node, inner)
        if isinstance(node, exp.Select):
            with self._with_ctes(node):
                return self.select(node, lookup, hints)
        if isinstance(node, exp.SetOperation):
            with self._with_ctes(node):
                return relations.set_operation(self, node)
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

    def cte(self, name: str) -> Output | None:
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

    def select(
        self,
        node: exp.Select,
        lookup: KeyLookup | None = None,
        hints: list[exp.Expression] | None = None,
    ) -> Output:
        """One SELECT: FROM and joins, WHERE (subqueries as joins), GROUP BY and aggregates,
        scalar subqueries, HAVING, windows, the select list, DISTINCT, ORDER BY, LIMIT."""
        magic = lookup
        where = node.args.get("where")
        conjuncts = list(tree.conjuncts(where.this)) if where else []
        # only the groups the outer query will look up are worth aggregating: restrict the table
        # the keys come from before it is joined (inner joins only), else the joined rows
        restrict = None
        if magic is not None and not any(j.side for j in node.args.get("joins") or []):
            owners = set().union(*(tree.referenced_aliases(n) for n in magic.inner))
            restrict = (owners.pop(), magic) if len(owners) == 1 else None
        rel, conjuncts, restricted = relations.from_clause(self, node, conjuncts, restrict, hints)
        if magic is not None and not restricted:
            rel = relations.restrict_keys(self, rel, magic)

        plain = [c for c in conjuncts if not tree.has_subquery(c)]
        with_subqueries = [c for c in conjuncts if tree.has_subquery(c)]
        if plain:
            rel = relations.filter_rel(self, rel, plain)
        # the first subquery conjunct sees the FROM relation with exactly the plain conjuncts
        # applied, which a correlated MIN / MAX over the same tables may read instead
        outer = None
        if magic is None and where is not None:
            outer = (node, [c for c in tree.conjuncts(where.this) if not tree.has_subquery(c)])
        for conj in with_subqueries:
            rel = subqueries.filter_by_subquery(self, rel, conj, outer)
            outer = None

        selects = node.expressions
        having = node.args.get("having")
        order = node.args.get("order")
        group = node.args.get("group")
        scan_exprs = [*selects, *([having.this] if having else [])]
        if order:
            scan_exprs += [o.this for o in order.expressions]
        aggregates = tree.find_aggregates(scan_exprs)
        replacements: dict[exp.Expression, pl.Expr] = {}
        aggregated = False
        grouping = None
        if group is not None or aggregates:
            # inner joins keep scanned values as the files hold them; an outer join adds NULLs
            scanned = not any(j.side for j in node.args.get("joins") or [])
            rel, replacements, grouping = aggregation.aggregate(
                self, rel, group, aggregates, scanned
            )
            aggregated = True
        # scalar subqueries in the select list / HAVING / ORDER BY become joined columns
        for e in scan_exprs:
            for sub in tree.subqueries(e):
                rel, replacements = subqueries.attach(self, rel, sub, replacements, aggregated)
        if having is not None:
            with self.context(rel.scope, rel.schema, replacements, aggregated, grouping):
                cond = self.expr(having.this)
            rel = Rel(subqueries.keep_rows(self, rel.lf, cond), rel.schema, rel.scope)
        calls = tree.find_windows(scan_exprs)
        if calls:
            rel, replacements = windows.add_windows(
                self, rel, calls, replacements, aggregated, grouping
            )

        names: list[str] = []
        internal: list[str] = []
        exprs: list[pl.Expr] = []
        with self.context(rel.scope, rel.schema, replacements, aggregated, grouping):
            for i, item in enumerate(selects):
                if isinstance(item, exp.Star):
                    raise self.error(item, "SELECT * could not be expanded")
                name = tree.output_name(item, i)
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

    def modifiers(self, node: exp.Expression, out: Output) -> Output:
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
