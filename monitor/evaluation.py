"""Alarm evaluation for many alarms and many evaluation times in one Polars query.

`evaluate_alarm` (monitor/alarms.py) states the rules for one evaluation; this module computes the
same decisions for every evaluation time of a range at once, so a watch cycle evaluates all alarms
with one collect and a replay of a week (or a year) is one query instead of one per minute.

The model: an alarm evaluated at a window end ``t`` (aligned to the minute, or to 10 s for
high-resolution periods) looks at the periods ``[t - k*P - P, t - k*P)`` for k = 0 .. R-1 (R is the
evaluation range). Datapoints are kept on a dense grid of steps (one row per minute or 10 s):
row ``j`` holds the statistic of the period that ends with step ``j``, computed with rolling sums,
minima and maxima over ``P / step`` steps. The periods an evaluation at step ``j`` sees are rows
``j, j - w, j - 2w, ...`` (w = P / step): one "phase" of the grid, so the M-of-N rules become
rolling counts over each phase. Only the transitions are turned back into reason texts, by the
pure function, from the same datapoints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson
import polars as pl

from loglake.monitor.alarms import (
    ALARM,
    BAND_OPERATORS,
    INSUFFICIENT_DATA,
    OK,
    OPERATORS,
    alarm_period,
    evaluation_range,
    format_value,
)
from loglake.monitor.metrics import dimensions_key

#: state codes inside the query (null = keep the current state)
CODES = {OK: 0, ALARM: 1, INSUFFICIENT_DATA: 2}
NAMES = {v: k for k, v in CODES.items()}
BASIC = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_INF = float("inf")


def step_seconds(period: int) -> int:
    """Grid step: one minute, or 10 s for high-resolution periods."""
    return 60 if period >= 60 else 10


def step_index(ts: datetime, step: int) -> int:
    return int(ts.timestamp()) // step


def step_time(index: int, step: int) -> datetime:
    return datetime.fromtimestamp(index * step, UTC)


# ---------------------------------------------------------------------------------------------
# datapoints on the grid


@dataclass(frozen=True)
class MetricRef:
    """One metric with the statistic an alarm asks of it."""

    namespace: str
    name: str
    dimensions: str  # canonical JSON (metrics.dimensions_key)
    stat: str
    unit: str | None = None

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: Any, stat: str, unit: str | None = None):
        return cls(namespace, name, dimensions_key(dimensions), stat, unit)


def metric_rows(metrics: pl.LazyFrame, ref: MetricRef) -> pl.LazyFrame:
    lf = metrics.filter(
        (pl.col("namespace") == ref.namespace)
        & (pl.col("metric_name") == ref.name)
        & (pl.col("dimensions") == ref.dimensions)
    )
    return lf.filter(pl.col("unit") == ref.unit) if ref.unit else lf


def stat_series(
    rows: pl.LazyFrame, stat: str, step: int, window: int, lo: int, hi: int
) -> pl.LazyFrame:
    """Columns ``j`` (lo..hi) and ``value``, ``count``: the statistic of the period ending at j.

    ``rows`` are datapoint rows of the metrics table; a period without rows has a null value.
    """
    first = lo - window + 1
    stepped = rows.with_columns((pl.col("timestamp").dt.epoch("s") // step).alias("i")).filter(
        pl.col("i").is_between(first, hi)
    )
    grid = pl.LazyFrame({"j": pl.int_range(first, hi + 1, eager=True, dtype=pl.Int64)})
    per_step = stepped.group_by("i").agg(
        pl.len().alias("rows"),
        pl.col("sample_count").sum().alias("n"),
        pl.col("sum").sum().alias("s"),
        pl.col("minimum").min().alias("lo"),
        pl.col("maximum").max().alias("hi"),
    )
    joined = grid.join(per_step, left_on="j", right_on="i", how="left").sort("j")

    def rolled(column: str, how: str, fill: float) -> pl.Expr:
        col = pl.col(column).fill_null(fill)
        if window == 1:
            return col
        return getattr(col, f"rolling_{how}")(window_size=window, min_samples=1)

    out = joined.select(
        "j",
        rolled("rows", "sum", 0).alias("rows"),
        rolled("n", "sum", 0.0).alias("count"),
        rolled("s", "sum", 0.0).alias("s"),
        rolled("lo", "min", _INF).alias("lo"),
        rolled("hi", "max", -_INF).alias("hi"),
    )
    present = pl.col("rows") > 0
    if stat.startswith("p"):
        value = _percentile(stepped, float(stat[1:]), window, lo, hi)
        out = out.join(value, on="j", how="left")
        value_expr = pl.when(present).then(pl.col("__p"))
    else:
        value_expr = pl.when(present).then(
            {
                "SampleCount": pl.col("count"),
                "Sum": pl.col("s"),
                "Minimum": pl.col("lo"),
                "Maximum": pl.col("hi"),
                "Average": pl.col("s") / pl.col("count"),
            }[stat]
        )
    return (
        out.filter(pl.col("j") >= lo)
        .select("j", value_expr.cast(pl.Float64).alias("value"), pl.col("count"))
        .sort("j")
    )


def _percentile(stepped: pl.LazyFrame, q: float, window: int, lo: int, hi: int) -> pl.LazyFrame:
    """Nearest-rank percentile of the stored values of each period (as MetricsStore does)."""
    values = stepped.filter(pl.col("value").is_not_null()).select("i", "value", "sample_count")
    if window > 1:
        values = values.with_columns(pl.int_ranges("i", pl.col("i") + window).alias("j")).explode(
            "j"
        )
    else:
        values = values.with_columns(pl.col("i").alias("j"))
    return (
        values.filter(pl.col("j").is_between(lo, hi))
        .sort("j", "value")
        .with_columns(
            pl.col("sample_count").cum_sum().over("j").alias("__cum"),
            pl.col("sample_count").sum().over("j").alias("__total"),
        )
        .filter(pl.col("__cum") >= pl.max_horizontal((pl.col("__total") * q / 100.0).ceil(), 1.0))
        .group_by("j")
        .agg(pl.col("value").first().alias("__p"))
    )


# ---------------------------------------------------------------------------------------------
# decisions


@dataclass
class Plan:
    """One alarm's evaluation over the window ends of steps first..last."""

    definition: Mapping[str, Any]
    current: str
    first: int  # step index of the first window end's newest period (t/step - 1)
    last: int

    @cached_property
    def period(self) -> int:
        return alarm_period(self.definition)

    @cached_property
    def step(self) -> int:
        return step_seconds(self.period)

    @cached_property
    def window(self) -> int:
        return self.period // self.step

    @cached_property
    def range(self) -> int:
        return evaluation_range(int(self.definition["EvaluationPeriods"]))

    @property
    def grid_start(self) -> int:
        """The first grid row the evaluations look at."""
        return self.first - (self.range - 1) * self.window

    def end_of(self, j: int) -> datetime:
        """The evaluation time (window end) whose newest period ends with step j."""
        return step_time(j + 1, self.step)


