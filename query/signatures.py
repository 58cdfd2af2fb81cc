"""Trino function signatures: written next to each translator, checked before it runs.

A signature is written the way Trino lists it: ``year(timestamp) -> bigint``,
``element_at(array(T), bigint) -> T``, ``concat(varchar...) -> varchar``,
``transform(array(T), function(T, U)) -> array(U)``. Single capital letters are type variables;
a trailing ``...`` repeats the last parameter (one or more times).

Before a declared translator runs, the compiler compiles the call's arguments and asks
:func:`check_call` whether their types fit one of the signatures, allowing Trino's implicit
coercions (``tinyint`` to ``bigint`` to ``decimal`` to ``double``, ``date`` to ``timestamp``,
NULL to anything). A call that fits none fails as Trino fails::

    Unexpected parameters (integer) for function year. Expected: year(date), year(timestamp) ...
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl
from sqlglot import exp

from loglake.catalog.types import split_top_level
from loglake.query import registry
from loglake.query import types as T
from loglake.query.registry import ExprCompiler

# --------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class SqlType:
    """A parameter or return type of a signature: a name and its type parameters."""

    name: str
    params: tuple[SqlType, ...] = ()

    @property
    def is_variable(self) -> bool:
        return len(self.name) == 1 and self.name.isupper()

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(str(p) for p in self.params)})"


@dataclass(frozen=True)
class Signature:
    name: str
    params: tuple[SqlType, ...]
    returns: SqlType
    variadic: bool = False

    def __str__(self) -> str:
        shown = [str(p) for p in self.params]
        if self.variadic and shown:
            shown[-1] += "..."
        return f"{self.name}({', '.join(shown)})"

    def arity_fits(self, count: int) -> bool:
        if self.variadic:
            return count >= len(self.params)
        return count == len(self.params)


_SIGNATURE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*\((.*)\)\s*->\s*(.+?)\s*$", re.S)


def parse_type(text: str) -> SqlType:
    text = " ".join(text.split())
    if "(" in text and text.endswith(")"):
        head, inner = text.split("(", 1)
        return SqlType(head.strip(), tuple(parse_type(p) for p in split_top_level(inner[:-1])))
    return SqlType(text)


def parse_signature(text: str) -> Signature:
    match = _SIGNATURE.match(text)
    if match is None:
        raise ValueError(f"malformed signature: {text!r}")
    name, params_text, returns = match.groups()
    params = split_top_level(params_text)
    variadic = bool(params) and params[-1].endswith("...")
    if variadic:
        params[-1] = params[-1][:-3]
    return Signature(name, tuple(parse_type(p) for p in params), parse_type(returns), variadic)


_PARSED: dict[type | str, tuple[Signature, ...]] = {}


def signatures_of(key: type | str) -> tuple[Signature, ...]:
    """The parsed signatures declared for a translator key (empty when none are declared)."""
    found = _PARSED.get(key)
    if found is None:
        declared = registry.DECLARED.get(key)
        found = tuple(parse_signature(s) for s in declared.signatures) if declared else ()
        _PARSED[key] = found
    return found


def all_signatures() -> dict[str, list[Signature]]:
    """Every declared signature by function name (for docs, suggestions and tests)."""
    out: dict[str, list[Signature]] = {}
    for key in registry.DECLARED:
        for sig in signatures_of(key):
            bucket = out.setdefault(sig.name, [])
            if sig not in bucket:
                bucket.append(sig)
    return out


def names_of(node: exp.Expr) -> list[str]:
    """The Trino names a call node can be written with (from its translator's signatures)."""
    if isinstance(node, exp.Anonymous):
        return [node.name.lower()]
    return list(dict.fromkeys(s.name for s in signatures_of(type(node))))


def known_function_names() -> set[str]:
    return set(registry.NAMED_FUNCTIONS) | set(all_signatures())


def unknown_function_message(name: str) -> str:
    """Trino's error for a function it does not know, with the closest known names."""
    from loglake.query.tables import suggest

    return f"Function '{name}' not registered." + suggest(name, sorted(known_function_names()))


# -------------------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class LambdaArg:
    """A lambda argument: only its parameter count is known before it is bound."""

    arity: int


Given = pl.DataType | LambdaArg

_INTEGER_RANK = {
    pl.Int8: 1,
    pl.UInt8: 2,
    pl.Int16: 2,
    pl.UInt16: 3,
    pl.Int32: 3,
    pl.UInt32: 4,
    pl.Int64: 4,
    pl.UInt64: 4,
}
_INTEGER_PARAMS = {"tinyint": 1, "smallint": 2, "integer": 3, "bigint": 4}
_STRING_LIKE = {"varchar", "char", "json", "ipprefix", "uuid", "jsonpath"}


def _accepts_simple(name: str, given: pl.DataType) -> bool:
    base = given.base_type()
    if name in _INTEGER_PARAMS:
        return base in _INTEGER_RANK and _INTEGER_RANK[base] <= _INTEGER_PARAMS[name]
    if name == "decimal":
        return T.is_integer(given) or T.is_decimal(given)
    if name == "real":
        return T.is_integer(given) or T.is_decimal(given) or base == pl.Float32
    if name == "double":
        return T.is_numeric(given)
    if name in _STRING_LIKE:
        return T.is_string(given)
    if name == "ipaddress":  # an address, or text read as one (see functions/ip.py)
        return base == pl.UInt128 or T.is_string(given)
    if name == "varbinary":
        return base == pl.Binary
    if name == "boolean":
        return base == pl.Boolean
    if name == "date":
        return base == pl.Date
    if name == "timestamp":
        return base == pl.Date or (isinstance(given, pl.Datetime) and given.time_zone is None)
    if name == "timestamp with time zone":
        return base == pl.Date or isinstance(given, pl.Datetime)
    if name == "time":
        return base == pl.Time
    if name.startswith("interval"):
        return base == pl.Duration
    if name == "row":
        return isinstance(given, pl.Struct)
    if name == "any":
        return True
    raise ValueError(f"unknown type {name!r} in a signature")


def _bind(variable: str, given: pl.DataType, bindings: dict[str, pl.DataType]) -> bool:
    bound = bindings.get(variable)
    if bound is None or bound == pl.Null:
        bindings[variable] = given
        return True
    if given == pl.Null:
        return True
    if T.is_map(bound) and T.is_map(given):
        return True
    if isinstance(bound, pl.List) and isinstance(given, pl.List):
        inner: dict[str, pl.DataType] = {}
        return _bind("E", T.nested(bound.inner), inner) and _bind("E", T.nested(given.inner), inner)
    if isinstance(bound, pl.Struct) and isinstance(given, pl.Struct):
        return len(bound.fields) == len(given.fields)
    unified = T.common_supertype(bound, given)
    if unified is None:
        return False
    bindings[variable] = unified
    return True


def accepts(param: SqlType, given: Given, bindings: dict[str, pl.DataType]) -> bool:
    """Whether an argument of type ``given`` can be passed for ``param`` (binding variables)."""
    if isinstance(given, LambdaArg):
        return param.name == "function" and given.arity == len(param.params) - 1
    if param.name == "function":
        return False
    if given == pl.Null:
        return True
    if param.is_variable:
        return _bind(param.name, given, bindings)
    if param.name == "array":
        if not isinstance(given, pl.List | pl.Array) or T.is_map(given):
            return False
        return accepts(param.params[0], T.nested(given.inner), bindings)
    if param.name == "map":
        if not T.is_map(given):
            return False
        key, value = T.map_key_value(given)
        return accepts(param.params[0], key, bindings) and accepts(param.params[1], value, bindings)
    return _accepts_simple(param.name, given)


def fits(signature: Signature, given: list[Given]) -> bool:
    if not signature.arity_fits(len(given)):
        return False
    bindings: dict[str, pl.DataType] = {}
    params = list(signature.params)
    while len(params) < len(given):
        params.append(params[-1])
    return all(accepts(p, g, bindings) for p, g in zip(params, given, strict=True))


def describe(given: Given) -> str:
    if isinstance(given, LambdaArg):
        return "function"
    return T.type_name(given)


def mismatch_message(name: str, given: list[Given], candidates: Iterable[Signature]) -> str:
    shown = ", ".join(describe(g) for g in given)
    expected = ", ".join(str(s) for s in candidates)
    return f"Unexpected parameters ({shown}) for function {name}. Expected: {expected}"


# ----------------------------------------------------------------------------- checking a call


def _written_name(
    compiler: ExprCompiler, node: exp.Expression, signatures: tuple[Signature, ...]
) -> str | None:
    """The function name as the query spells it (sqlglot maps several names to one class)."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    meta = getattr(node, "_meta", None) or {}
    text = getattr(compiler, "sql", None) or ""
    if "start" in meta and "end" in meta:
        written = text[meta["start"] : meta["end"] + 1]
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", written):
            return written.lower()
    # a call written in a special form (position(a IN b)) has no name token: the first
    # declared name the query spells as a call is the one
    for name in dict.fromkeys(s.name for s in signatures):
        if re.search(rf"(?i)\b{name}\s*\(", text):
            return name
    return None


def default_arguments(node: exp.Expression) -> list[exp.Expression]:
    """A call's arguments in sqlglot's declaration order (Trino's order for most functions)."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    out: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            out.extend(v for v in value if isinstance(v, exp.Expression))
        elif isinstance(value, exp.Expression):
            out.append(value)
    return out


def argument_type(compiler: ExprCompiler, node: exp.Expression) -> Given:
    if isinstance(node, exp.Lambda):
        return LambdaArg(len(node.expressions))
    if isinstance(node, exp.Var | exp.JSONPath):
        return pl.String()  # keywords and JSON paths are text the translator reads itself
    if isinstance(node, exp.Distinct) and len(node.expressions) == 1:
        node = node.expressions[0]
    compile_ahead = getattr(compiler, "compile_ahead", compiler.expr)
    return compiler.dtype(compile_ahead(node))


def check_call(compiler: ExprCompiler, node: exp.Expression, key: type | str) -> None:
    """Raise Trino's "Unexpected parameters" error when no declared signature fits the call."""
    signatures = signatures_of(key)
    if not signatures:
        return
    written = _written_name(compiler, node, signatures)
    candidates = [s for s in signatures if s.name == written] or list(signatures)
    name = candidates[0].name
    declared = registry.DECLARED[key]
    arguments = declared.arguments(node, name) if declared.arguments else default_arguments(node)
    if arguments is None:
        return  # a form of the node that is not a call of these functions (a[1] for element_at)
    if any(isinstance(a, exp.Star) for a in arguments):
        return
    given = [argument_type(compiler, a) for a in arguments]
    chosen = next((s for s in candidates if fits(s, given)), None)
    if chosen is None:
        raise compiler.error(node, mismatch_message(name, given, candidates))
    _type_untyped_nulls(compiler, chosen, arguments, given)


#: Polars types an untyped NULL argument takes for a parameter of these types
_NULL_TYPES: dict[str, pl.DataType] = {
    "tinyint": pl.Int8(),
    "smallint": pl.Int16(),
    "integer": pl.Int32(),
    "bigint": pl.Int64(),
    "double": pl.Float64(),
    "real": pl.Float32(),
    "varchar": pl.String(),
    "json": pl.String(),
    "varbinary": pl.Binary(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "time": pl.Time(),
    "timestamp": pl.Datetime("us"),
    "timestamp with time zone": pl.Datetime("us", "UTC"),
}


def _type_untyped_nulls(
    compiler: ExprCompiler, chosen: Signature, arguments: list[exp.Expression], given: list[Given]
) -> None:
    """Give a NULL literal the parameter's type, as Trino coerces it, so translators never see
    an untyped NULL where they expect a string or a timestamp."""
    retype = getattr(compiler, "retype_ahead", None)
    if retype is None:
        return
    params = list(chosen.params)
    while len(params) < len(given):
        params.append(params[-1])
    for node, param, dtype in zip(arguments, params, given, strict=True):
        target = _NULL_TYPES.get(param.name)
        if target is not None and not isinstance(dtype, LambdaArg) and dtype == pl.Null:
            retype(node, target)
