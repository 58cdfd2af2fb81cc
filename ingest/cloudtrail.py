"""CloudTrail log files (``{"Records": [...]}``) to rows of the Athena CloudTrail schema.

Two paths give the same rows. The typed path (every file AWS delivers) decodes a file straight
into slotted structs of the declared schema with msgspec, keeps the JSON-text members
(``requestParameters`` and friends) as the file's own bytes, and builds the Arrow columns a member
at a time (see ``typed_json``): no dict per record, no re-serialisation. A file the typed path
refuses (a member the schema does not know, a value of an unexpected JSON type, a pretty-printed
or NDJSON file, invalid JSON) takes the general path: orjson to dicts, Arrow's converter with
bad records isolated, JSON-text members serialised back by orjson, unknown members kept in
``extrafields``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import json
import operator
import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from loglake.catalog.json_serde import as_text
from loglake.ingest.layout import ACCOUNT, DATE, REGION, Layout, delivery_day, stamp_hour
from loglake.ingest.ocsf import views_over
from loglake.ingest.raw import (
    BadRecord,
    GzipError,
    Parsed,
    RawObject,
    gunzip,
    is_gzip,
    json_values,
    rename_like,
    snippet,
    unknown_members,
)
from loglake.ingest.record_mapping import RecordMapping, Unmapped, mapping_for
from loglake.ingest.schemas import (
    CLOUDTRAIL_FIELDS,
    CLOUDTRAIL_JSON_COLUMNS,
    CLOUDTRAIL_SCHEMA,
    EXTRA_FIELDS,
    PARTITION_COLUMNS,
    SOURCE_KEY,
    TableSpec,
    pl_to_arrow,
)
from loglake.ingest.source import Kind, Source
from loglake.ingest.typed_json import NotTyped, TypedRecords


def _map_at(t: pa.DataType, path: tuple[str, ...]) -> pa.DataType:
    """``t`` with the member at ``path`` (JSON keys) typed MAP<STRING,STRING>."""
    if not path:
        return pa.map_(pa.string(), pa.string())
    return pa.struct(
        [pa.field(f.name, _map_at(f.type, path[1:]) if f.name == path[0] else f.type) for f in t]
    )


JSON_FIELDS = [f for f in CLOUDTRAIL_FIELDS if f.name in CLOUDTRAIL_JSON_COLUMNS]
FLAG_FIELDS = [f for f in CLOUDTRAIL_FIELDS if f.key in ("readOnly", "managementEvent")]
STRUCT_FIELDS = [f for f in CLOUDTRAIL_FIELDS if f not in JSON_FIELDS and f not in FLAG_FIELDS]
#: the nested Arrow type records are converted to, with the JSON keys as member names
READ_TYPE = _map_at(
    pa.struct([pa.field(f.key, pl_to_arrow(f.polars_read_type())) for f in STRUCT_FIELDS]),
    ("userIdentity", "sessionContext", "webIdFederationData", "attributes"),
)
#: every member of a record, for the typed path: JSON-text members raw, flags as read
TYPED = TypedRecords(
    pa.struct([*READ_TYPE, *(pa.field(f.key, pa.string()) for f in JSON_FIELDS + FLAG_FIELDS)]),
    raw={f.key for f in JSON_FIELDS},
    loose={f.key for f in FLAG_FIELDS},
    container="Records",
    repeated={"userIdentity"},
    output_type=pa.struct(
        [CLOUDTRAIL_SCHEMA.field(f.name) for f in STRUCT_FIELDS + JSON_FIELDS + FLAG_FIELDS]
    ),
)
#: how much of a file shows whether it was written compactly (see is_compact): a file written
#: with spaces has them after its first key already, and a small prefix keeps the check cheap
#: for the many small files of a trail
STYLE_PREFIX = 1 << 12
_EVENT_TIME = operator.attrgetter("eventTime")
#: typed files are converted together up to about this many records (see _parse): enough to
#: spread per-call costs over many small deliveries; larger chunks convert more slowly
TYPED_CHUNK_RECORDS = 1024
#: an ISO-8601 time as CloudTrail writes it: fields in range, optional fraction, Z or an offset
_TIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$"
)
_OFFSET = r"[+-]\d{2}:?\d{2}$"


def load_records(
    obj: RawObject, data: bytes, mapping: RecordMapping | None = None
) -> tuple[list | None, BadRecord | None]:
    """The records of one file; the file itself is the unit of failure for invalid JSON. With a
    ``mapping``, the events its records hold (a record the mapping cannot place stays, as text
    with the reason, to be quarantined in place)."""

    def bad(error: str, byte_offset: int, line: int | None = None) -> tuple[None, BadRecord]:
        record = BadRecord(
            obj.url, obj.etag, error, line=line, byte_offset=byte_offset, whole_object=True
        )
        return None, record

    try:
        text = gunzip(data)
    except GzipError as error:
        return bad(str(error), byte_offset=error.byte_offset)
    if not text.strip():
        return bad("empty object" if obj.size else "0-byte object", byte_offset=0)
    if _EXPORT_LINE.match(text):  # a CloudWatch Logs export of a log group CloudTrail writes to
        return _mapped(_export_records(text), mapping or RecordMapping("message")), None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if b"\n{" in text and not text.lstrip().startswith(b'{"Records"'):
            records = _ndjson_records(text)
            return (_mapped(records, mapping) if mapping else records), None
        if mapping:  # JSON values back to back, as Firehose writes subscription payloads
            values = json_values(text)
            records = [
                _Unparsed(text[where:], f"invalid JSON: {value}")
                if isinstance(value, Exception)
                else value
                for where, value in values
            ]
            return _mapped(records, mapping), None
        return bad(f"invalid JSON: {error.msg}", byte_offset=error.pos, line=error.lineno)
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        records = [doc] if mapping and mapping.envelope else doc["Records"]
    elif isinstance(doc, list):  # an array of records, as some exports and tools write them
        records = doc
    elif mapping or (isinstance(doc, dict) and "eventTime" in doc):
        records = [doc]
    else:
        return bad('not a CloudTrail log file: no "Records" array', byte_offset=0)
    return (_mapped(records, mapping) if mapping else records), None


#: how each event of a CloudWatch Logs export chunk starts: its time and one space
_EXPORT_LINE = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z ")


def _export_records(text: bytes) -> list:
    """The events of an export chunk as ``{"timestamp": ..., "message": ...}`` records; a line
    that does not start with a time continues the message above it."""
    records: list = []
    for line in text.splitlines():
        if _EXPORT_LINE.match(line):
            stamp, _, message = line.partition(b" ")
            records.append(
                {"timestamp": stamp.decode(), "message": message.decode("utf-8", "replace")}
            )
        elif records and line:
            records[-1]["message"] += "\n" + line.decode("utf-8", "replace")
    return records


def _mapped(records: list, mapping: RecordMapping) -> list:
    """The events of each record, in order; a record the mapping cannot place is kept as its
    text with the reason, so it is quarantined in place and the others go on."""
    events: list = []
    for record in records:
        if isinstance(record, _Unparsed):
            events.append(record)
            continue
        events.extend(
            _Unparsed(_dump(e.value), str(e)) if isinstance(e, Unmapped) else e
            for e in mapping.events(record)
        )
    return events


def _ndjson_records(text: bytes) -> list:
    """One record per line (files exported by log pipelines); bad lines are kept as text."""
    records: list = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            records.append(_Unparsed(line))
    return records


class _Unparsed:
    """A line that is not JSON (or a record a mapping cannot place); it is carried to the reader
    so it is quarantined in place, with its reason."""

    def __init__(self, line: bytes, reason: str = "not JSON"):
        self.line = line
        self.reason = reason


def _dump(record: object) -> bytes:
    if isinstance(record, _Unparsed):
        return record.line
    try:
        return orjson.dumps(record)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode()


def convert_isolating(records: list, arrow_type: pa.DataType) -> tuple[pa.Array, list[int], dict]:
    """Convert records to ``arrow_type`` in one native call; isolate the ones that do not fit.

    Returns the array, the indices of the records it holds and {index: error} for the others.
    Only a failing batch is looked at record by record: each is put in the shape the type wants
    by :func:`fit` (AWS sends some members in other JSON types; ``records`` is updated in place),
    a record that fits no way is set aside with the member named, and what Arrow still refuses
    is found by splitting in halves.
    """
    try:
        return pa.array(records, type=arrow_type), list(range(len(records))), {}
    except (pa.ArrowException, TypeError, ValueError):
        pass
    bad: dict[int, str] = {}
    for index, record in enumerate(records):
        try:
            records[index] = fit(record, arrow_type)
        except _Misfit as misfit:
            bad[index] = f"wrong type: {misfit}"
    candidates = [i for i in range(len(records)) if i not in bad]

    def find(start: int, end: int) -> None:
        try:
            pa.array([records[i] for i in candidates[start:end]], type=arrow_type)
        except (pa.ArrowException, TypeError, ValueError) as error:
            if end - start == 1:
                bad[candidates[start]] = f"wrong shape: {str(error).splitlines()[0][:300]}"
                return
            middle = (start + end) // 2
            find(start, middle)
            find(middle, end)

    find(0, len(candidates))
    keep = [i for i in candidates if i not in bad]
    return pa.array([records[i] for i in keep], type=arrow_type), keep, bad


_INTEGER = re.compile(r"-?\d+")


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _arrow_kind(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "a string"
    if pa.types.is_boolean(t):
        return "a boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "a number"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "an object"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "an array"
    return str(t)


class _Misfit(ValueError):
    """A member whose JSON type cannot be read as its column's type; names the member."""


