"""JSON functions over strings that hold JSON text (CloudTrail's requestparameters and friends).

A JSON value is carried as its compact text (``{"a":1}``), so json_extract and json_parse return
strings that print the way Trino prints JSON. Everything runs as Polars string kernels:
``str.json_path_match`` walks paths; counting and membership work on the compact text after
nested containers are folded away by a fixed number of regex passes (depth limit below).
Formulas that use a walk several times are :func:`staged`, so each walk runs once per row, and
only on the rows whose text can hold the path's key at all.
"""

from __future__ import annotations

import json as pyjson
import re
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import (
    arity,
    constant,
    fail,
    is_type,
    lenient,
    materialize,
    materialize_all,
    null_if_any_null,
    require_constant,
    staged,
    string_arg,
)
from loglake.query.functions.json_member import Member, top_member
from loglake.query.registry import CAST_HOOKS, ExprCompiler, function, translates
from loglake.query.runtime import rejecting

#: Share of NULLs from which a column is read as sparse (see _mentions)
SPARSE = 0.9
#: Deepest nesting the counting functions fold (json_array_length, json_size, json_array_contains).
MAX_DEPTH = 24
_STRING = r'"(?:[^"\\]|\\.)*"'
_INNERMOST = r'[\[{](?:[^\[\]{}"]|' + _STRING + r")*[\]}]"
_ELEMENT = r"(?:" + _STRING + r":)?(?:" + _STRING + r"|[^,]+)"
_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: text that reads as an object or array
_BRACKETED = r"(?s)^(?:\{.*\}|\[.*\])$"


# --- paths ---------------------------------------------------------------------------------------


def _steps(compiler: ExprCompiler, node: exp.Expression) -> list[str | int]:
    """The steps of a constant JSONPath ($.a.b, $.a[0], $["key"]) as keys and indexes."""
    if isinstance(node, exp.JSONPath):
        steps: list[str | int] = []
        for part in node.expressions:
            if isinstance(part, exp.JSONPathRoot):
                continue
            key = isinstance(part, exp.JSONPathKey) and isinstance(part.this, str)
            index = isinstance(part, exp.JSONPathSubscript) and isinstance(part.this, int)
            if key or index:
                steps.append(part.this)
            else:
                fail(compiler, node, 'only $.key, $[index] and $["key"] JSON paths are supported')
        return steps
    text = require_constant(compiler, node, "JSON path")
    if not isinstance(text, str) or not text.startswith("$"):
        fail(compiler, node, f"Invalid JSON path: {text!r}")
    parsed = exp.JSONPath(expressions=[])
    try:
        from sqlglot import jsonpath

        parsed = jsonpath.parse(text)
    except Exception:
        fail(compiler, node, f"Invalid JSON path: {text!r}")
    return _steps(compiler, parsed)


def _path_text(steps: list[str | int]) -> str:
    out = "$"
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif _IDENT.match(step):
            out += f".{step}"
        else:
            out += "['" + step.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


def canonical(text: pl.Expr) -> pl.Expr:
    """Compact JSON text of a JSON document (NULL when it is not valid JSON).

    Objects and arrays are re-serialised compactly by Polars; scalars keep their own text.
    """
    whole, container = _walk(text, [])
    return materialize(_canonical(text, whole, materialize(container)))


def _canonical(text: pl.Expr, whole: pl.Expr, container: pl.Expr) -> pl.Expr:
    """:func:`canonical` given the document's walk to ``$`` and whether it is a container;
    the checks that a scalar document is valid JSON run only on the others."""
    container = container.fill_null(False)
    stripped = pl.when(~container).then(text).str.strip_chars()
    scalar_ok = stripped.str.contains(_NUMBER) | stripped.is_in(["true", "false"])
    scalar_ok = scalar_ok | stripped.str.contains(r'^"(?:[^"\\]|\\.)*"$')
    return (
        pl.when(container)
        .then(whole)
        .when(stripped == "null")
        .then(pl.lit("null"))
        .when(whole.is_not_null() & scalar_ok)
        .then(stripped)
        .otherwise(None)
    )


def quote(value: pl.Expr) -> pl.Expr:
    """JSON string literal for text (backslashes, quotes and control characters escaped)."""
    escaped = (
        value.str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
        .str.replace_all("\n", "\\n", literal=True)
        .str.replace_all("\r", "\\r", literal=True)
        .str.replace_all("\t", "\\t", literal=True)
    )
    return pl.concat_str([pl.lit('"'), escaped, pl.lit('"')])


