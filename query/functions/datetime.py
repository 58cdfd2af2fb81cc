"""Date and time functions.

Types: ``date`` is pl.Date, ``timestamp`` a naive pl.Datetime("us") and ``timestamp with time
zone`` a pl.Datetime("us", zone). A Polars column holds one zone, so values parsed with
different offsets (``from_iso8601_timestamp``) are converted to UTC, the session zone of Athena.
Format strings (MySQL style for date_parse/date_format, Joda style for parse_datetime and
format_datetime) are translated once into chrono patterns and must be constants.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import (
    arity,
    combine,
    fail,
    is_type,
    materialize,
    require_constant,
    staged,
    string_arg,
)
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard, rejecting
from loglake.query.types import DURATION_SUFFIX, unify_temporal

T = exp.DataType.Type
UTC = "UTC"
TIMESTAMP = pl.Datetime("us")

# --- format strings ------------------------------------------------------------------------------

#: chrono reads unpadded numbers with the padded specifiers
_PARSE_FORMS = {"%-m": "%m", "%-d": "%d", "%-H": "%H", "%-I": "%I", "%-M": "%M", "%-S": "%S"}


def mysql_format(compiler: ExprCompiler, node: exp.Expression, text: str, parsing: bool) -> str:
    """The chrono pattern of a date_parse/date_format format.

    sqlglot already rewrites Trino's MySQL specifiers (%i, %s, %W, %e, %T ...) into Python's
    strftime spelling; what is left is chrono's spelling of fractions and unpadded fields.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        size = 3 if text[i + 1 : i + 2] == "-" else 2
        spec = text[i : i + size]
        if len(spec) < size:
            fail(compiler, node, f"format ends with a lone '%': {text!r}")
        if spec == "%f":
            spec = "%6f"
        elif parsing:
            spec = _PARSE_FORMS.get(spec, spec)
        out.append(spec)
        i += size
    return "".join(out)


def _joda_token(letter: str, count: int, parsing: bool) -> str | None:
    pad = "" if parsing else "-"
    table: dict[str, Any] = {
        "y": lambda n: "%y" if n == 2 else "%Y",
        "Y": lambda n: "%y" if n == 2 else "%Y",
        "x": lambda n: "%G",
        "M": lambda n: {1: f"%{pad}m", 2: "%m", 3: "%b"}.get(n, "%B"),
        "d": lambda n: "%d" if n >= 2 else f"%{pad}d",
        "H": lambda n: "%H" if n >= 2 else f"%{pad}H",
        "k": lambda n: "%H" if n >= 2 else f"%{pad}H",
        "h": lambda n: "%I" if n >= 2 else f"%{pad}I",
        "K": lambda n: "%I" if n >= 2 else f"%{pad}I",
        "m": lambda n: "%M" if n >= 2 else f"%{pad}M",
        "s": lambda n: "%S" if n >= 2 else f"%{pad}S",
        "S": lambda n: "%3f" if n <= 3 else ("%6f" if n <= 6 else "%9f"),
        "a": lambda n: "%p",
        "E": lambda n: "%A" if n >= 4 else "%a",
        "e": lambda n: "%u",
        "D": lambda n: "%j",
        "w": lambda n: "%V",
        "Z": lambda n: "%:z" if n == 2 else "%z",
        "z": lambda n: "%Z",
    }
    make = table.get(letter)
    return None if make is None else make(count)


