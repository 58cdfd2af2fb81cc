"""Map functions over Polars' native Map type (what Parquet/Arrow maps load as)."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.functions.common import arity, as_map, fail, require_constant
from loglake.query.registry import function, translates


@translates(exp.MapKeys)
def map_keys(compiler: Any, node: exp.MapKeys) -> pl.Expr:
    return as_map(compiler.expr(node.this)).map.keys()


@function("map_values")
def map_values(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return as_map(compiler.expr(arg)).map.values()


@function("map_entries")
def map_entries(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """map_entries(map): array of (key, value) rows."""
    (arg,) = arity(compiler, node, 1)
    entries = as_map(compiler.expr(arg)).map.entries()
    return entries.list.eval(pl.element().struct.rename_fields(T.anonymous_row_fields(2)))


def _entries(compiler: Any, keys: exp.Expression, values: exp.Expression) -> pl.Expr:
    if not isinstance(keys, exp.Array) or not isinstance(values, exp.Array):
        fail(compiler, keys, "map() is supported with ARRAY[...] constructors for keys and values")
    if len(keys.expressions) != len(values.expressions):
        fail(compiler, keys, "Key and value arrays must be the same length")
    for key in keys.expressions:
        if isinstance(key, exp.Null):
            fail(compiler, key, "map key cannot be null")
    pairs = [
        pl.struct(compiler.expr(k).alias("key"), compiler.expr(v).alias("value"))
        for k, v in zip(keys.expressions, values.expressions, strict=True)
    ]
    return pl.concat_list(pairs)


@translates(exp.Map)
def map_(compiler: Any, node: exp.Map) -> pl.Expr:
    """map(ARRAY[k...], ARRAY[v...]); a duplicate key is an error in Trino, so it is here."""
    keys, values = node.args.get("keys"), node.args.get("values")
    if keys is None or values is None:
        return pl.lit(None, pl.Map(pl.String, pl.String))
    literal_keys = [k.sql() for k in keys.expressions] if isinstance(keys, exp.Array) else []
    if len(set(literal_keys)) != len(literal_keys):
        fail(compiler, keys, "Duplicate map keys are not allowed")
    return _entries(compiler, keys, values).list.to_map()


@translates(exp.MapFromEntries)
def map_from_entries(compiler: Any, node: exp.MapFromEntries) -> pl.Expr:
    """map_from_entries(array(row(k, v))): the row fields become key and value."""
    entries = compiler.expr(node.this)
    renamed = entries.list.eval(pl.element().struct.rename_fields(["key", "value"]))
    return renamed.list.to_map()


@translates(exp.StrToMap)
def split_to_map(compiler: Any, node: exp.StrToMap) -> pl.Expr:
    """split_to_map(s, entry_delimiter, key_value_delimiter) -> map(varchar, varchar)."""
    entry = require_constant(compiler, node.args.get("pair_delim"), "entry delimiter")
    key_value = require_constant(compiler, node.args.get("key_value_delim"), "key delimiter")
    if not entry or not key_value:
        fail(compiler, node, "split_to_map() delimiters must not be empty")
    s = compiler.expr(node.this)
    pieces = s.str.split(entry).list.eval(
        pl.element().filter(pl.element() != "").str.splitn(key_value, 2)
    )
    pairs = pieces.list.eval(
        pl.struct(
            pl.element().struct.field("field_0").alias("key"),
            pl.element().struct.field("field_1").alias("value"),
        )
    )
    return pairs.list.to_map()


@function("map_concat")
def map_concat(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """map_concat(m1, m2, ...): later maps win on duplicate keys."""
    args = node.expressions
    if len(args) < 2:
        fail(compiler, node, "map_concat() needs at least two maps")
    entries = [as_map(compiler.expr(a)).map.entries() for a in args]
    return pl.concat_list(entries).list.to_map()
