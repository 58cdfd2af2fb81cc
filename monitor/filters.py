"""Metric filters: PutMetricFilter definitions, their validation, and TestMetricFilter."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from loglake.errors import UserError
from loglake.monitor.compile import (
    LAST_FIELD_TAKES_REST,
    MessageSource,
    Source,
    compile_pattern,
    reference_expr,
    space_layout,
    space_tokens,
)
from loglake.monitor.pattern import (
    FilterPatternError,
    Pattern,
    SpacePattern,
    TermPattern,
    parse_pattern,
)

UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]
MAX_FILTER_DIMENSIONS = 3
MAX_TEST_MESSAGES = 50


def _number(value: str) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def validate_transformation(t: Mapping[str, Any], pattern: Pattern) -> dict[str, Any]:
    """Check one `metricTransformations` item; returns it with defaults filled in."""
    if not isinstance(t, Mapping):
        raise UserError("metricTransformations items must be objects")
    for key in ("metricName", "metricNamespace", "metricValue"):
        if not isinstance(t.get(key), str) or not t.get(key):
            raise UserError(f"metricTransformations: {key} is required")
    if t["metricNamespace"].startswith(":") or len(t["metricNamespace"]) > 255:
        raise UserError(f"Invalid metricNamespace {t['metricNamespace']!r}")
    value = t["metricValue"].strip()
    if not value.startswith("$") and _number(value) is None:
        raise UserError(f"metricValue must be a number or a $reference, got {t['metricValue']!r}")
    dims = t.get("dimensions") or {}
    if not isinstance(dims, Mapping):
        raise UserError("metricTransformations: dimensions must be an object")
    if len(dims) > MAX_FILTER_DIMENSIONS:
        raise UserError(f"A metric filter may have at most {MAX_FILTER_DIMENSIONS} dimensions")
    if dims and isinstance(pattern, TermPattern):
        raise UserError("The specified filter pattern does not support dimensions")
    if dims and t.get("defaultValue") is not None:
        raise UserError("A metric filter with dimensions cannot have a defaultValue")
    for name, ref in dims.items():
        if not isinstance(ref, str) or not ref.startswith("$"):
            raise UserError(f"Dimension {name!r} must refer to a field ($.path or $name)")
    if value.startswith("$") and isinstance(pattern, TermPattern):
        raise UserError("A term pattern can only publish a constant metricValue")
    unit = t.get("unit")
    if unit is not None and unit not in UNITS:
        raise UserError(f"Unknown unit {unit!r}")
    default = t.get("defaultValue")
    if default is not None and (isinstance(default, bool) or _number(default) is None):
        raise UserError("defaultValue must be a number")
    out = dict(t)
    out["metricValue"] = value
    out["dimensions"] = dict(dims)
    return out


def transformation_exprs(
    t: Mapping[str, Any], pattern: Pattern, source: Source
) -> tuple[pl.Expr, dict[str, pl.Expr]]:
    """Expressions for the metric value (Float64) and each dimension (String) of one event."""
    value = t["metricValue"]
    if value.startswith("$"):
        val = reference_expr(pattern, value, source).cast(pl.Float64, strict=False)
    else:
        val = pl.lit(float(value), dtype=pl.Float64)
    dims = {
        name: reference_expr(pattern, ref, source).cast(pl.String)
        for name, ref in (t.get("dimensions") or {}).items()
    }
    return val, dims


def _extracted(pattern: Pattern, tokens: list[str]) -> dict[str, str]:
    """TestMetricFilter's extractedValues for one matched space-delimited event."""
    if not isinstance(pattern, SpacePattern):
        return {}
    out: dict[str, str] = {}
    if not pattern.fields:
        return {f"${i + 1}": tok for i, tok in enumerate(tokens)}
    lay = space_layout(pattern)
    n = len(tokens)
    positions: dict[int, int] = {}
    if lay.ellipsis:
        for i in lay.before:
            positions[i] = i
        for j, i in enumerate(lay.after):
            positions[i] = n - len(lay.after) + j
        covered = range(len(lay.before), n - len(lay.after))
        for p in covered:
            out[f"${p + 1}"] = tokens[p]
    else:
        for i in lay.before:
            positions[i] = i
    last = len(pattern.fields) - 1
    for i, spec in enumerate(pattern.fields):
        if spec.ellipsis:
            continue
        p = positions[i]
        if not lay.ellipsis and i == last and LAST_FIELD_TAKES_REST:
            text = " ".join(tokens[p:])
        else:
            text = tokens[p]
        key = f"${spec.name}" if spec.name else f"${p + 1}"
        out[key] = text
    return dict(sorted(out.items(), key=lambda kv: (not kv[0][1:].isdigit(), _order(kv[0]))))