def single_metric_series(
    definition: Mapping[str, Any], metrics: pl.LazyFrame, step: int, lo: int, hi: int
) -> pl.LazyFrame:
    """The datapoints of a classic alarm (MetricName, Namespace, Dimensions, statistic)."""
    stat = definition.get("ExtendedStatistic") or definition["Statistic"]
    ref = MetricRef.of(
        definition["Namespace"],
        definition["MetricName"],
        definition.get("Dimensions"),
        stat,
        definition.get("Unit"),
    )
    window = int(definition["Period"]) // step
    return stat_series(metric_rows(metrics, ref), stat, step, window, lo, hi)


def series_for(
    definition: Mapping[str, Any], metrics: pl.LazyFrame, step: int, lo: int, hi: int
) -> pl.LazyFrame:
    if "Metrics" in definition:
        from loglake.monitor.mathexpr import math_series

        return math_series(definition, metrics, step, lo, hi)
    return single_metric_series(definition, metrics, step, lo, hi)


def _low_sample_need(definition: Mapping[str, Any]) -> float | None:
    """Samples a percentile needs when EvaluateLowSampleCountPercentile is `ignore`."""
    stat = definition.get("ExtendedStatistic")
    if not stat or definition.get("EvaluateLowSampleCountPercentile") != "ignore":
        return None
    p = float(stat[1:]) / 100.0
    if p <= 0 or p >= 1:
        return None
    return 10 / (1 - p) if p >= 0.5 else 10 / p


