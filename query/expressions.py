"""Scalar operators, literals, casts and the core aggregates, with Trino's semantics.

Each translator is ``(compiler, node) -> pl.Expr`` and is registered in ``query/registry.py``.
Trino rules that differ from Polars' defaults are spelled out here: integer division truncates
toward zero, ``%`` takes the sign of the dividend, decimal products keep the sum of the scales,
comparisons between unrelated types are refused, and ``NULL`` propagates through everything but
AND/OR (which Polars already evaluates with Kleene logic).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query import guards
from loglake.query import types as T
from loglake.query.registry import ExprCompiler, translates
from loglake.query.runtime import guard

# ---------------------------------------------------------------------- names and literals


@translates(exp.Column)
def _column(compiler: ExprCompiler, node: exp.Column) -> pl.Expr:
    return compiler.column(node)


@translates(exp.Paren)
def _paren(compiler: ExprCompiler, node: exp.Paren) -> pl.Expr:
    return compiler.expr(node.this)


@translates(exp.Alias)
def _alias(compiler: ExprCompiler, node: exp.Alias) -> pl.Expr:
    return compiler.expr(node.this)


def decimal_literal(text: str) -> pl.Expr:
    """A DECIMAL literal with the precision and scale its digits spell (Trino: 0.06 is decimal(2,2))."""
    value = decimal.Decimal(text)
    digits = text.lstrip("+-").replace(".", "").lstrip("0") or "0"
    scale = len(text.split(".", 1)[1]) if "." in text else 0
    precision = max(len(digits), scale, 1)
    return pl.lit(value, pl.Decimal(min(38, precision), scale))


@translates(exp.Literal)
def _literal(compiler: ExprCompiler, node: exp.Literal) -> pl.Expr:
    if node.is_string:
        return pl.lit(node.this, pl.String)
    text = node.this
    if re.fullmatch(r"[+-]?\d+", text):
        value = int(text)
        if -(2**31) <= value < 2**31:
            return pl.lit(value, pl.Int32)
        return pl.lit(value, pl.Int64)
    if "e" in text.lower():
        return pl.lit(float(text), pl.Float64)
    return decimal_literal(text)


@translates(exp.Null)
def _null(compiler: ExprCompiler, node: exp.Null) -> pl.Expr:
    return pl.lit(None)


@translates(exp.Boolean)
def _boolean(compiler: ExprCompiler, node: exp.Boolean) -> pl.Expr:
    return pl.lit(bool(node.this), pl.Boolean)


@translates(exp.Placeholder)
def _placeholder(compiler: ExprCompiler, node: exp.Placeholder) -> pl.Expr:
    raise compiler.error(node, "query parameter '?' has no value: pass params=[...]")


# ---------------------------------------------------------------------- casts and typed literals


def _timestamp_text(text: str) -> dt.datetime:
    """A TIMESTAMP literal's value: ISO date and time, then an optional offset or zone name."""
    text = text.strip()
    head, _, zone = text.rpartition(" ")
    if (head and "/" in zone) or zone.upper() == "UTC":
        from zoneinfo import ZoneInfo

        return dt.datetime.fromisoformat(head).replace(
            tzinfo=ZoneInfo("UTC" if zone.upper() == "UTC" else zone)
        )
    return dt.datetime.fromisoformat(
        text.replace(" +", "+").replace(" -", "-") if text.count(":") >= 2 else text
    )


def _typed_literal(
    compiler: ExprCompiler, text: str, target: pl.DataType, node: exp.Expression
) -> pl.Expr:
    try:
        if target == pl.Date:
            return pl.lit(dt.date.fromisoformat(text.strip()), pl.Date)
        if isinstance(target, pl.Datetime):
            value = _timestamp_text(text)
            if value.tzinfo is not None:
                # an instant with a zone or offset is kept in UTC (one zone per column)
                value = value.astimezone(dt.UTC)
                value = value.replace(tzinfo=None) if target.time_zone is None else value
            return pl.lit(value, target)
        if isinstance(target, pl.Decimal):
            return decimal_literal(text.strip())
    except (ValueError, decimal.InvalidOperation) as err:
        raise compiler.error(
            node, f"Value cannot be cast to {T.sql_name(target)}: {text!r}"
        ) from err
    return pl.lit(text).cast(target)


