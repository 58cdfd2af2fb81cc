"""Metric math and anomaly-detection alarms: PutMetricAlarm's Metrics array over the metrics table."""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import UserError
from loglake.monitor.alarms import validate_alarm
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.evaluation import step_index
from loglake.monitor.mathexpr import math_series
from loglake.monitor.metrics import METRICS_SCHEMA, MetricsStore
from loglake.monitor.watch import import_alarms

BASE = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday


@pytest.fixture
def catalog(tmp_path):
    return Catalog(StorageSettings.resolve(tmp_path / "lake"))


def rows(series: dict[tuple[str, str], list[float | None]], start: datetime = BASE) -> pl.DataFrame:
    """Metrics rows: {(name, dimensions JSON): one value per minute (None: no datapoint)}."""
    data = [
        {
            "namespace": "App",
            "metric_name": name,
            "dimensions": dims,
            "unit": "Count",
            "storage_resolution": 60,
            "timestamp": start + timedelta(minutes=k),
            "value": v,
            "sample_count": 1.0,
            "sum": v,
            "minimum": v,
            "maximum": v,
            "source": "PutMetricData",
        }
        for (name, dims), values in series.items()
        for k, v in enumerate(values)
        if v is not None
    ]
    return pl.DataFrame(data, schema=pl.Schema(METRICS_SCHEMA))


def stat(mid: str, name: str, dims: list | None = None, return_data: bool = False) -> dict:
    metric = {"Namespace": "App", "MetricName": name}
    if dims:
        metric["Dimensions"] = dims
    return {
        "Id": mid,
        "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
        "ReturnData": return_data,
    }


