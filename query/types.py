"""SQL types as the query layer sees them: Polars dtypes, Trino type names and sqlglot DataTypes.

Frames carry Polars dtypes; sqlglot's qualifier needs a schema of Trino type names; CAST targets
arrive as sqlglot DataTypes. This module converts between the three and holds Trino's rules for
which implicit coercions exist (and which it refuses).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Sequence
from typing import cast

import polars as pl
from polars.datatypes import DataTypeClass
from sqlglot import exp


def literal_python(
    node: exp.Literal, *, exact: bool = False
) -> str | int | float | decimal.Decimal:
    """The Python value of a SQL literal: its text, an int, or a number with a fraction (a
    ``Decimal`` when ``exact``, as Trino types ``1.5``, else a float); an exponent makes a double."""
    text = node.this
    if node.is_string:
        return text
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if exact and "e" not in text.lower():
        return decimal.Decimal(text)
    return float(text)


#: the Polars duration suffix of each Trino date/time unit (date_add, date_trunc, INTERVAL)
DURATION_SUFFIX = {
    "millisecond": "ms",
    "second": "s",
    "minute": "m",
    "hour": "h",
    "day": "d",
    "week": "w",
    "month": "mo",
    "quarter": "q",
    "year": "y",
}
#: units an INTERVAL literal may have (Trino's, and WEEK and MILLISECOND); no QUARTER
INTERVAL_UNITS = frozenset(DURATION_SUFFIX) - {"quarter"}

INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
FLOATS = (pl.Float32, pl.Float64)

_SQL_NAMES: dict[type, str] = {
    pl.Int8: "TINYINT",
    pl.Int16: "SMALLINT",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.UInt8: "SMALLINT",
    pl.UInt16: "INTEGER",
    pl.UInt32: "BIGINT",
    pl.UInt64: "BIGINT",
    pl.Float32: "REAL",
    pl.Float64: "DOUBLE",
    pl.String: "VARCHAR",
    pl.Boolean: "BOOLEAN",
    pl.Date: "DATE",
    pl.Binary: "VARBINARY",
    pl.Null: "UNKNOWN",
    pl.Time: "TIME",
    pl.UInt128: "IPADDRESS",  # see query/functions/ip.py
}


def nested(dtype: pl.DataType | DataTypeClass) -> pl.DataType:
    """A dtype nested in another (a list's or array's inner, a map's key or value, a row's
    field): Polars keeps an instance there, though its stubs also allow a class."""
    return cast(pl.DataType, dtype)


def sql_name(dtype: pl.DataType) -> str:
    """The Trino spelling of a Polars dtype (``array(row(arn varchar))``-style nesting)."""
    base = dtype.base_type()
    if base in _SQL_NAMES:
        return _SQL_NAMES[base]
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision or 38}, {dtype.scale or 0})"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP" if dtype.time_zone is None else "TIMESTAMP WITH TIME ZONE"
    if isinstance(dtype, pl.Duration):
        return "INTERVAL DAY TO SECOND"
    if is_map(dtype):
        key, value = map_key_value(dtype)
        return f"MAP({sql_name(key)}, {sql_name(value)})"
    if isinstance(dtype, (pl.List, pl.Array)):
        return f"ARRAY({sql_name(nested(dtype.inner))})"
    if isinstance(dtype, pl.Struct):
        inner = ", ".join(f'"{f.name}" {sql_name(nested(f.dtype))}' for f in dtype.fields)
        return f"ROW({inner})"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return "VARCHAR"
    return "UNKNOWN"


def type_name(dtype: pl.DataType) -> str:
    """Trino's own lower-case spelling of a type, as ``typeof`` and error messages print it.

    ``decimal(10,2)``, ``timestamp(6) with time zone`` (the precision of the stored values),
    ``array(integer)``, ``map(varchar, bigint)``, ``row(a integer, b varchar)``.
    """
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision or 38},{dtype.scale or 0})"
    if isinstance(dtype, pl.Datetime):
        digits = {"ms": 3, "us": 6, "ns": 9}[dtype.time_unit or "us"]
        return f"timestamp({digits})" + (" with time zone" if dtype.time_zone else "")
    if isinstance(dtype, pl.Time):
        return "time(6)"
    if isinstance(dtype, pl.Duration):
        return "interval day to second"
    if is_map(dtype):
        key, value = map_key_value(dtype)
        return f"map({type_name(key)}, {type_name(value)})"
    if isinstance(dtype, (pl.List, pl.Array)):
        return f"array({type_name(nested(dtype.inner))})"
    if isinstance(dtype, pl.Struct):
        if is_anonymous_row(dtype):
            return "row(" + ", ".join(type_name(nested(f.dtype)) for f in dtype.fields) + ")"
        return (
            "row(" + ", ".join(f"{f.name} {type_name(nested(f.dtype))}" for f in dtype.fields) + ")"
        )
    return sql_name(dtype).lower()


def anonymous_row_fields(count: int) -> list[str]:
    """Field names of a row without names (``ROW(1, 'a')``, map entries): field0, field1, ..."""
    return [f"field{i}" for i in range(count)]


def is_anonymous_row(dtype: pl.Struct) -> bool:
    return [f.name for f in dtype.fields] == anonymous_row_fields(len(dtype.fields))


def map_key_value(dtype: pl.DataType) -> tuple[pl.DataType, pl.DataType]:
    """Key and value types of a map in either layout (Polars Map or list of key/value rows)."""
    if isinstance(dtype, pl.Map):
        return nested(dtype.key), nested(dtype.value)
    inner = dtype.inner if isinstance(dtype, pl.List) else None
    if not isinstance(inner, pl.Struct):
        raise TypeError(f"{dtype} is not a map")
    return nested(inner.fields[0].dtype), nested(inner.fields[1].dtype)


def schema_type_string(dtype: pl.DataType) -> str:
    """Type text for sqlglot's MappingSchema (only nesting matters to the qualifier)."""
    if isinstance(dtype, pl.Struct):
        inner = ", ".join(f'"{f.name}" {schema_type_string(nested(f.dtype))}' for f in dtype.fields)
        return f"STRUCT<{inner}>"
    if isinstance(dtype, pl.Map):
        key, value = map_key_value(dtype)
        return f"MAP<{schema_type_string(key)}, {schema_type_string(value)}>"
    if isinstance(dtype, (pl.List, pl.Array)):
        return f"ARRAY<{schema_type_string(nested(dtype.inner))}>"
    if isinstance(dtype, pl.Decimal):
        return "DECIMAL"
    return "VARCHAR" if sql_name(dtype) == "UNKNOWN" else sql_name(dtype).split("(")[0]