def cast(
    compiler: ExprCompiler, value: pl.Expr, source: pl.DataType, target: pl.DataType, strict: bool
) -> pl.Expr:
    """CAST with Trino's rounding and parsing rules where they differ from Polars'."""
    if source == target:
        return value
    if T.is_integer(target) and (T.is_float(source) or T.is_decimal(source)):
        value = value.cast(pl.Float64) if T.is_decimal(source) else value
        return value.round(0, mode="half_away_from_zero").cast(target, strict=strict)
    if target == pl.Boolean and T.is_string(source):
        low = value.str.strip_chars().str.to_lowercase()
        mapped = pl.when(low == "true").then(pl.lit(True)).when(low == "false").then(pl.lit(False))
        if strict:
            return mapped.otherwise(
                pl.when(value.is_null()).then(None).otherwise(value.cast(pl.Boolean, strict=True))
            )
        return mapped.otherwise(None)
    if T.is_string(source) and (T.is_integer(target) or T.is_decimal(target) or T.is_float(target)):
        value = value.str.strip_chars()
    if target == pl.Date and T.is_string(source):  # Polars has no string-to-date cast
        return value.str.strip_chars().str.to_date("%Y-%m-%d", strict=strict)
    if isinstance(target, pl.Datetime) and T.is_string(source):
        parsed = (
            value.str.strip_chars()
            .str.replace("T", " ")
            .str.to_datetime(time_unit=target.time_unit, strict=strict, time_zone=target.time_zone)
        )
        return parsed
    if target == pl.String and T.is_float(source):
        return value.cast(pl.String)
    if isinstance(target, pl.Struct) and isinstance(source, pl.Struct):
        return _cast_row(compiler, value, source, target, strict)
    if (
        isinstance(target, pl.List)
        and isinstance(source, pl.List)
        and isinstance(target.inner, pl.Struct)
        and isinstance(source.inner, pl.Struct)
    ):
        return value.list.eval(
            _cast_row(compiler, pl.element(), source.inner, target.inner, strict)
        )
    if isinstance(target, pl.Map) and T.is_map(source) and not isinstance(source, pl.Map):
        # a map spelt as a list of {key, value} entries already has the map's shape
        entry = pl.Struct({"key": target.key, "value": target.value})
        return value if source == pl.List(entry) else value.cast(pl.List(entry), strict=strict)
    return value.cast(target, strict=strict)


def _cast_row(
    compiler: ExprCompiler, value: pl.Expr, source: pl.Struct, target: pl.Struct, strict: bool
) -> pl.Expr:
    """CAST(row AS ROW(name type, ...)): fields are matched by position and renamed."""
    if len(source.fields) != len(target.fields):
        raise compiler.error(
            None,
            f"Cannot cast {T.sql_name(source).lower()} to {T.sql_name(target).lower()}",
        )
    # renamed in place and converted field by field through pl.field: the row is evaluated
    # once (rebuilding it from value.struct.field(...) repeats ``value`` per field, which grows
    # exponentially with nested ROW casts), and a null row stays null
    renamed = value.struct.rename_fields([t.name for t in target.fields])
    changed = [
        cast(compiler, pl.field(t.name), T.nested(s.dtype), T.nested(t.dtype), strict).alias(t.name)
        for s, t in zip(source.fields, target.fields, strict=True)
        if s.dtype != t.dtype
    ]
    return renamed.struct.with_fields(changed) if changed else renamed


def cast_node(compiler: ExprCompiler, node: exp.Cast, strict: bool) -> pl.Expr:
    """CAST/TRY_CAST to the core types (the registered translators in functions/casts.py
    first offer the cast to the library's hooks)."""
    try:
        target = T.polars_type(node.to)
    except ValueError as err:
        raise compiler.error(node, str(err)) from err
    inner = node.this
    if isinstance(inner, exp.Literal) and inner.is_string:
        if isinstance(target, pl.Decimal) and not node.to.expressions:
            return _typed_literal(compiler, inner.this, target, node)
        if (target == pl.Date or isinstance(target, pl.Datetime)) and strict:
            return _typed_literal(compiler, inner.this, target, node)
    value = compiler.expr(inner)
    source = compiler.dtype(value)
    if (
        isinstance(source, pl.Struct)
        and isinstance(target, pl.Struct)
        and len(source.fields) != len(target.fields)
    ):
        raise compiler.error(
            node, f"Cannot cast {T.sql_name(source).lower()} to {T.sql_name(target).lower()}"
        )
    return cast(compiler, value, source, target, strict)


# ---------------------------------------------------------------------- arithmetic


def _operands(
    compiler: ExprCompiler, node: exp.Binary
) -> tuple[pl.Expr, pl.Expr, pl.DataType, pl.DataType]:
    left, right = compiler.expr(node.this), compiler.expr(node.expression)
    return left, right, compiler.dtype(left), compiler.dtype(right)


def _check_numeric(
    compiler: ExprCompiler, node: exp.Binary, op: str, lt: pl.DataType, rt: pl.DataType
) -> None:
    for t in (lt, rt):
        if not (T.is_numeric(t) or t == pl.Null):
            raise compiler.error(
                node,
                f"Cannot apply operator: {T.sql_name(lt).lower()} {op} {T.sql_name(rt).lower()}",
            )


def _interval(compiler: ExprCompiler, node: exp.Interval, negate: bool = False) -> str:
    """Polars offset string ('3mo', '-90d') of an INTERVAL literal."""
    value = node.this
    text = value.this if isinstance(value, exp.Literal) else None
    if text is None:
        raise compiler.error(node, "INTERVAL needs a literal value")
    unit_node = node.args.get("unit")
    unit = (unit_node.name if unit_node is not None else "DAY").upper()
    parts = str(text).strip().split()
    if len(parts) == 2 and not unit_node:
        text, unit = parts[0], parts[1].upper()
    singular = (unit.rstrip("S") if unit.endswith("S") and unit != "MS" else unit).lower()
    if singular not in T.INTERVAL_UNITS:
        raise compiler.error(node, f"unsupported INTERVAL unit {unit}")
    suffix = T.DURATION_SUFFIX[singular]
    amount = decimal.Decimal(str(text).strip())
    if negate:
        amount = -amount
    if amount != amount.to_integral_value():
        if suffix == "s":
            return f"{int(amount * 1_000_000)}us"
        raise compiler.error(node, "fractional intervals are only supported in seconds")
    return f"{int(amount)}{suffix}"


