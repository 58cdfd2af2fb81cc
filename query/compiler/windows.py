"""Window functions: ``f(...) OVER (PARTITION BY ... ORDER BY ... frame)`` as Polars expressions.

With an ORDER BY the frame is sorted by partition and order keys first, so that running and
offset functions become cumulative or shifted expressions evaluated ``over`` the partition; peer
rows (equal order keys) share the value at the end of their group, as SQL's default RANGE frame
requires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlglot import exp

from loglake.query import types as T
from loglake.query.compiler.context import Grouping, Rel
from loglake.query.compiler.unscaled import decimal_mean
from loglake.query.guards import checked_bigint, exact_integers

if TYPE_CHECKING:
    from loglake.query.compiler.core import Compiler

_MAX_ROWS_FRAME = 1000


def _bound(value: Any, side: Any) -> float | int | None:
    """Frame bound as a row offset: negative preceding, positive following, None unbounded."""
    text = value if isinstance(value, str) else None
    if text is not None and text.upper() == "UNBOUNDED":
        return float("-inf") if str(side).upper() == "PRECEDING" else float("inf")
    if text is not None and text.upper() == "CURRENT ROW":
        return 0
    if isinstance(value, exp.Literal | exp.Interval):
        n = _offset(value)
        return -n if str(side).upper() == "PRECEDING" else n
    return None


def _offset(value: exp.Expression) -> float | int:
    """A frame offset: a number, or an INTERVAL as microseconds (days for DATE keys are
    converted when the key's type is known)."""
    if isinstance(value, exp.Interval):
        amount = float(str(value.this.this if isinstance(value.this, exp.Literal) else value.this))
        unit = (value.text("unit") or "DAY").upper().rstrip("S")
        seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 604800}.get(unit)
        if seconds is None:
            raise ValueError(f"window frame offsets in {unit.lower()}s are not supported")
        return int(amount * seconds * 1_000_000)
    text = value.this
    return int(text) if str(text).lstrip("-").isdigit() else float(text)


def _frame(spec: exp.WindowSpec | None, ordered: bool) -> tuple[str, float | int, float | int]:
    if spec is None:
        if ordered:
            return "range", float("-inf"), 0
        return "rows", float("-inf"), float("inf")
    kind = str(spec.args.get("kind") or "range").lower()
    start = _bound(spec.args.get("start"), spec.args.get("start_side"))
    end_value = spec.args.get("end")
    end = _bound(end_value, spec.args.get("end_side")) if end_value is not None else 0
    if start is None or end is None:
        raise ValueError("window frame bounds must be UNBOUNDED, CURRENT ROW or a number of rows")
    return kind, start, end


def compile_window(
    compiler: Compiler, lf: pl.LazyFrame, node: exp.Window, out: str
) -> pl.LazyFrame:
    """Add the window expression ``node`` to ``lf`` as column ``out``."""
    part_nodes = node.args.get("partition_by") or []
    order = node.args.get("order")
    ordered_items = order.expressions if order is not None else []
    temps: list[str] = []
    part_cols: list[str] = []
    key_cols: list[str] = []
    prep: list[pl.Expr] = []
    for p in part_nodes:
        name = compiler.fresh("_wp")
        prep.append(compiler.expr(p).alias(name))
        part_cols.append(name)
    descending, nulls_last = [], []
    for o in ordered_items:
        name = compiler.fresh("_wk")
        prep.append(compiler.expr(o.this).alias(name))
        key_cols.append(name)
        descending.append(bool(o.args.get("desc")))
        nulls_last.append(not o.args.get("nulls_first"))
    temps = part_cols + key_cols
    if prep:
        lf = lf.with_columns(prep)
    if key_cols:
        lf = lf.sort(
            part_cols + key_cols,
            descending=[False] * len(part_cols) + descending,
            nulls_last=[True] * len(part_cols) + nulls_last,
            maintain_order=False,
        )
    try:
        kind, start, end = _frame(node.args.get("spec"), bool(key_cols))
    except ValueError as err:
        raise compiler.error(node, str(err)) from err

    def over(e: pl.Expr, extra: list[str] | None = None) -> pl.Expr:
        cols = part_cols + (extra or [])
        return e.over(cols) if cols else e

    frame = _Frame(kind, start, end, key_cols, temps, over)
    # the function's arguments are compiled over the frame with the key columns added
    with compiler.extended(dict(lf.collect_schema())):
        return _window_value(compiler, lf, node, out, frame)


