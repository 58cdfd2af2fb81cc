"""Conversion functions: typeof (CAST and TRY_CAST live in casts.py)."""

from __future__ import annotations

import decimal
import re

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.registry import ExprCompiler, function, translates


def sql_type_name(compiler: ExprCompiler, node: exp.Expression) -> str:
    """Trino's name for the type of ``node``: its Polars type, or ``json`` for JSON values
    (carried as text, so only the expression that made them tells them apart)."""
    from loglake.query.functions.json import is_json

    if isinstance(node, exp.JSONExtract) and node.args.get("json_query"):
        return "varchar"  # json_query of text is text
    if is_json(compiler, node):
        return "json"
    if isinstance(node, exp.Literal) and node.is_string:
        return f"varchar({len(node.this)})"
    if isinstance(node, exp.Cast | exp.TryCast) and node.to.this in _TEXT_CARRIED:
        return _TEXT_CARRIED[node.to.this]
    return T.type_name(compiler.dtype(compiler.expr(node)))


#: SQL types whose values are carried as canonical text; a CAST names them
_TEXT_CARRIED = {
    exp.DataType.Type.IPPREFIX: "ipprefix",
    exp.DataType.Type.UUID: "uuid",
}


@translates(exp.Typeof, signatures="typeof(T) -> varchar")
def typeof(compiler: ExprCompiler, node: exp.Typeof) -> pl.Expr:
    """typeof(x): the name of x's type, a constant of the query."""
    return pl.lit(sql_type_name(compiler, node.this))


# --- format --------------------------------------------------------------------------------------

#: a Java Formatter conversion: %[index$][flags][width][.precision]conversion
_SPEC = re.compile(r"%(?:(\d+)\$)?([-#+ 0,(<]*)(\d+)?(?:\.(\d+))?([tT][A-Za-z]|[a-zA-Z%])")

#: Java date/time conversions (%tY ...) as strftime directives
_DATE_PARTS = {
    "Y": "%Y", "y": "%y", "m": "%m", "d": "%d", "e": "%-d", "B": "%B", "b": "%b", "h": "%b",
    "A": "%A", "a": "%a", "H": "%H", "I": "%I", "M": "%M", "S": "%S", "p": "%P", "j": "%j",
    "k": "%-H", "l": "%-I", "L": "%3f", "F": "%Y-%m-%d", "T": "%H:%M:%S", "R": "%H:%M",
    "D": "%m/%d/%y", "Z": "%Z", "z": "%z",
}  # fmt: skip


def group_thousands(digits: pl.Expr) -> pl.Expr:
    """1234567 -> 1,234,567 (digits only, no sign)."""
    groups = digits.str.reverse().str.extract_all(r"\d{1,3}")
    return groups.list.join(",").str.reverse()


def fixed_point(value: pl.Expr, places: int, grouping: bool = False) -> pl.Expr:
    """A number in fixed notation with ``places`` decimals, rounded half up (Java's %f)."""
    wide = value.cast(pl.Float64)
    scaled = (wide.abs() * 10**places + 0.5).floor()
    whole = (scaled // 10**places).cast(pl.Int64).cast(pl.String)
    if grouping:
        whole = group_thousands(whole)
    if places:
        fraction = (scaled % 10**places).cast(pl.Int64).cast(pl.String).str.pad_start(places, "0")
        whole = pl.concat_str([whole, pl.lit("."), fraction])
    sign = pl.when((wide < 0) & (scaled > 0)).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, whole])


def _conversion(
    value: pl.Expr, dtype: pl.DataType, flags: str, precision: str | None, kind: str
) -> pl.Expr | None:
    if kind in ("s", "S"):
        text = (
            value.cast(pl.String)
            if dtype != pl.Boolean
            else value.cast(pl.String).str.to_lowercase()
        )
        if precision is not None:
            text = text.str.slice(0, int(precision))
        return text.str.to_uppercase() if kind == "S" else text
    if kind == "d":
        digits = value.cast(pl.Int64).abs().cast(pl.String)
        if "," in flags:
            digits = group_thousands(digits)
        sign = pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit("+" if "+" in flags else ""))
        return pl.concat_str([sign, digits])
    if kind == "f":
        places = 6 if precision is None else int(precision)
        text = fixed_point(value, places, "," in flags)
        if "+" in flags:
            text = pl.when(value >= 0).then(pl.concat_str([pl.lit("+"), text])).otherwise(text)
        return text
    if kind in ("x", "X"):
        from loglake.query.functions.binary import hex_digits

        text = hex_digits(value.cast(pl.Int64).reinterpret(signed=False), 16).str.strip_chars_start(
            "0"
        )
        text = pl.when(text == "").then(pl.lit("0")).otherwise(text)
        return text.str.to_uppercase() if kind == "X" else text
    if kind in ("b", "B"):
        return (
            value.is_not_null().cast(pl.String)
            if dtype != pl.Boolean
            else value.cast(pl.String).str.to_lowercase()
        )
    if kind in ("c", "C"):
        return value.cast(pl.String)
    if kind[0] in "tT" and len(kind) == 2 and kind[1] in _DATE_PARTS:
        return value.dt.strftime(_DATE_PARTS[kind[1]])
    return None


