"""Mathematical functions with Trino's result types and rounding.

Integers stay integers, ``real`` stays ``real`` and decimals keep their scale where Trino keeps it
(``round(decimal(p, s), d)`` is ``decimal(p + 1, s)``, ``floor`` and ``ceil`` drop the fraction
into ``decimal(p - s + 1, 0)``); everything else is computed in ``double``. Rounding is half away
from zero, as Trino's is (``round(2.5) = 3``, ``round(-2.5) = -3``), not Polars' default.
Arguments Trino rejects (a radix outside 2..36, a negative standard deviation) fail the query
through :func:`loglake.query.runtime.guard`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.functions import special as _special
from loglake.query.functions.common import NOT_CONSTANT, arity, constant, fail
from loglake.query.registry import ExprCompiler, Translator, function, translates
from loglake.query.runtime import guard

NUMBER_TYPES = ("tinyint", "smallint", "integer", "bigint", "real", "double", "decimal")


def same_type(name: str, *extra: str) -> tuple[str, ...]:
    """``name(t, extra...) -> t`` for every numeric type (abs, sign, round, mod...)."""
    params = "".join(f", {e}" for e in extra)
    return tuple(f"{name}({t}{params}) -> {t}" for t in NUMBER_TYPES)


def double_args(name: str, count: int) -> str:
    return f"{name}({', '.join(['double'] * count)}) -> double"


def number(compiler: ExprCompiler, node: exp.Expression) -> tuple[pl.Expr, pl.DataType]:
    value = compiler.expr(node)
    return value, compiler.dtype(value)


def as_double(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
    return compiler.expr(node).cast(pl.Float64)


# --- rounding ------------------------------------------------------------------------------------


def _integral_decimal(dtype: pl.Decimal) -> pl.Decimal:
    """decimal(p - s + min(s, 1), 0): the type of floor, ceil and round of a decimal."""
    precision, scale = dtype.precision or 38, dtype.scale or 0
    return pl.Decimal(min(38, max(1, precision - scale + min(scale, 1))), 0)


def divided(numerator: pl.Expr, like: pl.Expr, factor: pl.Expr) -> pl.Expr:
    """numerator / factor, exactly: a divisor as long as the column, because Polars divides by
    a scalar through its reciprocal, which turns 23 / 10 into 2.3000000000000003."""
    return numerator / (like.abs() * 0.0 + factor)


def round_double(value: pl.Expr, digits: pl.Expr | int) -> pl.Expr:
    """Trino's double rounding: floor(|x| * 10^d + 0.5) / 10^d with the sign put back."""
    factor = pl.lit(10.0) ** digits if isinstance(digits, pl.Expr) else pl.lit(10.0**digits)
    magnitude = divided((value.abs() * factor + 0.5).floor(), value, factor)
    rounded = pl.when(value < 0).then(-magnitude).otherwise(magnitude)
    return pl.when(value.is_nan() | value.is_infinite()).then(value).otherwise(rounded)


def _round_integer(value: pl.Expr, dtype: pl.DataType, digits: int) -> pl.Expr:
    """round(integer, d): unchanged for d >= 0; to tens, hundreds... (half up) for d < 0."""
    if digits >= 0:
        return value
    factor = 10 ** min(-digits, 18)
    wide = value.cast(pl.Int64)
    half = factor // 2
    magnitude = (wide.abs() + half) // factor * factor
    return pl.when(wide < 0).then(-magnitude).otherwise(magnitude).cast(dtype)


