"""Hive/Athena type strings, as Glue stores them, and their Arrow equivalents.

The catalog keeps column types as Hive type strings (``struct<arn:string,type:string>``) so that a
definition exported to Glue or printed by SHOW CREATE TABLE is exactly what Athena accepts.
"""

from __future__ import annotations

import re

import pyarrow as pa

from loglake.errors import CatalogError

_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "varchar": pa.string(),
    "char": pa.string(),
    "boolean": pa.bool_(),
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "real": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "binary": pa.binary(),
    "varbinary": pa.binary(),
}

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_$]*|`[^`]+`|\d+|[<>(),:])")


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.tokens: list[str] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match:
                if text[position:].strip() == "":
                    break
                raise CatalogError(f"invalid type {text!r} at position {position + 1}")
            self.tokens.append(match.group(1))
            position = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected):
            raise CatalogError(
                f"invalid type {self.text!r}: expected {expected or 'a type'}, found {token!r}"
            )
        self.index += 1
        return token

    def type(self) -> str:
        name = self.take().lower()
        if name == "array":
            self.take("<")
            inner = self.type()
            self.take(">")
            return f"array<{inner}>"
        if name == "map":
            self.take("<")
            key = self.type()
            self.take(",")
            value = self.type()
            self.take(">")
            return f"map<{key},{value}>"
        if name == "struct":
            self.take("<")
            fields = []
            while True:
                field_name = self.take().strip("`")
                self.take(":")
                fields.append(f"{field_name.lower()}:{self.type()}")
                if self.peek() == ",":
                    self.take(",")
                    continue
                self.take(">")
                return f"struct<{','.join(fields)}>"
        if name in ("decimal", "varchar", "char", "timestamp") and self.peek() == "(":
            self.take("(")
            args = [self.take()]
            while self.peek() == ",":
                self.take(",")
                args.append(self.take())
            self.take(")")
            if name == "timestamp":
                return "timestamp"
            return f"{name}({','.join(args)})"
        if name == "decimal":
            return "decimal(10,0)"
        if name not in _PRIMITIVES:
            raise CatalogError(f"unknown type {name!r} in {self.text!r}")
        return "int" if name == "integer" else name


def normalise_type(text: str) -> str:
    """Canonical lower-case Hive spelling of a type string; raises CatalogError if invalid."""
    reader = _Reader(text)
    result = reader.type()
    if reader.peek() is not None:
        raise CatalogError(f"invalid type {text!r}: unexpected {reader.peek()!r}")
    return result


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split at separators outside angle brackets and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p for p in (part.strip() for part in parts) if p]


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of no rows. ``pa.Schema.empty_table`` imports pandas when it is installed, which
    cost the first query of every process (each CLI command) about a second."""
    return pa.Table.from_batches([], schema=schema)


def to_arrow(text: str) -> pa.DataType:
    """Arrow type for a Hive type string."""
    canonical = normalise_type(text)
    return _to_arrow(canonical)


def _to_arrow(canonical: str) -> pa.DataType:
    if canonical.startswith("array<"):
        return pa.list_(_to_arrow(canonical[6:-1]))
    if canonical.startswith("map<"):
        key, value = split_top_level(canonical[4:-1])
        return pa.map_(_to_arrow(key), _to_arrow(value))
    if canonical.startswith("struct<"):
        fields = []
        for item in split_top_level(canonical[7:-1]):
            name, _, inner = item.partition(":")
            fields.append(pa.field(name, _to_arrow(inner)))
        return pa.struct(fields)
    if canonical.startswith("decimal("):
        precision, scale = (int(x) for x in canonical[8:-1].split(","))
        return pa.decimal128(precision, scale)
    base = canonical.split("(", 1)[0]
    return _PRIMITIVES[base]


def from_arrow(data_type: pa.DataType) -> str:
    """Hive type string for an Arrow type (the closest type Athena can read)."""
    t = data_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    simple = {
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint8(): "smallint",
        pa.uint16(): "int",
        pa.uint32(): "bigint",
        pa.uint64(): "bigint",
        pa.float16(): "float",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.date32(): "date",
        pa.date64(): "date",
    }
    if t in simple:
        return simple[t]
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return "binary"
    if pa.types.is_map(t):
        return f"map<{from_arrow(t.key_type)},{from_arrow(t.item_type)}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return f"array<{from_arrow(t.value_type)}>"
    if pa.types.is_struct(t):
        inner = ",".join(
            f"{t.field(i).name}:{from_arrow(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"struct<{inner}>"
    if pa.types.is_dictionary(t):
        return from_arrow(t.value_type)
    if pa.types.is_null(t):
        return "string"
    raise CatalogError(f"no Athena type for Arrow type {t}")
