"""Durations, time zone parts and the Teradata date functions.

parse_duration and human_readable_seconds read and write lengths of time; timezone_hour,
timezone_minute and timezone read a zoned timestamp's offset; to_char, to_date and
to_timestamp take Teradata formats (``yyyy-mm-dd hh24:mi:ss``), which sqlglot turns into
strftime patterns for to_char and which are translated here for the other two.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import arity, fail, lenient, require_constant, string_arg
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard

_DURATION_UNITS = {
    "ns": 1e-3,
    "us": 1.0,
    "ms": 1e3,
    "s": 1e6,
    "m": 60e6,
    "h": 3600e6,
    "d": 86400e6,
}


@function("parse_duration", signatures="parse_duration(varchar) -> interval day to second")
def parse_duration(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """parse_duration('3.81 d'): a day-to-second interval (fractions of the unit allowed)."""
    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    parts = text.str.extract_groups(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")
    amount = parts.struct.field("1").cast(pl.Float64)
    unit = parts.struct.field("2")
    factor = unit.replace_strict(
        list(_DURATION_UNITS), list(_DURATION_UNITS.values()), default=None
    )
    micros = (amount * factor).round(0).cast(pl.Int64)
    duration = micros.cast(pl.Duration("us"))
    bad = text.is_not_null() & duration.is_null()
    message = pl.concat_str([pl.lit("duration is not a valid data duration string: "), text])
    return guard(compiler, node, duration, bad, message)


_SPANS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


@function("human_readable_seconds", signatures="human_readable_seconds(double) -> varchar")
def human_readable_seconds(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """human_readable_seconds(96) = '1 minute, 36 seconds' (weeks down to seconds, rounded)."""
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg).cast(pl.Float64)
    seconds = value.round(0).cast(pl.Int64)
    rest = seconds
    pieces = []
    for name, size in _SPANS:
        count = rest // size
        rest = rest % size
        label = pl.when(count == 1).then(pl.lit(f" {name}")).otherwise(pl.lit(f" {name}s"))
        pieces.append(
            pl.when(count > 0).then(pl.concat_str([count.cast(pl.String), label])).otherwise(None)
        )
    text = pl.concat_list(pieces).list.drop_nulls().list.join(", ")
    text = pl.when(seconds == 0).then(pl.lit("0 seconds")).otherwise(text)
    bad = value.is_nan() | value.is_infinite()
    return guard(compiler, node, pl.when(value.is_not_null()).then(text), bad, "Invalid argument")


def _offset_minutes(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Minutes east of UTC of each zoned timestamp (its zone's offset at that instant)."""
    if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
        return pl.lit(0, pl.Int64)
    local = value.dt.replace_time_zone(None)
    utc = value.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return (local - utc).dt.total_minutes().cast(pl.Int64)


_ZONED = "timestamp with time zone"


