"""Dispatch tables from sqlglot expression classes (and function names) to Polars translators.

A translator is a small function ``(compiler, node) -> pl.Expr``: it compiles the node's children
through ``compiler.expr(child)`` and combines them. Scalar functions, operators and aggregates all
live in the same tables; the compiler decides the context (row, group, window) they run in. What a
translator may use of the compiler is ``ExprCompiler``; its first parameter is always named
``compiler``.

Each key has exactly one translator: registering a key twice is an error, so no module can
silently replace another's translator and the import order of the library does not matter.

A translator of a Trino function declares that function's signatures as Trino prints them
(``year(date) -> bigint``); the compiler checks a call's argument types against them before the
translator runs, and a call that fits none fails with Trino's "Unexpected parameters" error
(see ``query/signatures.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

if TYPE_CHECKING:
    import polars as pl
    from sqlglot import exp

    from loglake.errors import SqlError
    from loglake.query.compiler.context import Grouping


class ExprCompiler(Protocol):
    """What a translator may use of the compiler (``query/compiler/core.py`` implements it)."""

    #: the statement's text (error positions and messages quote it)
    sql: str
    #: steps for the statement's final frame and its column names (IPADDRESS shown as text)
    finishers: list[Callable[[pl.LazyFrame, list[str]], pl.LazyFrame]]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """Dtypes of the frame expressions are compiled over."""
        ...

    @property
    def replacements(self) -> dict[exp.Expression, pl.Expr]:
        """Sub-expressions already computed as columns (aggregates, subqueries, windows)."""
        ...

    @property
    def grouping(self) -> Grouping | None:
        """The grouping-set column of the aggregated SELECT being compiled, for grouping()."""
        ...

    def expr(self, node: exp.Expression) -> pl.Expr:
        """Compile a child expression in the current context (row, group or window)."""
        ...

    def dtype(self, expr: pl.Expr) -> pl.DataType:
        """The dtype a compiled expression has over the current frame."""
        ...

    def null_fraction(self, node: exp.Expression) -> float | None:
        """The share of NULLs the scanned files' statistics give for a plain column ``node``."""
        ...

    def known_dtype(self, expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        """``expr``, with its dtype recorded for :meth:`dtype` (see the compiler's)."""
        ...

    def type_of(self, node: exp.Expression) -> exp.DataType | None:
        """The SQL type of an uncompiled child, when it can be known before running."""
        ...

    def error(self, node: exp.Expr | None, message: str) -> SqlError:
        """An error pointing at the node's text in the query (``raise compiler.error(...)``)."""
        ...

    def position(self, node: exp.Expr | None) -> tuple[int | None, int | None]:
        """The character span of a node in the query text."""
        ...

    def literal_value(self, node: exp.Expression) -> Any:
        """The Python value of a constant child (an error naming it otherwise)."""
        ...

    def column(self, node: exp.Column) -> pl.Expr:
        """A column reference resolved in the current scope."""
        ...

    def fresh(self, prefix: str = "_t") -> str:
        """A column name no other frame of the statement uses."""
        ...

    def compile_ahead(self, node: exp.Expression) -> pl.Expr:
        """Compile ``node`` now and hand the result to the next ``expr(node)``."""
        ...

    def retype_ahead(self, node: exp.Expression, dtype: pl.DataType) -> None:
        """Cast an argument compiled ahead (an untyped NULL given a parameter's type)."""
        ...


Translator = Callable[[ExprCompiler, "exp.Expression"], "pl.Expr"]
#: the node class a translator is written for (``node: exp.Lower``)
N = TypeVar("N", bound="exp.Expression")
#: a translator as written, taking the node class it is registered for
NodeTranslator = Callable[[ExprCompiler, N], "pl.Expr"]
#: (call node, the function name as written) -> the call's arguments in Trino's order, or None
#: when the node is not a call of the declared functions (a[1] shares element_at's node)
ArgumentReader = Callable[["exp.Expression", str], "list[exp.Expression] | None"]

#: a cast the function library owns: its translation, or None to leave it to the core rules
CastHook = Callable[[ExprCompiler, "exp.Cast"], "pl.Expr | None"]

#: sqlglot expression class -> translator (exp.Lower, exp.RegexpLike, exp.Add, ...)
EXPRESSIONS: dict[type, Translator] = {}
#: lower-case function name -> translator, for calls sqlglot parses as exp.Anonymous
NAMED_FUNCTIONS: dict[str, Translator] = {}
#: expression classes and names that aggregate rows (the compiler needs to know for GROUP BY)
AGGREGATE_CLASSES: set[type] = set()
AGGREGATE_NAMES: set[str] = set()


@dataclass(frozen=True)
class Declared:
    """The Trino signatures one translator serves, and how to read a call's arguments."""

    signatures: tuple[str, ...]
    arguments: ArgumentReader | None = None


#: translator key (class or lower-case name) -> its declared signatures
DECLARED: dict[type | str, Declared] = {}


class DuplicateTranslator(RuntimeError):
    """Two modules registered a translator for the same key."""


def _claim(table: dict[Any, Translator], key: Any, fn: Translator) -> None:
    existing = table.get(key)
    if existing is not None and existing is not fn:
        where = f"{existing.__module__}.{existing.__qualname__}"
        raise DuplicateTranslator(f"{key!r} already has a translator ({where})")
    table[key] = fn


def _stored(fn: NodeTranslator[N]) -> Translator:
    """A translator as the tables hold it: the compiler hands each one only nodes of the
    classes (or named calls) it was registered for, which the tables' type cannot say."""
    return cast(Translator, fn)


def _declare(key: type | str, signatures: str | Sequence[str], arguments: Any) -> None:
    texts = (signatures,) if isinstance(signatures, str) else tuple(signatures)
    if not texts:
        return
    if key in DECLARED:
        raise DuplicateTranslator(f"{key!r} already declares its signatures")
    DECLARED[key] = Declared(texts, arguments)


def translates(
    *classes: type,
    aggregate: bool = False,
    signatures: str | Sequence[str] = (),
    arguments: ArgumentReader | None = None,
) -> Callable[[NodeTranslator[N]], NodeTranslator[N]]:
    """Register a translator for one or more sqlglot expression classes.

    ``signatures`` are the Trino signatures of the functions the classes stand for;
    ``arguments`` reads a call's arguments in Trino's order when sqlglot stores them in
    another (``date_add(unit, n, x)`` keeps ``x`` first).
    """

    def decorate(fn: NodeTranslator[N]) -> NodeTranslator[N]:
        for cls in classes:
            _claim(EXPRESSIONS, cls, _stored(fn))
            _declare(cls, signatures, arguments)
            if aggregate:
                AGGREGATE_CLASSES.add(cls)
        return fn

    return decorate


def function(
    *names: str, aggregate: bool = False, signatures: str | Sequence[str] = ()
) -> Callable[[NodeTranslator[N]], NodeTranslator[N]]:
    """Register a translator for functions sqlglot does not know (parsed as exp.Anonymous)."""

    def decorate(fn: NodeTranslator[N]) -> NodeTranslator[N]:
        for name in names:
            _claim(NAMED_FUNCTIONS, name.lower(), _stored(fn))
            _declare(name.lower(), signatures, None)
            if aggregate:
                AGGREGATE_NAMES.add(name.lower())
        return fn

    return decorate


#: Casts owned by the function library (JSON, IPADDRESS, ...): each hook returns a translation of
#: the exp.Cast node, or None to leave the cast to the core rules. The core cast consults them
#: first, in order.
CAST_HOOKS: list[CastHook] = []
