"""The query engine: statements in, results and statistics out.

``Engine.execute`` parses one Athena statement with sqlglot and looks its kind up in one table,
``STATEMENTS``: queries (SELECT, WITH, VALUES) and EXPLAIN run here, CTAS, INSERT INTO, CREATE/DROP
VIEW and UNLOAD in ``query/statements.py``, DDL/SHOW/DESCRIBE/MSCK in ``query/ddl.py``.
Every run gets a query id and statistics (rows, files scanned and skipped, bytes scanned,
elapsed time), and is appended to the lake's query history when the engine has a catalog.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl
from sqlglot import exp

import loglake.query.functions  # noqa: F401  (the function library registers itself on import)
from loglake.catalog.lakesettings import QueryLimits
from loglake.errors import CatalogError, SqlError, UserError
from loglake.query import expressions as _expressions  # noqa: F401  (registers translators)
from loglake.query import statements
from loglake.query.compiler import Compiler, Output, ScanRecord
from loglake.query.compiler.sharing import bare_shared_aliases
from loglake.query.cost import athena_cost_usd, format_usd
from loglake.query.ddl import CATALOG_STATEMENTS, DdlExecutor
from loglake.query.frontend import parse, qualify_tree
from loglake.query.guards import as_sql_error, run_deep
from loglake.query.limits import (
    COLLECT_ENGINES,
    CollectEngine,
    check_scan,
    collect_within,
    human_bytes,
    wait_until_polars_runs,
)
from loglake.query.plans import PlanCache, plan_key
from loglake.query.runtime import error_from_polars
from loglake.query.statement_kind import statement_kind
from loglake.query.statements import require_catalog, unsupported_statement
from loglake.query.tables import MemoryTables, TableProvider, suggest


@dataclass
class QueryStats:
    """What a query cost, as Athena reports it next to the results."""

    query_id: str
    statement: str = "SELECT"
    rows: int | None = None
    files_scanned: int = 0
    files_skipped: int = 0
    bytes_scanned: int = 0
    elapsed_s: float = 0.0
    compile_s: float = 0.0

    def summary(self) -> str:
        rows = "?" if self.rows is None else f"{self.rows:,}"
        return (
            f"Query {self.query_id}: {rows} rows in {self.elapsed_s:.3f} s, "
            f"data scanned {human_bytes(self.bytes_scanned)}, "
            f"files scanned {self.files_scanned}, skipped {self.files_skipped}, "
            f"Athena would charge {format_usd(self.athena_cost_usd)}"
        )

    @property
    def athena_cost_usd(self) -> float:
        """What Athena would have billed for the same scan (USD 5 per TB, 10 MB minimum)."""
        return athena_cost_usd(self.bytes_scanned, self.statement)


@dataclass
class QueryResult:
    """Result of one statement: an eager DataFrame (or a LazyFrame when lazy=True) and statistics."""

    df: pl.DataFrame | None
    lazy: pl.LazyFrame | None
    stats: QueryStats
    plan: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def query_id(self) -> str:
        return self.stats.query_id

    def frame(self) -> pl.DataFrame:
        """The rows of a statement run eagerly (one run with lazy=True has its plan instead)."""
        if self.df is None:
            raise TypeError("the statement was run with lazy=True: its rows are lazy_frame()")
        return self.df

    def lazy_frame(self) -> pl.LazyFrame:
        """The plan of a query run with lazy=True; a statement without one gives its rows."""
        return self.lazy if self.lazy is not None else self.frame().lazy()


def _collect_engine(name: str) -> CollectEngine:
    for engine in COLLECT_ENGINES:
        if name == engine:
            return engine
    raise UserError(f"LOGLAKE_POLARS_ENGINE={name!r}: use one of {', '.join(COLLECT_ENGINES)}")


#: Polars engine used to run plans (measured: streaming is faster on scan-heavy plans)
COLLECT_ENGINE = _collect_engine(os.environ.get("LOGLAKE_POLARS_ENGINE", "streaming"))

_EXPLAIN = re.compile(r"^\s*EXPLAIN\b(\s+ANALYZE\b)?(\s*\([^)]*\))?\s*(?P<rest>.*)$", re.I | re.S)


@dataclass(frozen=True)
class Statement:
    """One parsed statement, as its handler in ``STATEMENTS`` gets it."""

    tree: exp.Expression
    sql: str
    params: list[Any] | tuple[Any, ...] | None
    stats: QueryStats
    lazy: bool = False


#: what runs a statement of one kind: the engine and the statement in, a result out
Handler = Callable[["Engine", Statement], QueryResult]


class Engine:
    """Runs Athena SQL over a catalog (``catalog=``) or in-memory frames (``tables=``)."""

    def __init__(
        self,
        catalog: Any = None,
        tables: TableProvider | dict[str, pl.DataFrame | pl.LazyFrame] | None = None,
        default_database: str | None = None,
        record_history: bool = True,
        database: str | None = None,
    ):
        self.catalog = catalog
        if isinstance(tables, dict) or (tables is None and catalog is None):
            tables = MemoryTables(tables or {})
        if tables is None:
            from loglake.query.catalog_tables import CatalogTables

            tables = CatalogTables(catalog, default_database or database or "default")
            tables.view_schema = lambda text: self.compile(text)[0].collect_schema()
        self.tables: TableProvider = tables
        default_database = default_database or database or "default"
        self.default_database = default_database
        self.record_history = record_history and catalog is not None
        self.last_result: QueryResult | None = None
        self.plans = PlanCache()
        self._limits = QueryLimits()

    # ------------------------------------------------------------------ public API

    def execute(
        self,
        sql: str,
        params: list[Any] | tuple[Any, ...] | None = None,
        lazy: bool = False,
        limits: QueryLimits | dict[str, Any] | None = None,
    ) -> QueryResult:
        """Run one statement; ``params`` fill ``?`` placeholders in order; ``limits`` change
        the lake's query limits (time, data scanned, result size) for this statement."""
        started = time.perf_counter()
        stats = QueryStats(query_id=str(uuid.uuid4()))
        status = "SUCCEEDED"
        error = None
        reset = getattr(self.tables, "reset", None)
        if reset is not None:
            reset()
        try:
            self._limits = self._query_limits(limits)
            wait_until_polars_runs()
            try:
                result = self._dispatch(sql, params, stats, lazy)
            except RecursionError:  # deeply nested: again with room for it
                result = run_deep(lambda: self._dispatch(sql, params, stats, lazy))
        except BaseException as err:
            clean = as_sql_error(err, sql)
            status = "FAILED"
            error = str(clean or err)
            stats.elapsed_s = time.perf_counter() - started
            self._history(sql, stats, status, error)
            if clean is not None:
                raise clean from None
            raise
        stats.elapsed_s = time.perf_counter() - started
        if result.df is not None:
            stats.rows = result.df.height
        self._history(sql, stats, status, error)
        self.last_result = result
        return result

    def _query_limits(self, overrides: QueryLimits | dict[str, Any] | None) -> QueryLimits:
        settings = getattr(self.catalog, "lake_settings", None)
        base = settings().limits if settings is not None else QueryLimits()
        return base.override(overrides)

    @property
    def last_query(self) -> QueryStats | None:
        """Statistics of the last statement that succeeded."""
        return self.last_result.stats if self.last_result is not None else None

    def explain(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> str:
        """The plan of a query with the files it keeps and skips (what EXPLAIN returns); its
        ``?`` parameters bound to ``params``, since they decide which files a filter keeps."""
        plan = self.execute(f"EXPLAIN {sql}", params).plan
        assert plan is not None
        return plan

    def compile(self, sql: str) -> tuple[pl.LazyFrame, Compiler]:
        """Text to LazyFrame without running it (what EXPLAIN and the compile benchmark use)."""
        tree = parse(sql)
        return self._compile_query(tree, sql)

    # ------------------------------------------------------------------ dispatch

    def _dispatch(
        self, sql: str, params: list[Any] | tuple[Any, ...] | None, stats: QueryStats, lazy: bool
    ) -> QueryResult:
        started = time.perf_counter()
        plan = self.plans.get(self._plan_key(sql, params), self.tables)
        if plan is not None:
            stats.compile_s = time.perf_counter() - started
            return self._run(plan.lf, plan.scans, stats, lazy, sql)
        tree = parse(sql, params)
        kind = statement_kind(tree)
        handler = STATEMENTS.get(kind)
        if handler is None:
            raise unsupported_statement(sql)
        stats.statement = kind
        return handler(self, Statement(tree, sql, params, stats, lazy))

    def _view_columns(self, sql: str) -> tuple[Any, ...]:
        from loglake.catalog import Column
        from loglake.query.statements import hive_type

        schema = self.compile(sql)[0].collect_schema()
        return tuple(Column(name, hive_type(dtype)) for name, dtype in schema.items())

    def _compile_query(self, tree: exp.Expression, sql: str) -> tuple[pl.LazyFrame, Compiler]:
        qualified = qualify_tree(
            tree,
            sql,
            self.default_database,
            self.tables.schema,
            self._resolve,
            getattr(self.tables, "elsewhere", None),
        )
        lf, compiler = self._compile_qualified(qualified, sql, frozenset())
        repeated = {a for a, n in Counter(compiler.references).items() if n > 1}
        unshared = bare_shared_aliases(lf, repeated)
        if unshared:
            lf, compiler = self._compile_qualified(qualified, sql, unshared)
        return lf, compiler

    def _compile_qualified(
        self, qualified: exp.Expression, sql: str, unshared: frozenset[str]
    ) -> tuple[pl.LazyFrame, Compiler]:
        compiler = Compiler(self.tables, sql, self._view_loader(sql), unshared)
        out: Output = compiler.query(qualified)
        lf = out.renamed()
        for finish in compiler.finishers:
            lf = finish(lf, out.final_names())
        return lf, compiler

    @property
    def _resolve(self) -> Any:
        """The provider's lookup of unqualified names (None for providers without one)."""
        return getattr(self.tables, "resolve", None)

    def _view_loader(self, sql: str) -> Any:
        def load(database: str | None, name: str) -> exp.Expression | None:
            text = self.tables.view_sql(database, name)
            if text is None:
                return None
            try:
                return qualify_tree(
                    parse(text), text, self.default_database, self.tables.schema, self._resolve
                )
            except SqlError as err:
                raise SqlError(f"view {name} is invalid: {err.bare_message}") from err

        return load

    def _plan_key(self, sql: str, params: list[Any] | tuple[Any, ...] | None) -> tuple[Any, ...]:
        return plan_key(sql, params, self.default_database)

    def _query(
        self,
        tree: exp.Expression,
        sql: str,
        stats: QueryStats,
        lazy: bool,
        key: tuple[Any, ...] | None = None,
    ) -> QueryResult:
        """Compile and run a query; with a plan ``key`` (a whole statement, not a part of one) its
        plan is kept for the next time the same text runs with the same parameters."""
        t0 = time.perf_counter()
        lf, compiler = self._compile_query(tree, sql)
        stats.compile_s = time.perf_counter() - t0
        if key is not None:
            self.plans.put(key, tree, self.tables, lf, compiler.scans)
        return self._run(lf, compiler.scans, stats, lazy, sql)

    def _run(
        self, lf: pl.LazyFrame, scans: list[ScanRecord], stats: QueryStats, lazy: bool, sql: str
    ) -> QueryResult:
        self._scan_stats(scans, stats)
        if lazy:
            return QueryResult(None, lf, stats)
        check_scan(self._limits, stats.bytes_scanned)
        try:
            df = collect_within(lf, self._limits, COLLECT_ENGINE)
        except pl.exceptions.ColumnNotFoundError as err:
            raise SqlError(f"query failed: {err}") from err
        # other Polars errors reach execute(), which knows the statement's text for positions
        return QueryResult(df, None, stats)

    @staticmethod
    def _scan_stats(scans: list[ScanRecord], stats: QueryStats) -> None:
        for record in scans:
            stats.files_scanned += record.scan.files_scanned
            stats.files_skipped += len(record.scan.files_skipped)
            stats.bytes_scanned += record.scan.bytes_scanned

    def _explain(
        self, rest: str, params: list[Any] | tuple[Any, ...] | None, stats: QueryStats
    ) -> QueryResult:
        tree = parse(rest, params)
        if not isinstance(tree, exp.Query | exp.Values):
            raise SqlError("EXPLAIN supports queries only")
        from loglake.query.catalog_tables import CatalogTables

        tables = self.tables if isinstance(self.tables, CatalogTables) else None
        if tables is not None:
            tables.plan_only = True  # a plan to show reads no data
        try:
            lf, compiler = self._compile_query(tree, rest)
        finally:
            if tables is not None:
                tables.plan_only = False
        # nothing is read: the statement's statistics (history, the CLI's line, last_query) say
        # so, and the files the plan would read are in its text
        lines = ["Scans:"]
        for record in compiler.scans:
            scan = record.scan
            lines.append(
                f"  {record.table}: {scan.files_scanned} file(s) kept, "
                f"{len(scan.files_skipped)} skipped, {human_bytes(scan.bytes_scanned)} to read"
            )
            lines += [f"    keep {p}" for p in scan.files_kept[:50]]
            lines += [f"    skip {p}" for p in scan.files_skipped[:50]]
        total = sum(record.scan.bytes_scanned for record in compiler.scans)
        lines.append(
            f"Athena would charge {format_usd(athena_cost_usd(total))} "
            f"for {human_bytes(total)} scanned (USD 5 per TB, 10 MB minimum per query)"
        )
        lines.append("Plan:")
        lines += ["  " + line for line in lf.explain().splitlines()]
        plan = "\n".join(lines)
        return QueryResult(pl.DataFrame({"Query Plan": lines}), lf, stats, plan=plan)

    # ------------------------------------------------------------------ history

    def _history(self, sql: str, stats: QueryStats, status: str, error: str | None) -> None:
        if not self.record_history:
            return
        from loglake.query.history import append_history

        with contextlib.suppress(Exception):  # history must never fail a query
            append_history(self.catalog.settings, sql, stats, status, error)


# ---------------------------------------------------------------------- the statement table
def _select(engine: Engine, statement: Statement) -> QueryResult:
    key = engine._plan_key(statement.sql, statement.params)
    return engine._query(statement.tree, statement.sql, statement.stats, statement.lazy, key=key)


def _explain(engine: Engine, statement: Statement) -> QueryResult:
    match = _EXPLAIN.match(statement.sql)
    if match is None:
        raise unsupported_statement(statement.sql)
    return engine._explain(match.group("rest"), statement.params, statement.stats)


def _catalog_statement(engine: Engine, statement: Statement) -> QueryResult:
    """DDL, SHOW, DESCRIBE and MSCK: the catalog answers with a small table."""
    kind = statement.stats.statement
    catalog = require_catalog(engine, kind)
    executor = DdlExecutor(catalog, statement.sql, engine.default_database, engine._view_columns)
    rows = CATALOG_STATEMENTS[kind](executor, statement.tree)
    if rows is None:  # SHOW/ALTER text none of the catalog's patterns reads
        raise unsupported_statement(statement.sql)
    return QueryResult(rows, None, statement.stats)


def _use(engine: Engine, statement: Statement) -> QueryResult:
    """USE db (or USE catalog.db, as Athena writes it): the current database of the following
    statements, the first place an unqualified name is looked up."""
    catalog = require_catalog(engine, "USE")
    target = statement.tree.this
    name = (target.name if isinstance(target, exp.Expression) else str(target)).lower()
    if not catalog.database_exists(name):
        raise SqlError(
            f"Schema '{name}' does not exist" + suggest(name, catalog.list_databases()),
            statement.sql,
        )
    engine.default_database = name
    if hasattr(engine.tables, "default_database"):
        engine.tables.default_database = name
    return QueryResult(pl.DataFrame(), None, statement.stats)


#: every statement loglake runs, by kind (``statement_kind``): one entry each
STATEMENTS: dict[str, Handler] = {
    "SELECT": _select,
    "EXPLAIN": _explain,
    "UNLOAD": statements.unload,
    "CREATE TABLE AS": statements.create_table_as,
    "INSERT": statements.insert_into,
    "CREATE VIEW": statements.create_view,
    "DROP VIEW": statements.drop_view,
    "USE": _use,
    **dict.fromkeys(CATALOG_STATEMENTS, _catalog_statement),
}


def polars_message(err: Exception) -> str:
    """The first line of a Polars error, or the function's own message a guarded expression
    raised (for errors met outside execute(), such as rows read later by the DB-API cursor)."""
    raised = error_from_polars(err, None)
    if raised is not None:
        return raised.bare_message
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


__all__ = ["CatalogError", "Engine", "QueryResult", "QueryStats", "asdict"]
