"""JSON text files read as Athena's JSON SerDes read them.

Athena's JSON SerDes (``org.openx.data.jsonserde.JsonSerDe``,
``org.apache.hive.hcatalog.data.JsonSerDe``) match a column to a JSON key without regard to case
(``eventTime`` fills ``eventtime``, at every depth), honour ``mapping.<column>`` properties
(``'mapping.ts'='@timestamp'``), and read a JSON object or array given to a STRING column as its
JSON text (which is how CloudTrail's ``requestparameters`` is declared). The CloudTrail SerDe and
input format (``com.amazon.emr.hive.serde.CloudTrailSerde``,
``com.amazon.emr.cloudtrail.CloudTrailInputFormat``) read each file as one document and give a
row per member of its ``Records`` array.

The values are converted a column at a time, guided by the declared type: each level of nesting
costs a few passes of C-level iteration (``map``) over the values, not a Python walk per record.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from loglake.errors import CatalogError

#: the OpenX JSON SerDe: its parser lowers every object key (at every depth) when
#: ``case.insensitive`` is on, so a nested object read as STRING is JSON text with lower-case keys
OPENX_SERDE = "org.openx.data.jsonserde.JsonSerDe"
#: the SerDe and input format classes whose files are one document with a ``Records`` array
CLOUDTRAIL_CLASSES = (
    "com.amazon.emr.hive.serde.CloudTrailSerde",
    "com.amazon.emr.cloudtrail.CloudTrailInputFormat",
)
_EMPTY: dict = {}


@dataclass(frozen=True)
class JsonLayout:
    """How a table's JSON files are laid out and matched to its columns."""

    records_key: str | None = None  # "Records" for CloudTrail files, else one object per line
    case_insensitive: bool = True
    mapping: dict[str, str] = field(default_factory=dict)  # column name -> JSON key
    ignore_malformed: bool = False
    lower_text_keys: bool = False  # objects read as STRING have lower-case keys (OpenX)

    @classmethod
    def of(cls, serde: dict[str, Any]) -> JsonLayout:
        """The layout a table's SerDe settings describe (``serde`` as the catalog keeps it)."""
        params = {str(k).lower(): str(v) for k, v in (serde.get("parameters") or {}).items()}
        classes = (serde.get("serialization_library"), serde.get("input_format"))
        case_insensitive = params.get("case.insensitive", "true").lower() != "false"
        return cls(
            records_key="Records" if any(c in CLOUDTRAIL_CLASSES for c in classes) else None,
            case_insensitive=case_insensitive,
            lower_text_keys=case_insensitive and serde.get("serialization_library") == OPENX_SERDE,
            mapping={
                name[len("mapping.") :]: key
                for name, key in params.items()
                if name.startswith("mapping.")
            },
            ignore_malformed=params.get("ignore.malformed.json", "false").lower() == "true",
        )

    def keys_for(self, name: str, present: Iterable[str]) -> list[str]:
        """The JSON keys that fill the field ``name``, in order of preference."""
        wanted = self.mapping.get(name.lower(), name)
        if not self.case_insensitive:
            return [wanted] if wanted in present else []
        lowered = wanted.lower()
        found = [k for k in present if k.lower() == lowered]
        return sorted(found, key=lambda k: k != wanted)


def read_json_files(
    contents: dict[str, bytes],
    schema: pa.Schema,
    layout: JsonLayout,
    path_column: str | None = None,
) -> pa.Table:
    """The rows of JSON files (``{path: bytes}``, gzip or plain) as a table of ``schema``;
    ``path_column`` names a column given each row's file path."""
    records: list = []
    paths: list[str] = []
    for path, data in contents.items():
        found = _file_records(path, data, layout)
        records.extend(found)
        paths.extend(itertools.repeat(path, len(found)))
    rows = column(records, pa.struct(list(schema)), layout)
    table = pa.Table.from_arrays(rows.flatten(), schema=schema)
    if path_column is not None:
        table = table.append_column(path_column, pa.array(paths, pa.string()))
    return table


def _file_records(path: str, data: bytes, layout: JsonLayout) -> list:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise CatalogError(f"cannot read {path}: {error}") from None
    if layout.records_key is not None:
        try:
            doc = orjson.loads(data) if data.strip() else {}
        except orjson.JSONDecodeError as error:
            if layout.ignore_malformed:
                return []
            raise CatalogError(
                f"{path} line {error.lineno}: not valid JSON ({error.msg})"
            ) from None
        found = doc.get(layout.records_key) if isinstance(doc, dict) else None
        return [r if isinstance(r, dict) else None for r in found or ()]
    records = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            value = error
        if not isinstance(value, dict):
            if not layout.ignore_malformed:
                raise CatalogError(
                    f"{path} line {number}: not a JSON object; a table with the openx JsonSerDe "
                    "and 'ignore.malformed.json'='true' reads such lines as empty rows"
                )
            value = None
        records.append(value)
    return records


