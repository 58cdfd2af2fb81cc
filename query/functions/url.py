"""URL functions (url_extract_*), splitting URLs with the RFC 3986 regular expression.

Trino parses with java.net.URI and returns NULL for text that is not a valid URI; here the
RFC 3986 split applies to any text, so slightly malformed URLs still give their parts.
"""

from __future__ import annotations

import re

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import arity, require_constant, string_arg
from loglake.query.registry import ExprCompiler, function

_URI = r"^(?:([A-Za-z][A-Za-z0-9+.\-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?$"
_SCHEME, _AUTHORITY, _PATH, _QUERY, _FRAGMENT = 1, 2, 3, 4, 5


def _part(compiler: ExprCompiler, node: exp.Anonymous, group: int) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return string_arg(compiler, arg).str.extract(_URI, group)


#: scheme, '//', optional user info, then the host (a bracketed IPv6 literal or a name)
_HOST = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?//(?:[^@/?#]*@)?(\[[^\]/?#]*\]|[^:/?#]*)"


def _host(url: pl.Expr) -> pl.Expr:
    return url.str.extract(_HOST, 1)


@function("url_extract_protocol", signatures="url_extract_protocol(varchar) -> varchar")
def url_extract_protocol(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _part(compiler, node, _SCHEME)


@function("url_extract_host", signatures="url_extract_host(varchar) -> varchar")
def url_extract_host(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """url_extract_host('https://user@example.com:8443/x') = 'example.com'."""
    (arg,) = arity(compiler, node, 1)
    host = _host(string_arg(compiler, arg))
    return pl.when(host == "").then(None).otherwise(host)


@function("url_extract_port", signatures="url_extract_port(varchar) -> bigint")
def url_extract_port(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """The explicit port as bigint; NULL when the URL names none."""
    (arg,) = arity(compiler, node, 1)
    authority = string_arg(compiler, arg).str.extract(_URI, _AUTHORITY)
    return authority.str.extract(r":(\d+)$", 1).str.to_integer(strict=False).cast(pl.Int64)


@function("url_extract_path", signatures="url_extract_path(varchar) -> varchar")
def url_extract_path(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _part(compiler, node, _PATH)


@function("url_extract_query", signatures="url_extract_query(varchar) -> varchar")
def url_extract_query(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _part(compiler, node, _QUERY)


@function("url_extract_fragment", signatures="url_extract_fragment(varchar) -> varchar")
def url_extract_fragment(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _part(compiler, node, _FRAGMENT)


@function("url_extract_parameter")
def url_extract_parameter(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """url_extract_parameter(url, name): value of the first `name=` pair in the query; '' for a
    bare `name`; NULL when absent."""
    url_node, name_node = arity(compiler, node, 2)
    name = require_constant(compiler, name_node, "parameter name")
    url = string_arg(compiler, url_node)
    if name is None:
        return pl.lit(None, pl.String)
    query = url.str.extract(_URI, _QUERY)
    pairs = query.str.split("&")
    key = re.escape(str(name))
    matching = pairs.list.eval(pl.element().filter(pl.element().str.contains(f"^{key}(?:=|$)")))
    first = matching.list.first()
    value = first.str.extract(f"^{key}=(.*)$", 1)
    return pl.when(first.is_null()).then(None).otherwise(value.fill_null(""))


_UNRESERVED = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_")
#: each byte's hexadecimal pair -> what url_encode writes for it
_ENCODED = {
    f"{b:02x}": chr(b) if b in _UNRESERVED else ("+" if b == 0x20 else f"%{b:02X}")
    for b in range(256)
}


@function("url_encode", signatures="url_encode(varchar) -> varchar")
def url_encode(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """url_encode(s): letters, digits and . - * _ stay; space becomes '+'; every other byte of
    the UTF-8 text becomes %XX (application/x-www-form-urlencoded, as Java's URLEncoder)."""
    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    pairs = text.cast(pl.Binary).bin.encode("hex").str.extract_all("..")
    encoded = pairs.list.eval(
        pl.element().replace_strict(list(_ENCODED), list(_ENCODED.values()))
    ).list.join("")
    return pl.when(text.is_null()).then(None).otherwise(encoded)


@function("url_decode", signatures="url_decode(varchar) -> varchar")
def url_decode(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """url_decode(s): '+' is a space and %XX a byte; the bytes are read as UTF-8."""
    from loglake.query.runtime import guard

    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    tokens = text.str.replace_all("+", " ", literal=True).str.extract_all(r"(?s)%[0-9A-Fa-f]{2}|.")
    hex_text = tokens.list.eval(
        pl.when(pl.element().str.starts_with("%") & (pl.element().str.len_chars() == 3))
        .then(pl.element().str.slice(1).str.to_lowercase())
        .otherwise(pl.element().cast(pl.Binary).bin.encode("hex"))
    ).list.join("")
    decoded = hex_text.str.decode("hex").cast(pl.String, strict=False)
    stray = text.str.contains(r"%(?:[^0-9A-Fa-f]|.[^0-9A-Fa-f]|.?$)")
    message = pl.concat_str(
        [pl.lit("URLDecoder: Illegal hex characters in escape (%) pattern: "), text]
    )
    return guard(
        compiler, node, pl.when(text.is_null()).then(None).otherwise(decoded), stray, message
    )
