"""AWS Config history and snapshot files: one row per configuration item.

Items come in two spellings (S3 delivery and the API / rule-invocation shape); both are read in
one pass and folded into the S3-delivery names that Athena's Config table uses.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from loglake.ingest.layout import ACCOUNT, DATE, REGION, Layout, delivery_day, stamp_hour
from loglake.ingest.raw import (
    BadRecord,
    GzipError,
    Parsed,
    RawObject,
    fix_json_text,
    gunzip,
    json_to_map,
    read_ndjson_isolating,
    snippet,
    to_arrow_column,
    unknown_members,
)
from loglake.ingest.schemas import (
    CONFIG_FIELDS,
    CONFIG_SCHEMA,
    EXTRA_FIELDS,
    SOURCE_KEY,
    TableSpec,
    conform,
    pl_to_arrow,
)
from loglake.ingest.source import Kind, Source

TABLE = "config_items"
READ_SCHEMA: dict[str, pl.DataType] = {}
for _s3, _api, _col, _type in CONFIG_FIELDS:
    READ_SCHEMA[_s3] = _type  # type: ignore[assignment]
    if _api:
        READ_SCHEMA[_api] = _type  # type: ignore[assignment]
#: every member an item may have, both spellings, as the type unknown members are told by
ITEM_TYPE = pa.struct([pa.field(k, pl_to_arrow(t)) for k, t in READ_SCHEMA.items()])
_TIME = r"^\d{4}-\d{2}-\d{2}T"


def load_items(obj: RawObject) -> tuple[list | None, dict, BadRecord | None]:
    """The configuration items of a file and its envelope fields (fileVersion, snapshot id)."""
    data = obj.data or b""

    def bad(error: str, byte_offset: int, line: int | None = None) -> tuple[None, dict, BadRecord]:
        record = BadRecord(
            obj.url, obj.etag, error, line=line, byte_offset=byte_offset, whole_object=True
        )
        return None, {}, record

    try:
        text = gunzip(data)
    except GzipError as error:
        return bad(str(error), byte_offset=error.byte_offset)
    if not text.strip():
        return bad("empty object" if obj.size else "0-byte object", byte_offset=0)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return bad(f"invalid JSON: {error.msg}", byte_offset=error.pos, line=error.lineno)
    envelope: dict = {}
    if isinstance(doc, dict) and isinstance(doc.get("configurationItems"), list):
        envelope = {
            "fileversion": doc.get("fileVersion"),
            "configsnapshotid": doc.get("configSnapshotId") or doc.get("requestId"),
        }
        return doc["configurationItems"], envelope, None
    if isinstance(doc, dict) and isinstance(doc.get("configurationItem"), dict):
        return [doc["configurationItem"]], envelope, None  # a change notification
    if isinstance(doc, dict) and "resourceType" in doc:
        return [doc], envelope, None
    if isinstance(doc, list):
        return doc, envelope, None
    return bad('not an AWS Config file: no "configurationItems" array', byte_offset=0)


def parse(objects: list[RawObject]) -> Parsed:
    parsed = Parsed()
    item_lists: list[list[Any]] = []
    owners: list[RawObject] = []
    envelopes: list[dict[str, Any]] = []
    for obj in objects:
        items, envelope, bad = load_items(obj)
        if bad is not None:
            parsed.bad.append(bad)
            parsed.rows[obj.url] = 0
            continue
        assert items is not None  # load_items gives the items or what is wrong with the file
        item_lists.append(items)
        owners.append(obj)
        envelopes.append(envelope)
        parsed.rows[obj.url] = len(items)
    counts = [len(items) for items in item_lists]
    if not sum(counts):
        return parsed
    starts = [0, *itertools.accumulate(counts)][:-1]
    lines = [orjson.dumps(item) for items in item_lists for item in items]
    frame, bad_lines = read_ndjson_isolating(lines, READ_SCHEMA)

    def locate(line: int) -> tuple[int, int]:
        index = bisect.bisect_right(starts, line) - 1
        while counts[index] == 0:
            index += 1
        return index, line - starts[index]

    capture = pl.coalesce(pl.col("configurationItemCaptureTime"))
    invalid = frame.filter(~capture.str.contains(_TIME).fill_null(False))
    bad_rows = list(bad_lines) + [
        (int(i), "configurationItemCaptureTime missing or not ISO-8601") for i in invalid["__line"]
    ]
    frame = frame.filter(capture.str.contains(_TIME).fill_null(False))
    for line, error in sorted(bad_rows):
        owner, index = locate(line)
        obj = owners[owner]
        parsed.bad.append(
            BadRecord(
                obj.url,
                obj.etag,
                f"item {index}: {error}",
                record_index=index,
                text=snippet(lines[line]),
            )
        )
        parsed.rows[obj.url] -= 1
    if not frame.height:
        return parsed

    owner_of_line = (
        pl.Series(range(len(owners)), dtype=pl.Int64)
        .repeat_by(pl.Series(counts, dtype=pl.UInt32))
        .explode()
    )
    owner_index = owner_of_line.gather(frame["__line"])

    def per_owner(values: list) -> pl.Series:
        return pl.Series(values, dtype=pl.String).gather(owner_index)

    extras = _extras(item_lists, owner_index.to_list(), frame["__line"].to_list(), starts)
    frame = frame.with_columns(
        per_owner([o.url for o in owners]).alias(SOURCE_KEY),
        per_owner([o.layout.account for o in owners]).alias("__account"),
        per_owner([o.layout.region for o in owners]).alias("__region"),
        per_owner([e.get("fileversion") for e in envelopes]).alias("fileversion"),
        per_owner([e.get("configsnapshotid") for e in envelopes]).alias("configsnapshotid"),
        per_owner([o.layout.detail for o in owners]).alias("filetype"),
        pl.Series(EXTRA_FIELDS, extras, dtype=pl.String),
    )
    exprs = []
    for s3, api, column, _ in CONFIG_FIELDS:
        expr = pl.coalesce(pl.col(s3), pl.col(api)) if api else pl.col(s3)
        if column in ("configuration", "supplementaryconfiguration", "tags"):
            expr = fix_json_text(expr)
        if column == "configurationstateid":
            expr = expr.cast(pl.Int64, strict=False)
        if column == "relationships":
            expr = expr.list.eval(
                pl.struct(
                    pl.element().struct.field("resourceType").alias("resourcetype"),
                    pl.element().struct.field("resourceId").alias("resourceid"),
                    pl.element().struct.field("resourceName").alias("resourcename"),
                    pl.coalesce(
                        pl.element().struct.field("name"),
                        pl.element().struct.field("relationshipName"),
                    ).alias("name"),
                )
            )
        exprs.append(expr.alias(column))
    frame = frame.select(
        *exprs,
        "fileversion",
        "configsnapshotid",
        "filetype",
        EXTRA_FIELDS,
        SOURCE_KEY,
        pl.coalesce("__account", "awsAccountId", "accountId", pl.lit("unknown")).alias("account"),
        pl.coalesce("__region", "awsRegion", pl.lit("unknown")).alias("region"),
        pl.col("configurationItemCaptureTime").str.slice(0, 10).alias("day"),
    ).sort(["account", "region", "day", "configurationitemcapturetime"])
    columns = {}
    for field in CONFIG_SCHEMA:
        if field.name == "tags":
            columns["tags"] = json_to_map(to_arrow_column(frame["tags"], pa.string()))
        else:
            columns[field.name] = to_arrow_column(frame[field.name], field.type)
    parsed.add(TABLE, conform(pa.table(columns), CONFIG_SCHEMA))
    return parsed


def _extras(
    item_lists: list[list], owners: list[int], lines: list[int], starts: list[int]
) -> list[str | None]:
    """Unknown members of each item that became a row (rows are items, by owner and line)."""
    items = [
        item_lists[owner][line - starts[owner]] for owner, line in zip(owners, lines, strict=True)
    ]
    return unknown_members(items, ITEM_TYPE)


# ---------------------------------------------------------------- the source record
_KEY = re.compile(
    rf"(?:^|/)AWSLogs/{ACCOUNT}/Config/{REGION}/{DATE}/"
    r"(?P<detail>ConfigHistory|ConfigSnapshot)/(?P<name>[^/]+\.json(?:\.gz)?)$"
)
#: the view of the nested shape AWS documents for Athena
CONFIG_VIEW = "aws_config_configuration_snapshot"


def recognise(key: str) -> Layout | None:
    """History and snapshot files under ``AWSLogs/ACCOUNT/Config/REGION/Y/M/D/``."""
    if (m := _KEY.search(key)) is None:
        return None
    day = delivery_day(m["y"], m["m"], m["d"])
    hour = stamp_hour(m["name"])
    return Layout("config", m["account"], m["region"], day, hour, detail=m["detail"])


def _loose(key: str) -> Layout | None:
    return Layout("config", detail="ConfigHistory") if re.search(r"\.json(\.gz)?$", key) else None


def _parse_for(objects: list[RawObject], table: str, options: Mapping[str, Any]) -> Parsed:
    return parse(objects)


#: a JSON text with every object key in lower case, as the OpenX JSON SerDe of the Config table
#: AWS documents gives a nested object declared STRING (its parser lowers keys at every depth,
#: which is why AWS's Config examples read ``json_extract_scalar(ci.configuration,
#: '$.instancetype')``); a key is a quoted string followed by a colon, escapes included
_LOWER_KEYS = (
    r"""regexp_replace({}, '"((?:[^"\\]|\\.)*)"(\s*):', """
    r"""k -> '"' || lower(k[1]) || '"' || k[2] || ':')"""
)


def config_view_sql(database: str, json_keys_lowered: bool = False) -> str:
    """The nested shape of the Config table AWS documents for Athena, one row per file; with
    ``json_keys_lowered`` its JSON text columns read as that table's SerDe gives them."""
    members = [
        ("configurationitemversion", "configurationItemVersion", "VARCHAR"),
        ("configurationitemcapturetime", "configurationItemCaptureTime", "VARCHAR"),
        ("configurationstateid", "configurationStateId", "BIGINT"),
        ("awsaccountid", "awsAccountId", "VARCHAR"),
        ("configurationitemstatus", "configurationItemStatus", "VARCHAR"),
        ("resourcetype", "resourceType", "VARCHAR"),
        ("resourceid", "resourceId", "VARCHAR"),
        ("resourcename", "resourceName", "VARCHAR"),
        ("arn", "ARN", "VARCHAR"),
        ("awsregion", "awsRegion", "VARCHAR"),
        ("availabilityzone", "availabilityZone", "VARCHAR"),
        ("configurationstatemd5hash", "configurationStateMd5Hash", "VARCHAR"),
        ("configuration", "configuration", "VARCHAR"),
        ("supplementaryconfiguration", "supplementaryConfiguration", "VARCHAR"),
        ("tags", "tags", "MAP(VARCHAR, VARCHAR)"),
        ("resourcecreationtime", "resourceCreationTime", "VARCHAR"),
    ]
    values = ", ".join(c for c, _, _ in members)
    shape = ", ".join(f"{n} {t}" for _, n, t in members)
    rows = f"{database}.{TABLE}"
    if json_keys_lowered:  # before grouping: the rewrite is a list operation per row
        lowered = ("configuration", "supplementaryconfiguration")
        kept = [c for c, _, _ in members if c not in lowered]
        kept += ["fileversion", "configsnapshotid", "account", "day", "region", "filetype"]
        columns = kept + ["source_key"] + [f"{_LOWER_KEYS.format(c)} AS {c}" for c in lowered]
        rows = f"(SELECT {', '.join(columns)} FROM {rows}) AS items"
    return (
        "SELECT fileversion, configsnapshotid, "
        f"array_agg(CAST(ROW({values}) AS ROW({shape}))) AS configurationitems, "
        "account AS accountid, min(day) AS dt, region, filetype, source_key, "
        # Athena's "$path" of the documented table: the delivered file
        'source_key AS "$path" '
        f"FROM {rows} "
        "GROUP BY source_key, fileversion, configsnapshotid, filetype, account, region"
    )


def athena_config_view_sql(database: str) -> str:
    """The view in the database ``athena``: the documented table as Athena reads it."""
    return config_view_sql(database, json_keys_lowered=True)


SOURCE = Source(
    name="config",
    title="AWS Config",
    kinds=(Kind("config", TABLE),),
    tables=(
        TableSpec(
            TABLE,
            CONFIG_SCHEMA,
            "configurationitemcapturetime",
            "AWS Config configuration items (history and snapshots)",
        ),
    ),
    recognise=recognise,
    parse=_parse_for,
    loose=_loose,
    views={CONFIG_VIEW: config_view_sql},
    guide_views={CONFIG_VIEW: athena_config_view_sql},
    hourly=False,  # history files only for windows in which a resource changed
    docs="docs/ingest.md#tables",
)
