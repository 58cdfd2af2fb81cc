"""CloudTrail log files (``{"Records": [...]}``) to rows of the Athena CloudTrail schema.

The hot path per batch: inflate and parse each file with orjson (the floor any reader pays),
write the records back out as NDJSON with one C call per record, and let Polars read all of them
in one native pass with the declared schema. Objects inside ``requestParameters`` and friends are
kept as JSON text by the reader, as Athena's JsonSerDe does. Python never touches a field.
"""

from __future__ import annotations

import bisect
import itertools

import orjson
import polars as pl
import pyarrow as pa

from loglake.ingest.raw import (
    BadRecord,
    GzipError,
    Parsed,
    RawObject,
    fix_json_text,
    gunzip,
    json_to_map,
    read_ndjson_isolating,
    replace_child,
    snippet,
    to_arrow_column,
)
from loglake.ingest.schemas import (
    CLOUDTRAIL_FIELDS,
    CLOUDTRAIL_JSON_COLUMNS,
    CLOUDTRAIL_SCHEMA,
    EXTRA_FIELDS,
    SOURCE_KEY,
    USER_IDENTITY,
    conform,
)

READ_SCHEMA = {f.key: f.polars_read_type() for f in CLOUDTRAIL_FIELDS}
KNOWN_KEYS = frozenset(READ_SCHEMA)
KNOWN_IDENTITY_KEYS = frozenset(f.key for f in USER_IDENTITY)
_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"
_WEBID_PATH = ("sessioncontext", "webidfederationdata", "attributes")


def load_records(obj: RawObject, data: bytes) -> tuple[list | None, BadRecord | None]:
    """The records of one file; the file itself is the unit of failure for invalid JSON."""

    def bad(error: str, **where: int) -> tuple[None, BadRecord]:
        return None, BadRecord(obj.url, obj.etag, error, whole_object=True, **where)

    try:
        text = gunzip(data)
    except GzipError as error:
        return bad(str(error), byte_offset=error.byte_offset)
    if not text.strip():
        return bad("empty object" if data else "0-byte object", byte_offset=0)
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
        return record.line.replace(b"\n", b" ")
    return orjson.dumps(record)


def parse(objects: list[RawObject], table_name: str = "cloudtrail") -> Parsed:
    """Parse a batch of CloudTrail files into one Arrow table of the CloudTrail schema."""
    parsed = Parsed()
    record_lists: list[list] = []
    owners: list[RawObject] = []
    for obj in objects:
        records, bad = load_records(obj, obj.data or b"")
        if bad is not None:
            parsed.bad.append(bad)
            parsed.rows[obj.url] = 0
            continue
        record_lists.append(records)  # type: ignore[arg-type]
        owners.append(obj)
    counts = [len(r) for r in record_lists]
    for obj, n in zip(owners, counts, strict=True):
        parsed.rows[obj.url] = n
    if sum(counts) == 0:
        return parsed

    lines: list[bytes] = []
    for records in record_lists:
        lines.extend(map(_dump, records))
    frame, bad_lines = read_ndjson_isolating(lines, READ_SCHEMA)

    starts = [0, *itertools.accumulate(counts)][:-1]

    def locate(line: int) -> tuple[RawObject, int, list]:
        index = bisect.bisect_right(starts, line) - 1
        while counts[index] == 0:  # files without records share their start with the next
            index += 1
        return owners[index], line - starts[index], record_lists[index]

    bad_rows: list[tuple[int, str]] = list(bad_lines)
    # a record without a usable event time cannot be placed in a day partition
    times = frame["eventTime"]
    invalid = frame.filter(~times.str.contains(_TIME).fill_null(False))
    if invalid.height:
        bad_rows.extend((int(i), "eventTime missing or not ISO-8601") for i in invalid["__line"])
        frame = frame.filter(times.str.contains(_TIME).fill_null(False))
    for line, error in sorted(bad_rows):
        obj, index, records = locate(line)
        parsed.bad.append(
            BadRecord(
                obj.url,
                obj.etag,
                f"record {index}: {error}",
                record_index=index,
                text=snippet(_dump(records[index])),
            )
        )
        parsed.rows[obj.url] -= 1
    if frame.height == 0:
        return parsed

    owner_of_line = (
        pl.Series(range(len(owners)), dtype=pl.Int64)
        .repeat_by(pl.Series(counts, dtype=pl.UInt32))
        .explode()
    )
    owner_index = owner_of_line.gather(frame["__line"])
    extras = _extra_fields(record_lists, owner_index, frame["__line"], starts)
    accounts = pl.Series([o.layout.account or "" for o in owners], dtype=pl.String)
    regions = pl.Series([o.layout.region or "" for o in owners], dtype=pl.String)
    urls = pl.Series([o.url for o in owners], dtype=pl.String).gather(owner_index)
    accounts, regions = accounts.gather(owner_index), regions.gather(owner_index)

    frame = frame.with_columns(
        [
            fix_json_text(pl.col(f.key)).alias(f.key)
            for f in CLOUDTRAIL_FIELDS
            if f.name in CLOUDTRAIL_JSON_COLUMNS
        ]
    ).with_columns(
        pl.Series(SOURCE_KEY, urls, dtype=pl.String),
        pl.Series("__account", accounts, dtype=pl.String),
        pl.Series("__region", regions, dtype=pl.String),
        pl.Series(EXTRA_FIELDS, extras, dtype=pl.String),
    )
    frame = frame.with_columns(
        pl.when(pl.col("__account") == "")
        .then(pl.col("recipientAccountId"))
        .otherwise(pl.col("__account"))
        .fill_null("unknown")
        .alias("account"),
        pl.when(pl.col("__region") == "")
        .then(pl.col("awsRegion"))
        .otherwise(pl.col("__region"))
        .fill_null("unknown")
        .alias("region"),
        pl.col("eventTime").str.slice(0, 10).alias("day"),
    ).sort(["account", "region", "day", "eventTime"])

    columns: dict[str, pa.Array] = {}
    for f in CLOUDTRAIL_FIELDS:
        target = CLOUDTRAIL_SCHEMA.field(f.name).type
        if f.name == "useridentity":
            columns[f.name] = _useridentity(frame[f.key], target)
        else:
            columns[f.name] = to_arrow_column(frame[f.key], target)
    for name in (EXTRA_FIELDS, SOURCE_KEY, "account", "region", "day"):
        columns[name] = to_arrow_column(frame[name], pa.string())
    parsed.add(table_name, conform(pa.table(columns), CLOUDTRAIL_SCHEMA))
    return parsed