@translates(exp.Format, signatures="format(varchar, T...) -> varchar")
def format_(compiler: ExprCompiler, node: exp.Format) -> pl.Expr:
    """format(format, args...): Java's String.format with the constant format string (%s, %d,
    %f, %x, %,d, %-7s, %2$s, %1$tY ...)."""
    from loglake.query.functions.common import MAX_BUILT_LENGTH, fail, require_constant

    pattern = require_constant(compiler, node.this, "format() format string")
    if pattern is None:
        return pl.lit(None, pl.String)
    values = [compiler.expr(a) for a in node.expressions]
    dtypes = [compiler.dtype(v) for v in values]
    pieces: list[pl.Expr] = []
    position, ordinal, previous = 0, 0, -1
    for match in _SPEC.finditer(pattern):
        pieces.append(pl.lit(pattern[position : match.start()]))
        position = match.end()
        index, flags, width, precision, kind = match.groups()
        if kind == "%":
            pieces.append(pl.lit("%"))
            continue
        if kind == "n":
            pieces.append(pl.lit("\n"))
            continue
        if index is not None:
            argument = int(index) - 1
        elif "<" in flags:
            argument = previous
        else:
            argument = ordinal
            ordinal += 1
        previous = argument
        if not 0 <= argument < len(values):
            fail(compiler, node, f"Format specifier '{match.group(0)}' has no argument")
        if any(int(n) > MAX_BUILT_LENGTH for n in (width, precision) if n is not None):
            fail(
                compiler,
                node,
                f"Width and precision of format specifier '{match.group(0)}' must not exceed "
                f"{MAX_BUILT_LENGTH}",
            )
        text = _conversion(values[argument], dtypes[argument], flags, precision, kind)
        if text is None:
            fail(compiler, node, f"Conversion '{match.group(0)}' is not supported")
        text = text.fill_null("null")
        if width is not None:
            size = int(width)
            if "-" in flags:
                text = text.str.pad_end(size, " ")
            elif "0" in flags and kind in ("d", "f", "x", "X"):
                negative = text.str.starts_with("-")
                body = pl.when(negative).then(text.str.slice(1)).otherwise(text)
                padded = body.str.pad_start(size - 1, "0")
                text = (
                    pl.when(negative)
                    .then(pl.concat_str([pl.lit("-"), padded]))
                    .otherwise(body.str.pad_start(size, "0"))
                )
            else:
                text = text.str.pad_start(size, " ")
        pieces.append(text)
    pieces.append(pl.lit(pattern[position:]))
    return pl.concat_str(pieces)


@function(
    "format_number",
    signatures=("format_number(bigint) -> varchar", "format_number(double) -> varchar"),
)
def format_number(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """format_number(x): x in thousands (K), millions (M), billions (B), trillions (T) or
    quadrillions (Q) with three significant digits: 123456 -> '123K'."""
    from loglake.query.functions.common import arity
    from loglake.query.functions.math import round_double

    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg).cast(pl.Float64).cast(pl.Int64).cast(pl.Float64)
    scaled, unit = value, pl.lit("")
    for name in ("K", "M", "B", "T", "Q"):
        big = scaled.abs() >= 1000
        scaled = pl.when(big).then(scaled / 1000).otherwise(scaled)
        unit = pl.when(big).then(pl.lit(name)).otherwise(unit)
    digits = pl.when(scaled < 10).then(2).when(scaled < 100).then(1).otherwise(0)
    rounded = round_double(scaled, digits.cast(pl.Float64))
    text = rounded.cast(pl.String).str.replace(r"\.0$", "")
    return pl.concat_str([text, unit])


# --- data sizes ----------------------------------------------------------------------------------

_SIZE_UNITS = {"B": 0, "kB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6, "ZB": 7, "YB": 8}


@function("parse_data_size", signatures="parse_data_size(varchar) -> decimal(38,0)")
def parse_data_size(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """parse_data_size('2.3MB'): bytes as decimal(38, 0), units of 1024, fraction truncated."""
    from loglake.query.functions.common import arity
    from loglake.query.runtime import guard

    (arg,) = arity(compiler, node, 1)
    text = compiler.expr(arg)
    parts = text.str.extract_groups(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
    number = parts.struct.field("1")
    unit = parts.struct.field("2")
    power = unit.replace_strict(list(_SIZE_UNITS), list(_SIZE_UNITS.values()), default=None)
    amount = number.cast(pl.Decimal(38, 10))
    powers = pl.Series(
        [decimal.Decimal(1024**p) for p in _SIZE_UNITS.values()], dtype=pl.Decimal(38, 0)
    )
    factor = power.replace_strict(list(_SIZE_UNITS.values()), powers, default=None)
    size = (amount * factor).truncate(0).cast(pl.Decimal(38, 0))
    bad = text.is_not_null() & (number.is_null() | power.is_null())
    message = pl.concat_str([pl.lit("Invalid data size: '"), text, pl.lit("'")])
    return guard(compiler, node, size, bad, message)
