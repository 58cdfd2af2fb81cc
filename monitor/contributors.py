"""Contributor Insights rules: the top contributors of each period over a table.

A rule is CloudWatch's JSON rule body (PutInsightRule's `RuleDefinition`): `Contribution` with up
to four `Keys`, an optional `ValueOf` and up to four `Filters`, `AggregateOn` `Count` or `Sum`,
`LogGroupNames` (a trailing `*` takes a prefix) and `LogFormat` `JSON` or `CLF` (with `Fields`
naming the space-separated positions). Keys and filters read fields the way Logs Insights does
(`query/insights.py`): JSON paths in CloudWatch Logs messages, and, where a rule runs over
`vpc_flow_logs` or `cloudtrail` (loglake's `table`), the columns of those tables (`$.srcaddr`,
`$.userIdentity.arn`).

Each period is one grouped query; the results are kept in two tables of `_monitor`:
`contributors` (the top `max_contributors` of each period, ranked) and `metrics` (the rule's
`UniqueContributors`, `MaxContributorValue`, `SampleCount`, `Sum`, `Minimum`, `Maximum`,
`Average` per period, namespace `loglake/ContributorInsights`, dimension `RuleName`), where an
alarm reads them with metric math `INSIGHT_RULE_METRIC(rule, metric)` or as a plain metric. A
period written again (a re-run, late data) replaces what was there, in one commit per table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa

from loglake.catalog import Catalog
from loglake.catalog.managed import ManagedTable
from loglake.errors import SqlError, UserError
from loglake.monitor.metrics import (
    DATABASE,
    METRICS_SCHEMA,
    MetricsStore,
    compact_if_many,
    dimensions_key,
)
from loglake.monitor.runner import scan_files
from loglake.monitor.state import MonitorState
from loglake.query.engine import Engine
from loglake.query.insights import (
    Value,
    open_shape,
    resolve_field,
    scan_conditions,
)

KIND = "rules"
TABLE = "contributors"
NAMESPACE = "loglake/ContributorInsights"
#: the metrics INSIGHT_RULE_METRIC offers, and the statistic that combines periods of each
RULE_METRICS = {
    "UniqueContributors": "Maximum",
    "MaxContributorValue": "Maximum",
    "SampleCount": "Sum",
    "Sum": "Sum",
    "Minimum": "Minimum",
    "Maximum": "Maximum",
    "Average": "Average",
}
OPERATORS = (
    "In", "NotIn", "StartsWith", "GreaterThan", "LessThan", "EqualTo", "NotEqualTo", "IsPresent",
)  # fmt: skip
CONTRIBUTORS_SCHEMA = pa.schema(
    [
        pa.field("rule_name", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("period", pa.int32()),
        pa.field("rank", pa.int32()),
        pa.field("keys", pa.list_(pa.string())),
        pa.field("value", pa.float64()),
        pa.field("events", pa.int64()),
    ]
)


def validate_definition(name: str, definition: str | Mapping[str, Any]) -> dict[str, Any]:
    """A rule body as CloudWatch checks it (errors name the rule and the field)."""
    where = f"Contributor Insights rule {name!r}"
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as error:
            raise UserError(f"{where}: the definition is not JSON ({error})") from None
    if not isinstance(definition, Mapping):
        raise UserError(f"{where}: the definition must be a JSON object")
    d = dict(definition)
    if d.get("Schema") != {"Name": "CloudWatchLogRule", "Version": 1}:
        raise UserError(f'{where}: Schema must be {{"Name": "CloudWatchLogRule", "Version": 1}}')
    if d.get("LogFormat", "JSON") not in ("JSON", "CLF"):
        raise UserError(f"{where}: LogFormat must be JSON or CLF")
    groups = d.get("LogGroupNames", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise UserError(f"{where}: LogGroupNames must be a list of names")
    contribution = d.get("Contribution")
    if not isinstance(contribution, Mapping):
        raise UserError(f"{where}: Contribution is required")
    keys = contribution.get("Keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= 4:
        raise UserError(f"{where}: Contribution.Keys must list 1 to 4 fields")
    aggregate = d.get("AggregateOn")
    if aggregate not in ("Count", "Sum"):
        raise UserError(f"{where}: AggregateOn must be Count or Sum")
    if aggregate == "Sum" and not contribution.get("ValueOf"):
        raise UserError(f"{where}: AggregateOn Sum needs Contribution.ValueOf")
    filters = contribution.get("Filters", [])
    if not isinstance(filters, list) or len(filters) > 4:
        raise UserError(f"{where}: Contribution.Filters holds at most 4 filters")
    for k, item in enumerate(filters):
        ops = [op for op in OPERATORS if isinstance(item, Mapping) and op in item]
        if not isinstance(item, Mapping) or "Match" not in item or len(ops) != 1:
            raise UserError(
                f"{where}: filter {k + 1} needs Match and one of {', '.join(OPERATORS)}"
            )
        value = item[ops[0]]
        if ops[0] in ("In", "NotIn", "StartsWith") and not isinstance(value, list):
            raise UserError(f"{where}: filter {k + 1}: {ops[0]} takes a list")
    if d.get("LogFormat") == "CLF":
        fields = d.get("Fields")
        if not isinstance(fields, Mapping) or not all(str(p).isdigit() for p in fields):
            raise UserError(f"{where}: LogFormat CLF needs Fields (position -> name)")
    return d


def put_insight_rule(
    catalog: Catalog,
    name: str,
    definition: str | Mapping[str, Any],
    *,
    state: str = "ENABLED",
    table: str | None = None,
    period: int = 60,
    max_contributors: int = 10,
) -> dict[str, Any]:
    """Create or replace a rule (PutInsightRule); ``table`` defaults to ``cloudwatch_logs``."""
    if not name or not isinstance(name, str):
        raise UserError("a Contributor Insights rule needs a name")
    if state not in ("ENABLED", "DISABLED"):
        raise UserError(f"rule {name!r}: RuleState must be ENABLED or DISABLED")
    if not isinstance(period, int) or period < 60 or period % 60:
        raise UserError(f"rule {name!r}: the period is a multiple of 60 seconds")
    if not isinstance(max_contributors, int) or not 1 <= max_contributors <= 100:
        raise UserError(f"rule {name!r}: max_contributors is 1 to 100")
    d = validate_definition(name, definition)
    target = table or "cloudwatch_logs"
    engine = Engine(catalog, record_history=False, default_database="aws")
    _compile(engine, name, d, target)  # every key and filter must resolve now, not at run time
    state_store = MonitorState(catalog)
    old = state_store.get(KIND, name)
    body = {
        "Name": name,
        "State": state,
        "Schema": "CloudWatchLogRule/1",
        "Definition": json.dumps(d, sort_keys=True),
        "Table": target,
        "Period": period,
        "MaxContributors": max_contributors,
        "Checkpoint": old[0].get("Checkpoint") if old else None,
    }
    state_store.put(KIND, name, body)
    return body


def describe_insight_rules(catalog: Catalog) -> list[dict[str, Any]]:
    """Rules in the shape of `aws cloudwatch describe-insight-rules` (plus loglake's fields)."""
    return sorted(MonitorState(catalog).list(KIND), key=lambda b: b["Name"])


def import_insight_rules(
    catalog: Catalog, document: Mapping[str, Any], **options: Any
) -> list[str]:
    """Rules from `describe-insight-rules` output (`{"InsightRules": [...]}`) or one rule."""
    items = document.get("InsightRules", [document])
    names = []
    for item in items:
        name = item.get("Name") or item.get("RuleName")
        definition = item.get("Definition") or item.get("RuleDefinition")
        if not name or definition is None:
            raise UserError("an imported rule needs Name and Definition")
        state = item.get("State") or item.get("RuleState") or "ENABLED"
        put_insight_rule(catalog, name, definition, state=state, **options)
        names.append(name)
    return names


def delete_insight_rule(catalog: Catalog, name: str) -> None:
    state = MonitorState(catalog)
    state.require(KIND, name)
    state.delete(KIND, name)


# ---------------------------------------------------------------------------------------------
# evaluation


def _compile(engine: Engine, name: str, d: Mapping[str, Any], table: str) -> tuple[Any, ...]:
    """(shape, key SQL, value SQL, filter SQL) of a rule over its table."""
    shape = open_shape(engine, table)
    clf = (
        {str(p): f for p, f in (d.get("Fields") or {}).items()}
        if d.get("LogFormat") == "CLF"
        else {}
    )
    positions = {f: int(p) for p, f in clf.items()}
    where = f"rule {name!r}"

    def field(path: Any) -> Value:
        if not isinstance(path, str) or not path:
            raise UserError(f"{where}: a key or field must be a name, got {path!r}")
        if clf:
            if path not in positions:
                raise UserError(f"{where}: {path!r} is not one of the CLF Fields")
            if shape.message is not None:  # the position in the message's words
                return Value(f"split_part({_quoted(shape.message)}, ' ', {positions[path]})", True)
        bare = path[2:] if path.startswith("$.") else path
        try:
            return resolve_field(shape, bare)
        except UserError as error:
            raise UserError(f"{where}: {path!r}: {error}") from None

    def text(v: Value) -> str:
        return v.sql if v.json else f"CAST({v.sql} AS VARCHAR)"

    def number(v: Value) -> str:
        return f"TRY_CAST({v.sql} AS DOUBLE)"

    contribution = d["Contribution"]
    keys = [text(field(k)) for k in contribution["Keys"]]
    value = number(field(contribution["ValueOf"])) if d["AggregateOn"] == "Sum" else None
    conditions = []
    for item in contribution.get("Filters", []):
        target = field(item["Match"])
        op = next(o for o in OPERATORS if o in item)
        arg = item[op]
        if op in ("In", "NotIn"):
            listed = ", ".join(_literal(str(v)) for v in arg) or "NULL"
            sql = f"{text(target)} IN ({listed})"
            conditions.append(sql if op == "In" else f"NOT ({sql})")
        elif op == "StartsWith":
            starts = [f"starts_with({text(target)}, {_literal(str(v))})" for v in arg]
            conditions.append("(" + (" OR ".join(starts) or "FALSE") + ")")
        elif op in ("GreaterThan", "LessThan"):
            sign = ">" if op == "GreaterThan" else "<"
            conditions.append(f"{number(target)} {sign} {float(arg)!r}")
        elif op in ("EqualTo", "NotEqualTo"):
            sign = "=" if op == "EqualTo" else "<>"
            if isinstance(arg, (int, float)) and not isinstance(arg, bool):
                conditions.append(f"{number(target)} {sign} {float(arg)!r}")
            else:
                conditions.append(f"{text(target)} {sign} {_literal(str(arg))}")
        else:  # IsPresent
            present = f"{target.sql} IS NOT NULL"
            conditions.append(present if arg else f"NOT ({present})")
    return shape, keys, value, conditions


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def evaluate_rule(
    catalog: Catalog, name: str, start: datetime, end: datetime, *, engine: Engine | None = None
) -> pl.DataFrame:
    """Evaluate every period of [start, end) and store them; returns the ranked top contributors.

    Periods are aligned to the epoch (a 60 s rule: whole minutes); a period evaluated again
    replaces what was stored for it.
    """
    body, _ = MonitorState(catalog).require(KIND, name)
    period = int(body["Period"])
    start, end = _align(start, period), _align(end, period)
    if end <= start:
        return pl.DataFrame(schema=pl.Schema(CONTRIBUTORS_SCHEMA))
    d = json.loads(body["Definition"])
    engine = engine or Engine(catalog, record_history=False, default_database="aws")
    shape, keys, value, conditions = _compile(engine, name, d, body["Table"])
    where = scan_conditions(shape, d.get("LogGroupNames", []), start, end)
    where += conditions + [f"{k} IS NOT NULL" for k in keys]
    bucket = f"from_unixtime(floor(to_unixtime({shape.timestamp}) / {period}.0) * {period}.0)"
    key_list = ", ".join(f"{k} AS _k{i}" for i, k in enumerate(keys))
    aggregate = "count(*)" if value is None else f"sum({value})"
    sql = (
        f"SELECT {bucket} AS _t, {key_list}, {aggregate} AS _v, count(*) AS _n "
        f"FROM {shape.name} WHERE " + " AND ".join(f"({w})" for w in where)
        + " GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 2))
    )  # fmt: skip
    try:
        grouped = engine.execute(sql).frame()
    except SqlError as error:
        raise UserError(f"rule {name!r}: {error.bare_message}") from None
    key_columns = [f"_k{i}" for i in range(len(keys))]
    grouped = grouped.with_columns(
        pl.col("_t").dt.convert_time_zone("UTC").dt.cast_time_unit("us"),
        pl.col("_v").cast(pl.Float64).fill_null(0.0),
    )
    ranked = grouped.with_columns(
        pl.struct(pl.col("_v").neg(), *key_columns)
        .rank("ordinal")
        .over("_t")
        .cast(pl.Int32)
        .alias("rank")
    )
    top = (
        ranked.filter(pl.col("rank") <= int(body["MaxContributors"]))
        .select(
            pl.lit(name).alias("rule_name"),
            pl.col("_t").alias("timestamp"),
            pl.lit(period, pl.Int32).alias("period"),
            "rank",
            pl.concat_list(key_columns).alias("keys"),
            pl.col("_v").alias("value"),
            pl.col("_n").cast(pl.Int64).alias("events"),
        )
        .sort("timestamp", "rank")
    )
    metrics = _rule_metrics(name, grouped, period)
    _replace(_contributors_table(catalog), name, start, end, top.to_arrow(), "rule_name")
    _replace(MetricsStore(catalog).table, f"insight-rule:{name}", start, end, metrics, "source")
    return top


def _rule_metrics(name: str, grouped: pl.DataFrame, period: int) -> pa.Table:
    per = grouped.group_by("_t").agg(
        pl.len().cast(pl.Float64).alias("UniqueContributors"),
        pl.col("_v").max().alias("MaxContributorValue"),
        pl.col("_n").sum().cast(pl.Float64).alias("SampleCount"),
        pl.col("_v").sum().alias("Sum"),
        pl.col("_v").min().alias("Minimum"),
        pl.col("_v").max().alias("Maximum"),
        pl.col("_v").mean().alias("Average"),
    )
    long = per.unpivot(index="_t", variable_name="metric_name", value_name="value")
    frame = long.select(
        pl.lit(NAMESPACE).alias("namespace"),
        "metric_name",
        pl.lit(dimensions_key({"RuleName": name})).alias("dimensions"),
        pl.lit("None").alias("unit"),
        pl.lit(period, pl.Int32).alias("storage_resolution"),
        pl.col("_t").alias("timestamp"),
        "value",
        pl.lit(1.0).alias("sample_count"),
        pl.col("value").alias("sum"),
        pl.col("value").alias("minimum"),
        pl.col("value").alias("maximum"),
        pl.lit(f"insight-rule:{name}").alias("source"),
    ).sort("timestamp", "metric_name")
    return frame.to_arrow().cast(METRICS_SCHEMA)


def _replace(
    table: ManagedTable, key: str, start: datetime, end: datetime, data: pa.Table, column: str
) -> None:
    """Replace the rows of one rule and time range with `data`, in one commit."""
    predicate = (
        f"{column} = {_literal(key)} AND timestamp >= '{start.strftime('%Y-%m-%dT%H:%M:%SZ')}' "
        f"AND timestamp < '{end.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    )
    table.replace_where(predicate, data.cast(pa.schema(table.schema())))
    compact_if_many(table)


def _contributors_table(catalog: Catalog) -> ManagedTable:
    return catalog.own_table(
        DATABASE,
        TABLE,
        CONTRIBUTORS_SCHEMA,
        comment="Contributor Insights rules: the top contributors of each period",
    )


def _align(moment: datetime, period: int) -> datetime:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = int(moment.timestamp()) // period * period
    return datetime.fromtimestamp(seconds, UTC)


def run_insight_rules(
    catalog: Catalog, now: datetime | None = None, *, lookback: timedelta = timedelta(hours=1)
) -> dict[str, int]:
    """Evaluate each enabled rule's complete periods since its checkpoint (a new rule: the last
    `lookback`); returns the number of top-contributor rows written per rule."""
    now = now or datetime.now(UTC)
    state = MonitorState(catalog)
    done: dict[str, int] = {}
    rules = [b for b in describe_insight_rules(catalog) if b.get("State") == "ENABLED"]
    engine = Engine(catalog, record_history=False, default_database="aws") if rules else None
    for body in rules:
        period = int(body["Period"])
        end = _align(now, period)
        checkpoint = body.get("Checkpoint")
        start = datetime.fromisoformat(checkpoint) if checkpoint else end - lookback
        if end <= start:
            continue
        top = evaluate_rule(catalog, body["Name"], start, end, engine=engine)
        done[body["Name"]] = top.height

        def advance(b: dict[str, Any], end: datetime = end) -> dict[str, Any] | None:
            if b.get("Checkpoint") and datetime.fromisoformat(b["Checkpoint"]) >= end:
                return None
            b["Checkpoint"] = end.isoformat()
            return b

        state.update(KIND, body["Name"], advance)
    return done


def insight_rule_report(
    catalog: Catalog, name: str, start: datetime, end: datetime, *, max_contributors: int = 10
) -> pl.DataFrame:
    """GetInsightRuleReport: the contributors with the largest aggregate over [start, end), from
    the stored top contributors of each period (an approximation, as CloudWatch's)."""
    MonitorState(catalog).require(KIND, name)
    table = _contributors_table(catalog)
    frame = scan_files(table, table.files(), [f.name for f in CONTRIBUTORS_SCHEMA])
    lo, hi = _align(start, 60), end if end.tzinfo else end.replace(tzinfo=UTC)
    return (
        frame.filter(
            (pl.col("rule_name") == name) & (pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi)
        )
        .group_by("keys")
        .agg(
            pl.col("value").sum().alias("approximate_aggregate_value"),
            pl.col("timestamp").min().alias("first_seen"),
            pl.col("timestamp").max().alias("last_seen"),
            pl.len().alias("periods"),
        )
        .sort(["approximate_aggregate_value", "keys"], descending=[True, False])
        .head(max_contributors)
        .collect()
    )
