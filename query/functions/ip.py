"""IP addresses and CIDR prefixes: contains('10.0.0.0/8', ip), is_subnet_of, CAST AS IPADDRESS.

As in Trino, an address is a point in the IPv6 space and IPv4 addresses are IPv4-mapped
(``::ffff:a.b.c.d``), so one rule covers both families. An address is handled as eight 16-bit
groups; an IPADDRESS value is carried as its canonical text (dotted IPv4, RFC 5952 IPv6), so
equality and grouping compare text.

Parsing takes a dozen dependent steps, so each function works on a whole batch as a small frame:
every step is one Polars column computed from the previous ones (no per-row Python), instead of
one expression tree that would repeat each earlier step wherever it is used.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import arity, batched, materialize, string_arg
from loglake.query.registry import CAST_HOOKS, function

_V4 = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
_V4_TAIL = r":(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$"
_HEX_GROUP = r"^[0-9a-f]{1,4}$"
_PREFIX = r"^([^/]+)/(\d{1,3})$"


def _parse(frame: pl.LazyFrame, source: str, out: str) -> pl.LazyFrame:
    """Add ``{out}_g0..7`` (16-bit groups), ``{out}_t0..7`` (IPv6 group text) and ``{out}_ok``."""

    def c(name: str) -> pl.Expr:
        return pl.col(f"{out}_{name}")

    def octet(parts: pl.Expr, i: int) -> pl.Expr:
        return parts.list.get(i, null_on_oob=True).str.to_integer(strict=False).cast(pl.Int64)

    def octets_ok(prefix: str) -> pl.Expr:
        return pl.all_horizontal([(c(f"{prefix}{i}") <= 255).fill_null(False) for i in range(4)])

    empty = pl.lit([], pl.List(pl.String))
    frame = frame.with_columns(
        pl.col(source).str.strip_chars().str.to_lowercase().alias(f"{out}_text")
    )
    frame = frame.with_columns(
        c("text").str.contains(_V4).alias(f"{out}_is_v4"),
        c("text").str.extract(_V4_TAIL, 1).alias(f"{out}_tail"),
        c("text").str.replace(_V4_TAIL, ":0:0").str.split("::").alias(f"{out}_halves"),
    )
    frame = frame.with_columns(
        *(octet(c("text").str.split("."), i).alias(f"{out}_v{i}") for i in range(4)),
        *(octet(c("tail").str.split("."), i).alias(f"{out}_w{i}") for i in range(4)),
        c("halves").list.len().alias(f"{out}_n_halves"),
        c("halves").list.get(0, null_on_oob=True).alias(f"{out}_left"),
        c("halves").list.get(1, null_on_oob=True).fill_null("").alias(f"{out}_right"),
    )
    frame = frame.with_columns(
        pl.when(c("left") == "").then(empty).otherwise(c("left").str.split(":")).alias(f"{out}_l"),
        pl.when(c("right") == "")
        .then(empty)
        .otherwise(c("right").str.split(":"))
        .alias(f"{out}_r"),
    )
    frame = frame.with_columns(
        (c("l").list.len().cast(pl.Int64) + c("r").list.len().cast(pl.Int64)).alias(f"{out}_used")
    )
    filler = pl.lit("0").repeat_by((8 - c("used")).clip(lower_bound=0))
    frame = frame.with_columns(
        pl.when(c("n_halves") == 2)
        .then(pl.concat_list([c("l"), filler, c("r")]))
        .otherwise(c("l"))
        .alias(f"{out}_texts")
    )
    has_tail = c("tail").is_not_null()
    v6_ok = (
        (c("n_halves") <= 2)
        & (c("texts").list.len() == 8)
        & c("texts").list.eval(pl.element().str.contains(_HEX_GROUP)).list.all()
        & pl.when(c("n_halves") == 2).then(c("used") <= 7).otherwise(c("used") == 8)
        & pl.when(has_tail).then(octets_ok("w")).otherwise(True)
        & ~c("text").str.contains("/")
    ).fill_null(False)
    frame = frame.with_columns(
        *(c("texts").list.get(i, null_on_oob=True).alias(f"{out}_t{i}") for i in range(8)),
        pl.when(c("is_v4"))
        .then(octets_ok("v"))
        .otherwise(v6_ok)
        .and_(pl.col(source).is_not_null())
        .alias(f"{out}_ok"),
    )
    v4_groups = [pl.lit(0, pl.Int64)] * 5 + [
        pl.lit(0xFFFF, pl.Int64),
        c("v0") * 256 + c("v1"),
        c("v2") * 256 + c("v3"),
    ]
    v6_groups = [c(f"t{i}").str.to_integer(base=16, strict=False).cast(pl.Int64) for i in range(8)]
    v6_groups[6] = pl.when(has_tail).then(c("w0") * 256 + c("w1")).otherwise(v6_groups[6])
    v6_groups[7] = pl.when(has_tail).then(c("w2") * 256 + c("w3")).otherwise(v6_groups[7])
    return frame.with_columns(
        pl.when(c("is_v4")).then(a).otherwise(b).alias(f"{out}_g{i}")
        for i, (a, b) in enumerate(zip(v4_groups, v6_groups, strict=True))
    )


def _parse_prefix(frame: pl.LazyFrame, source: str, out: str) -> pl.LazyFrame:
    """Add the network's groups (as _parse), ``{out}_bits`` (length in IPv6 space) and ok."""
    frame = frame.with_columns(
        pl.col(source).str.strip_chars().str.extract(_PREFIX, 1).alias(f"{out}_addr"),
        pl.col(source)
        .str.strip_chars()
        .str.extract(_PREFIX, 2)
        .str.to_integer(strict=False)
        .cast(pl.Int64)
        .alias(f"{out}_len"),
    )
    frame = _parse(frame, f"{out}_addr", out)
    is_v4 = pl.col(f"{out}_is_v4")
    length = pl.col(f"{out}_len")
    return frame.with_columns(
        pl.when(is_v4).then(length + 96).otherwise(length).alias(f"{out}_bits"),
        (
            pl.col(f"{out}_ok")
            & (length <= pl.when(is_v4).then(32).otherwise(128)).fill_null(False)
        ).alias(f"{out}_pok"),
    )


