"""Alarm semantics as pure functions: M-of-N evaluation with TreatMissingData, composite rules.

`evaluate_alarm` follows the rules and the outcome tables of CloudWatch's "Configuring how
CloudWatch alarms treat missing data" page (see docs/monitor.md for the model used where the page
is silent). Nothing here reads storage, so the watch loop and the tests call the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loglake.errors import UserError

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
STATES = (OK, ALARM, INSUFFICIENT_DATA)
OPERATORS = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
#: anomaly-detection operators compare a datapoint with the band (lower, upper) of its period
BAND_OPERATORS = {
    "LessThanLowerOrGreaterThanUpperThreshold": (
        "outside the band",
        lambda v, band: v < band[0] or v > band[1],
    ),
    "GreaterThanUpperThreshold": ("greater than the upper threshold", lambda v, b: v > b[1]),
    "LessThanLowerThreshold": ("less than the lower threshold", lambda v, b: v < b[0]),
}
TREAT_MISSING = ("missing", "ignore", "breaching", "notBreaching")
BASIC_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?|100(\.0+)?)$")


def evaluation_range(evaluation_periods: int) -> int:
    """How many periods CloudWatch looks back: more than N, so sparse data can still decide."""
    return evaluation_periods + max(evaluation_periods // 3, 2)


def alarm_period(definition: Mapping[str, Any]) -> int:
    """The period an alarm evaluates: its own, or the one its Metrics queries share."""
    if "Metrics" not in definition:
        return int(definition["Period"])
    periods = {
        int(q["MetricStat"]["Period"]) for q in definition["Metrics"] if "MetricStat" in q
    } | {int(q["Period"]) for q in definition["Metrics"] if "Expression" in q and "Period" in q}
    return periods.pop() if periods else 60


def validate_alarm(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Check a PutMetricAlarm request and fill CloudWatch's defaults."""
    if not isinstance(definition, Mapping):
        raise UserError("An alarm definition must be a JSON object")
    name = definition.get("AlarmName")
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise UserError("AlarmName must be 1-255 characters")
    d = {k: v for k, v in definition.items() if v is not None}
    if "AlarmRule" in d:  # PutCompositeAlarm
        parse_rule(d["AlarmRule"])
        d.setdefault("ActionsEnabled", True)
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            d.setdefault(key, [])
        return d
    if "Metrics" in d:
        from loglake.monitor.mathexpr import validate_metrics

        validate_metrics(d)
    else:
        _validate_single_metric(d)
    period = alarm_period(d)
    n = d.get("EvaluationPeriods")
    if not isinstance(n, int) or n < 1:
        raise UserError(f"Alarm {name!r}: EvaluationPeriods must be at least 1")
    limit = 86_400 if period < 3600 else 604_800
    if period * n > limit:
        raise UserError(f"Alarm {name!r}: Period x EvaluationPeriods must be at most {limit} s")
    m = d.setdefault("DatapointsToAlarm", n)
    if not isinstance(m, int) or m < 1:
        raise UserError(f"Alarm {name!r}: DatapointsToAlarm must be at least 1")
    operator = d.get("ComparisonOperator")
    if d.get("ThresholdMetricId"):
        if operator not in BAND_OPERATORS:
            raise UserError(
                f"Alarm {name!r}: an alarm on a band (ThresholdMetricId) takes one of "
                f"{', '.join(BAND_OPERATORS)}"
            )
        d.pop("Threshold", None)
    else:
        if operator not in OPERATORS:
            raise UserError(
                f"Alarm {name!r}: ComparisonOperator must be one of {', '.join(OPERATORS)}"
                + (" (band operators need ThresholdMetricId)" if operator in BAND_OPERATORS else "")
            )
        threshold = d.get("Threshold")
        if not isinstance(threshold, int | float) or isinstance(threshold, bool):
            raise UserError(f"Alarm {name!r}: Threshold must be a number")
        d["Threshold"] = float(threshold)
    treat = d.setdefault("TreatMissingData", "missing")
    if treat not in TREAT_MISSING:
        raise UserError(f"Alarm {name!r}: TreatMissingData must be one of {TREAT_MISSING}")
    d.setdefault("ActionsEnabled", True)
    if "Metrics" not in d:
        d.setdefault("Dimensions", [])
    for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
        d.setdefault(key, [])
        if len(d[key]) > 5:
            raise UserError(f"Alarm {name!r}: at most 5 {key}")
    return d


def validate_period(name: str, period: Any) -> int:
    """Periods CloudWatch accepts: 10, 20, 30 (high resolution) or a multiple of 60 seconds."""
    if (
        not isinstance(period, int)
        or isinstance(period, bool)
        or period <= 0
        or not (period in (10, 20, 30) or period % 60 == 0)
    ):
        raise UserError(f"Alarm {name!r}: Period must be 10, 20, 30 or a multiple of 60 seconds")
    return period


