"""Running detections: over given rows, over history, and incrementally over new commits.

Rules that read the same source table share one scan: the rows any of their prefilters keep are
read once (only the columns the rules use) and every rule runs over those rows in memory.

Incremental runs use the monitor's checkpoint mechanism: each detection's checkpoint is the
source-table version it has read up to, recorded as a Delta application transaction in the same
commit that appends its hits to ``_detections.hits``, so hits and checkpoint move together.

Late data. Next to the version, each detection keeps an event-time watermark: the newest event
time seen minus the rule's lateness (20 minutes by default, CloudTrail's delivery delay). A rule
without a window depends on one event only and fires as soon as the event is committed. A rule
with a window (it counts or correlates events up to ``window`` apart) reports a hit on an event
once the watermark has passed the end of the event's window, so the rows it counted are complete
when events arrive out of order within the lateness; each run re-reads the rows of the open
windows from the table. An event that arrives later than that still counts: its window is
re-read and any new hit is reported, marked ``late``. A hit is recorded once per detection and
event, so no event is reported twice whatever the order of deliveries.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import sqlglot
from sqlglot import exp

from loglake.catalog import Catalog, ManagedTable
from loglake.catalog.documents import DocumentStore
from loglake.catalog.lakesettings import QueryLimits
from loglake.errors import ConflictError, UserError
from loglake.investigate.actors import TABLE as ACTORS_TABLE
from loglake.investigate.actors import actors_frame, update_actors
from loglake.investigate.detections import Detection, parse_sql
from loglake.investigate.history import HistoryStore, ends
from loglake.investigate.timeline import time_bounds
from loglake.monitor import actions
from loglake.monitor.metrics import compact_if_many
from loglake.monitor.runner import (
    TIME_COLUMNS,
    files_in_range,
    pinned_files,
    scan_files,
    split_table,
    time_expr,
    with_condition,
)
from loglake.monitor.state import MonitorState
from loglake.query.engine import Engine
from loglake.query.tables import Predicate, Scan, TableProvider

HITS_DATABASE = "_detections"
HITS_TABLE = "hits"
HITS_SCHEMA = pa.schema(
    [
        pa.field("detection_id", pa.string()),
        pa.field("title", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("mitre", pa.list_(pa.string())),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("author", pa.string()),
        pa.field("dedup", pa.string()),
        pa.field("event_id", pa.string()),
        pa.field("event_time", pa.timestamp("us", tz="UTC")),
        pa.field("event_name", pa.string()),
        pa.field("account", pa.string()),
        pa.field("region", pa.string()),
        pa.field("principal", pa.string()),
        pa.field("source_ip", pa.string()),
        pa.field("source_table", pa.string()),
        pa.field("details", pa.string()),  # JSON: the rule's other output columns
        pa.field("late", pa.bool_()),
        pa.field("detected_at", pa.timestamp("us", tz="UTC")),
        pa.field("run_id", pa.string()),
    ]
)
#: output columns a rule may return, and the hit field each fills (first present wins)
STANDARD_COLUMNS = {
    "event_name": ("eventname", "event_name"),
    "account": ("account", "recipientaccountid", "account_id"),
    "region": ("region", "awsregion"),
    "principal": ("principal", "arn"),
    "source_ip": ("sourceip", "sourceipaddress", "srcaddr", "source_ip"),
}
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


#: limits of the queries a run builds over rows it already holds (the new rows, a rule's rows):
#: the lake's per-query limits guard people's statements, and a first run over a table of more
#: than ``result_limit_rows`` events must still mark and keep every row
INTERNAL_LIMITS = QueryLimits(
    time_limit_s=None, scan_limit_bytes=None, result_limit_rows=None, result_limit_bytes=None
)


def app_id(detection_id: str) -> str:
    return f"detection:{detection_id}"


def watermark_id(detection_id: str) -> str:
    return f"detection:{detection_id}:watermark"


# ---------------------------------------------------------------------------------------------
# evaluation of one rule over given rows


class _Override:
    """A table provider that serves given rows for some tables and the catalog for the rest."""

    def __init__(self, inner: TableProvider, frames: Mapping[tuple[str, str], pl.LazyFrame]):
        self.inner = inner
        self.frames = dict(frames)

    def _frame(self, database: str | None, name: str) -> pl.LazyFrame | None:
        for (db, table), frame in self.frames.items():
            if name.lower() == table and (database is None or database.lower() == db):
                return frame
        return None

    def schema(self, database: str | None, name: str) -> pl.Schema:
        frame = self._frame(database, name)
        return frame.collect_schema() if frame is not None else self.inner.schema(database, name)

    def scan(
        self,
        database: str | None,
        name: str,
        predicates: list[Predicate],
        pseudo_columns: set[str],
    ) -> Scan:
        frame = self._frame(database, name)
        if frame is None:
            return self.inner.scan(database, name, predicates, pseudo_columns)
        for pseudo in pseudo_columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(pseudo))
        return Scan(frame)

    def view_sql(self, database: str | None, name: str) -> str | None:
        if self._frame(database, name) is not None:
            return None
        return self.inner.view_sql(database, name)


def rule_engine(
    catalog: Catalog | None, frames: Mapping[tuple[str, str], pl.LazyFrame | pl.DataFrame]
) -> Engine:
    """An engine whose given tables are the given rows (other tables come from the catalog)."""
    lazy = {key: frame.lazy() for key, frame in frames.items()}
    if catalog is None:
        return Engine(tables={name: frame for (_, name), frame in lazy.items()})
    engine = Engine(catalog, record_history=False)
    engine.tables = _Override(engine.tables, lazy)
    return engine


def evaluate(
    detection: Detection,
    rows: pl.DataFrame | pl.LazyFrame,
    *,
    catalog: Catalog | None = None,
    source: tuple[str, str] | None = None,
) -> pl.DataFrame:
    """The hits of one rule over the given rows of its source table (HITS_SCHEMA, no run fields).

    Like CloudWatch's TestMetricFilter for detections: ``rows`` are table rows (the CLI's
    ``detect test`` builds them from raw CloudTrail records).
    """
    database, _, name = detection.source.rpartition(".")
    key = source or (database or "default", name)
    if name == ACTORS_TABLE and "useridentity" in rows.columns:
        rows = actors_frame(rows.lazy().collect() if isinstance(rows, pl.LazyFrame) else rows)
    engine = rule_engine(catalog, {key: rows})
    try:
        result = engine.execute(detection.sql, limits=INTERNAL_LIMITS).df
    except UserError as error:
        raise UserError(f"detection {detection.id}: {error}") from None
    assert result is not None
    return _hits_frame(detection, result, f"{key[0]}.{key[1]}")


def _hits_frame(detection: Detection, result: pl.DataFrame, table: str) -> pl.DataFrame:
    columns = {c.lower(): c for c in result.columns}
    for needed in ("eventid", "eventtime"):
        if needed not in columns:
            raise UserError(
                f"detection {detection.id}: the query must return a column {needed!r} "
                f"(it returns {', '.join(result.columns) or 'nothing'})"
            )
    dedup_cols = []
    for name in detection.dedup:
        if name.lower() not in columns:
            raise UserError(
                f"detection {detection.id}: dedup names {name!r}, which the query does not return"
            )
        dedup_cols.append(columns[name.lower()])
    if "dedup" in columns:
        dedup = pl.col(columns["dedup"]).cast(pl.String)
    elif dedup_cols:
        dedup = pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") for c in dedup_cols], separator="|"
        )
    else:
        dedup = pl.col(columns["eventid"]).cast(pl.String)
    used = {columns["eventid"], columns["eventtime"]}
    standard = []
    for target, candidates in STANDARD_COLUMNS.items():
        found = next((columns[c] for c in candidates if c in columns), None)
        if found is None:
            standard.append(pl.lit(None, dtype=pl.String).alias(target))
        else:
            used.add(found)
            standard.append(pl.col(found).cast(pl.String).alias(target))
    rest = [c for c in result.columns if c not in used and c.lower() != "dedup"]
    details = (
        pl.struct([_jsonable(result.schema[c], c) for c in rest]).struct.json_encode()
        if rest
        else pl.lit("{}")
    )
    times = time_expr(result.schema, columns["eventtime"])
    frame = result.select(
        pl.lit(detection.id).alias("detection_id"),
        pl.lit(detection.title).alias("title"),
        pl.lit(detection.severity).alias("severity"),
        pl.lit(detection.mitre, dtype=pl.List(pl.String)).alias("mitre"),
        pl.lit(detection.tags, dtype=pl.List(pl.String)).alias("tags"),
        pl.lit(detection.author or None, dtype=pl.String).alias("author"),
        dedup.alias("dedup"),
        pl.col(columns["eventid"]).cast(pl.String).alias("event_id"),
        times.alias("event_time"),
        *standard,
        pl.lit(table).alias("source_table"),
        details.alias("details"),
        pl.lit(False).alias("late"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("detected_at"),
        pl.lit(None, dtype=pl.String).alias("run_id"),
    )
    return frame.filter(pl.col("event_id").is_not_null()).unique(
        subset=["event_id"], keep="first", maintain_order=True
    )


def _jsonable(dtype: pl.DataType, name: str) -> pl.Expr:
    # datetimes and the like become text so the details are plain JSON
    if dtype.is_temporal() or isinstance(dtype, pl.Decimal):
        return pl.col(name).cast(pl.String)
    return pl.col(name)


# ---------------------------------------------------------------------------------------------
# reading a source once for many rules


@dataclass
class SourceRows:
    """Where a source table is and which columns and rows its rules need."""

    database: str
    name: str
    table: ManagedTable
    schema: pl.Schema
    time_column: str
    columns: list[str]
    prefilter: str | None  # None: some rule needs every row
    cheap: str | None = None  # a weaker form without function calls, applied first

    @property
    def key(self) -> tuple[str, str]:
        return (self.database, self.name)


def source_rows(catalog: Catalog, detections: Sequence[Detection]) -> SourceRows:
    """The shared read of one source for the given rules (all reading the same table)."""
    database, name = split_table(detections[0].source, catalog)
    if not catalog.table_exists(database, name):
        raise UserError(f"Table {database}.{name} does not exist yet (ingest data first)")
    table = catalog.managed(database, name)
    schema = pl.Schema(table.schema())
    time_column = next((c for c in TIME_COLUMNS if c in schema), None)
    if time_column is None:
        raise UserError(f"Table {database}.{name} has no event-time column")
    lowered = {c.lower(): c for c in schema}
    wanted: set[str] = {time_column}
    prefilters: list[str] = []
    cheap: list[str] = []
    everything = False
    for d in detections:
        names = _column_names(d)
        if names is None:
            wanted |= set(schema)
        else:
            wanted |= {lowered[n] for n in names if n in lowered}
        condition = d.prefilter()
        if condition is None:
            everything = True
        else:
            prefilters.append(condition)
            cheap.append(d.prefilter(cheap=True) or "TRUE")
    return SourceRows(
        database,
        name,
        table,
        schema,
        time_column,
        [c for c in schema if c in wanted],
        None if everything else _any(prefilters),
        None if everything or "TRUE" in cheap else _any(cheap),
    )


def _any(conditions: list[str]) -> str:
    return " OR ".join(f"({c})" for c in dict.fromkeys(conditions))


def _column_names(detection: Detection) -> frozenset[str] | None:
    """Lower-case column names a rule mentions, or None when it selects every column."""
    return _names_in(detection.sql, detection.path or detection.id)


@functools.lru_cache(maxsize=512)
def _names_in(sql: str, origin: str) -> frozenset[str] | None:
    # each run asks for every rule, and walking the tree costs more than the rest of a quiet run
    tree = parse_sql(sql, origin)
    for select in tree.find_all(exp.Select):
        for projection in select.expressions:
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                return None
    names = set()
    for column in tree.find_all(exp.Column):
        parts = [p.name.lower() for p in column.parts]
        names.update(parts)  # struct access (useridentity.arn) names its column first or second
    return frozenset(names)


def _keep(rows: pl.LazyFrame, prefilter: str | None) -> pl.LazyFrame:
    if prefilter is None:
        return rows
    return (
        with_condition(rows, prefilter, "__keep")
        .filter(pl.col("__keep").fill_null(False))
        .drop("__keep")
    )


def _narrow(rows: pl.LazyFrame, cheap: str | None, full: str | None) -> pl.DataFrame:
    """The rows a prefilter keeps: the cheap test first over every row, the full one (JSON
    look-ups, regular expressions) only over the rows that pass it."""
    first = _keep(rows, cheap).collect()
    return _keep(first.lazy(), full).collect() if full and full != cheap else first


def rule_rows(detections: Sequence[Detection], rows: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The shared rows each rule can use (its own cheap prefilter applied), by rule id; every
    rule's condition is compiled in one query."""
    conditions = {d.id: d.prefilter(cheap=True) for d in detections}
    flags = {
        c: f"__rule{i}" for i, c in enumerate(dict.fromkeys(filter(None, conditions.values())))
    }
    if not flags:
        return {d.id: rows for d in detections}
    engine = Engine(tables={"t": rows.lazy()}, record_history=False)
    listed = ", ".join(f'({c}) AS "{flag}"' for c, flag in flags.items())
    marked = engine.execute(f"SELECT *, {listed} FROM t", limits=INTERNAL_LIMITS).df
    assert marked is not None
    out = {}
    for d in detections:
        condition = conditions[d.id]
        if condition is None:
            out[d.id] = rows
        else:
            kept = marked.filter(pl.col(flags[condition]).fill_null(False))
            out[d.id] = kept.drop(list(flags.values()))
    return out