@translates(
    exp.Round,
    signatures=(*same_type("round"), *same_type("round", "integer")),
)
def round_(compiler: ExprCompiler, node: exp.Round) -> pl.Expr:
    """round(x[, d]): half away from zero; a decimal keeps its scale (or drops it without d)."""
    value, dtype = number(compiler, node.this)
    digits_node = node.args.get("decimals")
    digits: Any = 0 if digits_node is None else constant(digits_node)
    if digits is None:
        return pl.lit(None, dtype)
    if T.is_decimal(dtype):
        assert isinstance(dtype, pl.Decimal)
        if digits_node is None:
            return value.round(0, mode="half_away_from_zero").cast(_integral_decimal(dtype))
        if not isinstance(digits, int):
            fail(compiler, digits_node, "round() of a decimal needs a constant number of digits")
        precision, scale = dtype.precision or 38, dtype.scale or 0
        target = pl.Decimal(min(38, precision + 1), scale)
        if digits >= scale:
            return value.cast(target)
        if digits < 0:
            shift = pl.lit(10**-digits, pl.Decimal(38, 0))
            shrunk = (value.cast(pl.Decimal(38, scale)) / shift).round(
                0, mode="half_away_from_zero"
            )
            return (shrunk * shift).cast(target)
        return value.round(digits, mode="half_away_from_zero").cast(target)
    if T.is_integer(dtype):
        if not isinstance(digits, int):
            fail(compiler, digits_node, "round() of an integer needs a constant number of digits")
        return _round_integer(value, dtype, digits)
    if dtype == pl.Null:
        return pl.lit(None, pl.Float64)
    double = pl.Float32 if dtype == pl.Float32 else pl.Float64
    places: pl.Expr | int = (
        digits
        if isinstance(digits, int) or digits_node is None
        else compiler.expr(digits_node).cast(pl.Float64)
    )
    return round_double(value.cast(pl.Float64), places).cast(double)


@translates(
    exp.Trunc,
    signatures=(
        "truncate(double) -> double",
        "truncate(real) -> real",
        "truncate(decimal) -> decimal",
        "truncate(double, integer) -> double",
        "truncate(real, integer) -> real",
        "truncate(decimal, integer) -> decimal",
    ),
)
def truncate(compiler: ExprCompiler, node: exp.Trunc) -> pl.Expr:
    """truncate(x[, d]): drops digits toward zero; decimals keep their type with d."""
    value, dtype = number(compiler, node.this)
    digits_node = node.args.get("decimals")
    digits: Any = 0 if digits_node is None else constant(digits_node)
    if digits is NOT_CONSTANT or not isinstance(digits, int | type(None)):
        fail(compiler, digits_node or node, "truncate() needs a constant number of digits")
    if digits is None:
        return pl.lit(None, dtype)
    if T.is_decimal(dtype):
        assert isinstance(dtype, pl.Decimal)
        precision, scale = dtype.precision or 38, dtype.scale or 0
        if digits_node is None:
            return value.truncate(0).cast(pl.Decimal(max(1, precision - scale), 0))
        if digits >= scale:
            return value
        if digits < 0:
            shift = pl.lit(10**-digits, pl.Decimal(38, 0))
            shrunk = (value.cast(pl.Decimal(38, scale)) / shift).truncate(0)
            return (shrunk * shift).cast(dtype)
        return value.truncate(digits).cast(dtype)
    target = pl.Float32 if dtype == pl.Float32 else pl.Float64
    wide = value.cast(pl.Float64)
    factor = pl.lit(10.0**digits)
    dropped = divided((wide.abs() * factor).floor(), wide, factor)
    out = pl.when(wide < 0).then(-dropped).otherwise(dropped)
    return pl.when(wide.is_nan() | wide.is_infinite()).then(wide).otherwise(out).cast(target)


def _whole(compiler: ExprCompiler, node: exp.Expression, up: bool) -> pl.Expr:
    value, dtype = number(compiler, node.this)
    if node.args.get("decimals") is not None or node.args.get("to") is not None:
        name = "ceiling" if up else "floor"
        fail(compiler, node, f"{name}() takes one argument")
    if T.is_integer(dtype):
        return value
    if T.is_decimal(dtype):
        assert isinstance(dtype, pl.Decimal)
        rounded = value.ceil() if up else value.floor()
        return rounded.cast(_integral_decimal(dtype))
    if dtype == pl.Null:
        return pl.lit(None, pl.Float64)
    return value.ceil() if up else value.floor()


@translates(
    exp.Ceil,
    signatures=(*same_type("ceil"), *same_type("ceiling")),
)
def ceiling(compiler: ExprCompiler, node: exp.Ceil) -> pl.Expr:
    return _whole(compiler, node, up=True)