def _present(text: pl.Expr, steps: list[str | int], sparse: bool = False) -> pl.Expr | None:
    """Whether ``text`` can hold the path (None for a path without keys), computed once: the
    first-member reading and the walk both read only those documents.

    A document holds key ``k`` only if its text contains ``"k"`` as JSON writes it, or spells
    characters of it with escapes (``\\u0041`` for ``A``, ``\\/`` for ``/``). Finding a literal
    costs a small fraction of a walk, and most CloudTrail documents lack any given key.
    """
    keys = [step for step in steps if isinstance(step, str)]
    return materialize(_mentions(text, keys[-1], sparse)) if keys else None


def _may_hold(text: pl.Expr, present: pl.Expr | None, known: pl.Expr | None) -> pl.Expr:
    """``text`` where it can hold the path (``present``) and ``known`` (answered without a
    walk) is false, NULL elsewhere (a NULL document is skipped cheaply by every walk)."""
    walked = None if known is None else ~known
    if present is not None:
        walked = present if walked is None else walked & present
    return text if walked is None else pl.when(walked).then(text)


def _mentions(text: pl.Expr, key: str, sparse: bool = False) -> pl.Expr:
    """Whether ``text`` contains ``"key"`` as JSON writes it or any ``\\u`` escape (and
    ``\\/`` when the key has a slash). For a plain key, one regular expression of the two
    literals: a single vectorised scan, where contains_any's automaton took 1.6x its time
    (141k CloudTrail requestparameters). The regular expression costs the same for a NULL as
    for a document, where contains_any skips NULLs but reads a document slower: over a
    ``sparse`` column (at least 90% NULL, such as responseelements) contains_any is the
    cheaper one (1M CloudTrail events: responseelements, 0.25% set, 7.8 against 52 ms CPU;
    additionaleventdata, 40% set, was 50 ms slower with it)."""
    if _IDENT.match(key) and not sparse:
        return text.str.contains(f'"{key}"|\\\\u')
    spellings = [pyjson.dumps(key, ensure_ascii=False), "\\u"]
    if "/" in key:
        spellings.append("\\/")
    return text.str.contains_any(spellings)


