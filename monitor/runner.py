"""Metric filters as incremental queries over managed tables.

Each filter's checkpoint is the version of its source table it has read up to. A run reads only
the files committed after that version (`ManagedTable.files_added_since`, which skips compaction
commits), evaluates every filter that reads the same table and checkpoint in one pass, and appends
the datapoints to `_monitor.metrics` in one Delta commit that also records each filter's new
checkpoint as a Delta application transaction. The data and the checkpoint move together, so a
run killed at any point is simply repeated: nothing is counted twice or lost.

Late data. Matches are counted in their own minute whenever they are committed. The default value
of an idle minute is decided once, when the filter's event-time watermark (the newest event time
it has seen minus its ``lateness`` in seconds, 0 unless the definition says otherwise) reaches
the minute: the minute's rows are then read from the table, and the default is written if none
of them matches. The watermark is recorded next to the checkpoint in the same commit. With a
lateness a minute longer than the delivery delay, shuffled deliveries give the same datapoints as
one run over all the data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp

from loglake.catalog import Catalog, DataFile, ManagedTable
from loglake.catalog.catalog import DEFAULT_DATABASE
from loglake.errors import CatalogError, UserError
from loglake.monitor.compile import (
    MessageSource,
    Source,
    TableSource,
    compile_pattern,
    only_columns,
    prefilter,
)
from loglake.monitor.filters import transformation_exprs, validate_metric_filter
from loglake.monitor.metrics import METRICS_SCHEMA, MetricsStore
from loglake.monitor.pattern import parse_pattern
from loglake.monitor.state import MonitorState
from loglake.query.engine import Engine

#: columns tried, in order, for an event's time when a filter does not name one
TIME_COLUMNS = ("eventtime", "timestamp", "start", "configurationitemcapturetime")
CLOUDWATCH_LOGS_TABLE = "cloudwatch_logs"


def app_id(filter_name: str) -> str:
    return f"metric-filter:{filter_name}"


def watermark_id(filter_name: str) -> str:
    """The application id under which a filter's event-time watermark (epoch seconds) is kept."""
    return f"metric-filter:{filter_name}:watermark"


#: where a bare table name is looked for: the default database, then the one ingest writes to
SEARCH_DATABASES = (DEFAULT_DATABASE, "aws")


def split_table(ref: str, catalog: Catalog | None = None) -> tuple[str, str]:
    """`db.table`, or a bare name found in the default database or `aws` (ingest's database).

    A bare name that exists nowhere yet (a filter installed before the first ingest) is taken
    to be in `aws`.
    """
    database, _, name = ref.rpartition(".")
    if database:
        return database.lower(), name.lower()
    if catalog is None:
        return DEFAULT_DATABASE, name.lower()
    for candidate in SEARCH_DATABASES:
        if catalog.table_exists(candidate, name):
            return candidate, name.lower()
    return SEARCH_DATABASES[-1], name.lower()


# ---------------------------------------------------------------------------------------------
# definitions