def _validate_single_metric(d: dict[str, Any]) -> None:
    name = d["AlarmName"]
    for key in ("MetricName", "Namespace"):
        if not d.get(key):
            raise UserError(f"Alarm {name!r}: {key} is required (or give Metrics)")
    if ("Statistic" in d) == ("ExtendedStatistic" in d):
        raise UserError(f"Alarm {name!r}: give exactly one of Statistic or ExtendedStatistic")
    if "Statistic" in d and d["Statistic"] not in BASIC_STATISTICS:
        raise UserError(f"Alarm {name!r}: unknown Statistic {d['Statistic']!r}")
    if "ExtendedStatistic" in d and not _PERCENTILE.match(str(d["ExtendedStatistic"])):
        raise UserError(
            f"Alarm {name!r}: ExtendedStatistic must be a percentile pNN "
            f"(got {d['ExtendedStatistic']!r})"
        )
    validate_period(name, d.get("Period"))


@dataclass
class Evaluation:
    """The outcome of one evaluation: the state and the datapoints that decided it."""

    state: str
    reason: str
    evaluated: list[tuple[int, float]] = field(default_factory=list)  # (index in range, value)
    filled: int = 0
    reason_data: dict[str, Any] = field(default_factory=dict)


def format_value(v: float) -> str:
    """A number as reason texts show it (Python's shortest repr)."""
    return repr(float(v))


def _fmt_time(ts: datetime | None) -> str:
    # `%d/%m/%y %H:%M:%S` spelled out: strftime was a tenth of a long replay's time
    if ts is None:
        return ""
    return (
        f" ({ts.day:02d}/{ts.month:02d}/{ts.year % 100:02d} "
        f"{ts.hour:02d}:{ts.minute:02d}:{ts.second:02d})"
    )