@translates(exp.Floor, signatures=same_type("floor"))
def floor(compiler: ExprCompiler, node: exp.Floor) -> pl.Expr:
    return _whole(compiler, node, up=False)


# --- sign, abs, mod ------------------------------------------------------------------------------


@translates(exp.Abs, signatures=same_type("abs"))
def abs_(compiler: ExprCompiler, node: exp.Abs) -> pl.Expr:
    value, dtype = number(compiler, node.this)
    if T.is_integer(dtype):
        minimum = -(2 ** (T.signed_bits(dtype) - 1))
        message = f"Value {minimum} is out of range for abs()"
        return guard(compiler, node, value.abs(), value == minimum, message)
    return value.abs()


@translates(exp.Sign, signatures=same_type("sign"))
def sign(compiler: ExprCompiler, node: exp.Sign) -> pl.Expr:
    """sign(x): -1, 0 or 1 in x's type (decimal(1,0) for decimals); NaN and -0.0 pass through."""
    value, dtype = number(compiler, node.this)
    if T.is_decimal(dtype):
        return value.sign().cast(pl.Decimal(1, 0))
    if T.is_float(dtype):
        return pl.when(value.is_nan() | (value == 0)).then(value).otherwise(value.sign())
    return value.sign().cast(dtype)


# --- powers, logarithms, trigonometry ------------------------------------------------------------


def _unary(name: str, make: Callable[[pl.Expr], pl.Expr]) -> Translator:
    def translate(compiler: ExprCompiler, node: exp.Expression) -> pl.Expr:
        return make(as_double(compiler, node.this))

    translate.__doc__ = f"{name}(x) -> double"
    return translate


_UNARY = {
    exp.Sqrt: ("sqrt", lambda v: v.sqrt()),
    exp.Cbrt: ("cbrt", lambda v: v.cbrt()),
    exp.Exp: ("exp", lambda v: v.exp()),
    exp.Ln: ("ln", lambda v: v.log()),
    exp.Sin: ("sin", lambda v: v.sin()),
    exp.Cos: ("cos", lambda v: v.cos()),
    exp.Tan: ("tan", lambda v: v.tan()),
    exp.Asin: ("asin", lambda v: v.arcsin()),
    exp.Acos: ("acos", lambda v: v.arccos()),
    exp.Sinh: ("sinh", lambda v: v.sinh()),
    exp.Cosh: ("cosh", lambda v: v.cosh()),
    exp.Tanh: ("tanh", lambda v: v.tanh()),
    exp.Degrees: ("degrees", lambda v: v.degrees()),
    exp.Radians: ("radians", lambda v: v.radians()),
}
for _cls, (_name, _make) in _UNARY.items():
    translates(_cls, signatures=double_args(_name, 1))(_unary(_name, _make))


@translates(
    exp.Atan,
    signatures=(double_args("atan", 1),),
)
def atan(compiler: ExprCompiler, node: exp.Atan) -> pl.Expr:
    if node.args.get("expression") is not None:
        fail(compiler, node, "atan() takes one argument; use atan2(y, x)")
    return as_double(compiler, node.this).arctan()


@translates(exp.Atan2, signatures=double_args("atan2", 2))
def atan2(compiler: ExprCompiler, node: exp.Atan2) -> pl.Expr:
    y, x = as_double(compiler, node.this), as_double(compiler, node.expression)
    return pl.arctan2(y, x)


def _log_arguments(node: exp.Expression, name: str) -> list[exp.Expression]:
    """log10(x) and log2(x) arrive as log(10, x) and log(2, x)."""
    if name in ("log10", "log2"):
        return [node.expression]
    return [node.this, node.expression]