def resolve_table(catalog: Catalog, definition: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(database, table, SQL condition) a filter reads.

    A filter names a `table` (loglake's extension); a plain `logGroupName` reads the CloudWatch
    Logs table restricted to that group.
    """
    if definition.get("table"):
        database, name = split_table(definition["table"], catalog)
        return database, name, definition.get("condition")
    group = definition["logGroupName"]
    database, name = split_table(CLOUDWATCH_LOGS_TABLE, catalog)
    if catalog.table_exists(database, name):
        condition = "loggroup = '" + group.replace("'", "''") + "'"
        if definition.get("condition"):
            condition = f"({definition['condition']}) AND {condition}"
        return database, name, condition
    raise UserError(
        f"Metric filter {definition.get('filterName')!r}: log group {group!r} has no table; "
        "give the filter a table (e.g. --table cloudtrail)"
    )


def put_metric_filter(
    catalog: Catalog, definition: Mapping[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Create or replace a metric filter; it counts events committed from now on.

    Replacing a filter keeps its checkpoint (CloudWatch never re-reads old events either).
    """
    d = validate_metric_filter(definition)
    database, name, condition = resolve_table(catalog, d)
    d["table"] = f"{database}.{name}"
    if condition:
        d["condition"] = condition
    state = MonitorState(catalog)
    existing = state.get("filters", d["filterName"])
    try:
        table = catalog.managed(database, name)
        version = table.version()
    except CatalogError:
        table, version = None, -1  # the table does not exist yet: all it will hold is new
    if table is not None:
        schema = pl.Schema(table.schema())
        check_condition(resolve_table(catalog, d)[2], schema)
        needed_columns([d], schema)  # compiles the pattern against the table's columns
    d["creationTime"] = (
        existing[0]["creationTime"]
        if existing
        else int((now or datetime.now(UTC)).timestamp() * 1000)
    )
    d["createdVersion"] = existing[0]["createdVersion"] if existing else version
    state.put("filters", d["filterName"], d)
    return d


def list_metric_filters(catalog: Catalog, prefix: str | None = None) -> list[dict[str, Any]]:
    out = MonitorState(catalog).list("filters")
    return [f for f in out if not prefix or f["filterName"].startswith(prefix)]


def delete_metric_filter(catalog: Catalog, name: str) -> None:
    MonitorState(catalog).delete("filters", name)


# ---------------------------------------------------------------------------------------------
# reading a table's files


def scan_files(
    table: ManagedTable, files: Sequence[DataFile], columns: Sequence[str]
) -> pl.LazyFrame:
    """The rows of some data files (with their partition columns), reading only `columns`."""
    schema = pl.Schema(table.schema())
    partition_cols = set(table.partition_columns())
    wanted = [c for c in columns if c in schema]
    data_cols = [c for c in wanted if c not in partition_cols]
    options = table.settings.polars_storage_options()
    by_partition: dict[tuple, list[str]] = defaultdict(list)
    for f in files:
        by_partition[tuple(sorted(f.partition.items()))].append(f.path)
    frames = []
    for partition, paths in by_partition.items():
        lf = pl.scan_parquet(
            paths,
            storage_options=options,
            schema={c: schema[c] for c in schema if c not in partition_cols},
            missing_columns="insert",
            extra_columns="ignore",
        ).select(data_cols)
        values = dict(partition)
        lf = lf.with_columns(
            pl.lit(values.get(c), dtype=schema[c]).alias(c) for c in wanted if c in partition_cols
        )
        frames.append(lf.select(wanted))
    if not frames:
        return pl.LazyFrame(schema={c: schema[c] for c in wanted})
    return pl.concat(frames, how="vertical_relaxed")


def time_expr(schema: Mapping[str, pl.DataType], column: str | None = None) -> pl.Expr:
    """An event's time as a UTC datetime, from the table's time column."""
    candidates = [column] if column else list(TIME_COLUMNS)
    for name in candidates:
        if name is None or name not in schema:
            continue
        dtype = schema[name]
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            utc = (
                col.dt.replace_time_zone("UTC")
                if dtype.time_zone is None
                else col.dt.convert_time_zone("UTC")
            )
            return utc.dt.cast_time_unit("us")
        if isinstance(dtype, pl.String):
            return (
                col.str.slice(0, 19)
                .str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
                .dt.replace_time_zone("UTC")
            )
        if dtype.is_integer():
            seconds = pl.when(col > 100_000_000_000).then(col // 1000).otherwise(col)
            return (
                pl.from_epoch(seconds, time_unit="s")
                .dt.cast_time_unit("us")
                .dt.replace_time_zone("UTC")
            )
    if column:
        raise UserError(f"Time column {column!r} is not in the table")
    return pl.lit(datetime.now(UTC)).dt.cast_time_unit("us")


def minute_key(
    schema: Mapping[str, pl.DataType], column: str | None = None
) -> tuple[pl.Expr, bool]:
    """A per-minute grouping key; for ISO text times the text itself (parsed once per minute)."""
    candidates = [column] if column else list(TIME_COLUMNS)
    for name in candidates:
        if name in schema and isinstance(schema[name], pl.String):
            return pl.col(name).str.slice(0, 16), True
    return time_expr(schema, column).dt.truncate("1m"), False


def _minutes_to_time(frame: pl.DataFrame, textual: bool) -> pl.DataFrame:
    if not textual:
        return frame
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    parsed = (
        pl.col("__minute")
        .str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us")
        .dt.replace_time_zone("UTC")
        .fill_null(pl.lit(now).dt.cast_time_unit("us"))
    )
    return frame.with_columns(parsed.alias("__minute"))


def source_for(schema: Mapping[str, pl.DataType]) -> Source:
    """Raw text in a `message` column is matched as text; otherwise the columns are the fields."""
    if "message" in schema and isinstance(schema["message"], pl.String):
        return MessageSource("message")
    return TableSource(dict(schema))


def condition_columns(condition: str | None) -> set[str]:
    """Lower-case names of the columns a SQL condition reads."""
    if not condition:
        return set()
    try:
        tree = sqlglot.parse_one(condition, read="athena")
    except sqlglot.errors.ParseError as error:
        raise UserError(f"Invalid condition {condition!r}: {error}") from None
    return {c.name.lower() for c in tree.find_all(exp.Column)}


def with_condition(lf: pl.LazyFrame, condition: str, alias: str) -> pl.LazyFrame:
    """Add a boolean column: the filter's SQL condition, compiled by the query engine."""
    engine = Engine(tables={"t": lf}, record_history=False)
    return engine.execute(f'SELECT *, ({condition}) AS "{alias}" FROM t', lazy=True).lazy_frame()


def check_condition(condition: str | None, schema: Mapping[str, pl.DataType]) -> None:
    """Compile a condition against a table's columns so a mistake is reported at `put` time."""
    if condition:
        with_condition(pl.LazyFrame(schema=dict(schema)), condition, "__c").collect_schema()


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass
class FilterRun:
    """What one run did for one filter."""

    filter_name: str
    from_version: int
    to_version: int
    files: int = 0
    events: int = 0
    matches: int = 0
    datapoints: int = 0


@dataclass
class RunReport:
    runs: list[FilterRun] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # tables another process was running

    @property
    def matches(self) -> dict[str, int]:
        return {r.filter_name: r.matches for r in self.runs}


def _compiled(
    definition: Mapping[str, Any],
    schema: Mapping[str, pl.DataType],
    source: Source | None = None,
):
    pattern = parse_pattern(definition["filterPattern"])
    source = source or source_for(schema)
    match = compile_pattern(pattern, source)
    t = definition["metricTransformations"][0]
    value, dims = transformation_exprs(t, pattern, source)
    return match, value, dims


def evaluate_filters(
    lf: pl.LazyFrame,
    schema: Mapping[str, pl.DataType],
    definitions: Sequence[Mapping[str, Any]],
    time_column: str | None = None,
    emit: str = "all",
) -> tuple[pl.DataFrame, dict[str, tuple[int, int]]]:
    """Datapoint rows for several filters over the same rows, computed in one pass.

    ``emit`` chooses the rows: ``all``, ``matches`` only, or the ``defaults`` of idle minutes only.
    Returns the rows (metrics-table schema) and per filter (events, matches).
    """
    key, textual = minute_key(schema, time_column)
    keyed = lf.with_columns(key.alias("__minute"))
    cheap: list[pl.Expr | None] = []
    simple: list[bool] = []
    matches: list[pl.Expr] = []
    outputs: list[list[pl.Expr]] = []
    source = source_for(schema)
    for i, d in enumerate(definitions):
        pattern = parse_pattern(d["filterPattern"])
        match, value, dims = _compiled(d, schema, source)
        pre = prefilter(pattern, source)
        simple.append(only_columns(pattern, source))
        if d.get("condition"):
            keyed = with_condition(keyed, d["condition"], f"__c{i}")
            cond = pl.col(f"__c{i}").fill_null(False)
            match = match & cond
            pre = cond if pre is None else pre & cond
        cheap.append(pre)
        matches.append(match)
        outputs.append(
            [value.alias(f"__v{i}")]
            + [expr.alias(f"__d{i}_{k}") for k, expr in enumerate(dims.values())]
        )
    # One pass over the rows: filters whose whole test is on plain columns and whose value is a
    # constant without dimensions are counted together (one group-by, one sum per filter). The
    # others read only the rows their column tests keep (pushed down to the file reader), and run
    # their full pattern (JSON look-ups into text columns) on those rows alone.
    with_cond = [i for i, d in enumerate(definitions) if d.get("condition")]
    counted = {
        i: test
        for i, (d, test) in enumerate(zip(definitions, cheap, strict=True))
        if test is not None
        and simple[i]
        and not d["metricTransformations"][0].get("dimensions")
        and not d["metricTransformations"][0]["metricValue"].startswith("$")
    }
    others = [i for i in range(len(definitions)) if i not in counted]
    plans = [
        keyed.group_by("__minute").agg(
            pl.len().alias("__events"),
            *(test.fill_null(False).sum().alias(f"__n{i}") for i, test in counted.items()),
        )
    ]
    plans.extend(
        keyed.filter(pl.col(f"__c{i}").fill_null(False)).select(pl.col("__minute").unique())
        for i in with_cond
    )
    plans.extend(
        keyed if (test := cheap[i]) is None else keyed.filter(test.fill_null(False)) for i in others
    )
    per_minute, *rest = pl.collect_all(plans)
    per_minute = _minutes_to_time(per_minute, textual)
    total_events = int(per_minute["__events"].sum() or 0)
    minutes = per_minute.select("__minute")
    conditioned = {
        i: _minutes_to_time(frame, textual)
        for i, frame in zip(with_cond, rest[: len(with_cond)], strict=True)
    }
    candidates = dict(zip(others, rest[len(with_cond) :], strict=True))
    frames = []
    counts: dict[str, tuple[int, int]] = {}
    for i, d in enumerate(definitions):
        t = d["metricTransformations"][0]
        if i in counted:
            hits = per_minute.filter(pl.col(f"__n{i}") > 0)
            counts[d["filterName"]] = (total_events, int(hits[f"__n{i}"].sum() or 0))
            agg = hits.select(
                "__minute",
                pl.lit("{}").alias("dimensions"),
                pl.lit(float(t["metricValue"])).alias("value"),
                pl.col(f"__n{i}").cast(pl.Float64).alias("sample_count"),
            )
        else:
            agg, matched = _aggregate_matches(candidates[i], i, matches[i], outputs[i], t)
            agg = _minutes_to_time(agg, textual)
            counts[d["filterName"]] = (total_events, matched)
        if t.get("defaultValue") is not None and emit != "matches":
            hit = agg.select("__minute").unique()
            seen = conditioned[i] if d.get("condition") else minutes
            idle = seen.join(hit, on="__minute", how="anti").select(
                "__minute",
                pl.lit("{}").alias("dimensions"),
                pl.lit(float(t["defaultValue"])).alias("value"),
                pl.lit(1.0).alias("sample_count"),
            )
            agg = idle if emit == "defaults" else pl.concat([agg.select(idle.columns), idle])
        elif emit == "defaults":
            agg = agg.head(0)
        frames.append(
            agg.select(
                pl.lit(t["metricNamespace"]).alias("namespace"),
                pl.lit(t["metricName"]).alias("metric_name"),
                pl.col("dimensions"),
                pl.lit(t.get("unit") or "None").alias("unit"),
                pl.lit(60, dtype=pl.Int32).alias("storage_resolution"),
                pl.col("__minute").alias("timestamp"),
                pl.col("value"),
                pl.col("sample_count"),
                (pl.col("value") * pl.col("sample_count")).alias("sum"),
                pl.col("value").alias("minimum"),
                pl.col("value").alias("maximum"),
                pl.lit(app_id(d["filterName"])).alias("source"),
            )
        )
    schema_out = pl.Schema(METRICS_SCHEMA)
    if frames:
        rows_out = pl.concat([f.cast(schema_out) for f in frames])
    else:
        rows_out = pl.DataFrame(schema=schema_out)
    return rows_out, counts


def _aggregate_matches(
    subset: pl.DataFrame,
    i: int,
    match: pl.Expr,
    outputs: list[pl.Expr],
    t: Mapping[str, Any],
) -> tuple[pl.DataFrame, int]:
    """Per minute, dimension set and value: how many events of `subset` match filter `i`."""
    rows = (
        subset.lazy()
        .with_columns(match.alias("__m"))
        .filter(pl.col("__m"))
        .select(["__minute", *outputs])
        .collect()
    )
    matched = rows.height
    dim_names = list((t.get("dimensions") or {}).keys())
    dim_cols = [f"__d{i}_{k}" for k in range(len(dim_names))]
    rows = rows.filter(pl.col(f"__v{i}").is_not_null())
    if dim_cols:
        rows = rows.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in dim_cols]))
        order = sorted(range(len(dim_names)), key=lambda k: dim_names[k])
        dims_json = pl.struct(
            [pl.col(dim_cols[k]).alias(dim_names[k]) for k in order]
        ).struct.json_encode()
    else:
        dims_json = pl.lit("{}")
    agg = (
        rows.group_by(["__minute", *dim_cols, f"__v{i}"])
        .agg(pl.len().cast(pl.Float64).alias("sample_count"))
        .select(
            "__minute",
            dims_json.alias("dimensions"),
            pl.col(f"__v{i}").alias("value"),
            "sample_count",
        )
    )
    return agg, matched


