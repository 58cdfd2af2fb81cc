"""Small helpers shared by the function translators: constant folding of literal arguments,
error reporting at a node's position, and lambda bodies evaluated inside list expressions."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import polars as pl
from sqlglot import exp

from loglake.errors import SqlError
from loglake.query.registry import ExprCompiler, translates
from loglake.query.types import literal_python

#: Marker returned by :func:`constant` when a node is not a literal known at compile time.
NOT_CONSTANT = object()

#: Longest value (characters, or bytes for varbinary) a function builds from a size it is given
#: (lpad, rpad, format widths): Trino allows up to 2**31-1, which one row turns into minutes of
#: work and gigabytes of memory, so loglake refuses sizes past this, before building anything.
MAX_BUILT_LENGTH = 1 << 20


def fail(compiler: ExprCompiler, node: exp.Expression | None, message: str) -> NoReturn:
    """Raise a SqlError at ``node``'s position (through the compiler when it offers that; without
    a node, the compiler points at the call being compiled)."""
    report = getattr(compiler, "error", None)
    if report is not None:
        error = report(node, message)
        if isinstance(error, BaseException):
            raise error
    raise SqlError(message)


def constant(node: exp.Expression | None) -> Any:
    """The Python value of a literal argument, or NOT_CONSTANT.

    Patterns, formats, JSON paths and units must be known when the plan is built, so translators
    fold them here instead of building a per-row computation.
    """
    if node is None:
        return NOT_CONSTANT
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        return literal_python(node)
    if isinstance(node, exp.Neg):
        inner = constant(node.this)
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return -inner
        return NOT_CONSTANT
    if isinstance(node, exp.Var):
        return node.name
    if isinstance(node, exp.UnicodeString):
        return unicode_text(node)
    if (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Literal)
        and node.to.is_type(*exp.DataType.TEXT_TYPES)
    ):
        return node.this.this
    return NOT_CONSTANT


def unicode_text(node: exp.UnicodeString) -> str:
    """The text of U&'...': \\XXXX and \\+XXXXXX escapes (or those of its UESCAPE)."""
    escape = node.args.get("escape")
    mark = escape.name if isinstance(escape, exp.Expression) else "\\"
    pattern = re.escape(mark) + r"(?:\+([0-9A-Fa-f]{6})|([0-9A-Fa-f]{4})|(" + re.escape(mark) + "))"

    def decode(match: re.Match[str]) -> str:
        six, four, own = match.groups()
        return own or chr(int(six or four, 16))

    return re.sub(pattern, decode, node.this)


def require_constant(compiler: ExprCompiler, node: exp.Expression | None, what: str) -> Any:
    """The literal value of ``node``, or an error saying the argument must be a constant."""
    value = constant(node)
    if value is NOT_CONSTANT:
        fail(compiler, node if node is not None else exp.Null(), f"{what} must be a constant")
    return value


def sql_type(compiler: ExprCompiler, node: exp.Expression) -> exp.DataType | None:
    """The SQL type of ``node`` if the compiler or the parser knows it."""
    type_of = getattr(compiler, "type_of", None)
    found = None
    if type_of is not None:
        with contextlib.suppress(Exception):
            found = type_of(node)
    if found is None:
        found = node.type if isinstance(node, exp.Expression) else None
    if found is None or found.is_type(exp.DataType.Type.UNKNOWN):
        return None
    return found


def is_type(compiler: ExprCompiler, node: exp.Expression, *types: Any) -> bool:
    found = sql_type(compiler, node)
    return found is not None and found.is_type(*types)


def args_of(node: exp.Expression) -> list[exp.Expression]:
    """Arguments of an Anonymous call (or of any function node, in declaration order)."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    out: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(value)
        elif isinstance(value, exp.Expression):
            out.append(value)
    return out


def call_name(node: exp.Expression | exp.Func) -> str:
    """The lower-case name of a function call, as written for one sqlglot does not know."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return node.key


def arity(
    compiler: ExprCompiler, node: exp.Expression, low: int, high: int | None = None
) -> list[exp.Expression]:
    """The arguments of ``node``, after checking their count against Trino's signature."""
    args = args_of(node)
    high = low if high is None else high
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        fail(compiler, node, f"{call_name(node)}() takes {expected} arguments, got {len(args)}")
    return args