def _same_prefix(a: str, b: str, bits: pl.Expr) -> pl.Expr:
    """The first ``bits`` bits of the addresses parsed as ``a`` and ``b`` agree."""
    checks = []
    for i in range(8):
        compared = (bits - 16 * i).clip(0, 16)
        scale = pl.lit(2, pl.Int64).pow(16 - compared).cast(pl.Int64)
        checks.append((pl.col(f"{a}_g{i}") // scale) == (pl.col(f"{b}_g{i}") // scale))
    return pl.all_horizontal(checks)


def _canonical_batch(batch: pl.Series) -> pl.Series:
    frame = _parse(batch.cast(pl.String).to_frame("value").lazy(), "value", "a")
    groups = [pl.col(f"a_g{i}") for i in range(8)]
    mapped = pl.all_horizontal([g == 0 for g in groups[:5]]) & (groups[5] == 0xFFFF)
    dotted = pl.concat_str(
        [
            (groups[6] // 256).cast(pl.String),
            (groups[6] % 256).cast(pl.String),
            (groups[7] // 256).cast(pl.String),
            (groups[7] % 256).cast(pl.String),
        ],
        separator=".",
    )
    trimmed = [pl.col(f"a_t{i}").str.strip_chars_start("0") for i in range(8)]
    frame = frame.with_columns(
        mapped.alias("mapped"),
        dotted.alias("dotted"),
        pl.concat_str(
            [pl.when(t == "").then(pl.lit("0")).otherwise(t) for t in trimmed], separator=":"
        ).alias("full"),
    )
    full = pl.col("full")
    compressed = pl.when(pl.lit(False)).then(full)
    for run in range(8, 1, -1):  # the longest run of zero groups, leftmost on ties (RFC 5952)
        zeros = r"(?:^|:)0" + r"(?::0)" * (run - 1) + r"(?::|$)"
        compressed = compressed.when(full.str.contains(zeros)).then(full.str.replace(zeros, "::"))
    result = (
        pl.when(~pl.col("a_ok"))
        .then(None)
        .when(pl.col("mapped"))
        .then(pl.col("dotted"))
        .otherwise(compressed.otherwise(full))
    )
    return frame.select(result.alias(batch.name)).collect().to_series()


def canonical(address: pl.Expr) -> pl.Expr:
    """Canonical text of addresses: dotted IPv4 (also for IPv4-mapped IPv6), else RFC 5952."""
    return address.map_batches(_canonical_batch, return_dtype=pl.String, is_elementwise=True)


def _present_only(frame: pl.DataFrame, name: str, compute: Any) -> pl.Series:
    """Run ``compute`` (unnested frame -> Series) on the rows whose inputs are all non-NULL.

    Rows with a NULL input give NULL; skipping them matters when a caller sends only the few
    rows that need this general path and leaves the rest NULL.
    """
    present = pl.all_horizontal(pl.all().is_not_null())
    mask = frame.select(present).to_series()
    if mask.all():
        return compute(frame.lazy()).alias(name)
    result = pl.Series(name, [None] * len(frame), dtype=pl.Boolean)
    if not mask.any():
        return result
    values = compute(frame.filter(mask).lazy())
    return result.scatter(mask.arg_true(), values)


def _contains_rows(frame: pl.LazyFrame) -> pl.Series:
    frame = _parse_prefix(frame, "prefix", "n")
    frame = _parse(frame, "address", "x")
    inside = _same_prefix("n", "x", pl.col("n_bits"))
    result = pl.when(pl.col("n_pok") & pl.col("x_ok")).then(inside).otherwise(None)
    return frame.select(result).collect().to_series()


def _contains_batch(batch: pl.Series) -> pl.Series:
    return _present_only(batch.struct.unnest(), batch.name, _contains_rows)


def _contains_constant(prefix: str) -> Any:
    """Batch function testing addresses against one constant prefix (parsed once per batch)."""

    def run(batch: pl.Series) -> pl.Series:
        present = batch.drop_nulls()
        frame = pl.DataFrame({"prefix": [prefix] * len(present), "address": present})
        if len(present) == len(batch):
            return _contains_rows(frame.lazy()).alias(batch.name)
        result = pl.Series(batch.name, [None] * len(batch), dtype=pl.Boolean)
        if len(present) == 0:
            return result
        return result.scatter(batch.is_not_null().arg_true(), _contains_rows(frame.lazy()))

    return run


def prefix_contains(prefix: pl.Expr, address: pl.Expr, constant: str | None = None) -> pl.Expr:
    """contains(prefix, address): the address lies inside the CIDR prefix.

    With a constant IPv4 prefix (the usual ``contains('10.0.0.0/8', srcaddr)``) dotted addresses
    are tested as 32-bit integers; only addresses written as IPv6 take the general path.
    """
    fast = _ipv4_network(constant) if constant is not None else None
    if fast is not None and constant is not None:
        return _contains_ipv4(fast, address.cast(pl.String), constant)
    pair = pl.struct(
        prefix.cast(pl.String).alias("prefix"), address.cast(pl.String).alias("address")
    )
    return pair.map_batches(_contains_batch, return_dtype=pl.Boolean, is_elementwise=True)


def _ipv4_network(text: str) -> tuple[int, int] | None:
    """(network as an integer, prefix length) of a valid IPv4 CIDR text, else None."""
    if not re.match(r"^\s*\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}\s*$", text):
        return None
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    return int(network.network_address), network.prefixlen


def _contains_ipv4(network: tuple[int, int], address: pl.Expr, text: str) -> pl.Expr:
    net, length = network
    scale = 2 ** (32 - length)

    def build(value: pl.Expr) -> pl.Expr:
        groups = materialize(
            value.str.strip_chars().str.extract_groups(
                r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"
            )
        )
        octets = [
            materialize(groups.struct.field(str(i)).str.to_integer(strict=False).cast(pl.Int64))
            for i in range(1, 5)
        ]
        as_int = octets[0] * 16777216 + octets[1] * 65536 + octets[2] * 256 + octets[3]
        valid = pl.all_horizontal([(o <= 255).fill_null(False) for o in octets])
        others = pl.when(value.str.contains(":")).then(value).otherwise(None)
        general = others.map_batches(
            _contains_constant(text), return_dtype=pl.Boolean, is_elementwise=True
        )
        return (
            pl.when(value.is_null())
            .then(None)
            .when(valid)
            .then((as_int // scale) == (net // scale))
            .otherwise(general)
        )

    return batched(address, build, pl.Boolean)


def _subnet_rows(frame: pl.LazyFrame) -> pl.Series:
    frame = _parse_prefix(frame, "outer", "n")
    frame = _parse_prefix(frame, "inner", "m")
    frame = _parse(frame, "inner", "x")
    bits = pl.col("n_bits")
    as_prefix = (
        pl.col("n_pok")
        & pl.col("m_pok")
        & (pl.col("m_bits") >= bits)
        & _same_prefix("n", "m", bits)
    )
    as_address = (
        pl.when(pl.col("n_pok") & pl.col("x_ok")).then(_same_prefix("n", "x", bits)).otherwise(None)
    )
    result = pl.when(pl.col("inner").str.contains("/")).then(as_prefix).otherwise(as_address)
    return frame.select(result).collect().to_series()


def _subnet_batch(batch: pl.Series) -> pl.Series:
    return _present_only(batch.struct.unnest(), batch.name, _subnet_rows)


@function("is_subnet_of")
def is_subnet_of(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """is_subnet_of(prefix, address | prefix)."""
    outer_node, inner_node = arity(compiler, node, 2)
    pair = pl.struct(
        string_arg(compiler, outer_node).alias("outer"),
        string_arg(compiler, inner_node).alias("inner"),
    )
    return pair.map_batches(_subnet_batch, return_dtype=pl.Boolean, is_elementwise=True)


def _prefix_batch(batch: pl.Series) -> pl.Series:
    frame = _parse_prefix(batch.cast(pl.String).to_frame("value").lazy(), "value", "p")
    text = pl.col("value").str.strip_chars().str.to_lowercase()
    result = pl.when(pl.col("p_pok")).then(text).otherwise(None)
    return frame.select(result.alias(batch.name)).collect().to_series()


def ip_cast_hook(compiler: Any, node: exp.Cast) -> pl.Expr | None:
    """CAST(x AS IPADDRESS) gives canonical text; IPPREFIX keeps valid 'address/length' text."""
    if node.to.is_type(exp.DataType.Type.IPADDRESS):
        return canonical(string_arg(compiler, node.this))
    if node.to.is_type(exp.DataType.Type.IPPREFIX):
        value = string_arg(compiler, node.this)
        return value.map_batches(_prefix_batch, return_dtype=pl.String, is_elementwise=True)
    return None


CAST_HOOKS.append(ip_cast_hook)