@dataclass
class _Frame:
    """A window's frame (kind and bounds as row offsets), its order-key columns, the temporary
    columns to drop at the end, and ``over`` (an expression per partition, optionally per peer
    group when given the key columns)."""

    kind: str
    start: float | int
    end: float | int
    key_cols: list[str]
    temps: list[str]
    over: Callable[..., pl.Expr]


def _window_value(
    compiler: Compiler, lf: pl.LazyFrame, node: exp.Window, out: str, frame: _Frame
) -> pl.LazyFrame:
    """The window function's value as column ``out`` of ``lf`` (sorted, keys added)."""
    kind, start, end = frame.kind, frame.start, frame.end
    key_cols, temps, over = frame.key_cols, frame.temps, frame.over
    fn = node.this
    row_number = pl.int_range(1, pl.len() + 1, dtype=pl.Int64)
    if isinstance(fn, exp.RowNumber):
        return lf.with_columns(over(row_number).alias(out)).drop(temps)
    if isinstance(fn, exp.Rank | exp.PercentRank | exp.CumeDist | exp.DenseRank | exp.Ntile):
        if isinstance(fn, exp.Ntile):
            buckets = int(compiler.literal_value(fn.this))
            if buckets <= 0:
                raise compiler.error(fn, "Buckets must be greater than 0")
            n = pl.len()
            i = pl.int_range(0, pl.len(), dtype=pl.Int64)
            size = n // buckets
            rem = n % buckets
            bucket = (
                pl.when(size == 0)
                .then(i + 1)
                .when(i < rem * (size + 1))
                .then(i // (size + 1) + 1)
                .otherwise((i - rem) // pl.when(size == 0).then(1).otherwise(size) + 1)
            )
            return lf.with_columns(over(bucket).alias(out)).drop(temps)
        if isinstance(fn, exp.DenseRank):
            run = pl.struct(key_cols).rle_id() if key_cols else pl.lit(0, pl.UInt32)
            return lf.with_columns(over(run.cast(pl.Int64) + 1).alias(out)).drop(temps)
        rn = compiler.fresh("_rn")
        lf = lf.with_columns(over(row_number).alias(rn))
        if isinstance(fn, exp.Rank):
            value = over(pl.col(rn).min(), key_cols)
        elif isinstance(fn, exp.PercentRank):
            rank = over(pl.col(rn).min(), key_cols).cast(pl.Float64)
            total = over(pl.len()).cast(pl.Float64)
            value = pl.when(total > 1).then((rank - 1) / (total - 1)).otherwise(0.0)
        else:
            peers_end = over(pl.col(rn).max(), key_cols).cast(pl.Float64)
            value = peers_end / over(pl.len()).cast(pl.Float64)
        return lf.with_columns(value.alias(out)).drop([*temps, rn])
    if isinstance(fn, exp.Lag | exp.Lead):
        value = compiler.expr(fn.this)
        offset = int(compiler.literal_value(fn.args["offset"])) if fn.args.get("offset") else 1
        default = fn.args.get("default")
        shift = offset if isinstance(fn, exp.Lag) else -offset
        fill = compiler.expr(default) if default is not None else None
        shifted = value.shift(shift, fill_value=fill) if fill is not None else value.shift(shift)
        return lf.with_columns(over(shifted).alias(out)).drop(temps)
    if isinstance(fn, exp.FirstValue | exp.LastValue | exp.NthValue):
        value = compiler.expr(fn.this)
        if isinstance(fn, exp.FirstValue):
            if start == float("-inf"):
                result = over(value.first())
            elif kind == "rows" and start <= 0 <= end:
                result = over(value.shift(-int(start)))
            else:
                raise compiler.error(node, "this window frame is not supported for first_value")
        elif isinstance(fn, exp.LastValue):
            if end == float("inf") or not key_cols:
                result = over(value.last())
            elif kind == "range" and end == 0:
                result = over(value.last(), key_cols)
            elif kind == "rows" and start <= end:
                result = over(value.shift(-int(end)))
            else:
                raise compiler.error(node, "this window frame is not supported for last_value")
        else:
            place = int(compiler.literal_value(fn.args["offset"]))
            if place < 1:
                raise compiler.error(fn, "nth_value position must be at least 1")
            nth = over(value.get(place - 1, null_on_oob=True))
            if end == float("inf") or not key_cols:
                result = nth
            else:
                # the frame ends at the current row's peers (RANGE) or the row itself (ROWS)
                rn = compiler.fresh("_rn")
                lf = lf.with_columns(over(row_number).alias(rn))
                temps.append(rn)
                reach = over(pl.col(rn).max(), key_cols) if kind == "range" else pl.col(rn)
                result = pl.when(reach >= place).then(nth)
        return lf.with_columns(result.alias(out)).drop(temps)
    return _aggregate_window(compiler, lf, node, fn, out, frame)


def _aggregate_window(
    compiler: Compiler,
    lf: pl.LazyFrame,
    node: exp.Window,
    fn: exp.Expression,
    out: str,
    frame: _Frame,
) -> pl.LazyFrame:
    """An aggregate over the window: whole partitions, running frames, or fixed ROWS offsets
    here; any other frame in ``_general_frame``."""
    kind, start, end = frame.kind, frame.start, frame.end
    key_cols, temps, over = frame.key_cols, frame.temps, frame.over
    whole = start == float("-inf") and end == float("inf")
    if whole or (not key_cols and kind == "range"):
        return lf.with_columns(over(compiler.expr(fn)).alias(out)).drop(temps)
    core = (exp.Sum, exp.Count, exp.Avg, exp.Min, exp.Max)
    if not isinstance(fn, core):
        from loglake.query.functions.common import call_name

        raise compiler.error(node, f"{call_name(fn)} with an ordered window frame is not supported")
    arg = fn.this
    if isinstance(arg, exp.Distinct):
        raise compiler.error(node, "DISTINCT aggregates over an ordered window are not supported")
    star = arg is None or isinstance(arg, exp.Star)
    value = pl.lit(1, pl.Int64) if star else compiler.expr(arg)
    dtype = pl.Int64() if star else compiler.dtype(value)
    if isinstance(fn, exp.Avg) and not T.is_decimal(dtype):
        value = value.cast(pl.Float64)
    elif isinstance(fn, exp.Sum) and T.is_integer(dtype):
        value = value.cast(exact_integers())  # a bigint at the end (see _total)
    present = value.is_not_null().cast(pl.Int64)
    if (start == float("-inf") and end == 0) or (start == 0 and end == float("inf")):
        reverse = start == 0
        count = present.cum_sum(reverse=reverse)
        if isinstance(fn, exp.Count):
            running = count
        elif isinstance(fn, exp.Min):
            running = value.cum_min(reverse=reverse).fill_null(
                strategy="backward" if reverse else "forward"
            )
        elif isinstance(fn, exp.Max):
            running = value.cum_max(reverse=reverse).fill_null(
                strategy="backward" if reverse else "forward"
            )
        else:
            total = value.fill_null(0).cum_sum(reverse=reverse)
            if isinstance(fn, exp.Avg):
                running = _mean(total, count, dtype)
            else:
                running = _total(compiler, fn, dtype, pl.when(count > 0).then(total))
        tmp = compiler.fresh("_run")
        lf = lf.with_columns(over(running).alias(tmp))
        if kind == "range":
            peer = pl.col(tmp).first() if reverse else pl.col(tmp).last()
            lf = lf.with_columns(over(peer, key_cols).alias(out))
        else:
            lf = lf.with_columns(pl.col(tmp).alias(out))
        return lf.drop([*temps, tmp])
    if kind != "rows" or start == float("-inf") or end == float("inf"):
        return _general_frame(compiler, lf, node, fn, out, frame, value, dtype)
    lo, hi = int(start), int(end)
    if hi < lo or hi - lo > _MAX_ROWS_FRAME:
        raise compiler.error(node, "window frame is empty or too wide")
    shifted = [over(value.shift(-k)) for k in range(lo, hi + 1)]
    flags = [over(present.shift(-k)).fill_null(0) for k in range(lo, hi + 1)]
    count = pl.sum_horizontal(flags)
    if isinstance(fn, exp.Count):
        result = count
    elif isinstance(fn, exp.Min):
        result = pl.min_horizontal(shifted)
    elif isinstance(fn, exp.Max):
        result = pl.max_horizontal(shifted)
    elif isinstance(fn, exp.Avg):
        result = _mean(pl.sum_horizontal(shifted), count, dtype)
    else:
        result = _total(compiler, fn, dtype, pl.when(count > 0).then(pl.sum_horizontal(shifted)))
    return lf.with_columns(result.alias(out)).drop(temps)


def _total(compiler: Compiler, fn: exp.Expression, dtype: pl.DataType, total: pl.Expr) -> pl.Expr:
    """A frame's SUM: integers, summed exactly, become a bigint with Trino's overflow error."""
    return checked_bigint(compiler, fn, total) if T.is_integer(dtype) else total


def _mean(total: pl.Expr, count: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """AVG over a frame from its sum and value count, typed as Trino types it (see
    ``types.avg_type``); decimals round half away from zero."""
    if T.is_decimal(dtype):
        return decimal_mean(total, count, dtype)
    return pl.when(count > 0).then((total.cast(pl.Float64) / count).cast(T.avg_type(dtype)))


def _general_frame(
    compiler: Compiler,
    lf: pl.LazyFrame,
    node: exp.Window,
    fn: exp.Expression,
    out: str,
    frame: _Frame,
    value: pl.Expr,
    dtype: pl.DataType,
) -> pl.LazyFrame:
    """Any ROWS, RANGE (with offsets) or GROUPS frame: each row's frame becomes a pair of row
    positions in its sorted partition, found with search_sorted; sums and counts are then
    differences of running totals, minimums and maximums a slice of the partition's values."""
    kind, start, end = frame.kind, frame.start, frame.end
    key_cols, temps, over = frame.key_cols, frame.temps, frame.over
    names = [compiler.fresh("_wf") for _ in range(5)]
    row, key, lo, hi, vals = names
    lf = lf.with_columns(over(pl.int_range(pl.len(), dtype=pl.Int64)).alias(row))
    size = over(pl.len().cast(pl.Int64))
    if kind == "rows":
        low = pl.col(row) + start if start != float("-inf") else pl.lit(0, pl.Int64)
        high = pl.col(row) + end if end != float("inf") else size - 1
    else:
        if kind == "groups":
            group = pl.struct(key_cols).rle_id() if key_cols else pl.lit(0, pl.UInt32)
            lf = lf.with_columns(over(group.cast(pl.Int64)).alias(key))
            scale: float = 1
        else:
            if len(key_cols) != 1 and (
                start not in (0, float("-inf")) or end not in (0, float("inf"))
            ):
                raise compiler.error(node, "RANGE with offsets needs exactly one ORDER BY key")
            order = node.args["order"].expressions[0]
            ordered = pl.col(key_cols[0]) if key_cols else pl.lit(0)
            key_type = compiler.schema.get(key_cols[0]) if key_cols else pl.Int64()
            scale = 1
            if key_type == pl.Date:
                ordered, scale = ordered.cast(pl.Int64), 1 / 86_400_000_000
            elif isinstance(key_type, pl.Datetime):
                ordered = ordered.dt.epoch("us")
            elif not (T.is_numeric(key_type) or key_type == pl.Null):
                raise compiler.error(
                    node, "RANGE offsets need a numeric, date or timestamp ORDER BY key"
                )
            if order.args.get("desc"):
                ordered = -ordered
            lf = lf.with_columns(ordered.alias(key))
        offsets = [
            b * scale if isinstance(b, int | float) and abs(b) != float("inf") else b
            for b in (start, end)
        ]
        low = (
            over(pl.col(key).search_sorted(pl.col(key) + offsets[0], side="left")).cast(pl.Int64)
            if start != float("-inf")
            else pl.lit(0, pl.Int64)
        )
        high = (
            over(pl.col(key).search_sorted(pl.col(key) + offsets[1], side="right")).cast(pl.Int64)
            - 1
            if end != float("inf")
            else size - 1
        )
    lf = lf.with_columns(
        low.clip(lower_bound=0).alias(lo),
        pl.min_horizontal(high, size - 1).alias(hi),
        value.alias(vals),
    )
    present = pl.col(vals).is_not_null().cast(pl.Int64)
    width = (pl.col(hi) - pl.col(lo) + 1).clip(lower_bound=0)
    if isinstance(fn, exp.Min | exp.Max):
        window = over(pl.col(vals).implode()).list.slice(pl.col(lo), width)
        result = window.list.min() if isinstance(fn, exp.Min) else window.list.max()
    else:
        total = over(pl.col(vals).fill_null(0).cum_sum())
        seen = over(present.cum_sum())

        def upto(running: pl.Expr, index: pl.Expr) -> pl.Expr:
            at = over(running.gather(index.clip(lower_bound=0)))
            return pl.when(index >= 0).then(at).otherwise(0)

        totals = compiler.fresh("_wt")
        counts = compiler.fresh("_wc")
        lf = lf.with_columns(total.alias(totals), seen.alias(counts))
        count = upto(pl.col(counts), pl.col(hi)) - upto(pl.col(counts), pl.col(lo) - 1)
        count = pl.when(width > 0).then(count).otherwise(0)
        summed = upto(pl.col(totals), pl.col(hi)) - upto(pl.col(totals), pl.col(lo) - 1)
        temps = [*temps, totals, counts]
        if isinstance(fn, exp.Count):
            result = count
        elif isinstance(fn, exp.Avg):
            result = _mean(summed, count, dtype)
        else:
            result = _total(compiler, fn, dtype, pl.when(count > 0).then(summed))
    return lf.with_columns(result.alias(out)).drop([*temps, *names], strict=False)


def add_windows(
    compiler: Compiler,
    rel: Rel,
    windows: list[exp.Window],
    replacements: dict[exp.Expression, pl.Expr],
    aggregated: bool,
    grouping: Grouping | None,
) -> tuple[Rel, dict[exp.Expression, pl.Expr]]:
    """Each distinct window call of a SELECT as a column of ``rel`` (by its node in the
    replacements returned)."""
    replacements = dict(replacements)
    lf = rel.lf
    schema = dict(rel.schema)
    for w in windows:
        if w in replacements:
            continue
        col = compiler.fresh("_w")
        with compiler.context(rel.scope, schema, replacements, aggregated, grouping):
            lf = compile_window(compiler, lf, w, col)
        schema = dict(lf.collect_schema())
        replacements[w] = pl.col(col)
    return Rel(lf, schema, rel.scope), replacements