def needed_columns(
    definitions: Sequence[Mapping[str, Any]], schema: Mapping[str, pl.DataType]
) -> list[str]:
    """The columns a group of metric filters reads from a table of ``schema``."""
    names: set[str] = set()
    for d in definitions:
        match, value, dims = _compiled(d, schema)
        for e in (match, value, *dims.values()):
            names.update(e.meta.root_names())
        names |= condition_columns(d.get("condition"))
        tc = d.get("timeColumn")
        if tc:
            names.add(tc)
    for c in TIME_COLUMNS:
        if c in schema:
            names.add(c)
            break
    lowered = {c.lower(): c for c in schema}
    return [lowered[n.lower()] for n in names if n.lower() in lowered]


def _checkpoint(metrics: MetricsStore, definition: Mapping[str, Any]) -> int:
    done = metrics.checkpoint(app_id(definition["filterName"]))
    created = int(definition.get("createdVersion", -1))
    return created if done is None else max(done, created)


def run_metric_filters(
    catalog: Catalog, names: Sequence[str] | None = None, *, metrics: MetricsStore | None = None
) -> RunReport:
    """Bring every metric filter (or the named ones) up to date with its table."""
    metrics = metrics or MetricsStore(catalog)
    definitions = MonitorState(catalog).list("filters")
    if names is not None:
        missing = set(names) - {d["filterName"] for d in definitions}
        if missing:
            raise UserError(f"There is no metric filter named {sorted(missing)[0]!r}")
        definitions = [d for d in definitions if d["filterName"] in names]
    report = RunReport()
    by_table: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for d in definitions:
        database, name, _ = resolve_table(catalog, d)
        by_table[(database, name)].append(d)
    state = MonitorState(catalog)
    for (database, name), defs in by_table.items():
        if not catalog.table_exists(database, name):
            continue
        lease = f"metric-filters:{database}.{name}"
        token = state.acquire(lease)
        if token is None:  # another process is running these filters right now
            report.busy.append(f"{database}.{name}")
            continue
        try:
            table = catalog.managed(database, name)
            by_cp: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for d in defs:
                by_cp[_checkpoint(metrics, d)].append(d)
            for cp, group in sorted(by_cp.items()):
                report.runs.extend(_run_group(table, group, cp, metrics))
        finally:
            state.release(lease, token)
    return report


