"""IP addresses and CIDR prefixes: IPADDRESS values, contains('10.0.0.0/8', ip), is_subnet_of.

As in Trino, an address is a point in the IPv6 space and IPv4 addresses are IPv4-mapped
(``::ffff:a.b.c.d``), so one rule covers both families. An IPADDRESS value is that 128-bit
number, carried as ``pl.UInt128``: comparisons, ORDER BY, min/max, grouping and joins then
follow Trino's order natively (``9.0.0.1 < 10.0.0.0``; IPv4 sorts where ``::ffff:0:0/96`` lies
among IPv6 addresses). It becomes text (dotted IPv4, RFC 5952 IPv6) when cast to varchar and in
query results (:func:`readable`). An IPPREFIX stays its ``address/length`` text.

Reading an address takes a dozen dependent steps; each is one field of a staged struct
(:class:`Stages`), computed once per batch by Polars kernels. IPv4 text takes a short path;
only text with a ``:`` goes through the IPv6 steps.
"""

from __future__ import annotations

import ipaddress
from functools import cache
from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import Finish, Stages, arity, constant, is_type, string_arg
from loglake.query.registry import CAST_HOOKS, ExprCompiler, function
from loglake.query.runtime import rejecting

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

#: The Polars type of IPADDRESS values.
IPADDRESS = pl.UInt128
_MAPPED = 0xFFFF << 32  # ::ffff:0.0.0.0, where IPv4 addresses live in the IPv6 space
_V4 = r"^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$"
_V4_TAIL = r":([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})$"
_EIGHT_GROUPS = r"^[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7}$"
_PREFIX = r"^([^/]+)/([0-9]{1,3})$"


def _big(value: int) -> pl.Expr:
    return pl.lit(value, IPADDRESS)


def _int32(octets: list[pl.Expr]) -> pl.Expr:
    """The 32-bit number of four octets (larger values only come from text that is no address,
    and those results are discarded)."""
    return octets[0] * (1 << 24) + octets[1] * (1 << 16) + octets[2] * (1 << 8) + octets[3]


Levels = list[list[pl.Expr]]


def _octets(parts: pl.Expr) -> list[pl.Expr]:
    """The four numbers of a struct made by ``extract_groups(_V4)``."""
    return [
        parts.struct.field(str(i)).str.to_integer(strict=False).cast(pl.Int64) for i in range(1, 5)
    ]


def _octets_ok(values: list[pl.Expr]) -> pl.Expr:
    return pl.all_horizontal([(v <= 255).fill_null(False) for v in values])


def _address_levels(text: pl.Expr, out: str) -> Levels:
    """Steps giving field ``out``: the address written in ``text`` (NULL when it is none).

    IPv4 text is read in the first step; only text with a ``:`` takes the IPv6 steps
    (``::`` expanded to the missing zero groups, an embedded IPv4 tail read as two groups).
    """

    def c(name: str) -> pl.Expr:
        return pl.field(f"{out}_{name}")

    text = text.cast(pl.String).str.strip_chars()
    six = pl.when(text.str.contains(":", literal=True)).then(text.str.to_lowercase())
    empty = pl.lit([], pl.List(pl.String))
    left = c("halves").list.get(0, null_on_oob=True)
    right = c("halves").list.get(1, null_on_oob=True).fill_null("")
    n_halves = c("halves").list.len()
    used = c("l").list.len().cast(pl.Int64) + c("r").list.len().cast(pl.Int64)
    filler = pl.lit("0").repeat_by((8 - used).clip(lower_bound=0))
    tail = _octets(c("tail"))
    has_tail = c("tail").struct.field("1").is_not_null()
    v6_ok = (
        (n_halves <= 2)
        & c("texts").list.join(":").str.contains(_EIGHT_GROUPS)
        & pl.when(n_halves == 2).then(used <= 7).otherwise(used == 8)
        & pl.when(has_tail).then(_octets_ok(tail)).otherwise(True)
    ).fill_null(False)
    # eight groups of four hex digits are the address's 32-digit hex number; an embedded IPv4
    # tail was replaced by two zero groups and is added as a number (no list.eval: it runs
    # list by list)
    digits = pl.concat_str(
        [c("texts").list.get(i, null_on_oob=True).str.zfill(4) for i in range(8)]
    )
    v6 = digits.str.to_integer(base=16, dtype=IPADDRESS, strict=False)
    v6 = v6 + pl.when(has_tail).then(_int32(tail)).otherwise(0).cast(IPADDRESS)
    v4 = _octets(c("v4"))
    return [
        [
            text.str.extract_groups(_V4).alias(f"{out}_v4"),
            six.str.extract(_V4_TAIL, 1).str.extract_groups(_V4).alias(f"{out}_tail"),
            six.str.replace(_V4_TAIL, ":0:0").str.split("::").alias(f"{out}_halves"),
        ],
        [
            pl.when(left == "").then(empty).otherwise(left.str.split(":")).alias(f"{out}_l"),
            pl.when(right == "").then(empty).otherwise(right.str.split(":")).alias(f"{out}_r"),
        ],
        [
            pl.when(n_halves == 2)
            .then(pl.concat_list([c("l"), filler, c("r")]))
            .otherwise(c("l"))
            .alias(f"{out}_texts")
        ],
        [
            pl.when(_octets_ok(v4))
            .then(_big(_MAPPED) + _int32(v4).cast(IPADDRESS))
            .when(v6_ok)
            .then(v6)
            .alias(out)
        ],
    ]


