"""Map functions over Polars' native Map type (what Parquet/Arrow maps load as)."""

from __future__ import annotations

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.expressions import unify_results
from loglake.query.functions.common import arity, as_map, fail, require_constant
from loglake.query.functions.lambdas import (
    fields,
    keep_elements,
    lambda_of,
    reads_row,
    zip_lists,
)
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard


@translates(exp.MapKeys, signatures="map_keys(map(K, V)) -> array(K)")
def map_keys(compiler: ExprCompiler, node: exp.MapKeys) -> pl.Expr:
    return as_map(compiler.expr(node.this)).map.keys()


@function("map_values", signatures="map_values(map(K, V)) -> array(V)")
def map_values(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return as_map(compiler.expr(arg)).map.values()


@function("map_entries", signatures="map_entries(map(K, V)) -> array(row)")
def map_entries(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """map_entries(map): array of (key, value) rows."""
    (arg,) = arity(compiler, node, 1)
    entries = as_map(compiler.expr(arg)).map.entries()
    return entries.list.eval(pl.element().struct.rename_fields(T.anonymous_row_fields(2)))


def _entries(compiler: ExprCompiler, keys: exp.Array, values: exp.Array) -> pl.Expr:
    """Map entries of two ARRAY[...] constructors, keys and values each of one common type."""
    for key in keys.expressions:
        if isinstance(key, exp.Null):
            fail(compiler, key, "map key cannot be null")
    key_exprs = unify_results(compiler, list(keys.expressions))
    value_exprs = unify_results(compiler, list(values.expressions))
    pairs = [
        pl.struct(k.alias("key"), v.alias("value"))
        for k, v in zip(key_exprs, value_exprs, strict=True)
    ]
    return pl.concat_list(pairs)


def _as_map(compiler: ExprCompiler, entries: pl.Expr) -> pl.Expr:
    """Entries as a Polars Map, or as they are while their key type is still unknown."""
    key_type = compiler.dtype(entries.list.eval(pl.element().struct.field("key")))
    return entries if key_type == pl.List(pl.Null) else entries.list.to_map()


def checked_map(compiler: ExprCompiler, node: exp.Expression, entries: pl.Expr) -> pl.Expr:
    """A map from {key, value} entries, failing on a NULL or repeated key as Trino does."""
    if _as_map(compiler, entries) is entries:
        return entries
    keys = entries.list.eval(pl.element().struct.field("key"))
    null_key = keys.list.eval(pl.element().is_null().any()).list.first()
    repeated = keys.list.n_unique() != keys.list.len()
    out = guard(compiler, node, entries, null_key.fill_null(False), "map key cannot be null")
    out = guard(
        compiler, node, out, repeated.fill_null(False), "Duplicate map keys are not allowed"
    )
    return out.list.to_map()


@translates(
    exp.Map,
    signatures=("map() -> map(unknown, unknown)", "map(array(K), array(V)) -> map(K, V)"),
    arguments=lambda node, name: [
        a for a in (node.args.get("keys"), node.args.get("values")) if a is not None
    ],
)
def map_(compiler: ExprCompiler, node: exp.Map) -> pl.Expr:
    """map(), map(keys, values): a NULL or duplicate key and unequal lengths are errors."""
    keys, values = node.args.get("keys"), node.args.get("values")
    no_entries = isinstance(keys, exp.Array) and not keys.expressions
    if keys is None or values is None or (no_entries and not values.expressions):
        # an empty map of unknown types: the entry-list layout, as a Map cannot key on NULL
        return pl.lit([], pl.List(pl.Struct({"key": pl.Null, "value": pl.Null})))
    if isinstance(keys, exp.Array) and isinstance(values, exp.Array):
        if len(keys.expressions) != len(values.expressions):
            fail(compiler, keys, "Key and value arrays must be the same length")
        return checked_map(compiler, node, _entries(compiler, keys, values))
    key_list, value_list = compiler.expr(keys), compiler.expr(values)
    entries = zip_lists([key_list, value_list], ["key", "value"])
    unequal = key_list.list.len() != value_list.list.len()
    entries = guard(
        compiler, node, entries, unequal, "Key and value arrays must be the same length"
    )
    return checked_map(compiler, node, entries)


@translates(exp.MapFromEntries, signatures="map_from_entries(array(row)) -> map(K, V)")
def map_from_entries(compiler: ExprCompiler, node: exp.MapFromEntries) -> pl.Expr:
    """map_from_entries(array(row(k, v))): the row fields become key and value."""
    entries = compiler.expr(node.this)
    renamed = entries.list.eval(pl.element().struct.rename_fields(["key", "value"]))
    return renamed.list.to_map()


@translates(
    exp.StrToMap,
    signatures="split_to_map(varchar, varchar, varchar) -> map(varchar, varchar)",
    arguments=lambda node, name: [
        a for a in (node.this, node.args.get("pair_delim"), node.args.get("key_value_delim")) if a
    ],
)
def split_to_map(compiler: ExprCompiler, node: exp.StrToMap) -> pl.Expr:
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


@function("map_concat", signatures="map_concat(map(K, V)...) -> map(K, V)")
def map_concat(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """map_concat(m1, m2, ...): later maps win on duplicate keys."""
    args = node.expressions
    if len(args) < 2:
        fail(compiler, node, "map_concat() needs at least two maps")
    entries = [as_map(compiler.expr(a)).map.entries() for a in args]
    return pl.concat_list(entries).list.to_map()


def _entries_of(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    """A map argument as its list of {key, value} entries (whichever layout it arrives in)."""
    value = compiler.expr(node)
    return (
        value
        if T.is_map(compiler.dtype(value)) and not isinstance(compiler.dtype(value), pl.Map)
        else value.map.entries()
    )


@function("map_filter", signatures="map_filter(map(K, V), function(K, V, boolean)) -> map(K, V)")
def map_filter(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """map_filter(m, (k, v) -> p): the entries for which p is true."""
    map_node, lam_node = arity(compiler, node, 2)
    lam = lambda_of(compiler, lam_node, 2)
    kept = keep_elements(compiler, _entries_of(compiler, map_node), lam, fields("key", "value"))
    return _as_map(compiler, kept)


def _transform_entries(compiler: ExprCompiler, node: exp.Anonymous, replace: str) -> pl.Expr:
    """transform_keys / transform_values: the lambda's result replaces each entry's key or value."""
    from loglake.query.functions.common import bind_lambda

    map_node, lam_node = arity(compiler, node, 2)
    lam = lambda_of(compiler, lam_node, 2)
    entries = _entries_of(compiler, map_node)

    def rebuilt(entry: pl.Expr) -> pl.Expr:
        key, value = entry.struct.field("key"), entry.struct.field("value")
        result = bind_lambda(compiler, lam, [key, value])
        if replace == "key":
            return pl.struct(result.alias("key"), value.alias("value"))
        return pl.struct(key.alias("key"), result.alias("value"))

    if reads_row(lam):
        gathered = (
            rebuilt(entries.explode(empty_as_null=False)).implode().over(pl.int_range(pl.len()))
        )
        pairs = pl.when(entries.is_null()).then(None).otherwise(gathered)
    else:
        pairs = entries.list.eval(rebuilt(pl.element()))
    if replace == "key":
        return checked_map(compiler, node, pairs)
    return _as_map(compiler, pairs)


@function(
    "transform_keys",
    signatures="transform_keys(map(K, V), function(K, V, K2)) -> map(K2, V)",
)
def transform_keys(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """transform_keys(m, (k, v) -> k2): new keys; a NULL or repeated new key is an error."""
    return _transform_entries(compiler, node, "key")


@function(
    "transform_values",
    signatures="transform_values(map(K, V), function(K, V, V2)) -> map(K, V2)",
)
def transform_values(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """transform_values(m, (k, v) -> v2)."""
    return _transform_entries(compiler, node, "value")


@function(
    "map_zip_with",
    signatures="map_zip_with(map(K, V), map(K, U), function(K, V, U, R)) -> map(K, R)",
)
def map_zip_with(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """map_zip_with(m1, m2, (k, v1, v2) -> v): every key of either map; a key missing from one
    map passes NULL for its value."""
    from loglake.query.functions.common import bind_lambda

    first_node, second_node, lam_node = arity(compiler, node, 3)
    lam = lambda_of(compiler, lam_node, 3)
    first = as_map(compiler.expr(first_node))
    second = as_map(compiler.expr(second_node))
    keys = pl.concat_list([first.map.keys(), second.map.keys()]).list.unique(maintain_order=True)
    key = keys.explode(empty_as_null=False)
    value = bind_lambda(compiler, lam, [key, first.map.get(key), second.map.get(key)])
    entries = (
        pl.struct(key.alias("key"), value.alias("value")).implode().over(pl.int_range(pl.len()))
    )
    missing = first.is_null() | second.is_null()
    return pl.when(missing).then(None).otherwise(entries.list.to_map())


def group_entries(entries: pl.Expr) -> pl.Expr:
    """{key, value} entries -> {key, [values...]} per distinct key, in order of first sight."""
    key = pl.element().struct.field("key")
    value = pl.element().struct.field("value")
    grouped = pl.struct(key.alias("key"), value.implode().over(key).alias("value"))
    return entries.list.eval(grouped.filter(key.is_first_distinct()))


@function(
    "multimap_from_entries",
    signatures="multimap_from_entries(array(row)) -> map(K, array(V))",
)
def multimap_from_entries(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """multimap_from_entries(array(row(k, v))): each key with the array of its values."""
    (arg,) = arity(compiler, node, 1)
    entries = compiler.expr(arg).list.eval(pl.element().struct.rename_fields(["key", "value"]))
    keys = entries.list.eval(pl.element().struct.field("key"))
    null_key = keys.list.eval(pl.element().is_null().any()).list.first().fill_null(False)
    out = guard(compiler, node, entries, null_key, "map key cannot be null")
    return group_entries(out).list.to_map()


@function(
    "split_to_multimap",
    signatures="split_to_multimap(varchar, varchar, varchar) -> map(varchar, array(varchar))",
)
def split_to_multimap(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """split_to_multimap(s, entry_delimiter, key_value_delimiter): each key with all its values."""
    text_node, entry_node, pair_node = arity(compiler, node, 3)
    entry = require_constant(compiler, entry_node, "entry delimiter")
    key_value = require_constant(compiler, pair_node, "key-value delimiter")
    if not entry or not key_value:
        fail(compiler, node, "entryDelimiter and keyValueDelimiter must not be empty")
    text = compiler.expr(text_node)
    pieces = text.str.split(entry).list.eval(
        pl.element().filter(pl.element() != "").str.splitn(key_value, 2)
    )
    entries = pieces.list.eval(
        pl.struct(
            pl.element().struct.field("field_0").alias("key"),
            pl.element().struct.field("field_1").alias("value"),
        )
    )
    return group_entries(entries).list.to_map()
