"""CloudTrail log files (``{"Records": [...]}``) to rows of the Athena CloudTrail schema.

The hot path per batch: inflate and parse each file with orjson (the floor any reader pays), then
hand the parsed records to Arrow's C++ converter in one call per batch with the declared nested
type, so no Python code touches a field. Members that Athena declares as JSON text
(``requestParameters`` and friends) are serialised back with one orjson call per value through
``map`` and split into an Arrow column natively. Unknown members are found with one C-level set
union per batch; only when a batch holds some are its rows visited to keep them.
"""

from __future__ import annotations

import gc
import itertools
import json
import uuid

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from loglake.ingest.raw import (
    BadRecord,
    GzipError,
    Parsed,
    RawObject,
    gunzip,
    rename_like,
    snippet,
)
from loglake.ingest.schemas import (
    CLOUDTRAIL_FIELDS,
    CLOUDTRAIL_JSON_COLUMNS,
    CLOUDTRAIL_SCHEMA,
    EXTRA_FIELDS,
    SOURCE_KEY,
    USER_IDENTITY,
    _pl_to_arrow,
)


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
    pa.struct([pa.field(f.key, _pl_to_arrow(f.polars_read_type())) for f in STRUCT_FIELDS]),
    ("userIdentity", "sessionContext", "webIdFederationData", "attributes"),
)
KNOWN_KEYS = frozenset(f.key for f in CLOUDTRAIL_FIELDS)
KNOWN_IDENTITY_KEYS = frozenset(f.key for f in USER_IDENTITY)
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


def load_records(obj: RawObject, data: bytes) -> tuple[list | None, BadRecord | None]:
    """The records of one file; the file itself is the unit of failure for invalid JSON."""

    def bad(error: str, **where: int) -> tuple[None, BadRecord]:
        return None, BadRecord(obj.url, obj.etag, error, whole_object=True, **where)

    try:
        text = gunzip(data)
    except GzipError as error:
        return bad(str(error), byte_offset=error.byte_offset)
    if not text.strip():
        return bad("empty object" if obj.size else "0-byte object", byte_offset=0)
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        if b"\n{" in text and not text.lstrip().startswith(b'{"Records"'):
            return _ndjson_records(obj, text)
        return bad(f"invalid JSON: {error.msg}", byte_offset=error.pos, line=error.lineno)
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"], None
    if isinstance(doc, list):  # an array of records, as some exports and tools write them
        return doc, None
    if isinstance(doc, dict) and "eventTime" in doc:
        return [doc], None
    return bad('not a CloudTrail log file: no "Records" array', byte_offset=0)


def _ndjson_records(obj: RawObject, text: bytes) -> tuple[list, BadRecord | None]:
    """One record per line (files exported by log pipelines); bad lines are kept as text."""
    records: list = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            records.append(_Unparsed(line))
    return records, None