def band_breach(operator: str, value: pl.Expr) -> pl.Expr:
    """Whether ``value`` breaches its anomaly band (columns ``lower``/``upper``) as the
    band operator says; the evaluation and the replay's reasons read breaches alike."""
    lower, upper = pl.col("lower"), pl.col("upper")
    return {
        "LessThanLowerOrGreaterThanUpperThreshold": (value < lower) | (value > upper),
        "GreaterThanUpperThreshold": value > upper,
        "LessThanLowerThreshold": value < lower,
    }[operator]


def _decisions(plan: Plan, grid: pl.LazyFrame) -> pl.LazyFrame:
    """The grid with the state code of each window end (rows first..last; null: state kept)
    and the state before it (``old``), so a transition is a row whose code differs from it."""
    d = plan.definition
    n = int(d["EvaluationPeriods"])
    m = int(d.get("DatapointsToAlarm") or n)
    r = plan.range
    treat = d.get("TreatMissingData") or "missing"
    operator = d["ComparisonOperator"]
    value = pl.col("value")
    if operator in BAND_OPERATORS:
        present = value.is_not_null() & pl.col("lower").is_not_null()
        breach = band_breach(operator, value)
    else:
        present = value.is_not_null()
        t = float(d["Threshold"])
        breach = {
            "GreaterThanOrEqualToThreshold": value >= t,
            "GreaterThanThreshold": value > t,
            "LessThanThreshold": value < t,
            "LessThanOrEqualToThreshold": value <= t,
        }[operator]
    need = _low_sample_need(d)
    low = present & (pl.col("count") < need) if need is not None else pl.lit(False)
    frame = grid.with_columns(
        (pl.col("j") % plan.window).alias("phase"),
        present.alias("p"),
        (present & breach.fill_null(False)).alias("b"),
        low.alias("low"),
    ).with_columns((pl.col("p") & ~pl.col("b")).alias("nb"))
    frame = frame.sort("phase", "j")

    def roll(column: str, size: int) -> pl.Expr:
        if size <= 0:
            return pl.lit(0, dtype=pl.Int64)
        return (
            pl.col(column).cast(pl.Int64).rolling_sum(window_size=size, min_samples=1).over("phase")
        )

    # the newest N real points: counted over the real points alone, then carried to every row
    reals = frame.filter(pl.col("p")).select(
        "j",
        pl.col("b").cast(pl.Int64).rolling_sum(n, min_samples=1).over("phase").alias("nbN"),
        pl.col("low").cast(pl.Int64).rolling_sum(n, min_samples=1).over("phase").alias("lowN"),
    )
    frame = (
        frame.join(reals, on="j", how="left")
        .sort("phase", "j")
        .with_columns(
            pl.col("nbN").forward_fill().over("phase"),
            pl.col("lowN").forward_fill().over("phase"),
            roll("p", r).alias("real"),
            roll("b", r).alias("bR"),
            roll("nb", r).alias("nbR"),
            roll("low", r).alias("lowR"),
        )
    )
    if m - 1 < r:
        pivot = pl.col("b").shift(m - 1).over("phase").fill_null(False)
        older = pl.col("real") - roll("p", m)
        premature = pivot & (older == 0) & (roll("nb", m - 1) == 0)
    else:
        premature = pl.lit(False)
    keep = pl.lit(None, dtype=pl.Int8)

    def code(state: str) -> pl.Expr:
        return pl.lit(CODES[state], dtype=pl.Int8)

    none_real = {
        "missing": code(INSUFFICIENT_DATA),
        "ignore": keep,
        "breaching": code(ALARM if m <= n else OK),
        "notBreaching": code(OK),
    }[treat]
    enough = pl.when(pl.col("nbN") >= m).then(code(ALARM)).otherwise(code(OK))
    if treat in ("breaching", "notBreaching"):
        filled = pl.col("bR") + ((n - pl.col("real")) if treat == "breaching" else 0)
        few = pl.when(filled >= m).then(code(ALARM)).otherwise(code(OK))
    else:
        few = (
            pl.when(premature)
            .then(code(ALARM) if treat == "missing" else keep)
            .when(pl.col("bR") >= m)
            .then(code(ALARM))
            .when(pl.col("nbR") > 0)
            .then(code(OK))
            .otherwise(code(INSUFFICIENT_DATA) if treat == "missing" else keep)
        )
    state = (
        pl.when(pl.col("real") == 0)
        .then(none_real)
        .when(pl.col("real") >= n)
        .then(enough)
        .otherwise(few)
    )
    if need is not None:
        low_used = pl.when(pl.col("real") >= n).then(pl.col("lowN")).otherwise(pl.col("lowR"))
        state = pl.when((pl.col("real") > 0) & (low_used > 0)).then(keep).otherwise(state)
    decided = pl.when(pl.col("j").is_between(plan.first, plan.last)).then(state)
    columns = grid.collect_schema().names()
    old = pl.col("code").forward_fill().shift(1).fill_null(CODES[plan.current])
    return frame.select(*columns, decided.alias("code")).sort("j").with_columns(old.alias("old"))