def read_range(
    source: SourceRows,
    ranges: Iterable[tuple[datetime, datetime]] | None,
    *,
    prefilter: str | bool | None = True,
    cheap: str | None = None,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Rows of the whole table whose event time falls in any of the ranges (None: all rows),
    kept by the prefilter, with only the needed columns (default: those of every rule of the
    source); files outside the ranges are skipped."""
    if prefilter is True:
        condition, cheap = source.prefilter, source.cheap
    else:
        condition = prefilter or None
    columns = list(columns or source.columns)
    spans = _merge(list(ranges)) if ranges is not None else None
    files = source.table.files()
    if spans is not None:
        if not spans:
            return pl.DataFrame(schema={c: source.schema[c] for c in columns})
        files = files_in_range(files, source.time_column, spans)
    lf = scan_files(source.table, files, columns)
    if spans is not None:
        lf = lf.filter(_within_spans(source, spans))
    return _narrow(lf.select(columns), cheap, condition)


def _within_spans(
    source: SourceRows, spans: Sequence[tuple[datetime, datetime]], *, closed: bool = True
) -> pl.Expr:
    """Rows whose time falls in one of the spans (``closed``: ends included). ISO text is
    compared as text: parsing the times of ten million rows takes seconds, comparing them a
    fraction of one."""
    column = pl.col(source.time_column)
    if source.schema[source.time_column] == pl.String:
        text = "%Y-%m-%dT%H:%M:%S"
        return pl.any_horizontal(
            [
                (column >= lo.astimezone(UTC).strftime(text))
                & (column < (hi + timedelta(seconds=closed)).astimezone(UTC).strftime(text))
                for lo, hi in spans
            ]
        )
    when = time_expr(source.schema, source.time_column)
    return pl.any_horizontal(
        [(when >= lo) & ((when <= hi) if closed else (when < hi)) for lo, hi in spans]
    )


def rule_columns(source: SourceRows, detection: Detection) -> list[str]:
    """The columns of the source one rule reads (and the time column)."""
    names = _column_names(detection)
    if names is None:
        return source.columns
    return [c for c in source.columns if c.lower() in names or c == source.time_column]


@dataclass
class _HistoryShape:
    """What a ``history:`` rule's summary holds of its source."""

    groups: list[str]  # the history columns
    columns: list[str]  # those, the time and the columns the rule's conditions test
    when: pl.Expr  # the time, in an order-preserving form
    day: pl.Expr


def _history_shape(detection: Detection, source: SourceRows) -> _HistoryShape:
    lowered = {c.lower(): c for c in source.schema}
    unknown = [c for c in detection.history if c.lower() not in lowered]
    if unknown:
        raise UserError(
            f"detection {detection.id}: history names {', '.join(unknown)}, "
            f"which {source.database}.{source.name} does not have"
        )
    groups = [lowered[c.lower()] for c in detection.history]
    needed = {*groups, source.time_column}
    for text in (detection.prefilter(), detection.entity):
        needed |= {lowered[n] for n in _condition_names(text) if n in lowered}
    when = pl.col(source.time_column)  # ISO text sorts like the times it holds
    day = pl.col(source.time_column).str.slice(0, 10)
    if source.schema[source.time_column] != pl.String:
        when = time_expr(source.schema, source.time_column)
        day = when.dt.strftime("%Y-%m-%d")
    return _HistoryShape(groups, [c for c in source.schema if c in needed], when, day)


def update_histories(
    catalog: Catalog,
    detections: Sequence[Detection],
    source: SourceRows,
    new_rows: Mapping[str, pl.DataFrame],
    versions: tuple[int, int],
) -> None:
    """Bring the summaries of the ``history:`` rules up to the version this run reads, in one
    commit: each rule's new rows (``new_rows`` by rule id), or the whole table for a rule that
    has no summary yet. A rule without new rows adds nothing."""
    store = HistoryStore(catalog)
    _, to_version = versions
    summaries: dict[str, pl.DataFrame] = {}
    for detection in detections:
        shape = _history_shape(detection, source)
        covered = store.covered(detection.id)
        full = detection.prefilter()
        if covered is None:
            # a new rule, or one that ran before summaries existed
            rows = scan_files(source.table, source.table.files(), shape.columns).select(
                shape.columns
            )
            cheap = detection.prefilter(cheap=True)
            rows = _keep(_keep(rows, cheap), full if full != cheap else None)
        elif covered < to_version and new_rows[detection.id].height:
            rows = _keep(new_rows[detection.id].lazy().select(shape.columns), full)
        else:
            continue
        summary = store.summary(detection.id, rows, shape.groups, shape.when, shape.day)
        if summary.height or covered is None:
            summaries[detection.id] = summary
    store.add(summaries, to_version)


def history_rows(
    catalog: Catalog,
    detection: Detection,
    source: SourceRows,
    span: tuple[datetime, datetime],
    condition: str | None,
) -> pl.DataFrame:
    """The history a ``history:`` rule uses, from its summary: of the rows in [start, end) it
    keeps (and ``condition`` keeps), the first and the last of each combination of its history
    columns, with only those columns, the time and the columns its conditions test (the others
    are empty)."""
    shape = _history_shape(detection, source)
    start, end = span
    summary = HistoryStore(catalog).read(
        detection.id,
        start.astimezone(UTC).strftime("%Y-%m-%d"),
        end.astimezone(UTC).strftime("%Y-%m-%d"),
        {c: source.schema[c] for c in shape.columns},
    )
    kept = _keep(summary.lazy().filter(_within_spans(source, [span], closed=False)), condition)
    return ends(kept, shape.groups, shape.when, shape.columns).select(shape.columns)


def _condition_names(condition: str | None) -> set[str]:
    """Lower-case names of the columns (and struct members) a SQL condition mentions."""
    if not condition:
        return set()
    tree = sqlglot.parse_one(condition, read="athena")
    return {p.name.lower() for column in tree.find_all(exp.Column) for p in column.parts}


def _merge(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _times(frame: pl.DataFrame, source: SourceRows) -> pl.Series:
    return frame.select(time_expr(source.schema, source.time_column).alias("t"))["t"]


# ---------------------------------------------------------------------------------------------
# ad-hoc runs over history (`detect run --since`, backtests, the pack over the whole lake)


def hunt(
    catalog: Catalog,
    detections: Sequence[Detection],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    shared: bool = True,
    on_rule: Callable[[Detection, int], None] | None = None,
) -> pl.DataFrame:
    """Hits of the rules over the events of [since, until) (all history by default).

    With ``shared`` the rules of one source are run over one read of that source (the rows any
    of them can use); without it each rule reads the table on its own (what the benchmark
    compares with).
    """
    frames = []
    for group in _by_source(catalog, detections):
        if shared:
            source = source_rows(catalog, group)
            rows = read_range(source, _span(since, until, group))
            usable = rule_rows(group, rows)
            for d in group:
                hits = evaluate(d, usable[d.id], catalog=catalog, source=source.key)
                frames.append(_within(hits, since, until))
                if on_rule:
                    on_rule(d, hits.height)
        else:
            for d in group:
                source = source_rows(catalog, [d])
                rows = read_range(source, _span(since, until, [d]))
                hits = evaluate(d, rows, catalog=catalog, source=source.key)
                frames.append(_within(hits, since, until))
                if on_rule:
                    on_rule(d, hits.height)
    return _concat(frames)


def _span(
    since: datetime | None, until: datetime | None, group: Sequence[Detection]
) -> list[tuple[datetime, datetime]] | None:
    if since is None and until is None:
        return None
    context = timedelta(seconds=max((d.window + d.lookback for d in group), default=0))
    lo = (since or _NEVER) - context
    hi = (until or datetime(9999, 1, 1, tzinfo=UTC)) + context
    return [(lo, hi)]


def _within(hits: pl.DataFrame, since: datetime | None, until: datetime | None) -> pl.DataFrame:
    if since is not None:
        hits = hits.filter(pl.col("event_time") >= since)
    if until is not None:
        hits = hits.filter(pl.col("event_time") < until)
    return hits


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    schema = _hits_schema()
    frames = [f.cast(schema) for f in frames if f.height]
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)


def _by_source(catalog: Catalog, detections: Sequence[Detection]) -> list[list[Detection]]:
    """Rules grouped by source table (the actors table brought up to date when one reads it)."""
    if any(d.source.rpartition(".")[2] == ACTORS_TABLE for d in detections):
        update_actors(catalog)
    groups: dict[tuple[str, str], list[Detection]] = defaultdict(list)
    for d in detections:
        groups[split_table(d.source, catalog)].append(d)
    return list(groups.values())


def backtest(
    catalog: Catalog, detection: Detection, *, since: datetime, until: datetime | None = None
) -> dict[str, Any]:
    """How often and when a rule would have fired over history, before it is enabled."""
    hits = hunt(catalog, [detection], since=since, until=until)
    groups = (
        hits.group_by("dedup")
        .agg(
            pl.col("event_time").min().alias("first"),
            pl.col("event_time").max().alias("last"),
            pl.len().alias("events"),
        )
        .sort("first")
    )
    per_day = (
        groups.group_by(pl.col("first").dt.date().alias("day"))
        .agg(pl.len().alias("alerts"))
        .sort("day")
    )
    return {
        "detection": detection.id,
        "since": since.isoformat(),
        "until": (until or datetime.now(UTC)).isoformat(),
        "events": hits.height,
        "alerts": groups.height,
        "per_day": per_day,
        "alerts_detail": groups,
        "hits": hits,
    }


# ---------------------------------------------------------------------------------------------
# incremental runs with checkpoints, the hits table and notifications


@dataclass
class DetectionRun:
    """What one incremental run did for one detection."""

    detection_id: str
    from_version: int
    to_version: int
    watermark: datetime | None = None
    events: int = 0  # new rows of the source read
    hits: int = 0  # new hits recorded
    alerts: int = 0  # new dedup groups notified
    late: int = 0


@dataclass
class RunReport:
    runs: list[DetectionRun] = field(default_factory=list)
    hits: pl.DataFrame | None = None  # the new hits of this run
    busy: list[str] = field(default_factory=list)
    notified: int = 0
    failed_actions: list[str] = field(default_factory=list)


class HitStore:
    """The `_detections.hits` table and each detection's checkpoint and watermark in it."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    @functools.cached_property
    def table(self) -> ManagedTable:
        """The table, created on first use."""
        return self.catalog.own_table(
            HITS_DATABASE,
            HITS_TABLE,
            HITS_SCHEMA,
            comment="Detection hits: one row per detection and matching event",
        )

    def checkpoint(self, detection_id: str) -> tuple[int, datetime | None]:
        table = self.table
        version = table.app_version(app_id(detection_id))
        mark = table.app_version(watermark_id(detection_id))
        return (
            -1 if version is None else int(version),
            None if mark is None else datetime.fromtimestamp(int(mark), UTC),
        )

    def frame(self) -> pl.LazyFrame:
        table = self.table
        return pl.scan_delta(table.table)  # the open table: no second load of its log

    def recorded(self, detection_ids: Sequence[str]) -> pl.DataFrame:
        """(detection_id, event_id, dedup) of the hits already recorded for these rules."""
        if self.table.version() <= 0:
            return pl.DataFrame(
                schema={"detection_id": pl.String, "event_id": pl.String, "dedup": pl.String}
            )
        return (
            self.frame()
            .filter(pl.col("detection_id").is_in(list(detection_ids)))
            .select("detection_id", "event_id", "dedup")
            .collect()
        )

    def write(self, hits: pl.DataFrame, transactions: Mapping[str, int]) -> int:
        """Append hits and move checkpoints in one commit; each run adds a small file, so the
        table is compacted once it holds many."""
        data = hits.to_arrow().select(HITS_SCHEMA.names).cast(HITS_SCHEMA)
        version = self.table.append(data, transactions=transactions)
        compact_if_many(self.table)
        return version


def run_detections(
    catalog: Catalog,
    detections: Sequence[Detection],
    *,
    final: bool = False,
    targets: Sequence[str] = (),
    now: datetime | None = None,
    deliver: Callable[[str, Mapping[str, Any]], None] | None = None,
) -> RunReport:
    """Bring every detection up to date with the commits of its source table since its
    checkpoint; record the new hits and notify ``targets`` (alarm action targets: webhooks,
    ``file:`` and ``exec:``) once per new dedup group.

    ``final`` treats the data as complete (no more late events): windowed rules report every
    hit instead of waiting for the watermark (for a lake that is loaded once, and for tests).
    """
    when = now or datetime.now(UTC)
    run_id = uuid.uuid4().hex
    store = HitStore(catalog)
    state = MonitorState(catalog)
    outbox = Outbox(catalog)
    outbox.deliver_pending(deliver)  # notifications a crashed run decided but did not send
    report = RunReport()
    new_frames: list[pl.DataFrame] = []
    for group in _by_source(catalog, detections):
        database, name = split_table(group[0].source, catalog)
        if not catalog.table_exists(database, name):
            continue
        lease = f"detections:{database}.{name}"
        token = state.acquire(lease)
        if token is None:
            report.busy.append(f"{database}.{name}")
            continue
        try:
            by_checkpoint: dict[tuple[int, datetime | None], list[Detection]] = defaultdict(list)
            for d in group:
                by_checkpoint[store.checkpoint(d.id)].append(d)
            for (version, mark), rules in sorted(
                by_checkpoint.items(), key=lambda item: item[0][0]
            ):
                runs, hits = _run_group(catalog, store, rules, version, mark, final, run_id, when)
                report.runs.extend(runs)
                if hits.height:
                    new_frames.append(hits)
                    outbox.add(_notifications(hits, rules, targets, when))
                    fresh = hits.filter(pl.col("__new_group"))
                    for run in runs:
                        run.alerts = fresh.filter(pl.col("detection_id") == run.detection_id)[
                            "dedup"
                        ].n_unique()
                store.write(hits, _transactions(runs))
        finally:
            state.release(lease, token)
    report.hits = _concat(new_frames)
    delivered, failed = outbox.deliver_pending(deliver)
    report.notified = delivered
    report.failed_actions = failed
    return report


def _transactions(runs: Sequence[DetectionRun]) -> dict[str, int]:
    out = {}
    for run in runs:
        out[app_id(run.detection_id)] = run.to_version
        if run.watermark is not None:
            out[watermark_id(run.detection_id)] = int(run.watermark.timestamp())
    return out


def _run_group(
    catalog: Catalog,
    store: HitStore,
    rules: list[Detection],
    version: int,
    mark: datetime | None,
    final: bool,
    run_id: str,
    when: datetime,
) -> tuple[list[DetectionRun], pl.DataFrame]:
    source = source_rows(catalog, rules)
    files, to_version = pinned_files(source.table, version)
    runs = [DetectionRun(d.id, version, to_version, mark) for d in rules]
    if to_version <= version or not files:
        for run in runs:
            run.to_version = max(to_version, version)
        return runs, _concat([])
    # every new row gives its time (for the watermark); the rules see the rows they can use
    new_rows = (
        scan_files(source.table, files, source.columns)
        .with_columns(time_expr(source.schema, source.time_column).alias("__t"))
        .collect()
    )
    bounds = time_bounds(new_rows["__t"])
    newest = bounds[1] if bounds else None
    # the cheap prefilters only, all in one query: each rule's query applies its own full WHERE
    # to the rows its cheap prefilter keeps, so testing every rule's JSON look-ups and patterns
    # over the new rows first would only do that work twice
    usable = rule_rows(rules, new_rows)
    recorded: pl.DataFrame | None = None  # read once a rule has hits (most hours none has)
    histories = [d for d in rules if d.history]
    if histories:
        update_histories(
            catalog,
            histories,
            source,
            {d.id: usable[d.id].drop("__t") for d in histories},
            (version, to_version),
        )
    frames = []
    for d, run in zip(rules, runs, strict=True):
        run.events = new_rows.height
        lateness = timedelta(seconds=d.lateness)
        new_mark = mark
        if newest is not None:
            candidate_mark = newest - lateness
            new_mark = candidate_mark if mark is None else max(mark, candidate_mark)
        run.watermark = new_mark
        hits = _rule_hits(catalog, d, source, usable[d.id], mark, new_mark, final)
        if hits.height:
            if recorded is None:
                recorded = store.recorded([d.id for d in rules])
            done = recorded.filter(pl.col("detection_id") == d.id)
            hits = hits.join(done.select("event_id"), on="event_id", how="anti")
            late = pl.lit(False) if mark is None else pl.col("event_time") < mark
            hits = hits.with_columns(
                late.alias("late"),
                pl.lit(when).dt.cast_time_unit("us").alias("detected_at"),
                pl.lit(run_id).alias("run_id"),
            )
            hits = hits.with_columns(
                pl.col("dedup").is_in(done["dedup"].implode()).not_().alias("__new_group")
            )
        run.hits = hits.height
        run.late = int(hits["late"].sum()) if hits.height else 0
        frames.append(hits)
    return runs, _concat_with_flag(frames)


@functools.cache
def _hits_schema() -> pl.Schema:
    return pl.Schema(pl.DataFrame(pa.Table.from_pylist([], schema=HITS_SCHEMA)).schema)


def _concat_with_flag(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    if not frames:
        return _concat([]).with_columns(pl.lit(False).alias("__new_group"))
    return pl.concat([f.cast(frames[0].schema) for f in frames])


def _rule_hits(
    catalog: Catalog,
    d: Detection,
    source: SourceRows,
    candidates: pl.DataFrame,
    mark: datetime | None,
    new_mark: datetime | None,
    final: bool,
) -> pl.DataFrame:
    """New hits of one rule given the new rows it can use (with their times in ``__t``)."""
    rows = candidates.drop("__t")
    times = candidates["__t"]
    if d.window == 0 and d.lookback == 0:
        return _evaluate_rows(d, rows, catalog, source)
    if d.window == 0:
        # history rules: each new event against the history of its entity before it
        bounds = time_bounds(times)
        if bounds is None:
            return _concat([])
        first, last = bounds
        condition = _entity_condition(d, rows)
        prefilter = _and(d.prefilter(), condition)
        cheap = _and(d.prefilter(cheap=True), condition)
        start = first - timedelta(seconds=d.lookback)
        columns = rule_columns(source, d)
        if d.history:
            # the history before the new rows as first and last events; the new span in full
            history = history_rows(catalog, d, source, (start, first), condition)
            recent = read_range(
                source, [(first, last)], prefilter=prefilter, cheap=cheap, columns=columns
            )
            context = pl.concat([recent, history], how="diagonal_relaxed")
        else:
            context = read_range(
                source, [(start, last)], prefilter=prefilter, cheap=cheap, columns=columns
            )
        hits = _evaluate_rows(d, context, catalog, source)
        if not hits.height:
            return hits
        return hits.filter(pl.col("event_id").is_in(_event_ids(d, rows, catalog, source).implode()))
    window = timedelta(seconds=d.window + d.lookback)
    spans: list[tuple[datetime, datetime]] = []
    bounds = time_bounds(times)
    if mark is None:
        if bounds is not None:
            spans.append((bounds[0] - 2 * window, new_mark or bounds[0]))
    else:
        spans.append((mark - 2 * window, new_mark or mark))
        # events that arrived after the watermark had passed them reopen their windows
        for t in times.filter(times <= mark - window).unique().to_list():
            spans.append((t - 2 * window, t + window))
    if final and bounds is not None:
        spans.append((bounds[0] - 2 * window, bounds[1] + window))
    context = read_range(
        source,
        spans,
        prefilter=d.prefilter(),
        cheap=d.prefilter(cheap=True),
        columns=rule_columns(source, d),
    )
    if (
        not final
        and mark is not None
        and new_mark is not None
        and _nothing_due(context, source, times, mark, new_mark, d.window)
    ):
        return _concat([])
    hits = _evaluate_rows(d, context, catalog, source)
    if final or new_mark is None:
        return hits
    return hits.filter(pl.col("event_time") <= new_mark - timedelta(seconds=d.window))


def _nothing_due(
    context: pl.DataFrame,
    source: SourceRows,
    arrived: pl.Series,
    mark: datetime,
    new_mark: datetime,
    window: int,
) -> bool:
    """Whether a windowed rule can have no new hit in this run, so its query need not run.

    A run reports the events whose window the watermark has just closed: those between the old
    and the new watermark, less the window. An earlier event was decided by an earlier run, and
    only a row that arrived since, inside the watermark, can change that (a row beyond it only
    touches windows still open). Most hours, a rule of rare events has neither.
    """
    if arrived.filter(arrived <= new_mark).len():
        return False
    width = timedelta(seconds=window)
    stamps = _times(context, source)
    return not stamps.filter((stamps > mark - width) & (stamps <= new_mark - width)).len()


def _evaluate_rows(
    d: Detection, rows: pl.DataFrame, catalog: Catalog, source: SourceRows
) -> pl.DataFrame:
    """The rule's hits over rows of its source; none, and no query compiled, when it reads only
    that source and no row is left for it (most rules, most hours)."""
    if not rows.height and d.tables() == [source.name.lower()]:
        return _concat([])
    return evaluate(d, rows, catalog=catalog, source=source.key)


def _event_ids(d: Detection, rows: pl.DataFrame, catalog: Catalog, source: SourceRows) -> pl.Series:
    """The event ids of some rows, as the rule names them (its output column ``eventid``)."""
    if "eventid" in rows.columns:  # a plain column (the actors table): no query to compile
        return rows["eventid"].cast(pl.String)
    engine = rule_engine(catalog, {source.key: rows})
    ids = engine.execute(
        f'SELECT eventid FROM "{source.database}"."{source.name}"', limits=INTERNAL_LIMITS
    ).df
    assert ids is not None
    return ids["eventid"].cast(pl.String)


def _entity_condition(d: Detection, rows: pl.DataFrame) -> str | None:
    """``entity IN (...)`` for the entities of the new rows (None: no entity declared)."""
    if not d.entity:
        return None
    if d.entity in rows.columns:  # a plain column: no query to compile
        values = rows.select(pl.col(d.entity).alias("v")).unique()
    else:
        engine = Engine(tables={"t": rows}, record_history=False)
        distinct = engine.execute(
            f"SELECT DISTINCT ({d.entity}) AS v FROM t", limits=INTERNAL_LIMITS
        ).df
        assert distinct is not None
        values = distinct
    found = [v for v in values["v"].cast(pl.String).to_list() if v is not None]
    if not found:
        return "FALSE"
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(found))
    return f"({d.entity}) IN ({listed})"


def _and(*conditions: str | None) -> str | None:
    present = [f"({c})" for c in conditions if c]
    return " AND ".join(present) if present else None


# ---------------------------------------------------------------------------------------------
# notifications


def _notifications(
    hits: pl.DataFrame, rules: Sequence[Detection], targets: Sequence[str], when: datetime
) -> list[dict[str, Any]]:
    """One outbox entry per target for every dedup group that this run saw first."""
    if not targets:
        return []
    by_id = {d.id: d for d in rules}
    fresh = hits.filter(pl.col("__new_group")) if "__new_group" in hits.columns else hits
    groups = (
        fresh.group_by("detection_id", "dedup", maintain_order=True)
        .agg(
            pl.col("event_id"),
            pl.col("event_time").min().alias("first"),
            pl.col("event_time").max().alias("last"),
            pl.col("account").drop_nulls().first(),
            pl.col("principal").drop_nulls().first(),
            pl.col("source_ip").drop_nulls().first(),
        )
        .to_dicts()
    )
    entries = []
    for g in groups:
        d = by_id[g["detection_id"]]
        message = {
            "DetectionId": d.id,
            "Title": d.title,
            "Severity": d.severity,
            "Mitre": d.mitre,
            "Tags": d.tags,
            "Author": d.author or None,
            "Dedup": g["dedup"],
            "EventIds": g["event_id"],
            "FirstEventTime": g["first"].isoformat(),
            "LastEventTime": g["last"].isoformat(),
            "Account": g["account"],
            "Principal": g["principal"],
            "SourceIp": g["source_ip"],
            "DetectedAt": when.isoformat(),
        }
        for target in targets:
            mid = str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"loglake:detection/{d.id}/{g['dedup']}/{target}")
            )
            body = {
                "Type": "Notification",
                "MessageId": mid,
                "TopicArn": target,
                "Subject": f"{d.severity.upper()}: {d.title}"[:100],
                "Message": orjson.dumps(message).decode(),
                "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{when.microsecond // 1000:03d}Z",
            }
            entries.append({"id": mid, "target": target, "body": body, "detection": d.id})
    return entries


class Outbox:
    """Notifications decided by a run and not yet delivered, in a compare-and-swap document
    under ``_state/detections/``.

    Entries are written before the hits are committed and removed once delivered, so a crash at
    any point leads to a delivery on the next run (at least once, always with the same
    MessageId, which receivers and file targets use to drop repeats).
    """

    PATH = "outbox"

    def __init__(self, catalog: Catalog):
        self.documents = detection_documents(catalog)

    def entries(self) -> list[dict[str, Any]]:
        found = self.documents.read(self.PATH)
        return list(found.body.get("outbox", [])) if found else []

    def add(self, entries: Sequence[dict[str, Any]]) -> None:
        if entries:
            self._change(
                lambda current: (
                    current + [e for e in entries if e["id"] not in {c["id"] for c in current}]
                )
            )

    def _change(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        for _ in range(20):
            found = self.documents.read(self.PATH)
            current, version = (
                (list(found.body.get("outbox", [])), found.version) if found else ([], 0)
            )
            try:
                self.documents.write(self.PATH, {"outbox": change(current)}, version)
                return
            except ConflictError:
                continue
        raise ConflictError("the detections outbox keeps changing; try again")

    def deliver_pending(
        self, deliver: Callable[[str, Mapping[str, Any]], None] | None = None
    ) -> tuple[int, list[str]]:
        """Send every pending notification; a target that fails for good is reported and
        dropped, one that may recover is kept for the next run."""
        send = deliver or actions.deliver
        delivered = 0
        failed: list[str] = []
        for entry in self.entries():
            try:
                send(entry["target"], entry["body"])
            except actions.DeliveryError as error:
                failed.append(f"{entry['target']}: {error}")
                if not error.permanent:
                    continue
            else:
                delivered += 1
            self._change(functools.partial(_without_entry, entry["id"]))
        return delivered, failed


def _without_entry(entry_id: str, outbox: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in outbox if e["id"] != entry_id]


def detection_documents(catalog: Catalog) -> DocumentStore:
    """The compare-and-swap documents of detections (outbox, settings) in the lake."""
    return DocumentStore(catalog.settings, catalog.settings.url("_state", "detections"))


def read_hits(catalog: Catalog) -> pl.DataFrame:
    """Every recorded hit, newest first."""
    store = HitStore(catalog)
    if store.table.version() <= 0:
        return _concat([])
    return store.frame().sort("event_time", descending=True).collect()