def _shift(
    compiler: ExprCompiler, base_node: exp.Expression, interval: exp.Interval, negate: bool
) -> pl.Expr:
    base = compiler.expr(base_node)
    offset = _interval(compiler, interval, negate)
    dtype = compiler.dtype(base)
    if not T.is_temporal(dtype):
        raise compiler.error(base_node, f"Cannot add an interval to {T.sql_name(dtype).lower()}")
    if dtype == pl.Date and offset[-1] in "hms" and not offset.endswith("mo"):
        base = base.cast(pl.Datetime("us"))
    shifted = base.dt.offset_by(offset)
    if isinstance(base_node, exp.Cast) and isinstance(base_node.this, exp.Literal):
        # constant date arithmetic folds to a literal, so scans can prune on it
        folded = _as_literal(shifted)
        return shifted if folded is None else folded
    return shifted


def _decimal_operands(
    left: pl.Expr, right: pl.Expr, lt: pl.DataType, rt: pl.DataType
) -> tuple[pl.Expr, pl.Expr, pl.DataType, pl.DataType]:
    """Give integer operands of decimal arithmetic an explicit decimal(38,0) type."""
    if T.is_decimal(lt) and T.is_integer(rt):
        return left, right.cast(pl.Decimal(38, 0)), lt, pl.Decimal(38, 0)
    if T.is_decimal(rt) and T.is_integer(lt):
        return left.cast(pl.Decimal(38, 0)), right, pl.Decimal(38, 0), rt
    return left, right, lt, rt


def _constant(node: exp.Expression) -> bool:
    """Literal arithmetic (``DECIMAL '0.06' - DECIMAL '0.01'``) that can be folded at compile time."""
    if isinstance(node, exp.Literal):
        return True
    if isinstance(node, exp.Paren | exp.Neg):
        return _constant(node.this)
    if isinstance(node, exp.Cast):
        return isinstance(node.this, exp.Literal)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        return _constant(node.this) and _constant(node.expression)
    return False


def _folded(compiler: ExprCompiler, node: exp.Expression, expr: pl.Expr) -> pl.Expr:
    """A constant expression as one literal, so scans can use it against file statistics."""
    if compiler.replacements or not _constant(node):
        return expr
    folded = _as_literal(expr)
    return expr if folded is None else folded


def _as_literal(expr: pl.Expr) -> pl.Expr | None:
    """``expr`` computed once, as a literal; None when it fails or Python cannot hold the value
    (a date past 9999-12-31, which Trino and Polars allow), so the expression stays as it is."""
    try:
        value = pl.select(expr.alias("v"))
        return pl.lit(value.item(), value.dtypes[0])
    except (pl.exceptions.PolarsError, ValueError, OverflowError):
        return None


@translates(exp.Add)
def _add(compiler: ExprCompiler, node: exp.Add) -> pl.Expr:
    if isinstance(node.expression, exp.Interval):
        return _shift(compiler, node.this, node.expression, False)
    if isinstance(node.this, exp.Interval):
        return _shift(compiler, node.expression, node.this, False)
    left, right, lt, rt = _operands(compiler, node)
    _check_numeric(compiler, node, "+", lt, rt)
    return _folded(compiler, node, _integer_checked(compiler, node, "+", left, right, lt, rt))


@translates(exp.Sub)
def _sub(compiler: ExprCompiler, node: exp.Sub) -> pl.Expr:
    if isinstance(node.expression, exp.Interval):
        return _shift(compiler, node.this, node.expression, True)
    left, right, lt, rt = _operands(compiler, node)
    if T.is_temporal(lt) and T.is_temporal(rt):
        return left.cast(pl.Datetime("us")) - right.cast(pl.Datetime("us"))
    _check_numeric(compiler, node, "-", lt, rt)
    return _folded(compiler, node, _integer_checked(compiler, node, "-", left, right, lt, rt))