@dataclass
class Outcome:
    """One alarm's evaluations: the grid it read with the state code after each window end."""

    plan: Plan
    frame: pl.DataFrame  # j, value[, lower, upper], count, code (null: kept), old

    @property
    def states(self) -> pl.DataFrame:
        """j, code for the window ends first..last."""
        plan = self.plan
        return self.frame.filter(pl.col("j").is_between(plan.first, plan.last)).select("j", "code")

    def transitions(self) -> list[tuple[int, str, str]]:
        """(j, from, to) for every change of state, starting from the current state."""
        changes = self.frame.filter(pl.col("code") != pl.col("old")).select("j", "old", "code")
        return [(j, NAMES[old], NAMES[new]) for j, old, new in changes.iter_rows()]

    def reasons(self, now: datetime) -> list[tuple[int, str, str, orjson.Fragment]]:
        """(j, new state, reason, reason data) of every transition, computed in one query.

        The texts and data are those `evaluate_alarm_detail` gives for the transition's
        evaluation range (the tests compare them transition by transition), the data with
        queryDate (`now` for the latest window end), startDate, period and, for one metric, its
        statistic, as JSON text ready for the history (a replay of a year of minutes can hold
        tens of thousands of transitions: the pure function and Python objects for each cost
        seconds).
        """
        frame = transition_reasons(self.plan, self.frame, now)
        return [
            (j, NAMES[code], reason, orjson.Fragment(data))
            for j, code, reason, data in zip(
                frame["j"].to_list(),
                frame["code"].to_list(),
                frame["reason"].to_list(),
                frame["data"].to_list(),
                strict=True,
            )
        ]

    @cached_property
    def _columns(self) -> dict[str, list[Any]]:
        """The grid as Python lists, read once for the reasons of all transitions."""
        names = [c for c in ("value", "lower", "upper") if c in self.frame.columns]
        return {name: self.frame[name].to_list() for name in names}

    def datapoints(
        self, j: int
    ) -> tuple[list[float | None], list[datetime], list[tuple[float, float] | None] | None]:
        """The evaluation range of window end j, oldest first, as the pure function takes it."""
        plan = self.plan
        rows = [j - k * plan.window for k in range(plan.range - 1, -1, -1)]
        first = int(self.frame["j"][0])
        values = self._columns["value"]
        picked = [values[i - first] if i >= first else None for i in rows]
        stamps = [step_time(i + 1, plan.step) - timedelta(seconds=plan.period) for i in rows]
        bands = None
        if "lower" in self._columns:
            lower, upper = self._columns["lower"], self._columns["upper"]
            bands = [
                None
                if i < first or lower[i - first] is None
                else (float(lower[i - first]), float(upper[i - first]))
                for i in rows
            ]
        return picked, stamps, bands


# ---------------------------------------------------------------------------------------------
# reasons of transitions


def _float_text(value: pl.Expr) -> pl.Expr:
    """Python's repr() of a float, in Polars: the shortest digits that read back the same.

    Polars writes the same digits but spells 1e-5 <= |x| < 1e-4 without an exponent and pads no
    exponent (`2.5e-7`); Python writes `1.23e-05` and `2.5e-07`.
    """
    text = value.cast(pl.String)
    plain_small = text.str.extract(r"^-?0\.0000([1-9])(\d*)$", 1)
    rest = text.str.extract(r"^-?0\.0000[1-9](\d*)$", 1)
    sign = pl.when(text.str.starts_with("-")).then(pl.lit("-")).otherwise(pl.lit(""))
    small = pl.concat_str(
        sign,
        plain_small,
        pl.when(rest != "").then(pl.concat_str(pl.lit("."), rest)).otherwise(pl.lit("")),
        pl.lit("e-05"),
    )
    return (
        pl.when(value.is_nan())
        .then(pl.lit("nan"))
        .when(plain_small.is_not_null())
        .then(small)
        .otherwise(text.str.replace(r"e([-+])(\d)$", "e${1}0${2}"))
    )


