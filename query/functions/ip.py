"""IP addresses and CIDR prefixes: contains('10.0.0.0/8', ip), is_subnet_of, CAST AS IPADDRESS.

As in Trino, an address is a point in the IPv6 space and IPv4 addresses are IPv4-mapped
(``::ffff:a.b.c.d``), so one rule covers both families. An address is handled as eight 16-bit
groups computed with string and integer kernels; an IPADDRESS value is carried as its canonical
text (dotted IPv4, RFC 5952 IPv6), so equality and grouping compare text.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import arity
from loglake.query.registry import CAST_HOOKS, function

_V4 = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
_V4_TAIL = r":(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$"
_HEX_GROUP = r"^[0-9a-f]{1,4}$"


def _octets(text: pl.Expr) -> list[pl.Expr]:
    parts = text.str.split(".")
    return [parts.list.get(i, null_on_oob=True).str.to_integer(strict=False) for i in range(4)]


def _valid_octets(octets: list[pl.Expr]) -> pl.Expr:
    return pl.all_horizontal([(o <= 255).fill_null(False) for o in octets])


def _v6_group_texts(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(list of 8 hex group strings, validity) for IPv6 text without an IPv4 tail."""
    halves = text.str.split("::")
    n_halves = halves.list.len()
    left = halves.list.get(0, null_on_oob=True)
    right = halves.list.get(1, null_on_oob=True).fill_null("")
    left_groups = (
        pl.when(left == "").then(left.str.split("").list.head(0)).otherwise(left.str.split(":"))
    )
    right_groups = (
        pl.when(right == "").then(right.str.split("").list.head(0)).otherwise(right.str.split(":"))
    )
    used = left_groups.list.len().cast(pl.Int64) + right_groups.list.len().cast(pl.Int64)
    zeros = (8 - used).clip(lower_bound=0)
    filler = pl.lit("0").repeat_by(zeros)
    compressed = n_halves == 2
    groups = pl.when(compressed).then(pl.concat_list([left_groups, filler, right_groups]))
    groups = groups.otherwise(left_groups)
    well_formed = groups.list.eval(pl.element().str.contains(_HEX_GROUP)).list.all()
    valid = (
        (n_halves <= 2)
        & (groups.list.len() == 8)
        & well_formed
        & pl.when(compressed).then(used <= 7).otherwise(used == 8)
    )
    return groups, valid.fill_null(False)


def parse(address: pl.Expr) -> tuple[list[pl.Expr], list[pl.Expr], pl.Expr]:
    """(eight 16-bit groups, eight group texts, validity) of IPv4 or IPv6 address text."""
    text = address.str.strip_chars().str.to_lowercase()
    is_v4 = text.str.contains(_V4)
    v4 = _octets(text)
    v4_groups = [pl.lit(0, pl.Int64)] * 5 + [
        pl.lit(0xFFFF, pl.Int64),
        v4[0] * 256 + v4[1],
        v4[2] * 256 + v4[3],
    ]
    tail_text = text.str.extract(_V4_TAIL, 1)
    has_tail = tail_text.is_not_null()
    tail = _octets(tail_text)
    head = text.str.replace(_V4_TAIL, ":0:0")
    texts, v6_valid = _v6_group_texts(head)
    v6_groups = [
        texts.list.get(i, null_on_oob=True).str.to_integer(base=16, strict=False) for i in range(8)
    ]
    v6_groups[6] = pl.when(has_tail).then(tail[0] * 256 + tail[1]).otherwise(v6_groups[6])
    v6_groups[7] = pl.when(has_tail).then(tail[2] * 256 + tail[3]).otherwise(v6_groups[7])
    tail_ok = pl.when(has_tail).then(_valid_octets(tail)).otherwise(True)
    valid = (
        pl.when(is_v4)
        .then(_valid_octets(v4))
        .otherwise(v6_valid & tail_ok & ~text.str.contains("/"))
    )
    groups = [
        pl.when(is_v4).then(a).otherwise(b).cast(pl.Int64)
        for a, b in zip(v4_groups, v6_groups, strict=True)
    ]
    group_texts = [texts.list.get(i, null_on_oob=True) for i in range(8)]
    return groups, group_texts, valid & address.is_not_null()