def fit(value: Any, t: pa.DataType, path: str = "") -> Any:
    """``value`` in the shape ``t`` wants, accepting the JSON types AWS writes for the same member
    (``true`` or ``"true"``, ``5`` or ``"5"``; an object where text is expected is kept as its
    JSON text); raises ``_Misfit`` naming the member that fits no way."""
    if value is None:
        return None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return as_text(value)
    if pa.types.is_boolean(t):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif pa.types.is_integer(t):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value)
    elif pa.types.is_floating(t):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return float(value)
    elif pa.types.is_struct(t):
        if isinstance(value, dict):
            fitted = dict(value)
            for field in t:
                if field.name in value:
                    fitted[field.name] = fit(value[field.name], field.type, f"{path}.{field.name}")
            return fitted
    elif pa.types.is_map(t):
        if isinstance(value, dict):
            return {str(k): fit(v, t.item_type, f"{path}.{k}") for k, v in value.items()}
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        if isinstance(value, list):
            return [fit(v, t.value_type, f"{path}[{i}]") for i, v in enumerate(value)]
    else:
        return value
    if isinstance(value, _Unparsed):
        raise _Misfit("not JSON")
    member = path.lstrip(".") or "the record"
    raise _Misfit(
        f"{member}: expected {_arrow_kind(t)}, got {_json_kind(value)} "
        f"{(snippet(_dump(value)) or '')[:40]}"
    )