def joda_format(compiler: ExprCompiler, node: exp.Expression, text: str, parsing: bool) -> str:
    """Translate a Joda-Time pattern (parse_datetime/format_datetime) into a chrono pattern."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            end = text.find("'", i + 1)
            if end == -1:
                fail(compiler, node, f"unterminated quote in pattern {text!r}")
            literal = text[i + 1 : end] if end > i + 1 else "'"
            out.append(literal.replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            j = i
            while j < len(text) and text[j] == ch:
                j += 1
            token = _joda_token(ch, j - i, parsing)
            if token is None:
                fail(compiler, node, f"pattern letter {ch!r} is not supported")
            out.append(token)
            i = j
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


# --- helpers -------------------------------------------------------------------------------------


def _has_zone(compiler: ExprCompiler, node: exp.Expression) -> bool:
    if is_type(compiler, node, T.TIMESTAMPTZ, T.TIMESTAMPLTZ):
        return True
    return isinstance(
        node,
        exp.FromISO8601Timestamp
        | exp.CurrentTimestamp
        | exp.UnixToTime
        | exp.ParseDatetime
        | exp.AtTimeZone,
    ) or (isinstance(node, exp.Anonymous) and node.name.lower() in ("at_timezone", "with_timezone"))


def _is_date(compiler: ExprCompiler, node: exp.Expression) -> bool:
    return is_type(compiler, node, T.DATE) or isinstance(
        node, exp.FromISO8601Date | exp.CurrentDate | exp.Date
    )


def _zone(compiler: ExprCompiler, node: exp.Expression) -> str:
    zone = require_constant(compiler, node, "time zone")
    if not isinstance(zone, str):
        fail(compiler, node, "time zone must be a string")
    if zone.upper() in ("UTC", "Z", "GMT"):
        return UTC
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(zone)
    except Exception:
        fail(compiler, node, f"Time zone not supported: {zone}")
    return zone


def _unit(compiler: ExprCompiler, node: exp.Expression | None) -> str:
    unit = require_constant(compiler, node, "unit")
    if not isinstance(unit, str):
        fail(compiler, node or exp.Null(), "unit must be a string")
    unit = unit.lower()
    aliases = {"dow": "day_of_week", "doy": "day_of_year", "yow": "year_of_week"}
    return aliases.get(unit, unit.rstrip("s") if unit.endswith("s") and unit != "s" else unit)


# --- parsing and formatting ----------------------------------------------------------------------

#: whole seconds in UTC, as AWS writes event times
_ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
_ISO_UTC_LENGTH = len("2024-05-06T10:00:07Z")
_ISO_FORMATS_ZONED = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M%#z",
)
_ISO_FORMATS_LOCAL = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
)


@translates(
    exp.FromISO8601Timestamp,
    signatures="from_iso8601_timestamp(varchar) -> timestamp with time zone",
)
def from_iso8601_timestamp(compiler: ExprCompiler, node: exp.FromISO8601Timestamp) -> pl.Expr:
    """ISO 8601 text to timestamp with time zone; offsets are applied and values kept in UTC."""

    formats = [(f, True) for f in _ISO_FORMATS_ZONED] + [(f, False) for f in _ISO_FORMATS_LOCAL]

    def parse(text: pl.Expr, fmt: str, zoned: bool) -> pl.Expr:
        parsed = text.str.strip_chars().str.to_datetime(fmt, strict=False, time_unit="us")
        return parsed.dt.convert_time_zone(UTC) if zoned else parsed.dt.replace_time_zone(UTC)

    def build(text: pl.Expr) -> pl.Expr:
        # AWS's form (2024-05-06T10:00:07Z) first: a format of fixed-width fields and literals
        # takes Polars' fast parser, a fifth of the cost of the general zoned format (where it
        # reads a value, the general one reads the same instant); only on text of its length
        # and ending, since text it cannot read costs nearly a general parse to refuse. Then
        # the usual form, and the other forms only on the rows neither could read
        aws = pl.when(text.str.ends_with("Z") & (text.str.len_bytes() == _ISO_UTC_LENGTH))
        utc = materialize(
            aws.then(text)
            .str.to_datetime(_ISO_UTC, strict=False, time_unit="us")
            .dt.replace_time_zone(UTC)
        )
        left = pl.when(utc.is_null()).then(text)
        first = materialize(parse(left, *formats[0]))
        rest = pl.when(first.is_null()).then(left)
        return pl.coalesce(utc, first, *(parse(rest, fmt, zoned) for fmt, zoned in formats[1:]))

    message = "Invalid format for from_iso8601_timestamp"
    return staged([string_arg(compiler, node.this)], build, rejecting(compiler, node, message))


def _iso_date(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)


@translates(exp.FromISO8601Date, signatures="from_iso8601_date(varchar) -> date")
def from_iso8601_date(compiler: ExprCompiler, node: exp.FromISO8601Date) -> pl.Expr:
    text = string_arg(compiler, node.this)
    message = "Invalid format for from_iso8601_date"
    return staged([text], _iso_date, rejecting(compiler, node, message))


@function(
    "to_iso8601",
    signatures=tuple(
        f"to_iso8601({t}) -> varchar" for t in ("date", "timestamp", "timestamp with time zone")
    ),
)
def to_iso8601(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """to_iso8601(x): date as YYYY-MM-DD; timestamps with milliseconds, zoned ones with Z."""
    (arg,) = arity(compiler, node, 1)
    value = compiler.expr(arg)
    if _is_date(compiler, arg):
        return value.dt.strftime("%Y-%m-%d")
    if _has_zone(compiler, arg):
        utc = value.dt.convert_time_zone(UTC)
        return utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    return value.dt.strftime("%Y-%m-%dT%H:%M:%S%.3f")


@translates(
    exp.StrToTime,
    signatures="date_parse(varchar, varchar) -> timestamp",
    arguments=lambda node, name: [node.this, node.args["format"]],
)
def date_parse(compiler: ExprCompiler, node: exp.StrToTime) -> pl.Expr:
    """date_parse(s, mysql_format) -> timestamp."""
    text = require_constant(compiler, node.args["format"], "date_parse() format")
    pattern = mysql_format(compiler, node.args["format"], text, parsing=True)
    return _parsed(compiler, node, string_arg(compiler, node.this), pattern, "date_parse")


def _parsed(
    compiler: ExprCompiler, node: exp.Expression, text: pl.Expr, pattern: str, function: str
) -> pl.Expr:
    """Text read with a chrono ``pattern``, strictly as in Trino: outside TRY a non-NULL value
    that does not parse fails the query, naming the function and the value."""

    def parse(s: pl.Expr) -> pl.Expr:
        if "%z" in pattern or "%:z" in pattern:
            parsed = s.str.to_datetime(pattern, strict=False, time_unit="us")
            return parsed.dt.convert_time_zone(UTC)
        return _parse_local(s, pattern)

    message = f"Invalid format for {function}"
    return staged([text], parse, rejecting(compiler, node, message))


def _parse_local(s: pl.Expr, pattern: str) -> pl.Expr:
    """Text to a naive timestamp (NULL where it does not parse); missing time fields are zero,
    as in Trino."""
    has_hour = any(f in pattern for f in ("%H", "%I", "%k", "%l"))
    if not has_hour and "%M" not in pattern:
        return s.str.to_date(pattern, strict=False).cast(TIMESTAMP)
    if "%M" not in pattern:
        # chrono needs minutes whenever hours are parsed
        s, pattern = pl.concat_str([s, pl.lit("\x0100")]), pattern + "\x01%M"
    return s.str.to_datetime(pattern, strict=False, time_unit="us")


@translates(
    exp.TimeToStr,
    signatures=(
        "date_format(timestamp, varchar) -> varchar",
        "date_format(timestamp with time zone, varchar) -> varchar",
        "to_char(timestamp, varchar) -> varchar",
        "to_char(timestamp with time zone, varchar) -> varchar",
    ),
    arguments=lambda node, name: [node.this, node.args["format"]],
)
def date_format(compiler: ExprCompiler, node: exp.TimeToStr) -> pl.Expr:
    """date_format(timestamp, mysql_format) -> varchar."""
    text = require_constant(compiler, node.args["format"], "date_format() format")
    pattern = mysql_format(compiler, node.args["format"], text, parsing=False)
    return compiler.expr(node.this).dt.strftime(pattern)


@translates(
    exp.ParseDatetime,
    signatures="parse_datetime(varchar, varchar) -> timestamp with time zone",
    arguments=lambda node, name: [node.this, node.args["format"]],
)
def parse_datetime(compiler: ExprCompiler, node: exp.ParseDatetime) -> pl.Expr:
    """parse_datetime(s, joda_pattern) -> timestamp with time zone (UTC unless the text has one)."""
    text = require_constant(compiler, node.args["format"], "parse_datetime() pattern")
    pattern = joda_format(compiler, node.args["format"], text, parsing=True)
    parsed = _parsed(compiler, node, string_arg(compiler, node.this), pattern, "parse_datetime")
    if "%z" in pattern or "%:z" in pattern:
        return parsed
    return parsed.dt.replace_time_zone(UTC)


@function(
    "format_datetime",
    signatures=(
        "format_datetime(timestamp, varchar) -> varchar",
        "format_datetime(timestamp with time zone, varchar) -> varchar",
    ),
)
def format_datetime(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    value, fmt = arity(compiler, node, 2)
    text = require_constant(compiler, fmt, "format_datetime() pattern")
    pattern = joda_format(compiler, fmt, text, parsing=False)
    return compiler.expr(value).dt.strftime(pattern)


@translates(
    exp.UnixToTime,
    signatures=(
        "from_unixtime(double) -> timestamp with time zone",
        "from_unixtime(double, varchar) -> timestamp with time zone",
        "from_unixtime(double, bigint, bigint) -> timestamp with time zone",
    ),
    arguments=lambda node, name: [
        a
        for a in (
            node.this,
            node.args.get("zone"),
            node.args.get("hours"),
            node.args.get("minutes"),
        )
        if a
    ],
)
def from_unixtime(compiler: ExprCompiler, node: exp.UnixToTime) -> pl.Expr:
    """from_unixtime(seconds[, zone]) -> timestamp with time zone."""
    seconds = compiler.expr(node.this).cast(pl.Float64)
    micros = (seconds * 1_000_000).round(0).cast(pl.Int64)
    stamp = micros.cast(TIMESTAMP).dt.replace_time_zone(UTC)
    zone = node.args.get("zone")
    if zone is not None:
        stamp = stamp.dt.convert_time_zone(_zone(compiler, zone))
    for key in ("hours", "minutes", "format", "scale"):
        if node.args.get(key) is not None:
            fail(compiler, node, "from_unixtime() supports (seconds) and (seconds, zone)")
    return stamp


@translates(
    exp.TimeToUnix,
    signatures=(
        "to_unixtime(timestamp) -> double",
        "to_unixtime(timestamp with time zone) -> double",
    ),
)
def to_unixtime(compiler: ExprCompiler, node: exp.TimeToUnix) -> pl.Expr:
    value = compiler.expr(node.this)
    if _is_date(compiler, node.this):
        value = value.cast(TIMESTAMP)
    return value.dt.epoch("us").cast(pl.Float64) / 1_000_000


# --- arithmetic ----------------------------------------------------------------------------------

_TIME_OF_DAY_UNITS = ("millisecond", "second", "minute", "hour")


def _checked_unit(compiler: ExprCompiler, node: exp.Expression, invalid: str) -> str:
    """The node's unit, refused when unknown or when it is a time-of-day unit on a DATE."""
    unit = _unit(compiler, node.args.get("unit"))
    if unit not in DURATION_SUFFIX:
        fail(compiler, node, invalid.format(unit=unit))
    if _is_date(compiler, node.this) and unit in _TIME_OF_DAY_UNITS:
        fail(compiler, node, f"'{unit}' is not a valid DATE field")
    return unit


