"""Running a benchmark: every control compiled against the run's tables and collected, normalised
into result rows, causes found.

Compiling is Python work and collecting is Polars work, so a run overlaps them: each plan is handed
to a collecting thread as soon as it is compiled while the next control compiles (plans with
different filters never share a scan in Polars, so one ``collect_all`` at the end saved nothing
and left a core idle while controls compiled).

A control that fails (bad SQL, missing column, a runtime error) becomes one ``error`` row with
its message; the rest of the run goes on.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from loglake.errors import LoglakeError, SqlError, UserError
from loglake.query.engine import COLLECT_ENGINE, Engine
from loglake.reports.causes import CAUSE_SCHEMA, find_causes
from loglake.reports.definitions import REQUIRED_COLUMNS, STATUSES, Benchmark, Control
from loglake.reports.tables import ReportTables

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "control_id": pl.String(),
    "status": pl.String(),
    "resource": pl.String(),
    "account": pl.String(),
    "region": pl.String(),
    "reason": pl.String(),
    "evidence": pl.String(),  # JSON object of the control's other columns
    "cause_resource": pl.String(),
    **CAUSE_SCHEMA,
}
STATUS_ORDER = {s: i for i, s in enumerate(("alarm", "error", "info", "skip", "ok"))}


@dataclass
class ControlRun:
    """What happened to one control in a run."""

    control: Control
    compile_s: float = 0.0
    collect_s: float = 0.0
    error: str | None = None
    rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class RunResult:
    """A finished run: its rows, per-control outcomes and what is needed to reproduce it."""

    run_id: str
    benchmark: Benchmark
    as_of: dt.datetime
    period_start: dt.datetime
    results: pl.DataFrame
    controls: list[ControlRun]
    pins: dict[str, int]
    documents: dict[str, list[dict[str, Any]]]
    external_tables: list[str]
    started_at: dt.datetime
    elapsed_s: float = 0.0
    batch_s: float = 0.0
    causes_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        frame = self.results.group_by("status").len()
        found = dict(zip(frame["status"].to_list(), frame["len"].to_list(), strict=True))
        return {s: int(found.get(s, 0)) for s in STATUSES}


def new_run_id(benchmark: str, moment: dt.datetime) -> str:
    return f"{benchmark}-{moment.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


class Runner:
    """Compiles and runs the controls of one benchmark at one instant."""

    def __init__(
        self,
        catalog: Any,
        benchmark: Benchmark,
        *,
        as_of: dt.datetime,
        database: str = "default",
        pins: dict[str, int] | None = None,
        documents: dict[str, list[dict[str, Any]]] | None = None,
    ):
        self.catalog = catalog
        self.benchmark = benchmark
        self.database = database
        self.as_of = as_of.astimezone(dt.UTC)
        self.period_start = self.as_of - dt.timedelta(days=benchmark.period_days)
        self.tables = ReportTables(
            catalog,
            as_of=self.as_of,
            period_start=self.period_start,
            default_database=database,
            pins=pins,
            documents=documents,
        )
        self.engine = self._engine(self.tables)

    def _engine(self, tables: ReportTables) -> Engine:
        return Engine(
            catalog=self.catalog,
            tables=tables,
            default_database=self.database,
            record_history=False,
        )

    # ------------------------------------------------------------------ compile and collect
    def compile(
        self, control: Control, engine: Engine | None = None, *, check: bool = True
    ) -> pl.LazyFrame:
        """The control's plan, with its columns checked (raises UserError).

        ``check=False`` leaves the columns to be checked on the collected frame: resolving a
        plan's schema walks the whole plan, which a run does anyway when it collects."""
        result = (engine or self.engine).execute(control.sql, lazy=True)
        if result.lazy is None:
            raise UserError("a control must be a query (SELECT or WITH)")
        lf = result.lazy
        if check:
            check_columns(lf.collect_schema().names())
        return lf

    def validate(self, controls: Iterable[Control] | None = None) -> dict[str, str | None]:
        """Compile every control without running it: control id -> error message or None."""
        out: dict[str, str | None] = {}
        for control in controls or self.benchmark.controls():
            try:
                self.compile(control)
                out[control.id] = None
            except LoglakeError as error:
                out[control.id] = str(error)
        return out

    def run(
        self,
        controls: Iterable[Control] | None = None,
        *,
        run_id: str | None = None,
        batch: bool = True,
        causes: bool = True,
    ) -> RunResult:
        started = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        chosen = list(controls or self.benchmark.controls())
        runs = [ControlRun(c) for c in chosen]
        frames: dict[str, pl.DataFrame] = {}
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-collect") as pool:
            pending: list[tuple[ControlRun, Future[pl.DataFrame | None]]] = []
            for cr in runs:
                t = time.perf_counter()
                try:
                    lf = self.compile(cr.control, check=False)
                except LoglakeError as error:
                    cr.error = str(error)
                except Exception as error:  # a control must never stop the run
                    cr.error = _message(error)
                cr.compile_s = time.perf_counter() - t
                if cr.error is not None:
                    continue
                if batch:
                    pending.append((cr, pool.submit(_collect, cr, lf)))
                else:
                    frames.update(_gather(cr, _collect(cr, lf)))
            t_batch = time.perf_counter()
            for cr, future in pending:
                frames.update(_gather(cr, future.result()))
            batch_s = time.perf_counter() - t_batch
        parts = [self._normalise(cr, frames.get(cr.control.id)) for cr in runs]
        results = pl.concat(parts, how="vertical") if parts else _empty()
        t_causes = time.perf_counter()
        if causes and (results["status"] == "alarm").any():
            config_controls = {c.id for c in chosen if c.cause == "config"}
            by_id = {c.id: c for c in chosen}
            results = find_causes(
                results,
                self.tables,
                lambda control_id, moment: self.evaluate_at(by_id[control_id], moment),
                config_controls,
            )
        causes_s = time.perf_counter() - t_causes
        order = {c.id: i for i, c in enumerate(chosen)}
        results = (
            results.with_columns(
                pl.col("control_id").replace_strict(order, return_dtype=pl.Int64).alias("_c"),
                pl.col("status").replace_strict(STATUS_ORDER, default=9).alias("_s"),
            )
            .sort(["_c", "_s", "account", "region", "resource"], nulls_last=True)
            .drop("_c", "_s")
        )
        for cr in runs:
            mine = results.filter(pl.col("control_id") == cr.control.id)
            cr.rows = mine.height
            cr.counts = {s: int((mine["status"] == s).sum()) for s in STATUSES}
        return RunResult(
            run_id=run_id or new_run_id(self.benchmark.id, self.as_of),
            benchmark=self.benchmark,
            as_of=self.as_of,
            period_start=self.period_start,
            results=results,
            controls=runs,
            pins=dict(sorted(self.tables.pins.items())),
            documents=self.tables.documents,
            external_tables=sorted(self.tables.base.external),
            started_at=started,
            elapsed_s=time.perf_counter() - t0,
            batch_s=batch_s,
            causes_s=causes_s,
        )

    def evaluate_at(self, control: Control, moment: dt.datetime) -> pl.DataFrame:
        """The control's rows as the estate was at ``moment`` (same table versions)."""
        tables = ReportTables(
            self.catalog,
            as_of=moment,
            period_start=moment - dt.timedelta(days=self.benchmark.period_days),
            default_database=self.database,
            pins=self.tables.pins,
            documents=self.tables.documents,
            indexes=self.tables.base.indexes,
        )
        history = self.tables._frame("config_history")
        cutoff = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23]
        tables._cache["config_history"] = history.filter(
            pl.col("configurationitemcapturetime").str.slice(0, 23) <= cutoff
        ).collect()
        try:
            frame = self.compile(control, self._engine(tables)).collect(engine=COLLECT_ENGINE)
        except Exception:
            return pl.DataFrame(schema={"resource": pl.String, "status": pl.String})
        return frame.select(
            pl.col(c).cast(pl.String) for c in ("resource", "account", "region", "status")
        )

    # ------------------------------------------------------------------ rows
    def _normalise(self, cr: ControlRun, frame: pl.DataFrame | None) -> pl.DataFrame:
        if cr.error is None and frame is not None:
            try:
                return _rows(cr.control, frame)
            except UserError as error:
                cr.error = str(error)
        return pl.DataFrame(
            {
                "control_id": [cr.control.id],
                "status": ["error"],
                "resource": [None],
                "account": [None],
                "region": [None],
                "reason": [cr.error or "the control returned nothing"],
            },
            schema={k: RESULT_SCHEMA[k] for k in (*REQUIRED_COLUMNS, "control_id")},
        ).pipe(_complete)