def json_text_column(values: list) -> pa.Array:
    """Each value as compact JSON text (null stays null), serialised by orjson in one call.

    The values are written as one JSON array with a random sentinel string between them, and
    the text is split on the sentinel natively; the sentinel cannot occur unescaped inside a
    value, and the split count is checked anyway.
    """
    sentinel = f"\u0001{uuid.uuid4().hex}\u0001"
    separator = "," + orjson.dumps(sentinel).decode() + ","
    interleaved = list(itertools.chain.from_iterable(zip(values, itertools.repeat(sentinel))))
    try:
        text = orjson.dumps(interleaved).decode()
    except TypeError:
        text = "[" + separator.join(_dump(v).decode() for v in values) + separator[:-1] + "]"
    body = text[1 : -(len(separator) - 1 + 1)]  # drop "[" and the last sentinel with "]"
    column = pc.split_pattern(pa.array([body]), separator).flatten()
    if len(column) != len(values):
        column = pa.array([_dump(v).decode() for v in values], pa.string())
    return pc.if_else(pc.equal(column, "null"), pa.scalar(None, pa.string()), column)


def flag_column(values: list, as_text: bool) -> pa.Array:
    """readOnly (Athena: STRING "true"/"false") and managementEvent (BOOLEAN)."""
    try:
        column = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError):
        column = pa.array([None if v is None else str(v).lower() for v in values], pa.string())
    if pa.types.is_null(column.type):
        column = column.cast(pa.string())
    if as_text:
        return column.cast(pa.string())
    if pa.types.is_boolean(column.type):
        return column
    text = pc.utf8_lower(column.cast(pa.string()))
    return pc.if_else(
        pc.equal(text, "true"), True, pc.if_else(pc.equal(text, "false"), False, None)
    )