def _prefix(prefix: pl.Expr) -> tuple[list[pl.Expr], pl.Expr, pl.Expr]:
    """(network groups, prefix length in the IPv6 space, validity) of 'address/length'."""
    text = prefix.str.strip_chars()
    address = text.str.extract(r"^([^/]+)/\d{1,3}$", 1)
    length = text.str.extract(r"/(\d{1,3})$", 1).str.to_integer(strict=False).cast(pl.Int64)
    groups, _, valid = parse(address)
    is_v4 = address.str.contains(_V4)
    bits = pl.when(is_v4).then(length + 96).otherwise(length)
    limit = pl.when(is_v4).then(32).otherwise(128)
    ok = valid & (length <= limit).fill_null(False)
    return groups, bits, ok


def _same_prefix(a: list[pl.Expr], b: list[pl.Expr], bits: pl.Expr) -> pl.Expr:
    checks = []
    for i in range(8):
        compared = (bits - 16 * i).clip(0, 16)
        scale = pl.lit(2, pl.Int64).pow(16 - compared).cast(pl.Int64)
        checks.append((a[i] // scale) == (b[i] // scale))
    return pl.all_horizontal(checks)


def prefix_contains(prefix: pl.Expr, address: pl.Expr) -> pl.Expr:
    """contains(prefix, address): address lies inside the CIDR prefix."""
    net, bits, prefix_ok = _prefix(prefix)
    groups, _, address_ok = parse(address)
    inside = _same_prefix(net, groups, bits)
    out = pl.when(prefix_ok & address_ok).then(inside).otherwise(None)
    return pl.when(prefix.is_null() | address.is_null()).then(None).otherwise(out)


def canonical(address: pl.Expr) -> pl.Expr:
    """Canonical text of an address: dotted IPv4 (also for IPv4-mapped IPv6), else RFC 5952."""
    groups, texts, valid = parse(address)
    mapped = pl.all_horizontal([g == 0 for g in groups[:5]]) & (groups[5] == 0xFFFF)
    dotted = pl.concat_str(
        [
            (groups[6] // 256).cast(pl.String),
            pl.lit("."),
            (groups[6] % 256).cast(pl.String),
            pl.lit("."),
            (groups[7] // 256).cast(pl.String),
            pl.lit("."),
            (groups[7] % 256).cast(pl.String),
        ]
    )
    trimmed = [
        pl.when(t.str.strip_chars_start("0") == "")
        .then(pl.lit("0"))
        .otherwise(t.str.strip_chars_start("0"))
        for t in texts
    ]
    full = pl.concat_str(trimmed, separator=":")
    compressed = pl.when(pl.lit(False)).then(full)
    for run in range(8, 1, -1):
        zeros = r"(?:^|:)0" + r"(?::0)" * (run - 1) + r"(?::|$)"
        compressed = compressed.when(full.str.contains(zeros)).then(full.str.replace(zeros, "::"))
    v6 = compressed.otherwise(full)
    return pl.when(~valid).then(None).when(mapped).then(dotted).otherwise(v6)


@function("is_subnet_of")
def is_subnet_of(compiler: Any, node: exp.Anonymous) -> pl.Expr:
    """is_subnet_of(prefix, address | prefix)."""
    outer_node, inner_node = arity(compiler, node, 2)
    outer = compiler.expr(outer_node)
    inner = compiler.expr(inner_node)
    net, bits, ok = _prefix(outer)
    inner_net, inner_bits, inner_ok = _prefix(inner)
    as_prefix = ok & inner_ok & (inner_bits >= bits) & _same_prefix(net, inner_net, bits)
    is_prefix = inner.str.contains("/")
    out = pl.when(is_prefix).then(as_prefix).otherwise(prefix_contains(outer, inner))
    return pl.when(outer.is_null() | inner.is_null()).then(None).otherwise(out)


def ip_cast_hook(compiler: Any, node: exp.Cast) -> pl.Expr | None:
    """CAST(x AS IPADDRESS) gives canonical text; IPPREFIX keeps 'address/length' text."""
    if node.to.is_type(exp.DataType.Type.IPADDRESS):
        return canonical(compiler.expr(node.this))
    if node.to.is_type(exp.DataType.Type.IPPREFIX):
        value = compiler.expr(node.this).str.strip_chars()
        _, _, ok = _prefix(value)
        return pl.when(ok).then(value.str.to_lowercase()).otherwise(None)
    return None


CAST_HOOKS.append(ip_cast_hook)
