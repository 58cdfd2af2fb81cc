"""Saved queries run incrementally: each run sees only the rows committed since the last one.

A saved query reads one managed table incrementally (the table its FROM clause names, or the one
given); other tables it joins are read in full. With a destination table, the new results and the
checkpoint are appended in one Delta commit (exactly once); without one, the results are returned
and the checkpoint is advanced afterwards (a crash in between returns the same rows again).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from loglake.catalog import Catalog
from loglake.catalog.catalog import DEFAULT_DATABASE
from loglake.errors import UserError
from loglake.monitor.runner import pinned_files, scan_files, split_table
from loglake.monitor.state import MonitorState
from loglake.query.engine import Engine
from loglake.query.tables import Predicate, Scan, TableProvider


class _NewRowsOnly:
    """A table provider that serves only some files of one table and delegates the rest."""

    def __init__(self, inner: TableProvider, database: str, name: str, frame: pl.LazyFrame):
        self.inner = inner
        self.key = (database, name)
        self.frame = frame

    def _is_target(self, database: str | None, name: str) -> bool:
        return ((database or DEFAULT_DATABASE).lower(), name.lower()) == self.key

    def schema(self, database: str | None, name: str) -> pl.Schema:
        return self.inner.schema(database, name)

    def scan(
        self,
        database: str | None,
        name: str,
        predicates: list[Predicate],
        pseudo_columns: set[str],
    ) -> Scan:
        if not self._is_target(database, name):
            return self.inner.scan(database, name, predicates, pseudo_columns)
        lf = self.frame
        for pseudo in pseudo_columns:
            lf = lf.with_columns(pl.lit(None, dtype=pl.String).alias(pseudo))
        return Scan(lf)

    def view_sql(self, database: str | None, name: str) -> str | None:
        return self.inner.view_sql(database, name)


def _tables_in(sql: str) -> list[tuple[str, str]]:
    try:
        tree = sqlglot.parse_one(sql, read="athena")
    except sqlglot.errors.ParseError as error:
        raise UserError(f"Invalid SQL: {error}") from None
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out = []
    for t in tree.find_all(exp.Table):
        if t.name.lower() in ctes and not t.db:
            continue
        key = ((t.db or DEFAULT_DATABASE).lower(), t.name.lower())
        if key not in out:
            out.append(key)
    return out


def save_query(
    catalog: Catalog,
    name: str,
    sql: str,
    *,
    table: str | None = None,
    destination: str | None = None,
    from_start: bool = False,
) -> dict[str, Any]:
    """Save a query; its first run returns rows committed after now (or all, with from_start)."""
    if not name or "/" in name:
        raise UserError("A saved query needs a name without '/'")
    if table:
        database, tname = split_table(table, catalog)
    else:
        tables = [t for t in _tables_in(sql) if catalog.table_exists(*t)]
        managed = [t for t in tables if catalog.get_table(*t).is_managed]
        if len(managed) != 1:
            raise UserError(
                "Name the table to read incrementally (--table): the query reads "
                f"{len(managed)} managed tables"
            )
        database, tname = managed[0]
    version = -1 if from_start else catalog.managed(database, tname).version()
    body = {
        "name": name,
        "sql": sql,
        "table": f"{database}.{tname}",
        "destination": destination,
        "createdVersion": version,
        "checkpoint": version,
    }
    MonitorState(catalog).put("queries", name, body)
    return body


def list_queries(catalog: Catalog) -> list[dict[str, Any]]:
    return MonitorState(catalog).list("queries")


def run_saved_query(catalog: Catalog, name: str) -> pl.DataFrame:
    """The query's results over the rows committed since its last run."""
    state = MonitorState(catalog)
    body, _ = state.require("queries", name)
    database, tname = split_table(body["table"], catalog)
    table = catalog.managed(database, tname)
    app = f"saved-query:{name}"
    dest = None
    checkpoint = int(body["checkpoint"])
    if body.get("destination"):
        ddb, dname = split_table(body["destination"])
        if catalog.table_exists(ddb, dname):
            dest = catalog.managed(ddb, dname)
            checkpoint = max(checkpoint, dest.app_version(app) or -1)
    files, version = pinned_files(table, checkpoint)
    schema = pl.Schema(table.schema())
    frame = scan_files(table, files, list(schema))
    engine = Engine(catalog, record_history=False)
    engine.tables = _NewRowsOnly(engine.tables, database, tname, frame)
    result = engine.execute(body["sql"]).frame()
    if body.get("destination"):
        if dest is None:
            ddb, dname = split_table(body["destination"])
            catalog.create_database(ddb, if_not_exists=True)
            catalog.create_managed_table(ddb, dname, result.to_arrow().schema, if_not_exists=True)
            dest = catalog.managed(ddb, dname)
        if version > checkpoint:
            dest.append(result.to_arrow(), app_id=app, app_version=version)
    if version > int(body["checkpoint"]):

        def advance(b: dict[str, Any]) -> dict[str, Any] | None:
            if int(b["checkpoint"]) >= version:
                return None
            b["checkpoint"] = version
            return b

        state.update("queries", name, advance)
    return result