def _member(records: list, key: str) -> list:
    """``[r.get(key) for r in records]`` without a Python-level loop."""
    return list(map(dict.get, records, itertools.repeat(key)))


def parse(
    objects: list[RawObject],
    table_name: str = "cloudtrail",
    mappings: dict[str, RecordMapping] | None = None,
) -> Parsed:
    """Parse a batch of CloudTrail files into one Arrow table of the CloudTrail schema; objects
    under a prefix of ``mappings`` hold events in another envelope or with another time field."""
    # the batch's records are acyclic and short-lived: collector passes over them only cost time
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(objects, table_name, mappings or {})
    finally:
        if enabled:
            gc.enable()


def _parse(objects: list[RawObject], table_name: str, mappings: dict[str, RecordMapping]) -> Parsed:
    """Files the typed path takes are decoded one at a time and converted together, a chunk of
    up to ``TYPED_CHUNK_RECORDS`` records at a time: the per-call costs of the conversion are
    paid once for many small deliveries, and memory stays bounded by a chunk."""
    parsed = Parsed()
    tables: list[pa.Table] = []
    chunk: list[tuple[RawObject, list]] = []
    size = 0
    for obj in objects:
        mapping = mapping_for(obj.url, mappings)
        if mapping:  # not CloudTrail's own shape: the general path
            tables.extend(_convert_general(obj, parsed, mapping))
            continue
        try:
            records = _decode_typed(obj)
        except (NotTyped, TypeError):
            tables.extend(_convert_general(obj, parsed))
            continue
        chunk.append((obj, records))
        size += len(records)
        if size >= TYPED_CHUNK_RECORDS:
            tables.extend(_convert_chunk(chunk, parsed))
            chunk, size = [], 0
    if chunk:
        tables.extend(_convert_chunk(chunk, parsed))
    if tables:
        # chunked, not copied. Files are put in commit order (partition, then time) and the
        # typed path sorts each file's records by event time, so a batch of AWS deliveries is
        # usually in order already and the committer's sort (runner.sort_for_commit) moves nothing
        tables.sort(key=_commit_position)
        parsed.add(table_name, pa.concat_tables(tables))
    return parsed


def _commit_position(table: pa.Table) -> tuple:
    return tuple(table[name][0].as_py() or "" for name in (*PARTITION_COLUMNS, "eventtime"))


def _file_position(item: tuple[RawObject, list]) -> tuple:
    """Where a typed file's rows go in commit order, judged by its first (earliest) record."""
    obj, records = item
    first = records[0]
    account = obj.layout.account or first.recipientAccountId or ""
    region = obj.layout.region or first.awsRegion or ""
    return (account, region, first.eventTime[:10], first.eventTime)


def is_compact(text: bytes) -> bool:
    """Written without whitespace between tokens, as AWS writes its files: then JSON-text members
    can be kept byte for byte and match what the general path writes. Pretty-printed files (line
    breaks) and ``json.dumps``-style files (``": `` after each key, so within the first bytes)
    take the general path, which re-serialises compactly.

    A raw line break can only be whitespace between tokens; inside a string a quote is escaped,
    so ``\\": `` (common in policy documents held as strings) is not a separator.
    """
    newline = text.find(b"\n")
    if newline != -1 and text[newline:].strip():
        return False
    head = text[:STYLE_PREFIX]
    separators = head.count(b'": ')
    return separators == 0 or separators == head.count(b'\\": ')


