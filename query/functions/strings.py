"""String functions with Trino's semantics: 1-based positions, negative starts counted from the end,
NULL in gives NULL out, and an empty string (not NULL) when a position falls outside the string."""

from __future__ import annotations

from typing import Literal, cast

import polars as pl
from sqlglot import exp

from loglake.query.functions.common import (
    MAX_BUILT_LENGTH,
    NOT_CONSTANT,
    arity,
    combine,
    constant,
    fail,
    null_if_any_null,
    require_constant,
    string_arg,
    unicode_text,
)
from loglake.query.registry import ExprCompiler, function, translates
from loglake.query.runtime import guard

#: concat and || join strings, or arrays and their elements
CONCAT = (
    "concat(varchar...) -> varchar",
    "concat(varbinary...) -> varbinary",
    "concat(array(E)...) -> array(E)",
    "concat(E, array(E)) -> array(E)",
    "concat(array(E), E) -> array(E)",
)


def _strpos_arguments(node: exp.Expression, name: str) -> list[exp.Expression]:
    """strpos(s, sub[, n]) and position(sub IN s) share one node with the string first."""
    if name == "position":
        return [node.args["substr"], node.this]
    return [a for a in (node.this, node.args.get("substr"), node.args.get("occurrence")) if a]


def _int(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    return compiler.expr(node).cast(pl.Int64)


@translates(exp.Lower, signatures="lower(varchar) -> varchar")
def lower(compiler: ExprCompiler, node: exp.Lower) -> pl.Expr:
    return string_arg(compiler, node.this).str.to_lowercase()


@translates(exp.Upper, signatures="upper(varchar) -> varchar")
def upper(compiler: ExprCompiler, node: exp.Upper) -> pl.Expr:
    return string_arg(compiler, node.this).str.to_uppercase()


def is_binary(compiler: ExprCompiler, value: pl.Expr) -> bool:
    """Whether a string-or-binary argument is VARBINARY (bytes are counted, not characters)."""
    return compiler.dtype(value) == pl.Binary


def _size(s: pl.Expr, binary: bool) -> pl.Expr:
    return (s.bin.size() if binary else s.str.len_chars()).cast(pl.Int64)


@translates(exp.Length, signatures=("length(varchar) -> bigint", "length(varbinary) -> bigint"))
def length(compiler: ExprCompiler, node: exp.Length) -> pl.Expr:
    """length(s): characters of a varchar, bytes of a varbinary."""
    value = string_arg(compiler, node.this)
    return _size(value, is_binary(compiler, value))


def _substr(
    s: pl.Expr, start: pl.Expr, count: pl.Expr | None = None, *, binary: bool = False
) -> pl.Expr:
    size = _size(s, binary)
    offset = pl.when(start > 0).then(start - 1).otherwise(size + start)
    in_range = (start != 0) & (offset >= 0) & (offset < size)
    empty = pl.lit(b"" if binary else "")
    text = s.bin if binary else s.str
    if count is None:
        sliced = text.slice(offset.clip(lower_bound=0))
        return null_if_any_null(pl.when(in_range).then(sliced).otherwise(empty), s, start)
    sliced = text.slice(offset.clip(lower_bound=0), count.clip(lower_bound=0))
    in_range = in_range & (count > 0)
    out = pl.when(in_range).then(sliced).otherwise(empty)
    return null_if_any_null(out, s, start, count)


@translates(
    exp.Substring,
    signatures=(
        "substr(varchar, bigint) -> varchar",
        "substr(varchar, bigint, bigint) -> varchar",
        "substring(varchar, bigint) -> varchar",
        "substring(varchar, bigint, bigint) -> varchar",
        "substr(varbinary, bigint) -> varbinary",
        "substr(varbinary, bigint, bigint) -> varbinary",
    ),
)
def substr(compiler: ExprCompiler, node: exp.Substring) -> pl.Expr:
    """substr(s, start[, length]): start 0 or beyond either end gives ''; length <= 0 gives ''."""
    start, length = constant(node.args["start"]), constant(node.args.get("length"))
    text = string_arg(compiler, node.this)
    binary = is_binary(compiler, text)
    no_length = node.args.get("length") is None
    if type(start) is int and start > 0 and (no_length or (type(length) is int and length >= 0)):
        # a constant start from the left (substr(phone, 1, 2)) is a plain slice: no length
        # of every string to compute, and a slice past the end is already ''
        size = None if no_length else length
        return (text.bin if binary else text.str).slice(start - 1, size)
    nodes = [node.this, node.args["start"]]
    values = [text, _int(compiler, node.args["start"])]
    if node.args.get("length") is not None:
        nodes.append(node.args["length"])
        values.append(_int(compiler, node.args["length"]))

    def build(*args: pl.Expr) -> pl.Expr:
        return _substr(*args, binary=binary)

    return combine(nodes, values, build)


def _concat(values: list[pl.Expr]) -> pl.Expr:
    """String concatenation, or array concatenation when the first argument is an array."""

    def choose(pairs: list[tuple[pl.Expr, pl.DataType]]) -> pl.Expr:
        exprs = [e for e, _ in pairs]
        if any(isinstance(dtype, pl.List) for _, dtype in pairs):
            return null_if_any_null(pl.concat_list(exprs), *exprs)
        if any(dtype == pl.Binary for _, dtype in pairs):
            joined = exprs[0].cast(pl.Binary)
            for e in exprs[1:]:
                joined = joined + e.cast(pl.Binary)
            return joined
        return pl.concat_str([e.cast(pl.String) for e in exprs], ignore_nulls=False)

    return pl.pipe_with_dtype(values, choose)


@translates(exp.Concat, signatures=CONCAT)
def concat(compiler: ExprCompiler, node: exp.Concat) -> pl.Expr:
    """concat(a, b, ...): NULL if any argument is NULL; arrays concatenate as arrays."""
    parts = list(node.expressions)
    if len(parts) < 2:
        fail(compiler, node, "concat() needs at least two arguments")
    return _concat([compiler.expr(p) for p in parts])


@translates(exp.DPipe, signatures=CONCAT)
def dpipe(compiler: ExprCompiler, node: exp.DPipe) -> pl.Expr:
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
def trim(compiler: ExprCompiler, node: exp.Trim) -> pl.Expr:
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
def replace(compiler: ExprCompiler, node: exp.Replace) -> pl.Expr:
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
def split(compiler: ExprCompiler, node: exp.Split) -> pl.Expr:
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
def split_part(compiler: ExprCompiler, node: exp.SplitPart) -> pl.Expr:
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
def strpos(compiler: ExprCompiler, node: exp.StrPosition) -> pl.Expr:
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

    return combine([node.this, sub_node], [s, sub], build)


@translates(exp.StartsWith, signatures="starts_with(varchar, varchar) -> boolean")
def starts_with(compiler: ExprCompiler, node: exp.StartsWith) -> pl.Expr:
    s = string_arg(compiler, node.this)
    prefix = compiler.expr(node.expression)
    return null_if_any_null(s.str.starts_with(prefix), s, prefix)


@translates(exp.EndsWith, signatures="ends_with(varchar, varchar) -> boolean")
def ends_with(compiler: ExprCompiler, node: exp.EndsWith) -> pl.Expr:
    s = string_arg(compiler, node.this)
    suffix = compiler.expr(node.expression)
    return null_if_any_null(s.str.ends_with(suffix), s, suffix)


@translates(
    exp.Pad,
    signatures=(
        "lpad(varchar, bigint, varchar) -> varchar",
        "rpad(varchar, bigint, varchar) -> varchar",
        "lpad(varbinary, bigint, varbinary) -> varbinary",
        "rpad(varbinary, bigint, varbinary) -> varbinary",
    ),
)
def pad(compiler: ExprCompiler, node: exp.Pad) -> pl.Expr:
    """lpad/rpad(s, size, padstring): pads with repeats of padstring, or truncates to size."""
    s = string_arg(compiler, node.this)
    size = _int(compiler, node.expression)
    fill_node = node.args.get("fill_pattern")
    if fill_node is None:
        fail(compiler, node, "lpad()/rpad() take three arguments: string, size, padstring")
    fill = compiler.expr(fill_node)
    left = bool(node.args.get("is_left"))
    bad_size = (size < 0) | (size > MAX_BUILT_LENGTH)
    size = pl.when(bad_size).then(0).otherwise(size)  # a refused row builds nothing
    binary = is_binary(compiler, s)
    if binary:
        # bytes are padded as their hexadecimal text, two digits a byte
        s, fill, size = s.bin.encode("hex"), fill.bin.encode("hex"), size * 2

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
    out = combine(nodes, [s, size, fill], build)
    if binary:
        out = out.str.decode("hex")
    out = guard(compiler, node, out, fill == "", "Padding string must not be empty")
    return guard(
        compiler, node, out, bad_size, f"Target length must be in the range [0..{MAX_BUILT_LENGTH}]"
    )


@translates(
    exp.Reverse,
    signatures=(
        "reverse(varchar) -> varchar",
        "reverse(varbinary) -> varbinary",
        "reverse(array(E)) -> array(E)",
    ),
)
def reverse(compiler: ExprCompiler, node: exp.Reverse) -> pl.Expr:
    def choose(value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        if isinstance(dtype, pl.List):
            return value.list.reverse()
        if dtype == pl.Binary:
            pairs = value.bin.encode("hex").str.extract_all("..")
            return pairs.list.reverse().list.join("").str.decode("hex")
        return value.str.reverse()

    return compiler.expr(node.this).pipe_with_dtype(choose)


@translates(exp.Chr, signatures="chr(bigint) -> varchar")
def chr_(compiler: ExprCompiler, node: exp.Chr) -> pl.Expr:
    """chr(n): the character of code point n (its UTF-8 bytes computed arithmetically)."""
    if len(node.expressions) != 1:
        fail(compiler, node, "chr() takes one argument")
    code = compiler.expr(node.expressions[0]).cast(pl.Int64)
    invalid = (code < 0) | (code > 0x10FFFF) | ((code >= 0xD800) & (code <= 0xDFFF))
    # invalid rows encode a space: their bytes would fail the text cast before the guard speaks
    text = utf8_bytes(pl.when(invalid).then(32).otherwise(code)).cast(pl.String)
    message = pl.concat_str([pl.lit("Not a valid Unicode code point: "), code.cast(pl.String)])
    return guard(compiler, node, pl.when(~invalid).then(text), invalid, message)


def utf8_bytes(code: pl.Expr) -> pl.Expr:
    """The UTF-8 encoding of a code point, as VARBINARY."""
    from loglake.query.functions.binary import from_hex_text, hex_digits

    def byte(value: pl.Expr) -> pl.Expr:
        return hex_digits(value, 2)

    def tail(shift: int) -> pl.Expr:
        return byte(0x80 + (code // 2**shift) % 64)

    one = byte(code)
    two = pl.concat_str([byte(0xC0 + code // 64), tail(0)])
    three = pl.concat_str([byte(0xE0 + code // 4096), tail(6), tail(0)])
    four = pl.concat_str([byte(0xF0 + code // 262144), tail(12), tail(6), tail(0)])
    text = (
        pl.when(code < 0x80)
        .then(one)
        .when(code < 0x800)
        .then(two)
        .when(code < 0x10000)
        .then(three)
        .otherwise(four)
    )
    return from_hex_text(text)


@translates(exp.Translate, signatures="translate(varchar, varchar, varchar) -> varchar")
def translate(compiler: ExprCompiler, node: exp.Translate) -> pl.Expr:
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


@function("codepoint", signatures="codepoint(varchar) -> integer")
def codepoint(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """codepoint(c): the code point of a one-character string, decoded from its UTF-8 bytes."""
    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    value = _code_point(text).cast(pl.Int32)
    single = text.str.len_chars() == 1
    return guard(compiler, node, value, ~single, "Input string must be a single character string")


@translates(
    exp.ConcatWs,
    signatures=(
        "concat_ws(varchar, varchar...) -> varchar",
        "concat_ws(varchar, array(varchar)) -> varchar",
    ),
)
def concat_ws(compiler: ExprCompiler, node: exp.ConcatWs) -> pl.Expr:
    """concat_ws(sep, s1, ...) or concat_ws(sep, array): NULL values are skipped; NULL sep gives
    NULL."""
    separator, *parts = node.expressions
    if not parts:
        fail(compiler, node, "There must be two or more arguments")
    sep = string_arg(compiler, separator)
    values = [compiler.expr(p) for p in parts]
    if len(values) == 1 and isinstance(compiler.dtype(values[0]), pl.List):
        joined = values[0].list.eval(pl.element().drop_nulls()).list.join(sep)
        return null_if_any_null(joined, sep, values[0])
    listed = pl.concat_list([v.cast(pl.String) for v in values]).list.drop_nulls()
    return null_if_any_null(listed.list.join(sep), sep)


@translates(exp.Levenshtein, signatures="levenshtein_distance(varchar, varchar) -> bigint")
def levenshtein_distance(compiler: ExprCompiler, node: exp.Levenshtein) -> pl.Expr:
    """Edit distance in characters (polars-ds native kernel)."""
    import polars_ds as pds

    for extra in ("ins_cost", "del_cost", "sub_cost", "max_dist"):
        if node.args.get(extra) is not None:
            fail(compiler, node, "levenshtein_distance() takes two arguments")
    a, b = string_arg(compiler, node.this), string_arg(compiler, node.expression)
    return pds.str_leven(a, b, return_sim=False).cast(pl.Int64)


@function("hamming_distance", signatures="hamming_distance(varchar, varchar) -> bigint")
def hamming_distance(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """Positions at which two equally long strings differ; unequal lengths are an error."""
    import polars_ds as pds

    a_node, b_node = arity(compiler, node, 2)
    a, b = string_arg(compiler, a_node), string_arg(compiler, b_node)
    distance = pds.str_hamming(a, b).cast(pl.Int64)
    unequal = a.str.len_chars() != b.str.len_chars()
    return guard(
        compiler,
        node,
        distance,
        unequal,
        "The input strings to hamming_distance function must have the same length",
    )


@function("luhn_check", signatures="luhn_check(varchar) -> boolean")
def luhn_check(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """luhn_check(digits): the Luhn (mod 10) checksum holds; false for anything but digits."""
    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    digits = text.str.extract_all(r"\d").list.reverse()
    weighted = digits.list.eval(
        pl.element().cast(pl.Int64) * pl.when(pl.int_range(pl.len()) % 2 == 1).then(2).otherwise(1)
    ).list.eval(pl.when(pl.element() > 9).then(pl.element() - 9).otherwise(pl.element()))
    valid = weighted.list.sum() % 10 == 0
    only_digits = text.str.contains(r"^\d+$")
    return pl.when(text.is_null()).then(None).otherwise(only_digits & valid)


@translates(
    exp.Normalize,
    signatures=("normalize(varchar) -> varchar", "normalize(varchar, varchar) -> varchar"),
    arguments=lambda node, name: [
        a for a in (node.this, node.args.get("form")) if isinstance(a, exp.Expression)
    ],
)
def normalize(compiler: ExprCompiler, node: exp.Normalize) -> pl.Expr:
    """normalize(s[, NFC|NFD|NFKC|NFKD]): Unicode normalization (NFC by default)."""
    form_node = node.args.get("form")
    if not isinstance(form_node, exp.Expression):
        form_node = None
    form = "NFC" if form_node is None else (form_node.name or str(constant(form_node)))
    form = form.upper()
    if form not in ("NFC", "NFD", "NFKC", "NFKD"):
        fail(
            compiler, form_node or node, "Normalization form must be one of [NFD, NFC, NFKD, NFKC]"
        )
    # the check above leaves one of the four forms, which mypy cannot follow from a str
    chosen = cast(Literal["NFC", "NFD", "NFKC", "NFKD"], form)
    return string_arg(compiler, node.this).str.normalize(chosen)


_SOUNDEX_CODES = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
    **dict.fromkeys("AEIOUY", "0"),
    **dict.fromkeys("HW", ""),
}


@translates(exp.Soundex, signatures="soundex(varchar) -> varchar")
def soundex(compiler: ExprCompiler, node: exp.Soundex) -> pl.Expr:
    """American Soundex: the first letter and three digits; H and W do not separate equal
    codes, vowels do. Text without letters gives ''."""
    text = string_arg(compiler, node.this)
    letters = text.str.to_uppercase().str.replace_all("[^A-Z]", "")
    coded = letters.str.replace_many(list(_SOUNDEX_CODES), list(_SOUNDEX_CODES.values()))
    for digit in "123456":
        coded = coded.str.replace_all(f"{digit}+", digit)
    first = letters.str.slice(0, 1)
    first_code = letters.str.slice(0, 1).str.replace_many(
        list(_SOUNDEX_CODES), list(_SOUNDEX_CODES.values())
    )
    # the first letter's own code (and the run it starts) is replaced by the letter itself
    rest = (
        pl.when((first_code != "") & coded.str.starts_with(first_code))
        .then(coded.str.slice(1))
        .otherwise(coded)
    )
    digits = rest.str.replace_all("0", "")
    out = pl.concat_str([first, digits, pl.lit("000")]).str.slice(0, 4)
    return pl.when(letters == "").then(pl.lit("")).otherwise(out)


@function("title_case", signatures="title_case(varchar) -> varchar")
def title_case(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """title_case(s): upper-case the first letter of each word (words split at characters that
    are not letters or digits) and lower-case the rest."""
    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    pieces = text.str.extract_all(r"[\p{L}\p{N}]+|[^\p{L}\p{N}]+")
    cased = pieces.list.eval(
        pl.concat_str(
            [
                pl.element().str.slice(0, 1).str.to_uppercase(),
                pl.element().str.slice(1).str.to_lowercase(),
            ]
        )
    )
    return pl.when(text.is_null()).then(None).otherwise(cased.list.join(""))


@function(
    "word_stem",
    signatures=("word_stem(varchar) -> varchar", "word_stem(varchar, varchar) -> varchar"),
)
def word_stem(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """word_stem(word[, lang]): the Snowball stem (English by default), stemmed per batch by
    the native Snowball library, each distinct word once."""
    args = arity(compiler, node, 1, 2)
    language = "en" if len(args) == 1 else constant(args[1])
    stemmer_name = _SNOWBALL.get(language) if isinstance(language, str) else None
    if stemmer_name is None:
        fail(compiler, args[-1], f"Unknown stemmer language: {language}")

    def stem(batch: pl.Series) -> pl.Series:
        import Stemmer

        stemmer = Stemmer.Stemmer(stemmer_name)
        words = batch.to_list()
        distinct = sorted({w for w in words if w is not None})
        stems = dict(zip(distinct, stemmer.stemWords(distinct), strict=True))
        return pl.Series(batch.name, [None if w is None else stems[w] for w in words], pl.String)

    return string_arg(compiler, args[0]).map_batches(
        stem, return_dtype=pl.String, is_elementwise=True
    )


#: Trino's word_stem languages and the Snowball stemmers they use
_SNOWBALL = {
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "hy": "armenian",
    "ir": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}


@function("char2hexint", signatures="char2hexint(varchar) -> varchar")
def char2hexint(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """char2hexint(s): the UTF-16BE bytes of s in upper-case hexadecimal (Teradata)."""
    from loglake.query.functions.binary import hex_digits

    (arg,) = arity(compiler, node, 1)
    text = string_arg(compiler, arg)
    chars = text.str.extract_all("(?s).")

    codes = chars.list.eval(_code_point(pl.element()))
    # one UTF-16 code unit below U+10000, a surrogate pair above it
    hexed = codes.list.eval(
        pl.when(pl.element() < 0x10000)
        .then(hex_digits(pl.element(), 4))
        .otherwise(
            pl.concat_str(
                [
                    hex_digits(0xD800 + (pl.element() - 0x10000) // 1024, 4),
                    hex_digits(0xDC00 + (pl.element() - 0x10000) % 1024, 4),
                ]
            )
        )
    )
    return pl.when(text.is_null()).then(None).otherwise(hexed.list.join("").str.to_uppercase())


def _code_point(char: pl.Expr) -> pl.Expr:
    """The code point of a one-character string, decoded from its UTF-8 bytes."""
    raw = char.cast(pl.Binary)
    b = [raw.bin.get(i, null_on_oob=True).cast(pl.Int64) for i in range(4)]
    size = raw.bin.size()
    return (
        pl.when(size == 1)
        .then(b[0])
        .when(size == 2)
        .then((b[0] % 32) * 64 + b[1] % 64)
        .when(size == 3)
        .then((b[0] % 16) * 4096 + (b[1] % 64) * 64 + b[2] % 64)
        .otherwise((b[0] % 8) * 262144 + (b[1] % 64) * 4096 + (b[2] % 64) * 64 + b[3] % 64)
    )


@translates(exp.UnicodeString)
def unicode_string(compiler: ExprCompiler, node: exp.UnicodeString) -> pl.Expr:
    """U&'caf\\00E9' and U&'\\+01F600': a string literal with Unicode escapes."""
    return pl.lit(unicode_text(node))
