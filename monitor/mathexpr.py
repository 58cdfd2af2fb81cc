"""Metric math for alarms: PutMetricAlarm's `Metrics` array compiled to Polars expressions.

Each `MetricStat` item becomes a column of the alarm's datapoint grid (see monitor/evaluation.py:
row j holds the period that ends with step j); each `Expression` item becomes a column computed
from the earlier ones. The language is CloudWatch's metric math: numbers, ids, `+ - * / ^`,
comparisons (1 or 0), `AND OR NOT`, parentheses, arrays `[m1, m2]` and the functions in
`FUNCTIONS`. `SEARCH` expands into one column per matching metric of the metrics table.

`ANOMALY_DETECTION_BAND(m, k)` is loglake's own model (AWS does not publish its): the band of a
period is the median of the metric at the same hour of the week on the two previous weeks, plus
and minus k times a robust spread (1.4826 x the median absolute deviation; 1.2533 x the mean
absolute deviation when that is zero). A period gets a band once those two weeks hold at least
`MIN_TRAINING_VALUES` datapoints for its hour; without one it counts as missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from loglake.errors import UserError
from loglake.monitor.evaluation import MetricRef, metric_rows, stat_series
from loglake.monitor.metrics import dimensions_key

MAX_METRICS = 10
MIN_TRAINING_VALUES = 10
TRAINING_WEEKS = 2
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100(\.0+)?)$")

# ---------------------------------------------------------------------------------------------
# syntax

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>\|\||&&|==|!=|<=|>=|[-+*/^<>(),\[\]!])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Node:
    kind: str  # num | str | id | call | binop | unop | array
    value: Any = None
    args: tuple[Node, ...] = ()
    position: int = 0


class _Parser:
    def __init__(self, text: str, where: str):
        self.text = text
        self.where = where
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise self.error(pos, "unexpected character")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def error(self, pos: int, message: str) -> UserError:
        return UserError(
            f"{self.where}: {message} at character {pos + 1} of {self.text!r}\n"
            f"  {self.text}\n  {' ' * pos}^"
        )

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def accept(self, *values: str) -> tuple[str, str, int] | None:
        tok = self.peek()
        if tok and tok[0] in ("op", "name") and tok[1].upper() in values:
            self.i += 1
            return tok
        return None

    def expect(self, value: str) -> None:
        if not self.accept(value):
            tok = self.peek()
            raise self.error(tok[2] if tok else len(self.text), f"expected {value!r}")

    def parse(self) -> Node:
        node = self.or_()
        tok = self.peek()
        if tok is not None:
            raise self.error(tok[2], f"unexpected {tok[1]!r}")
        return node

    def binary(self, ops: tuple[str, ...], inner: Callable[[], Node]) -> Node:
        left = inner()
        while tok := self.accept(*ops):
            op = tok[1].upper()
            op = {"||": "OR", "&&": "AND"}.get(op, op)
            left = Node("binop", op, (left, inner()), tok[2])
        return left

    def or_(self) -> Node:
        return self.binary(("OR", "||"), self.and_)

    def and_(self) -> Node:
        return self.binary(("AND", "&&"), self.not_)

    def not_(self) -> Node:
        if tok := self.accept("NOT", "!"):
            return Node("unop", "NOT", (self.not_(),), tok[2])
        return self.compare()

    def compare(self) -> Node:
        return self.binary(("==", "!=", "<=", ">=", "<", ">"), self.additive)

    def additive(self) -> Node:
        return self.binary(("+", "-"), self.term)

    def term(self) -> Node:
        return self.binary(("*", "/"), self.power)

    def power(self) -> Node:
        base = self.unary()
        if tok := self.accept("^"):
            return Node("binop", "^", (base, self.power()), tok[2])
        return base

    def unary(self) -> Node:
        if tok := self.accept("-"):
            return Node("unop", "-", (self.unary(),), tok[2])
        if self.accept("+"):
            return self.unary()
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error(len(self.text), "the expression ends early")
        kind, text, pos = tok
        self.i += 1
        if kind == "number":
            return Node("num", float(text), position=pos)
        if kind == "string":
            return Node("str", bytes(text[1:-1], "utf-8").decode("unicode_escape"), position=pos)
        if kind == "op" and text == "(":
            inner = self.or_()
            self.expect(")")
            return inner
        if kind == "op" and text == "[":
            items = [] if self.accept("]") else self.items("]")
            return Node("array", None, tuple(items), pos)
        if kind == "name":
            if self.accept("("):
                args = [] if self.accept(")") else self.items(")")
                return Node("call", text.upper(), tuple(args), pos)
            if text in ("REPEAT", "LINEAR"):
                return Node("str", text, position=pos)
            return Node("id", text, position=pos)
        raise self.error(pos, f"unexpected {text!r}")

    def items(self, close: str) -> list[Node]:
        items = [self.or_()]
        while self.accept(","):
            items.append(self.or_())
        self.expect(close)
        return items


def parse_expression(text: str, where: str = "Expression") -> Node:
    """The syntax tree of a metric math expression (errors point at the character)."""
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: the expression is empty")
    return _Parser(text, where).parse()


def _ids(node: Node) -> set[str]:
    out = {node.value} if node.kind == "id" else set()
    for child in node.args:
        out |= _ids(child)
    return out


def _calls(node: Node) -> list[Node]:
    out = [node] if node.kind == "call" else []
    for child in node.args:
        out.extend(_calls(child))
    return out


# ---------------------------------------------------------------------------------------------
# validation


def validate_metrics(d: dict[str, Any]) -> None:
    """Check an alarm's `Metrics` array (PutMetricAlarm's rules), in place."""
    name = d["AlarmName"]
    if d.get("Dimensions") == []:
        del d["Dimensions"]  # describe-alarms prints an empty list for math alarms
    for key in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions"):
        if d.get(key):
            raise UserError(f"Alarm {name!r}: give either Metrics or {key}, not both")
    items = d["Metrics"]
    if not isinstance(items, list) or not items:
        raise UserError(f"Alarm {name!r}: Metrics must be a non-empty list")
    from loglake.monitor.alarms import validate_period

    seen: dict[str, dict] = {}
    periods = set()
    for q in items:
        qid = q.get("Id") if isinstance(q, Mapping) else None
        if not isinstance(qid, str) or not _ID.match(qid):
            raise UserError(
                f"Alarm {name!r}: Metrics Id {qid!r} must start with a lower-case letter"
            )
        if qid in seen:
            raise UserError(f"Alarm {name!r}: Metrics Id {qid!r} is used twice")
        where = f"Alarm {name!r}, {qid}"
        if ("MetricStat" in q) == ("Expression" in q):
            raise UserError(f"{where}: give exactly one of MetricStat or Expression")
        if "MetricStat" in q:
            ms = q["MetricStat"]
            metric = ms.get("Metric") or {}
            if not metric.get("Namespace") or not metric.get("MetricName"):
                raise UserError(f"{where}: MetricStat.Metric needs Namespace and MetricName")
            stat = ms.get("Stat")
            if stat not in STATISTICS and not _PERCENTILE.match(str(stat)):
                raise UserError(f"{where}: Stat must be one of {', '.join(STATISTICS)} or pNN")
            periods.add(validate_period(name, ms.get("Period")))
        else:
            tree = parse_expression(q["Expression"], where)
            for ref in _ids(tree):
                if ref not in seen:
                    raise UserError(f"{where}: {ref!r} is not the Id of an earlier metric")
            for call in _calls(tree):
                if call.value not in FUNCTIONS:
                    raise UserError(
                        f"{where}: unknown function {call.value}() at character "
                        f"{call.position + 1} (supported: {', '.join(sorted(FUNCTIONS))})"
                    )
                if call.value == "SEARCH":
                    if len(call.args) != 3 or call.args[2].kind != "num":
                        raise UserError(f"{where}: SEARCH takes (expression, statistic, period)")
                    periods.add(validate_period(name, int(call.args[2].value)))
            if "Period" in q:
                periods.add(validate_period(name, q["Period"]))
        seen[qid] = q
    stats = sum("MetricStat" in q for q in items)
    if stats > MAX_METRICS:
        raise UserError(f"Alarm {name!r}: at most {MAX_METRICS} metrics (MetricStat items)")
    if len(periods) > 1:
        raise UserError(f"Alarm {name!r}: all metrics of an alarm must have the same period")
    returned = [q["Id"] for q in items if q.get("ReturnData", True)]
    band_id = d.get("ThresholdMetricId")
    bands = [
        q["Id"] for q in items if "ANOMALY_DETECTION_BAND" in str(q.get("Expression", "")).upper()
    ]
    if bands and not band_id:
        raise UserError(
            f"Alarm {name!r}: an ANOMALY_DETECTION_BAND ({bands[0]}) is compared through "
            "ThresholdMetricId; band operators need ThresholdMetricId"
        )
    if band_id:
        band = seen.get(band_id)
        if band is None or "Expression" not in band:
            raise UserError(f"Alarm {name!r}: ThresholdMetricId {band_id!r} names no expression")
        tree = parse_expression(band["Expression"])
        if tree.kind != "call" or tree.value != "ANOMALY_DETECTION_BAND":
            raise UserError(
                f"Alarm {name!r}: ThresholdMetricId must name an ANOMALY_DETECTION_BAND expression"
            )
        returned = [r for r in returned if r != band_id]
    if len(returned) != 1:
        raise UserError(
            f"Alarm {name!r}: exactly one item of Metrics (besides the band) must have "
            f"ReturnData true; found {len(returned)}"
        )


def result_id(d: Mapping[str, Any]) -> str:
    band = d.get("ThresholdMetricId")
    return next(q["Id"] for q in d["Metrics"] if q.get("ReturnData", True) and q["Id"] != band)


# ---------------------------------------------------------------------------------------------
# evaluation on the grid


@dataclass
class _Context:
    definition: Mapping[str, Any]
    metrics: pl.LazyFrame
    step: int
    window: int
    lo: int
    hi: int
    columns: list[pl.LazyFrame]
    arrays: dict[str, list[str]]
    stat_ids: list[str]
    catalogue: pl.DataFrame | None = None
    band: tuple[str, float] | None = None

    def add(self, name: str, series: pl.LazyFrame) -> None:
        self.columns.append(series.select("j", pl.col("value").alias(name)))

    def search(self, node: Node, where: str) -> list[str]:
        text, stat, period = (a.value for a in node.args)
        if int(period) != self.window * self.step:
            raise UserError(f"{where}: SEARCH period {int(period)} differs from the alarm's")
        if self.catalogue is None:
            self.catalogue = (
                self.metrics.select("namespace", "metric_name", "dimensions").unique().collect()
            )
        matcher = search_matcher(str(text), where)
        names = []
        for k, row in enumerate(sorted(self.catalogue.iter_rows(named=True), key=str)):
            if matcher(row["namespace"], row["metric_name"], row["dimensions"]):
                ref = MetricRef(row["namespace"], row["metric_name"], row["dimensions"], stat)
                column = f"__search{len(self.columns)}_{k}"
                self.add(
                    column,
                    stat_series(
                        metric_rows(self.metrics, ref),
                        stat,
                        self.step,
                        self.window,
                        self.lo,
                        self.hi,
                    ),
                )
                names.append(column)
        return names


_SCHEMA = re.compile(r"^\s*\{(?P<schema>[^}]*)\}\s*")
_TERM = re.compile(r"""\s*(?:(?P<key>[A-Za-z0-9_.:/-]+)\s*=\s*)?(?P<value>"[^"]*"|[^\s"]+)""")


def search_matcher(text: str, where: str) -> Callable[[str, str, str], bool]:
    """A SEARCH expression: `{Namespace,Dim1,...} MetricName="x" Dim1=v word ...` (AND only).

    The schema names the namespace and exactly the dimension names a metric must have;
    `Key=value` matches the metric name or a dimension exactly; a bare word or quoted phrase must
    appear (case-insensitive) in the namespace, metric name or a dimension name or value.
    """
    import orjson

    schema = _SCHEMA.match(text)
    namespace, dims = None, None
    rest = text
    if schema:
        parts = [p.strip().strip('"') for p in schema["schema"].split(",")]
        namespace, dims = parts[0], set(parts[1:])
        rest = text[schema.end() :]
    terms = []
    pos = 0
    while rest[pos:].strip():
        m = _TERM.match(rest, pos)
        if not m:
            raise UserError(f"{where}: cannot read the SEARCH expression near {rest[pos:]!r}")
        value = m["value"].strip('"')
        if m["key"] is None and value.upper() in ("AND", "OR", "NOT"):
            if value.upper() != "AND":
                raise UserError(f"{where}: SEARCH supports terms joined by AND only")
        else:
            terms.append((m["key"], value))
        pos = m.end()

    def matches(ns: str, metric: str, dimensions: str) -> bool:
        pairs = orjson.loads(dimensions)
        if namespace is not None and (ns != namespace or set(pairs) != dims):
            return False
        for key, value in terms:
            if key is None:
                words = [ns, metric, *pairs.keys(), *pairs.values()]
                if not any(value.lower() in w.lower() for w in words):
                    return False
            elif key == "MetricName":
                if metric != value:
                    return False
            elif key == "Namespace":
                if ns != value:
                    return False
            elif pairs.get(key) != value:
                return False
        return True

    return matches


def _previous(column: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """The latest earlier datapoint of the same phase: (value, steps back to it)."""
    value = column.forward_fill().shift(1).over("__phase")
    at = pl.when(column.is_not_null()).then(pl.col("j")).forward_fill().shift(1).over("__phase")
    return value, pl.col("j") - at


def _series(ctx: _Context, value: Any, where: str, what: str) -> pl.Expr:
    if isinstance(value, list):
        raise UserError(
            f"{where}: {what} gives several series here; reduce them to one, e.g. SUM(...)"
        )
    return value if isinstance(value, pl.Expr) else pl.lit(float(value))


def _reduce(how: str) -> Callable[[list[pl.Expr]], pl.Expr]:
    def go(items: list[pl.Expr]) -> pl.Expr:
        if not items:
            return pl.lit(None, dtype=pl.Float64)
        if how == "SUM":
            count = pl.sum_horizontal([e.is_not_null() for e in items])
            return pl.when(count > 0).then(pl.sum_horizontal(items))
        if how == "AVG":
            return pl.mean_horizontal(items)
        if how == "MIN":
            return pl.min_horizontal(items)
        if how == "MAX":
            return pl.max_horizontal(items)
        mean = pl.mean_horizontal(items)
        count = pl.sum_horizontal([e.is_not_null() for e in items])
        squares = pl.sum_horizontal([(e - mean) ** 2 for e in items])
        return pl.when(count > 1).then((squares / (count - 1)).sqrt())

    return go


def _compile(ctx: _Context, node: Node, where: str) -> Any:
    """A float, a Polars expression (one series) or a list of expressions (an array)."""
    if node.kind == "num":
        return node.value
    if node.kind == "str":
        return node.value
    if node.kind == "id":
        if node.value in ctx.arrays:
            return [pl.col(c) for c in ctx.arrays[node.value]]
        return pl.col(node.value)
    if node.kind == "array":
        out: list[pl.Expr] = []
        for item in node.args:
            v = _compile(ctx, item, where)
            out.extend(v if isinstance(v, list) else [_series(ctx, v, where, "an array item")])
        return out
    if node.kind == "unop":
        v = _compile(ctx, node.args[0], where)
        if not isinstance(v, list | pl.Expr):
            return -float(v) if node.value == "-" else float(float(v) == 0)
        fn = (lambda e: -e) if node.value == "-" else (lambda e: (e == 0).cast(pl.Float64))
        return [fn(e) for e in v] if isinstance(v, list) else fn(v)
    if node.kind == "binop":
        return _binary(
            node.value,
            _compile(ctx, node.args[0], where),
            _compile(ctx, node.args[1], where),
        )
    return FUNCTIONS[node.value](ctx, node, where)


def _apply(op: str, a: pl.Expr, b: pl.Expr) -> pl.Expr:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return pl.when(b != 0).then(a / b)
    if op == "^":
        return a.pow(b)
    if op in ("AND", "OR"):
        both = (a != 0) & (b != 0) if op == "AND" else (a != 0) | (b != 0)
        return pl.when(a.is_not_null() & b.is_not_null()).then(both.cast(pl.Float64))
    compare = {
        "==": a == b,
        "!=": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[op]
    return compare.cast(pl.Float64)


def _binary(op: str, left: Any, right: Any) -> Any:
    def expr(v: Any) -> pl.Expr:
        return v if isinstance(v, pl.Expr) else pl.lit(float(v))

    if isinstance(left, list) or isinstance(right, list):
        lefts = left if isinstance(left, list) else None
        rights = right if isinstance(right, list) else None
        if lefts is not None and rights is not None:
            raise UserError(f"metric math: {op} between two arrays is not supported")
        if lefts is not None:
            return [_apply(op, e, expr(right)) for e in lefts]
        return [_apply(op, expr(left), e) for e in rights or []]
    if isinstance(left, float) and isinstance(right, float):
        return pl.select(_apply(op, pl.lit(left), pl.lit(right))).item()
    return _apply(op, expr(left), expr(right))


def _args(node: Node, where: str, low: int, high: int) -> None:
    if not low <= len(node.args) <= high:
        span = str(low) if low == high else f"{low} to {high}"
        raise UserError(f"{where}: {node.value}() takes {span} arguments")


def _per_series(fn: Callable[[pl.Expr], pl.Expr]) -> Callable[[_Context, Node, str], Any]:
    def go(ctx: _Context, node: Node, where: str) -> Any:
        _args(node, where, 1, 1)
        v = _compile(ctx, node.args[0], where)
        if isinstance(v, list):
            return [fn(e) for e in v]
        return fn(_series(ctx, v, where, node.value))

    return go


def _aggregate(how: str) -> Callable[[_Context, Node, str], Any]:
    def go(ctx: _Context, node: Node, where: str) -> Any:
        _args(node, where, 1, 1)
        v = _compile(ctx, node.args[0], where)
        if not isinstance(v, list):
            raise UserError(
                f"{where}: {how}() of one series is a single number in CloudWatch; alarms need a "
                f"series: give an array, e.g. {how}([m1, m2]) or {how}(METRICS())"
            )
        return _reduce(how)(v)

    return go


def _fill(ctx: _Context, node: Node, where: str) -> Any:
    _args(node, where, 2, 2)
    v = _compile(ctx, node.args[0], where)
    how = _compile(ctx, node.args[1], where)

    def fill(e: pl.Expr) -> pl.Expr:
        if how == "REPEAT":
            return e.forward_fill().backward_fill().over("__phase")
        if how == "LINEAR":
            return e.interpolate().forward_fill().backward_fill().over("__phase")
        if isinstance(how, str):
            raise UserError(f"{where}: FILL takes a number, REPEAT or LINEAR")
        return e.fill_null(how if isinstance(how, pl.Expr) else float(how))

    return [fill(e) for e in v] if isinstance(v, list) else fill(_series(ctx, v, where, "FILL"))


def _rate(kind: str) -> Callable[[_Context, Node, str], Any]:
    def go(ctx: _Context, node: Node, where: str) -> Any:
        _args(node, where, 1, 1)

        def one(e: pl.Expr) -> pl.Expr:
            before, back = _previous(e)
            if kind == "DIFF":
                return e - before
            if kind == "DIFF_TIME":
                return pl.when(e.is_not_null()).then((back * ctx.step).cast(pl.Float64))
            return (e - before) / (back * ctx.step).cast(pl.Float64)

        v = _compile(ctx, node.args[0], where)
        return [one(e) for e in v] if isinstance(v, list) else one(_series(ctx, v, where, kind))

    return go


def _if(ctx: _Context, node: Node, where: str) -> Any:
    _args(node, where, 2, 3)
    cond = _series(ctx, _compile(ctx, node.args[0], where), where, "IF's condition")
    yes = _compile(ctx, node.args[1], where)
    no = _compile(ctx, node.args[2], where) if len(node.args) == 3 else None

    def pick(a: Any, b: Any) -> pl.Expr:
        a = _series(ctx, a, where, "IF")
        out = pl.when(cond.is_not_null() & (cond != 0)).then(a)
        if b is None:
            return out
        return out.when(cond.is_not_null()).then(_series(ctx, b, where, "IF"))

    if isinstance(yes, list):
        return [pick(e, no) for e in yes]
    return pick(yes, no)


def _metrics(ctx: _Context, node: Node, where: str) -> Any:
    _args(node, where, 0, 1)
    if node.args:
        text = _compile(ctx, node.args[0], where)
        if not isinstance(text, str):
            raise UserError(f"{where}: METRICS() takes a string")
        return [pl.col(i) for i in ctx.stat_ids if text in i]
    return [pl.col(i) for i in ctx.stat_ids]


def _search(ctx: _Context, node: Node, where: str) -> Any:
    return [pl.col(c) for c in ctx.search(node, where)]


def _insight_rule_metric(ctx: _Context, node: Node, where: str) -> Any:
    """A Contributor Insights rule's metric per period (monitor/contributors.py writes them)."""
    from loglake.monitor.contributors import NAMESPACE, RULE_METRICS

    _args(node, where, 2, 2)
    rule, metric = (_compile(ctx, a, where) for a in node.args)
    if not isinstance(rule, str) or metric not in RULE_METRICS:
        raise UserError(
            f"{where}: INSIGHT_RULE_METRIC takes (rule name, one of {', '.join(RULE_METRICS)})"
        )
    ref = MetricRef(NAMESPACE, metric, dimensions_key({"RuleName": rule}), RULE_METRICS[metric])
    column = f"__rule{len(ctx.columns)}"
    rows = metric_rows(ctx.metrics, ref)
    ctx.add(column, stat_series(rows, ref.stat, ctx.step, ctx.window, ctx.lo, ctx.hi))
    return pl.col(column)