def usable_times(eventtime: pa.Array) -> pa.Array:
    """Which records have a valid ISO-8601 event time (needed to place them in a day partition).

    The pattern checks each field's range; the few distinct days of a batch are then checked as
    calendar dates (no February 30th), so the check stays native and cheap per record.
    """
    shaped = pc.fill_null(pc.match_substring_regex(eventtime, _TIME), False)
    days = pc.utf8_slice_codeunits(eventtime, 0, 10)
    impossible = [d for d in pc.unique(pc.filter(days, shaped)).to_pylist() if not _is_date(d)]
    if impossible:
        shaped = pc.and_(shaped, pc.invert(pc.is_in(days, pa.array(impossible, pa.string()))))
    return shaped


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def utc_days(eventtime: pa.Array) -> pa.Array:
    """The UTC day of each (valid) event time: a time with an offset may fall on another day."""
    days = pc.utf8_slice_codeunits(eventtime, 0, 10)
    offset = pc.fill_null(pc.match_substring_regex(eventtime, _OFFSET), False)
    if not pc.any(offset).as_py():
        return days
    shifted = [
        dt.datetime.fromisoformat(text).astimezone(dt.UTC).date().isoformat()
        for text in pc.filter(eventtime, offset).to_pylist()
    ]
    return pc.replace_with_mask(days, offset, pa.array(shifted, pa.string()))


def _decode_typed(obj: RawObject) -> list:
    """A file's records as structs, sorted by event time; raises ``NotTyped`` (or TypeError for a
    record without an event time) for a file the typed path does not take."""
    text = obj.data or b""
    if is_gzip(text):
        try:
            text = obj.data = gunzip(text)  # kept inflated, should the general path take it
        except GzipError as error:
            raise NotTyped(str(error)) from None
    if not is_compact(text):
        raise NotTyped("not a compact JSON document")
    records = TYPED.decode(text)
    if not records:
        raise NotTyped("no records")  # the general path tells an empty file from a bad one
    # a missing event time fails the comparison (TypeError): the general path quarantines it
    records.sort(key=_EVENT_TIME)
    return records


def _convert_chunk(chunk: list[tuple[RawObject, list]], parsed: Parsed) -> list[pa.Table]:
    """Decoded files as one table; if the chunk is refused, each file on its own, so one odd
    file takes the general path alone."""
    chunk.sort(key=_file_position)
    try:
        return [_convert_typed(chunk, parsed)]
    except (NotTyped, pa.ArrowException, TypeError, ValueError):
        if len(chunk) == 1:
            return _convert_general(chunk[0][0], parsed)
        return [table for item in chunk for table in _convert_chunk([item], parsed)]


def _convert_typed(chunk: list[tuple[RawObject, list]], parsed: Parsed) -> pa.Table:
    """The typed path's columns for decoded files; raises ``NotTyped`` (or an Arrow error)."""
    records = list(itertools.chain.from_iterable(r for _, r in chunk))
    members = TYPED.columns(records)
    eventtime = members["eventTime"]
    if not pc.all(usable_times(eventtime)).as_py():
        raise NotTyped("a record without a usable event time")  # quarantined by the general path
    n = len(records)
    del records
    columns = {f.name: members[f.key] for f in STRUCT_FIELDS + JSON_FIELDS}
    for f in FLAG_FIELDS:
        columns[f.name] = flag_column(members[f.key], as_text=f.name == "readonly")
    columns[EXTRA_FIELDS] = pa.nulls(n, pa.string())  # the typed path refuses unknown members
    owners = [obj for obj, _ in chunk]
    counts = [len(r) for _, r in chunk]
    for obj, count in zip(owners, counts, strict=True):
        parsed.rows[obj.url] = count
    return _with_partitions(owners, counts, columns, eventtime)


