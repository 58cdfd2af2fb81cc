"""Errors found while a query runs, raised from inside vectorised Polars expressions.

Polars has no expression that raises an error, but a strict cast of text to a number fails and
quotes the text. ``guard`` uses that: where a row breaks a function's rule (a negative standard
deviation, a byte string of the wrong length), a marked message is cast to a number, the query
fails, and :func:`error_from_polars` turns Polars' report back into the message, with the
position of the call in the query. Inside TRY(...) the same rows give NULL instead.
"""

from __future__ import annotations

import re

import polars as pl
from sqlglot import exp

from loglake.errors import SqlError
from loglake.query.functions.common import Finish, lenient
from loglake.query.registry import ExprCompiler

_MARK = "LOGLAKE-ERROR"
_FOUND = re.compile(_MARK + r"\[(\d*):(\d*)\]([^\"]*)")
_CONTEXT = re.compile(r"\n\s*(?:This error occurred|Resolved plan until failure)")


def _marked(compiler: ExprCompiler, node: exp.Expression | None, message: str | pl.Expr) -> pl.Expr:
    position = getattr(compiler, "position", None)
    start, end = position(node) if position is not None and node is not None else (None, None)
    prefix = f"{_MARK}[{'' if start is None else start}:{'' if end is None else end}]"
    if isinstance(message, str):
        return pl.lit(prefix + message.replace('"', "'"))
    return pl.concat_str([pl.lit(prefix), message.str.replace_all('"', "'", literal=True)])


def guard(
    compiler: ExprCompiler,
    node: exp.Expression | None,
    result: pl.Expr,
    broken: pl.Expr,
    message: str | pl.Expr,
) -> pl.Expr:
    """``result``, except that rows where ``broken`` is true fail the query with ``message``
    (a constant or a text expression naming the bad value); NULL there inside TRY."""
    if lenient():
        return pl.when(broken.fill_null(False)).then(None).otherwise(result)
    failure = pl.when(broken).then(_marked(compiler, node, message)).cast(pl.UInt8, strict=True)
    return pl.when(failure.is_null()).then(result)


#: Longest part of a refused value quoted in an error.
_SHOWN = 200


def rejecting(compiler: ExprCompiler, node: exp.Expression | None, message: str) -> Finish:
    """A :func:`staged` finish for Trino's parsing functions: a non-NULL input that gives NULL
    fails the query with ``message: 'value'`` at the call (NULL inside TRY)."""

    def check(result: pl.Expr, source: pl.Expr) -> pl.Expr:
        bad = source.is_not_null() & result.is_null()
        # the text is built only on refused rows
        value = pl.when(bad).then(source.cast(pl.String)).str.slice(0, _SHOWN)
        text = pl.concat_str([pl.lit(f"{message}: '"), value, pl.lit("'")])
        return guard(compiler, node, result, bad, text)

    return check


def error_from_polars(error: Exception, sql: str | None) -> SqlError | None:
    """The loglake error a guarded expression raised, or None for any other Polars error."""
    # only the report itself: the expression Polars quotes after it holds every guard's mark
    report = _CONTEXT.split(str(error), maxsplit=1)[0]
    found = _FOUND.search(report)
    if found is None:
        return None
    start = int(found.group(1)) if found.group(1) else None
    end = int(found.group(2)) if found.group(2) else None
    message = found.group(3)
    if sql is None or start is None:
        return SqlError(message)
    return SqlError(message, sql, start, end)
