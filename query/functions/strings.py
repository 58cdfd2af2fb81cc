"""String functions with Trino's semantics: 1-based positions, negative starts counted from the end,
NULL in gives NULL out, and an empty string (not NULL) when a position falls outside the string."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import (
    NOT_CONSTANT,
    combine,
    constant,
    fail,
    null_if_any_null,
    require_constant,
    string_arg,
)
from loglake.query.registry import translates

#: concat and || join strings, or arrays and their elements
CONCAT = (
    "concat(varchar...) -> varchar",
    "concat(array(E)...) -> array(E)",
    "concat(E, array(E)) -> array(E)",
    "concat(array(E), E) -> array(E)",
)


def _strpos_arguments(node: exp.Expression, name: str) -> list[exp.Expression]:
    """strpos(s, sub[, n]) and position(sub IN s) share one node with the string first."""
    if name == "position":
        return [node.args["substr"], node.this]
    return [a for a in (node.this, node.args.get("substr"), node.args.get("occurrence")) if a]


def _int(compiler: Any, node: exp.Expression) -> pl.Expr:
    return compiler.expr(node).cast(pl.Int64)


@translates(exp.Lower, signatures="lower(varchar) -> varchar")
def lower(compiler: Any, node: exp.Lower) -> pl.Expr:
    return string_arg(compiler, node.this).str.to_lowercase()


@translates(exp.Upper, signatures="upper(varchar) -> varchar")
def upper(compiler: Any, node: exp.Upper) -> pl.Expr:
    return string_arg(compiler, node.this).str.to_uppercase()


@translates(exp.Length, signatures="length(varchar) -> bigint")
def length(compiler: Any, node: exp.Length) -> pl.Expr:
    return string_arg(compiler, node.this).str.len_chars().cast(pl.Int64)


def _substr(s: pl.Expr, start: pl.Expr, count: pl.Expr | None = None) -> pl.Expr:
    size = s.str.len_chars().cast(pl.Int64)
    offset = pl.when(start > 0).then(start - 1).otherwise(size + start)
    in_range = (start != 0) & (offset >= 0) & (offset < size)
    if count is None:
        sliced = s.str.slice(offset.clip(lower_bound=0))
        return null_if_any_null(pl.when(in_range).then(sliced).otherwise(pl.lit("")), s, start)
    sliced = s.str.slice(offset.clip(lower_bound=0), count.clip(lower_bound=0))
    in_range = in_range & (count > 0)
    out = pl.when(in_range).then(sliced).otherwise(pl.lit(""))
    return null_if_any_null(out, s, start, count)


@translates(
    exp.Substring,
    signatures=(
        "substr(varchar, bigint) -> varchar",
        "substr(varchar, bigint, bigint) -> varchar",
        "substring(varchar, bigint) -> varchar",
        "substring(varchar, bigint, bigint) -> varchar",
    ),
)
def substr(compiler: Any, node: exp.Substring) -> pl.Expr:
    """substr(s, start[, length]): start 0 or beyond either end gives ''; length <= 0 gives ''."""
    start, length = constant(node.args["start"]), constant(node.args.get("length"))
    if (
        type(start) is int
        and start > 0
        and (length is NOT_CONSTANT or (type(length) is int and length >= 0))
    ):
        # a constant start from the left (substr(phone, 1, 2)) is a plain slice: no length
        # of every string to compute, and a slice past the end is already ''
        size = None if length is NOT_CONSTANT else length
        return string_arg(compiler, node.this).str.slice(start - 1, size)
    nodes = [node.this, node.args["start"]]
    values = [string_arg(compiler, node.this), _int(compiler, node.args["start"])]
    if node.args.get("length") is not None:
        nodes.append(node.args["length"])
        values.append(_int(compiler, node.args["length"]))
    return combine(nodes, values, _substr, pl.String)


def _concat(values: list[pl.Expr]) -> pl.Expr:
    """String concatenation, or array concatenation when the first argument is an array."""

    def choose(pairs: list[tuple[pl.Expr, pl.DataType]]) -> pl.Expr:
        exprs = [e for e, _ in pairs]
        if any(isinstance(dtype, pl.List) for _, dtype in pairs):
            return null_if_any_null(pl.concat_list(exprs), *exprs)
        return pl.concat_str([e.cast(pl.String) for e in exprs], ignore_nulls=False)

    return pl.pipe_with_dtype(values, choose)


@translates(exp.Concat, signatures=CONCAT)
def concat(compiler: Any, node: exp.Concat) -> pl.Expr:
    """concat(a, b, ...): NULL if any argument is NULL; arrays concatenate as arrays."""
    parts = list(node.expressions)
    if len(parts) < 2:
        fail(compiler, node, "concat() needs at least two arguments")
    return _concat([compiler.expr(p) for p in parts])


@translates(exp.DPipe, signatures=CONCAT)
def dpipe(compiler: Any, node: exp.DPipe) -> pl.Expr:
    return _concat([compiler.expr(node.this), compiler.expr(node.expression)])


@translates(
    exp.Trim,
    signatures=(
        "trim(varchar) -> varchar",
        "trim(varchar, varchar) -> varchar",
        "ltrim(varchar) -> varchar",
        "ltrim(varchar, varchar) -> varchar",
        "rtrim(varchar) -> varchar",
        "rtrim(varchar, varchar) -> varchar",
    ),
)
def trim(compiler: Any, node: exp.Trim) -> pl.Expr:
    """trim/ltrim/rtrim, with optional characters: trim(s, 'xy') and trim(BOTH 'xy' FROM s)."""
    s = string_arg(compiler, node.this)
    chars_node = node.args.get("expression")
    chars = compiler.expr(chars_node) if chars_node is not None else None
    position = (node.text("position") or "BOTH").upper()
    if position == "LEADING":
        out = s.str.strip_chars_start(chars)
    elif position == "TRAILING":
        out = s.str.strip_chars_end(chars)
    else:
        out = s.str.strip_chars(chars)
    return out if chars is None else null_if_any_null(out, chars)


@translates(
    exp.Replace,
    signatures=(
        "replace(varchar, varchar) -> varchar",
        "replace(varchar, varchar, varchar) -> varchar",
    ),
)
def replace(compiler: Any, node: exp.Replace) -> pl.Expr:
    s = string_arg(compiler, node.this)
    search = compiler.expr(node.expression)
    replacement = node.args.get("replacement")
    value = compiler.expr(replacement) if replacement is not None else pl.lit("")
    out = s.str.replace_all(search, value, literal=True)
    return null_if_any_null(out, search, value)


@translates(
    exp.Split,
    signatures=(
        "split(varchar, varchar) -> array(varchar)",
        "split(varchar, varchar, bigint) -> array(varchar)",
    ),
)
def split(compiler: Any, node: exp.Split) -> pl.Expr:
    """split(s, delimiter[, limit]): with a limit the last element keeps the rest of the string."""
    s = string_arg(compiler, node.this)
    delimiter = constant(node.expression)
    if delimiter == "":
        fail(compiler, node.expression, "split(): the delimiter must not be empty")
    delim = compiler.expr(node.expression)
    limit_node = node.args.get("limit")
    if limit_node is None:
        return null_if_any_null(s.str.split(delim), delim)
    limit = require_constant(compiler, limit_node, "split() limit")
    if not isinstance(limit, int) or limit <= 0:
        fail(compiler, limit_node, "split(): the limit must be a positive integer")
    if delimiter is NOT_CONSTANT:
        fail(compiler, node.expression, "split() with a limit needs a constant delimiter")
    fields = s.str.splitn(delimiter, limit)
    parts = pl.concat_list([fields.struct.field(f"field_{i}") for i in range(limit)])
    return pl.when(s.is_null()).then(None).otherwise(parts.list.drop_nulls())


@translates(exp.SplitPart, signatures="split_part(varchar, varchar, bigint) -> varchar")
def split_part(compiler: Any, node: exp.SplitPart) -> pl.Expr:
    """split_part(s, delimiter, index): 1-based; an index past the last field gives NULL."""
    s = string_arg(compiler, node.this)
    delim = compiler.expr(node.args["delimiter"])
    index_node = node.args["part_index"]
    index_value = constant(index_node)
    if isinstance(index_value, int) and index_value <= 0:
        fail(compiler, index_node, "split_part(): index must be greater than zero")
    index = _int(compiler, index_node)
    return s.str.split(delim).list.get(index - 1, null_on_oob=True)


@translates(
    exp.StrPosition,
    signatures=(
        "strpos(varchar, varchar) -> bigint",
        "strpos(varchar, varchar, bigint) -> bigint",
        "position(varchar, varchar) -> bigint",
    ),
    arguments=_strpos_arguments,
)
def strpos(compiler: Any, node: exp.StrPosition) -> pl.Expr:
    """strpos(s, sub[, instance]): 1-based character position, 0 when absent; a negative
    instance counts occurrences from the end."""
    s = string_arg(compiler, node.this)
    sub_node = node.args["substr"]
    sub = compiler.expr(sub_node)
    instance_node = node.args.get("occurrence")
    if node.args.get("position") is not None:
        fail(compiler, node, "strpos() has no start-position argument in Trino")
    instance = 1
    if instance_node is not None:
        instance = require_constant(compiler, instance_node, "strpos() instance")
        if not isinstance(instance, int) or instance == 0:
            fail(compiler, instance_node, "strpos(): instance must not be zero")

    def build(s: pl.Expr, sub: pl.Expr) -> pl.Expr:
        pieces = s.str.split(sub)
        found = pieces.list.len() > abs(instance)
        sub_len = sub.str.len_chars().cast(pl.Int64)
        if instance > 0:
            before = pieces.list.head(instance)
        else:
            before = pieces.list.head(pieces.list.len() + instance)
        chars = before.list.eval(pl.element().str.len_chars().cast(pl.Int64)).list.sum()
        position = chars + (before.list.len().cast(pl.Int64) - 1) * sub_len + 1
        empty = pl.lit(1, pl.Int64) if instance > 0 else s.str.len_chars().cast(pl.Int64) + 1
        out = (
            pl.when(sub_len == 0)
            .then(empty)
            .when(found)
            .then(position)
            .otherwise(pl.lit(0, pl.Int64))
        )
        return null_if_any_null(out, s, sub)

    return combine([node.this, sub_node], [s, sub], build, pl.Int64)


@translates(exp.StartsWith, signatures="starts_with(varchar, varchar) -> boolean")
def starts_with(compiler: Any, node: exp.StartsWith) -> pl.Expr:
    s = string_arg(compiler, node.this)
    prefix = compiler.expr(node.expression)
    return null_if_any_null(s.str.starts_with(prefix), s, prefix)


@translates(exp.EndsWith, signatures="ends_with(varchar, varchar) -> boolean")
def ends_with(compiler: Any, node: exp.EndsWith) -> pl.Expr:
    s = string_arg(compiler, node.this)
    suffix = compiler.expr(node.expression)
    return null_if_any_null(s.str.ends_with(suffix), s, suffix)


@translates(
    exp.Pad,
    signatures=(
        "lpad(varchar, bigint, varchar) -> varchar",
        "rpad(varchar, bigint, varchar) -> varchar",
    ),
)
def pad(compiler: Any, node: exp.Pad) -> pl.Expr:
    """lpad/rpad(s, size, padstring): pads with repeats of padstring, or truncates to size."""
    s = string_arg(compiler, node.this)
    size = _int(compiler, node.expression)
    fill_node = node.args.get("fill_pattern")
    if fill_node is None:
        fail(compiler, node, "lpad()/rpad() take three arguments: string, size, padstring")
    fill_value = constant(fill_node)
    if fill_value == "":
        fail(compiler, fill_node, "padding string must not be empty")
    size_value = constant(node.expression)
    if isinstance(size_value, int) and size_value < 0:
        fail(compiler, node.expression, "target length must be non-negative")
    fill = compiler.expr(fill_node)
    left = bool(node.args.get("is_left"))

    def build(s: pl.Expr, size: pl.Expr, fill: pl.Expr) -> pl.Expr:
        current = s.str.len_chars().cast(pl.Int64)
        missing = (size - current).clip(lower_bound=0)
        fill_len = fill.str.len_chars().cast(pl.Int64)
        repeats = (missing // fill_len.clip(lower_bound=1)) + 1
        padding = fill.repeat_by(repeats).list.join("").str.slice(0, missing)
        padded = pl.concat_str([padding, s] if left else [s, padding])
        truncated = s.str.slice(0, size.clip(lower_bound=0))
        out = pl.when(current >= size).then(truncated).otherwise(padded)
        return null_if_any_null(out, s, size, fill)

    nodes = [node.this, node.expression, fill_node]
    return combine(nodes, [s, size, fill], build, pl.String)


@translates(
    exp.Reverse,
    signatures=("reverse(varchar) -> varchar", "reverse(array(E)) -> array(E)"),
)
def reverse(compiler: Any, node: exp.Reverse) -> pl.Expr:

    def choose(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return value.list.reverse() if isinstance(dtype, pl.List) else value.str.reverse()

    return compiler.expr(node.this).pipe_with_dtype(choose)


@translates(exp.Chr, signatures="chr(bigint) -> varchar")
def chr_(compiler: Any, node: exp.Chr) -> pl.Expr:
    (arg,) = node.expressions
    value = require_constant(compiler, arg, "chr() argument")
    return pl.lit(None, pl.String) if value is None else pl.lit(chr(int(value)))


@translates(exp.Translate, signatures="translate(varchar, varchar, varchar) -> varchar")
def translate(compiler: Any, node: exp.Translate) -> pl.Expr:
    """translate(s, from, to): characters of `from` map to `to`; extra ones are deleted."""
    s = string_arg(compiler, node.this)
    source = require_constant(compiler, node.args["from_"], "translate() from")
    target = require_constant(compiler, node.args["to"], "translate() to")
    if source is None or target is None:
        return pl.lit(None, pl.String)
    seen: dict[str, str] = {}
    for i, ch in enumerate(source):
        seen.setdefault(ch, target[i] if i < len(target) else "")
    if not seen:
        return s
    return s.str.replace_many(list(seen), list(seen.values()))
