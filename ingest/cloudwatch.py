"""CloudWatch Logs as it reaches S3: export-task chunks and subscription payloads via Firehose.

Export chunk lines are ``<ISO timestamp with ms>Z <message>``; a line that does not start with a
timestamp continues the message above it (messages may hold newlines). Firehose objects are gzip
members (or plain JSON objects) concatenated without a delimiter, one ``DATA_MESSAGE`` each;
``CONTROL_MESSAGE`` payloads are health checks and are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl

from loglake.ingest.layout import Layout, delivery_day
from loglake.ingest.log_groups import group_of
from loglake.ingest.raw import (
    BadRecord,
    GzipError,
    Parsed,
    RawObject,
    frame_to_table,
    gunzip,
    gunzip_members,
    is_gzip,
    json_values,
    read_ndjson_isolating,
    snippet,
)
from loglake.ingest.schemas import CLOUDWATCH_SCHEMA, SOURCE_KEY, TableSpec
from loglake.ingest.source import Kind, Source

TABLE = "cloudwatch_logs"
_LINE_START = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z "
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "timestamp": pl.Int64(),
    "message": pl.String(),
    "extractedFields": pl.String(),
}


def parse(
    objects: list[RawObject],
    *,
    log_group: str | None = None,
    log_groups: Mapping[str, str] | None = None,
) -> Parsed:
    """Rows of ``cloudwatch_logs``; export chunks are named by ``log_groups`` (prefix -> group),
    else ``log_group``."""
    parsed = Parsed()
    frames = []
    for obj in objects:
        if obj.layout.kind == "firehose":
            frame = _firehose(obj, parsed)
        else:
            frame = _export(obj, parsed, group_of(obj.url, log_groups or {}, log_group))
        parsed.rows[obj.url] = 0 if frame is None else frame.height
        if frame is not None and frame.height:
            frames.append(frame.with_columns(pl.lit(obj.url).alias(SOURCE_KEY)))
    if frames:
        frame = pl.concat(frames, how="diagonal_relaxed")
        frame = (
            frame.with_columns(
                pl.from_epoch("timestamp", time_unit="ms")
                .dt.replace_time_zone("UTC")
                .alias("eventtime")
            )
            .with_columns(
                pl.col("owner").fill_null("unknown").alias("account"),
                pl.lit("unknown").alias("region"),
                pl.col("eventtime").dt.strftime("%Y-%m-%d").alias("day"),
            )
            .sort(["account", "region", "day", "timestamp"])
        )
        parsed.add(TABLE, frame_to_table(frame, CLOUDWATCH_SCHEMA))
    return parsed


def _whole(obj: RawObject, parsed: Parsed, error: str, offset: int = 0) -> None:
    parsed.bad.append(BadRecord(obj.url, obj.etag, error, byte_offset=offset, whole_object=True))


def _export(obj: RawObject, parsed: Parsed, log_group: str | None) -> pl.DataFrame | None:
    data = obj.data or b""
    try:
        text = gunzip(data)
    except GzipError as error:
        _whole(obj, parsed, str(error), error.byte_offset)
        return None
    if not text.strip():
        _whole(obj, parsed, "empty object" if obj.size else "0-byte object")
        return None
    decoded = text.decode("utf-8", "replace")
    if decoded.endswith("\n"):
        decoded = decoded[:-1]
    lines = pl.DataFrame(pl.Series("line", [decoded]).str.split("\n").explode()).with_row_index(
        "__line", offset=1
    )
    lines = lines.with_columns(pl.col("line").str.contains(_LINE_START).alias("__start"))
    lines = lines.with_columns(pl.col("__start").cum_sum().alias("__event"))
    orphans = lines.filter(pl.col("__event") == 0)
    if orphans.height:
        parsed.bad.append(
            BadRecord(
                obj.url,
                obj.etag,
                "lines before the first timestamped event",
                line=int(orphans["__line"][0]),
                text=snippet("\n".join(orphans["line"].to_list())),
            )
        )
    events = (
        lines.filter(pl.col("__event") > 0)
        .group_by("__event", maintain_order=True)
        .agg(pl.col("line").str.join("\n"))
    )
    stamp = events["line"].str.slice(0, events["line"].str.find(" "))
    frame = events.select(
        pl.lit(log_group, pl.String).alias("loggroup"),
        pl.lit(obj.layout.stream, pl.String).alias("logstream"),
        pl.lit(None, pl.String).alias("eventid"),
        stamp.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="ms", strict=False)
        .dt.epoch("ms")
        .alias("timestamp"),
        pl.col("line").str.splitn(" ", 2).struct.field("field_1").alias("message"),
        pl.lit(None, pl.String).alias("owner"),
        pl.lit(obj.layout.detail, pl.String).alias("exporttaskid"),
        pl.lit("export").alias("source"),
    )
    return frame


def _firehose(obj: RawObject, parsed: Parsed) -> pl.DataFrame | None:
    data = obj.data or b""
    if not data.strip():
        _whole(obj, parsed, "empty object" if obj.size else "0-byte object")
        return None
    payloads: list[tuple[int, bytes]] = []
    if is_gzip(data):
        try:
            payloads = gunzip_members(data)
        except GzipError as error:
            _whole(obj, parsed, str(error), error.byte_offset)
            return None
    else:
        payloads = [(0, data)]
    messages: list[tuple[int, int, dict]] = []  # (payload index, byte offset, message)
    index = 0
    for offset, payload in payloads:
        for position, value in json_values(payload):
            where = offset if is_gzip(data) else position
            if isinstance(value, Exception):
                parsed.bad.append(
                    BadRecord(
                        obj.url,
                        obj.etag,
                        f"invalid JSON: {value}",
                        byte_offset=where,
                        record_index=index,
                        text=snippet(payload[position:]),
                    )
                )
            elif not isinstance(value, dict) or value.get("messageType") not in (
                "DATA_MESSAGE",
                "CONTROL_MESSAGE",
            ):
                parsed.bad.append(
                    BadRecord(
                        obj.url,
                        obj.etag,
                        "not a CloudWatch Logs subscription payload",
                        byte_offset=where,
                        record_index=index,
                        text=snippet(orjson.dumps(value)),
                    )
                )
            elif value["messageType"] == "DATA_MESSAGE":
                if not isinstance(value.get("logEvents"), list):
                    parsed.bad.append(
                        BadRecord(
                            obj.url,
                            obj.etag,
                            "DATA_MESSAGE without logEvents",
                            byte_offset=where,
                            record_index=index,
                            text=snippet(orjson.dumps(value)),
                        )
                    )
                else:
                    messages.append((index, where, value))
            index += 1
    if not messages:
        return None
    counts = [len(m["logEvents"]) for _, _, m in messages]
    lines = [orjson.dumps(e) for _, _, m in messages for e in m["logEvents"]]
    events, bad_lines = read_ndjson_isolating(lines, EVENT_SCHEMA)
    starts = [0]
    for n in counts:
        starts.append(starts[-1] + n)
    for bad_line, reason in bad_lines:
        message = next(i for i in range(len(counts)) if starts[i] <= bad_line < starts[i + 1])
        parsed.bad.append(
            BadRecord(
                obj.url,
                obj.etag,
                f"log event {bad_line - starts[message]}: {reason}",
                byte_offset=messages[message][1],
                record_index=messages[message][0],
                text=snippet(lines[bad_line]),
            )
        )
    owner = (
        pl.Series(range(len(messages)), dtype=pl.Int64)
        .repeat_by(pl.Series(counts, dtype=pl.UInt32))
        .explode()
        .gather(events["__line"])
    )

    def per_message(key: str) -> pl.Series:
        return pl.Series([m.get(key) for _, _, m in messages], dtype=pl.String).gather(owner)

    filters = pl.Series(
        [m.get("subscriptionFilters") for _, _, m in messages], dtype=pl.List(pl.String)
    ).gather(owner)
    return pl.DataFrame(
        {
            "loggroup": per_message("logGroup"),
            "logstream": per_message("logStream"),
            "eventid": events["id"],
            "timestamp": events["timestamp"],
            "message": events["message"],
            "owner": per_message("owner"),
            "subscriptionfilters": filters,
            "extractedfields": events["extractedFields"],
            "exporttaskid": pl.Series([None] * events.height, dtype=pl.String),
            "source": pl.Series(["subscription"] * events.height, dtype=pl.String),
        }
    )


# ---------------------------------------------------------------- the source record
_EXPORT_KEY = re.compile(r"(?:^|/)(?P<task>[^/]+)/(?P<stream>[^/]+)/\d{6}\.gz$")
_FIREHOSE_KEY = re.compile(
    r"(?:^|/)[^/]+-\d+-(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})-(?P<h>\d{2})-\d{2}-\d{2}-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:\.[A-Za-z0-9.]+)?$"
)


def recognise(key: str) -> Layout | None:
    """Firehose deliveries (``STREAM-N-YYYY-MM-DD-HH-MM-SS-UUID``) and export-task chunks
    (``TASK/STREAM/000000.gz``)."""
    if (m := _FIREHOSE_KEY.search(key)) is not None:
        return Layout("firehose", day=delivery_day(m["y"], m["m"], m["d"]), hour=int(m["h"]))
    if (m := _EXPORT_KEY.search(key)) is not None:
        return Layout("cloudwatch_export", detail=m["task"], stream=m["stream"])
    return None


def _parse_for(objects: list[RawObject], table: str, options: Mapping[str, Any]) -> Parsed:
    return parse(objects, log_group=options.get("log_group"), log_groups=options.get("log_groups"))


SOURCE = Source(
    name="cloudwatch",
    title="CloudWatch Logs",
    kinds=(Kind("cloudwatch_export", TABLE), Kind("firehose", TABLE, whole_gzip=False)),
    tables=(TableSpec(TABLE, CLOUDWATCH_SCHEMA, "timestamp", "CloudWatch Logs events"),),
    recognise=recognise,
    parse=_parse_for,
    docs="docs/ingest.md#tables",
    hourly=False,  # exports when asked for, Firehose objects only when events were forwarded
)