@translates(
    exp.Log,
    signatures=(double_args("log", 2), double_args("log10", 1), double_args("log2", 1)),
    arguments=_log_arguments,
)
def log(compiler: ExprCompiler, node: exp.Log) -> pl.Expr:
    """log(b, x): base-b logarithm; log10 and log2 reach here with a constant base."""
    base_node, value_node = node.this, node.expression
    if value_node is None:
        fail(compiler, node, "log() takes a base and a value: log(b, x)")
    value = as_double(compiler, value_node)
    base = constant(base_node)
    if base == 10:
        # Polars' log10 is ln(x) / ln(10): put exact powers of ten back on their integer
        approximate = value.log10()
        nearest = approximate.round(0)
        return pl.when(pl.lit(10.0).pow(nearest) == value).then(nearest).otherwise(approximate)
    if base == 2:
        return value.log(2)
    return value.log() / as_double(compiler, base_node).log()


@translates(exp.Pow, signatures=(double_args("pow", 2), double_args("power", 2)))
def power(compiler: ExprCompiler, node: exp.Pow) -> pl.Expr:
    return as_double(compiler, node.this).pow(as_double(compiler, node.expression))


@translates(exp.Pi, signatures="pi() -> double")
def pi(compiler: ExprCompiler, node: exp.Pi) -> pl.Expr:
    return pl.lit(math.pi)


