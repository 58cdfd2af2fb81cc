"""One-pass alarm evaluation: the vectorised decisions equal the pure rules, replays equal loops."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.monitor import evaluate_alarm
from loglake.monitor.alarms import evaluate_alarm_detail, evaluation_range
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.evaluation import (
    NAMES,
    Outcome,
    Plan,
    _decisions,
    evaluate_plans,
    step_index,
)
from loglake.monitor.metrics import METRICS_SCHEMA, MetricsStore

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
BASE = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday


@pytest.fixture
def catalog(tmp_path):
    return Catalog(StorageSettings.resolve(tmp_path / "lake"))


def rows(values: list[float | None], start: datetime, step: int = 60, name: str = "Errors"):
    """Metrics-table rows: one datapoint per step (None: no datapoint)."""
    data = [
        {
            "namespace": "App",
            "metric_name": name,
            "dimensions": "{}",
            "unit": "None",
            "storage_resolution": 60,
            "timestamp": start + timedelta(seconds=step * k),
            "value": v,
            "sample_count": 1.0,
            "sum": v,
            "minimum": v,
            "maximum": v,
            "source": "PutMetricData",
        }
        for k, v in enumerate(values)
        if v is not None
    ]
    return pl.DataFrame(data, schema=pl.Schema(METRICS_SCHEMA))


def alarm(**extra) -> dict:
    d = {
        "AlarmName": "a",
        "Namespace": "App",
        "MetricName": "Errors",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing",
    }
    d.update(extra)
    return d


CASES = [
    (period, n, m, treat, op, seed)
    for seed, (period, n, m, treat, op) in enumerate(
        [
            (60, 3, 2, "missing", "GreaterThanThreshold"),
            (60, 3, 3, "ignore", "GreaterThanThreshold"),
            (60, 5, 2, "breaching", "LessThanThreshold"),
            (60, 1, 1, "notBreaching", "GreaterThanOrEqualToThreshold"),
            (60, 4, 5, "missing", "GreaterThanThreshold"),  # M > N never alarms
            (180, 2, 2, "missing", "GreaterThanThreshold"),  # 3-minute periods: 3 phases
            (300, 3, 1, "ignore", "LessThanOrEqualToThreshold"),
            (120, 6, 4, "breaching", "GreaterThanThreshold"),
        ]
    )
]


@pytest.mark.parametrize(("period", "n", "m", "treat", "op", "seed"), CASES)
def test_vectorised_decisions_equal_the_rules_minute_by_minute(period, n, m, treat, op, seed):
    rng = random.Random(seed)
    minutes = 240
    values = [
        None if rng.random() < 0.45 else float(rng.choice([0, 3, 6, 9])) for _ in range(minutes)
    ]
    d = alarm(
        Period=period,
        EvaluationPeriods=n,
        DatapointsToAlarm=m,
        TreatMissingData=treat,
        ComparisonOperator=op,
    )
    metrics = rows(values, BASE).lazy()
    first_end = BASE + timedelta(minutes=1)
    last_end = BASE + timedelta(minutes=minutes)
    for current in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        plan = Plan(d, current, step_index(first_end, 60) - 1, step_index(last_end, 60) - 1)
        (outcome,) = evaluate_plans([plan], metrics)
        got = []
        state = current
        for code in outcome.states["code"].to_list():
            state = state if code is None else NAMES[code]
            got.append(state)
        want = []
        state = current
        r = evaluation_range(n)
        end = first_end
        while end <= last_end:
            starts = [end - timedelta(seconds=period * (r - k)) for k in range(r)]
            points = []
            for s in starts:
                inside = [
                    v
                    for k, v in enumerate(values)
                    if v is not None
                    and s <= BASE + timedelta(minutes=k) < s + timedelta(seconds=period)
                ]
                points.append(sum(inside) if inside else None)
            state = evaluate_alarm(d, points, state)
            want.append(state)
            end += timedelta(minutes=1)
        assert got == want


#: values whose texts differ between Polars and Python unless spelled as repr() spells them
ODD_VALUES = [0.0, 3.0, 6.0, 9.0, 1.23e-05, -3e-05, 2.5e-07, 0.1 + 0.2, 1e16, 123456.789, 5.5]


def assert_reasons_equal_the_rules(outcome: Outcome) -> int:
    """Every transition's reason text and data are those of `evaluate_alarm_detail`."""
    d = outcome.plan.definition
    transitions = outcome.transitions()
    now = datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    reasons = outcome.reasons(now)
    assert [(j, new) for j, _, new in transitions] == [(j, new) for j, new, _, _ in reasons]
    for (j, old, new), (_, _, reason, data) in zip(transitions, reasons, strict=True):
        values, stamps, bands = outcome.datapoints(j)
        ev = evaluate_alarm_detail(d, values, old, stamps, bands)
        assert (ev.state, ev.reason) == (new, reason), j
        plan = outcome.plan
        asked = now if j == plan.last else plan.end_of(j)
        extra = {"queryDate": asked.isoformat(), "startDate": stamps[0].isoformat()}
        extra["period"] = plan.period
        if "Statistic" in d:
            extra["statistic"] = d["Statistic"]
        assert orjson.loads(orjson.dumps(data)) == {**ev.reason_data, **extra}, j
    return len(reasons)