def _walk(
    text: pl.Expr,
    steps: list[str | int],
    known: pl.Expr | None = None,
    present: pl.Expr | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """(walk result, container) of the value at ``steps``: the walk gives a string's content,
    or the compact text of anything else; ``container`` tells a real object or array from a
    string whose content is bracketed.

    The test costs a second walk, only on the rows whose result is bracketed (its input is
    NULL elsewhere): a filter on the parent keeps it only when the member is a string, which
    is exact even for containers whose members are all null. A member reached by an array
    index has no such filter; there a container is recognised by its members (``path.*``).
    Only the rows where ``present`` (see :func:`_present`) and not ``known`` (answered without
    a walk) are walked.
    """
    path = _path_text(steps)
    value = materialize(_may_hold(text, present, known).str.json_path_match(path))
    bracketed = value.str.contains(_BRACKETED)
    if not steps:
        document = pl.when(bracketed).then(text).str.strip_chars_start(" \t\n\r")
        opened = document.str.starts_with("{") | document.str.starts_with("[")
        return value, bracketed & opened
    if isinstance(steps[-1], str) and _IDENT.match(steps[-1]):
        parent = _path_text(steps[:-1])
        filtered = (
            pl.when(bracketed).then(text).str.json_path_match(f'{parent}[?(@.{steps[-1]} >= "")]')
        )
        return value, bracketed & filtered.is_null()
    members = pl.when(bracketed).then(text).str.json_path_match(path + ".*")
    return value, bracketed & (members.is_not_null() | value.is_in(["{}", "[]"]))


def _typed(text: pl.Expr, steps: list[str | int], value: pl.Expr) -> pl.Expr:
    """Whether a walk result that reads as a number or boolean was one in the document (and not
    a string such as ``"42"``): filters on the parent settle it, only on the rows that need it."""
    looks_plain = value.str.contains(_NUMBER) | value.is_in(["true", "false"])
    if not (steps and isinstance(steps[-1], str) and _IDENT.match(steps[-1])):
        return looks_plain
    parent, field = _path_text(steps[:-1]), f"@.{steps[-1]}"
    plain = pl.when(looks_plain).then(text)

    def matches(condition: str) -> pl.Expr:
        return plain.str.json_path_match(f"{parent}[?({field} {condition})]").is_not_null()

    typed = matches("> -1e308") | matches("< 1e308") | matches("== true") | matches("== false")
    return looks_plain & typed


def _json_at(
    text: pl.Expr, steps: list[str | int], streaming: bool = True, sparse: bool = False
) -> pl.Expr:
    """JSON text of the value at ``steps`` (strings quoted), NULL where there is none;
    ``streaming`` and ``sparse`` as in :func:`value_at`."""
    present = _present(text, steps, sparse)
    member = top_member(text, steps, present, scalar=False) if streaming else None
    value, container = _walk(text, steps, None if member is None else member.known, present)
    if not steps:
        return _canonical(text, value, materialize(container))
    container, typed = materialize_all(container, _typed(text, steps, value))
    walked = (
        pl.when(value.is_null())
        .then(None)
        .when(container | typed)
        .then(value)
        .otherwise(quote(value))
    )
    return _read_first(member, walked)


def _scalar_at(
    text: pl.Expr, steps: list[str | int], streaming: bool = True, sparse: bool = False
) -> pl.Expr:
    """The scalar at ``steps`` as text (a string's content); NULL for objects, arrays, null
    and missing values; ``streaming`` and ``sparse`` as in :func:`value_at`."""
    present = _present(text, steps, sparse)
    member = top_member(text, steps, present, scalar=True) if streaming else None
    value, container = _walk(text, steps, None if member is None else member.known, present)
    return _read_first(member, pl.when(~materialize(container)).then(value))


def _read_first(member: Member | None, walked: pl.Expr) -> pl.Expr:
    """The first-member readings where they answered, ``walked`` elsewhere: one chain of
    conditions, not a coalesce (each step is a pass over every row)."""
    if member is None:
        return walked
    (where, answer), *later = member.readings
    chain: Any = pl.when(where).then(answer)
    for where, answer in later:
        chain = chain.when(where).then(answer)
    return chain.otherwise(walked)


def value_at(
    compiler: ExprCompiler,
    document: exp.Expression,
    path: exp.Expression,
    scalar: bool,
    whole: bool,
) -> pl.Expr:
    """json_extract_scalar (``scalar``) or json_extract of a constant path.

    The json_extract family reads a document as Trino does, up to the member the path names
    (a first member is read from the opening text); ``whole`` reads the whole document first,
    as Trino's SQL/JSON functions parse their input. A column that the scanned files'
    statistics say is mostly NULL is ``sparse`` (see :func:`_mentions`).
    """
    steps = _steps(compiler, path)
    at = _scalar_at if scalar else _json_at
    return staged(
        [string_arg(compiler, document)],
        lambda v: at(v, steps, not whole, _sparse(compiler, document)),
    )


def _sparse(compiler: ExprCompiler, document: exp.Expression) -> bool:
    """Whether ``document`` is a scanned column its files' statistics say is >= 90% NULL."""
    share = compiler.null_fraction(document)
    return share is not None and share >= SPARSE


@translates(
    exp.JSONExtract,
    signatures=(
        "json_extract(varchar, varchar) -> json",
        "json_query(varchar, varchar) -> varchar",
    ),
    arguments=lambda node, name: [node.this, node.expression],
)
def json_extract(compiler: ExprCompiler, node: exp.JSONExtract) -> pl.Expr:
    """json_extract(json, path): the JSON text at path (strings stay quoted), NULL if absent."""
    if node.args.get("json_query"):
        from loglake.query.functions.sqljson import json_query

        return json_query(compiler, node)
    return value_at(compiler, node.this, node.expression, scalar=False, whole=False)


@translates(
    exp.JSONExtractScalar,
    signatures="json_extract_scalar(varchar, varchar) -> varchar",
    arguments=lambda node, name: [node.this, node.expression],
)
def json_extract_scalar(compiler: ExprCompiler, node: exp.JSONExtractScalar) -> pl.Expr:
    """json_extract_scalar(json, path): the scalar at path as varchar; NULL for objects/arrays."""
    return value_at(compiler, node.this, node.expression, scalar=True, whole=False)


@translates(
    exp.ParseJSON,
    signatures="json_parse(varchar) -> json",
    arguments=lambda node, name: [node.this],
)
def json_parse(compiler: ExprCompiler, node: exp.ParseJSON) -> pl.Expr:
    check = rejecting(compiler, node, "Cannot convert value to JSON")
    return staged([string_arg(compiler, node.this)], canonical, check)


@translates(
    exp.JSONFormat,
    signatures="json_format(json) -> varchar",
    arguments=lambda node, name: [node.this],
)
def json_format(compiler: ExprCompiler, node: exp.JSONFormat) -> pl.Expr:
    return compiler.expr(node.this)


def _folded(text: pl.Expr) -> pl.Expr:
    """The body of a compact object/array with nested containers folded into ``0``."""
    inner = text.str.slice(1, text.str.len_chars() - 2)
    for _ in range(MAX_DEPTH):
        inner = inner.str.replace_all(_INNERMOST, "0")
    return inner


def _count(text: pl.Expr) -> pl.Expr:
    inner = materialize(_folded(text))
    return (
        pl.when(inner == "")
        .then(pl.lit(0, pl.Int64))
        .otherwise(inner.str.count_matches(_ELEMENT).cast(pl.Int64))
    )


@function("json_array_length", signatures="json_array_length(json) -> bigint")
def json_array_length(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """json_array_length(json): number of elements, NULL when the value is not an array."""
    (arg,) = arity(compiler, node, 1)

    def build(v: pl.Expr) -> pl.Expr:
        text = canonical(v)
        return pl.when(text.str.starts_with("[")).then(_count(text)).otherwise(None)

    return staged([string_arg(compiler, arg)], build)


@function("json_size", signatures="json_size(json, varchar) -> bigint")
def json_size(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """json_size(json, path): members of the object or array at path; 0 for a scalar."""
    doc, path = arity(compiler, node, 2)
    steps = _steps(compiler, path)

    def build(v: pl.Expr) -> pl.Expr:
        value = materialize(_json_at(v, steps))
        container = value.str.starts_with("[") | value.str.starts_with("{")
        size = pl.when(container).then(_count(value)).otherwise(pl.lit(0, pl.Int64))
        return pl.when(value.is_null()).then(None).otherwise(size)

    return staged([string_arg(compiler, doc)], build)


@translates(
    exp.JSONArrayContains,
    signatures=tuple(
        f"json_array_contains(json, {t}) -> boolean" for t in ("varchar", "double", "boolean")
    ),
    arguments=lambda node, name: [node.this, node.expression],
)
def json_array_contains(compiler: ExprCompiler, node: exp.JSONArrayContains) -> pl.Expr:
    """json_array_contains(json, value): a top-level element equals value (string, number or
    boolean constant)."""
    value = require_constant(compiler, node.expression, "json_array_contains() value")
    if value is None:
        return pl.lit(None, pl.Boolean)
    if isinstance(value, bool):
        token = "true" if value else "false"
    elif isinstance(value, int | float):
        token = pyjson.dumps(value)
    else:
        token = pyjson.dumps(value, ensure_ascii=False)
    element = "(?:^|,)" + re.escape(token) + "(?:,|$)"
    if isinstance(value, float) and value.is_integer():
        element = "(?:^|,)" + re.escape(str(int(value))) + r"(?:\.0+)?(?:,|$)"

    def build(v: pl.Expr) -> pl.Expr:
        text = canonical(v)
        found = _folded(text).str.contains(element)
        return pl.when(text.str.starts_with("[")).then(found).otherwise(None)

    return staged([string_arg(compiler, node.this)], build)


@function("json_array_get", signatures="json_array_get(json, bigint) -> json")
def json_array_get(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """json_array_get(json, index): element at a constant non-negative 0-based index."""
    doc, index_node = arity(compiler, node, 2)
    index = require_constant(compiler, index_node, "json_array_get() index")
    if not isinstance(index, int) or index < 0:
        fail(compiler, index_node, "json_array_get() supports constant non-negative indexes")

    def build(v: pl.Expr) -> pl.Expr:
        text = canonical(v)
        return pl.when(text.str.starts_with("[")).then(_json_at(text, [index])).otherwise(None)

    return staged([string_arg(compiler, doc)], build)


@function("is_json_scalar", signatures="is_json_scalar(json) -> boolean")
def is_json_scalar(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)

    def build(v: pl.Expr) -> pl.Expr:
        text = canonical(v)
        return ~(text.str.starts_with("[") | text.str.starts_with("{"))

    return staged([string_arg(compiler, arg)], build)


# --- casts ---------------------------------------------------------------------------------------

JSON_NODES = (exp.JSONExtract, exp.ParseJSON)


def is_json(compiler: ExprCompiler, node: exp.Expression) -> bool:
    """Whether ``node`` produces a JSON value (by its type or by the function that makes it)."""
    if isinstance(node, JSON_NODES):
        return True
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.JSON):
        return True
    if isinstance(node, exp.Anonymous) and node.name.lower() == "json_array_get":
        return True
    return is_type(compiler, node, exp.DataType.Type.JSON)


_POLARS_SCALARS: dict[exp.DType, pl.DataType] = {
    exp.DataType.Type.VARCHAR: pl.String(),
    exp.DataType.Type.TEXT: pl.String(),
    exp.DataType.Type.CHAR: pl.String(),
    exp.DataType.Type.BIGINT: pl.Int64(),
    exp.DataType.Type.INT: pl.Int32(),
    exp.DataType.Type.SMALLINT: pl.Int16(),
    exp.DataType.Type.TINYINT: pl.Int8(),
    exp.DataType.Type.DOUBLE: pl.Float64(),
    exp.DataType.Type.FLOAT: pl.Float32(),
    exp.DataType.Type.BOOLEAN: pl.Boolean(),
}


def _polars_type(compiler: ExprCompiler, to: exp.DataType, node: exp.Expression) -> pl.DataType:
    if to.this in _POLARS_SCALARS:
        return _POLARS_SCALARS[to.this]
    if to.is_type(exp.DataType.Type.ARRAY):
        return pl.List(_polars_type(compiler, to.expressions[0], node))
    if to.is_type(exp.DataType.Type.MAP):
        key, value = to.expressions
        return pl.Map(_polars_type(compiler, key, node), _polars_type(compiler, value, node))
    if to.is_type(exp.DataType.Type.JSON):
        return pl.String()
    fail(compiler, node, f"Cannot cast JSON to {to.sql(dialect='athena')}")
    raise AssertionError


def _from_json(compiler: ExprCompiler, node: exp.Cast) -> pl.Expr:
    """CAST(json AS varchar/number/boolean/ARRAY(...)/MAP(...))."""
    to = node.to
    text = compiler.expr(node.this)
    if to.is_type(exp.DataType.Type.JSON):
        return text
    target = _polars_type(compiler, to, node)
    if to.is_type(exp.DataType.Type.ARRAY) and to.expressions[0].is_type(exp.DataType.Type.JSON):
        return text.map_batches(_json_elements, return_dtype=target, is_elementwise=True)
    if to.is_type(exp.DataType.Type.ARRAY, exp.DataType.Type.MAP):
        opener = "[" if to.is_type(exp.DataType.Type.ARRAY) else "{"
        usable = pl.when(text.str.starts_with(opener)).then(text).otherwise(None)
        return usable.str.json_decode(target)

    def build(v: pl.Expr) -> pl.Expr:
        scalar = _scalar_at(v, [])
        quoted = v.str.starts_with('"')
        unquoted = pl.when(quoted).then(v.str.json_path_match("$")).otherwise(scalar)
        return pl.when(v == "null").then(None).otherwise(unquoted)

    unquoted = staged([text], build)
    if target == pl.Boolean:
        return unquoted.replace_strict({"true": True, "false": False}, default=None)
    return unquoted.cast(target, strict=not lenient())


def _json_elements(batch: pl.Series) -> pl.Series:
    """CAST(json AS ARRAY(JSON)): each element as its compact JSON text (objects included,
    which a typed decode cannot hold); NULL when the value is not an array."""
    out: list[list[str] | None] = []
    for value in batch.to_list():
        try:
            parsed = pyjson.loads(value) if value is not None else None
        except ValueError:
            parsed = None
        out.append(
            [pyjson.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in parsed]
            if isinstance(parsed, list)
            else None
        )
    return pl.Series(batch.name, out, dtype=pl.List(pl.String))


def _to_json(compiler: ExprCompiler, node: exp.Cast) -> pl.Expr:
    """CAST(x AS JSON): strings become JSON strings, numbers and booleans their text, arrays,
    maps and rows their JSON encoding."""
    source = node.this
    value = compiler.expr(source)
    if is_json(compiler, source):
        return value
    if is_type(compiler, source, *exp.DataType.TEXT_TYPES) or (
        isinstance(source, exp.Literal) and source.is_string
    ):
        return quote(value)
    if is_type(compiler, source, exp.DataType.Type.BOOLEAN) or isinstance(source, exp.Boolean):
        return value.cast(pl.String).str.to_lowercase()
    if (
        is_type(compiler, source, exp.DataType.Type.ARRAY, exp.DataType.Type.MAP)
        or is_type(compiler, source, exp.DataType.Type.STRUCT)
        or isinstance(source, exp.Array | exp.Map | exp.Struct)
    ):
        encoded = pl.struct(value.alias("v")).struct.json_encode()
        return null_if_any_null(encoded.str.slice(5, encoded.str.len_chars() - 6), value)
    if constant(source) is None:
        return pl.lit(None, pl.String)
    return value.cast(pl.String)


def json_cast_hook(compiler: ExprCompiler, node: exp.Cast) -> pl.Expr | None:
    """Casts to and from JSON; other casts are left to the core rules (returns None)."""
    if node.to.is_type(exp.DataType.Type.JSON):
        return _to_json(compiler, node)
    if is_json(compiler, node.this):
        return _from_json(compiler, node)
    return None


CAST_HOOKS.append(json_cast_hook)
