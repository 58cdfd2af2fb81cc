"""CAST and TRY_CAST with the library's own target types (JSON, IPADDRESS, IPPREFIX).

The core cast knows the scalar and nested Polars types; casts from or to JSON and IP types are
asked of the hooks in ``registry.CAST_HOOKS`` first. A cast inside TRY(...) is a TRY_CAST.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.expressions import cast_node
from loglake.query.functions.common import lenient, no_errors
from loglake.query.registry import CAST_HOOKS, translates


def _hooked(compiler: Any, node: exp.Cast) -> pl.Expr | None:
    for hook in CAST_HOOKS:
        result = hook(compiler, node)
        if result is not None:
            return result
    return None


@translates(exp.Cast)
def cast(compiler: Any, node: exp.Cast) -> pl.Expr:
    hooked = _hooked(compiler, node)
    if hooked is not None:
        return hooked
    return cast_node(compiler, node, strict=not lenient())


@translates(exp.TryCast)
def try_cast(compiler: Any, node: exp.TryCast) -> pl.Expr:
    with no_errors():
        hooked = _hooked(compiler, node)
    return hooked if hooked is not None else cast_node(compiler, node, strict=False)