def _arith_sql(compiler: ExprCompiler, node: exp.Expression) -> str | None:
    """SQL text of an arithmetic term over frame columns and integer literals, or None."""
    if isinstance(node, exp.Paren):
        inner = _arith_sql(compiler, node.this)
        return None if inner is None else f"({inner})"
    if isinstance(node, exp.Literal):
        return node.this if not node.is_string and node.this.isdigit() else None
    if isinstance(node, exp.Column):
        expr = compiler.expr(node)
        if not expr.meta.is_column():
            return None
        name = expr.meta.output_name()
        return '"' + name.replace('"', '""') + '"'
    ops: dict[type[exp.Expr], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*"}
    op = ops.get(type(node))
    if op is None:
        return None
    left, right = _arith_sql(compiler, node.this), _arith_sql(compiler, node.expression)
    if left is None or right is None:
        return None
    return f"({left} {op} {right})"


@translates(exp.Mul)
def _mul(compiler: ExprCompiler, node: exp.Mul) -> pl.Expr:
    left, right, lt, rt = _operands(compiler, node)
    _check_numeric(compiler, node, "*", lt, rt)
    if (T.is_decimal(lt) or T.is_decimal(rt)) and not compiler.replacements:
        # Polars' SQL layer multiplies decimals keeping the sum of the scales (Trino's rule)
        # without rescaling the operands first, which is much faster than casting them
        text = _arith_sql(compiler, node)
        if text is not None:
            fast = pl.sql_expr(text)
            if compiler.dtype(fast) == _decimal_product_type(lt, rt):
                return fast
    if T.is_decimal(lt) or T.is_decimal(rt):
        left, right, lt, rt = _decimal_operands(left, right, lt, rt)
        if T.is_decimal(lt) and T.is_decimal(rt):
            scale = min(38, T.decimal_scale(lt) + T.decimal_scale(rt))
            if scale != max(T.decimal_scale(lt), T.decimal_scale(rt)):
                left = left.cast(pl.Decimal(38, scale))
    return _integer_checked(compiler, node, "*", left, right, lt, rt)


def _integer_checked(
    compiler: ExprCompiler,
    node: exp.Expression,
    op: str,
    left: pl.Expr,
    right: pl.Expr,
    lt: Any,
    rt: Any,
) -> pl.Expr:
    """Integer arithmetic fails on overflow, as in Trino, instead of wrapping around."""
    ops = {"+": pl.Expr.add, "-": pl.Expr.sub, "*": pl.Expr.mul}
    if lt not in _SIGNED_WIDTH or rt not in _SIGNED_WIDTH:
        return ops[op](left, right)
    wider = lt if _SIGNED_WIDTH[lt] >= _SIGNED_WIDTH[rt] else rt
    return guards.checked_arithmetic(compiler, node, op, left, right, wider)


_SIGNED_WIDTH = {pl.Int8: 8, pl.Int16: 16, pl.Int32: 32, pl.Int64: 64}


def _decimal_product_type(lt: pl.DataType, rt: pl.DataType) -> pl.DataType | None:
    if not (T.is_decimal(lt) or T.is_decimal(rt)) or T.is_float(lt) or T.is_float(rt):
        return None
    return pl.Decimal(38, min(38, T.decimal_scale(lt) + T.decimal_scale(rt)))


def truncated_div(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """Integer division rounding toward zero (Trino), where Polars' // floors."""
    quotient = left.abs() // right.abs()
    negative = (left < 0) ^ (right < 0)
    return pl.when(negative).then(-quotient).otherwise(quotient)


def _nonzero(
    compiler: ExprCompiler, node: exp.Expression, left: pl.Expr, right: pl.Expr, lt: Any, rt: Any
) -> tuple[pl.Expr, Callable[[pl.Expr], pl.Expr]]:
    """An exact divisor (integer or decimal) with its zeros taken out, and the finish that fails
    the query with Trino's ``Division by zero`` where a value was divided by zero (NULL inside
    TRY; NULL divided by zero is NULL). Doubles divide by zero into Infinity or NaN, as in Trino."""
    if T.is_float(lt) or T.is_float(rt):
        return right, lambda result: result
    zero = (right == 0) & left.is_not_null()
    return pl.when(right != 0).then(right), lambda result: guard(
        compiler, node, result, zero, "Division by zero"
    )


@translates(exp.Div)
def _div(compiler: ExprCompiler, node: exp.Div) -> pl.Expr:
    left, right, lt, rt = _operands(compiler, node)
    _check_numeric(compiler, node, "/", lt, rt)
    right, checked = _nonzero(compiler, node, left, right, lt, rt)
    if T.is_integer(lt) and T.is_integer(rt):
        return checked(truncated_div(left, right))
    if T.is_decimal(lt) or T.is_decimal(rt):
        left, right, lt, rt = _decimal_operands(left, right, lt, rt)
        if T.is_decimal(lt) and T.is_decimal(rt):
            scale = max(T.decimal_scale(lt), T.decimal_scale(rt))
            return checked((left / right).cast(pl.Decimal(38, scale)))
    return checked(left / right)


@translates(exp.IntDiv)
def _intdiv(compiler: ExprCompiler, node: exp.IntDiv) -> pl.Expr:
    left, right, lt, rt = _operands(compiler, node)
    right, checked = _nonzero(compiler, node, left, right, lt, rt)
    return checked(truncated_div(left, right))


@translates(exp.Mod)
def _mod(compiler: ExprCompiler, node: exp.Mod) -> pl.Expr:
    left, right, lt, rt = _operands(compiler, node)
    _check_numeric(compiler, node, "%", lt, rt)
    if T.is_integer(lt) and T.is_integer(rt):
        right, checked = _nonzero(compiler, node, left, right, lt, rt)
        return checked(left - right * truncated_div(left, right))
    if (T.is_decimal(lt) or T.is_decimal(rt)) and not (T.is_float(lt) or T.is_float(rt)):
        right, checked = _nonzero(compiler, node, left, right, lt, rt)
        return checked(_decimal_remainder(left, right, T.as_decimal(lt), T.as_decimal(rt)))
    remainder = left % right
    # Trino's remainder has the sign of the dividend
    return (
        pl.when((remainder != 0) & ((remainder < 0) != (left < 0)))
        .then(remainder - right)
        .otherwise(remainder)
    )


def _decimal_remainder(left: pl.Expr, right: pl.Expr, lt: pl.Decimal, rt: pl.Decimal) -> pl.Expr:
    """Decimal % decimal, with Trino's result type: the narrower integer part, the wider scale."""
    scale = max(lt.scale or 0, rt.scale or 0)
    whole = min((lt.precision or 38) - (lt.scale or 0), (rt.precision or 38) - (rt.scale or 0))
    wide = pl.Decimal(38, scale)
    a, b = left.cast(wide), right.cast(wide)
    quotient = (a / b).truncate(0).cast(pl.Decimal(38, 0))
    return (a - b * quotient).cast(pl.Decimal(min(38, whole + scale), scale))


@translates(exp.Neg)
def _neg(compiler: ExprCompiler, node: exp.Neg) -> pl.Expr:
    if isinstance(node.this, exp.Literal) and node.this.this == str(2**63):
        return pl.lit(-(2**63), pl.Int64)  # the one bigint whose magnitude is no bigint
    operand = compiler.expr(node.this)
    return guards.checked_negation(compiler, node, operand, compiler.dtype(operand))


# ---------------------------------------------------------------------- comparisons and logic


def _compare_operands(compiler: ExprCompiler, node: exp.Binary, op: str) -> tuple[pl.Expr, pl.Expr]:
    left, right, lt, rt = _operands(compiler, node)
    if not T.comparable(lt, rt):
        raise compiler.error(
            node,
            f"Cannot apply operator: {T.sql_name(lt).lower()} {op} {T.sql_name(rt).lower()}",
        )
    left, right = T.unify_temporal([left, right], [lt, rt])
    return left, right


def _row_comparison(compiler: ExprCompiler, node: exp.Binary, op: str, fn: Any) -> pl.Expr | None:
    """ROW = ROW and ROW <> ROW compare field by field (by position), with SQL's NULL logic."""
    left, right, lt, rt = _operands(compiler, node)
    if not (isinstance(lt, pl.Struct) and isinstance(rt, pl.Struct)):
        return None
    pairs = list(zip(lt.fields, rt.fields, strict=False))
    if op not in ("=", "<>") or len(lt.fields) != len(rt.fields):
        raise compiler.error(
            node,
            f"Cannot apply operator: {T.sql_name(lt).lower()} {op} {T.sql_name(rt).lower()}",
        )
    terms = []
    for a, b in pairs:
        a_type, b_type = T.nested(a.dtype), T.nested(b.dtype)
        if not T.comparable(a_type, b_type):
            raise compiler.error(
                node,
                f"Cannot apply operator: {T.sql_name(lt).lower()} {op} {T.sql_name(rt).lower()}",
            )
        x, y = T.unify_temporal(
            [left.struct.field(a.name), right.struct.field(b.name)], [a_type, b_type]
        )
        terms.append(fn(x, y))
    return pl.all_horizontal(terms) if op == "=" else pl.any_horizontal(terms)


def _comparison(op: str, fn: Any) -> Any:
    def translate(compiler: ExprCompiler, node: exp.Binary) -> pl.Expr:
        rows = _row_comparison(compiler, node, op, fn) if op in ("=", "<>") else None
        if rows is not None:
            return rows
        left, right = _compare_operands(compiler, node, op)
        return fn(left, right)

    return translate


for _cls, _op, _fn in (
    (exp.EQ, "=", lambda a, b: a == b),
    (exp.NEQ, "<>", lambda a, b: a != b),
    (exp.LT, "<", lambda a, b: a < b),
    (exp.LTE, "<=", lambda a, b: a <= b),
    (exp.GT, ">", lambda a, b: a > b),
    (exp.GTE, ">=", lambda a, b: a >= b),
    (exp.NullSafeEQ, "IS NOT DISTINCT FROM", lambda a, b: a.eq_missing(b)),
    (exp.NullSafeNEQ, "IS DISTINCT FROM", lambda a, b: a.ne_missing(b)),
):
    translates(_cls)(_comparison(_op, _fn))


def _boolean_operand(compiler: ExprCompiler, node: exp.Expression, op: str) -> pl.Expr:
    e = compiler.expr(node)
    t = compiler.dtype(e)
    if t not in (pl.Boolean, pl.Null):
        raise compiler.error(node, f"{op} operand must be boolean, found {T.sql_name(t).lower()}")
    return e


@translates(exp.And)
def _and(compiler: ExprCompiler, node: exp.And) -> pl.Expr:
    return _boolean_operand(compiler, node.this, "AND") & _boolean_operand(
        compiler, node.expression, "AND"
    )


@translates(exp.Or)
def _or(compiler: ExprCompiler, node: exp.Or) -> pl.Expr:
    return _boolean_operand(compiler, node.this, "OR") | _boolean_operand(
        compiler, node.expression, "OR"
    )


@translates(exp.Not)
def _not(compiler: ExprCompiler, node: exp.Not) -> pl.Expr:
    return ~_boolean_operand(compiler, node.this, "NOT")


@translates(exp.Is)
def _is(compiler: ExprCompiler, node: exp.Is) -> pl.Expr:
    value = compiler.expr(node.this)
    target = node.expression
    if isinstance(target, exp.Null):
        return value.is_null()
    if isinstance(target, exp.Boolean):
        return value.eq_missing(pl.lit(bool(target.this)))
    raise compiler.error(node, "IS expects NULL, TRUE or FALSE")


@translates(exp.Between)
def _between(compiler: ExprCompiler, node: exp.Between) -> pl.Expr:
    value = compiler.expr(node.this)
    low, high = compiler.expr(node.args["low"]), compiler.expr(node.args["high"])
    vt = compiler.dtype(value)
    types = [vt]
    for bound, bnode in ((low, node.args["low"]), (high, node.args["high"])):
        bt = compiler.dtype(bound)
        types.append(bt)
        if not T.comparable(vt, bt):
            raise compiler.error(
                bnode,
                f"Cannot check if {T.sql_name(vt).lower()} is BETWEEN {T.sql_name(bt).lower()} values",
            )
    value, low, high = T.unify_temporal([value, low, high], types)
    return (value >= low) & (value <= high)


@translates(exp.In)
def _in(compiler: ExprCompiler, node: exp.In) -> pl.Expr:
    if node.args.get("query") is not None:
        raise compiler.error(node, "IN (subquery) is only supported in WHERE, SELECT and HAVING")
    value = compiler.expr(node.this)
    vt = compiler.dtype(value)
    items = node.expressions
    literals: list[Any] = []
    has_null = False
    constant = True
    compiled = []
    for item in items:
        e = compiler.expr(item)
        t = compiler.dtype(e)
        if not T.comparable(vt, t):
            raise compiler.error(
                item,
                f"IN value and list items must be the same type: {T.sql_name(vt).lower()} vs {T.sql_name(t).lower()}",
            )
        compiled.append((e, t))
        if isinstance(item, exp.Null):
            has_null = True
        elif isinstance(item, exp.Literal) and constant:
            literals.append(T.literal_python(item, exact=True))
        elif isinstance(item, exp.Literal | exp.Cast | exp.Neg | exp.Boolean) and constant:
            try:
                literals.append(pl.select(e).item())
            except Exception:
                constant = False
        else:
            constant = False
    if constant:
        if T.is_decimal(vt):
            literals = [decimal.Decimal(str(v)) for v in literals]
        series = pl.Series(literals)
        if series.dtype != vt and vt != pl.Null:
            with contextlib.suppress(Exception):
                series = series.cast(vt)
        hit = value.is_in(series.implode())
        if has_null:
            return pl.when(hit).then(pl.lit(True)).otherwise(pl.lit(None, pl.Boolean))
        return hit
    result = None
    for e, t in compiled:
        left, right = T.unify_temporal([value, e], [vt, t])
        term = left == right
        result = term if result is None else result | term
    return result if result is not None else pl.lit(False)


_LIKE_CACHE: dict[tuple[str, str | None], tuple[str, str]] = {}


def like_plan(pattern: str, escape: str | None) -> tuple[str, str]:
    """How to evaluate a LIKE pattern: ('eq'|'starts'|'ends'|'contains'|'regex', argument)."""
    key = (pattern, escape)
    if key in _LIKE_CACHE:
        return _LIKE_CACHE[key]
    tokens: list[tuple[str, str]] = []  # ("lit", ch) | ("any", "%") | ("one", "_")
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape:
            if i + 1 >= len(pattern):
                raise ValueError(
                    "Escape character must be followed by '%', '_' or the escape character"
                )
            tokens.append(("lit", pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            tokens.append(("any", ch))
        elif ch == "_":
            tokens.append(("one", ch))
        else:
            tokens.append(("lit", ch))
        i += 1
    kinds = [k for k, _ in tokens]
    literal = "".join(v for k, v in tokens if k == "lit")
    plan: tuple[str, str]
    if "one" not in kinds:
        inner = kinds
        lead = bool(inner) and inner[0] == "any"
        trail = bool(inner) and inner[-1] == "any"
        core = inner[int(lead) : len(inner) - int(trail)] if inner else []
        if "any" not in core:
            if lead and trail:
                plan = ("contains", literal)
            elif lead:
                plan = ("ends", literal)
            elif trail:
                plan = ("starts", literal)
            else:
                plan = ("eq", literal)
            _LIKE_CACHE[key] = plan
            return plan
    regex = "".join(
        re.escape(v) if k == "lit" else (".*" if k == "any" else ".") for k, v in tokens
    )
    plan = ("regex", f"(?s)^{regex}$")
    _LIKE_CACHE[key] = plan
    return plan


def _like(compiler: ExprCompiler, node: exp.Like, escape: str | None) -> pl.Expr:
    value = compiler.expr(node.this)
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise compiler.error(pattern, "LIKE pattern must be a string literal")
    vt = compiler.dtype(value)
    if not (T.is_string(vt) or vt == pl.Null):
        raise compiler.error(node, f"Cannot apply LIKE to {T.sql_name(vt).lower()}")
    try:
        kind, arg = like_plan(pattern.this, escape)
    except ValueError as err:
        raise compiler.error(pattern, str(err)) from err
    result = _like_match(value, kind, arg)
    return ~result if node.args.get("negate") else result


def _like_match(value: pl.Expr, kind: str, arg: str) -> pl.Expr:
    if kind == "eq":
        return value == arg
    if kind == "starts":
        return value.str.starts_with(arg)
    if kind == "ends":
        return value.str.ends_with(arg)
    if kind == "contains":
        return value.str.contains(arg, literal=True)
    return value.str.contains(arg)


@translates(exp.Like)
def _like_plain(compiler: ExprCompiler, node: exp.Like) -> pl.Expr:
    return _like(compiler, node, None)


@translates(exp.Escape)
def _like_escape(compiler: ExprCompiler, node: exp.Escape) -> pl.Expr:
    like = node.this
    esc = node.expression
    if not isinstance(like, exp.Like) or not isinstance(esc, exp.Literal):
        raise compiler.error(node, "ESCAPE applies to LIKE with a literal escape character")
    if len(esc.this) != 1:
        raise compiler.error(esc, "Escape string must be a single character")
    return _like(compiler, like, esc.this)


# ---------------------------------------------------------------------- conditionals


@translates(exp.Case)
def _case(compiler: ExprCompiler, node: exp.Case) -> pl.Expr:
    operand = node.this
    base = compiler.expr(operand) if operand is not None else None
    chain: Any = None
    branches = node.args.get("ifs") or []
    default = node.args.get("default")
    nodes = [b.args["true"] for b in branches] + ([default] if default is not None else [])
    exprs = [compiler.expr(n) for n in nodes]
    dtypes = [compiler.dtype(e) for e in exprs]
    results = T.unify_values(exprs, dtypes)
    for branch, value in zip(branches, results, strict=False):
        cond = compiler.expr(branch.this)
        if base is not None:
            cond = base == cond
        chain = pl.when(cond).then(value) if chain is None else chain.when(cond).then(value)
    otherwise = results[-1] if default is not None else pl.lit(None)
    if chain is None:
        return otherwise
    case = chain.otherwise(otherwise)
    dtype = _case_dtype(dtypes, len(branches))
    return case if dtype is None else compiler.known_dtype(case, dtype)


def _case_dtype(dtypes: list[pl.DataType], branches: int) -> pl.DataType | None:
    """The type of a CASE from its results' types: the same chain over typed NULLs, so that
    Polars applies its own supertype rule without walking the results' trees."""
    stand_ins = T.unify_values([pl.lit(None, dtype=t) for t in dtypes], dtypes)
    values = stand_ins if len(stand_ins) > branches else [*stand_ins, pl.lit(None)]
    chain: Any = pl.when(True).then(values[0])
    for value in values[1:-1]:
        chain = chain.when(True).then(value)
    try:
        return pl.LazyFrame().select(chain.otherwise(values[-1]).alias("_x")).collect_schema()["_x"]
    except pl.exceptions.PolarsError:
        return None


def unify_results(compiler: ExprCompiler, nodes: list[exp.Expression]) -> list[pl.Expr]:
    """Compile the values one expression may return, with dates and timestamps made alike."""
    exprs = [compiler.expr(n) for n in nodes]
    return T.unify_values(exprs, [compiler.dtype(e) for e in exprs])


@translates(exp.Coalesce, signatures="coalesce(T...) -> T")
def _coalesce(compiler: ExprCompiler, node: exp.Coalesce) -> pl.Expr:
    return pl.coalesce(unify_results(compiler, [node.this, *node.expressions]))


@translates(exp.Nullif, signatures="nullif(T, T) -> T")
def _nullif(compiler: ExprCompiler, node: exp.Nullif) -> pl.Expr:
    value = compiler.expr(node.this)
    left, right = unify_results(compiler, [node.this, node.expression])
    return pl.when(left == right).then(None).otherwise(value)


# ---------------------------------------------------------------------- nested data


@translates(exp.Dot)
def _dot(compiler: ExprCompiler, node: exp.Dot) -> pl.Expr:
    base = compiler.expr(node.this)
    dtype = compiler.dtype(base)
    name = node.expression.name
    if not isinstance(dtype, pl.Struct):
        message = f"Expression {node.this.sql('trino')} is not of type ROW"
        if dtype == pl.String:
            message += _json_member_hint(compiler, node)
        raise compiler.error(node, message)
    for f in dtype.fields:
        if f.name.lower() == name.lower():
            return base.struct.field(f.name)
    fields = [f.name for f in dtype.fields]
    from loglake.query.tables import suggest

    raise compiler.error(
        node.expression, f"Field '{name}' not found in row." + suggest(name, fields)
    )


def _json_member_hint(compiler: ExprCompiler, node: exp.Dot) -> str:
    """What to write instead of ``text.member``: a VARCHAR column such as Config's
    ``configuration`` or CloudTrail's ``requestparameters`` holds JSON text, read with
    json_extract_scalar (Athena refuses the member access too). Spelled as the query spells it,
    since JSON keys are matched with their case."""
    # the member's own span, back to the first name before it (a qualifier added by name
    # resolution carries the span of the alias it came from, further on)
    _, end = compiler.position(node.expression)
    starts = [
        m["start"]
        for sub in node.walk()
        if "start" in (m := getattr(sub, "_meta", None) or {})
        and end is not None
        and m["end"] < end
    ]
    written = compiler.sql[min(starts) : end] if starts else ""
    base, dot, member = written.rpartition(".")
    if not dot or not re.fullmatch(r"[\w\".]+", written):
        base, member = node.this.sql("trino"), node.expression.name
    return (
        f"; it is varchar: if it holds JSON, read the member with "
        f"json_extract_scalar({base}, '$.{member.strip(chr(34))}')"
    )


@translates(exp.Struct, exp.Tuple)
def _row(compiler: ExprCompiler, node: exp.Struct) -> pl.Expr:
    """ROW(a, b, ...): an anonymous row whose fields are named field0, field1, ... ."""
    members = []
    for i, item in enumerate(node.expressions):
        if isinstance(item, exp.PropertyEQ | exp.Alias):
            members.append(
                compiler.expr(
                    item.expression if isinstance(item, exp.PropertyEQ) else item.this
                ).alias(item.name)
            )
        else:
            members.append(compiler.expr(item).alias(f"field{i}"))
    if not members:
        raise compiler.error(node, "ROW needs at least one field")
    return pl.struct(members)


@translates(exp.Array)
def _array(compiler: ExprCompiler, node: exp.Array) -> pl.Expr:
    if not node.expressions:
        return pl.lit([], pl.List(pl.Null))
    items = unify_results(compiler, list(node.expressions))
    if any(isinstance(compiler.dtype(i), pl.List | pl.Array) for i in items):
        # concat_list would splice nested arrays into one: wrap each in a list of its own
        items = [i.repeat_by(1) for i in items]
    return pl.concat_list(items)


# ---------------------------------------------------------------------- functions the relational core needs


@translates(exp.Grouping)
def _grouping(compiler: ExprCompiler, node: exp.Grouping) -> pl.Expr:
    """grouping(a, b, ...): a bit per argument, set when that key is not in the row's grouping set."""
    info = compiler.grouping
    args = node.expressions
    if info is None:
        return pl.lit(0, pl.Int64)
    column, keys = info.column, info.keys
    result: pl.Expr = pl.lit(0, pl.Int64)
    for j, arg in enumerate(args):
        if arg not in keys:
            raise compiler.error(arg, "grouping() arguments must be GROUP BY expressions")
        shift = len(keys) - 1 - keys.index(arg)
        bit = (pl.col(column) // (1 << shift)) % 2
        result = result + bit * (1 << (len(args) - 1 - j))
    return result


# ---------------------------------------------------------------------- core aggregates


@translates(exp.Count, aggregate=True)
def _count(compiler: ExprCompiler, node: exp.Count) -> pl.Expr:
    arg = node.this
    if arg is None or isinstance(arg, exp.Star):
        return pl.len().cast(pl.Int64)
    if isinstance(arg, exp.Distinct):
        return compiler.expr(arg.expressions[0]).drop_nulls().n_unique().cast(pl.Int64)
    return compiler.expr(arg).count().cast(pl.Int64)


def _agg_arg(compiler: ExprCompiler, node: exp.Expression) -> tuple[pl.Expr, bool]:
    arg = node.this
    if isinstance(arg, exp.Distinct):
        return compiler.expr(arg.expressions[0]), True
    return compiler.expr(arg), False


@translates(exp.Sum, aggregate=True)
def _sum(compiler: ExprCompiler, node: exp.Sum) -> pl.Expr:
    value, distinct = _agg_arg(compiler, node)
    dtype = compiler.dtype(value)
    if distinct:
        value = value.unique()
    if T.is_integer(dtype):
        total = pl.when(value.count() > 0).then(value.cast(guards.exact_integers()).sum())
        return guards.checked_bigint(compiler, node, total)
    return pl.when(value.count() > 0).then(value.sum().cast(T.sum_type(dtype)))


@translates(exp.Avg, aggregate=True)
def _avg(compiler: ExprCompiler, node: exp.Avg) -> pl.Expr:
    value, distinct = _agg_arg(compiler, node)
    dtype = compiler.dtype(value)
    if distinct:
        value = value.unique()
    if T.is_decimal(dtype):
        from loglake.query.compiler.unscaled import decimal_mean

        return decimal_mean(value.sum(), value.count(), dtype)
    return value.cast(pl.Float64).mean().cast(T.avg_type(dtype))


@translates(exp.Min, aggregate=True)
def _min(compiler: ExprCompiler, node: exp.Min) -> pl.Expr:
    if node.expressions:
        from loglake.query.functions.aggregates import top_values

        return top_values(compiler, node, largest=False)
    value, _ = _agg_arg(compiler, node)
    return value.min()


@translates(exp.Max, aggregate=True)
def _max(compiler: ExprCompiler, node: exp.Max) -> pl.Expr:
    if node.expressions:
        from loglake.query.functions.aggregates import top_values

        return top_values(compiler, node, largest=True)
    value, _ = _agg_arg(compiler, node)
    return value.max()
