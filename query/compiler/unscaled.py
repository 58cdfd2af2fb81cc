"""SUM and AVG of decimal arithmetic (``sum(price * (1 - discount) * (1 + tax))``) over
unscaled 128-bit integers.

A DECIMAL(p, s) value is stored as the integer ``value * 10^s``; Polars' decimal kernels
multiply and add those integers one checked step at a time, about ten times the cost of plain
Int128 arithmetic on the same numbers. Trino's +, - and * of decimals are exact (the product
keeps the sum of the scales, a sum or difference the larger scale), so the same integers, with
the narrower operand of + and - scaled up, give exactly Trino's result, as long as nothing
overflows: Trino fails a result of 10^38 or more (in unscaled units).

This module computes the unscaled integers only when a bound proves that no row's
intermediate result, and no group's sum, can reach 10^38; anything else keeps the decimal
kernels and their overflow errors. A column's bound is its declared precision (``10^p``), or
the min/max statistics of the files the scan reads (Parquet footers, Delta's add actions) when
every file has them: the same statistics the scans already trust to skip files and row
groups. The sum of a group is bounded by its row count, which is below 2^63, so a row bound
under 10^38 / 2^63 (about 10^19) leaves every sum exact. Only the few group results are
scaled back into DECIMAL(38, s).
"""

from __future__ import annotations

import decimal
from typing import TYPE_CHECKING, NamedTuple

import polars as pl
from sqlglot import exp

from loglake.query import types as T

if TYPE_CHECKING:
    from loglake.query.compiler.core import Compiler

#: a result Trino refuses, in unscaled units (DECIMAL's 38 digits)
LIMIT = 10**38
#: the largest value a row may have for a sum of up to 2^63 rows to stay below LIMIT
SUMMABLE = LIMIT // 2**63


class Unscaled(NamedTuple):
    """An Int128 expression of unscaled values at ``scale``, whose magnitude is below ``bound``."""

    expr: pl.Expr
    scale: int
    bound: int
    decimal: bool  # whether a decimal column takes part (else it is integer arithmetic)


def summable(compiler: Compiler, node: exp.Expression) -> Unscaled | None:
    """``node`` as unscaled integers when it is decimal +, - and * that no row and no group
    sum can overflow; None otherwise (no proof: the caller keeps decimals). A plain column
    keeps Polars' decimal sum: scaling back costs more than it saves when there are many
    groups (TPC-H q18's 1.5M: +3% CPU), and a few groups gain ~1%."""
    if not isinstance(_strip(node), exp.Add | exp.Sub | exp.Mul):
        return None
    found = _unscaled(compiler, node)
    if found is None or not found.decimal or found.bound >= SUMMABLE:
        return None
    return found


def rescaled(total: pl.Expr, scale: int) -> pl.Expr:
    """Unscaled Int128 results (a few per query: one per group) as DECIMAL(38, scale)."""
    whole = total.cast(pl.Decimal(38, 0))
    if not scale:
        return whole
    unit = pl.lit(decimal.Decimal(1).scaleb(-scale), pl.Decimal(38, scale))
    return (whole * unit).cast(pl.Decimal(38, scale))


def decimal_mean(total: pl.Expr, count: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """AVG of DECIMAL(p, s) values from their sum (decimal, or unscaled Int128) and value count,
    as Trino gives it: DECIMAL(p, s) (a mean lies between the smallest and the largest value, so
    it fits), rounded half away from zero (a decimal division rounds half to even), NULL over no
    values. Grouped, whole-partition and framed window averages all end here. Integer division
    on the magnitude: doubling a sum near 10^38 would leave Int128."""
    unscaled = total.to_physical()
    counted = count.cast(pl.Int128)
    magnitude = unscaled.abs()
    quotient = magnitude // counted
    up = (2 * (magnitude - quotient * counted) >= counted).cast(pl.Int128)
    rounded = pl.when(unscaled < 0).then(0 - (quotient + up)).otherwise(quotient + up)
    mean = rescaled(rounded, T.decimal_scale(dtype))
    return pl.when(count > 0).then(mean.cast(dtype))


def _strip(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _unscaled(compiler: Compiler, node: exp.Expression) -> Unscaled | None:
    node = _strip(node)
    if isinstance(node, exp.Literal):
        return _literal(node)
    if isinstance(node, exp.Neg):
        inner = _unscaled(compiler, node.this)
        return None if inner is None else inner._replace(expr=pl.lit(0, pl.Int128) - inner.expr)
    if isinstance(node, exp.Column):
        return _column(compiler, node)
    if not isinstance(node, exp.Add | exp.Sub | exp.Mul):
        return None
    left, right = _unscaled(compiler, node.this), _unscaled(compiler, node.expression)
    if left is None or right is None:
        return None
    if isinstance(node, exp.Mul):
        scale, bound = left.scale + right.scale, left.bound * right.bound
        expr = left.expr * right.expr
    else:
        scale = max(left.scale, right.scale)
        a, b = _scaled_to(left, scale), _scaled_to(right, scale)
        bound = a.bound + b.bound
        expr = a.expr + b.expr if isinstance(node, exp.Add) else a.expr - b.expr
    if scale > 38 or bound >= LIMIT:
        return None
    return Unscaled(expr, scale, bound, left.decimal or right.decimal)


def _scaled_to(value: Unscaled, scale: int) -> Unscaled:
    factor = 10 ** (scale - value.scale)
    if factor == 1:
        return value
    return value._replace(expr=value.expr * pl.lit(factor, pl.Int128), bound=value.bound * factor)


def _literal(node: exp.Literal) -> Unscaled | None:
    """An integer or plain decimal literal (``1``, ``0.05``) as its unscaled integer."""
    if node.is_string:
        return None
    text = node.this
    try:
        value = decimal.Decimal(text)
    except decimal.InvalidOperation:
        return None
    if "e" in text.lower() or not value.is_finite():
        return None
    scale = len(text.split(".", 1)[1]) if "." in text else 0
    unscaled = int(value.scaleb(scale))
    return Unscaled(pl.lit(unscaled, pl.Int128), scale, abs(unscaled) + 1, False)


def _column(compiler: Compiler, node: exp.Column) -> Unscaled | None:
    """A decimal column's stored integers, bounded by its statistics or else its precision."""
    expr = compiler.expr(node)
    dtype = compiler.dtype(expr)
    if not isinstance(dtype, pl.Decimal) or not expr.meta.is_column():
        return None
    scale, precision = T.decimal_scale(dtype), dtype.precision or 38
    bound = 10**precision
    magnitude = compiler.magnitude(expr.meta.output_name())
    if magnitude is not None:
        # a value read with a coarser scale than the file's may round up by half a unit
        bound = min(
            bound, int(magnitude.scaleb(scale).to_integral_value(decimal.ROUND_CEILING)) + 1
        )
    return Unscaled(expr.to_physical(), scale, bound, True)
