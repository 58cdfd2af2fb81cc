"""What a control reads: the lake's tables pinned at one Delta version, plus the ``report.*``
relations that put a run's instant into SQL.

Every managed table a run reads is read at the version it had when the run first touched it
(or, for a re-run, at the version the original run recorded), so the run's answer can be
reproduced later byte for byte. The ``report`` database holds relations computed once per run
and shared by every control:

=========================  =====================================================================
``report.context``         one row: ``as_of``, ``as_of_text``, ``period_start``,
                           ``period_start_text``, ``period_days``
``report.config_state``    the latest configuration item of each resource at or before
                           ``as_of`` (deleted resources left out): the estate at that instant
``report.config_history``  every configuration item captured at or before ``as_of``
``report.cloudtrail``      CloudTrail events of the report's period (``period_start`` ..
                           ``as_of``)
``report.metric_filters``  loglake's metric filters that existed at ``as_of``
``report.alarms``          loglake's alarms that existed at ``as_of``, with their actions
``report.alarm_history``   alarm history items of the period
``report.metric_alarms``   per metric filter: ``alarms`` on its metric, ``notifying_alarms``
                           (actions enabled, with a target), the first ``alarm_name``,
                           ``times_fired`` (changes to ALARM in the period) and ``last_fired``
=========================  =====================================================================

A scan of ``report.cloudtrail`` that names event names (``eventname = ...``, ``IN (...)``) reads
only the files holding one of them (``reports/file_index.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from loglake.catalog import DataFile, ManagedTable, TableDefinition
from loglake.errors import CatalogError
from loglake.query.catalog_tables import CatalogTables, file_may_match
from loglake.query.engine import COLLECT_ENGINE
from loglake.query.tables import Predicate, Scan
from loglake.reports.file_index import FileValues, Values, parquet_values

REPORT_DATABASE = "report"
DELETED_STATUSES = ("ResourceDeleted", "ResourceDeletedNotRecorded", "ResourceNotRecorded")
DOCUMENT_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "metric_filters": {
        "filter_name": pl.String(),
        "table_name": pl.String(),
        "log_group_name": pl.String(),
        "filter_pattern": pl.String(),
        "metric_name": pl.String(),
        "metric_namespace": pl.String(),
        "created_at": pl.String(),
    },
    "alarms": {
        "alarm_name": pl.String(),
        "metric_name": pl.String(),
        "namespace": pl.String(),
        "actions_enabled": pl.Boolean(),
        "alarm_actions": pl.List(pl.String),
        "updated_at": pl.String(),
    },
}


def iso_text(moment: dt.datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``, the spelling CloudTrail uses (comparable as text)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PinnedTables(CatalogTables):
    """Catalog tables read at fixed Delta versions; the versions read are recorded in ``pins``."""

    def __init__(self, catalog: Any, default_database: str, pins: dict[str, int] | None = None):
        super().__init__(catalog, default_database)
        self.pins: dict[str, int] = dict(pins or {})
        self.external: set[str] = set()
        #: per table (qualified name), the values its files hold, to skip more files
        self.indexes: dict[str, FileValues] = {}
        self._managed: dict[str, ManagedTable] = {}
        self._pinned: dict[str, list[DataFile]] = {}
        self._admitted: dict[tuple[str, Predicate], set[str]] = {}

    def _prune(
        self,
        table: TableDefinition,
        files: list[DataFile],
        predicates: list[Predicate],
        keys: list[str],
        schema: pl.Schema,
    ) -> tuple[list[DataFile], list[DataFile]]:
        if files is self._pinned.get(table.qualified_name):
            kept, skipped = self._prune_pinned(table, files, predicates, keys, schema)
        else:
            kept, skipped = super()._prune(table, files, predicates, keys, schema)
        index = self.indexes.get(table.qualified_name)
        if index is None:
            return kept, skipped

        def read(chosen: list[DataFile], columns: tuple[str, ...]) -> Values:
            if table.format in ("delta", "parquet"):
                settings = self.catalog.settings
                fs = settings.filesystem()
                return parquet_values(
                    lambda path: fs.open(settings.fs_path(path), "rb"), chosen, columns
                )
            values = []
            for column in columns:
                top, *fields = column.split(".")
                value = pl.col(top)
                for name in fields:
                    value = value.struct.field(name)
                values.append(value.alias(column))
            lf = self._build_frame(table, chosen, schema, keys, {"$path"})
            frame = (
                lf.select("$path", *values)
                .group_by("$path")
                .agg(pl.col(columns).drop_nulls().unique())
                .collect(engine=COLLECT_ENGINE)
            )
            return {
                row["$path"]: {c: frozenset(row[c]) for c in columns}
                for row in frame.iter_rows(named=True)
            }

        kept, more = index.prune(kept, predicates, read)
        return kept, [*skipped, *more]

    def _prune_pinned(
        self,
        table: TableDefinition,
        files: list[DataFile],
        predicates: list[Predicate],
        keys: list[str],
        schema: pl.Schema,
    ) -> tuple[list[DataFile], list[DataFile]]:
        """The statistics check, one predicate at a time, each remembered for the run.

        A managed table's file list is pinned for the run, and every control's scans share the
        period's bounds and many predicates: checking each (file, predicate) pair once instead
        of once per scan saves seconds per control on a table of thousands of files.
        """
        admitted: set[str] | None = None
        for p in predicates:
            key = (table.qualified_name, p)
            try:
                paths = self._admitted.get(key)
                remember = True
            except TypeError:  # an unhashable literal: check it for this scan only
                paths, remember = None, False
            if paths is None:
                paths = {f.path for f in files if file_may_match(f, [p], keys, schema)}
                if remember:
                    self._admitted[key] = paths
            admitted = paths if admitted is None else admitted & paths
        if admitted is None:
            return list(files), []
        kept: list[DataFile] = []
        skipped: list[DataFile] = []
        for f in files:
            (kept if f.path in admitted else skipped).append(f)
        return kept, skipped

    def _files(self, table: TableDefinition, constraints: Any) -> list[DataFile]:
        key = table.qualified_name
        if not table.is_managed:
            self.external.add(key)
            return super()._files(table, constraints)
        managed = self._managed.get(key)
        if managed is None:
            managed = self._managed[key] = ManagedTable(self.catalog.settings, table.location)
        if key not in self.pins:
            self.pins[key] = managed.version()
        if key not in self._pinned:  # one file list per table and run: the version is fixed
            self._pinned[key] = managed.files(version=self.pins[key])
        return self._pinned[key]


class ReportTables:
    """The TableProvider a run compiles its controls against."""

    def __init__(
        self,
        catalog: Any,
        *,
        as_of: dt.datetime,
        period_start: dt.datetime,
        default_database: str = "default",
        pins: dict[str, int] | None = None,
        documents: dict[str, list[dict[str, Any]]] | None = None,
        indexes: dict[str, FileValues] | None = None,
    ):
        self.catalog = catalog
        self.as_of = as_of.astimezone(dt.UTC)
        self.period_start = period_start.astimezone(dt.UTC)
        self.base = PinnedTables(catalog, default_database, pins)
        self.base.view_schema = None
        if indexes is not None:  # shared with another instant's tables of the same run
            self.base.indexes = indexes
        #: rows of the document-backed relations (recorded as evidence, replayed by a re-run)
        self.documents = documents if documents is not None else self._read_documents()
        self._cache: dict[str, pl.DataFrame] = {}
        self._schemas: dict[str, pl.Schema] = {}
        self._sources: dict[str, tuple[str | None, str] | None] = {}
        self._virtual = {
            "context": self._context,
            "config_state": self._config_state,
            "config_history": self._config_history,
            "cloudtrail": None,  # built per scan, with the query's own predicates
            "metric_filters": lambda: self._document_frame("metric_filters"),
            "alarms": lambda: self._document_frame("alarms"),
            "alarm_history": self._alarm_history,
            "metric_alarms": self._metric_alarms,
        }

    @property
    def pins(self) -> dict[str, int]:
        return self.base.pins

    def reset(self) -> None:
        self.base.reset()

    # ------------------------------------------------------------------ TableProvider
    def schema(self, database: str | None, name: str) -> pl.Schema:
        if (database or "").lower() == REPORT_DATABASE:
            # every control asks; the relations are fixed for the run
            key = name.lower()
            if key not in self._schemas:
                self._schemas[key] = (
                    self._cloudtrail_schema()
                    if key == "cloudtrail"
                    else self._frame(name).collect_schema()
                )
            return self._schemas[key]
        return self.base.schema(database, name)

    def scan(
        self,
        database: str | None,
        name: str,
        predicates: list[Predicate],
        pseudo: set[str],
    ) -> Scan:
        if (database or "").lower() == REPORT_DATABASE:
            if name.lower() == "cloudtrail":
                return self._cloudtrail(predicates, pseudo)
            return Scan(self._frame(name))
        return self.base.scan(database, name, predicates, pseudo)

    def view_sql(self, database: str | None, name: str) -> str | None:
        if (database or "").lower() == REPORT_DATABASE:
            return None
        return self.base.view_sql(database, name)

    # ------------------------------------------------------------------ relations
    def relation(self, name: str) -> pl.LazyFrame:
        """``report.NAME`` (not ``cloudtrail``, built per scan), computed once per run."""
        return self._frame(name)

    def _frame(self, name: str) -> pl.LazyFrame:
        key = name.lower()
        if key not in self._virtual or self._virtual[key] is None:
            known = ", ".join(f"report.{k}" for k in self._virtual)
            raise CatalogError(f"table report.{name} does not exist (report tables: {known})")
        if key not in self._cache:
            self._cache[key] = self._virtual[key]()  # type: ignore[misc]
        return self._cache[key].lazy()

    def _context(self) -> pl.DataFrame:
        naive = self.as_of.replace(tzinfo=None)
        start = self.period_start.replace(tzinfo=None)
        return pl.DataFrame(
            {
                "as_of": [naive],
                "as_of_text": [iso_text(self.as_of)],
                "period_start": [start],
                "period_start_text": [iso_text(self.period_start)],
                "period_days": [(self.as_of - self.period_start).days],
            },
            schema={
                "as_of": pl.Datetime("us"),
                "as_of_text": pl.String,
                "period_start": pl.Datetime("us"),
                "period_start_text": pl.String,
                "period_days": pl.Int64,
            },
        )

    def _source(self, name: str) -> tuple[str | None, str] | None:
        if name not in self._sources:  # resolved once per run, not once per scan
            try:
                relation = self.catalog.find_relation(name, None, self.base.default_database)
                self._sources[name] = relation.database, relation.name
            except CatalogError:
                self._sources[name] = None
        return self._sources[name]

    def _config_history(self) -> pl.DataFrame:
        found = self._source("config_items")
        if found is None:
            raise CatalogError("the lake has no config_items table; ingest AWS Config files first")
        db, name = found
        day = self.as_of.strftime("%Y-%m-%d")
        scan = self.base.scan(db, name, [Predicate("day", "<=", (day,))], set())
        cutoff = iso_text(self.as_of)[:19]
        return scan.lf.filter(
            pl.col("configurationitemcapturetime").str.slice(0, 19) <= cutoff
        ).collect()

    def _config_state(self) -> pl.DataFrame:
        history = self._frame("config_history").collect()
        keys = ["awsaccountid", "awsregion", "resourcetype", "resourceid"]
        order = ["configurationitemcapturetime", "configurationstateid"]
        # sort only the keys and row numbers, then take the wide rows once (moving the items'
        # JSON documents through a sort costs several times more)
        latest = (
            history.lazy()
            .select(*keys, *order, pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"))
            .sort(order, maintain_order=True)
            .group_by(keys)
            .agg(pl.col("_row").last())
            .collect()["_row"]
            .sort()
        )
        return (
            history[latest]
            .filter(~pl.col("configurationitemstatus").is_in(DELETED_STATUSES))
            .sort(keys)
        )

    def _cloudtrail_source(self) -> tuple[str | None, str]:
        found = self._source("cloudtrail")
        if found is None:
            raise CatalogError("the lake has no cloudtrail table; ingest CloudTrail logs first")
        return found

    def _cloudtrail_schema(self) -> pl.Schema:
        db, name = self._cloudtrail_source()
        return self.base.schema(db, name)

    def _cloudtrail(self, predicates: list[Predicate], pseudo: set[str]) -> Scan:
        """The period's CloudTrail events (the scan decodes only the struct members the control
        reads: Polars pushes member access down into the Parquet reader)."""
        db, name = self._cloudtrail_source()
        self.base.indexes.setdefault(f"{db}.{name}", FileValues())
        start, end = iso_text(self.period_start), iso_text(self.as_of)
        bounds = [
            Predicate("eventtime", ">=", (start,)),
            Predicate("eventtime", "<=", (end,)),
            Predicate("day", ">=", (start[:10],)),
            Predicate("day", "<=", (end[:10],)),
        ]
        scan = self.base.scan(db, name, [*predicates, *bounds], pseudo)
        scan.lf = scan.lf.filter(pl.col("eventtime").is_between(pl.lit(start), pl.lit(end)))
        return scan

    def _alarm_history(self) -> pl.DataFrame:
        schema = pl.Schema(
            {
                "alarm_name": pl.String(),
                "seq": pl.Int64(),
                "timestamp": pl.Datetime("us", "UTC"),
                "history_item_type": pl.String(),
                "history_summary": pl.String(),
                "history_data": pl.String(),
            }
        )
        try:
            self.catalog.get_table("_monitor", "alarm_history")
        except CatalogError:
            return pl.DataFrame(schema=schema)
        scan = self.base.scan("_monitor", "alarm_history", [], set())
        frame = scan.lf.collect()
        stamp = frame.schema["timestamp"]
        start, end = self.period_start, self.as_of
        if isinstance(stamp, pl.Datetime) and stamp.time_zone is None:
            start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        return (
            frame.filter(pl.col("timestamp").is_between(pl.lit(start), pl.lit(end)))
            .with_columns(pl.col("timestamp").cast(schema["timestamp"]))
            .sort(["timestamp", "alarm_name", "seq"])
        )

    def _metric_alarms(self) -> pl.DataFrame:
        """What the CloudWatch.1-14 controls ask of each metric filter, computed once per run
        (fourteen controls joining the same three small relations cost more to compile than to
        run)."""
        filters = self._frame("metric_filters").collect()
        alarms = self._frame("alarms").collect()
        fired = (
            self._frame("alarm_history")
            .filter(
                (pl.col("history_item_type") == "StateUpdate")
                & pl.col("history_summary").str.ends_with("to ALARM")
            )
            .group_by("alarm_name")
            .agg(pl.len().alias("times"), pl.col("timestamp").max().alias("last_time"))
            .collect()
        )
        listed = filters.select("filter_name", "metric_name", "metric_namespace").with_row_index(
            "_filter"
        )
        watching = listed.join(
            alarms,
            left_on=["metric_name", "metric_namespace"],
            right_on=["metric_name", "namespace"],
        ).join(fired, on="alarm_name", how="left")
        per_filter = watching.group_by("_filter").agg(
            pl.len().alias("alarms"),
            (pl.col("actions_enabled") & (pl.col("alarm_actions").list.len() > 0))
            .sum()
            .alias("notifying_alarms"),
            pl.col("alarm_name").min(),
            pl.col("times").sum().alias("times_fired"),
            pl.col("last_time").max().alias("last_fired"),
        )
        stamp = self._frame("alarm_history").collect_schema()["timestamp"]
        return (
            listed.join(per_filter, on="_filter", how="left")
            .sort("_filter")
            .drop("_filter")
            .with_columns(
                pl.col("alarms", "notifying_alarms", "times_fired").fill_null(0).cast(pl.Int64),
                pl.col("last_fired").cast(stamp),
            )
        )

    # ------------------------------------------------------------------ monitor documents
    def _read_documents(self) -> dict[str, list[dict[str, Any]]]:
        from loglake.monitor.state import MonitorState

        state = MonitorState(self.catalog)
        filters = []
        for body in state.list("filters"):
            millis = body.get("creationTime")
            created_at = (
                dt.datetime.fromtimestamp(int(millis) / 1000, dt.UTC)
                if isinstance(millis, int | float)
                else None
            )
            if created_at is not None and created_at > self.as_of:
                continue
            created = iso_text(created_at) if created_at else ""
            transform = (body.get("metricTransformations") or [{}])[0]
            filters.append(
                {
                    "filter_name": body.get("filterName"),
                    "table_name": body.get("table"),
                    "log_group_name": body.get("logGroupName"),
                    "filter_pattern": body.get("filterPattern"),
                    "metric_name": transform.get("metricName"),
                    "metric_namespace": transform.get("metricNamespace"),
                    "created_at": created or None,
                }
            )
        alarms = []
        for body in state.list("alarms"):
            d = body.get("definition", {})
            history_start = str(d.get("AlarmConfigurationUpdatedTimestamp") or "")
            alarms.append(
                {
                    "alarm_name": body.get("AlarmName"),
                    "metric_name": d.get("MetricName"),
                    "namespace": d.get("Namespace"),
                    "actions_enabled": bool(d.get("ActionsEnabled", True)),
                    "alarm_actions": list(d.get("AlarmActions", [])),
                    "updated_at": history_start or None,
                }
            )
        return {"metric_filters": filters, "alarms": alarms}

    def _document_frame(self, name: str) -> pl.DataFrame:
        rows = self.documents.get(name, [])
        return pl.DataFrame(rows, schema=DOCUMENT_SCHEMAS[name], orient="row")


__all__ = ["REPORT_DATABASE", "PinnedTables", "ReportTables", "iso_text"]