def series(expression: str, data: pl.DataFrame, extra: list[dict] | None = None) -> list:
    """The values an expression alarm sees for each minute of the data."""
    d = {
        "AlarmName": "x",
        "Metrics": [
            stat("errors", "Errors"),
            stat("requests", "Requests"),
            *(extra or []),
            {"Id": "e", "Expression": expression, "ReturnData": True},
        ],
    }
    lo = step_index(BASE, 60)
    minutes = data["timestamp"].max() - BASE
    hi = lo + int(minutes.total_seconds() // 60)
    out = math_series(d, data.lazy(), 60, lo, hi).collect()
    return [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else round(v, 6)
        for v in out["value"].to_list()
    ]


ERR = ("Errors", "{}")
REQ = ("Requests", "{}")


def test_arithmetic_fill_if_rate_diff():
    data = rows({ERR: [1, None, 3, 4, None], REQ: [10, 20, 30, 0, 50]})
    assert series("errors + requests", data) == [11, None, 33, 4, None]
    assert series("100 * errors / requests", data) == [10, None, 10, None, None]  # /0: missing
    assert series("FILL(errors, 0) / requests * 100", data) == [10, 0, 10, None, 0]
    assert series("FILL(errors, REPEAT)", data) == [1, 1, 3, 4, 4]
    assert series("FILL(errors, LINEAR)", data) == [1, 2, 3, 4, 4]
    assert series("IF(errors > 2, errors, 0)", data) == [0, None, 3, 4, None]
    assert series("IF(requests >= 30, 1)", data) == [None, None, 1, None, 1]
    assert series("DIFF(requests)", data) == [None, 10, 10, -30, 50]
    assert series("RATE(requests)", data) == [None, 0.166667, 0.166667, -0.5, 0.833333]
    assert series("DIFF_TIME(errors)", data) == [None, None, 120, 60, None]
    assert series("requests ^ 2 - 2 * -3", data) == [106, 406, 906, 6, 2506]
    assert series("errors > 2 AND requests > 20", data) == [0, None, 1, 0, None]
    assert series("SUM(METRICS())", data) == [11, 20, 33, 4, 50]
    assert series("MAX([errors, requests])", data) == [10, 20, 30, 4, 50]
    assert series("AVG(METRICS('err'))", data) == [1, None, 3, 4, None]


def test_search_expands_over_the_metrics_table():
    data = rows(
        {
            ("Errors", '{"Host":"a"}'): [1, 2, 3],
            ("Errors", '{"Host":"b"}'): [10, None, 30],
            ("Errors", '{"Host":"c","Zone":"z"}'): [100, 100, 100],
            REQ: [5, 5, 5],
        }
    )
    search = "SEARCH('{App,Host} MetricName=\"Errors\"', 'Sum', 60)"
    assert series(f"SUM({search})", data) == [11, 2, 33]
    assert series(f"MAX({search})", data) == [10, 2, 30]
    assert series("SUM(SEARCH('Zone', 'Sum', 60))", data) == [100, 100, 100]
    with pytest.raises(UserError, match="several series"):
        series(search, data)


def test_errors_point_at_the_expression():
    with pytest.raises(UserError, match=r"character 6"):
        validate_alarm(
            {
                "AlarmName": "bad",
                "Metrics": [stat("m1", "Errors"), {"Id": "e", "Expression": "m1 + * 2"}],
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanThreshold",
            }
        )
    base = {
        "AlarmName": "bad",
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    for metrics, message in [
        ([stat("m1", "Errors"), {"Id": "e", "Expression": "m2 * 2"}], "not the Id of an earlier"),
        ([stat("m1", "Errors"), {"Id": "e", "Expression": "NOPE(m1)"}], "unknown function NOPE"),
        (
            [stat("m1", "Errors", return_data=True), stat("m2", "Requests", return_data=True)],
            "exactly one item",
        ),
        ([stat("M1", "Errors")], "lower-case"),
        (
            [
                stat("m1", "Errors"),
                {
                    **stat("m2", "Errors"),
                    "MetricStat": {
                        "Metric": {"Namespace": "App", "MetricName": "E"},
                        "Period": 300,
                        "Stat": "Sum",
                    },
                },
                {"Id": "e", "Expression": "m1 + m2"},
            ],
            "same period",
        ),
    ]:
        with pytest.raises(UserError, match=message):
            validate_alarm({**base, "Metrics": metrics})


def test_math_alarm_imported_from_describe_alarms(catalog):
    """An error-rate alarm as `aws cloudwatch describe-alarms` prints it, with M of N."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=20)
    document = {
        "MetricAlarms": [
            {
                "AlarmName": "error-rate",
                "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:error-rate",
                "StateValue": "OK",
                "Dimensions": [],
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": 10.0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "Metrics": [
                    stat("errors", "Errors"),
                    stat("requests", "Requests"),
                    {
                        "Id": "rate",
                        "Expression": "100 * FILL(errors, 0) / requests",
                        "Label": "error rate",
                        "ReturnData": True,
                    },
                ],
            }
        ]
    }
    assert import_alarms(catalog, document) == ["error-rate"]
    errors = [0, 0, 5, 0, 3, 4, 0, 0, 0, 0]
    requests = [20] * 10
    MetricsStore(catalog).write(rows({ERR: errors, REQ: requests}, start=start))
    store = AlarmStore(catalog)
    made = store.replay(start, now, actions=False)
    # rates 0 0 25 0 15 20 0 ...: two of three breach once minute 5 is in, then back to OK
    assert [(t["from"], t["to"]) for t in made] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
    ]
    assert "2 out of the last 3 datapoints [15.0 (" in made[1]["reason"]
    described = store.describe_alarms()["MetricAlarms"][0]
    assert described["StateValue"] == "OK" and described["Metrics"][2]["Id"] == "rate"


def weekly_history(weeks: int, spike_at: int | None = None) -> list[float]:
    """A metric with a daily cycle and small noise, one value per minute."""
    out = []
    for k in range(weeks * 7 * 1440):
        value = 100 + 50 * math.sin(2 * math.pi * (k % 1440) / 1440) + (k * 7919 % 11 - 5)
        out.append(float(round(value)))
    if spike_at is not None:
        out[spike_at] = 1000.0
    return out


def test_anomaly_detection_band_is_loglakes_model(catalog):
    """Two weeks of history give a band; a spike is outside it, ordinary values are inside."""
    history = weekly_history(3)
    spike = 2 * 7 * 1440 + 1440 + 600  # week 3, Tuesday 10:00
    history[spike] = 1000.0
    MetricsStore(catalog).write(rows({REQ: history}))
    alarm = {
        "AlarmName": "requests-anomaly",
        "Metrics": [
            stat("m1", "Requests", return_data=True),
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 3)", "ReturnData": True},
        ],
        "EvaluationPeriods": 1,
        "ThresholdMetricId": "ad1",
        "ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold",
        "TreatMissingData": "missing",
    }
    store = AlarmStore(catalog)
    store.put_alarm(alarm, now=BASE)
    # the first week has no history for its hours: no band, so no datapoint
    first = store.replay(BASE + timedelta(hours=1), BASE + timedelta(hours=2))
    assert first == []
    assert store.describe_alarms()["MetricAlarms"][0]["StateValue"] == "INSUFFICIENT_DATA"
    at = BASE + timedelta(minutes=spike)
    made = store.replay(at - timedelta(minutes=30), at + timedelta(minutes=5), actions=False)
    assert [(t["from"], t["to"]) for t in made] == [
        ("INSUFFICIENT_DATA", "OK"),
        ("OK", "ALARM"),
        ("ALARM", "OK"),
    ]
    assert made[1]["reason"].startswith("Thresholds Crossed: 1 datapoint [1000.0")
    items = store.history(item_type="StateUpdate")
    fired = items.filter(pl.col("history_summary").str.ends_with("OK to ALARM"))
    reason_data = json.loads(fired["history_data"][0])["newState"]["stateReasonData"]
    lower, upper = reason_data["recentLowerThresholds"][0], reason_data["recentUpperThresholds"][0]
    # the band of Tuesday 10:00 comes from the two previous Tuesdays at 10:00
    ordinary = [history[spike - 7 * 1440 * w + k] for w in (1, 2) for k in range(-10, 50)]
    assert lower < statistics.median(ordinary) < upper
    assert lower > 0 and upper < 1000.0


def test_anomaly_alarm_validation():
    base = {
        "AlarmName": "a",
        "Metrics": [
            stat("m1", "Requests", return_data=True),
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "ReturnData": True},
        ],
        "EvaluationPeriods": 1,
    }
    with pytest.raises(UserError, match="band operators need ThresholdMetricId"):
        validate_alarm({**base, "ComparisonOperator": "GreaterThanUpperThreshold"})
    with pytest.raises(UserError, match="takes one of"):
        validate_alarm(
            {**base, "ThresholdMetricId": "ad1", "ComparisonOperator": "GreaterThanThreshold"}
        )
    ok = validate_alarm(
        {**base, "ThresholdMetricId": "ad1", "ComparisonOperator": "GreaterThanUpperThreshold"}
    )
    assert "Threshold" not in ok
