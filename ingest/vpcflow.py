"""VPC flow log files: space-separated text with a header line (any version, any field order),
and the Parquet delivery. Both become rows of Athena's documented ``vpc_flow_logs`` columns.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from loglake.ingest.layout import ACCOUNT, DATE, REGION, Layout, delivery_day, stamp_hour
from loglake.ingest.ocsf import views_over
from loglake.ingest.raw import BadRecord, Parsed, RawObject, frame_to_table, object_bytes
from loglake.ingest.schemas import (
    EXTRA_FIELDS,
    SOURCE_KEY,
    VPC_FLOW_FIELDS,
    VPC_FLOW_SCHEMA,
    TableSpec,
)
from loglake.ingest.source import Kind, Source

TABLE = "vpc_flow_logs"
_BY_FIELD = {f: (name, t) for f, name, t in VPC_FLOW_FIELDS}
#: the default (version 2) format, used when a file has no header
DEFAULT_FORMAT = [f for f, _, _ in VPC_FLOW_FIELDS[:14]]
_POLARS = {pa.int32(): pl.Int32, pa.int64(): pl.Int64, pa.string(): pl.String}


def parse(objects: list[RawObject]) -> Parsed:
    """Text files with the same fields are parsed together in one Polars pipeline, so a batch
    of many small deliveries pays the per-call costs once."""
    parsed = Parsed()
    frames = []
    texts: dict[tuple[tuple[str, ...], bool], list[tuple[RawObject, str]]] = {}
    for obj in objects:
        if obj.layout.kind == "vpcflow_parquet":
            frame = _parquet(obj, parsed)
            parsed.rows[obj.url] = 0 if frame is None else frame.height
            if frame is not None and frame.height:
                frames.append(frame)
            continue
        text = _text_of(obj, parsed)
        if text is None:
            parsed.rows[obj.url] = 0
            continue
        first = _first_line(text)
        if first.split(" ", 1)[0] in _BY_FIELD or first.startswith("version "):
            texts.setdefault((tuple(first.split()), True), []).append((obj, text))
        else:
            texts.setdefault((tuple(DEFAULT_FORMAT), False), []).append((obj, text))
    for (fields, header), files in texts.items():
        frame = _text(files, list(fields), header, parsed)
        if frame.height:
            frames.append(frame)
    if frames:
        frame = pl.concat(frames, how="diagonal_relaxed")
        parsed.add(TABLE, _finish(frame))
    return parsed


def _text_of(obj: RawObject, parsed: Parsed) -> str | None:
    """An object's text; None (and the object quarantined) when it is damaged or empty."""
    data = object_bytes(obj, parsed)
    return None if data is None else data.decode("utf-8", "replace")


def _first_line(text: str) -> str:
    """The first line that is not blank (a header, or the first record)."""
    start = 0
    while True:
        end = text.find("\n", start)
        line = text[start:] if end == -1 else text[start:end]
        if line.strip() or end == -1:
            return line.rstrip("\r")
        start = end + 1


def _text(
    files: list[tuple[RawObject, str]], fields: list[str], header: bool, parsed: Parsed
) -> pl.DataFrame:
    """The records of text files that share one field list; bad lines are quarantined alone."""
    owners = [obj for obj, _ in files]
    frame = (
        pl.DataFrame(
            {"__file": range(len(files)), "line": [text for _, text in files]},
            schema={"__file": pl.Int32, "line": pl.String},
        )
        .with_columns(pl.col("line").str.split("\n"))
        .explode("line")
        .with_columns((pl.int_range(pl.len()).over("__file") + 1).alias("__line"))
        .with_columns(pl.col("line").str.strip_chars_end("\r"))
        .filter(pl.col("line").str.strip_chars() != "")
    )
    if header:
        frame = frame.filter(pl.int_range(pl.len()).over("__file") > 0)
    width = len(fields)
    frame = frame.with_columns(pl.col("line").str.count_matches(" ", literal=True).alias("__n"))
    wrong = frame.filter(pl.col("__n") != width - 1)
    for index, line, value in wrong.select("__file", "__line", "line").iter_rows():
        obj = owners[index]
        parsed.bad.append(
            BadRecord(obj.url, obj.etag, f"expected {width} fields", line=line, text=value)
        )
    frame = frame.filter(pl.col("__n") == width - 1)
    split = (
        frame.select(
            "__file",
            "__line",
            pl.col("line").str.split_exact(" ", width - 1).struct.rename_fields(fields),
        )
        .unnest("line")
        .with_columns(pl.col(fields).replace("-", None))
    )
    typed, failed = [pl.col("__file")], []
    for field in fields:
        target = _BY_FIELD.get(field, (None, pa.string()))[1]
        column = pl.col(field)
        if target != pa.string():
            cast = column.cast(_POLARS[target], strict=False)
            failed.append(cast.is_null() & column.is_not_null())
            column = cast
        typed.append(column.alias(field))
    if failed:
        split = split.with_columns(pl.any_horizontal(failed).alias("__bad"))
        for row in split.filter(pl.col("__bad")).iter_rows(named=True):
            obj = owners[row["__file"]]
            parsed.bad.append(
                BadRecord(
                    obj.url,
                    obj.etag,
                    "a numeric field is not a number",
                    line=row["__line"],
                    text=_line_text(row, fields),
                )
            )
        split = split.filter(~pl.col("__bad"))
    frame = split.select(typed)
    counts = dict(frame.group_by("__file").len().iter_rows())
    for index, obj in enumerate(owners):
        parsed.rows[obj.url] = counts.get(index, 0)
    return _label(frame, owners)


