"""Conversion functions: typeof (CAST and TRY_CAST live in casts.py)."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.registry import translates


def sql_type_name(compiler: Any, node: exp.Expression) -> str:
    """Trino's name for the type of ``node``: its Polars type, or ``json`` for JSON values
    (carried as text, so only the expression that made them tells them apart)."""
    from loglake.query.functions.json import is_json

    if is_json(compiler, node):
        return "json"
    if isinstance(node, exp.Cast | exp.TryCast) and node.to.this in _TEXT_CARRIED:
        return _TEXT_CARRIED[node.to.this]
    return T.type_name(compiler.dtype(compiler.expr(node)))


#: SQL types whose values are carried as canonical text; a CAST names them
_TEXT_CARRIED = {
    exp.DataType.Type.IPADDRESS: "ipaddress",
    exp.DataType.Type.IPPREFIX: "ipprefix",
    exp.DataType.Type.UUID: "uuid",
}


@translates(exp.Typeof, signatures="typeof(T) -> varchar")
def typeof(compiler: Any, node: exp.Typeof) -> pl.Expr:
    """typeof(x): the name of x's type, a constant of the query."""
    return pl.lit(sql_type_name(compiler, node.this))