def _convert_general(
    obj: RawObject, parsed: Parsed, mapping: RecordMapping | None = None
) -> list[pa.Table]:
    """The general path: orjson to dicts, bad records isolated, unknown members kept."""
    records, bad = load_records(obj, obj.data or b"", mapping)
    if bad is not None:
        parsed.bad.append(bad)
        parsed.rows[obj.url] = 0
        return []
    table = _convert(obj, records, parsed)  # type: ignore[arg-type]
    return [] if table is None else [table]


def _convert(obj: RawObject, records: list, parsed: Parsed) -> pa.Table | None:
    """The records of one object as an Arrow table (columns still named as read)."""
    parsed.rows[obj.url] = len(records)
    if not records:
        return None
    original = records
    # a record that is not a JSON object (null, a number, a line that is not JSON) is bad alone
    objects = [i for i, record in enumerate(original) if isinstance(record, dict)]
    bad_rows = {
        i: record.reason if isinstance(record, _Unparsed) else "not a JSON object"
        for i, record in enumerate(original)
        if not isinstance(record, dict)
    }
    candidates = [original[i] for i in objects] if bad_rows else original
    struct, kept, converted_bad = convert_isolating(candidates, READ_TYPE)
    keep = [objects[i] for i in kept]
    bad_rows |= {objects[i]: error for i, error in converted_bad.items()}
    if bad_rows:
        records = [original[i] for i in keep]
    eventtime = struct.field("eventTime")
    valid = usable_times(eventtime)
    all_valid = pc.all(valid).as_py()
    if not all_valid:
        # a record without a usable event time cannot be placed in a day partition
        for position in pc.indices_nonzero(pc.invert(valid)).to_pylist():
            value = eventtime[position].as_py()
            bad_rows[keep[position]] = (
                "eventTime missing (an event under a key or a time of another name is read "
                "with --envelope PATH / --time-field NAME)"
                if value is None
                else f"eventTime {str(value)[:40]!r} is not a valid ISO-8601 time"
            )
    for index, error in sorted(bad_rows.items()):
        parsed.bad.append(
            BadRecord(
                obj.url,
                obj.etag,
                f"record {index}: {error}",
                record_index=index,
                text=snippet(_dump(original[index])),
            )
        )
        parsed.rows[obj.url] -= 1
    if not records or parsed.rows[obj.url] == 0:
        return None
    n = len(records)
    columns: dict[str, pa.Array] = {
        f.name: rename_like(struct.field(f.key), CLOUDTRAIL_SCHEMA.field(f.name).type)
        for f in STRUCT_FIELDS
    }
    keys = set().union(*map(dict.keys, records))
    for f in JSON_FIELDS + FLAG_FIELDS:
        if f.key not in keys:  # absent from the whole file: no need to look at any record
            columns[f.name] = pa.nulls(n, CLOUDTRAIL_SCHEMA.field(f.name).type)
        elif f in JSON_FIELDS:
            columns[f.name] = json_text_column(_member(records, f.key))
        else:
            columns[f.name] = flag_column(_member(records, f.key), as_text=f.name == "readonly")
    columns[EXTRA_FIELDS] = pa.array(unknown_members(records, TYPED.record_type), pa.string())
    table = _with_partitions([obj], [n], columns, eventtime)
    return table if all_valid else table.filter(valid)


def _with_partitions(
    owners: list[RawObject], counts: list[int], columns: dict[str, pa.Array], eventtime: pa.Array
) -> pa.Table:
    """Add lineage and the partition columns to the rows of consecutive files (``counts[i]``
    rows of ``owners[i]``): account and region from the key when it has them, as AWS's delivery
    path is authoritative, else from the record; the day from the event time."""
    columns[SOURCE_KEY] = _per_row([o.url for o in owners], counts)
    account = _per_row([o.layout.account or None for o in owners], counts)
    region = _per_row([o.layout.region or None for o in owners], counts)
    columns["account"] = pc.coalesce(account, columns["recipientaccountid"], "unknown")
    columns["region"] = pc.coalesce(region, columns["awsregion"], "unknown")
    columns["day"] = utc_days(eventtime)
    return pa.Table.from_arrays(
        [columns[f.name] for f in CLOUDTRAIL_SCHEMA], schema=CLOUDTRAIL_SCHEMA
    )