def _order(key: str) -> Any:
    k = key[1:]
    return int(k) if k.isdigit() else k


def test_metric_filter(
    pattern: str,
    messages: Iterable[str],
    metric_transformation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Match sample messages the way CloudWatch's TestMetricFilter does.

    Returns `{"matches": [{"eventNumber", "eventMessage", "extractedValues"}, ...]}` with
    1-based event numbers; with a transformation each match also carries `metricValue`
    (None when the referenced value is absent or not a number) and `dimensions`.
    """
    parsed = parse_pattern(pattern)
    messages = list(messages)
    if not 1 <= len(messages) <= MAX_TEST_MESSAGES:
        raise UserError(f"Give between 1 and {MAX_TEST_MESSAGES} messages to test")
    for i, m in enumerate(messages, start=1):
        if not isinstance(m, str) or not m:
            raise UserError(f"Message {i} is empty (each message needs at least 1 character)")
    source = MessageSource("message")
    cols = [
        pl.col("message"),
        compile_pattern(parsed, source).alias("__match"),
        space_tokens(source).alias("__tokens")
        if isinstance(parsed, SpacePattern)
        else pl.lit(None).alias("__tokens"),
    ]
    transformation = None
    if metric_transformation is not None:
        transformation = validate_transformation(metric_transformation, parsed)
        val, dims = transformation_exprs(transformation, parsed, source)
        cols.append(val.alias("__value"))
        cols.extend(expr.alias(f"__dim_{i}") for i, expr in enumerate(dims.values()))
    df = pl.DataFrame({"message": messages}, schema={"message": pl.String}).select(cols)
    df = df.with_row_index("__n", offset=1).filter(pl.col("__match"))
    matches = []
    for row in df.iter_rows(named=True):
        match: dict[str, Any] = {
            "eventNumber": row["__n"],
            "eventMessage": row["message"],
            "extractedValues": _extracted(parsed, row["__tokens"] or []),
        }
        if transformation is not None:
            match["metricValue"] = row["__value"]
            match["dimensions"] = {
                name: row[f"__dim_{i}"] for i, name in enumerate(transformation["dimensions"])
            }
        matches.append(match)
    return {"matches": matches}


vars(test_metric_filter)["__test__"] = False  # not a pytest test despite the name

_FILTER_NAME = re.compile(r"^[^:*]{1,512}$")


def validate_metric_filter(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Check a PutMetricFilter request (plus loglake's `table` / `condition`) and normalise it."""
    if not isinstance(definition, Mapping):
        raise UserError("A metric filter definition must be a JSON object")
    name = definition.get("filterName")
    if not isinstance(name, str) or not _FILTER_NAME.match(name):
        raise UserError("filterName must be 1-512 characters without ':' or '*'")
    if not definition.get("logGroupName") and not definition.get("table"):
        raise UserError(f"Metric filter {name!r} needs a logGroupName or a table")
    pattern_text = definition.get("filterPattern", "")
    if not isinstance(pattern_text, str):
        raise UserError("filterPattern must be a string")
    try:
        parsed = parse_pattern(pattern_text)
    except FilterPatternError as exc:
        raise FilterPatternError(
            f"Metric filter {name!r}: {exc.bare_message}", exc.sql, exc.start, exc.end
        ) from None
    lateness = definition.get("lateness")
    if lateness is not None and (
        not isinstance(lateness, int) or isinstance(lateness, bool) or lateness < 0
    ):
        raise UserError("lateness must be a whole number of seconds, 0 or more")
    transformations = definition.get("metricTransformations")
    if not isinstance(transformations, list) or len(transformations) != 1:
        raise UserError("metricTransformations must hold exactly one item")
    out = {k: v for k, v in definition.items() if v is not None}
    out["filterPattern"] = pattern_text
    out["metricTransformations"] = [validate_transformation(transformations[0], parsed)]
    return out
