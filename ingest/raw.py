"""Shared pieces of the parsers: raw objects, bad records, gzip and NDJSON readers, Arrow helpers."""

from __future__ import annotations

import io
import itertools
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import polars as pl
import pyarrow as pa
from isal import isal_zlib

from loglake.ingest.layout import Layout
from loglake.ingest.schemas import conform

#: longest piece of a bad record kept in the quarantine entry
MAX_SNIPPET = 1 << 20


@dataclass
class RawObject:
    """One raw object as listed: where it is, its version (ETag) and what its key says it holds."""

    url: str
    etag: str
    size: int
    layout: Layout
    data: bytes | None = None


@dataclass
class BadRecord:
    """An input that could not be ingested, with where in the object the problem is."""

    url: str
    etag: str
    error: str
    line: int | None = None
    byte_offset: int | None = None
    record_index: int | None = None
    text: str | None = None
    whole_object: bool = False

    def position(self) -> dict[str, int]:
        out = {}
        for name in ("line", "byte_offset", "record_index"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass
class Parsed:
    """What a parser made of a batch of objects of one source."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # url -> rows ingested
    bad: list[BadRecord] = field(default_factory=list)
    #: tables a worker process wrote as uncommitted files: their Delta add actions
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table_name: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if table_name in self.tables:
            self.tables[table_name] = pa.concat_tables([self.tables[table_name], table])
        else:
            self.tables[table_name] = table


class GzipError(ValueError):
    def __init__(self, message: str, byte_offset: int):
        super().__init__(message)
        self.byte_offset = byte_offset


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


#: bytes one object may inflate to (the lake setting ``ingest_max_inflated_bytes``; the ingest
#: runner sets it for its process and its workers): past it the object is a gzip bomb
_inflate_limit = 1024**3
#: what ISA-L raises on a damaged stream (its stubs declare an instance, the module has a class)
_ISAL_ERROR = cast(type[Exception], isal_zlib.error)


def set_inflate_limit(limit: int) -> None:
    """How far one object may inflate in this process (see ``ingest_max_inflated_bytes``)."""
    global _inflate_limit
    _inflate_limit = int(limit)


def gunzip_members(data: bytes) -> list[tuple[int, bytes]]:
    """Each gzip member of ``data`` with its byte offset (Firehose concatenates members)."""
    members, offset, total = [], 0, 0
    while offset < len(data):
        if data[offset : offset + 2] != b"\x1f\x8b":
            if not data[offset:].strip(b"\x00"):
                break  # padding after the last member
            raise GzipError("not a gzip member", offset)
        room = _inflate_limit - total
        decoder, out = _inflate_member(data[offset:], room + 1, offset)
        total += len(out)
        if total > _inflate_limit:
            raise GzipError(
                f"inflates beyond {_inflate_limit:,} bytes (a gzip bomb?); raise the lake "
                "setting ingest_max_inflated_bytes to ingest it",
                offset,
            )
        if not decoder.eof:
            raise GzipError("truncated gzip stream (no end-of-stream marker)", len(data))
        members.append((offset, out))
        offset = len(data) - len(decoder.unused_data)
    return members


def _inflate_member(member: bytes, limit: int, offset: int) -> tuple[Any, bytes]:
    """Inflate one gzip member (up to ``limit`` bytes) with ISA-L, which inflates in about 60%
    of zlib's time (measured 0.135 vs 0.233 s CPU for 3,000 trail deliveries); a damaged stream
    is inflated again by zlib, so its error is worded as before (and, should zlib accept what
    ISA-L refused, zlib's output stands)."""
    decoder: Any = isal_zlib.decompressobj(31)
    try:
        return decoder, decoder.decompress(member, limit)
    except _ISAL_ERROR:
        pass
    decoder = zlib.decompressobj(31)
    try:
        return decoder, decoder.decompress(member, limit)
    except zlib.error as error:
        raise GzipError(f"corrupt gzip data: {error}", offset) from None


def gunzip(data: bytes) -> bytes:
    """Inflate a gzip object (one or several members); plain bytes pass through."""
    if not is_gzip(data):
        return data
    members = gunzip_members(data)
    return members[0][1] if len(members) == 1 else b"".join(m for _, m in members)


def object_bytes(obj: RawObject, parsed: Parsed) -> bytes | None:
    """An object's inflated bytes; None (and the object quarantined whole) when its gzip stream
    is damaged or it holds nothing."""
    try:
        data = gunzip(obj.data or b"")
    except GzipError as error:
        parsed.bad.append(
            BadRecord(
                obj.url, obj.etag, str(error), byte_offset=error.byte_offset, whole_object=True
            )
        )
        return None
    if not data.strip():
        reason = "empty object" if obj.size else "0-byte object"
        parsed.bad.append(BadRecord(obj.url, obj.etag, reason, byte_offset=0, whole_object=True))
        return None
    return data


def snippet(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    if isinstance(data, bytes):
        data = data[:MAX_SNIPPET].decode("utf-8", "replace")
    return data[:MAX_SNIPPET]


def read_ndjson_isolating(
    lines: Sequence[bytes], schema: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """Read NDJSON lines with a schema; lines that do not fit are returned as (index, error).

    The fast path is one native read of all lines. Only when it fails are the lines split in
    halves until each bad line stands alone, so one bad record costs a few extra reads and never
    drops its neighbours. The frame gets a ``__line`` column with each row's line index.
    """
    bad: list[tuple[int, str]] = []
    frames: list[pl.DataFrame] = []

    def read(start: int, end: int) -> None:
        if start >= end:
            return
        try:
            frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines[start:end])), schema=schema)
        except Exception as error:
            if end - start == 1:
                bad.append((start, _short(error)))
                return
            middle = (start + end) // 2
            read(start, middle)
            read(middle, end)
            return
        if frame.height != end - start:  # blank lines are skipped by the reader
            if end - start == 1:
                bad.append((start, "empty record"))
                return
            middle = (start + end) // 2
            read(start, middle)
            read(middle, end)
            return
        frames.append(frame.with_columns(pl.int_range(start, end, dtype=pl.Int64).alias("__line")))

    read(0, len(lines))
    if not frames:
        empty = pl.DataFrame(schema={**schema, "__line": pl.Int64})
        return empty, bad
    frame = frames[0] if len(frames) == 1 else pl.concat(frames)
    return frame, bad


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:500]