def column(values: list, t: pa.DataType, layout: JsonLayout) -> pa.Array:
    """``values`` (decoded JSON) as an Arrow array of ``t``; what cannot be read is null."""
    if pa.types.is_struct(t):
        return _struct_column(values, t, layout)
    if pa.types.is_map(t):
        return _map_column(values, t, layout)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _list_column(values, t, layout)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        try:
            return pa.array(values, t)
        except (pa.ArrowException, TypeError, ValueError):
            if layout.lower_text_keys:
                values = list(map(_lower_keys, values))
            return pa.array(map(as_text, values), t)
    try:
        return pa.array(values, t)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return _lenient_scalars(values, t)


def _struct_column(values: list, t: pa.StructType, layout: JsonLayout) -> pa.Array:
    objects = [v if type(v) is dict else _EMPTY for v in values]
    present = set().union(*map(dict.keys, objects))
    children = []
    for f in t:
        keys = layout.keys_for(f.name, present)
        if not keys:
            children.append(pa.nulls(len(values), f.type))
            continue
        member = list(map(dict.get, objects, itertools.repeat(keys[0])))
        for other in keys[1:]:
            spare = map(dict.get, objects, itertools.repeat(other))
            member = [a if a is not None else b for a, b in zip(member, spare, strict=True)]
        children.append(column(member, f.type, layout))
    mask = pa.array([type(v) is not dict for v in values], pa.bool_())
    return pa.StructArray.from_arrays(children, fields=list(t), mask=mask)


def _offsets(lengths: list[int], valid: list[bool]) -> pa.Array:
    ends = list(itertools.accumulate(lengths, initial=0))
    return pa.array(ends, pa.int32(), mask=pa.array([*(not v for v in valid), False]))


def _list_column(values: list, t: pa.DataType, layout: JsonLayout) -> pa.Array:
    valid = [type(v) is list for v in values]
    lists = [v if ok else () for v, ok in zip(values, valid, strict=True)]
    items = column(list(itertools.chain.from_iterable(lists)), t.value_type, layout)
    offsets = _offsets(list(map(len, lists)), valid)
    return pa.ListArray.from_arrays(offsets, items, type=pa.list_(t.value_field))


def _map_column(values: list, t: pa.MapType, layout: JsonLayout) -> pa.Array:
    valid = [type(v) is dict for v in values]
    objects = [v if ok else _EMPTY for v, ok in zip(values, valid, strict=True)]
    keys = column(list(itertools.chain.from_iterable(objects)), t.key_type, layout)
    items = column(
        list(itertools.chain.from_iterable(map(dict.values, objects))), t.item_type, layout
    )
    offsets = _offsets(list(map(len, objects)), valid)
    # MapArray takes nulls from the offsets' mask
    return pa.MapArray.from_arrays(offsets, keys, items, type=t)


def _lower_keys(value: Any) -> Any:
    """An object or array with every key in lower case at every depth (other values as given)."""
    if type(value) is dict:
        return {str(k).lower(): _lower_keys(v) for k, v in value.items()}
    if type(value) is list:
        return list(map(_lower_keys, value))
    return value


def as_text(value: Any) -> str | None:
    """A JSON value read as STRING: text as it is, true/false, numbers and objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _lenient_scalars(values: list, t: pa.DataType) -> pa.Array:
    """Scalars that Arrow refused as a whole: numbers given as text, ``"true"``, ISO times;
    a value of no readable kind is null, as the SerDes read it."""
    return pa.array([_scalar(v, t) for v in values], t)


def _scalar(value: Any, t: pa.DataType) -> Any:
    if value is None or isinstance(value, dict | list):
        return None
    if pa.types.is_boolean(t):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return True if text == "true" else False if text == "false" else None
    if isinstance(value, bool):
        return None
    try:
        if pa.types.is_integer(t):
            number = int(value) if not isinstance(value, str) else int(value.strip())
            info = pa.array([number], t)  # raises for values out of the type's range
            return info[0].as_py()
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return pc.cast(pa.array([str(value)]), t)[0].as_py()
        if pa.types.is_timestamp(t):
            if isinstance(value, int | float):
                return dt.datetime.fromtimestamp(value / 1000, dt.UTC).replace(tzinfo=None)
            parsed = dt.datetime.fromisoformat(str(value).strip().replace(" ", "T"))
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
            return parsed
        if pa.types.is_date(t):
            return dt.date.fromisoformat(str(value).strip()[:10])
    except (ValueError, TypeError, OverflowError, pa.ArrowException):
        return None
    return None
