"""Errors a query raises while it runs, as Trino raises them (integer overflow and the like),
and the last line of defence that turns any other failure into a clean SqlError.

Checks run natively through :func:`loglake.query.runtime.guard` (no Python callback, which can
stall Polars' thread pool); :func:`runtime_error` turns the Polars error they raise back into a
:class:`SqlError` pointing at the expression that failed.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import polars as pl
from sqlglot import exp

from loglake.errors import LoglakeError, SqlError
from loglake.query.registry import ExprCompiler
from loglake.query.runtime import error_from_polars, guard
from loglake.query.types import signed_bits

T = TypeVar("T")

_NARROWED = re.compile(
    r"conversion from `(i128|i64)` to `(i64|i32|i16|i8)` failed.*?values: \[(-?\d+)"
)
#: Trino's names of the integer types whose arithmetic is checked
_INTEGER_NAMES: dict[type[pl.DataType], str] = {
    pl.Int64: "bigint",
    pl.Int32: "integer",
    pl.Int16: "smallint",
    pl.Int8: "tinyint",
}
_OPERATIONS = {"+": "addition", "-": "subtraction", "*": "multiplication"}
_OPS = {"+": pl.Expr.add, "-": pl.Expr.sub, "*": pl.Expr.mul}
#: set only while measuring what the overflow checks cost (bench/bench_overflow.py)
_UNCHECKED: ContextVar[bool] = ContextVar("loglake_unchecked_integers", default=False)


@contextmanager
def unchecked_integers() -> Iterator[None]:
    """Queries compiled inside wrap around on integer overflow, as plain Polars does.

    Never for answers: it exists so that a benchmark can time the same query with and without
    Trino's overflow checks through the same compiler.
    """
    token = _UNCHECKED.set(True)
    try:
        yield
    finally:
        _UNCHECKED.reset(token)


def runtime_error(error: BaseException, sql: str | None) -> SqlError | None:
    """The SqlError that a guarded expression (or a checked narrowing) raised inside a Polars
    error, or None."""
    if isinstance(error, Exception):
        raised = error_from_polars(error, sql)
        if raised is not None:
            return raised
    narrowed = _NARROWED.search(str(error))
    if narrowed is None:
        return None
    name = {"i64": "bigint", "i32": "integer", "i16": "smallint", "i8": "tinyint"}
    start, end = _first_word(sql)
    return SqlError(
        f"{name[narrowed.group(2)]} overflow: a result ({narrowed.group(3)}) is out of range",
        sql,
        start,
        end,
    )


def checked_arithmetic(
    compiler: ExprCompiler,
    node: exp.Expression,
    op: str,
    left: pl.Expr,
    right: pl.Expr,
    dtype: pl.DataType,
) -> pl.Expr:
    """``left op right`` in ``dtype``, or Trino's overflow error instead of a wrapped result.

    Over plain columns and literals the operation runs in ``dtype`` itself (wrapping as Polars
    does) and a cheap native test finds the rows that wrapped: against a literal, a comparison
    of the other operand with the bounds it may not pass; between columns, the sign rule of
    two's complement for + and -, and for * a product in doubles that cannot land near the
    wrapped one when it overflowed. The error names the operation and its place (``bigint
    addition overflow``). Over operands that are checked themselves the operation runs one
    integer size up and must narrow back, so nested arithmetic stays one pass instead of
    re-evaluating each operand once per check.
    """
    name = _INTEGER_NAMES.get(dtype.base_type())
    if name is None or _UNCHECKED.get():
        return _OPS[op](left, right)
    if not (_plain(node.this) and _plain(node.expression)):
        wide = pl.Int128 if dtype == pl.Int64 else pl.Int64
        return _OPS[op](left.cast(wide), right.cast(wide)).cast(dtype, strict=True)
    left, right = left.cast(dtype), right.cast(dtype)
    result, broken = _wrapped(op, left, right, node, dtype)
    return guard(compiler, node, result, broken, f"{name} {_OPERATIONS[op]} overflow")


def _wrapped(
    op: str, left: pl.Expr, right: pl.Expr, node: exp.Expression, dtype: pl.DataType
) -> tuple[pl.Expr, pl.Expr]:
    """``left op right`` as Polars computes it in ``dtype`` and the rows where it wrapped."""
    bits = signed_bits(dtype)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    constant_right, constant_left = _integer_literal(node.expression), _integer_literal(node.this)
    k = constant_right if constant_right is not None else constant_left if op != "-" else None
    if k is not None:
        # x op k (or k op x for + and *): x must stay within bounds worked out once, here
        x = left if constant_right is not None else right
        if op == "+":
            low, high = lo - k, hi - k
        elif op == "-":
            low, high = lo + k, hi + k
        elif k == 0:
            low, high = lo, hi
        elif k > 0:
            low, high = -((-lo) // k), hi // k
        else:
            low, high = -(hi // -k), lo // k
        return _OPS[op](left, right), _outside(x, max(low, lo), min(high, hi), lo, hi)
    if constant_left is not None:  # k - x
        return left - right, _outside(
            right, max(constant_left - hi, lo), min(constant_left - lo, hi), lo, hi
        )
    if op == "*" and bits < 64:  # exact one size up, then back
        product = left.cast(pl.Int64) * right.cast(pl.Int64)
        return product.cast(dtype), (product < lo) | (product > hi)
    result = _OPS[op](left, right)
    if op == "+":  # wrapped iff both operands' signs differ from the result's
        return result, (left.xor(result)).and_(right.xor(result)) < 0
    if op == "-":
        return result, (left.xor(right)).and_(left.xor(result)) < 0
    # a wrapped product is at least 2**64 away from the true one; the product of the doubles
    # is within 2**13 of the true one whenever that is below 2**64 in size
    approximate = left.cast(pl.Float64) * right.cast(pl.Float64)
    return result, (approximate - result.cast(pl.Float64)).abs() > 2.0**62


def _outside(x: pl.Expr, low: int, high: int, lo: int, hi: int) -> pl.Expr:
    """Rows of ``x`` outside [low, high] (sides that are the type's own bounds need no test)."""
    if low > high:
        return x.is_not_null()
    below, above = (x < low) if low > lo else None, (x > high) if high < hi else None
    if below is not None and above is not None:
        return below | above
    return below if below is not None else above if above is not None else pl.lit(False)


def _integer_literal(node: exp.Expression) -> int | None:
    """The value of an integer literal (perhaps negated or in parentheses), else None."""
    negative = False
    while isinstance(node, exp.Paren | exp.Neg | exp.Cast):
        negative ^= isinstance(node, exp.Neg)
        node = node.this
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return -int(node.this) if negative else int(node.this)
    return None


def checked_negation(
    compiler: ExprCompiler, node: exp.Neg, operand: pl.Expr, dtype: pl.DataType
) -> pl.Expr:
    """``-operand``; the smallest value of an integer type has no negation there (Trino fails)."""
    name = _INTEGER_NAMES.get(dtype.base_type())
    if name is None or _UNCHECKED.get() or isinstance(node.this, exp.Literal):
        return -operand
    smallest = -(2 ** (signed_bits(dtype) - 1))
    return guard(compiler, node, -operand, operand == smallest, f"{name} negation overflow")


def _plain(node: exp.Expression) -> bool:
    """A column or a literal (perhaps negated, cast or in parentheses): no arithmetic inside."""
    while isinstance(node, exp.Paren | exp.Neg | exp.Cast):
        node = node.this
    return isinstance(node, exp.Column | exp.Literal)


def integer_sum(
    compiler: ExprCompiler, node: exp.Expression, values: pl.Expr, out: str
) -> tuple[pl.Expr, pl.Expr]:
    """SUM of integers as bigint: the aggregation (named ``out``) and the expression that reads
    its result afterwards, which fails with Trino's overflow error instead of wrapping."""
    exact = pl.when(values.count() > 0).then(values.cast(exact_integers()).sum()).alias(out)
    return exact, checked_bigint(compiler, node, pl.col(out))


def exact_integers() -> pl.DataType:
    """The type integer sums accumulate in: Int128, so that no sum of bigints wraps before
    :func:`checked_bigint` sees it (Int64, wrapping, inside :func:`unchecked_integers`)."""
    return pl.Int64() if _UNCHECKED.get() else pl.Int128()


def checked_bigint(compiler: ExprCompiler, node: exp.Expression, total: pl.Expr) -> pl.Expr:
    """A sum accumulated in :func:`exact_integers` as bigint, failing with Trino's overflow
    error where it does not fit (a grouped, windowed or framed SUM alike)."""
    if _UNCHECKED.get():
        return total
    outside = (total > 2**63 - 1) | (total < -(2**63))
    return guard(compiler, node, total, outside, "bigint addition overflow").cast(pl.Int64)


# ---------------------------------------------------------------------- deep statements

#: Python frames and stack bytes a deeply nested statement may use (Trino accepts far more than
#: Python's default of 1,000 frames allows: 50 parentheses, 600 UNION ALLs, 200 nested CASEs)
DEEP_RECURSION_LIMIT = 60_000
DEEP_STACK_BYTES = 1 << 30


def run_deep(work: Callable[[], T]) -> T:
    """Run ``work`` on a thread with a large stack and a high recursion limit.

    A statement is tried the ordinary way first; only one that ran out of frames comes here,
    and one nested deeper still fails with a clean error instead of a traceback.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # handed to the caller's thread, raised there
            outcome["error"] = error

    previous_limit = sys.getrecursionlimit()
    previous_stack = threading.stack_size()
    with _DEEP_LOCK:
        sys.setrecursionlimit(max(previous_limit, DEEP_RECURSION_LIMIT))
        threading.stack_size(DEEP_STACK_BYTES)
        try:
            thread = threading.Thread(target=target, name="loglake-deep-statement")
            thread.start()
        finally:
            threading.stack_size(previous_stack)
        thread.join()
        sys.setrecursionlimit(previous_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


_DEEP_LOCK = threading.Lock()


# ---------------------------------------------------------------------- the last line of defence

#: exceptions that are never turned into query errors
_NEVER_CAUGHT = (KeyboardInterrupt, SystemExit, GeneratorExit)


def _first_word(sql: str | None) -> tuple[int | None, int | None]:
    """The span of the statement's first word: where an error that has no better place points."""
    if not sql:
        return None, None
    match = re.search(r"\S+", sql)
    return (match.start(), match.end()) if match else (None, None)


def as_sql_error(error: BaseException, sql: str | None) -> SqlError | None:
    """The clean error for an exception a statement raised, or None to let it through.

    Interrupts and exits always go through. So does a LoglakeError (it is already clean) and
    anything not recognised here (a bug in loglake deserves its traceback).
    """
    if isinstance(error, (*_NEVER_CAUGHT, LoglakeError)):
        return None
    raised = runtime_error(error, sql)
    if raised is not None:
        return raised
    start, end = _first_word(sql)
    if isinstance(error, RecursionError):
        return SqlError(
            "Statement is nested too deeply to be analysed; simplify its nesting "
            "(parentheses, CASE, UNION) or split it",
            sql,
            start,
            end,
        )
    if isinstance(error, pl.exceptions.PolarsError):
        return SqlError(f"query failed: {_first_line(error)}", sql, start, end)
    if type(error).__name__ == "PanicException":  # a Rust panic (pyo3), not an Exception
        return SqlError(
            "query failed on a value it cannot represent (an invalid literal or cast?)",
            sql,
            start,
            end,
        )
    if isinstance(error, OverflowError | ValueError | ArithmeticError):
        return SqlError(f"value out of range: {_first_line(error)}", sql, start, end)
    if _is_delta_error(error):
        return SqlError(
            f"a table's Delta log could not be read ({_first_line(error)}); restore the damaged "
            "_delta_log file or run the statement again after repairing the table",
            sql,
            start,
            end,
        )
    if isinstance(error, OSError):
        reason = error.strerror or _first_line(error)
        where = f" {error.filename}" if error.filename else ""
        return SqlError(f"could not read{where}: {reason}", sql, start, end)
    return None


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _is_delta_error(error: BaseException) -> bool:
    return type(error).__module__.startswith(("deltalake", "_internal")) or (
        type(error).__name__ in ("DeltaError", "DeltaProtocolError", "TableNotFoundError")
    )