@function("timezone_hour", signatures=f"timezone_hour({_ZONED}) -> bigint")
def timezone_hour(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    minutes = _offset_minutes(value, compiler.dtype(value))
    hours = minutes.abs() // 60
    return pl.when(value.is_not_null()).then(pl.when(minutes < 0).then(-hours).otherwise(hours))


@function("timezone_minute", signatures=f"timezone_minute({_ZONED}) -> bigint")
def timezone_minute(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    minutes = _offset_minutes(value, compiler.dtype(value))
    rest = minutes.abs() % 60
    return pl.when(value.is_not_null()).then(pl.when(minutes < 0).then(-rest).otherwise(rest))


@function("timezone", signatures=f"timezone({_ZONED}) -> varchar")
def timezone(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """timezone(ts): the zone a zoned timestamp is shown in (values keep one zone per column)."""
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    dtype = compiler.dtype(value)
    zone = dtype.time_zone if isinstance(dtype, pl.Datetime) and dtype.time_zone else "UTC"
    return pl.when(value.is_not_null()).then(pl.lit(zone))


@translates(
    exp.FromISO8601TimestampNanos,
    signatures="from_iso8601_timestamp_nanos(varchar) -> timestamp with time zone",
)
def from_iso8601_timestamp_nanos(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    """from_iso8601_timestamp_nanos(s): like from_iso8601_timestamp, to the nanosecond."""
    text = string_arg(compiler, node.this).str.strip_chars()
    zoned = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_unit="ns")
    local = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ns")
    value = pl.coalesce(zoned.dt.convert_time_zone("UTC"), local.dt.replace_time_zone("UTC"))
    bad = text.is_not_null() & value.is_null()
    message = pl.concat_str([pl.lit("Invalid format: "), text])
    return guard(compiler, node, value, bad, message)


@translates(exp.CurrentTime, signatures="current_time() -> time with time zone")
def current_time(compiler: ExprCompiler, node: exp.CurrentTime) -> pl.Expr:
    """current_time: the time of day (UTC) at the query's start."""
    return pl.lit(dt.datetime.now(dt.UTC).time(), pl.Time)


@translates(exp.Localtime, signatures="localtime() -> time")
def localtime(compiler: ExprCompiler, node: exp.Localtime) -> pl.Expr:
    return pl.lit(dt.datetime.now(dt.UTC).time(), pl.Time)


@translates(exp.Uuid, signatures="uuid() -> uuid")
def uuid(compiler: ExprCompiler, node: exp.Uuid) -> pl.Expr:
    """uuid(): a random (version 4) UUID per row, as its canonical text."""
    import secrets

    rows = pl.int_range(pl.len(), dtype=pl.Int64)
    high = rows.hash(seed=secrets.randbits(63))
    low = rows.hash(seed=secrets.randbits(63))
    from loglake.query.functions.binary import hex_digits

    text = pl.concat_str([hex_digits(high, 16), hex_digits(low, 16)])
    version = pl.concat_str(
        [
            text.str.slice(0, 8),
            pl.lit("-"),
            text.str.slice(8, 4),
            pl.lit("-4"),
            text.str.slice(13, 3),
            pl.lit("-"),
            (8 + (low % 4)).cast(pl.Int64).replace_strict(range(8, 12), ["8", "9", "a", "b"]),
            text.str.slice(17, 3),
            pl.lit("-"),
            text.str.slice(20, 12),
        ]
    )
    return version


# --- Teradata ------------------------------------------------------------------------------------

_TERADATA = (
    ("yyyy", "%Y"),
    ("yy", "%y"),
    ("mm", "%m"),
    ("dd", "%d"),
    ("hh24", "%H"),
    ("hh", "%I"),
    ("mi", "%M"),
    ("ss", "%S"),
)


def teradata_format(compiler: ExprCompiler, node: exp.Expression) -> str:
    """A Teradata format (yyyy-mm-dd hh24:mi:ss) as a chrono pattern."""
    text = require_constant(compiler, node, "format")
    if not isinstance(text, str):
        fail(compiler, node, "format must be a string")
    out, i = [], 0
    while i < len(text):
        for token, spec in _TERADATA:
            if text.startswith(token, i):
                out.append(spec)
                i += len(token)
                break
        else:
            ch = text[i]
            if ch.isalpha():
                fail(compiler, node, f"Failed to tokenize string [{text}] at offset [{i}]")
            out.append("%%" if ch == "%" else ch)
            i += 1
    return "".join(out)


def _teradata_parse(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    text_node, format_node = arity(compiler, node, 2)
    pattern = teradata_format(compiler, format_node)
    text = string_arg(compiler, text_node)
    if "%H" in pattern or "%I" in pattern or "%M" in pattern:
        parsed = text.str.to_datetime(pattern, strict=False, time_unit="us")
    else:
        parsed = text.str.to_date(pattern, strict=False).cast(pl.Datetime("us"))
    bad = text.is_not_null() & parsed.is_null()
    message = pl.concat_str([pl.lit("Invalid format: "), text])
    if lenient():
        return parsed
    return guard(compiler, node, parsed, bad, message)


@function("to_timestamp", signatures="to_timestamp(varchar, varchar) -> timestamp")
def to_timestamp(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """to_timestamp(s, format): Teradata-style parse to a timestamp."""
    return _teradata_parse(compiler, node)


@function("to_date", signatures="to_date(varchar, varchar) -> date")
def to_date(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _teradata_parse(compiler, node).dt.date()


@function("yow", signatures=tuple(f"yow({t}) -> bigint" for t in ("date", "timestamp", _ZONED)))
def yow(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """yow(x): the year of the ISO week (year_of_week)."""
    from loglake.query.functions.datetime import field

    (arg,) = arity(compiler, node, 1)
    return field(compiler.expr(arg), "year_of_week")  # type: ignore[return-value]