def check_columns(columns: list[str]) -> None:
    """A control must return the columns every result row has (raises UserError)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise UserError(
            f"the query must return the columns {', '.join(REQUIRED_COLUMNS)}; "
            f"missing: {', '.join(missing)}"
        )


def _collect(cr: ControlRun, lf: pl.LazyFrame) -> pl.DataFrame | None:
    """Collect one control's plan (on the collecting thread); a failure becomes its error."""
    t = time.perf_counter()
    try:
        return lf.collect(engine=COLLECT_ENGINE)
    except Exception as error:
        cr.error = _message(error)
        return None
    finally:
        cr.collect_s = time.perf_counter() - t


def _gather(cr: ControlRun, frame: pl.DataFrame | None) -> dict[str, pl.DataFrame]:
    if frame is None:
        return {}
    try:
        check_columns(frame.columns)
    except UserError as error:
        cr.error = str(error)
        return {}
    return {cr.control.id: frame}


def _rows(control: Control, frame: pl.DataFrame) -> pl.DataFrame:
    statuses = frame["status"].cast(pl.String).str.to_lowercase()
    bad = statuses.filter(~statuses.is_in(STATUSES) | statuses.is_null()).unique().to_list()
    if bad:
        raise UserError(
            f"status must be one of {', '.join(STATUSES)}; the query returned {bad[:3]}"
        )
    fixed = set(REQUIRED_COLUMNS) | {"cause_event_id", "cause_resource"}
    extra = [c for c in frame.columns if c not in fixed]
    columns = [
        pl.lit(control.id).alias("control_id"),
        pl.Series("status", statuses),
        *(pl.col(c).cast(pl.String) for c in ("resource", "account", "region", "reason")),
        (pl.struct(extra).struct.json_encode() if extra else pl.lit(None, pl.String)).alias(
            "evidence"
        ),
        (
            pl.col("cause_event_id").cast(pl.String)
            if "cause_event_id" in frame.columns
            else pl.lit(None, pl.String)
        ).alias("cause_event_id"),
        (
            pl.col("cause_resource").cast(pl.String)
            if "cause_resource" in frame.columns
            else pl.lit(None, pl.String)
        ).alias("cause_resource"),
    ]
    try:
        return frame.select(columns).pipe(_complete)
    except pl.exceptions.PolarsError as error:
        raise UserError(f"result columns cannot be read: {_message(error)}") from None


def _complete(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(None, t).alias(c) for c, t in RESULT_SCHEMA.items() if c not in frame.columns]
    return frame.with_columns(missing).select(pl.col(c).cast(t) for c, t in RESULT_SCHEMA.items())


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=RESULT_SCHEMA)


def _message(error: Exception) -> str:
    if isinstance(error, SqlError | LoglakeError):
        return str(error)
    text = str(error).strip().splitlines()
    return f"query failed: {text[0] if text else type(error).__name__}"


__all__ = ["RESULT_SCHEMA", "ControlRun", "RunResult", "Runner", "new_run_id"]