def _period(ctx: _Context, node: Node, where: str) -> Any:
    _args(node, where, 1, 1)
    return float(ctx.window * ctx.step)


def _band(ctx: _Context, node: Node, where: str) -> Any:
    _args(node, where, 2, 2)
    source, width = node.args
    if width.kind != "num":
        raise UserError(f"{where}: ANOMALY_DETECTION_BAND takes (metric id, number of deviations)")
    if source.kind != "id":
        raise UserError(f"{where}: ANOMALY_DETECTION_BAND takes the Id of a metric")
    ctx.band = (source.value, float(width.value))
    return pl.col(source.value)


FUNCTIONS: dict[str, Callable[[_Context, Node, str], Any]] = {
    "ABS": _per_series(lambda e: e.abs()),
    "CEIL": _per_series(lambda e: e.ceil()),
    "FLOOR": _per_series(lambda e: e.floor()),
    "LOG": _per_series(lambda e: pl.when(e > 0).then(e.log())),
    "LOG10": _per_series(lambda e: pl.when(e > 0).then(e.log10())),
    "SUM": _aggregate("SUM"),
    "AVG": _aggregate("AVG"),
    "MIN": _aggregate("MIN"),
    "MAX": _aggregate("MAX"),
    "STDDEV": _aggregate("STDDEV"),
    "FILL": _fill,
    "RATE": _rate("RATE"),
    "DIFF": _rate("DIFF"),
    "DIFF_TIME": _rate("DIFF_TIME"),
    "IF": _if,
    "METRICS": _metrics,
    "SEARCH": _search,
    "INSIGHT_RULE_METRIC": _insight_rule_metric,
    "PERIOD": _period,
    "ANOMALY_DETECTION_BAND": _band,
}


