"""Regular-expression functions.

Trino uses Java's regex syntax; Polars uses Rust's ``regex`` crate. The common syntax (classes,
quantifiers, groups, named groups, anchors, flags such as ``(?i)``) behaves the same; look-around
and back-references are not available and raise an error naming the pattern. Replacement strings
are rewritten from Java's ``$1`` / ``${name}`` / ``\\$`` forms to Rust's.
"""

from __future__ import annotations

import re

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import (
    constant,
    fail,
    null_if_any_null,
    require_constant,
    string_arg,
)
from loglake.query.registry import ExprCompiler, function, translates

#: Character that stands in for a match while splitting; it cannot occur in valid UTF-8 text
#: that users query (NUL), so splitting on it splits exactly at the matches.
_MARK = "\x00"


def _pattern(compiler: ExprCompiler, node: exp.Expression) -> str | None:
    """The constant regex of ``node``, checked for syntax Rust's engine cannot run."""
    pattern = require_constant(compiler, node, "regular expression")
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        fail(compiler, node, "regular expression must be a string")
    if re.search(r"\(\?<?[=!]|\\[1-9]", pattern):
        fail(compiler, node, f"look-around and back-references are not supported: {pattern!r}")
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError as error:
        found = re.search(r"\nerror: ([^\n]+)", str(error))
        reason = found.group(1) if found else "syntax error"
        fail(compiler, node, f"Invalid regular expression '{pattern}': {reason}")
    return pattern


def _group_count(pattern: str) -> int | None:
    try:
        return re.compile(pattern).groups
    except re.error:
        return None


def _group(compiler: ExprCompiler, node: exp.Expression | None, pattern: str) -> int:
    if node is None:
        return 0
    group = require_constant(compiler, node, "regex group")
    if not isinstance(group, int) or group < 0:
        fail(compiler, node, "regex group must be a non-negative integer")
    count = _group_count(pattern)
    if count is not None and group > count:
        fail(compiler, node, f"Pattern has {count} groups. Cannot access group {group}")
    return group