def is_map(dtype: pl.DataType) -> bool:
    """A Polars Map, or a list of {key, value} structs (how map entries are often spelt)."""
    if isinstance(dtype, pl.Map):
        return True
    if not isinstance(dtype, pl.List):
        return False
    inner = dtype.inner
    return (
        isinstance(inner, pl.Struct)
        and len(inner.fields) == 2
        and inner.fields[0].name == "key"
        and inner.fields[1].name == "value"
    )


_SIGNED_BITS: dict[type[pl.DataType], int] = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32}


def signed_bits(dtype: pl.DataType) -> int:
    """Bits of an integer type as Trino's signed integers (64 for bigint and the unsigned)."""
    return _SIGNED_BITS.get(dtype.base_type(), 64)


def is_integer(dtype: pl.DataType | None) -> bool:
    return dtype is not None and dtype.base_type() in INTEGERS


def is_float(dtype: pl.DataType | None) -> bool:
    return dtype is not None and dtype.base_type() in FLOATS


def is_decimal(dtype: pl.DataType | None) -> bool:
    return isinstance(dtype, pl.Decimal)


def is_numeric(dtype: pl.DataType | None) -> bool:
    return is_integer(dtype) or is_float(dtype) or is_decimal(dtype)


def is_string(dtype: pl.DataType | None) -> bool:
    return dtype is not None and (
        dtype.base_type() in (pl.String, pl.Categorical, pl.Enum) or dtype == pl.String
    )


def is_temporal(dtype: pl.DataType | None) -> bool:
    return dtype is not None and (dtype == pl.Date or isinstance(dtype, pl.Datetime))


def type_family(dtype: pl.DataType | None) -> str:
    """The coercion family Trino uses: numbers coerce among themselves, and so on."""
    if dtype is None or dtype == pl.Null:
        return "unknown"
    if is_numeric(dtype):
        return "number"
    if is_string(dtype):
        return "string"
    if is_temporal(dtype):
        return "temporal"
    if dtype == pl.Boolean:
        return "boolean"
    return sql_name(dtype)