def _useridentity(series: pl.Series, target: pa.DataType) -> pa.Array:
    """useridentity with web identity attributes turned from JSON text into a map."""
    read_target = pa.struct(
        [pa.field(f.name, f.type) for f in target]  # same shape, attributes still a string
    )
    read_target = _with_string_at(read_target, _WEBID_PATH)
    array = to_arrow_column(series, read_target)
    leaf = array
    for name in _WEBID_PATH:
        leaf = leaf.field(name)
    return replace_child(array, _WEBID_PATH, json_to_map(leaf))


def _with_string_at(t: pa.DataType, path: tuple[str, ...]) -> pa.DataType:
    if not path:
        return pa.string()
    return pa.struct(
        [
            pa.field(f.name, _with_string_at(f.type, path[1:]) if f.name == path[0] else f.type)
            for f in t
        ]
    )


def _extra_fields(
    record_lists: list[list], owners: pl.Series, lines: pl.Series, starts: list[int]
) -> list[str | None]:
    """JSON text of the members no column holds, per row (None when there are none).

    The set of keys of a whole batch is computed in C; rows are visited only when some record
    of the batch carries a key the schema does not know.
    """
    unknown: set[str] = set()
    identity_unknown: set[str] = set()
    for records in record_lists:
        try:
            unknown |= set().union(*map(dict.keys, records)) - KNOWN_KEYS
        except TypeError:  # a record that is not an object; it is quarantined elsewhere
            unknown |= set().union(*(r.keys() for r in records if isinstance(r, dict))) - KNOWN_KEYS
        identities = [r.get("userIdentity") for r in records if isinstance(r, dict)]
        identity_unknown |= (
            set().union(*(i.keys() for i in identities if isinstance(i, dict)))
            - KNOWN_IDENTITY_KEYS
        )
    if not unknown and not identity_unknown:
        return [None] * len(lines)
    out: list[str | None] = []
    for owner, line in zip(owners.to_list(), lines.to_list(), strict=True):
        record = record_lists[owner][line - starts[owner]]
        extra = {k: record[k] for k in unknown if k in record}
        identity = record.get("userIdentity")
        if identity_unknown and isinstance(identity, dict):
            members = {k: identity[k] for k in identity_unknown if k in identity}
            if members:
                extra["userIdentity"] = members
        out.append(orjson.dumps(extra).decode() if extra else None)
    return out