def _line_text(row: dict, fields: list[str]) -> str:
    return " ".join("-" if row[f] is None else str(row[f]) for f in fields)


def _parquet(obj: RawObject, parsed: Parsed) -> pl.DataFrame | None:
    try:
        table = pq.read_table(io.BytesIO(obj.data or b""))
    except Exception as error:
        parsed.bad.append(
            BadRecord(
                obj.url, obj.etag, f"unreadable Parquet: {error}", byte_offset=0, whole_object=True
            )
        )
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return _label(frame.with_columns(pl.lit(0, pl.Int32).alias("__file")), [obj])


def _label(frame: pl.DataFrame, owners: list[RawObject]) -> pl.DataFrame:
    """Athena column names, lineage and partition values for rows of files (``__file`` is the
    row's index in ``owners``): account from the key, else the record; region from the record,
    else the key."""
    renames = {}
    for column in frame.columns:
        if column != "__file":
            renames[column] = _BY_FIELD.get(column, (column.replace("-", "_"), None))[0]
    frame = frame.rename(renames)
    origin = pl.DataFrame(
        {
            "__file": range(len(owners)),
            SOURCE_KEY: [o.url for o in owners],
            "__key_account": [o.layout.account or None for o in owners],
            "__key_region": [o.layout.region or None for o in owners],
        },
        schema={
            "__file": pl.Int32,
            SOURCE_KEY: pl.String,
            "__key_account": pl.String,
            "__key_region": pl.String,
        },
    )
    account = [pl.col("__key_account"), pl.lit("unknown")]
    region = [pl.col("__key_region"), pl.lit("unknown")]
    if "account_id" in frame.columns:
        account.insert(1, pl.col("account_id"))
    if "region" in frame.columns:
        region.insert(0, pl.col("region"))
    return (
        frame.join(origin, on="__file", how="left", maintain_order="left")
        .with_columns(pl.coalesce(account).alias("account"), pl.coalesce(region).alias("region"))
        .drop("__file", "__key_account", "__key_region")
    )


def _finish(frame: pl.DataFrame) -> pa.Table:
    known = {name for _, name, _ in VPC_FLOW_FIELDS} | {SOURCE_KEY, "account", "region"}
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        extra = pl.struct(unknown).struct.json_encode()
        frame = frame.with_columns(
            pl.when(pl.any_horizontal(pl.col(unknown).is_not_null()))
            .then(extra)
            .otherwise(None)
            .alias(EXTRA_FIELDS)
        )
    day_from = pl.col("start") if "start" in frame.columns else pl.lit(None, pl.Int64)
    if "end" in frame.columns:
        day_from = day_from.fill_null(pl.col("end"))
    frame = frame.with_columns(
        pl.from_epoch(day_from.cast(pl.Int64), time_unit="s")
        .dt.strftime("%Y-%m-%d")
        .fill_null("unknown")
        .alias("day")
    ).sort(["account", "region", "day", *(["start"] if "start" in frame.columns else [])])
    return frame_to_table(frame, VPC_FLOW_SCHEMA)


# ---------------------------------------------------------------- the source record
_KEY = re.compile(
    rf"(?:^|/)AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/{DATE}/(?:(?P<h>\d{{2}})/)?"
    r"(?P<name>[^/]+)$"
)
_HIVE_KEY = re.compile(
    r"(?:^|/)AWSLogs/aws-account-id=(?P<account>\d{12})/aws-service=vpcflowlogs/"
    r"aws-region=(?P<region>[a-z0-9-]+)/year=(?P<y>\d{4})/month=(?P<m>\d{1,2})/"
    r"day=(?P<d>\d{1,2})/(?:hour=(?P<h>\d{2})/)?(?P<name>[^/]+)$"
)


def recognise(key: str) -> Layout | None:
    """Deliveries under ``AWSLogs/ACCOUNT/vpcflowlogs/REGION/Y/M/D/[HH/]`` and the
    Hive-compatible layout, as text (``.log.gz``) or Parquet."""
    for pattern in (_HIVE_KEY, _KEY):
        if (m := pattern.search(key)) is not None:
            name = m["name"]
            if name.endswith(".parquet"):
                kind = "vpcflow_parquet"
            elif re.search(r"\.log(\.gz)?$", name):
                kind = "vpcflow"
            else:
                return None
            hour = int(m["h"]) if m["h"] else stamp_hour(name)
            day = delivery_day(m["y"], m["m"], m["d"])
            return Layout(kind, m["account"], m["region"], day, hour)
    return None


def _loose(key: str) -> Layout | None:
    if re.search(r"\.(log|txt)(\.gz)?$", key):
        return Layout("vpcflow")
    return Layout("vpcflow_parquet") if key.endswith(".parquet") else None


def _parse_for(objects: list[RawObject], table: str, options: Mapping[str, Any]) -> Parsed:
    return parse(objects)


SOURCE = Source(
    name="vpcflow",
    title="VPC flow logs",
    kinds=(Kind("vpcflow", TABLE), Kind("vpcflow_parquet", TABLE, whole_gzip=False)),
    tables=(TableSpec(TABLE, VPC_FLOW_SCHEMA, "start", "VPC flow log records"),),
    recognise=recognise,
    parse=_parse_for,
    loose=_loose,
    views=views_over(TABLE),
    docs="docs/ingest.md#tables",
    # the guide's table is partitioned by a DATE `date` where ingest keeps the text `day`
    guide_views={
        TABLE: lambda database: f'SELECT *, CAST(day AS DATE) AS "date" FROM {database}.{TABLE}'
    },
)