def comparable(left: pl.DataType | None, right: pl.DataType | None) -> bool:
    """Whether Trino compares the two types without an explicit CAST."""
    a, b = type_family(left), type_family(right)
    return a == "unknown" or b == "unknown" or a == b


def decimal_scale(dtype: pl.DataType) -> int:
    if isinstance(dtype, pl.Decimal):
        return dtype.scale or 0
    return 0


def sum_type(dtype: pl.DataType) -> pl.DataType:
    """Trino's type of SUM over ``dtype``: bigint for integers, decimal(38, s) for decimals, the
    input's own type otherwise (real, double)."""
    if is_integer(dtype):
        return pl.Int64()
    if is_decimal(dtype):
        return pl.Decimal(38, decimal_scale(dtype))
    return dtype


def avg_type(dtype: pl.DataType) -> pl.DataType:
    """Trino's type of AVG over ``dtype``: a decimal or a real keeps its type, the rest is
    double (a real's mean is computed in double, then narrowed, as Trino does)."""
    return dtype if is_decimal(dtype) or dtype == pl.Float32 else pl.Float64()


def common_supertype(left: pl.DataType, right: pl.DataType) -> pl.DataType | None:
    """The type two join keys or set-operation columns are unified to (None: incompatible)."""
    if left == right:
        return left
    if left == pl.Null:
        return right
    if right == pl.Null:
        return left
    if is_integer(left) and is_integer(right):
        return pl.Int64() if pl.Int64 in (left, right) or not _fits32(left, right) else pl.Int32()
    if is_numeric(left) and is_numeric(right):
        if is_float(left) or is_float(right):
            return pl.Float32() if left == right == pl.Float32 else pl.Float64()
        return decimal_supertype(as_decimal(left), as_decimal(right))
    if is_string(left) and is_string(right):
        return pl.String()
    if is_temporal(left) and is_temporal(right):
        if isinstance(left, pl.Datetime) and isinstance(right, pl.Datetime):
            return _datetime_target([left, right])
        return left if isinstance(left, pl.Datetime) else right
    return None


#: the decimal an integer type coerces to (Trino: integer is decimal(10, 0))
_INTEGER_DECIMALS: dict[type[pl.DataType], int] = {pl.Int8: 3, pl.Int16: 5, pl.Int32: 10, pl.Int64: 19, pl.UInt8: 3,
                     pl.UInt16: 5, pl.UInt32: 10, pl.UInt64: 20}  # fmt: skip


def as_decimal(dtype: pl.DataType) -> pl.Decimal:
    if isinstance(dtype, pl.Decimal):
        return dtype
    return pl.Decimal(_INTEGER_DECIMALS.get(dtype.base_type(), 38), 0)


def decimal_supertype(left: pl.Decimal, right: pl.Decimal) -> pl.Decimal:
    """Trino's common decimal: enough integer digits and fraction digits for both."""
    scale = max(left.scale or 0, right.scale or 0)
    whole = max(
        (left.precision or 38) - (left.scale or 0), (right.precision or 38) - (right.scale or 0)
    )
    return pl.Decimal(min(38, whole + scale), scale)


def _datetime_target(dtypes: Sequence[pl.DataType]) -> pl.Datetime:
    """The one datetime type a mix of dates and (zoned) timestamps is compared in.

    A plain timestamp or date meets a zoned one in the session zone (UTC), as Trino does; two
    different zones meet in UTC, which keeps every instant."""
    zones = {t.time_zone for t in dtypes if isinstance(t, pl.Datetime) and t.time_zone}
    zone = zones.pop() if len(zones) == 1 else ("UTC" if zones else None)
    return pl.Datetime("us", zone)


def unify_temporal(exprs: list[pl.Expr], dtypes: list[pl.DataType]) -> list[pl.Expr]:
    """Cast dates and timestamps that meet in one comparison or result to a common type.

    Polars refuses to compare or combine a zoned timestamp with a plain one; Trino reads the
    plain side in the session time zone (UTC here). Other types are returned unchanged."""
    stamps = [t for t in dtypes if isinstance(t, pl.Datetime)]
    if not stamps or len(set(dtypes) - {pl.Null}) < 2:
        return exprs
    target = _datetime_target(stamps)
    return [
        e.cast(target) if (isinstance(t, pl.Datetime) or t == pl.Date) and t != target else e
        for e, t in zip(exprs, dtypes, strict=True)
    ]


