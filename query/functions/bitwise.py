"""Bitwise functions on two's complement integers, and the bitwise aggregates.

bitwise_and/or/xor/not work in ``bigint``; the shifts keep the width of their value (a shift by
the width or more gives 0, or -1 for an arithmetic shift of a negative value), as in Trino.
"""

from __future__ import annotations

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.functions.common import arity, constant, fail
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard

_INTEGERS = ("tinyint", "smallint", "integer", "bigint")
_UNSIGNED = {8: pl.UInt8, 16: pl.UInt16, 32: pl.UInt32, 64: pl.UInt64}
_SIGNED = {8: pl.Int8, 16: pl.Int16, 32: pl.Int32, 64: pl.Int64}


def _bigint(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    return compiler.expr(node).cast(pl.Int64)


@translates(exp.BitwiseAnd, signatures="bitwise_and(bigint, bigint) -> bigint")
def bitwise_and(compiler: ExprCompiler, node: exp.BitwiseAnd) -> pl.Expr:
    return _bigint(compiler, node.this) & _bigint(compiler, node.expression)


@translates(exp.BitwiseOr, signatures="bitwise_or(bigint, bigint) -> bigint")
def bitwise_or(compiler: ExprCompiler, node: exp.BitwiseOr) -> pl.Expr:
    return _bigint(compiler, node.this) | _bigint(compiler, node.expression)


@translates(exp.BitwiseXor, signatures="bitwise_xor(bigint, bigint) -> bigint")
def bitwise_xor(compiler: ExprCompiler, node: exp.BitwiseXor) -> pl.Expr:
    return _bigint(compiler, node.this) ^ _bigint(compiler, node.expression)


@translates(exp.BitwiseNot, signatures="bitwise_not(bigint) -> bigint")
def bitwise_not(compiler: ExprCompiler, node: exp.BitwiseNot) -> pl.Expr:
    return ~_bigint(compiler, node.this)


@function("bit_count", signatures="bit_count(bigint, bigint) -> bigint")
def bit_count(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """bit_count(x, bits): the 1 bits of x written as a bits-wide two's complement number."""
    value_node, bits_node = arity(compiler, node, 2)
    bits = constant(bits_node)
    if not isinstance(bits, int) or not 2 <= bits <= 64:
        fail(compiler, bits_node, "Bits specified in bit_count must be between 2 and 64")
    value = _bigint(compiler, value_node)
    if bits == 64:
        return value.bitwise_count_ones().cast(pl.Int64)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    masked = value & ((1 << bits) - 1)
    count = masked.bitwise_count_ones().cast(pl.Int64)
    text = pl.concat_str(
        [
            pl.lit("Number must be representable with the bits specified. "),
            value.cast(pl.String),
            pl.lit(f" cannot be represented with {bits} bits"),
        ]
    )
    return guard(compiler, node, count, (value < low) | (value > high), text)


def _shift(compiler: ExprCompiler, node: exp.Anonymous, kind: str) -> pl.Expr:
    value_node, shift_node = arity(compiler, node, 2)
    value = compiler.expr(value_node)
    dtype = compiler.dtype(value)
    if not T.is_integer(dtype):
        dtype = pl.Int64()
        value = value.cast(pl.Int64)
    width = T.signed_bits(dtype)
    signed, unsigned = _SIGNED[width], _UNSIGNED[width]
    value = value.cast(signed)
    shift = compiler.expr(shift_node).cast(pl.Int64)
    in_range = (shift >= 0) & (shift < width)
    factor = pl.lit(2, pl.UInt64).pow(shift.clip(0, width - 1).cast(pl.UInt32))
    bits = value.reinterpret(signed=False).cast(pl.UInt64)
    if kind == "left":
        moved = ((bits * factor) % (2**width)).cast(unsigned).reinterpret(signed=True)
        out = pl.when(in_range).then(moved).otherwise(pl.lit(0, signed))
    elif kind == "right":
        moved = (bits // factor).cast(unsigned).reinterpret(signed=True)
        out = pl.when(in_range).then(moved).otherwise(pl.lit(0, signed))
    else:
        moved = value // factor.cast(pl.Int64)
        overflow = pl.when(value < 0).then(pl.lit(-1, signed)).otherwise(pl.lit(0, signed))
        out = pl.when(in_range).then(moved.cast(signed)).otherwise(overflow)
    return out.cast(signed)


def _shift_signatures(name: str) -> tuple[str, ...]:
    return tuple(f"{name}({t}, bigint) -> {t}" for t in _INTEGERS)


@function("bitwise_left_shift", signatures=_shift_signatures("bitwise_left_shift"))
def bitwise_left_shift(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _shift(compiler, node, "left")


@function("bitwise_right_shift", signatures=_shift_signatures("bitwise_right_shift"))
def bitwise_right_shift(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """Logical shift: zeros come in from the left, so a negative value turns positive."""
    return _shift(compiler, node, "right")


@function(
    "bitwise_right_shift_arithmetic",
    signatures=_shift_signatures("bitwise_right_shift_arithmetic"),
)
def bitwise_right_shift_arithmetic(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """Arithmetic shift: the sign bit comes in from the left."""
    return _shift(compiler, node, "arithmetic")


# --- aggregates ----------------------------------------------------------------------------------


def _bit_aggregate(compiler: ExprCompiler, node: exp.Expression, reduce: str) -> pl.Expr:
    value = _bigint(compiler, node.this)
    folded = getattr(value, reduce)()
    return pl.when(value.count() > 0).then(folded)


@translates(exp.BitwiseAndAgg, aggregate=True, signatures="bitwise_and_agg(bigint) -> bigint")
def bitwise_and_agg(compiler: ExprCompiler, node: exp.BitwiseAndAgg) -> pl.Expr:
    return _bit_aggregate(compiler, node, "bitwise_and")


@translates(exp.BitwiseOrAgg, aggregate=True, signatures="bitwise_or_agg(bigint) -> bigint")
def bitwise_or_agg(compiler: ExprCompiler, node: exp.BitwiseOrAgg) -> pl.Expr:
    return _bit_aggregate(compiler, node, "bitwise_or")


@translates(exp.BitwiseXorAgg, aggregate=True, signatures="bitwise_xor_agg(bigint) -> bigint")
def bitwise_xor_agg(compiler: ExprCompiler, node: exp.BitwiseXorAgg) -> pl.Expr:
    return _bit_aggregate(compiler, node, "bitwise_xor")