@translates(
    exp.TimestampTrunc,
    exp.DateTrunc,
    signatures=tuple(
        f"date_trunc(varchar, {t}) -> {t}"
        for t in ("date", "timestamp", "timestamp with time zone", "time")
    ),
    arguments=lambda node, name: [node.args.get("unit") or exp.Var(this="day"), node.this],
)
def date_trunc(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    """date_trunc(unit, x): weeks start on Monday, as in Trino."""
    unit = _checked_unit(compiler, node, "'{unit}' is not a valid TIMESTAMP field")
    return compiler.expr(node.this).dt.truncate("1" + DURATION_SUFFIX[unit])


@translates(
    exp.DateAdd,
    exp.TimestampAdd,
    signatures=tuple(
        f"date_add(varchar, bigint, {t}) -> {t}"
        for t in ("date", "timestamp", "timestamp with time zone", "time")
    ),
    arguments=lambda node, name: [
        node.args.get("unit") or exp.Var(this="day"),
        node.expression,
        node.this,
    ],
)
def date_add(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    """date_add(unit, n, x): months clamp to the last day of the month (Jan 31 + 1 month)."""
    unit = _checked_unit(compiler, node, "'{unit}' is not a valid unit for date_add")
    amount = compiler.expr(node.expression).cast(pl.Int64)
    offset = pl.concat_str([amount.cast(pl.String), pl.lit(DURATION_SUFFIX[unit])])
    base = compiler.expr(node.this)
    shifted = base.dt.offset_by(offset)
    # an amount too large for the type wraps around: the result then moves the wrong way
    wrapped = ((amount > 0) & (shifted < base)) | ((amount < 0) & (shifted > base))
    return guard(compiler, node, shifted, wrapped, "date_add result is out of range")


_MICROS = {
    "millisecond": 1_000,
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
    "week": 7 * 86_400_000_000,
}


def _trunc_div(value: pl.Expr, divisor: int) -> pl.Expr:
    return pl.when(value >= 0).then(value // divisor).otherwise(-((-value) // divisor))


@translates(
    exp.DateDiff,
    exp.TimestampDiff,
    signatures=tuple(
        f"date_diff(varchar, {t}, {t}) -> bigint"
        for t in ("date", "timestamp", "timestamp with time zone", "time")
    ),
    arguments=lambda node, name: [
        node.args.get("unit") or exp.Var(this="day"),
        node.expression,
        node.this,
    ],
)
def date_diff(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    """date_diff(unit, a, b): whole units from a to b, truncated toward zero."""
    unit = _unit(compiler, node.args.get("unit"))
    later = compiler.expr(node.this)
    earlier = compiler.expr(node.expression)
    if _is_date(compiler, node.this):
        later = later.cast(TIMESTAMP)
    if _is_date(compiler, node.expression):
        earlier = earlier.cast(TIMESTAMP)
    if unit not in _MICROS and unit not in ("month", "quarter", "year"):
        fail(compiler, node, f"'{unit}' is not a valid unit for date_diff")
    later, earlier = unify_temporal(
        [later, earlier], [compiler.dtype(later), compiler.dtype(earlier)]
    )

    def build(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
        if unit in _MICROS:
            micros = (later - earlier).dt.total_microseconds().cast(pl.Int64)
            return _trunc_div(micros, _MICROS[unit])
        months = (later.dt.year() * 12 + later.dt.month()).cast(pl.Int64) - (
            earlier.dt.year() * 12 + earlier.dt.month()
        ).cast(pl.Int64)
        months = (
            pl.when((months > 0) & (_rest(later) < _rest(earlier)))
            .then(months - 1)
            .when((months < 0) & (_rest(later) > _rest(earlier)))
            .then(months + 1)
            .otherwise(months)
        )
        return {"month": months, "quarter": _trunc_div(months, 3), "year": _trunc_div(months, 12)}[
            unit
        ]

    return combine([node.this, node.expression], [later, earlier], build)


def _rest(value: pl.Expr) -> pl.Expr:
    """Position inside the month (day and time of day), to see whether a month is complete."""
    day = value.dt.day().cast(pl.Int64) * 86_400_000_000
    return day + (value - value.dt.truncate("1d")).dt.total_microseconds().cast(pl.Int64)


# --- fields --------------------------------------------------------------------------------------


def field(value: pl.Expr, unit: str) -> pl.Expr | None:
    """EXTRACT(unit FROM value) and the functions named after the units."""
    parts = {
        "year": lambda: value.dt.year(),
        "quarter": lambda: value.dt.quarter(),
        "month": lambda: value.dt.month(),
        "week": lambda: value.dt.week(),
        "week_of_year": lambda: value.dt.week(),
        "day": lambda: value.dt.day(),
        "day_of_month": lambda: value.dt.day(),
        "day_of_week": lambda: value.dt.weekday(),
        "day_of_year": lambda: value.dt.ordinal_day(),
        "year_of_week": lambda: value.dt.iso_year(),
        "hour": lambda: value.dt.hour(),
        "minute": lambda: value.dt.minute(),
        "second": lambda: value.dt.second(),
        "millisecond": lambda: value.dt.millisecond(),
    }
    make = parts.get(unit)
    return None if make is None else make().cast(pl.Int64)


@translates(exp.Extract)
def extract(compiler: ExprCompiler, node: exp.Extract) -> pl.Expr:
    unit = _unit(compiler, node.this)
    out = field(compiler.expr(node.expression), unit)
    if out is None:
        fail(compiler, node.this, f"EXTRACT({unit.upper()}) is not supported")
    return out


def _field_signatures(names: tuple[str, ...], *types: str) -> tuple[str, ...]:
    return tuple(f"{name}({t}) -> bigint" for name in names for t in types)


_DATE_PARTS = ("date", "timestamp", "timestamp with time zone")
_TIME_PARTS = ("time", "timestamp", "timestamp with time zone", "interval day to second")


def _field_function(unit: str) -> Any:
    def translate(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
        return field(compiler.expr(node.this), unit)  # type: ignore[return-value]

    translate.__doc__ = f"{unit}(x)"
    return translate


for _cls, _unit_name, _names, _types in (
    (exp.Year, "year", ("year",), _DATE_PARTS),
    (exp.Quarter, "quarter", ("quarter",), _DATE_PARTS),
    (exp.Month, "month", ("month",), _DATE_PARTS),
    (exp.WeekOfYear, "week", ("week", "week_of_year"), _DATE_PARTS),
    (exp.Day, "day", ("day",), (*_DATE_PARTS, "interval day to second")),
    (exp.DayOfMonth, "day", ("day_of_month",), (*_DATE_PARTS, "interval day to second")),
    (exp.DayOfWeekIso, "day_of_week", ("day_of_week", "dow"), _DATE_PARTS),
    (exp.DayOfWeek, "day_of_week", ("day_of_week", "dow"), _DATE_PARTS),
    (exp.DayOfYear, "day_of_year", ("day_of_year", "doy"), _DATE_PARTS),
    (exp.YearOfWeek, "year_of_week", ("year_of_week", "yow"), _DATE_PARTS),
    (exp.Hour, "hour", ("hour",), _TIME_PARTS),
    (exp.Minute, "minute", ("minute",), _TIME_PARTS),
    (exp.Second, "second", ("second",), _TIME_PARTS),
):
    translates(_cls, signatures=_field_signatures(_names, *_types))(_field_function(_unit_name))


@function("millisecond", signatures=_field_signatures(("millisecond",), *_TIME_PARTS))
def millisecond(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return field(compiler.expr(arg), "millisecond")  # type: ignore[return-value]


@translates(
    exp.LastDay,
    signatures=tuple(
        f"last_day_of_month({t}) -> date" for t in ("date", "timestamp", "timestamp with time zone")
    ),
    arguments=lambda node, name: [node.this],
)
def last_day_of_month(compiler: ExprCompiler, node: exp.LastDay) -> pl.Expr:
    value = compiler.expr(node.this)
    if not _is_date(compiler, node.this):
        value = value.dt.date()
    return value.dt.month_end()


@translates(exp.Date)
def date_(compiler: ExprCompiler, node: exp.Date) -> pl.Expr:
    """date(x): the date part of a timestamp, or an ISO date string parsed."""
    if len(node.expressions) > 0 or node.args.get("zone") is not None:
        fail(compiler, node, "date() takes one argument")
    value = compiler.expr(node.this)
    if is_type(compiler, node.this, *exp.DataType.TEXT_TYPES) or (
        isinstance(node.this, exp.Literal) and node.this.is_string
    ):
        message = "Invalid format for date"
        return staged([value], _iso_date, rejecting(compiler, node, message))
    return value.dt.date()


# --- now and zones -------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@translates(exp.CurrentTimestamp)
def current_timestamp(compiler: ExprCompiler, node: exp.CurrentTimestamp) -> pl.Expr:
    """current_timestamp / now(): the query's start time, the same for every row (UTC)."""
    return pl.lit(_now(), TIMESTAMP).dt.replace_time_zone(UTC)


@translates(exp.Localtimestamp)
def localtimestamp(compiler: ExprCompiler, node: exp.Localtimestamp) -> pl.Expr:
    return pl.lit(_now(), TIMESTAMP)


@translates(exp.CurrentDate)
def current_date(compiler: ExprCompiler, node: exp.CurrentDate) -> pl.Expr:
    return pl.lit(_now().date(), pl.Date)


@translates(exp.CurrentTimezone)
def current_timezone(compiler: ExprCompiler, node: exp.CurrentTimezone) -> pl.Expr:
    return pl.lit(UTC)


def _to_zone(
    compiler: ExprCompiler, value_node: exp.Expression, zone_node: exp.Expression
) -> pl.Expr:
    value = compiler.expr(value_node)
    if not _has_zone(compiler, value_node):
        value = value.dt.replace_time_zone(UTC)
    return value.dt.convert_time_zone(_zone(compiler, zone_node))


@translates(exp.AtTimeZone)
def at_time_zone(compiler: ExprCompiler, node: exp.AtTimeZone) -> pl.Expr:
    """x AT TIME ZONE zone: the same instant seen in another zone (naive values are UTC)."""
    return _to_zone(compiler, node.this, node.args["zone"])


@function(
    "at_timezone",
    signatures=(
        "at_timezone(timestamp, varchar) -> timestamp with time zone",
        "at_timezone(timestamp with time zone, varchar) -> timestamp with time zone",
    ),
)
def at_timezone(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    value, zone = arity(compiler, node, 2)
    return _to_zone(compiler, value, zone)


@function(
    "with_timezone", signatures="with_timezone(timestamp, varchar) -> timestamp with time zone"
)
def with_timezone(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """with_timezone(timestamp, zone): the same wall-clock time, now in ``zone``."""
    value, zone = arity(compiler, node, 2)
    return compiler.expr(value).dt.replace_time_zone(_zone(compiler, zone))


@function(
    "from_unixtime_nanos",
    signatures=(
        "from_unixtime_nanos(bigint) -> timestamp with time zone",
        "from_unixtime_nanos(decimal) -> timestamp with time zone",
    ),
)
def from_unixtime_nanos(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    nanos = compiler.expr(arg).cast(pl.Int64)
    return (nanos // 1000).cast(TIMESTAMP).dt.replace_time_zone(UTC)


@function("to_milliseconds", signatures="to_milliseconds(interval day to second) -> bigint")
def to_milliseconds(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return compiler.expr(arg).dt.total_milliseconds().cast(pl.Int64)