def _per_row(values: list[str | None], counts: list[int]) -> pa.Array:
    """One value per file spread over the file's rows (every count above zero), natively."""
    ends = pa.array(list(itertools.accumulate(counts)), pa.int32())
    return pc.run_end_decode(pa.RunEndEncodedArray.from_arrays(ends, pa.array(values, pa.string())))


# ---------------------------------------------------------------- the source record
_KEY = re.compile(
    rf"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?{ACCOUNT}/(?P<svc>CloudTrail|CloudTrail-Insight|"
    rf"CloudTrail-Digest|CloudTrail-NetworkActivity|CloudTrail-Aggregated)/{REGION}/{DATE}/"
    r"(?P<name>[^/]+\.json(?:\.gz)?)$"
)
#: a delivered file's name anywhere (copies out of a bucket)
_NAME = re.compile(
    rf"(?:^|/){ACCOUNT}_CloudTrail(?P<svc>-Insight|-Digest)?_{REGION}_"
    r"(?P<ymd>\d{8})T(?P<hh>\d{2})\d{2}Z_[A-Za-z0-9]+\.json(?:\.gz)?$"
)
_KIND_OF_FOLDER = {
    "CloudTrail-Insight": "cloudtrail_insight",
    "CloudTrail-Digest": "cloudtrail_digest",
}
_KIND_OF_NAME = {"-Insight": "cloudtrail_insight", "-Digest": "cloudtrail_digest"}


def recognise(key: str) -> Layout | None:
    """Trail deliveries (``AWSLogs/[o-org/]ACCOUNT/CloudTrail*/REGION/Y/M/D/``), and trail
    file names anywhere."""
    if (m := _KEY.search(key)) is not None:
        kind = _KIND_OF_FOLDER.get(m["svc"], "cloudtrail")
        day = delivery_day(m["y"], m["m"], m["d"])
        return Layout(kind, m["account"], m["region"], day, stamp_hour(m["name"]))
    if (m := _NAME.search(key)) is not None:
        kind = _KIND_OF_NAME.get(m["svc"] or "", "cloudtrail")
        ymd = m["ymd"]
        day = delivery_day(ymd[:4], ymd[4:6], ymd[6:])
        return Layout(kind, m["account"], m["region"], day, int(m["hh"]))
    return None


def _loose(key: str) -> Layout | None:
    return Layout("cloudtrail") if re.search(r"\.json(l|\.gz)?$", key) else None


def _adopt(layout: Layout) -> Layout | None:
    """CloudTrail events sent to CloudWatch Logs, then to S3 by a subscription through Firehose
    or by an export task, read as CloudTrail when a run names the source."""
    if layout.kind in ("firehose", "cloudwatch_export"):
        return Layout("cloudtrail", day=layout.day, hour=layout.hour, detail=layout.detail)
    return None


def _parse_for(objects: list[RawObject], table: str, options: Mapping[str, Any]) -> Parsed:
    return parse(objects, table, options.get("record_mappings"))


SOURCE = Source(
    name="cloudtrail",
    title="CloudTrail",
    kinds=(
        Kind("cloudtrail", "cloudtrail"),
        Kind("cloudtrail_insight", "cloudtrail_insights"),
        Kind("cloudtrail_digest", None),
    ),
    tables=(
        TableSpec(
            "cloudtrail", CLOUDTRAIL_SCHEMA, "eventtime", "CloudTrail management and data events"
        ),
        TableSpec(
            "cloudtrail_insights", CLOUDTRAIL_SCHEMA, "eventtime", "CloudTrail Insights events"
        ),
    ),
    recognise=recognise,
    parse=_parse_for,
    loose=_loose,
    views=views_over("cloudtrail"),
    adopt=_adopt,
    guide_views={"cloudtrail_logs": lambda database: f"SELECT * FROM {database}.cloudtrail"},
    docs="docs/ingest.md#tables",
)