_CONTROL = [chr(c) for c in range(32)]
_ESCAPED = [orjson.dumps(c).decode()[1:-1] for c in _CONTROL]


def fix_json_text(column: pl.Expr) -> pl.Expr:
    """Escape control characters the JSON reader leaves raw when it renders an object as text."""
    return (
        pl.when(column.str.contains(r"[\x00-\x1f]"))
        .then(column.str.replace_many(_CONTROL, _ESCAPED))
        .otherwise(column)
    )


def rename_like(array: pa.Array, target: pa.DataType) -> pa.Array:
    """Give a nested array the member names of ``target`` by position (zero copy)."""
    if pa.types.is_struct(target):
        children = [rename_like(array.field(i), target.field(i).type) for i in range(len(target))]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_list(target):
        if not pa.types.is_list(array.type):
            array = array.cast(pa.list_(array.type.value_type))
        values = rename_like(array.values, target.value_type)
        mask = array.is_null() if array.null_count else None
        return pa.ListArray.from_arrays(array.offsets, values, type=target, mask=mask)
    if array.type != target:
        return array.cast(target)
    return array


def to_arrow_column(series: pl.Series, target: pa.DataType) -> pa.Array:
    """A polars column as an Arrow array of ``target`` (nested names renamed by position)."""
    array = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return rename_like(_plain(array), target)


