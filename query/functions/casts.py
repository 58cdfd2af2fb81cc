"""CAST and TRY_CAST with the library's own target types (JSON, IPADDRESS, IPPREFIX).

The core cast knows the scalar and nested Polars types; casts from or to JSON and IP types are
asked of the hooks in ``registry.CAST_HOOKS`` first. A cast inside TRY(...) is a TRY_CAST.
"""

from __future__ import annotations

import polars as pl
from sqlglot import exp

from loglake.query.expressions import cast_node
from loglake.query.functions.common import lenient, no_errors
from loglake.query.registry import CAST_HOOKS, ExprCompiler, translates
from loglake.query.runtime import guard


def _hooked(compiler: ExprCompiler, node: exp.Cast) -> pl.Expr | None:
    for hook in CAST_HOOKS:
        result = hook(compiler, node)
        if result is not None:
            return result
    return None


@translates(exp.Cast)
def cast(compiler: ExprCompiler, node: exp.Cast) -> pl.Expr:
    """CAST(x AS type): a value that does not convert fails the query with Trino's message and
    the cast's position (NULL inside TRY)."""
    hooked = _hooked(compiler, node)
    if hooked is not None:
        return hooked
    if lenient():
        return cast_node(compiler, node, strict=False)
    literal = (
        isinstance(node.this, exp.Literal)
        and node.this.is_string
        and node.to.is_type(*_READ_WHEN_COMPILING)
    )
    source = compiler.expr(node.this)
    if literal or not _checkable(compiler.dtype(source)):
        # typed literals (DATE '...') are read when compiling, with their own errors
        return cast_node(compiler, node, strict=True)
    converted = cast_node(compiler, node, strict=False)
    target = node.to.sql("trino").upper()
    message = pl.concat_str(
        [pl.lit("Cannot cast '"), source.cast(pl.String), pl.lit(f"' to {target}")]
    )
    return guard(compiler, node, converted, source.is_not_null() & converted.is_null(), message)


#: types whose string literals (DATE '2024-01-01') are read when the query is compiled
_READ_WHEN_COMPILING = (
    exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ,
    exp.DataType.Type.DECIMAL,
)


def _checkable(dtype: pl.DataType) -> bool:
    """Scalar sources whose failed conversions show as NULLs that :func:`guard` can report."""
    return not isinstance(dtype, pl.List | pl.Array | pl.Struct | pl.Map) and dtype != pl.Null


@translates(exp.TryCast)
def try_cast(compiler: ExprCompiler, node: exp.TryCast) -> pl.Expr:
    with no_errors():
        hooked = _hooked(compiler, node)
    return hooked if hooked is not None else cast_node(compiler, node, strict=False)