def unify_values(exprs: list[pl.Expr], dtypes: list[pl.DataType]) -> list[pl.Expr]:
    """Cast the values one expression may return (CASE, COALESCE, ARRAY[...]) to their common
    type as Trino types it: integers and decimals meet in a decimal wide enough for both,
    dates and timestamps as :func:`unify_temporal` says."""
    numbers = [t for t in dtypes if t != pl.Null]
    if (
        numbers
        and all(is_integer(t) or is_decimal(t) for t in numbers)
        and any(is_decimal(t) for t in numbers)
    ):
        target = as_decimal(numbers[0])
        for t in numbers[1:]:
            target = decimal_supertype(target, as_decimal(t))
        return [
            e if t == target or t == pl.Null else e.cast(target)
            for e, t in zip(exprs, dtypes, strict=True)
        ]
    return unify_temporal(exprs, dtypes)


def _fits32(left: pl.DataType, right: pl.DataType) -> bool:
    small = (pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16)
    return left.base_type() in small and right.base_type() in small


_CAST_TARGETS: dict[exp.DType, pl.DataType] = {
    exp.DataType.Type.TINYINT: pl.Int8(),
    exp.DataType.Type.SMALLINT: pl.Int16(),
    exp.DataType.Type.INT: pl.Int32(),
    exp.DataType.Type.BIGINT: pl.Int64(),
    exp.DataType.Type.FLOAT: pl.Float32(),
    exp.DataType.Type.DOUBLE: pl.Float64(),
    exp.DataType.Type.VARCHAR: pl.String(),
    exp.DataType.Type.CHAR: pl.String(),
    exp.DataType.Type.TEXT: pl.String(),
    exp.DataType.Type.BOOLEAN: pl.Boolean(),
    exp.DataType.Type.DATE: pl.Date(),
    exp.DataType.Type.TIMESTAMP: pl.Datetime("us"),
    exp.DataType.Type.TIMESTAMPTZ: pl.Datetime("us", "UTC"),
    exp.DataType.Type.VARBINARY: pl.Binary(),
    exp.DataType.Type.BINARY: pl.Binary(),
    exp.DataType.Type.JSON: pl.String(),
    exp.DataType.Type.TIME: pl.Time(),
}


def polars_type(data_type: exp.DataType) -> pl.DataType:
    """The Polars dtype for a SQL type (CAST targets, typed literals, CTAS columns)."""
    kind = data_type.this
    if kind in _CAST_TARGETS:
        return _CAST_TARGETS[kind]
    if kind == exp.DataType.Type.DECIMAL:
        params = [
            int(p.this.this) for p in data_type.expressions if isinstance(p.this, exp.Literal)
        ]
        precision = params[0] if params else 38
        scale = params[1] if len(params) > 1 else 0
        return pl.Decimal(precision, scale)
    if kind == exp.DataType.Type.ARRAY:
        inner = data_type.expressions[0] if data_type.expressions else exp.DataType.build("varchar")
        return pl.List(polars_type(inner))
    if kind == exp.DataType.Type.MAP:
        key, value = data_type.expressions
        return pl.Map(polars_type(key), polars_type(value))
    if kind == exp.DataType.Type.STRUCT:
        fields = {}
        for i, member in enumerate(data_type.expressions):
            if isinstance(member, exp.ColumnDef):
                # unquoted field names fold to lower case, like every other identifier
                quoted = member.this.args.get("quoted") if member.this is not None else False
                name = member.name if quoted else member.name.lower()
                fields[name] = polars_type(member.args["kind"])
            else:
                fields[f"field{i}"] = polars_type(member)
        return pl.Struct(fields)
    raise ValueError(f"type {data_type.sql('trino')} is not supported")


def sqlglot_type(dtype: pl.DataType) -> exp.DataType:
    """A sqlglot DataType for a Polars dtype (what ``compiler.type_of`` reports)."""
    return exp.DataType.build(sql_name(dtype), dialect="trino")


def polars_schema_from_arrow(schema: object) -> pl.Schema:
    """Polars schema of an Arrow schema (maps become lists of key/value structs)."""
    import pyarrow as pa

    from loglake.catalog.types import empty_table

    assert isinstance(schema, pa.Schema)
    return pl.from_arrow(empty_table(schema)).schema  # type: ignore[union-attr]
