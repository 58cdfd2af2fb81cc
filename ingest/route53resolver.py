"""Route 53 Resolver query logs as delivered to S3: one JSON object per line, gzipped.

Objects arrive under ``AWSLogs/ACCOUNT/vpcdnsquerylogs/VPC-ID/YYYY/MM/DD/`` named
``ACCOUNT_vpcdnsquerylogs_VPC-ID_YYYYMMDDTHHMMZ_HASH.log.gz``. Rows get the columns of the table
Athena's documentation declares for these logs (struct members lower-cased, as Hive reads them),
``srcport`` as an integer although the logs write it as a string, and the record's ``region`` as
the ``region`` partition (the key does not name a region).

This module is the whole of the source: key layout, table, parser and its record (``SOURCE``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
from polars.datatypes import DataTypeClass

from loglake.ingest.layout import ACCOUNT, DATE, Layout, delivery_day, stamp_hour
from loglake.ingest.raw import (
    BadRecord,
    Parsed,
    RawObject,
    frame_to_table,
    object_bytes,
    read_ndjson_isolating,
    snippet,
    unknown_members,
)
from loglake.ingest.schemas import (
    EXTRA_FIELDS,
    SOURCE_KEY,
    TableSpec,
    pl_to_arrow,
    table_schema,
)
from loglake.ingest.source import Kind, Source

TABLE = "resolver_query_logs"
S = pl.String()
_ANSWER = {"Rdata": S, "Type": S, "Class": S}
_SRCIDS = {"instance": S, "resolver_endpoint": S}
#: the members Athena's table names, as the logs spell them; read as text, typed afterwards
READ_SCHEMA: dict[str, pl.DataType] = {
    "version": S,
    "account_id": S,
    "region": S,
    "vpc_id": S,
    "query_timestamp": S,
    "query_name": S,
    "query_type": S,
    "query_class": S,
    "rcode": S,
    "answers": pl.List(pl.Struct(_ANSWER)),
    "srcaddr": S,
    "srcport": S,
    "transport": S,
    "srcids": pl.Struct(_SRCIDS),
    "firewall_rule_action": S,
    "firewall_rule_group_id": S,
    "firewall_domain_list_id": S,
}
#: a record as the known members read it, to tell the members it does not name
_RECORD_TYPE = pa.struct([pa.field(k, pl_to_arrow(t)) for k, t in READ_SCHEMA.items()])


def _lower(members: Mapping[str, pl.DataType]) -> pa.DataType:
    return pa.struct([pa.field(k.lower(), pl_to_arrow(t)) for k, t in members.items()])


RESOLVER_SCHEMA = table_schema(
    [
        *(pa.field(k, pa.string()) for k in list(READ_SCHEMA)[:9] if k != "region"),
        pa.field("answers", pa.list_(_lower(_ANSWER))),
        pa.field("srcaddr", pa.string()),
        pa.field("srcport", pa.int32()),
        pa.field("transport", pa.string()),
        pa.field("srcids", _lower(_SRCIDS)),
        pa.field("firewall_rule_action", pa.string()),
        pa.field("firewall_rule_group_id", pa.string()),
        pa.field("firewall_domain_list_id", pa.string()),
    ]
)
_TIME = r"^\d{4}-\d{2}-\d{2}T"


def parse(objects: list[RawObject]) -> Parsed:
    """The lines of a batch's objects are read in one native pass; a line that is not a JSON
    object of the declared shape, has no ISO-8601 ``query_timestamp`` or a ``srcport`` that is
    not a number is quarantined alone, with its line number."""
    parsed = Parsed()
    lines: list[bytes] = []
    owner: list[int] = []  # per line: index of its object in ``objects``
    number: list[int] = []  # per line: its line number in the object (from 1)
    for index, obj in enumerate(objects):
        found = _lines(obj, parsed)
        parsed.rows[obj.url] = len(found)
        for line_number, line in found:
            lines.append(line)
            owner.append(index)
            number.append(line_number)
    if not lines:
        return parsed
    frame, bad_lines = read_ndjson_isolating(lines, READ_SCHEMA)
    port = pl.col("srcport").cast(pl.Int32, strict=False)
    problem = (
        pl.when(~pl.col("query_timestamp").str.contains(_TIME).fill_null(False))
        .then(pl.lit("query_timestamp missing or not ISO-8601"))
        .when(port.is_null() & pl.col("srcport").is_not_null())
        .then(pl.lit("srcport is not a number"))
    )
    frame = frame.with_columns(problem.alias("__problem"))
    invalid = frame.filter(pl.col("__problem").is_not_null())
    for line, error in sorted([*bad_lines, *invalid.select("__line", "__problem").iter_rows()]):
        obj = objects[owner[line]]
        parsed.bad.append(
            BadRecord(obj.url, obj.etag, error, line=number[line], text=snippet(lines[line]))
        )
        parsed.rows[obj.url] -= 1
    frame = frame.filter(pl.col("__problem").is_null())
    if not frame.height:
        return parsed
    owners = pl.Series(owner, dtype=pl.Int64).gather(frame["__line"])
    frame = frame.with_columns(
        port.alias("srcport"),
        pl.Series(SOURCE_KEY, [o.url for o in objects], dtype=S).gather(owners),
        pl.Series("__key_account", [o.layout.account for o in objects], dtype=S).gather(owners),
        pl.Series(EXTRA_FIELDS, _extras(lines, frame["__line"]), dtype=S),
    ).with_columns(
        pl.coalesce("__key_account", "account_id", pl.lit("unknown")).alias("account"),
        pl.col("region").fill_null("unknown"),
        pl.col("query_timestamp").str.slice(0, 10).alias("day"),
    )
    frame = frame.sort(["account", "region", "day", "query_timestamp"])
    parsed.add(TABLE, frame_to_table(frame, RESOLVER_SCHEMA))
    return parsed


def _lines(obj: RawObject, parsed: Parsed) -> list[tuple[int, bytes]]:
    """The non-blank lines of an object with their numbers; none (and the object quarantined)
    when it is damaged or empty."""
    text = object_bytes(obj, parsed)
    if text is None:
        return []
    found = [(n, line.rstrip(b"\r")) for n, line in enumerate(text.split(b"\n"), 1) if line.strip()]
    return found


def _extras(lines: list[bytes], kept: pl.Series) -> list[str | None]:
    """Per kept line, the JSON of the members the table does not name, at any depth.

    One native read with an inferred schema tells whether the batch has any; only then are the
    lines decoded one by one (new members are rare: AWS adds them with a minor version).
    """
    chosen = [lines[i] for i in kept.to_list()]
    try:
        inferred = pl.read_ndjson(io.BytesIO(b"\n".join(chosen)), infer_schema_length=None)
        if not _has_more(inferred.schema, READ_SCHEMA):
            return [None] * len(chosen)
    except Exception:  # members of clashing types: the line by line path tells them apart
        pass
    return unknown_members([orjson.loads(line) for line in chosen], _RECORD_TYPE)


def _has_more(
    found: Mapping[str, pl.DataType | DataTypeClass],
    known: Mapping[str, pl.DataType | DataTypeClass],
) -> bool:
    for name, dtype in found.items():
        if name not in known:
            return True
        inner: pl.DataType | DataTypeClass = dtype
        declared: pl.DataType | DataTypeClass = known[name]
        if isinstance(inner, pl.List) and isinstance(declared, pl.List):
            inner, declared = inner.inner, declared.inner
        if (
            isinstance(inner, pl.Struct)
            and isinstance(declared, pl.Struct)
            and _has_more(inner.to_schema(), declared.to_schema())
        ):
            return True
    return False


# ---------------------------------------------------------------- the source record
_KEY = re.compile(
    rf"(?:^|/)AWSLogs/{ACCOUNT}/vpcdnsquerylogs/(?P<vpc>[^/]+)/{DATE}/"
    r"(?P<name>[^/]+\.log(?:\.gz)?)$"
)


def recognise(key: str) -> Layout | None:
    """Deliveries under ``AWSLogs/ACCOUNT/vpcdnsquerylogs/VPC-ID/YYYY/MM/DD/``."""
    if (m := _KEY.search(key)) is None:
        return None
    day = delivery_day(m["y"], m["m"], m["d"])
    return Layout(
        "resolver_query_log", m["account"], None, day, stamp_hour(m["name"]), detail=m["vpc"]
    )


def _loose(key: str) -> Layout | None:
    if re.search(r"\.(log|jsonl?|txt)(\.gz)?$", key):
        return Layout("resolver_query_log")
    return None


def _parse_for(objects: list[RawObject], table: str, options: Mapping[str, Any]) -> Parsed:
    return parse(objects)


SOURCE = Source(
    name="route53resolver",
    title="Route 53 Resolver query logs",
    kinds=(Kind("resolver_query_log", TABLE),),
    tables=(
        TableSpec(TABLE, RESOLVER_SCHEMA, "query_timestamp", "Route 53 Resolver DNS query logs"),
    ),
    recognise=recognise,
    parse=_parse_for,
    loose=_loose,
    docs="docs/ingest.md#route-53-resolver-query-logs",
)