def pinned_files(table: ManagedTable, since: int) -> tuple[list[DataFile], int]:
    """Files added after `since` and the version they are complete up to (retry on a race)."""
    for _ in range(10):
        before = table.version()
        files = table.files_added_since(since)
        if table.version() == before:
            return files, before
    raise CatalogError(f"{table.location} keeps changing; try the run again")


def _run_group(
    table: ManagedTable, group: list[dict[str, Any]], cp: int, metrics: MetricsStore
) -> list[FilterRun]:
    files, version = pinned_files(table, cp)
    runs = [FilterRun(d["filterName"], cp, version, len(files)) for d in group]
    if version <= cp:
        return runs
    schema = pl.Schema(table.schema())
    time_column = group[0].get("timeColumn")
    frames = [pl.DataFrame(schema=pl.Schema(METRICS_SCHEMA))]
    counts: dict[str, tuple[int, int]] = {}
    transactions = {app_id(d["filterName"]): version for d in group}
    if files:
        columns = needed_columns(group, schema)
        lf = scan_files(table, files, columns)
        rows, counts = evaluate_filters(lf, schema, group, time_column, emit="matches")
        frames.append(rows)
        span = (
            lf.select(time_expr(schema, time_column).alias("t"))
            .select(pl.col("t").min().alias("lo"), pl.col("t").max().alias("hi"))
            .collect()
        )
        oldest, newest = span["lo"][0], span["hi"][0]
        closing: dict[tuple[datetime | None, datetime], list[dict[str, Any]]] = defaultdict(list)
        for d in group:
            if newest is None:
                continue
            mark = watermark(metrics, d["filterName"])
            new_mark = newest - timedelta(seconds=int(d.get("lateness") or 0))
            if mark is not None:
                new_mark = max(mark, new_mark)
            transactions[watermark_id(d["filterName"])] = int(new_mark.timestamp())
            if d["metricTransformations"][0].get("defaultValue") is not None:
                closing[(mark, new_mark)].append(d)
        for (mark, new_mark), defs in closing.items():
            frames.append(_idle_minutes(table, schema, defs, mark, new_mark, oldest))
    out = pl.concat(frames)
    metrics.write(out, transactions)
    for run in runs:
        run.events, run.matches = counts.get(run.filter_name, (0, 0))
        run.datapoints = out.filter(pl.col("source") == app_id(run.filter_name)).height
    return runs