def _prefix_levels(text: pl.Expr, out: str) -> Levels:
    """Steps giving ``out`` (the network's address) and ``{out}_bits`` (its length in the IPv6
    space), both NULL when ``text`` is not a valid 'address/length' prefix."""
    text = text.cast(pl.String).str.strip_chars()
    address = text.str.extract(_PREFIX, 1)
    levels = _address_levels(address, out)
    length = text.str.extract(_PREFIX, 2).str.to_integer(strict=False).cast(pl.Int64)
    bits = pl.when(address.str.contains(_V4)).then(length + 96).otherwise(length)
    levels.append(
        [pl.when(pl.field(out).is_not_null() & (bits <= 128)).then(bits).alias(f"{out}_bits")]
    )
    return levels


def _add(stages: Stages, *parses: Levels) -> None:
    """Add the steps of independent parses side by side (the chain stays as short as one)."""
    for i in range(max(len(levels) for levels in parses)):
        stages.add(*(step for levels in parses if i < len(levels) for step in levels[i]))


@cache
def _block_sizes() -> pl.Series:
    """2**(128 - bits) for bits 1..128: the number of addresses in a prefix of each length."""
    return pl.Series([1 << (128 - bits) for bits in range(1, 129)], dtype=IPADDRESS)


def _same_network(a: pl.Expr, b: pl.Expr, bits: pl.Expr) -> pl.Expr:
    """The first ``bits`` bits of addresses ``a`` and ``b`` agree (all do for /0, whose block
    of 2**128 addresses is one past the largest UInt128)."""
    size = bits.replace_strict(
        list(range(1, 129)), _block_sizes(), default=None, return_dtype=IPADDRESS
    )
    same = (a // size) == (b // size)
    return pl.when(bits == 0).then(a.is_not_null() & b.is_not_null()).otherwise(same)


#: The two-digit hex text of every byte, one after the other: byte b is at offset 2 * b.
_BYTES_HEX = "".join(f"{b:02x}" for b in range(256))


def _hex(group: pl.Expr) -> pl.Expr:
    """Hex text of a 16-bit group without leading zeros, as RFC 5952 writes it (each byte's
    digits are a slice of one constant text, which costs no table per query)."""
    table = pl.lit(_BYTES_HEX)
    digits = pl.concat_str(
        [table.str.slice((group // 256) * 2, 2), table.str.slice((group % 256) * 2, 2)]
    ).str.strip_chars_start("0")
    return pl.when(digits == "").then(pl.lit("0")).otherwise(digits)


def _text(value: pl.Expr) -> pl.Expr:
    """Canonical text of IPADDRESS values: dotted IPv4 (also for IPv4-mapped), else RFC 5952."""
    stages = Stages({"v": value})
    v = pl.field("v")
    mapped = v.is_between(_big(_MAPPED), _big(_MAPPED + (1 << 32) - 1))
    low = (pl.when(mapped).then(v) - _big(_MAPPED)).cast(pl.Int64)
    six = pl.when(~mapped).then(v)
    groups = [((six // _big(1 << (16 * (7 - i)))) % _big(1 << 16)).cast(pl.Int64) for i in range(8)]
    stages.add(
        pl.concat_str(
            [(low // (1 << shift)) % 256 for shift in (24, 16, 8, 0)], separator="."
        ).alias("dotted"),
        pl.concat_str([_hex(g) for g in groups], separator=":").alias("full"),
    )
    full = pl.field("full")
    compressed: Then | ChainedThen = pl.when(pl.lit(False)).then(full)
    for run in range(8, 1, -1):  # the longest run of zero groups, leftmost on ties (RFC 5952)
        zeros = r"(?:^|:)0" + r"(?::0)" * (run - 1) + r"(?::|$)"
        compressed = compressed.when(full.str.contains(zeros)).then(full.str.replace(zeros, "::"))
    text = pl.coalesce(pl.field("dotted"), compressed.otherwise(full))
    return stages.result(pl.when(v.is_not_null()).then(text))


def to_address(text: pl.Expr, finish: Finish | None = None) -> pl.Expr:
    """IPADDRESS values read from text (NULL where it is no address), or ``finish(addresses,
    text)``, which may refuse such text."""
    stages = Stages({"text": text})
    _add(stages, _address_levels(pl.field("text"), "a"))
    if finish is None:
        return stages.result(pl.field("a"))
    return stages.result(finish(pl.field("a"), pl.field("text")))


def as_address(value: pl.Expr) -> pl.Expr:
    """IPADDRESS values as they are; text read as addresses (NULL where it is not one)."""

    def choose(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return expr if dtype == IPADDRESS else to_address(expr)

    return value.pipe_with_dtype(choose)


def _network(text: str) -> tuple[int, int, int] | None:
    """(first address, last address, length) of a CIDR text in the IPv6 space, or None when
    it is not one."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        return first + _MAPPED, last + _MAPPED, network.prefixlen + 96
    return first, last, network.prefixlen


def _written(node: exp.Expression) -> str | None:
    """The text of a prefix written as a literal ('10.0.0.0/8' or IPPREFIX '10.0.0.0/8')."""
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.IPPREFIX):
        node = node.this
    value = constant(node)
    return value if isinstance(value, str) else None


def prefix_contains(prefix: pl.Expr, address: pl.Expr, written: str | None = None) -> pl.Expr:
    """contains(prefix, address): the address (IPADDRESS or text) lies inside the CIDR prefix.

    A prefix written as a constant (the usual ``contains('10.0.0.0/8', srcaddr)``) is a range
    test on the 128-bit numbers.
    """
    if written is not None:
        network = _network(written)
        if network is None:
            return pl.lit(None, pl.Boolean)
        return address.pipe_with_dtype(lambda value, dtype: _in_range(value, dtype, *network[:2]))
    address = as_address(address)
    stages = Stages({"prefix": prefix, "address": address})
    _add(stages, _prefix_levels(pl.field("prefix"), "n"))
    inside = _same_network(pl.field("n"), pl.field("address"), pl.field("n_bits"))
    return stages.result(pl.when(pl.field("n_bits").is_not_null()).then(inside))


def _in_range(value: pl.Expr, dtype: pl.DataType, first: int, last: int) -> pl.Expr:
    """The address lies between ``first`` and ``last``.

    A batch without a ``:`` in its text (flow logs hold millions of dotted IPv4 addresses) is
    tested on 32-bit numbers, without the IPv6 steps: Polars skips the branch whose condition
    is a constant, and those steps cost several times the IPv4 test even over rows they leave
    NULL.
    """
    address = as_address(value)
    inside = address.is_between(_big(first), _big(last))
    if dtype == IPADDRESS:
        return inside
    text = value.cast(pl.String).str.strip_chars()
    stages = Stages({"v4": text.str.extract_groups(_V4)})
    octets = _octets(pl.field("v4"))
    # the part of the range in the IPv4-mapped block, as 32-bit numbers
    low, high = max(first - _MAPPED, 0), min(last - _MAPPED, 0xFFFFFFFF)
    v4_inside = _int32(octets).is_between(low, high) if low <= high else pl.lit(False)
    dotted = stages.result(pl.when(_octets_ok(octets)).then(v4_inside))
    return pl.when(text.str.contains(":", literal=True).any()).then(inside).otherwise(dotted)


@function("is_subnet_of")
def is_subnet_of(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """is_subnet_of(prefix, address | prefix): an address inside the prefix, or a prefix
    within it (as long or longer, on the same network)."""
    outer_node, inner_node = arity(compiler, node, 2)
    inner = compiler.expr(inner_node)
    written = _written(outer_node)
    if is_type(compiler, inner_node, exp.DataType.Type.IPADDRESS):
        return prefix_contains(string_arg(compiler, outer_node), inner, written)
    stages = Stages({"outer": string_arg(compiler, outer_node), "inner": inner.cast(pl.String)})
    is_prefix = pl.field("inner").str.contains("/", literal=True)
    inner_levels = [
        _prefix_levels(pl.when(is_prefix).then(pl.field("inner")), "m"),
        _address_levels(pl.when(~is_prefix).then(pl.field("inner")), "x"),
    ]
    if written is not None:
        # the usual case: a constant prefix is a range of addresses
        network = _network(written)
        if network is None:
            return pl.lit(None, pl.Boolean)
        first, last, length = network
        _add(stages, *inner_levels)
        bits = pl.lit(length)

        def within(address: pl.Expr) -> pl.Expr:
            return address.is_between(_big(first), _big(last))

    else:
        _add(stages, _prefix_levels(pl.field("outer"), "n"), *inner_levels)
        bits = pl.field("n_bits")

        def within(address: pl.Expr) -> pl.Expr:
            return _same_network(pl.field("n"), address, bits)

    as_prefix = pl.when(pl.field("m_bits").is_not_null()).then(
        (pl.field("m_bits") >= bits) & within(pl.field("m"))
    )
    as_address = pl.when(pl.field("x").is_not_null()).then(within(pl.field("x")))
    decided = pl.when(is_prefix).then(as_prefix).otherwise(as_address)
    return stages.result(pl.when(bits.is_not_null()).then(decided))


def _prefix_text(value: pl.Expr) -> pl.Expr:
    """Valid ``address/length`` text as written (lower-case), NULL otherwise."""
    stages = Stages({"value": value})
    _add(stages, _prefix_levels(pl.field("value"), "p"))
    text = pl.field("value").str.strip_chars().str.to_lowercase()
    return stages.result(pl.when(pl.field("p_bits").is_not_null()).then(text))


def ip_cast_hook(compiler: ExprCompiler, node: exp.Cast) -> pl.Expr | None:
    """CAST(x AS IPADDRESS) reads text (a value that is not an address fails the query, as in
    Trino; TRY_CAST gives NULL); CAST(address AS VARCHAR) gives its canonical text; IPPREFIX
    keeps valid 'address/length' text."""
    target = node.to
    if target.is_type(exp.DataType.Type.IPADDRESS):
        if is_type(compiler, node.this, exp.DataType.Type.IPADDRESS):
            return compiler.expr(node.this)
        if readable not in compiler.finishers:
            compiler.finishers.append(readable)
        text = string_arg(compiler, node.this)
        return to_address(text, rejecting(compiler, node, "Cannot cast value to IPADDRESS"))
    if target.is_type(exp.DataType.Type.IPPREFIX):
        return _prefix_text(string_arg(compiler, node.this))
    if target.is_type(*exp.DataType.TEXT_TYPES) and is_type(
        compiler, node.this, exp.DataType.Type.IPADDRESS
    ):
        return _text(compiler.expr(node.this))
    return None


CAST_HOOKS.append(ip_cast_hook)


def readable(frame: pl.LazyFrame, names: list[str]) -> pl.LazyFrame:
    """Query results show IPADDRESS values as text, as Trino prints them (decided per column
    when the plan is resolved, without resolving its schema here)."""

    def choose(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        return _text(column) if dtype == IPADDRESS else column

    return frame.with_columns(pl.col(name).pipe_with_dtype(choose).alias(name) for name in names)