@pytest.mark.parametrize(("period", "n", "m", "treat", "op", "seed"), CASES)
def test_reasons_of_transitions_equal_the_rules(period, n, m, treat, op, seed):
    rng = random.Random(seed)
    values = [None if rng.random() < 0.45 else rng.choice(ODD_VALUES) for _ in range(240)]
    d = alarm(
        Period=period,
        EvaluationPeriods=n,
        DatapointsToAlarm=m,
        TreatMissingData=treat,
        ComparisonOperator=op,
    )
    metrics = rows(values, BASE).lazy()
    first, last = step_index(BASE, 60), step_index(BASE + timedelta(minutes=240), 60) - 1
    made = 0
    for current in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        (outcome,) = evaluate_plans([Plan(d, current, first, last)], metrics)
        made += assert_reasons_equal_the_rules(outcome)
    assert made > 10


@pytest.mark.parametrize(("period", "treat"), [(10, "missing"), (20, "ignore"), (30, "breaching")])
def test_reasons_of_high_resolution_transitions_equal_the_rules(period, treat):
    """Periods of 10-30 s: a grid of 10-second steps, texts stamped to the second."""
    rng = random.Random(period)
    values = [None if rng.random() < 0.4 else rng.choice(ODD_VALUES) for _ in range(600)]
    d = alarm(Period=period, EvaluationPeriods=4, DatapointsToAlarm=2, TreatMissingData=treat)
    metrics = rows(values, BASE, step=10).lazy()
    first, last = step_index(BASE, 10), step_index(BASE + timedelta(seconds=6000), 10) - 1
    made = 0
    for current in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        (outcome,) = evaluate_plans([Plan(d, current, first, last)], metrics)
        made += assert_reasons_equal_the_rules(outcome)
    assert made > 10


@pytest.mark.parametrize("treat", ["missing", "ignore", "breaching", "notBreaching"])
@pytest.mark.parametrize(
    "op",
    [
        "LessThanLowerOrGreaterThanUpperThreshold",
        "GreaterThanUpperThreshold",
        "LessThanLowerThreshold",
    ],
)
def test_reasons_of_band_transitions_equal_the_rules(op, treat):
    """A band alarm's texts list the bands; a period without a band counts as missing."""
    rng = random.Random(f"{op}{treat}")
    size = 300
    first = step_index(BASE, 60)
    lower = [None if rng.random() < 0.2 else rng.choice([1.0, 2.5, 1.23e-05]) for _ in range(size)]
    grid = pl.LazyFrame(
        {
            "j": list(range(first - 10, first - 10 + size)),
            "value": [None if rng.random() < 0.3 else rng.choice(ODD_VALUES) for _ in range(size)],
            "lower": lower,
            "upper": [None if lo is None else lo + rng.choice([3.0, 6.5]) for lo in lower],
            "count": [None] * size,
        },
        schema={
            k: pl.Int64 if k == "j" else pl.Float64
            for k in ("j", "value", "lower", "upper", "count")
        },
    )
    d = {
        "AlarmName": "band",
        "Metrics": [],
        "EvaluationPeriods": 4,
        "DatapointsToAlarm": 2,
        "ThresholdMetricId": "ad1",
        "ComparisonOperator": op,
        "TreatMissingData": treat,
    }
    made = 0
    for current in ("OK", "ALARM", "INSUFFICIENT_DATA"):
        plan = Plan(d, current, first, first + size - 20)
        made += assert_reasons_equal_the_rules(Outcome(plan, _decisions(plan, grid).collect()))
    assert made > 10