def java_replacement(text: str) -> str:
    """Rewrite a Java replacement string ($1, ${name}, \\$) into Rust's syntax (${1}, $$)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("$$" if nxt == "$" else nxt)
            i += 2
            continue
        if ch == "$":
            named = re.match(r"\$\{(\w+)\}", text[i:])
            if named:
                out.append("${" + named.group(1) + "}")
                i += len(named.group(0))
                continue
            digits = re.match(r"\$(\d+)", text[i:])
            if digits:
                out.append("${" + digits.group(1) + "}")
                i += len(digits.group(0))
                continue
            raise ValueError("illegal group reference in replacement string")
        out.append(ch)
        i += 1
    return "".join(out)


def _null_str() -> pl.Expr:
    return pl.lit(None, pl.String)


@translates(
    exp.RegexpLike,
    signatures="regexp_like(varchar, varchar) -> boolean",
    arguments=lambda node, name: [node.this, node.expression],
)
def regexp_like(compiler: ExprCompiler, node: exp.RegexpLike) -> pl.Expr:
    """regexp_like(s, pattern): true when the pattern matches any part of s."""
    if node.args.get("flag") is not None:
        fail(compiler, node.args["flag"], "regexp_like() takes two arguments in Trino")
    pattern = _pattern(compiler, node.expression)
    if pattern is None:
        return pl.lit(None, pl.Boolean)
    return string_arg(compiler, node.this).str.contains(pattern)


@translates(
    exp.RegexpExtract,
    signatures=(
        "regexp_extract(varchar, varchar) -> varchar",
        "regexp_extract(varchar, varchar, bigint) -> varchar",
    ),
    arguments=lambda node, name: [
        a for a in (node.this, node.expression, node.args.get("group")) if a
    ],
)
def regexp_extract(compiler: ExprCompiler, node: exp.RegexpExtract) -> pl.Expr:
    """regexp_extract(s, pattern[, group]): first match (or its group); NULL without a match."""
    pattern = _pattern(compiler, node.expression)
    if pattern is None:
        return _null_str()
    group = _group(compiler, node.args.get("group"), pattern)
    return string_arg(compiler, node.this).str.extract(pattern, group)


@translates(
    exp.RegexpExtractAll,
    signatures=(
        "regexp_extract_all(varchar, varchar) -> array(varchar)",
        "regexp_extract_all(varchar, varchar, bigint) -> array(varchar)",
    ),
    arguments=lambda node, name: [
        a for a in (node.this, node.expression, node.args.get("group")) if a
    ],
)
def regexp_extract_all(compiler: ExprCompiler, node: exp.RegexpExtractAll) -> pl.Expr:
    """regexp_extract_all(s, pattern[, group]): every match, or the group of every match.

    A group is taken by matching the pattern again against each whole match, which agrees with
    Java's answer for patterns whose matches do not depend on the surrounding text.
    """
    pattern = _pattern(compiler, node.expression)
    if pattern is None:
        return pl.lit(None, pl.List(pl.String))
    group = _group(compiler, node.args.get("group"), pattern)
    matches = string_arg(compiler, node.this).str.extract_all(pattern)
    if group == 0:
        return matches
    return matches.list.eval(pl.element().str.extract(pattern, group))


@translates(
    exp.RegexpReplace,
    signatures=(
        "regexp_replace(varchar, varchar) -> varchar",
        "regexp_replace(varchar, varchar, varchar) -> varchar",
        "regexp_replace(varchar, varchar, function(array(varchar), varchar)) -> varchar",
    ),
    arguments=lambda node, name: [
        a for a in (node.this, node.expression, node.args.get("replacement")) if a
    ],
)
def regexp_replace(compiler: ExprCompiler, node: exp.RegexpReplace) -> pl.Expr:
    """regexp_replace(s, pattern[, replacement]): every match replaced; $1 / ${name} refer to
    groups as in Java."""
    pattern = _pattern(compiler, node.expression)
    replacement_node = node.args.get("replacement")
    replacement = "" if replacement_node is None else constant(replacement_node)
    if isinstance(replacement_node, exp.Lambda):
        if pattern is None:
            return _null_str()
        return _replace_with_lambda(
            compiler, string_arg(compiler, node.this), pattern, replacement_node
        )
    if pattern is None or replacement is None:
        return _null_str()
    s = string_arg(compiler, node.this)
    if replacement_node is not None and not isinstance(replacement, str):
        value = compiler.expr(replacement_node)
        return null_if_any_null(s.str.replace_all(pattern, value), value)
    try:
        rust = java_replacement(replacement)
    except ValueError as error:
        fail(compiler, replacement_node, str(error))
    return s.str.replace_all(pattern, rust)


@translates(
    exp.RegexpCount,
    signatures="regexp_count(varchar, varchar) -> bigint",
    arguments=lambda node, name: [node.this, node.expression],
)
def regexp_count(compiler: ExprCompiler, node: exp.RegexpCount) -> pl.Expr:
    pattern = _pattern(compiler, node.expression)
    if pattern is None:
        return pl.lit(None, pl.Int64)
    return string_arg(compiler, node.this).str.count_matches(pattern).cast(pl.Int64)


@translates(
    exp.RegexpSplit,
    signatures="regexp_split(varchar, varchar) -> array(varchar)",
    arguments=lambda node, name: [node.this, node.expression],
)
def regexp_split(compiler: ExprCompiler, node: exp.RegexpSplit) -> pl.Expr:
    """regexp_split(s, pattern): the pieces between matches (trailing empty pieces kept)."""
    pattern = _pattern(compiler, node.expression)
    if pattern is None:
        return pl.lit(None, pl.List(pl.String))
    s = string_arg(compiler, node.this)
    return s.str.replace_all(pattern, _MARK).str.split(_MARK)


def _replace_with_lambda(
    compiler: ExprCompiler, s: pl.Expr, pattern: str, lam: exp.Lambda
) -> pl.Expr:
    """regexp_replace(s, pattern, x -> ...): each match becomes the lambda's value for the array
    of its capturing groups (group 1 first); a NULL result removes the match."""
    from loglake.query.functions.lambdas import apply, lambda_of, zip_lists

    lambda_of(compiler, lam, 1)
    count = _group_count(pattern) or 0
    matches = s.str.extract_all(pattern)
    groups = matches.list.eval(
        pl.concat_list([pl.element().str.extract(pattern, g) for g in range(1, count + 1)])
        if count
        else pl.element().repeat_by(0)
    )
    replaced = apply(compiler, groups, lam)
    pieces = s.str.replace_all(pattern, _MARK).str.split(_MARK)
    pairs = zip_lists([pieces, replaced])
    joined = pairs.list.eval(
        pl.concat_str(
            [
                pl.element().struct.field("f0").fill_null(""),
                pl.element().struct.field("f1").cast(pl.String).fill_null(""),
            ]
        )
    ).list.join("")
    return pl.when(s.is_null()).then(None).otherwise(joined)


_POSITION = tuple(
    f"regexp_position(varchar, varchar{extra}) -> integer"
    for extra in ("", ", bigint", ", bigint, bigint")
)


@function("regexp_position", signatures=_POSITION)
def regexp_position(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """regexp_position(s, pattern[, start[, occurrence]]): 1-based character position of the
    n-th match at or after start, or -1."""
    from loglake.query.runtime import guard

    args = node.expressions
    if not 2 <= len(args) <= 4:
        fail(compiler, node, "regexp_position() takes 2 to 4 arguments")
    pattern = _pattern(compiler, args[1])
    if pattern is None:
        return pl.lit(None, pl.Int32)
    text = string_arg(compiler, args[0])
    start = compiler.expr(args[2]).cast(pl.Int64) if len(args) > 2 else pl.lit(1, pl.Int64)
    occurrence = compiler.expr(args[3]).cast(pl.Int64) if len(args) > 3 else pl.lit(1, pl.Int64)
    rest = text.str.slice((start - 1).clip(lower_bound=0))
    matches = rest.str.extract_all(pattern)
    pieces = rest.str.replace_all(pattern, _MARK).str.split(_MARK)
    before = (
        pieces.list.head(occurrence).list.eval(pl.element().str.len_chars()).list.sum()
        + matches.list.head(occurrence - 1).list.eval(pl.element().str.len_chars()).list.sum()
    )
    position = (before.cast(pl.Int64) + start).cast(pl.Int32)
    found = pl.when(matches.list.len() >= occurrence).then(position).otherwise(pl.lit(-1, pl.Int32))
    found = null_if_any_null(found, text, start, occurrence)
    found = guard(compiler, node, found, start < 1, "start position must be greater than zero")
    return guard(compiler, node, found, occurrence < 1, "occurrence must be greater than zero")
