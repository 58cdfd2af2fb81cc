"""VARBINARY: ``X'..'`` literals, UTF-8 and base 16/32/64 encodings, big-endian and IEEE 754
conversions, hashes and HMACs.

Values are Polars ``Binary``. Polars reads bytes (``bin.encode``, ``bin.reinterpret``) but has no
kernel that writes a number as bytes, so integers go through their hexadecimal digits
(:func:`hex_digits`) and ``str.decode("hex")``. Cryptographic and xxHash digests come from the
``polars-hash`` plugin (native kernels); CRC-32 and float bit patterns are computed per batch by
``zlib`` and numpy, without calling back into Polars.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Any

import polars as pl
import polars_hash
from sqlglot import exp

from loglake.errors import SqlError
from loglake.query.functions.common import arity, constant, fail
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard

_HEX = "0123456789abcdef"


def hex_digits(value: pl.Expr, nibbles: int) -> pl.Expr:
    """Lower-case hexadecimal of an unsigned integer, zero-padded to ``nibbles`` digits."""
    digits = [((value // (16**k)) % 16).cast(pl.Int64) for k in reversed(range(nibbles))]
    lookup = pl.Series(list(_HEX))
    return pl.concat_str([d.replace_strict(range(16), lookup) for d in digits])


def from_hex_text(text: pl.Expr) -> pl.Expr:
    return text.str.decode("hex", strict=False)


def binary_arg(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    return compiler.expr(node)


@translates(exp.HexString)
def hex_literal(compiler: ExprCompiler, node: exp.HexString) -> pl.Expr:
    """X'0aFF': a VARBINARY literal."""
    digits = node.this
    if len(digits) % 2:
        fail(compiler, node, "Binary literal must contain an even number of digits")
    try:
        value = bytes.fromhex(digits)
    except ValueError:
        fail(compiler, node, "Binary literal can only contain hexadecimal digits")
    return pl.lit(value, pl.Binary)


# --- text ----------------------------------------------------------------------------------------


@translates(
    exp.Encode, signatures="to_utf8(varchar) -> varbinary", arguments=lambda node, name: [node.this]
)
def to_utf8(compiler: ExprCompiler, node: exp.Encode) -> pl.Expr:
    return compiler.expr(node.this).cast(pl.Binary)


@translates(
    exp.Decode,
    signatures=(
        "from_utf8(varbinary) -> varchar",
        "from_utf8(varbinary, varchar) -> varchar",
        "from_utf8(varbinary, bigint) -> varchar",
    ),
    arguments=lambda node, name: [a for a in (node.this, node.args.get("replace")) if a],
)
def from_utf8(compiler: ExprCompiler, node: exp.Decode) -> pl.Expr:
    """from_utf8(b[, replacement]): invalid UTF-8 sequences become U+FFFD (or the replacement,
    a one-character string or a code point)."""
    replacement: Any = "\ufffd"
    if node.args.get("replace") is not None:
        replacement = constant(node.args["replace"])
        if isinstance(replacement, int) and not isinstance(replacement, bool):
            replacement = chr(replacement)
        if not isinstance(replacement, str) or len(replacement) > 1:
            fail(compiler, node.args["replace"], "Replacement must be at most one character")

    def decode(batch: pl.Series) -> pl.Series:
        import pyarrow as pa

        arrow = batch.to_arrow()
        try:
            return pl.Series(batch.name, arrow.cast(pa.large_string()))
        except pa.ArrowInvalid:
            texts = [
                None if v is None else v.decode("utf-8", "replace").replace("\ufffd", replacement)
                for v in batch.to_list()
            ]
            return pl.Series(batch.name, texts, dtype=pl.String)

    return binary_arg(compiler, node.this).map_batches(
        decode, return_dtype=pl.String, is_elementwise=True
    )


# --- base 16, 32, 64 -----------------------------------------------------------------------------


@translates(exp.Hex, signatures="to_hex(varbinary) -> varchar")
def to_hex(compiler: ExprCompiler, node: exp.Hex) -> pl.Expr:
    return binary_arg(compiler, node.this).bin.encode("hex").str.to_uppercase()


def _decoded(
    compiler: ExprCompiler, node: exp.Expression, text: pl.Expr, decoded: pl.Expr, what: str
) -> pl.Expr:
    bad = text.is_not_null() & decoded.is_null()
    return guard(
        compiler, node, decoded, bad, pl.concat_str([pl.lit(f"invalid {what} input: "), text])
    )


@translates(exp.Unhex, signatures="from_hex(varchar) -> varbinary")
def from_hex(compiler: ExprCompiler, node: exp.Unhex) -> pl.Expr:
    text = compiler.expr(node.this)
    return _decoded(compiler, node, text, from_hex_text(text), "hex")


@translates(exp.ToBase64, signatures="to_base64(varbinary) -> varchar")
def to_base64(compiler: ExprCompiler, node: exp.ToBase64) -> pl.Expr:
    return binary_arg(compiler, node.this).bin.encode("base64")


def _base64_text(text: pl.Expr) -> pl.Expr:
    """Base64 text padded with '=' to a multiple of four characters."""
    missing = (4 - text.str.len_chars() % 4) % 4
    return pl.concat_str([text, pl.lit("=").repeat_by(missing).list.join("")])


@translates(exp.FromBase64, signatures="from_base64(varchar) -> varbinary")
def from_base64(compiler: ExprCompiler, node: exp.FromBase64) -> pl.Expr:
    text = compiler.expr(node.this)
    decoded = _base64_text(text).str.decode("base64", strict=False)
    return _decoded(compiler, node, text, decoded, "base64")


_URL_SAFE = (["+", "/"], ["-", "_"])


@function("to_base64url", signatures="to_base64url(varbinary) -> varchar")
def to_base64url(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    standard = binary_arg(compiler, arg).bin.encode("base64")
    return standard.str.replace_many(*_URL_SAFE)


@function("from_base64url", signatures="from_base64url(varchar) -> varbinary")
def from_base64url(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    text = compiler.expr(arg)
    standard = text.str.replace_many(_URL_SAFE[1], _URL_SAFE[0])
    decoded = _base64_text(standard).str.decode("base64", strict=False)
    return _decoded(compiler, node, text, decoded, "base64url")


_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_NIBBLE_BITS = {h: format(i, "04b") for i, h in enumerate(_HEX)}


def _bit_text(binary: pl.Expr) -> pl.Expr:
    """The bits of a byte string as text of '0' and '1'."""
    hex_text = binary.bin.encode("hex")
    return hex_text.str.replace_many(list(_NIBBLE_BITS), list(_NIBBLE_BITS.values()))


@translates(exp.ToBase32, signatures="to_base32(varbinary) -> varchar")
def to_base32(compiler: ExprCompiler, node: exp.ToBase32) -> pl.Expr:
    """RFC 4648 base32 with '=' padding: five bits per character, eight characters per block."""
    bits = _bit_text(binary_arg(compiler, node.this))
    length = bits.str.len_chars()
    padded = pl.concat_str([bits, pl.lit("0").repeat_by((5 - length % 5) % 5).list.join("")])
    groups = padded.str.extract_all(".{5}")
    lookup = pl.Series(list(_BASE32))
    letters = groups.list.eval(
        pl.element().str.to_integer(base=2).replace_strict(range(32), lookup)
    ).list.join("")
    fill = (8 - letters.str.len_chars() % 8) % 8
    return pl.concat_str([letters, pl.lit("=").repeat_by(fill).list.join("")])


@translates(exp.FromBase32, signatures="from_base32(varchar) -> varbinary")
def from_base32(compiler: ExprCompiler, node: exp.FromBase32) -> pl.Expr:
    text = compiler.expr(node.this)
    letters = text.str.strip_chars_end("=").str.to_uppercase()
    valid = letters.str.contains(f"^[{_BASE32}]*$")
    codes = {c: format(i, "05b") for i, c in enumerate(_BASE32)}
    bits = letters.str.replace_many(list(codes), list(codes.values()))
    whole = bits.str.slice(0, bits.str.len_chars() // 8 * 8)
    nibbles = whole.str.extract_all(".{4}").list.eval(
        pl.element().str.to_integer(base=2).replace_strict(range(16), pl.Series(list(_HEX)))
    )
    decoded = from_hex_text(nibbles.list.join(""))
    decoded = pl.when(valid).then(decoded)
    return _decoded(compiler, node, text, decoded, "base32")


# --- integers and floats -------------------------------------------------------------------------


def _exact_length(value: pl.Expr, size: int) -> tuple[pl.Expr, pl.Expr]:
    """(wrong length?, Trino's message) for a decoder that needs exactly ``size`` bytes."""
    length = value.bin.size()
    message = pl.concat_str(
        [pl.lit(f"expected {size}-byte input, but got instead: "), length.cast(pl.String)]
    )
    return length != size, message


def _from_bytes(
    compiler: ExprCompiler, node: exp.Anonymous, size: int, dtype: pl.DataType
) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    value = binary_arg(compiler, arg)
    bad, message = _exact_length(value, size)
    fixed = pl.when(bad.not_()).then(value)
    return guard(compiler, node, fixed.bin.reinterpret(dtype=dtype, endianness="big"), bad, message)


@function("from_big_endian_32", signatures="from_big_endian_32(varbinary) -> integer")
def from_big_endian_32(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _from_bytes(compiler, node, 4, pl.Int32())


@function("from_big_endian_64", signatures="from_big_endian_64(varbinary) -> bigint")
def from_big_endian_64(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _from_bytes(compiler, node, 8, pl.Int64())


@function("from_ieee754_32", signatures="from_ieee754_32(varbinary) -> real")
def from_ieee754_32(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _from_bytes(compiler, node, 4, pl.Float32())


@function("from_ieee754_64", signatures="from_ieee754_64(varbinary) -> double")
def from_ieee754_64(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _from_bytes(compiler, node, 8, pl.Float64())


def _integer_bytes(value: pl.Expr, bits: int) -> pl.Expr:
    signed = pl.Int32 if bits == 32 else pl.Int64
    unsigned = value.cast(signed).reinterpret(signed=False)
    return from_hex_text(hex_digits(unsigned, bits // 4))


@function("to_big_endian_32", signatures="to_big_endian_32(integer) -> varbinary")
def to_big_endian_32(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return _integer_bytes(compiler.expr(arg), 32)


@function("to_big_endian_64", signatures="to_big_endian_64(bigint) -> varbinary")
def to_big_endian_64(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return _integer_bytes(compiler.expr(arg), 64)


def _float_bytes(value: pl.Expr, dtype: pl.DataType, numpy_type: str) -> pl.Expr:
    """IEEE 754 big-endian bytes of a float (numpy reinterprets the batch's buffer)."""

    def encode(batch: pl.Series) -> pl.Series:
        import numpy as np

        arrow = batch.to_arrow()
        floats = arrow.to_numpy(zero_copy_only=False).astype(numpy_type)
        raw = floats.astype(np.dtype(numpy_type).newbyteorder(">")).tobytes()
        width = np.dtype(numpy_type).itemsize
        valid = arrow.is_valid().to_numpy(zero_copy_only=False)
        chunks = [raw[i * width : (i + 1) * width] if valid[i] else None for i in range(len(arrow))]
        return pl.Series(batch.name, chunks, pl.Binary)

    return value.cast(dtype).map_batches(encode, return_dtype=pl.Binary, is_elementwise=True)


@function("to_ieee754_32", signatures="to_ieee754_32(real) -> varbinary")
def to_ieee754_32(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return _float_bytes(compiler.expr(arg), pl.Float32(), "float32")


@function("to_ieee754_64", signatures="to_ieee754_64(double) -> varbinary")
def to_ieee754_64(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return _float_bytes(compiler.expr(arg), pl.Float64(), "float64")


# --- hashes --------------------------------------------------------------------------------------

#: the polars-hash digest (hex text) of a binary column, by hashlib name
_DIGESTS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "md5": lambda v: polars_hash.NonCryptographicHashingNameSpace(v).md5(),
    "sha1": lambda v: polars_hash.NonCryptographicHashingNameSpace(v).sha1(),
    "sha256": lambda v: polars_hash.CryptographicHashingNameSpace(v).sha2_256(),
    "sha512": lambda v: polars_hash.CryptographicHashingNameSpace(v).sha2_512(),
}


@translates(exp.MD5Digest, signatures="md5(varbinary) -> varbinary")
def md5(compiler: ExprCompiler, node: exp.MD5Digest) -> pl.Expr:
    if node.expressions:
        fail(compiler, node, "md5() takes one argument")
    return from_hex_text(_DIGESTS["md5"](binary_arg(compiler, node.this)))


@translates(exp.SHA, signatures="sha1(varbinary) -> varbinary")
def sha1(compiler: ExprCompiler, node: exp.SHA) -> pl.Expr:
    return from_hex_text(_DIGESTS["sha1"](binary_arg(compiler, node.this)))


@translates(
    exp.SHA2Digest,
    signatures=("sha256(varbinary) -> varbinary", "sha512(varbinary) -> varbinary"),
    arguments=lambda node, name: [node.this],
)
def sha2(compiler: ExprCompiler, node: exp.SHA2Digest) -> pl.Expr:
    value = binary_arg(compiler, node.this)
    length = constant(node.args.get("length"))
    return from_hex_text(_DIGESTS["sha512" if length == 512 else "sha256"](value))


@function("xxhash64", signatures="xxhash64(varbinary) -> varbinary")
def xxhash64(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """xxHash64 (seed 0) as 8 big-endian bytes."""
    (arg,) = arity(compiler, node, 1)
    hashed = polars_hash.NonCryptographicHashingNameSpace(binary_arg(compiler, arg)).xxhash64()
    return from_hex_text(hex_digits(hashed, 16))


@function("crc32", signatures="crc32(varbinary) -> bigint")
def crc32(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """CRC-32 (IEEE, as java.util.zip.CRC32) of each value, by zlib over the batch."""
    (arg,) = arity(compiler, node, 1)

    def checksum(batch: pl.Series) -> pl.Series:
        values = [None if v is None else zlib.crc32(v) for v in batch.to_list()]
        return pl.Series(batch.name, values, dtype=pl.Int64)

    return binary_arg(compiler, arg).map_batches(
        checksum, return_dtype=pl.Int64, is_elementwise=True
    )


#: hashlib name and block size in bytes
_HMACS: dict[str, tuple[str, int]] = {
    "hmac_md5": ("md5", 64),
    "hmac_sha1": ("sha1", 64),
    "hmac_sha256": ("sha256", 64),
    "hmac_sha512": ("sha512", 128),
}


def _hmac(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """HMAC(key, message) = H((K ^ opad) || H((K ^ ipad) || message)) with a constant key."""
    name = node.name.lower()
    algorithm, block = _HMACS[name]
    digest = _DIGESTS[algorithm]
    message_node, key_node = arity(compiler, node, 2)
    try:
        key = compiler.literal_value(key_node)
    except SqlError:
        key = None
    if not isinstance(key, bytes):
        fail(compiler, key_node, f"{name}() needs a constant key")
    if len(key) > block:
        key = hashlib.new(algorithm, key).digest()
    key = key.ljust(block, b"\0")
    inner_pad = bytes(b ^ 0x36 for b in key).hex()
    outer_pad = bytes(b ^ 0x5C for b in key).hex()
    message = binary_arg(compiler, message_node)
    inner = digest(from_hex_text(pl.concat_str([pl.lit(inner_pad), message.bin.encode("hex")])))
    outer = digest(from_hex_text(pl.concat_str([pl.lit(outer_pad), inner])))
    return from_hex_text(outer)


for _name in _HMACS:
    function(_name, signatures=f"{_name}(varbinary, varbinary) -> varbinary")(_hmac)
