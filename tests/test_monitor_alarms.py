"""Alarm evaluation: the documented TreatMissingData tables, M of N, reasons, composite rules."""

from __future__ import annotations

import pytest

from loglake.errors import UserError
from loglake.monitor import (
    evaluate_alarm,
    evaluate_alarm_detail,
    evaluate_composite_rule,
    validate_alarm,
)

TREATS = ("missing", "ignore", "breaching", "notBreaching")

# The documented tables (5 most recent points, oldest left; X breaching, 0 not, - missing).
TABLE_M3 = [
    ("0 - X - X", "OK OK OK OK"),
    ("0 - - - -", "OK OK OK OK"),
    ("- - - - -", "INSUFFICIENT_DATA keep ALARM OK"),
    ("0 X X - X", "ALARM ALARM ALARM ALARM"),
    ("- - X - -", "ALARM keep ALARM OK"),
    ("- - - - X", "INSUFFICIENT_DATA keep ALARM OK"),  # older revision of the page
]
TABLE_M2 = [
    ("0 - X - X", "ALARM ALARM ALARM ALARM"),
    ("0 0 X 0 X", "ALARM ALARM ALARM ALARM"),
    ("0 - X - -", "OK OK ALARM OK"),
    ("- - - - 0", "OK OK ALARM OK"),
    ("- - - X -", "ALARM keep ALARM OK"),
    ("- - - - X", "INSUFFICIENT_DATA keep ALARM OK"),
]


def points(text: str) -> list[float | None]:
    return [None if c == "-" else (7.0 if c == "X" else 0.0) for c in text.split()]


def definition(m: int, treat: str, n: int = 3) -> dict:
    return {
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": n,
        "DatapointsToAlarm": m,
        "TreatMissingData": treat,
    }


CASES = [
    (m, row, treat, expected)
    for m, table in ((3, TABLE_M3), (2, TABLE_M2))
    for row, outcomes in table
    for treat, expected in zip(TREATS, outcomes.split(), strict=True)
]


@pytest.mark.parametrize(("m", "row", "treat", "expected"), CASES)
@pytest.mark.parametrize("current", ["OK", "ALARM", "INSUFFICIENT_DATA"])
def test_treat_missing_data_table(m: int, row: str, treat: str, expected: str, current: str):
    want = current if expected == "keep" else expected
    assert evaluate_alarm(definition(m, treat), points(row), current) == want


@pytest.mark.parametrize(
    ("row", "m", "n", "expected"),
    [
        ("0 0 0 X X X", 3, 3, "ALARM"),
        ("0 0 X X X 0", 3, 3, "OK"),
        ("X 0 X 0 X", 2, 3, "ALARM"),  # 2 of the newest 3 breach
        ("X X 0 0 X", 2, 3, "OK"),
        ("X X X X X", 6, 5, "OK"),  # M > N never alarms
        ("0 0 0 0 X", 1, 1, "ALARM"),
        ("0 0 0 X 0", 1, 1, "OK"),
        ("X - X - 0", 2, 2, "OK"),  # newest 2 real points: 0 and X
        ("X - X - X", 2, 2, "ALARM"),
    ],
)
def test_m_out_of_n(row: str, m: int, n: int, expected: str) -> None:
    assert evaluate_alarm(definition(m, "missing", n), points(row)) == expected


def test_default_datapoints_to_alarm_is_n_and_default_state() -> None:
    d = {
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 2,
    }
    assert evaluate_alarm(d, [None, None, 1.0, 0.0]) == "OK"
    assert evaluate_alarm(d, [None, None, 1.0, 1.0]) == "ALARM"
    assert evaluate_alarm(d, [None, None, None, None]) == "INSUFFICIENT_DATA"


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("GreaterThanOrEqualToThreshold", 10.0, "ALARM"),
        ("GreaterThanThreshold", 10.0, "OK"),
        ("LessThanThreshold", 9.9, "ALARM"),
        ("LessThanOrEqualToThreshold", 10.0, "ALARM"),
        ("LessThanThreshold", 10.0, "OK"),
    ],
)
def test_comparison_operators(operator: str, value: float, expected: str) -> None:
    d = {"Threshold": 10, "ComparisonOperator": operator, "EvaluationPeriods": 1}
    assert evaluate_alarm(d, [None, None, value]) == expected


