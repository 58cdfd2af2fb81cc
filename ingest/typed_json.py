"""JSON text straight into Arrow columns of a declared type, without one dict per record.

msgspec decodes each record into a slotted struct generated from the Arrow type (member names are
the JSON keys), so no dict is built per object and no value the type does not name is
materialised. A member the type does not declare is an error rather than a silent drop, and
members declared as JSON text keep the raw bytes of the input (``msgspec.Raw``): AWS's own text,
never re-serialised. The structs are then turned into Arrow arrays a column at a time through
C-level ``map``/``zip``. Any input that does not fit raises ``NotTyped``; callers then take their
general path, which isolates bad records and keeps unknown members.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Collection, Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

_ASTUPLE = msgspec.structs.astuple


class NotTyped(ValueError):
    """The input does not match the declared type (or is not JSON at all)."""


def _python_type(t: pa.DataType, name: str) -> Any:
    """The msgspec type that decodes JSON values of Arrow type ``t`` (None allowed)."""
    if pa.types.is_string(t):
        return str | None
    if pa.types.is_boolean(t):
        return bool | None
    if pa.types.is_integer(t):
        return int | None
    if pa.types.is_floating(t):
        return float | None
    if pa.types.is_map(t):
        return dict[str, _python_type(t.item_type, name)] | None  # type: ignore[misc]
    if pa.types.is_list(t):
        return list[_python_type(t.value_type, name)] | None  # type: ignore[misc]
    if pa.types.is_struct(t):
        return _struct_type(t, name) | None
    raise TypeError(f"no JSON decoding for Arrow type {t}")


def _struct_type(
    t: pa.StructType, name: str, raw: Collection[str] = (), loose: Collection[str] = ()
) -> type:
    members: list[tuple[str, Any, Any]] = []
    for field in t:
        if field.name in raw:
            members.append((field.name, msgspec.Raw, msgspec.Raw()))
        elif field.name in loose:
            members.append((field.name, Any, None))
        else:
            members.append((field.name, _python_type(field.type, f"{name}_{field.name}"), None))
    return msgspec.defstruct(name, members, gc=False, forbid_unknown_fields=True)


class TypedRecords:
    """Decoder for documents holding a list of records of one declared Arrow struct type.

    ``raw`` names top-level members kept as JSON text, ``loose`` members decoded as plain Python
    values (for fields AWS writes with more than one JSON type); ``container`` is the member of
    the document holding the records (``"Records"`` for CloudTrail), or None for a bare array.
    ``output_type``, of the same shape as ``record_type``, gives the columns other member names
    (a table's own names rather than the JSON keys), so they need no renaming afterwards.
    ``repeated`` names nested members whose values recur from record to record (CloudTrail's
    ``userIdentity``): they are read as raw text first, and each distinct text is decoded and
    converted once, then spread to its records natively.
    """

    def __init__(
        self,
        record_type: pa.StructType,
        *,
        raw: Collection[str] = (),
        loose: Collection[str] = (),
        container: str | None = None,
        output_type: pa.StructType | None = None,
        repeated: Collection[str] = (),
    ):
        self.record_type = record_type
        self.raw = frozenset(raw)
        self.loose = frozenset(loose)
        self.repeated = {
            name: msgspec.json.Decoder(list[_python_type(record_type.field(name).type, name)])  # type: ignore[misc]
            for name in repeated
        }
        self.record = _struct_type(record_type, "Record", self.raw | set(self.repeated), self.loose)
        self.names = [f.name for f in record_type]
        out = record_type if output_type is None else output_type
        self.types = {
            f.name: o.type
            for f, o in zip(record_type, out, strict=True)
            if f.name not in self.raw | self.loose
        }
        records = list[self.record]  # type: ignore[name-defined]
        self.container = container
        if container is None:
            self._decoder = msgspec.json.Decoder(records)
        else:
            document = msgspec.defstruct("Document", [(container, records)], gc=False)
            self._decoder = msgspec.json.Decoder(document)

    def decode(self, text: bytes) -> list:
        """The records of one document, as structs."""
        try:
            document = self._decoder.decode(text)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise NotTyped(str(error)) from None
        return document if self.container is None else getattr(document, self.container)

    def columns(self, records: list) -> dict[str, Any]:
        """Each top-level member as an Arrow array; ``loose`` members as Python lists."""
        if not records:
            transposed: list[Sequence] = [()] * len(self.names)
        else:
            transposed = list(zip(*map(_ASTUPLE, records), strict=True))
        out: dict[str, Any] = {}
        raw: dict[str, Sequence] = {}
        text: dict[str, Sequence] = {}
        for name, values in zip(self.names, transposed, strict=True):
            if name in self.raw:
                raw[name] = values
            elif name in self.repeated:
                out[name] = self._decode_distinct(name, values)
            elif name in self.loose:
                out[name] = list(values)
            elif pa.types.is_string(self.types[name]):
                text[name] = values
            else:
                out[name] = to_arrow(values, self.types[name])
        out |= _together(raw, raw_text_column)
        out |= _together(text, lambda values: pa.array(values, pa.string()))
        return out

    def _decode_distinct(self, name: str, raws: Sequence) -> pa.Array:
        """A ``repeated`` member: decode each distinct JSON text once, then take per record."""
        encoded = pc.dictionary_encode(raw_text_column(raws))  # absent and null stay null
        distinct = encoded.dictionary.cast(pa.binary()).to_pylist()
        try:
            values = self.repeated[name].decode(b"[" + b",".join(distinct) + b"]")
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise NotTyped(f"{name}: {error}") from None
        return to_arrow(values, self.types[name]).take(encoded.indices)


def _together(columns: dict[str, Sequence], convert: Callable[[list], pa.Array]) -> dict:
    """Columns of one type converted in one call and sliced apart (zero-copy): the fixed cost
    of a conversion (some ten Arrow calls for raw text) is paid once per chunk rather than once
    per member, as chunks of small deliveries are short."""
    if not columns:
        return {}
    n = len(next(iter(columns.values())))
    whole = convert(list(itertools.chain.from_iterable(columns.values())))
    return {name: whole.slice(i * n, n) for i, name in enumerate(columns)}


def to_arrow(values: Sequence, t: pa.DataType) -> pa.Array:
    """Decoded values (structs, lists, scalars or None) as an Arrow array of type ``t``."""
    if pa.types.is_struct(t):
        return _structs(values, t)
    if pa.types.is_list(t) and pa.types.is_struct(t.value_type):
        return _lists(values, t)
    return pa.array(values, t)


def _structs(values: Sequence, t: pa.StructType) -> pa.Array:
    n = len(values)
    if n == 0:
        return pa.array([], t)
    nulls = list(map(operator.is_, values, itertools.repeat(None)))
    mask = None
    if any(nulls):
        if all(nulls):
            return pa.nulls(n, t)
        filler = _filler(values)
        values = [filler if v is None else v for v in values]
        mask = pa.array(nulls, pa.bool_())
    children = [
        to_arrow(column, field.type)
        for column, field in zip(zip(*map(_ASTUPLE, values), strict=True), t, strict=True)
    ]
    return pa.StructArray.from_arrays(children, fields=list(t), mask=mask)


def _filler(values: Sequence) -> Any:
    """An instance of the values' struct type with every member unset (all defaults are None)."""
    sample = next(v for v in values if v is not None)
    return type(sample)()


def _lists(values: Sequence, t: pa.ListType) -> pa.Array:
    if not values:
        return pa.array([], t)
    nulls = list(map(operator.is_, values, itertools.repeat(None)))
    lengths = [0 if v is None else len(v) for v in values]
    offsets = pa.array(list(itertools.accumulate(lengths, initial=0)), pa.int32())
    child = to_arrow(list(itertools.chain.from_iterable(filter(None, values))), t.value_type)
    mask = pa.array(nulls, pa.bool_()) if any(nulls) else None
    return pa.ListArray.from_arrays(offsets, child, type=t, mask=mask)


def raw_text_column(raws: Sequence) -> pa.Array:
    """Raw JSON values as a string column; an absent member or JSON null becomes null.

    The values are joined into one buffer and their lengths become the offsets, so the text is
    copied once, natively; the cast validates UTF-8.
    """
    lengths = list(map(len, raws))
    total = sum(lengths)
    if total == 0:
        return pa.nulls(len(raws), pa.string())
    if total >= 1 << 31:
        return pa.array([bytes(r) or None for r in raws], pa.binary()).cast(pa.string())
    offsets = pa.array(list(itertools.accumulate(lengths, initial=0)), pa.int32())
    data = pa.py_buffer(b"".join(raws))
    text = pa.BinaryArray.from_buffers(
        pa.binary(), len(raws), [None, offsets.buffers()[1], data]
    ).cast(pa.string())
    absent = pc.or_(pc.equal(pa.array(lengths, pa.int32()), 0), pc.equal(text, "null"))
    return pc.if_else(absent, pa.scalar(None, pa.string()), text)
