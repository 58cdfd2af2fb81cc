"""The Lake: one object a notebook or script holds to query, ingest and monitor a lake."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

import polars as pl

from loglake.catalog import DEFAULT_DATABASE, Catalog, StorageSettings
from loglake.errors import UserError

if TYPE_CHECKING:
    from loglake.ingest.runner import IngestReport
    from loglake.query.engine import Engine, QueryStats
    from loglake.scaleout.runner import SparkRunner

#: ``?`` parameters of a statement, in order
Params = list[Any] | tuple[Any, ...] | None


class Lake:
    """A lake root with its catalog; ``sql`` answers Athena SQL, ``ingest`` loads AWS exports."""

    def __init__(
        self, settings: StorageSettings, database: str = DEFAULT_DATABASE, *, create: bool = False
    ):
        self.settings = settings
        self.catalog = Catalog(settings)
        self.database = database
        self._engine: Engine | None = None
        self._spark: SparkRunner | None = None
        if create:
            self.catalog.initialise()
        elif not self.catalog.exists():
            raise LakeNotFound(settings.root)

    def __repr__(self) -> str:
        return f"Lake({self.settings.root!r})"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from loglake.query.engine import Engine

            self._engine = Engine(catalog=self.catalog, default_database=self.database)
        return self._engine

    @overload
    def sql(
        self,
        text: str,
        params: Params = None,
        *,
        lazy: Literal[False] = False,
        limits: dict[str, Any] | None = None,
        engine: str = "loglake",
    ) -> pl.DataFrame: ...

    @overload
    def sql(
        self,
        text: str,
        params: Params = None,
        *,
        lazy: Literal[True],
        limits: dict[str, Any] | None = None,
        engine: str = "loglake",
    ) -> pl.LazyFrame: ...

    @overload
    def sql(
        self,
        text: str,
        params: Params = None,
        *,
        lazy: bool,
        limits: dict[str, Any] | None = None,
        engine: str = "loglake",
    ) -> pl.DataFrame | pl.LazyFrame: ...

    def sql(
        self,
        text: str,
        params: Params = None,
        *,
        lazy: bool = False,
        limits: dict[str, Any] | None = None,
        engine: str = "loglake",
    ) -> pl.DataFrame | pl.LazyFrame:
        """Run one Athena SQL statement; SELECTs return a DataFrame (or LazyFrame if lazy).

        ``limits`` changes the lake's query limits for this statement, e.g.
        ``{"time_limit_s": 60, "scan_limit_bytes": None}`` (see docs/security.md).
        ``engine="spark"`` answers a query on Spark instead (see docs/scale-out.md).
        """
        if engine == "spark":
            if lazy or limits:
                raise UserError("lazy results and limits are for engine='loglake' only")
            return self.spark_runner().sql(text, params)
        if engine != "loglake":
            raise UserError(f"unknown engine {engine!r}: use 'loglake' or 'spark'")
        result = self.engine.execute(text, params=params, lazy=lazy, limits=limits)
        return result.lazy_frame() if lazy else result.frame()

    def spark(self, session: Any = None) -> Any:
        """A SparkSession holding every table and view of this lake as a view (``db__name``, and
        the bare name along the search path); a local session on two cores unless given."""
        runner = self.spark_runner(session)
        runner.refresh()
        return runner.session

    def spark_runner(self, session: Any = None) -> SparkRunner:
        """The object that answers this lake's SQL on Spark (kept for the next query)."""
        if self._spark is None or (session is not None and session is not self._spark.session):
            from loglake.scaleout.runner import SparkRunner

            self._spark = SparkRunner(self, session)
        return self._spark

    def explain(self, text: str, params: Params = None) -> str:
        """The plan of a query, with the files it keeps and skips (``?`` bound to ``params``)."""
        return self.engine.explain(text, params)

    @property
    def last_query(self) -> QueryStats | None:
        """Statistics of the last statement: rows, files scanned and skipped, bytes, time, id."""
        return self.engine.last_query

    def ingest(self, url: str, *, engine: str = "loglake", **options: Any) -> IngestReport:
        """Load the AWS exports found under ``url`` into the lake's tables, exactly once
        (``options``: those of ``loglake.ingest.ingest``, e.g. ``source``, ``since``, ``workers``).

        ``engine="spark"`` parses on the executors of :meth:`spark`'s session and commits here
        (docs/scale-out.md)."""
        from loglake.catalog.storage_errors import explain
        from loglake.ingest.runner import ingest

        if engine == "spark":
            from loglake.scaleout.ingest import spark_batches

            options["batch_runner"] = spark_batches(self.spark_runner().session)
        elif engine != "loglake":
            raise UserError(f"unknown engine {engine!r}: use 'loglake' or 'spark'")

        try:
            return ingest(self.catalog, url, **options)
        except UserError:
            raise
        except Exception as error:
            known = explain(error, url)
            if known is None:
                raise
            raise known from error

    @property
    def investigate(self) -> Any:
        """Timelines, identity chains, first-seen behaviour and detections (docs/investigate.md)."""
        from loglake.investigate.api import Investigation
        from loglake.investigate_records import cloudtrail_rows

        return Investigation(self.catalog, parse_records=cloudtrail_rows)

    @overload
    def insights(
        self,
        query: str,
        *,
        log_group: str | list[str] | None = None,
        table: str = "cloudwatch_logs",
        start: Any = None,
        end: Any = None,
        show_sql: Literal[False] = False,
    ) -> pl.DataFrame: ...

    @overload
    def insights(
        self,
        query: str,
        *,
        log_group: str | list[str] | None = None,
        table: str = "cloudwatch_logs",
        start: Any = None,
        end: Any = None,
        show_sql: Literal[True],
    ) -> str: ...

    @overload
    def insights(
        self,
        query: str,
        *,
        log_group: str | list[str] | None = None,
        table: str = "cloudwatch_logs",
        start: Any = None,
        end: Any = None,
        show_sql: bool,
    ) -> pl.DataFrame | str: ...

    def insights(
        self,
        query: str,
        *,
        log_group: str | list[str] | None = None,
        table: str = "cloudwatch_logs",
        start: Any = None,
        end: Any = None,
        show_sql: bool = False,
    ) -> pl.DataFrame | str:
        """Run a CloudWatch Logs Insights query over a table (CloudWatch Logs by default).

        ``log_group`` names one or more groups of ``cloudwatch_logs``; ``start``/``end`` (datetimes
        or ISO 8601 text) bound ``@timestamp``. The query becomes Athena SQL for the same engine;
        ``show_sql`` returns that SQL instead of running it.
        """
        from loglake.query.insights import run_insights

        groups = [log_group] if isinstance(log_group, str) else list(log_group or [])
        result = run_insights(
            self.engine,
            query,
            table=table,
            log_groups=groups,
            start=start,
            end=end,
            run=not show_sql,
        )
        return result.sql if show_sql else result.frame

    def tables(self, database: str | None = None) -> list[str]:
        """Tables and views of ``database``; by default every one a query can name without a
        database (the current database, then ``aws``)."""
        if database is not None:
            return sorted([*self.catalog.list_tables(database), *self.catalog.list_views(database)])
        return [name for _, name in self.catalog.visible_relations(self.current_database)]

    @property
    def current_database(self) -> str:
        """The database unqualified names are looked up in first: ``database`` until a USE
        statement changes it."""
        return self._engine.default_database if self._engine is not None else self.database


class LakeNotFound(UserError):
    """The lake root holds no lake: a mistyped path must not silently become a new, empty lake."""

    def __init__(self, root: str):
        self.root = root
        super().__init__(
            f"no lake at {root}: create one with `loglake init {root}` (or "
            "loglake.connect(..., create=True)), or ingest into it, or point --lake at an existing lake"
        )


def connect(
    root: str | None = None,
    *,
    database: str = DEFAULT_DATABASE,
    create: bool = False,
    **settings: Any,
) -> Lake:
    """Open the lake at a folder or ``s3://bucket/prefix``; ``create=True`` creates it if needed.

    Settings not given here come from the environment (``LOGLAKE_LAKE``, ``AWS_ENDPOINT_URL``,
    ``AWS_REGION``, the AWS credential chain, ...) and then from ``loglake.toml``.
    """
    return Lake(StorageSettings.resolve(root, **settings), database=database, create=create)