def string_arg(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    """A string argument; an untyped NULL becomes a NULL string so string kernels accept it."""

    def choose(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return expr.cast(pl.String) if dtype == pl.Null else expr

    return compiler.expr(node).pipe_with_dtype(choose)


class _Staging(threading.local):
    """Compile-time state of the thread compiling a query: the steps recorded by
    :func:`materialize` for the formula being staged, and the depth of TRY(...) being compiled."""

    def __init__(self) -> None:
        # per staged build being compiled: its levels, each a list of (name, expression)
        self.stack: list[list[list[tuple[str, pl.Expr]]]] = []
        self.lenient = 0


_STAGING = _Staging()


class Stages:
    """A formula computed step by step inside one native expression.

    Polars does not share a sub-expression that a formula uses several times: it is evaluated
    at every use, and nested functions multiply that. Here the inputs and every step are fields
    of one struct that grows with ``struct.with_fields``; a step refers to earlier ones with
    ``pl.field(name)``, so each is computed once per batch, like ``with_columns`` on a frame,
    and nothing leaves Polars' own kernels (no callback, nothing that could wait on its pool).

    Resolving the types of a long chain of ``with_fields`` costs Polars time that grows faster
    than the chain (about 0.1 s at 20 levels of 5 fields), so formulas keep chains short: only
    costly parts (a JSON walk, a parse) become steps, independent steps share one level, and
    cheap operations are simply repeated where they are used.
    """

    def __init__(self, inputs: dict[str, pl.Expr]) -> None:
        self._struct = pl.struct([value.alias(name) for name, value in inputs.items()])

    def add(self, *steps: pl.Expr, **named: pl.Expr) -> None:
        """Add fields computed from the inputs and earlier steps (each step named by alias)."""
        self._struct = self._struct.struct.with_fields(*steps, **named)

    def result(self, value: pl.Expr) -> pl.Expr:
        """The expression giving ``value`` computed over the steps."""
        return self._struct.struct.with_fields(value.alias("_result")).struct.field("_result")


def materialize(value: pl.Expr) -> pl.Expr:
    """Inside a :func:`staged` build, compute ``value`` once as a step and refer to it by name.

    Outside a staged build this is a no-op.
    """
    return materialize_all(value)[0]


def materialize_all(*values: pl.Expr) -> list[pl.Expr]:
    """:func:`materialize` for steps that do not depend on each other (one level of the chain)."""
    if not _STAGING.stack:
        return list(values)
    levels = _STAGING.stack[-1]
    count = sum(len(level) for level in levels)
    names = [f"_step{count + i}" for i in range(len(values))]
    levels.append(list(zip(names, values, strict=True)))
    return [pl.field(name) for name in names]


#: (staged result, first input) -> the expression returned, e.g. a check of the result
Finish = Callable[[pl.Expr, pl.Expr], pl.Expr]


def staged(
    values: list[pl.Expr], build: Callable[..., pl.Expr], finish: Finish | None = None
) -> pl.Expr:
    """``build(*values)`` as one native expression in which each part passed through
    :func:`materialize` is computed once (see :class:`Stages`).

    A translator whose formula uses its input many times would otherwise copy the input's whole
    expression tree into each use, which multiplies when such functions nest
    (json_array_length(json_extract(json_parse(...)))).

    ``finish`` gets the result and the first input as steps too, for checks that read both
    (:func:`loglake.query.runtime.rejecting`: Trino's parsing functions fail on a value they
    cannot read).
    """
    names = [f"_in{i}" for i in range(len(values))]
    _STAGING.stack.append([])
    try:
        out = build(*(pl.field(n) for n in names))
        levels = _STAGING.stack[-1]
    finally:
        _STAGING.stack.pop()
    stages = Stages(dict(zip(names, values, strict=True)))
    for level in levels:
        stages.add(*(value.alias(name) for name, value in level))
    if finish is None:
        return stages.result(out)
    stages.add(out.alias("_out"))
    return stages.result(finish(pl.field("_out"), pl.field(names[0])))


_LEAVES = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Neg, exp.Paren)


def combine(
    nodes: list[exp.Expression | None],
    values: list[pl.Expr],
    build: Callable[..., pl.Expr],
) -> pl.Expr:
    """``build(*values)`` inline when the inputs are columns or constants, else staged.

    Formulas that use an input several times stay one flat expression over plain columns; when
    an input is itself a computed expression they run through :func:`staged` so nesting does
    not copy that computation into every use.
    """
    if all(n is None or isinstance(n, _LEAVES) for n in nodes):
        return build(*values)
    return staged(values, build)


def null_if_any_null(result: pl.Expr, *inputs: pl.Expr) -> pl.Expr:
    """Trino's rule for most scalar functions: a NULL argument gives a NULL result."""
    if not inputs:
        return result
    condition = inputs[0].is_null()
    for other in inputs[1:]:
        condition = condition | other.is_null()
    return pl.when(condition).then(None).otherwise(result)


def is_entry_list(dtype: pl.DataType) -> bool:
    """A list of {key, value} structs: how some readers hand over SQL maps."""
    if not isinstance(dtype, pl.List) or not isinstance(dtype.inner, pl.Struct):
        return False
    return [f.name for f in dtype.inner.fields] == ["key", "value"]


def as_map(value: pl.Expr) -> pl.Expr:
    """The value as a Polars Map, whichever of the two map layouts it arrives in."""

    def choose(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return expr.list.to_map() if is_entry_list(dtype) else expr

    return value.pipe_with_dtype(choose)


# --- lambdas -------------------------------------------------------------------------------------


class LambdaValue(exp.Expression):
    """A lambda parameter replaced by the Polars expression it stands for (e.g. pl.element())."""

    arg_types = {"this": True}

    def sql(self, *args: Any, **kwargs: Any) -> str:
        return self.this.name  # the parameter's name, for error messages


_BOUND: dict[int, pl.Expr] = {}


@translates(LambdaValue)
def _lambda_value(compiler: ExprCompiler, node: LambdaValue) -> pl.Expr:
    return _BOUND[id(node)]


def bind_lambda(
    compiler: ExprCompiler,
    node: exp.Expression,
    values: list[pl.Expr],
    arity_expected: int | None = None,
) -> pl.Expr:
    """Compile a lambda's body with its parameters bound to the given Polars expressions.

    Parameters become ``LambdaValue`` nodes so the compiler never resolves them as columns.
    Inside ``list.eval`` only the element is visible: a body that names a table column fails
    with Polars' own error, which the docs list as a limitation.
    """
    if not isinstance(node, exp.Lambda):
        fail(compiler, node, "expected a lambda expression such as x -> x + 1")
    params = [p.name.lower() for p in node.expressions]
    if arity_expected is not None and len(params) != arity_expected:
        fail(compiler, node, f"lambda must take {arity_expected} argument(s), got {len(params)}")
    binding = dict(zip(params, values, strict=True))
    made: list[int] = []

    def replace(sub: exp.Expression) -> exp.Expression:
        if isinstance(sub, exp.Column) and sub.table and sub.table.lower() in binding:
            # s.field of a ROW parameter
            marker = LambdaValue(this=exp.Literal.string(sub.table.lower()))
            _BOUND[id(marker)] = binding[sub.table.lower()]
            made.append(id(marker))
            return exp.Dot(this=marker, expression=exp.to_identifier(sub.name))
        if isinstance(sub, exp.Identifier | exp.Column) and not (
            isinstance(sub, exp.Column) and sub.table
        ):
            name = sub.name.lower()
            if name in binding and not isinstance(sub.parent, exp.Column):
                marker = LambdaValue(this=exp.Literal.string(name))
                _BOUND[id(marker)] = binding[name]
                made.append(id(marker))
                return marker
        return sub

    body = node.this.copy().transform(replace, copy=False)
    try:
        return compiler.expr(body)
    finally:
        for key in made:
            _BOUND.pop(key, None)


@contextlib.contextmanager
def no_errors() -> Iterator[None]:
    """Mark translators compiled inside TRY(...) as lenient (casts and parses give NULL)."""
    _STAGING.lenient += 1
    try:
        yield
    finally:
        _STAGING.lenient -= 1


def lenient() -> bool:
    return _STAGING.lenient > 0
