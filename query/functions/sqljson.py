"""The SQL/JSON functions json_exists, json_value, json_query, json_object and json_array.

Paths are the lax or strict mode followed by a JSON path (``lax $.a.b[0]``); this subset of the
SQL/JSON path language (members, array indexes) is evaluated by the same translators as
json_extract and json_extract_scalar, so both families read documents identically. The default
error behaviour of each function applies: an error or an empty result gives NULL (FALSE for
json_exists).
"""

from __future__ import annotations

import re

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import fail, require_constant
from loglake.query.functions.json import value_at
from loglake.query.registry import ExprCompiler, function, translates

_MODE = re.compile(r"^\s*(lax|strict)?\s*(\$.*)$", re.S)


def _path(compiler: ExprCompiler, node: exp.Expression) -> exp.Literal:
    """The JSON path of a SQL/JSON path (its mode dropped), checked for the supported subset."""
    text = require_constant(compiler, node, "JSON path")
    if not isinstance(text, str):
        fail(compiler, node, "JSON path must be a string")
    match = _MODE.match(text)
    if match is None:
        fail(compiler, node, f"Invalid JSON path: '{text}'")
    path = match.group(2).strip()
    if re.search(r"\*|\?|\.\.|\blast\b|\bto\b|\(\)|@|[+\-/%]", path.replace("$", "", 1)):
        fail(compiler, node, f"JSON path '{text}' is not supported: only members and array indexes")
    return exp.Literal.string(path)


def _extract(
    compiler: ExprCompiler, document: exp.Expression, path: exp.Literal, scalar: bool
) -> pl.Expr:
    return value_at(compiler, document, path, scalar=scalar, whole=True)


@function("json_exists", signatures=("json_exists(varchar, varchar) -> boolean",))
def json_exists(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """json_exists(json, path): the path finds an item (FALSE for malformed documents)."""
    if len(node.expressions) != 2:
        fail(compiler, node, "json_exists() takes a JSON input and a path")
    document, path_node = node.expressions
    found = _extract(compiler, document, _path(compiler, path_node), scalar=False)
    value = compiler.expr(document)
    return pl.when(value.is_null()).then(None).otherwise(found.is_not_null())


@translates(
    exp.JSONValue,
    signatures=("json_value(varchar, varchar) -> varchar",),
    arguments=lambda node, name: [node.this, node.args["path"]],
)
def json_value(compiler: ExprCompiler, node: exp.JSONValue) -> pl.Expr:
    """json_value(json, path [RETURNING type]): the scalar at path; NULL for objects, arrays,
    missing items and values that do not convert to the type."""
    scalar = _extract(compiler, node.this, _path(compiler, node.args["path"]), scalar=True)
    returning = node.args.get("returning")
    if not isinstance(returning, exp.DataType):
        return scalar
    from loglake.query.types import polars_type

    try:
        target = polars_type(returning)
    except ValueError as err:
        fail(compiler, returning, str(err))
    if target == pl.Boolean:
        return scalar.replace_strict({"true": True, "false": False}, default=None)
    return scalar.cast(target, strict=False)


def json_query(compiler: ExprCompiler, node: exp.JSONExtract) -> pl.Expr:
    """json_query(json, path [WITH [CONDITIONAL|UNCONDITIONAL] ARRAY WRAPPER]): the object or
    array at path as JSON text; a scalar needs a wrapper (NULL otherwise)."""
    path = _path(compiler, node.expression)
    found = _extract(compiler, node.this, path, scalar=False)
    option = node.args.get("option")
    words = option.name.upper() if isinstance(option, exp.Expression) else ""
    container = found.str.starts_with("{") | found.str.starts_with("[")
    wrapped = pl.concat_str([pl.lit("["), found, pl.lit("]")])
    if "WITH" in words.split() and "WITHOUT" not in words:
        if "CONDITIONAL" in words and "UNCONDITIONAL" not in words:
            return pl.when(container).then(found).otherwise(wrapped)
        return wrapped
    return pl.when(container).then(found)


def _as_json(compiler: ExprCompiler, value: exp.Expression) -> pl.Expr:
    text = compiler.expr(exp.Cast(this=value.copy(), to=exp.DataType.build("JSON")))
    return text.fill_null("null")


@translates(exp.JSONObject)
def json_object(compiler: ExprCompiler, node: exp.JSONObject) -> pl.Expr:
    """json_object(key: value, ...): a JSON object (NULL values written as null)."""
    from loglake.query.functions.json import quote

    members = []
    for pair in node.expressions:
        if not isinstance(pair, exp.JSONKeyValue):
            fail(compiler, pair, "json_object() takes key: value pairs")
        key = compiler.expr(pair.this).cast(pl.String)
        members.append(
            pl.concat_str([quote(key), pl.lit(":"), _as_json(compiler, pair.expression)])
        )
    if not members:
        return pl.lit("{}")
    return pl.concat_str([pl.lit("{"), pl.concat_str(members, separator=","), pl.lit("}")])


@function("json_array", signatures=("json_array() -> varchar", "json_array(any...) -> varchar"))
def json_array(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """json_array(v1, v2, ...): a JSON array of the values."""
    items = [_as_json(compiler, v) for v in node.expressions]
    if not items:
        return pl.lit("[]")
    return pl.concat_str([pl.lit("["), pl.concat_str(items, separator=","), pl.lit("]")])