def transition_reasons(plan: Plan, frame: pl.DataFrame, now: datetime) -> pl.DataFrame:
    """j, code, reason, data for the transitions of `frame` (an Outcome's grid).

    Every transition's evaluation range (rows j, j - w, ... newest first) is laid out as rows,
    the datapoints that decided it are picked as `evaluate_alarm_detail` picks them (the newest
    N real ones, or all real ones when there are fewer; missing ones filled for `breaching` and
    `notBreaching`), and the texts are built with string expressions.
    """
    d = plan.definition
    n = int(d["EvaluationPeriods"])
    m = int(d.get("DatapointsToAlarm") or n)
    r, w = plan.range, plan.window
    treat = d.get("TreatMissingData") or "missing"
    operator = d["ComparisonOperator"]
    banded = operator in BAND_OPERATORS
    words = (BAND_OPERATORS if banded else OPERATORS)[operator][0]
    value = pl.col("value")
    if banded:
        value = pl.when(pl.col("lower").is_not_null()).then(value)
        breach = band_breach(operator, value)
    else:
        threshold = float(d["Threshold"])
        breach = {
            "GreaterThanOrEqualToThreshold": value >= threshold,
            "GreaterThanThreshold": value > threshold,
            "LessThanThreshold": value < threshold,
            "LessThanOrEqualToThreshold": value <= threshold,
        }[operator]
    starts = ((pl.col("row") + 1) * plan.step - plan.period) * 1_000_000
    grid = frame.lazy().select(
        pl.col("j").alias("row"), "value", *(["lower", "upper"] if banded else [])
    )
    points = (
        frame.lazy()
        .filter(pl.col("code") != pl.col("old"))
        .select("j", "code")
        .join(pl.LazyFrame({"k": list(range(r))}, schema={"k": pl.Int64}), how="cross")
        .with_columns((pl.col("j") - pl.col("k") * w).alias("row"))
        .join(grid, on="row", how="left")
        .sort("j", "k")
        .with_columns(
            value.alias("value"),
            breach.fill_null(False).alias("breach"),
            pl.from_epoch(starts, time_unit="us").dt.replace_time_zone("UTC").alias("at"),
        )
        .with_columns(
            pl.col("value").is_not_null().cum_sum().over("j").alias("rank"),
            pl.col("value").is_not_null().sum().over("j").alias("real"),
        )
    )
    real = pl.col("real")
    used = pl.col("value").is_not_null() & ((real < n) | (pl.col("rank") <= n))
    shown = pl.concat_str(
        _float_text(pl.col("value")), pl.col("at").dt.strftime(" (%d/%m/%y %H:%M:%S)")
    )
    lists = [
        pl.col("value").filter(used).alias("recentDatapoints"),
        pl.struct(
            (r - 1 - pl.col("k")).alias("index"),
            pl.col("value"),
            pl.col("at").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00").alias("timestamp"),
        )
        .filter(used)
        .alias("evaluatedDatapoints"),
    ]
    if banded:
        lists += [
            pl.col("upper").filter(used).alias("recentUpperThresholds"),
            pl.col("lower").filter(used).alias("recentLowerThresholds"),
            pl.concat_str(
                pl.lit("["),
                _float_text(pl.col("lower")),
                pl.lit(", "),
                _float_text(pl.col("upper")),
                pl.lit("]"),
            )
            .filter(used)
            .str.join(", ")
            .alias("bands"),
        ]
    fills = treat in ("breaching", "notBreaching")
    per = points.group_by("j", maintain_order=True).agg(
        pl.col("code").first(),
        real.first(),
        shown.filter(used).str.join(", ").alias("shown"),
        (pl.col("breach") & used).sum().alias("nb"),
        used.sum().alias("used"),
        *lists,
    )
    alarm = pl.col("code") == CODES[ALARM]
    filled = pl.when(real < n).then(n - real).otherwise(0) if fills else pl.lit(0)
    total = pl.col("used") + filled
    nb = pl.col("nb") + (filled if treat == "breaching" else 0)
    count = pl.when(alarm).then(nb).otherwise(total - nb)
    compared = pl.when(alarm).then(pl.lit(words)).otherwise(pl.lit(f"not {words}"))
    listed = pl.concat_str(pl.lit(" datapoints ["), pl.col("shown"), pl.lit("] were "), compared)
    head = (
        pl.when((total == 1) & (filled == 0))
        .then(pl.concat_str(pl.lit("1 datapoint ["), pl.col("shown"), pl.lit("] was "), compared))
        .when((count == total) & (filled == 0))
        .then(pl.concat_str(total.cast(pl.String), listed))
        .otherwise(
            pl.concat_str(
                count.cast(pl.String), pl.lit(" out of the last "), total.cast(pl.String), listed
            )
        )
    )
    if banded:
        parts = [
            pl.lit("Thresholds Crossed: "),
            head,
            pl.when(pl.col("bands") != "")
            .then(pl.concat_str(pl.lit(" of "), pl.col("bands")))
            .otherwise(pl.lit("")),
        ]
    else:
        parts = [
            pl.lit("Threshold Crossed: "),
            head,
            pl.lit(f" the threshold ({format_value(threshold)})"),
        ]
    kind = "Breaching" if treat == "breaching" else "NonBreaching"
    if fills:
        parts.append(
            pl.when(filled > 0)
            .then(
                pl.concat_str(
                    pl.lit(" and "),
                    filled.cast(pl.String),
                    pl.lit(f" missing datapoints were treated as [{kind}]"),
                )
            )
            .otherwise(pl.lit(""))
        )
    parts += [
        pl.when(alarm & (total > 1))
        .then(pl.lit(f" (minimum {m} datapoints for OK -> ALARM transition)"))
        .otherwise(pl.lit("")),
        pl.lit("."),
    ]
    insufficient = pl.col("code") == CODES[INSUFFICIENT_DATA]
    reason = (
        pl.when(insufficient & (real == 0))
        .then(pl.lit(f"Insufficient Data: no datapoints were received for {r} periods."))
        .when(insufficient)
        .then(
            pl.concat_str(
                pl.lit("Insufficient Data: "),
                real.cast(pl.String),
                pl.lit(
                    f" datapoint(s) in the last {r} periods, fewer than the {m} needed to alarm."
                ),
            )
        )
        .when(real == 0)
        .then(
            pl.lit(
                f"Threshold Crossed: no datapoints were received for {n} periods and {n} "
                f"missing datapoints were treated as [{kind}]."
            )
        )
        .otherwise(pl.concat_str(parts))
    )
    iso = "%Y-%m-%dT%H:%M:%S+00:00"
    end = pl.from_epoch((pl.col("j") + 1) * plan.step, time_unit="s")
    span = (r - 1) * w * plan.step + plan.period
    stat = [] if "Metrics" in d else [d.get("ExtendedStatistic") or d["Statistic"]]
    data = pl.struct(
        pl.lit("1.0").alias("version"),
        "recentDatapoints",
        "evaluatedDatapoints",
        *(
            ["recentUpperThresholds", "recentLowerThresholds"]
            if banded
            else [pl.lit(threshold).alias("threshold")]
        ),
        pl.when(pl.col("j") == plan.last)
        .then(pl.lit(now.isoformat()))
        .otherwise(end.dt.strftime(iso))
        .alias("queryDate"),
        (end - pl.duration(seconds=span)).dt.strftime(iso).alias("startDate"),
        pl.lit(plan.period).alias("period"),
        *[pl.lit(s).alias("statistic") for s in stat],
    ).struct.json_encode()
    return per.select("j", "code", reason.alias("reason"), data.alias("data")).collect(
        engine="in-memory"
    )


def evaluate_plans(plans: Sequence[Plan], metrics: pl.LazyFrame) -> list[Outcome]:
    """Evaluate every plan in one collect (Polars runs the alarms' plans in parallel).

    The in-memory engine: on these frames (an alarm's grid is one row per minute of the range)
    it used half the CPU time of the streaming one (14 CIS alarms over a week: 0.10 s against
    0.18 s).
    """
    frames = [
        _decisions(p, series_for(p.definition, metrics, p.step, p.grid_start, p.last))
        for p in plans
    ]
    collected = pl.collect_all(frames, engine="in-memory") if frames else []
    return [Outcome(plan, frame) for plan, frame in zip(plans, collected, strict=True)]