def frame_to_table(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """A parser's frame as a table of ``schema``: its columns in order, nested members renamed,
    the columns it lacks as nulls."""
    columns = {f.name: to_arrow_column(frame[f.name], f.type) for f in schema if f.name in frame}
    return conform(pa.table(columns), schema)


def _plain(array: pa.Array) -> pa.Array:
    """large_string / large_list (what polars exports) to the 32-bit offset types."""
    t = array.type
    if pa.types.is_large_string(t):
        return array.cast(pa.string())
    if pa.types.is_large_list(t):
        values = _plain(array.values)
        offsets = array.offsets.cast(pa.int32())
        mask = array.is_null() if array.null_count else None
        return pa.ListArray.from_arrays(offsets, values, mask=mask)
    if pa.types.is_struct(t):
        children = [_plain(array.field(i)) for i in range(t.num_fields)]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(
            children, names=[t.field(i).name for i in range(t.num_fields)], mask=mask
        )
    return array


def json_to_map(values: pa.Array) -> pa.Array:
    """JSON object text to MAP<STRING,STRING>; non-string members are kept as JSON text.

    Only the non-null rows are decoded, and these columns are rarely filled (tags, web identity
    attributes), so this is a short loop over actual values.
    """
    texts = values.to_pylist()
    offsets = [0]
    keys: list[str] = []
    items: list[str | None] = []
    mask = []
    for text in texts:
        obj: Any = None
        if text is not None:
            try:
                obj = orjson.loads(text)
            except orjson.JSONDecodeError:
                obj = None
        if isinstance(obj, dict):
            for k, v in obj.items():
                keys.append(str(k))
                items.append(v if isinstance(v, str) or v is None else orjson.dumps(v).decode())
            mask.append(False)
        else:
            mask.append(True)
        offsets.append(len(keys))
    return pa.MapArray.from_arrays(
        pa.array(offsets, pa.int32()),
        pa.array(keys, pa.string()),
        pa.array(items, pa.string()),
        mask=pa.array(mask, pa.bool_()),
    )


def replace_child(array: pa.Array, path: Sequence[str], new: pa.Array) -> pa.Array:
    """``array`` with the nested struct member at ``path`` replaced by ``new``."""
    t = array.type
    children, fields = [], []
    for i in range(t.num_fields):
        f = t.field(i)
        child = array.field(i)
        if f.name == path[0]:
            child = new if len(path) == 1 else replace_child(child, path[1:], new)
            f = pa.field(f.name, child.type)
        children.append(child)
        fields.append(f)
    mask = array.is_null() if array.null_count else None
    return pa.StructArray.from_arrays(children, fields=fields, mask=mask)


def unknown_members(records: list, record_type: pa.StructType) -> list[str | None]:
    """Per record, JSON text of the members ``record_type`` does not name, at any depth.

    Unknown members are kept nested as in the record (inside a list, by position, with null for
    elements that have none), so nothing AWS adds is dropped. Whether a batch has any is found
    with C-level set unions a level of the type at a time; rows are visited only when it does.
    """
    if not _has_unknown(records, record_type):
        return [None] * len(records)
    out: list[str | None] = []
    for record in records:
        extra = _unknown_of(record, record_type)
        out.append(orjson.dumps(extra).decode() if extra else None)
    return out


def _is_nested(t: pa.DataType) -> bool:
    return pa.types.is_struct(t) or (pa.types.is_list(t) and pa.types.is_struct(t.value_type))


def _has_unknown(values: list, t: pa.DataType) -> bool:
    if pa.types.is_list(t):
        lists = [v for v in values if isinstance(v, list)]
        return _has_unknown(list(itertools.chain.from_iterable(lists)), t.value_type)
    objects = [v for v in values if isinstance(v, dict)]
    if not objects:
        return False
    if set().union(*map(dict.keys, objects)) - {f.name for f in t}:
        return True
    return any(
        _has_unknown(list(map(dict.get, objects, itertools.repeat(f.name))), f.type)
        for f in t
        if _is_nested(f.type)
    )


def _unknown_of(value: object, t: pa.DataType) -> object | None:
    """The parts of one JSON value that type ``t`` does not hold (same nesting), or None."""
    if isinstance(value, list) and pa.types.is_list(t):
        inner = [_unknown_of(v, t.value_type) for v in value]
        return inner if any(i is not None for i in inner) else None
    if not isinstance(value, dict) or not pa.types.is_struct(t):
        return None
    names = {f.name for f in t}
    extra = {k: v for k, v in value.items() if k not in names}
    for f in t:
        if _is_nested(f.type):
            unknown = _unknown_of(value.get(f.name), f.type)
            if unknown is not None:
                extra[f.name] = unknown
    return extra or None


def json_values(payload: bytes) -> list[tuple[int, object]]:
    """JSON values written back to back (``{..}{..}``) or one per line, with their offsets."""
    try:
        return [(0, orjson.loads(payload))]
    except orjson.JSONDecodeError:
        pass
    text = payload.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    out: list[tuple[int, object]] = []
    position = 0
    while position < len(text):
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            out.append((len(text[:position].encode()), ValueError(error.msg)))
            break
        out.append((len(text[:position].encode()), value))
        position = end
    return out