def test_reason_texts_follow_cloudwatch() -> None:
    one = evaluate_alarm_detail(
        {"Threshold": 21, "ComparisonOperator": "GreaterThanThreshold", "EvaluationPeriods": 1},
        [21.5],
    )
    assert one.state == "ALARM"
    assert one.reason == (
        "Threshold Crossed: 1 datapoint [21.5] was greater than the threshold (21.0)."
    )
    filled = evaluate_alarm_detail(
        {
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 2,
            "TreatMissingData": "breaching",
        },
        [None, None, None, None],
    )
    assert filled.reason == (
        "Threshold Crossed: no datapoints were received for 2 periods and 2 missing datapoints "
        "were treated as [Breaching]."
    )
    ok = evaluate_alarm_detail(definition(2, "missing"), points("0 0 X 0 0"))
    assert ok.state == "OK"
    assert [v for _, v in ok.evaluated] == [0.0, 0.0, 7.0]
    assert "were not greater than the threshold (5.0)" in ok.reason


def test_validate_alarm_defaults_and_errors() -> None:
    d = validate_alarm(
        {
            "AlarmName": "a",
            "MetricName": "m",
            "Namespace": "n",
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 3,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        }
    )
    assert d["DatapointsToAlarm"] == 3
    assert d["TreatMissingData"] == "missing"
    assert d["ActionsEnabled"] is True
    with pytest.raises(UserError, match="Period"):
        validate_alarm({**d, "Period": 45})
    with pytest.raises(UserError, match="Statistic"):
        validate_alarm({**d, "ExtendedStatistic": "p99"})
    with pytest.raises(UserError, match="ComparisonOperator"):
        validate_alarm({**d, "ComparisonOperator": "Bigger"})
    assert (
        validate_alarm(
            {**{k: v for k, v in d.items() if k != "Statistic"}, "ExtendedStatistic": "p99.9"}
        )["ExtendedStatistic"]
        == "p99.9"
    )


@pytest.mark.parametrize(
    ("rule", "states", "expected"),
    [
        ("ALARM(a) AND NOT OK(b)", {"a": "ALARM", "b": "ALARM"}, True),
        ("ALARM(a) AND NOT OK(b)", {"a": "ALARM", "b": "OK"}, False),
        ("ALARM(a) AND NOT OK(b)", {"a": "OK", "b": "ALARM"}, False),
        ("ALARM(a) OR ALARM(b)", {"a": "OK", "b": "ALARM"}, True),
        ('ALARM("my alarm") AND TRUE', {"my alarm": "ALARM"}, True),
        ("INSUFFICIENT_DATA(a) OR FALSE", {"a": "INSUFFICIENT_DATA"}, True),
        (
            "ALARM(arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu) AND (OK(b) OR ALARM(c))",
            {"cpu": "ALARM", "b": "ALARM", "c": "ALARM"},
            True,
        ),
        ("NOT (ALARM(a) OR ALARM(b))", {"a": "OK", "b": "OK"}, True),
        ("ALARM(a) OR ALARM(b) AND ALARM(c)", {"a": "ALARM", "b": "OK", "c": "OK"}, True),
    ],
)
def test_composite_rules(rule: str, states: dict, expected: bool) -> None:
    assert evaluate_composite_rule(rule, states) is expected


@pytest.mark.parametrize("rule", ["ALARM(a) AND", "ALARM()", "ALARM(a", "WARN(a)", "", "(OK(a)"])
def test_invalid_composite_rules(rule: str) -> None:
    with pytest.raises(UserError):
        evaluate_composite_rule(rule, {"a": "OK"})


def test_composite_rule_unknown_child() -> None:
    with pytest.raises(UserError, match="unknown alarm 'zzz'"):
        evaluate_composite_rule("ALARM(zzz)", {"a": "OK"})