def watermark(metrics: MetricsStore, filter_name: str) -> datetime | None:
    """A filter's event-time watermark: events before it are taken to have all arrived."""
    seconds = metrics.checkpoint(watermark_id(filter_name))
    return None if seconds is None else datetime.fromtimestamp(int(seconds), UTC)


def _minute_floor(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _idle_minutes(
    table: ManagedTable,
    schema: pl.Schema,
    definitions: list[dict[str, Any]],
    mark: datetime | None,
    new_mark: datetime,
    oldest_new: datetime,
) -> pl.DataFrame:
    """Default datapoints of the minutes the watermark has just reached, decided over all of
    their rows in the table: a minute with rows but no match. The minute holding the watermark
    is decided too (with no lateness, every minute a run sees is decided by that run)."""
    minute = timedelta(minutes=1)
    lo = _minute_floor(mark) + minute if mark is not None else _minute_floor(oldest_new)
    hi = _minute_floor(new_mark) + minute
    if hi <= lo:
        return pl.DataFrame(schema=pl.Schema(METRICS_SCHEMA))
    time_column = definitions[0].get("timeColumn")
    column = time_column or next(c for c in TIME_COLUMNS if c in schema)
    files = files_in_range(table.files(), column, [(lo, hi)])
    lf = scan_files(table, files, needed_columns(definitions, schema))
    when = time_expr(schema, time_column)
    lf = lf.filter((when >= lo) & (when < hi))
    rows, _ = evaluate_filters(lf, schema, definitions, time_column, emit="defaults")
    return rows


def files_in_range(
    files: Sequence[DataFile], time_column: str, spans: Sequence[tuple[datetime, datetime]]
) -> list[DataFile]:
    """The files that can hold rows whose time falls in one of the spans, judged by their
    ``day`` partition and their time column's min/max statistics."""
    return [f for f in files if _file_overlaps(f, time_column, spans)]


def _file_overlaps(
    f: DataFile, time_column: str, spans: Sequence[tuple[datetime, datetime]]
) -> bool:
    day = f.partition.get("day")
    if day:
        try:
            start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        except ValueError:
            start = None
        if start is not None and not any(
            lo < start + timedelta(days=1) and hi >= start for lo, hi in spans
        ):
            return False
    low = _stat_time(f.min_values.get(time_column))
    high = _stat_time(f.max_values.get(time_column))
    if low is None or high is None:
        return True
    return any(lo <= high + timedelta(seconds=1) and hi >= low for lo, hi in spans)


def _stat_time(value: Any) -> datetime | None:
    """A file statistic of a time column (ISO text, epoch seconds or milliseconds) as a time."""
    if value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 100_000_000_000 else value
        return datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00")[:25])
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def backfill_metric_filter(
    catalog: Catalog,
    name: str,
    start: datetime,
    end: datetime,
    *,
    metrics: MetricsStore | None = None,
) -> FilterRun:
    """Count the events of [start, end) that were committed before the filter existed.

    Reads the table as it was when the filter was created (later events are the incremental
    run's). Running the same backfill twice is a no-op.
    """
    metrics = metrics or MetricsStore(catalog)
    d, _ = MonitorState(catalog).require("filters", name)
    database, table_name, _ = resolve_table(catalog, d)
    table = catalog.managed(database, table_name)
    created = int(d.get("createdVersion", -1))
    key = f"{app_id(name)}:backfill:{start.isoformat()}/{end.isoformat()}"
    run = FilterRun(name, -1, created)
    if created < 0 or metrics.checkpoint(key) is not None:
        return run
    files = table.files(version=created)
    schema = pl.Schema(table.schema())
    columns = needed_columns([d], schema)
    lf = scan_files(table, files, columns)
    when = time_expr(schema, d.get("timeColumn"))
    lf = lf.filter((when >= start) & (when < end))
    rows, counts = evaluate_filters(lf, schema, [d], d.get("timeColumn"))
    metrics.write(rows, {key: 1})
    run.files = len(files)
    run.events, run.matches = counts.get(name, (0, 0))
    run.datapoints = rows.height
    return run