class _Unparsed:
    """A line that is not JSON; it is carried to the reader so it is quarantined in place."""

    def __init__(self, line: bytes):
        self.line = line


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
    Only a failing batch is split (in halves, down to the bad records).
    """
    bad: dict[int, str] = {}

    def find(start: int, end: int) -> None:
        try:
            pa.array(records[start:end], type=arrow_type)
        except (pa.ArrowException, TypeError, ValueError) as error:
            if end - start == 1:
                bad[start] = f"wrong shape: {str(error).splitlines()[0][:300]}"
                return
            middle = (start + end) // 2
            find(start, middle)
            find(middle, end)

    try:
        return pa.array(records, type=arrow_type), list(range(len(records))), bad
    except (pa.ArrowException, TypeError, ValueError):
        find(0, len(records))
    keep = [i for i in range(len(records)) if i not in bad]
    return pa.array([records[i] for i in keep], type=arrow_type), keep, bad


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


def parse(objects: list[RawObject], table_name: str = "cloudtrail") -> Parsed:
    """Parse a batch of CloudTrail files into one Arrow table of the CloudTrail schema."""
    # the batch's records are acyclic and short-lived: collector passes over them only cost time
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _parse(objects, table_name)
    finally:
        if enabled:
            gc.enable()


def _parse(objects: list[RawObject], table_name: str) -> Parsed:
    """Each object is converted on its own, so its Python objects are freed before the next one
    is parsed and memory stays bounded by one file."""
    parsed = Parsed()
    tables = []
    for obj in objects:
        records, bad = load_records(obj, obj.data or b"")
        if bad is not None:
            parsed.bad.append(bad)
            parsed.rows[obj.url] = 0
            continue
        table = _convert(obj, records, parsed)  # type: ignore[arg-type]
        del records
        if table is not None:
            out = [
                rename_like(table.column(f.name).combine_chunks(), f.type)
                for f in CLOUDTRAIL_SCHEMA
            ]
            tables.append(pa.Table.from_arrays(out, schema=CLOUDTRAIL_SCHEMA))
    if tables:
        # chunked, not copied; the committer sorts the batch (see runner.sort_for_commit)
        parsed.add(table_name, pa.concat_tables(tables))
    return parsed


def _convert(obj: RawObject, records: list, parsed: Parsed) -> pa.Table | None:
    """The records of one object as an Arrow table (columns still named as read)."""
    parsed.rows[obj.url] = len(records)
    if not records:
        return None
    struct, keep, bad_rows = convert_isolating(records, READ_TYPE)
    original = records
    if bad_rows:
        records = [records[i] for i in keep]
    eventtime = struct.field("eventTime")
    valid = pc.fill_null(pc.match_substring_regex(eventtime, _TIME), False)
    all_valid = pc.all(valid).as_py()
    if not all_valid:
        # a record without a usable event time cannot be placed in a day partition
        for position in pc.indices_nonzero(pc.invert(valid)).to_pylist():
            bad_rows[keep[position]] = "eventTime missing or not ISO-8601"
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
    columns: dict[str, pa.Array] = {f.name: struct.field(f.key) for f in STRUCT_FIELDS}
    keys = set().union(*map(dict.keys, records))
    for f in JSON_FIELDS + FLAG_FIELDS:
        if f.key not in keys:  # absent from the whole file: no need to look at any record
            columns[f.name] = pa.nulls(n, CLOUDTRAIL_SCHEMA.field(f.name).type)
        elif f in JSON_FIELDS:
            columns[f.name] = json_text_column(_member(records, f.key))
        else:
            columns[f.name] = flag_column(_member(records, f.key), as_text=f.name == "readonly")
    columns[EXTRA_FIELDS] = pa.array(_extra_fields(records, keys), pa.string())
    columns[SOURCE_KEY] = pa.nulls(n, pa.string()).fill_null(obj.url)
    account = struct.field("recipientAccountId")
    region = struct.field("awsRegion")
    if obj.layout.account:
        account = pa.nulls(n, pa.string()).fill_null(obj.layout.account)
    if obj.layout.region:
        region = pa.nulls(n, pa.string()).fill_null(obj.layout.region)
    columns["account"] = pc.fill_null(account, "unknown")
    columns["region"] = pc.fill_null(region, "unknown")
    columns["day"] = pc.utf8_slice_codeunits(eventtime, 0, 10)
    table = pa.table(columns)
    return table if all_valid else table.filter(valid)


def _extra_fields(records: list, keys: set[str]) -> list[str | None]:
    """JSON text of the members no column holds, per row (None when there are none).

    The set of keys of a whole batch is computed in C; rows are visited only when some record
    of the batch carries a key the schema does not know.
    """
    unknown = keys - KNOWN_KEYS
    identities = _member(records, "userIdentity")
    identity_unknown = set().union(*map(dict.keys, filter(None, identities))) - KNOWN_IDENTITY_KEYS
    if not unknown and not identity_unknown:
        return [None] * len(records)
    out: list[str | None] = []
    for record, identity in zip(records, identities, strict=True):
        extra = {k: record[k] for k in unknown if k in record}
        if identity_unknown and identity:
            members = {k: identity[k] for k in identity_unknown if k in identity}
            if members:
                extra["userIdentity"] = members
        out.append(_dump(extra).decode() if extra else None)
    return out