def math_series(
    definition: Mapping[str, Any], metrics: pl.LazyFrame, step: int, lo: int, hi: int
) -> pl.LazyFrame:
    """The alarm's datapoint grid (j, value[, lower, upper], count) for rows lo..hi."""
    from loglake.monitor.alarms import alarm_period

    period = alarm_period(definition)
    window = period // step
    band_id = definition.get("ThresholdMetricId")
    start = lo - (TRAINING_WEEKS * 7 + 1) * 86_400 // step if band_id else lo
    items: Sequence[Mapping[str, Any]] = definition["Metrics"]
    ctx = _Context(
        definition,
        metrics,
        step,
        window,
        start,
        hi,
        [],
        {},
        [q["Id"] for q in items if "MetricStat" in q],
    )
    for q in items:
        if "MetricStat" in q:
            ms = q["MetricStat"]
            m = ms["Metric"]
            ref = MetricRef(
                m["Namespace"],
                m["MetricName"],
                dimensions_key(m.get("Dimensions")),
                ms["Stat"],
                ms.get("Unit"),
            )
            ctx.add(
                q["Id"],
                stat_series(metric_rows(metrics, ref), ms["Stat"], step, window, start, hi),
            )
    grid = pl.LazyFrame({"j": pl.int_range(start, hi + 1, eager=True, dtype=pl.Int64)})
    for column in ctx.columns:
        grid = grid.join(column, on="j", how="left")
    grid = grid.sort("j").with_columns((pl.col("j") % window).alias("__phase"))
    result = result_id(definition)
    for q in items:
        if "Expression" not in q:
            continue
        where = f"Alarm {definition['AlarmName']!r}, {q['Id']}"
        value = _compile(ctx, parse_expression(q["Expression"], where), where)
        if q["Id"] == band_id:
            continue
        # columns that compiling added (SEARCH results) join the grid first
        present = set(grid.collect_schema().names())
        for column in ctx.columns:
            name = column.collect_schema().names()[1]
            if name not in present:
                grid = grid.join(column, on="j", how="left").sort("j")
        if isinstance(value, list):
            if q["Id"] == result:
                _series(ctx, value, where, "the alarm's expression")
            for k, e in enumerate(value):
                grid = grid.with_columns(e.alias(f"__{q['Id']}_{k}"))
            ctx.arrays[q["Id"]] = [f"__{q['Id']}_{k}" for k in range(len(value))]
            continue
        expr = value if isinstance(value, pl.Expr) else pl.lit(float(value))
        grid = grid.with_columns(expr.cast(pl.Float64).alias(q["Id"]))
    out = grid.select("j", pl.col(result).alias("value"), pl.lit(None, pl.Float64).alias("count"))
    if band_id:
        band_expr = next(q["Expression"] for q in items if q["Id"] == band_id)
        where = f"Alarm {definition['AlarmName']!r}, {band_id}"
        _compile(ctx, parse_expression(band_expr, where), where)
        assert ctx.band is not None
        source, width = ctx.band
        out = out.join(
            anomaly_band(grid.select("j", pl.col(source).alias("x")), step, period, width),
            on="j",
            how="left",
        )
    return out.filter(pl.col("j") >= lo).sort("j")