def evaluate_alarm_detail(
    definition: Mapping[str, Any],
    datapoints: Sequence[float | None],
    current_state: str = INSUFFICIENT_DATA,
    timestamps: Sequence[datetime] | None = None,
    bands: Sequence[tuple[float, float] | None] | None = None,
) -> Evaluation:
    """Like `evaluate_alarm`, with the reason text and the datapoints that caused the state.

    For an anomaly-detection alarm `bands` holds each period's (lower, upper) band; a period
    without a band counts as missing.
    """
    n = int(definition.get("EvaluationPeriods", 1))
    m = int(definition.get("DatapointsToAlarm") or n)
    treat = definition.get("TreatMissingData") or "missing"
    op_name = definition.get("ComparisonOperator", "GreaterThanOrEqualToThreshold")
    banded = op_name in BAND_OPERATORS
    if banded and bands is None:
        raise UserError(f"{op_name} compares with a band: give the bands")
    if op_name not in OPERATORS and not banded:
        raise UserError(f"Unsupported ComparisonOperator {op_name!r}")
    words, op = BAND_OPERATORS[op_name] if banded else OPERATORS[op_name]
    threshold = None if banded else float(definition["Threshold"])
    if treat not in TREAT_MISSING:
        raise UserError(f"TreatMissingData must be one of {TREAT_MISSING}")
    points = list(datapoints)
    if banded:
        assert bands is not None
        points = [None if bands[i] is None else p for i, p in enumerate(points)]

    def band(i: int) -> tuple[float, float]:
        """The band of a period with a datapoint (a period without a band has none)."""
        found = None if bands is None else bands[i]
        if found is None:
            raise ValueError(f"period {i} has no band")
        return found

    def breaches(i: int, v: float) -> bool:
        return bool(op(v, band(i) if banded else threshold))

    def when(i: int) -> datetime | None:
        return None if timestamps is None else timestamps[i]

    newest_first = list(range(len(points) - 1, -1, -1))
    real = [(i, float(p)) for i in newest_first if (p := points[i]) is not None]

    def limit_text() -> str:  # a threshold is given unless the alarm compares with a band
        return "the band" if threshold is None else f"the threshold ({format_value(threshold)})"

    def reason_for(used: list[tuple[int, float]], alarm: bool, total: int, filled: int = 0):
        shown = ", ".join(f"{format_value(v)}{_fmt_time(when(i))}" for i, v in used)
        nb = sum(breaches(i, v) for i, v in used) + (filled if treat == "breaching" else 0)
        cmp_words = words if alarm else f"not {words}"
        count = nb if alarm else total - nb
        if total == 1 and filled == 0:
            head = f"1 datapoint [{shown}] was {cmp_words}"
        elif count == total and filled == 0:
            head = f"{total} datapoints [{shown}] were {cmp_words}"
        else:
            head = f"{count} out of the last {total} datapoints [{shown}] were {cmp_words}"
        if banded:
            text = f"Thresholds Crossed: {head}."
            shown_bands = ", ".join(
                f"[{format_value(band(i)[0])}, {format_value(band(i)[1])}]" for i, _ in used
            )
            if shown_bands:
                text = text[:-1] + f" of {shown_bands}."
        else:
            text = f"Threshold Crossed: {head} {limit_text()}."
        if filled:
            kind = "Breaching" if treat == "breaching" else "NonBreaching"
            text = text[:-1] + f" and {filled} missing datapoints were treated as [{kind}]."
        if alarm and total > 1:
            text = text[:-1] + f" (minimum {m} datapoints for OK -> ALARM transition)."
        return text

    def decided(state: str, used, filled=0, reason=None) -> Evaluation:
        if state == current_state and reason is None and treat == "ignore" and not used:
            reason = "Unchanged: the decision rests on missing data (TreatMissingData=ignore)."
        data: dict[str, Any] = {
            "version": "1.0",
            "recentDatapoints": [v for _, v in used],
            "evaluatedDatapoints": [
                {
                    "index": i,
                    "value": v,
                    "timestamp": None if (at := when(i)) is None else at.isoformat(),
                }
                for i, v in used
            ],
        }
        if banded:
            data["recentUpperThresholds"] = [band(i)[1] for i, _ in used]
            data["recentLowerThresholds"] = [band(i)[0] for i, _ in used]
        else:
            data["threshold"] = threshold
        return Evaluation(
            state,
            reason or reason_for(used, state == ALARM, len(used) + filled, filled),
            list(used),
            filled,
            data,
        )

    if not real:
        if treat == "missing":
            return decided(
                INSUFFICIENT_DATA,
                [],
                reason=f"Insufficient Data: no datapoints were received for {len(points)} periods.",
            )
        if treat == "ignore":
            return decided(
                current_state,
                [],
                reason="Unchanged: no datapoints were received (TreatMissingData=ignore).",
            )
        state = ALARM if treat == "breaching" and m <= n else OK
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        return decided(
            state,
            [],
            filled=n,
            reason=f"Threshold Crossed: no datapoints were received for {n} periods and {n} "
            f"missing datapoints were treated as [{kind}].",
        )
    if len(real) >= n:
        used = real[:n]
        nb = sum(breaches(i, v) for i, v in used)
        return decided(ALARM if nb >= m else OK, used)
    if treat in ("breaching", "notBreaching"):
        fill = n - len(real)
        nb = sum(breaches(i, v) for i, v in real) + (fill if treat == "breaching" else 0)
        return decided(ALARM if nb >= m else OK, real, filled=fill)
    # missing / ignore with fewer than N real points in the range
    if m - 1 < len(newest_first):
        pivot = newest_first[m - 1]
        pivot_value = points[pivot]
        if (
            pivot_value is not None
            and breaches(pivot, float(pivot_value))
            and all(points[i] is None for i in newest_first[m:])
            and all(
                (p := points[i]) is None or breaches(i, float(p)) for i in newest_first[: m - 1]
            )
        ):
            if treat == "ignore":
                return decided(current_state, real, reason=reason_for(real, True, len(real)))
            return decided(ALARM, real)
    nb = sum(breaches(i, v) for i, v in real)
    if nb >= m:
        return decided(ALARM, real)
    if any(not breaches(i, v) for i, v in real):
        return decided(OK, real)
    if treat == "ignore":
        return decided(
            current_state,
            real,
            reason="Unchanged: too few datapoints to decide (TreatMissingData=ignore).",
        )
    return decided(
        INSUFFICIENT_DATA,
        real,
        reason=f"Insufficient Data: {len(real)} datapoint(s) in the last {len(points)} periods, "
        f"fewer than the {m} needed to alarm.",
    )


def evaluate_alarm(
    definition: Mapping[str, Any],
    datapoints: Sequence[float | None],
    current_state: str = INSUFFICIENT_DATA,
    bands: Sequence[tuple[float, float] | None] | None = None,
) -> str:
    """The alarm's new state given the whole evaluation range, oldest first (`None` = missing).

    `definition` uses PutMetricAlarm's field names (Threshold, ComparisonOperator,
    EvaluationPeriods, DatapointsToAlarm, TreatMissingData); `current_state` matters for `ignore`.
    """
    return evaluate_alarm_detail(definition, datapoints, current_state, bands=bands).state


# ---------------------------------------------------------------------------------------------
# Composite alarm rules

