"""Lake SQL answered by Spark: translate, run, hand back a Polars frame.

The session's views are registered once and again only when something they depend on changed:
the catalog (any table or view created, altered or dropped) or the snapshot of a Delta table
(ingest, INSERT, compaction). Checking costs one catalog token and one version read per Delta
table, so a notebook that runs many queries pays for registration once.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from loglake.errors import SqlError
from loglake.scaleout.session import spark_session
from loglake.scaleout.tables import Registration, register
from loglake.scaleout.translate import to_spark_sql


class SparkRunner:
    """One lake on one SparkSession (a local one on two cores unless given)."""

    def __init__(self, lake: Any, session: Any = None):
        self.lake = lake
        self.session = session if session is not None else spark_session()
        self.registration: Registration | None = None
        self._key: tuple[Any, ...] | None = None

    def refresh(self) -> Registration:
        """Register the lake's relations if anything changed since the last registration."""
        key = self._state_key()
        if self.registration is None or key != self._key:
            self.registration = register(self.lake, self.session)
            self._key = key
        return self.registration

    def translate(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> str:
        """The Spark SQL that answers ``sql`` (Athena) over the registered views."""
        return to_spark_sql(
            self.lake.engine, sql, params, function_exists=self.session.catalog.functionExists
        )

    def sql(self, sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> pl.DataFrame:
        """Run one Athena query on Spark; the answer comes back as a Polars DataFrame."""
        self.refresh()
        text = self.translate(sql, params)
        try:
            table = self.session.sql(text).toArrow()
        except Exception as err:
            raise SqlError(f"Spark could not run the query: {_spark_message(err)}") from None
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _state_key(self) -> tuple[Any, ...]:
        catalog = self.lake.catalog
        versions = []
        for database in catalog.list_databases():
            for name in catalog.list_tables(database):
                table = catalog.get_table(database, name)
                if table.is_managed:
                    versions.append((database, name, catalog.managed(database, name).version()))
        return (catalog.generation(), tuple(versions))


def _spark_message(err: Exception) -> str:
    """Spark's own message without the JVM stack trace."""
    getter = getattr(err, "getMessage", None)
    text = getter() if callable(getter) else str(err)
    return (text or type(err).__name__).strip().splitlines()[0]