def anomaly_band(series: pl.LazyFrame, step: int, period: int, width: float) -> pl.LazyFrame:
    """Columns j, lower, upper: loglake's band (see the module docstring) for series `x`."""
    begins = (pl.col("j") + 1) * step - period  # period start, epoch seconds
    keyed = series.with_columns(
        (begins // 86_400).alias("day"),
        ((begins // 3_600 + 72) % 168).alias("hour_of_week"),  # 1970-01-01 was a Thursday
    )
    training = (
        keyed.filter(pl.col("x").is_not_null())
        .with_columns(
            pl.concat_list([pl.col("day") + 7 * (w + 1) for w in range(TRAINING_WEEKS)]).alias(
                "for_day"
            )
        )
        .explode("for_day")
        .group_by("for_day", "hour_of_week")
        .agg(
            pl.len().alias("n"),
            pl.col("x").median().alias("center"),
            (pl.col("x") - pl.col("x").median()).abs().median().alias("mad"),
            (pl.col("x") - pl.col("x").median()).abs().mean().alias("meanad"),
        )
        .filter(pl.col("n") >= MIN_TRAINING_VALUES)
        .with_columns(
            pl.when(pl.col("mad") > 0)
            .then(1.4826 * pl.col("mad"))
            .otherwise(1.2533 * pl.col("meanad"))
            .alias("spread")
        )
    )
    return keyed.join(
        training,
        left_on=["day", "hour_of_week"],
        right_on=["for_day", "hour_of_week"],
        how="left",
    ).select(
        "j",
        (pl.col("center") - width * pl.col("spread")).alias("lower"),
        (pl.col("center") + width * pl.col("spread")).alias("upper"),
    )