_RULE_TOKEN = re.compile(
    r"""\s*(?:
        (?P<func>ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"(?P<qname>[^"]*)"|(?P<name>[^()"]*?))\s*\)
      | (?P<const>TRUE|FALSE)\b
      | (?P<op>AND|OR|NOT)\b
      | (?P<paren>[()])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Rule:
    kind: str  # "state" | "const" | "not" | "and" | "or"
    value: Any = None
    children: tuple[_Rule, ...] = ()


def _alarm_name(ref: str) -> str:
    # An ARN arn:aws:cloudwatch:region:account:alarm:NAME names the alarm after "alarm:".
    m = re.match(r"^arn:[^:]+:cloudwatch:[^:]*:[^:]*:alarm:(.+)$", ref)
    return m.group(1) if m else ref


def parse_rule(rule: str) -> _Rule:
    """Parse an AlarmRule; NOT binds tightest, then AND, then OR."""
    if not isinstance(rule, str) or not rule.strip():
        raise UserError("AlarmRule must be a non-empty string")
    if len(rule) > 10_240:
        raise UserError("AlarmRule is longer than 10240 characters")
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(rule):
        if rule[pos:].strip() == "":
            break
        m = _RULE_TOKEN.match(rule, pos)
        if not m:
            snippet = rule[pos:].strip()[:20]
            raise UserError(f"Invalid AlarmRule near {snippet!r} (character {pos + 1})")
        if m.group("func"):
            name = m.group("qname") if m.group("qname") is not None else m.group("name")
            if not name:
                raise UserError(f"{m.group('func')}() needs an alarm name (character {pos + 1})")
            tokens.append(("state", (m.group("func"), _alarm_name(name.strip())), pos))
        elif m.group("const"):
            tokens.append(("const", m.group("const") == "TRUE", pos))
        elif m.group("op"):
            tokens.append((m.group("op"), None, pos))
        else:
            tokens.append((m.group("paren"), None, pos))
        pos = m.end()
    children = sum(t[0] == "state" for t in tokens)
    if children > 100:
        raise UserError("An AlarmRule may reference at most 100 alarms")
    i = 0

    def peek() -> str | None:
        return tokens[i][0] if i < len(tokens) else None

    def parse_or() -> _Rule:
        nonlocal i
        items = [parse_and()]
        while peek() == "OR":
            i += 1
            items.append(parse_and())
        return items[0] if len(items) == 1 else _Rule("or", children=tuple(items))

    def parse_and() -> _Rule:
        nonlocal i
        items = [parse_not()]
        while peek() == "AND":
            i += 1
            items.append(parse_not())
        return items[0] if len(items) == 1 else _Rule("and", children=tuple(items))

    def parse_not() -> _Rule:
        nonlocal i
        if peek() == "NOT":
            i += 1
            return _Rule("not", children=(parse_not(),))
        return parse_primary()

    def parse_primary() -> _Rule:
        nonlocal i
        if i >= len(tokens):
            raise UserError("AlarmRule ends unexpectedly")
        kind, value, p = tokens[i]
        if kind == "(":
            i += 1
            inner = parse_or()
            if peek() != ")":
                raise UserError(f"AlarmRule: missing ) for the ( at character {p + 1}")
            i += 1
            return inner
        if kind in ("state", "const"):
            i += 1
            return _Rule(kind, value)
        raise UserError(f"AlarmRule: unexpected {kind} at character {p + 1}")

    tree = parse_or()
    if i != len(tokens):
        raise UserError(f"AlarmRule: unexpected text at character {tokens[i][2] + 1}")
    return tree


def rule_children(rule: str) -> list[str]:
    """The alarm names an AlarmRule refers to."""
    out: list[str] = []

    def walk(node: _Rule) -> None:
        if node.kind == "state" and node.value[1] not in out:
            out.append(node.value[1])
        for c in node.children:
            walk(c)

    walk(parse_rule(rule))
    return out


def evaluate_composite_rule(rule: str, states: Mapping[str, str]) -> bool:
    """Is the AlarmRule TRUE for these child states? (TRUE puts the composite in ALARM.)

    `states` maps alarm names (or ARNs) to OK / ALARM / INSUFFICIENT_DATA.
    """
    by_name = {_alarm_name(k): v for k, v in states.items()}

    def ev(node: _Rule) -> bool:
        if node.kind == "const":
            return bool(node.value)
        if node.kind == "state":
            func, name = node.value
            if name not in by_name:
                raise UserError(f"AlarmRule refers to unknown alarm {name!r}")
            return by_name[name] == func
        if node.kind == "not":
            return not ev(node.children[0])
        if node.kind == "and":
            return all(ev(c) for c in node.children)
        return any(ev(c) for c in node.children)

    return ev(parse_rule(rule))