def test_statistics_and_percentiles_over_multi_minute_periods():
    values = [1.0, 9.0, 3.0, None, 5.0, 7.0]
    metrics = rows(values, BASE).lazy()
    end = BASE + timedelta(minutes=6)
    for stat, want in [
        ("Sum", 12.0),  # the last 3 minutes: None, 5, 7
        ("Average", 6.0),
        ("Maximum", 7.0),
        ("Minimum", 5.0),
        ("SampleCount", 2.0),
        ("p50", 5.0),
    ]:
        key = "ExtendedStatistic" if stat.startswith("p") else "Statistic"
        d = alarm(Period=180, **{key: stat})
        if key == "ExtendedStatistic":
            d.pop("Statistic")
        plan = Plan(d, "OK", step_index(end, 60) - 1, step_index(end, 60) - 1)
        (outcome,) = evaluate_plans([plan], metrics)
        picked, stamps, _ = outcome.datapoints(plan.last)
        assert picked[-1] == want, stat
        assert stamps[-1] == BASE + timedelta(minutes=3)


def put(catalog, minutes_ago_values, name="Errors"):
    MetricsStore(catalog).put_metric_data(
        "App",
        [
            {"MetricName": name, "Value": v, "Timestamp": NOW - timedelta(minutes=ago)}
            for ago, v in minutes_ago_values
        ],
        now=NOW,
    )


def test_replay_equals_evaluating_every_minute(tmp_path):
    """A replay over half an hour makes the transitions a loop of evaluations makes, composites too."""
    stores = []
    for lake in ("loop", "replay"):
        catalog = Catalog(StorageSettings.resolve(tmp_path / lake))
        store = AlarmStore(catalog)
        start = NOW - timedelta(minutes=30)
        store.put_alarms(
            [
                alarm(AlarmName="errors", EvaluationPeriods=2, DatapointsToAlarm=1),
                alarm(
                    AlarmName="slow",
                    MetricName="Latency",
                    Statistic="Average",
                    Period=300,
                    EvaluationPeriods=1,
                    DatapointsToAlarm=1,
                    Threshold=100.0,
                    TreatMissingData="notBreaching",
                ),
                {"AlarmName": "both", "AlarmRule": "ALARM(errors) AND ALARM(slow)"},
            ],
            now=start - timedelta(minutes=1),
        )
        put(catalog, [(25, 9), (24, 1), (15, 7), (14, 8), (5, 6)])
        put(catalog, [(16, 150), (13, 90), (12, 400), (3, 20)], name="Latency")
        stores.append((catalog, store, start))
    (_, loop, start), (catalog, replay, _) = stores
    looped = []
    for k in range(31):
        looped.extend(loop.evaluate(now=start + timedelta(minutes=k)))
    replayed = replay.replay(start, NOW)
    assert [(t["alarm"], t["from"], t["to"]) for t in replayed] == [
        (t["alarm"], t["from"], t["to"]) for t in looped
    ]
    assert ("both", "OK", "ALARM") in [(t["alarm"], t["from"], t["to"]) for t in replayed]
    assert [t["reason"] for t in replayed] == [t["reason"] for t in looped]
    # all history of the replay is one commit, compacted into one file with the creations
    history = replay.history_table
    assert len(history.files()) == 1
    frame = replay.history(item_type="StateUpdate")
    assert frame.height == len(replayed)
    assert sorted(frame["timestamp"].to_list()) == sorted(
        loop.history(item_type="StateUpdate")["timestamp"].to_list()
    )


def test_replay_without_actions_and_idempotent(catalog, tmp_path):
    notes = tmp_path / "notes.jsonl"
    store = AlarmStore(catalog)
    store.put_alarm(alarm(AlarmActions=[f"file://{notes}"]), now=NOW - timedelta(hours=1))
    put(catalog, [(20, 9), (19, 9), (18, 9)])
    made = store.replay(NOW - timedelta(minutes=30), NOW, actions=False)
    # two breaching minutes of three alarm; once they leave the range nothing is known
    assert [t["to"] for t in made] == ["ALARM", "INSUFFICIENT_DATA"]
    times = store.history(item_type="StateUpdate").sort("timestamp")["timestamp"].to_list()
    assert [t.replace(tzinfo=UTC) for t in times] == [
        NOW - timedelta(minutes=18),
        NOW - timedelta(minutes=13),  # one breaching point left: too few to decide
    ]
    assert not notes.exists()
    # the windows are evaluated: replaying again changes nothing
    assert store.replay(NOW - timedelta(minutes=30), NOW) == []
    assert store.evaluate(now=NOW) == []
