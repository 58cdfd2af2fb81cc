"""VPC flow log files: space-separated text with a header line (any version, any field order),
and the Parquet delivery. Both become rows of Athena's documented ``vpc_flow_logs`` columns.
"""

from __future__ import annotations

import io

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from loglake.ingest.raw import BadRecord, GzipError, Parsed, RawObject, gunzip, to_arrow_column
from loglake.ingest.schemas import (
    EXTRA_FIELDS,
    SOURCE_KEY,
    VPC_FLOW_FIELDS,
    VPC_FLOW_SCHEMA,
    conform,
)

TABLE = "vpc_flow_logs"
_BY_FIELD = {f: (name, t) for f, name, t in VPC_FLOW_FIELDS}
_BY_COLUMN = {name: (f, t) for f, name, t in VPC_FLOW_FIELDS}
#: the default (version 2) format, used when a file has no header
DEFAULT_FORMAT = [f for f, _, _ in VPC_FLOW_FIELDS[:14]]
_POLARS = {pa.int32(): pl.Int32, pa.int64(): pl.Int64, pa.string(): pl.String}


def parse(objects: list[RawObject]) -> Parsed:
    parsed = Parsed()
    frames = []
    for obj in objects:
        if obj.layout.kind == "vpcflow_parquet":
            frame = _parquet(obj, parsed)
        else:
            frame = _text(obj, parsed)
        if frame is not None and frame.height:
            frames.append(frame)
        parsed.rows[obj.url] = 0 if frame is None else frame.height
    if frames:
        frame = pl.concat(frames, how="diagonal_relaxed")
        parsed.add(TABLE, _finish(frame))
    return parsed


def _text(obj: RawObject, parsed: Parsed) -> pl.DataFrame | None:
    data = obj.data or b""
    try:
        text = gunzip(data)
    except GzipError as error:
        parsed.bad.append(
            BadRecord(
                obj.url, obj.etag, str(error), byte_offset=error.byte_offset, whole_object=True
            )
        )
        return None
    if not text.strip():
        error = "empty object" if obj.size else "0-byte object"
        parsed.bad.append(BadRecord(obj.url, obj.etag, error, byte_offset=0, whole_object=True))
        return None
    decoded = text.decode("utf-8", "replace")
    lines = pl.Series("line", [decoded]).str.split("\n").explode()
    frame = pl.DataFrame(lines).with_row_index("__line", offset=1)
    frame = frame.with_columns(pl.col("line").str.strip_chars_end("\r")).filter(
        pl.col("line").str.strip_chars() != ""
    )
    first = frame["line"][0]
    if first.split(" ", 1)[0] in _BY_FIELD or first.startswith("version "):
        fields = first.split()
        frame = frame.slice(1)
    else:
        fields = DEFAULT_FORMAT
    width = len(fields)
    frame = frame.with_columns(pl.col("line").str.count_matches(" ", literal=True).alias("__n"))
    wrong = frame.filter(pl.col("__n") != width - 1)
    for line, value in zip(wrong["__line"], wrong["line"], strict=True):
        parsed.bad.append(
            BadRecord(obj.url, obj.etag, f"expected {width} fields", line=line, text=value)
        )
    frame = frame.filter(pl.col("__n") == width - 1)
    split = (
        frame.select(
            "__line", pl.col("line").str.split_exact(" ", width - 1).struct.rename_fields(fields)
        )
        .unnest("line")
        .with_columns(pl.col(fields).replace("-", None))
    )
    typed, failed = [], []
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
    return _label(frame, obj)


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
    return _label(frame, obj)


def _label(frame: pl.DataFrame, obj: RawObject) -> pl.DataFrame:
    """Athena column names, lineage and partition values for one file's rows."""
    renames = {}
    for column in frame.columns:
        name = _BY_FIELD.get(column, (column.replace("-", "_"), None))[0]
        renames[column] = name
    frame = frame.rename(renames)
    record_region = pl.col("region") if "region" in frame.columns else pl.lit(None, pl.String)
    return frame.with_columns(
        pl.lit(obj.url).alias(SOURCE_KEY),
        pl.lit(obj.layout.account or None, pl.String)
        .fill_null(pl.col("account_id") if "account_id" in frame.columns else None)
        .fill_null("unknown")
        .alias("account"),
        pl.coalesce(record_region, pl.lit(obj.layout.region, pl.String), pl.lit("unknown")).alias(
            "region"
        ),
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
    columns = {}
    for field in VPC_FLOW_SCHEMA:
        if field.name in frame.columns:
            columns[field.name] = to_arrow_column(frame[field.name], field.type)
    return conform(pa.table(columns), VPC_FLOW_SCHEMA)
