"""Timelines: everything the lake knows about one principal, key, address or resource, in order.

One frame merges, by time, the CloudTrail events of the entity (for a principal or key also those
made through the role sessions it started; found through the actors table, brought up to date
first), the flows to and from the addresses it used (or, for
a resource, the addresses of the instances attached to it), the Config changes of the resources
its calls touched, the CloudWatch Logs lines that mention it and the CloudTrail Insights events
about the calls it made. Each row has a ``source`` and a one-line ``summary``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from loglake.catalog import Catalog
from loglake.errors import UserError
from loglake.investigate.actors import DATABASE as ACTORS_DATABASE
from loglake.investigate.actors import TABLE as ACTORS_TABLE
from loglake.investigate.actors import update_actors
from loglake.investigate.identity import ESCAPE, Identities
from loglake.investigate.identity import like as _like
from loglake.monitor.runner import split_table
from loglake.query.engine import Engine

#: one timeline row
COLUMNS = pl.Schema(
    {
        "time": pl.Datetime("us", "UTC"),
        "source": pl.String(),
        "summary": pl.String(),
        "event_id": pl.String(),
        "account": pl.String(),
        "region": pl.String(),
        "actor": pl.String(),
        "ip": pl.String(),
        "detail": pl.String(),
    }
)
#: flows this long before the entity's first and after its last call from an address are kept
FLOW_MARGIN = timedelta(hours=1)
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:]+:[0-9A-Fa-f:]*$")
_RESOURCE_ID = re.compile(
    r"\b((?:sg|i|vol|vpc|subnet|eni|snap|ami|igw|rtb|acl|nat|vpce|fl)-[0-9a-f]{8,17})\b"
)
_NAMES = {
    "userName": "AWS::IAM::User",
    "roleName": "AWS::IAM::Role",
    "bucketName": "AWS::S3::Bucket",
}
#: request parameters that name a resource only within one service (the trail calls' ``name``)
_SERVICE_NAMES = {("cloudtrail.amazonaws.com", "name"): "AWS::CloudTrail::Trail"}
#: an ARN quoted in request parameters (Config items carry the ARN of the resource they record)
_ARN = re.compile(r'"(arn:aws[a-z-]*:[^"\s\\]+)"')
PROTOCOLS = {6: "tcp", 17: "udp", 1: "icmp"}


def is_ip(text: str | None) -> bool:
    return bool(text) and bool(_IPV4.match(text) or _IPV6.match(text))  # type: ignore[arg-type]


@dataclass
class Entity:
    """What a timeline is about."""

    kind: str  # principal | access_key | ip | resource
    value: str

    def __post_init__(self) -> None:
        if self.kind not in ("principal", "access_key", "ip", "resource"):
            raise UserError(f"Unknown entity kind {self.kind!r}")
        if not self.value or not self.value.strip():
            raise UserError(f"The {self.kind.replace('_', ' ')} to investigate is empty")
        if self.kind == "ip" and not is_ip(self.value):
            raise UserError(f"{self.value!r} is not an IP address")


@dataclass
class Timeline:
    """The merged rows and what they were built from."""

    entity: Entity
    frame: pl.DataFrame
    keys: list[str] = field(default_factory=list)  # session keys followed
    addresses: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None


class Timelines:
    """Builds timelines over one lake (its four source tables, whichever exist)."""

    def __init__(self, catalog: Catalog, identities: Identities | None = None):
        self.catalog = catalog
        self.engine = Engine(catalog, record_history=False)
        self.tables = {
            name: self._table(name)
            for name in ("cloudtrail", "vpc_flow_logs", "config_items", "cloudwatch_logs")
        }
        self.tables["cloudtrail_insights"] = self._table("cloudtrail_insights")
        if self.tables["cloudtrail"] is not None:
            update_actors(catalog)
            self.tables["actors"] = f'"{ACTORS_DATABASE}"."{ACTORS_TABLE}"'
        self.identities = identities or Identities(self.engine)

    def _table(self, name: str) -> str | None:
        database, table = split_table(name, self.catalog)
        return f'"{database}"."{table}"' if self.catalog.table_exists(database, table) else None

    def _sql(self, sql: str, params: list[Any]) -> pl.DataFrame:
        df = self.engine.execute(sql, params).df
        assert df is not None
        return df

    # ------------------------------------------------------------------ the entry point
    def build(
        self,
        entity: Entity,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        sessions: bool = True,
        flow_margin: timedelta = FLOW_MARGIN,
    ) -> Timeline:
        if self.tables["cloudtrail"] is None and self.tables["vpc_flow_logs"] is None:
            raise UserError("The lake has no cloudtrail or vpc_flow_logs table yet")
        keys: list[str] = []
        if sessions and self.tables["cloudtrail"] is not None:
            if entity.kind == "principal":
                keys = self.identities.keys_started_by(principal=entity.value)
            elif entity.kind == "access_key":
                keys = self.identities.keys_started_by(key=entity.value)
        events = self._cloudtrail(entity, keys, start, end)
        timeline = Timeline(entity, pl.DataFrame(schema=COLUMNS), keys, start=start, end=end)
        parts = [events.select(list(COLUMNS))] if events.height else []
        uses = self._address_uses(entity, events, start, end)
        timeline.addresses = sorted(uses)
        accounts = (
            None
            if entity.kind == "ip"
            else sorted({a for a in events["account"].to_list() if a}) or None
        )
        if uses and self.tables["vpc_flow_logs"] is not None:
            parts.append(self._flows(uses, accounts, flow_margin, start, end))
        resources, names = self._touched(entity, events)
        timeline.resources = sorted(resources | {n for n, _ in names})
        if (resources or names) and self.tables["config_items"] is not None:
            parts.append(self._config(resources, names, events, start, end))
        mentions = [entity.value, *keys] if entity.kind != "resource" else [entity.value]
        if self.tables["cloudwatch_logs"] is not None:
            span = _span(events, start, end, flow_margin)
            if span is not None:
                parts.append(self._logs(mentions, span))
        if self.tables["cloudtrail_insights"] is not None and events.height:
            parts.append(self._insights(events))
        frames = [p.select(list(COLUMNS)).cast(COLUMNS) for p in parts if p.height]
        if frames:
            merged = pl.concat(frames)
            timeline.frame = merged.sort(["time", "source", "event_id"], nulls_last=True)
        return timeline

    # ------------------------------------------------------------------ CloudTrail
    def _cloudtrail(
        self, entity: Entity, keys: list[str], start: datetime | None, end: datetime | None
    ) -> pl.DataFrame:
        table = self.tables.get("actors")
        if table is None:
            return pl.DataFrame(schema={**COLUMNS, "eventname": pl.String()})
        params: list[Any] = []
        if entity.kind == "principal":
            condition = "(arn = ? OR issuer_arn = ?"
            params += [entity.value, entity.value]
        elif entity.kind == "access_key":
            condition = f"(accesskeyid = ? OR responseelements LIKE ? {ESCAPE}"
            params += [entity.value, f"%{_like(entity.value)}%"]
        elif entity.kind == "ip":
            condition = "(sourceipaddress = ?"
            params.append(entity.value)
        else:
            pattern = f"%{_like(entity.value)}%"
            condition = (
                f"(requestparameters LIKE ? {ESCAPE} OR responseelements LIKE ? {ESCAPE} "
                f"OR resource_arns LIKE ? {ESCAPE}"
            )
            params += [pattern, pattern, pattern]
        if keys:
            condition += f" OR accesskeyid IN ({', '.join('?' for _ in keys)})"
            params += keys
        condition += ")"
        condition, params = _time_filter(condition, params, "eventtime", start, end, iso=True)
        sql = f"""
        SELECT from_iso8601_timestamp(eventtime) AS time, 'cloudtrail' AS source, eventid AS event_id,
               recipientaccountid AS account, awsregion AS region,
               coalesce(arn, invokedby, username) AS actor,
               sourceipaddress AS ip, eventname, eventsource, errorcode, useragent,
               accesskeyid AS access_key, requestparameters, resource_arns
        FROM {table} WHERE {condition}
        """
        df = self._sql(sql, params)
        summary = pl.concat_str(
            [
                pl.col("eventname"),
                pl.lit(" by "),
                pl.col("actor").fill_null("?").str.split("/").list.last(),
                pl.lit(" from "),
                pl.col("ip").fill_null("?"),
                pl.when(pl.col("errorcode").is_not_null())
                .then(pl.lit(" [") + pl.col("errorcode") + pl.lit("]"))
                .otherwise(pl.lit("")),
                _target_text(),
            ]
        )
        detail = pl.struct(
            "eventsource", "useragent", "access_key", "requestparameters"
        ).struct.json_encode()
        return df.with_columns(summary.alias("summary"), detail.alias("detail"))

    # ------------------------------------------------------------------ addresses and flows
    def _address_uses(
        self,
        entity: Entity,
        events: pl.DataFrame,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, tuple[datetime | None, datetime | None]]:
        """Each address of the entity with the first and last time it was used."""
        uses: dict[str, tuple[datetime | None, datetime | None]] = {}
        if entity.kind == "ip":
            uses[entity.value] = time_bounds(events["time"]) or (start, end)
        elif events.height:
            per_ip = (
                events.filter(pl.col("ip").is_not_null())
                .group_by("ip")
                .agg(pl.col("time").min().alias("first"), pl.col("time").max().alias("last"))
            )
            for ip, first, last in per_ip.iter_rows():
                if is_ip(ip):
                    uses[ip] = (first, last)
        if entity.kind == "resource" and self.tables["config_items"] is not None:
            for ip in self._resource_addresses(entity.value):
                uses.setdefault(ip, (start, end))
        return uses

    def _resource_addresses(self, resource: str) -> list[str]:
        """Private and public addresses of the instances that are, or are attached to, a resource."""
        sql = f"""
        SELECT DISTINCT json_extract_scalar(configuration, '$.privateIpAddress') AS private_ip,
               json_extract_scalar(configuration, '$.publicIpAddress') AS public_ip
        FROM {self.tables["config_items"]}
        WHERE resourcetype = 'AWS::EC2::Instance'
          AND (resourceid = ? OR configuration LIKE ? {ESCAPE})
        """
        df = self._sql(sql, [resource, f'%"{_like(resource)}"%'])
        return sorted({ip for row in df.iter_rows() for ip in row if is_ip(ip)})

    def _flows(
        self,
        uses: dict[str, tuple[datetime | None, datetime | None]],
        accounts: list[str] | None,
        margin: timedelta,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.DataFrame:
        clauses: list[str] = []
        params: list[str | int] = []
        for ip, (first, last) in sorted(uses.items()):
            clause = "(srcaddr = ? OR dstaddr = ?)"
            params += [ip, ip]
            lo = max(filter(None, [first - margin if first else None, start]), default=None)
            hi = min(filter(None, [last + margin if last else None, end]), default=None)
            if lo is not None:
                clause += " AND start >= ?"
                params.append(int(lo.timestamp()))
            if hi is not None:
                clause += ' AND "end" <= ?'
                params.append(int(hi.timestamp()))
            clauses.append(f"({clause})")
        condition = " OR ".join(clauses)
        if accounts:
            condition = f"({condition}) AND account IN ({', '.join('?' for _ in accounts)})"
            params += accounts
        days = _days(uses, margin, start, end)
        if days:
            condition += f" AND day IN ({', '.join('?' for _ in days)})"
            params += days
        sql = f"""
        SELECT from_unixtime(start) AS time, 'vpc_flow_logs' AS source,
               concat(interface_id, ':', CAST(start AS varchar), ':', srcaddr, ':',
                      CAST(coalesce(srcport, 0) AS varchar), ':', dstaddr, ':',
                      CAST(coalesce(dstport, 0) AS varchar)) AS event_id,
               account, region, CAST(NULL AS varchar) AS actor, srcaddr AS ip,
               srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, action,
               interface_id, log_status, "end"
        FROM {self.tables["vpc_flow_logs"]}
        WHERE log_status = 'OK' AND {condition}
        """
        df = self._sql(sql, params)
        proto = pl.col("protocol").replace_strict(
            PROTOCOLS, default=pl.col("protocol").cast(pl.String), return_dtype=pl.String
        )
        summary = pl.concat_str(
            [
                pl.col("action"),
                pl.lit(" "),
                proto,
                pl.lit(" "),
                pl.col("srcaddr"),
                pl.lit(":"),
                pl.col("srcport").cast(pl.String),
                pl.lit(" -> "),
                pl.col("dstaddr"),
                pl.lit(":"),
                pl.col("dstport").cast(pl.String),
                pl.lit(", "),
                pl.col("bytes").cast(pl.String),
                pl.lit(" bytes on "),
                pl.col("interface_id"),
            ],
            ignore_nulls=True,
        )
        detail = pl.struct("packets", "bytes", "end", "interface_id").struct.json_encode()
        return df.with_columns(
            pl.col("time").dt.replace_time_zone(None).dt.replace_time_zone("UTC"),
            summary.alias("summary"),
            detail.alias("detail"),
        )

    # ------------------------------------------------------------------ Config
    def _touched(
        self, entity: Entity, events: pl.DataFrame
    ) -> tuple[set[str], set[tuple[str, str]]]:
        """Resource ids and (name, type) pairs the entity's calls named."""
        ids: set[str] = set()
        names: set[tuple[str, str]] = set()
        if entity.kind == "resource":
            # an ARN, its last segment (an id or a name) and the value itself name the resource
            ids.add(entity.value)
            if entity.value.startswith("arn:"):
                ids.add(entity.value.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
        if not events.height:
            return ids, names
        writes = events.filter(
            ~pl.col("eventname").str.contains(r"^(Describe|List|Get|Head|Lookup)")
        )
        for source, text, arns in writes.select(
            "eventsource", "requestparameters", "resource_arns"
        ).iter_rows():
            if arns:  # the event's resources element lists ARNs, space-separated
                ids.update(arns.split())
            if not text:
                continue
            ids.update(_RESOURCE_ID.findall(text))
            ids.update(_ARN.findall(text))
            named = {**_NAMES, **{k: t for (s, k), t in _SERVICE_NAMES.items() if s == source}}
            for key, rtype in named.items():
                for value in re.findall(rf'"{key}"\s*:\s*"([^"]+)"', text):
                    if not value.startswith("arn:"):  # ARNs were taken above
                        names.add((value, rtype))
        return ids, names

    def _config(
        self,
        ids: set[str],
        names: set[tuple[str, str]],
        events: pl.DataFrame,
        start: datetime | None,
        end: datetime | None,
    ) -> pl.DataFrame:
        clauses, params = [], []
        if ids:
            marks = ", ".join("?" for _ in ids)
            clauses.append(
                f"(resourceid IN ({marks}) OR arn IN ({marks}) OR resourcename IN ({marks}))"
            )
            params += sorted(ids) * 3
        for name, rtype in sorted(names):
            clauses.append("(resourcename = ? AND resourcetype = ?)")
            params += [name, rtype]
        condition = f"({' OR '.join(clauses)}) AND filetype = 'ConfigHistory'"
        condition += " AND configurationitemstatus <> 'ResourceDiscovered'"
        span = _span(events, start, end, timedelta(hours=6))
        if span is not None:
            condition += (
                " AND configurationitemcapturetime >= ? AND configurationitemcapturetime <= ?"
            )
            params += [_iso(span[0]), _iso(span[1])]
        sql = f"""
        SELECT from_iso8601_timestamp(configurationitemcapturetime) AS time,
               'config_items' AS source, CAST(configurationstateid AS varchar) AS event_id,
               awsaccountid AS account, awsregion AS region, CAST(NULL AS varchar) AS actor,
               CAST(NULL AS varchar) AS ip, resourcetype, resourceid, resourcename,
               configurationitemstatus, relatedevents
        FROM {self.tables["config_items"]} WHERE {condition}
        """
        df = self._sql(sql, params)
        summary = pl.concat_str(
            [
                pl.lit("Config: "),
                pl.col("resourcetype"),
                pl.lit(" "),
                pl.coalesce("resourcename", "resourceid"),
                pl.lit(" "),
                pl.col("configurationitemstatus"),
                pl.when(pl.col("relatedevents").list.len() > 0)
                .then(pl.lit(" (caused by event ") + pl.col("relatedevents").list.join(", ") + ")")
                .otherwise(pl.lit("")),
            ]
        )
        detail = pl.struct("resourcetype", "resourceid", "resourcename").struct.json_encode()
        return df.with_columns(summary.alias("summary"), detail.alias("detail"))

    # ------------------------------------------------------------------ logs and insights
    def _logs(self, mentions: list[str], span: tuple[datetime, datetime]) -> pl.DataFrame:
        wanted = [m for m in dict.fromkeys(mentions) if m and len(m) >= 4]
        if not wanted:
            return pl.DataFrame(schema=COLUMNS)
        condition = " OR ".join(f"message LIKE ? {ESCAPE}" for _ in wanted)
        params: list[Any] = [f"%{_like(m)}%" for m in wanted]
        params += [int(span[0].timestamp() * 1000), int(span[1].timestamp() * 1000)]
        sql = f"""
        SELECT from_unixtime(timestamp / 1000.0) AS time, 'cloudwatch_logs' AS source,
               eventid AS event_id, owner AS account, region, CAST(NULL AS varchar) AS actor,
               CAST(NULL AS varchar) AS ip, loggroup, logstream, message
        FROM {self.tables["cloudwatch_logs"]}
        WHERE ({condition}) AND timestamp >= ? AND timestamp <= ?
        """
        df = self._sql(sql, params)
        return df.with_columns(
            pl.col("time").dt.replace_time_zone(None).dt.replace_time_zone("UTC"),
            (pl.col("loggroup") + pl.lit(": ") + pl.col("message").str.slice(0, 160)).alias(
                "summary"
            ),
            pl.struct("loggroup", "logstream").struct.json_encode().alias("detail"),
        )

    def _insights(self, events: pl.DataFrame) -> pl.DataFrame:
        bounds = time_bounds(events["time"])
        names = sorted(set(events["eventname"].drop_nulls().to_list()))
        accounts = sorted(set(events["account"].drop_nulls().to_list()))
        if not names or bounds is None or not accounts:
            return pl.DataFrame(schema=COLUMNS)
        lo, hi = bounds
        sql = f"""
        SELECT from_iso8601_timestamp(eventtime) AS time, 'cloudtrail_insights' AS source,
               eventid AS event_id, recipientaccountid AS account, awsregion AS region,
               CAST(NULL AS varchar) AS actor, CAST(NULL AS varchar) AS ip,
               json_extract_scalar(insightdetails, '$.state') AS state,
               json_extract_scalar(insightdetails, '$.eventName') AS insight_event,
               json_extract_scalar(insightdetails, '$.insightType') AS insight_type
        FROM {self.tables["cloudtrail_insights"]}
        WHERE recipientaccountid IN ({", ".join("?" for _ in accounts)})
          AND eventtime >= ? AND eventtime <= ?
        """
        params: list[Any] = [
            *accounts,
            _iso(lo - timedelta(hours=1)),
            _iso(hi + timedelta(hours=1)),
        ]
        df = self._sql(sql, params).filter(pl.col("insight_event").is_in(names))
        return df.with_columns(
            pl.concat_str(
                [
                    pl.lit("Insight "),
                    pl.col("state"),
                    pl.lit(": unusual "),
                    pl.col("insight_event"),
                    pl.lit(" ("),
                    pl.col("insight_type"),
                    pl.lit(")"),
                ]
            ).alias("summary"),
            pl.lit(None, dtype=pl.String).alias("detail"),
        )


# ---------------------------------------------------------------------------------------------
# helpers


def time_bounds(times: pl.Series) -> tuple[datetime, datetime] | None:
    """The first and last value of a Datetime series as datetimes (None: it holds no time).

    Polars types ``Series.min()`` as any Python value; this is the one place that narrows it.
    """
    lo, hi = times.min(), times.max()
    if lo is None or hi is None:
        return None
    if not isinstance(lo, datetime) or not isinstance(hi, datetime):
        raise TypeError(f"column {times.name!r} holds {times.dtype}, not times")
    return lo, hi


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time_filter(
    condition: str,
    params: list[Any],
    column: str,
    start: datetime | None,
    end: datetime | None,
    *,
    iso: bool,
) -> tuple[str, list[Any]]:
    if start is not None:
        condition += f" AND {column} >= ?"
        params.append(_iso(start) if iso else int(start.timestamp()))
        condition += " AND day >= ?"
        params.append(start.astimezone(UTC).strftime("%Y-%m-%d"))
    if end is not None:
        condition += f" AND {column} < ?"
        params.append(_iso(end) if iso else int(end.timestamp()))
        condition += " AND day <= ?"
        params.append(end.astimezone(UTC).strftime("%Y-%m-%d"))
    return condition, params


def _span(
    events: pl.DataFrame, start: datetime | None, end: datetime | None, margin: timedelta
) -> tuple[datetime, datetime] | None:
    bounds = time_bounds(events["time"])
    if bounds is not None:
        lo, hi = bounds[0] - margin, bounds[1] + margin
        return (max(lo, start) if start else lo, min(hi, end) if end else hi)
    if start and end:
        return start, end
    return None


def _days(
    uses: dict[str, tuple[datetime | None, datetime | None]],
    margin: timedelta,
    start: datetime | None,
    end: datetime | None,
) -> list[str]:
    """The day partitions the flows of these uses can be in (empty: no bound)."""
    days: set[str] = set()
    for first, last in uses.values():
        lo = first - margin if first else start
        hi = last + margin if last else end
        if lo is None or hi is None:
            return []
        day = lo.date()
        while day <= hi.date():
            days.add(day.isoformat())
            day += timedelta(days=1)
    return sorted(days)


def _target_text() -> pl.Expr:
    """What a call was about, from its request: ` -> name` for the usual parameters."""
    params = pl.col("requestparameters")
    found = pl.coalesce(
        *(
            params.str.extract(rf'"{key}"\s*:\s*"([^"]+)"')
            for key in (
                "userName",
                "roleName",
                "groupId",
                "bucketName",
                "keyId",
                "policyArn",
                "name",
                "instanceId",
                "roleArn",
            )
        )
    )
    return pl.when(found.is_not_null()).then(pl.lit(" -> ") + found).otherwise(pl.lit(""))