@function("e", signatures="e() -> double")
def e(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    arity(compiler, node, 0)
    return pl.lit(math.e)


@function("infinity", signatures="infinity() -> double")
def infinity(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    arity(compiler, node, 0)
    return pl.lit(math.inf)


@function("nan", signatures="nan() -> double")
def nan(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    arity(compiler, node, 0)
    return pl.lit(math.nan)


@translates(exp.IsNan, signatures=("is_nan(double) -> boolean", "is_nan(real) -> boolean"))
def is_nan(compiler: ExprCompiler, node: exp.IsNan) -> pl.Expr:
    return as_double(compiler, node.this).is_nan()


@function("is_finite", signatures=("is_finite(double) -> boolean", "is_finite(real) -> boolean"))
def is_finite(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return as_double(compiler, arg).is_finite()


@function(
    "is_infinite", signatures=("is_infinite(double) -> boolean", "is_infinite(real) -> boolean")
)
def is_infinite(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    (arg,) = arity(compiler, node, 1)
    return as_double(compiler, arg).is_infinite()


# --- random --------------------------------------------------------------------------------------


@translates(
    exp.Rand,
    signatures=(
        "random() -> double",
        "rand() -> double",
        *(f"random({t}) -> {t}" for t in ("tinyint", "smallint", "integer", "bigint")),
        *(f"rand({t}) -> {t}" for t in ("tinyint", "smallint", "integer", "bigint")),
        *(f"random({t}, {t}) -> {t}" for t in ("tinyint", "smallint", "integer", "bigint")),
        *(f"rand({t}, {t}) -> {t}" for t in ("tinyint", "smallint", "integer", "bigint")),
    ),
    arguments=lambda node, name: [a for a in (node.this, node.args.get("lower")) if a],
)
def random(compiler: ExprCompiler, node: exp.Rand) -> pl.Expr:
    """random() in [0, 1); random(n) in [0, n); random(m, n) in [m, n): one draw per row."""
    fraction = _uniform()
    low_node: exp.Expression | None = node.this
    high_node: exp.Expression | None = node.args.get("lower")
    if low_node is None:
        return fraction
    if high_node is None:
        high_node = low_node
        low_node = None
    high, dtype = number(compiler, high_node)
    low = pl.lit(0, pl.Int64) if low_node is None else compiler.expr(low_node).cast(pl.Int64)
    span = high.cast(pl.Int64) - low
    drawn = low + (fraction * span.cast(pl.Float64)).floor().cast(pl.Int64)
    return guard(compiler, node, drawn.cast(dtype), span <= 0, "bound must be positive")


def _uniform() -> pl.Expr:
    """Uniform draws in [0, 1), one per row: row numbers hashed with a seed drawn per call."""
    import secrets

    hashed = pl.int_range(pl.len(), dtype=pl.Int64).hash(seed=secrets.randbits(63))
    return (hashed // 2048).cast(pl.Float64) / float(2**53)


# --- bases ---------------------------------------------------------------------------------------

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _radix(compiler: ExprCompiler, node: exp.Expression) -> int:
    radix = constant(node)
    if not isinstance(radix, int) or isinstance(radix, bool):
        fail(compiler, node, "radix must be a constant integer")
    if not 2 <= radix <= 36:
        fail(compiler, node, "Radix must be between 2 and 36")
    return radix


@function("to_base", signatures="to_base(bigint, bigint) -> varchar")
def to_base(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """to_base(x, radix): digits of |x| in base radix, a minus sign for negative x."""
    value_node, radix_node = arity(compiler, node, 2)
    radix = _radix(compiler, radix_node)
    value = compiler.expr(value_node).cast(pl.Int64)
    # |x| as unsigned so that -2^63 has a magnitude too; 64 binary digits is the longest form
    negative = value < 0
    # -(x + 1) cannot overflow, so even -2^63 has a magnitude once 1 is added back unsigned
    magnitude = pl.when(negative).then(-(value + 1)).otherwise(value).cast(pl.UInt64) + (
        negative.cast(pl.UInt64)
    )
    digits = []
    rest = magnitude
    for _ in range(64 if radix == 2 else math.ceil(64 / math.log2(radix)) + 1):
        digits.append(rest % radix)
        rest = rest // radix
    lookup = pl.Series(list(_DIGITS[:radix]))
    text = pl.concat_str(
        [d.cast(pl.Int64).replace_strict(range(radix), lookup) for d in reversed(digits)]
    ).str.strip_chars_start("0")
    text = pl.when(text == "").then(pl.lit("0")).otherwise(text)
    return pl.when(value < 0).then(pl.concat_str([pl.lit("-"), text])).otherwise(text)


@translates(exp.FromBase, signatures="from_base(varchar, bigint) -> bigint")
def from_base(compiler: ExprCompiler, node: exp.FromBase) -> pl.Expr:
    """from_base(s, radix): the integer spelt by s; text that is not such a number fails."""
    radix = _radix(compiler, node.expression)
    text = compiler.expr(node.this)
    value = text.str.to_integer(base=radix, strict=False)
    return guard(
        compiler,
        node,
        value,
        text.is_not_null() & value.is_null(),
        pl.concat_str([pl.lit(f"Not a valid base-{radix} number: "), text]),
    )


# --- buckets and vectors -------------------------------------------------------------------------


@translates(
    exp.WidthBucket,
    signatures=(
        "width_bucket(double, double, double, bigint) -> bigint",
        "width_bucket(double, array(double)) -> bigint",
    ),
    arguments=lambda node, name: [
        a
        for a in (
            node.this,
            node.args.get("min_value"),
            node.args.get("max_value"),
            node.args.get("num_buckets"),
        )
        if a is not None
    ],
)
def width_bucket(compiler: ExprCompiler, node: exp.WidthBucket) -> pl.Expr:
    """width_bucket(x, bound1, bound2, n) or width_bucket(x, bins): 0 below the range, n + 1
    above it; bounds may run downwards."""
    x = as_double(compiler, node.this)
    if node.args.get("max_value") is None:
        from loglake.query.functions.lambdas import each_element

        bins = compiler.expr(node.args["min_value"])
        below = each_element(compiler, bins, lambda b, v: (b <= v).cast(pl.Int64), [x])
        return below.list.sum().cast(pl.Int64)
    low = as_double(compiler, node.args["min_value"])
    high = as_double(compiler, node.args["max_value"])
    count = compiler.expr(node.args["num_buckets"]).cast(pl.Int64)
    rising = low < high
    share = pl.when(rising).then((x - low) / (high - low)).otherwise((low - x) / (low - high))
    inside = (share * count.cast(pl.Float64)).floor().cast(pl.Int64) + 1
    before = pl.when(rising).then(x < low).otherwise(x > low)
    after = pl.when(rising).then(x >= high).otherwise(x <= high)
    bucket = pl.when(before).then(pl.lit(0, pl.Int64)).when(after).then(count + 1).otherwise(inside)
    bucket = guard(compiler, node, bucket, count <= 0, "bucketCount must be greater than 0")
    bucket = guard(compiler, node, bucket, low == high, "bounds cannot equal each other")
    return guard(compiler, node, bucket, x.is_nan(), "operand must not be NaN")


def _cosine(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """Cosine similarity of two dense (array) or sparse (map) vectors."""
    from loglake.query.functions.common import as_map
    from loglake.query.functions.lambdas import each_element

    left_node, right_node = arity(compiler, node, 2)
    left, right = compiler.expr(left_node), compiler.expr(right_node)
    if T.is_map(compiler.dtype(left)):
        lm, rm = as_map(left), as_map(right)
        lv = lm.map.values().cast(pl.List(pl.Float64))
        rv = rm.map.values().cast(pl.List(pl.Float64))
        matched = each_element(compiler, lm.map.keys(), lambda k, m: m.map.get(k), [rm])
        dot = (lv * matched.cast(pl.List(pl.Float64))).list.sum()
        return dot / ((lv * lv).list.sum().sqrt() * (rv * rv).list.sum().sqrt())
    a, b = left.cast(pl.List(pl.Float64)), right.cast(pl.List(pl.Float64))
    similarity = (a * b).list.sum() / ((a * a).list.sum().sqrt() * (b * b).list.sum().sqrt())
    unequal = a.list.len() != b.list.len()
    return guard(compiler, node, similarity, unequal, "The arguments must have the same length")


_VECTORS = (
    "{name}(array(double), array(double)) -> double",
    "{name}(map(varchar, double), map(varchar, double)) -> double",
)


@function("cosine_similarity", signatures=[s.format(name="cosine_similarity") for s in _VECTORS])
def cosine_similarity(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _cosine(compiler, node)


@translates(
    exp.CosineDistance,
    signatures=[s.format(name="cosine_distance") for s in _VECTORS],
)
def cosine_distance(compiler: ExprCompiler, node: exp.CosineDistance) -> pl.Expr:
    call = exp.Anonymous(this="cosine_similarity", expressions=[node.this, node.expression])
    call.meta.update(node.meta)
    return 1.0 - _cosine(compiler, call)


# --- statistics ----------------------------------------------------------------------------------

_SQRT2 = math.sqrt(2.0)


@function("normal_cdf", signatures=double_args("normal_cdf", 3))
def normal_cdf(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """normal_cdf(mean, sd, v): P(N < v) for N ~ Normal(mean, sd)."""
    mean, sd, v = (as_double(compiler, a) for a in arity(compiler, node, 3))
    cdf = 0.5 * (-(v - mean) / (sd * _SQRT2)).erfc()
    return guard(compiler, node, cdf, sd <= 0, "standardDeviation must be > 0")


def _inverse_standard_normal(p: pl.Expr) -> pl.Expr:
    """Quantile of the standard normal: Acklam's rational approximation, then one Halley step
    on erfc, which brings it to full double precision."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip

    def poly(coefficients: tuple[float, ...], x: pl.Expr) -> pl.Expr:
        out: pl.Expr = pl.lit(coefficients[0])
        for k in coefficients[1:]:
            out = out * x + k
        return out

    low = 0.02425
    q = (-2 * p.log()).sqrt()
    tail_low = poly(c, q) / (poly(d, q) * q + 1)
    r_mid = (p - 0.5) * (p - 0.5)
    middle = (p - 0.5) * poly(a, r_mid) / (poly(b, r_mid) * r_mid + 1)
    q_high = (-2 * (1 - p).log()).sqrt()
    tail_high = -poly(c, q_high) / (poly(d, q_high) * q_high + 1)
    x = pl.when(p < low).then(tail_low).when(p > 1 - low).then(tail_high).otherwise(middle)
    error = 0.5 * (-x / _SQRT2).erfc() - p
    u = error * math.sqrt(2 * math.pi) * (x * x / 2).exp()
    return x - u / (1 + x * u / 2)


@function("inverse_normal_cdf", signatures=double_args("inverse_normal_cdf", 3))
def inverse_normal_cdf(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """inverse_normal_cdf(mean, sd, p): the v with normal_cdf(mean, sd, v) = p."""
    mean, sd, p = (as_double(compiler, a) for a in arity(compiler, node, 3))
    value = mean + sd * _inverse_standard_normal(p)
    value = guard(compiler, node, value, (p <= 0) | (p >= 1), "p must be 0 > p > 1")
    return guard(compiler, node, value, sd <= 0, "sd must be > 0")


def _wilson(compiler: ExprCompiler, node: exp.Anonymous, upper: bool) -> pl.Expr:
    """Wilson score interval bound for successes out of trials at z standard deviations."""
    successes_node, trials_node, z_node = arity(compiler, node, 3)
    successes = compiler.expr(successes_node).cast(pl.Float64)
    trials = compiler.expr(trials_node).cast(pl.Float64)
    z = as_double(compiler, z_node)
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    spread = z * (p * (1 - p) / trials + z2 / (4 * trials * trials)).sqrt()
    bound = ((centre + spread) if upper else (centre - spread)) / (1 + z2 / trials)
    bound = guard(compiler, node, bound, successes < 0, "number of successes must not be negative")
    bound = guard(compiler, node, bound, trials <= 0, "number of trials must be positive")
    bound = guard(
        compiler,
        node,
        bound,
        successes > trials,
        "number of successes must not be larger than number of trials",
    )
    return guard(compiler, node, bound, z < 0, "z-score must not be negative")


_WILSON = "{name}(bigint, bigint, double) -> double"


@function("wilson_interval_lower", signatures=_WILSON.format(name="wilson_interval_lower"))
def wilson_interval_lower(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _wilson(compiler, node, upper=False)


@function("wilson_interval_upper", signatures=_WILSON.format(name="wilson_interval_upper"))
def wilson_interval_upper(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    return _wilson(compiler, node, upper=True)


def _beta_arguments(compiler: ExprCompiler, node: exp.Anonymous) -> list[pl.Expr]:
    return [as_double(compiler, a) for a in arity(compiler, node, 3)]


@function("beta_cdf", signatures=double_args("beta_cdf", 3))
def beta_cdf(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """beta_cdf(a, b, v): the regularized incomplete beta function I_v(a, b)."""
    a, b, v = _beta_arguments(compiler, node)
    value = _numeric_batch([a, b, v], _special.beta_cdf)
    value = guard(compiler, node, value, (a <= 0) | (b <= 0), "a, b must be > 0")
    return guard(compiler, node, value, (v < 0) | (v > 1), "value must be in the interval [0, 1]")


@function("inverse_beta_cdf", signatures=double_args("inverse_beta_cdf", 3))
def inverse_beta_cdf(compiler: ExprCompiler, node: exp.Anonymous) -> pl.Expr:
    """inverse_beta_cdf(a, b, p): the v with beta_cdf(a, b, v) = p."""
    a, b, p = _beta_arguments(compiler, node)
    value = _numeric_batch([a, b, p], _special.inverse_beta_cdf)
    value = guard(compiler, node, value, (a <= 0) | (b <= 0), "a, b must be > 0")
    return guard(compiler, node, value, (p < 0) | (p > 1), "p must be in the interval [0, 1]")


def _numeric_batch(values: list[pl.Expr], fn: Callable[..., Any]) -> pl.Expr:
    """``fn`` over numpy arrays of each batch's arguments (vectorised numpy, no Polars calls)."""
    names = [f"a{i}" for i in range(len(values))]

    def run(batch: pl.Series) -> pl.Series:
        # the batch's own buffers through Arrow: no Polars call inside the callback
        struct = batch.to_arrow()
        arrays = [
            struct.field(i).to_numpy(zero_copy_only=False).astype(float) for i in range(len(names))
        ]
        return pl.Series(batch.name, fn(*arrays), dtype=pl.Float64)

    packed = pl.struct([v.alias(n) for v, n in zip(values, names, strict=True)])
    return packed.map_batches(run, return_dtype=pl.Float64, is_elementwise=True)
