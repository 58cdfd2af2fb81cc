"""Metric filters as incremental queries: equal to a full recomputation, late events, crashes."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import polars as pl
import pyarrow as pa
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import StorageError, UserError
from loglake.monitor.metrics import MetricsStore
from loglake.monitor.runner import (
    backfill_metric_filter,
    list_metric_filters,
    put_metric_filter,
    run_metric_filters,
)

SCHEMA = pa.schema(
    [
        ("eventtime", pa.string()),
        ("eventsource", pa.string()),
        ("eventname", pa.string()),
        ("eventtype", pa.string()),
        ("errorcode", pa.string()),
        (
            "useridentity",
            pa.struct([("type", pa.string()), ("invokedby", pa.string()), ("arn", pa.string())]),
        ),
        ("requestparameters", pa.string()),
        ("region", pa.string()),
    ]
)
BASE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NAMES = ["StopLogging", "CreateTrail", "DescribeInstances", "ConsoleLogin", "GetObject"]
TRAIL_FILTER = {
    "filterName": "trail-changes",
    "table": "cloudtrail",
    "filterPattern": "{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || "
    "($.eventName=DeleteTrail) || ($.eventName=StartLogging) || ($.eventName=StopLogging)}",
    "metricTransformations": [
        {
            "metricName": "TrailChanges",
            "metricNamespace": "LogMetrics",
            "metricValue": "1",
            "defaultValue": 0,
        }
    ],
}
BYTES_FILTER = {
    "filterName": "bucket-reads",
    "table": "cloudtrail",
    "filterPattern": '{ $.eventName = "GetObject" }',
    "metricTransformations": [
        {
            "metricName": "Reads",
            "metricNamespace": "S3",
            "metricValue": "$.requestParameters.size",
            "dimensions": {"Bucket": "$.requestParameters.bucketName"},
        }
    ],
}


def record(rng: random.Random, when: datetime) -> dict:
    name = rng.choice(NAMES)
    params = None
    if name == "GetObject":
        params = json.dumps({"bucketName": rng.choice(["a", "b"]), "size": rng.randint(1, 9)})
    return {
        "eventtime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventsource": "cloudtrail.amazonaws.com",
        "eventname": name,
        "eventtype": "AwsApiCall",
        "errorcode": None,
        "useridentity": {"type": "IAMUser", "invokedby": None, "arn": "arn:aws:iam::1:user/u"},
        "requestparameters": params,
        "region": rng.choice(["us-east-1", "eu-west-1"]),
    }


@pytest.fixture
def lake(tmp_path):
    catalog = Catalog(StorageSettings.resolve(tmp_path / "lake"))
    catalog.create_managed_table("default", "cloudtrail", SCHEMA, partition_by=["region"])
    return catalog


def append(catalog: Catalog, rows: list[dict]) -> None:
    catalog.managed("default", "cloudtrail").append(pa.Table.from_pylist(rows, schema=SCHEMA))


def sums(catalog: Catalog, metric: str, dims: dict | None = None) -> dict[datetime, tuple]:
    frame = MetricsStore(catalog).statistics(
        "LogMetrics" if metric == "TrailChanges" else "S3",
        metric,
        dims,
        BASE - timedelta(hours=1),
        BASE + timedelta(hours=2),
        60,
        ["Sum", "SampleCount"],
    )
    return {r["timestamp"]: (r["Sum"], r["SampleCount"]) for r in frame.iter_rows(named=True)}


def expected_trail(records: list[dict]) -> dict[datetime, tuple]:
    """Ground truth from the generated records: matches per minute, 0 for idle minutes."""
    out: dict[datetime, tuple] = {}
    minutes = Counter()
    hits = Counter()
    for r in records:
        minute = datetime.strptime(r["eventtime"], "%Y-%m-%dT%H:%M:%SZ").replace(
            second=0, tzinfo=UTC
        )
        minutes[minute] += 1
        if r["eventname"] in ("StopLogging", "CreateTrail"):
            hits[minute] += 1
    for minute in minutes:
        out[minute] = (float(hits[minute]), float(hits[minute])) if hits[minute] else (0.0, 1.0)
    return out


def test_incremental_runs_equal_full_recomputation(lake):
    rng = random.Random(7)
    put_metric_filter(lake, TRAIL_FILTER)
    put_metric_filter(lake, BYTES_FILTER)
    records: list[dict] = []
    for batch in range(6):
        # each batch covers its own minutes, so idle-minute defaults are comparable
        rows = [record(rng, BASE + timedelta(minutes=3 * batch, seconds=s * 7)) for s in range(20)]
        append(lake, rows)
        records += rows
        report = run_metric_filters(lake)
        assert {r.filter_name: r.events for r in report.runs}["trail-changes"] == 20
    assert sums(lake, "TrailChanges") == expected_trail(records)
    for bucket in ("a", "b"):
        sizes = [
            json.loads(r["requestparameters"])["size"]
            for r in records
            if r["eventname"] == "GetObject"
            and json.loads(r["requestparameters"])["bucketName"] == bucket
        ]
        got = sums(lake, "Reads", {"Bucket": bucket})
        assert sum(s for s, _ in got.values()) == sum(sizes)
        assert sum(c for _, c in got.values()) == len(sizes)
    # a fresh filter backfilled over the same data gives the same metric
    late = dict(TRAIL_FILTER, filterName="trail-changes-2")
    late["metricTransformations"] = [
        dict(TRAIL_FILTER["metricTransformations"][0], metricName="TrailChanges2")
    ]
    put_metric_filter(lake, late)
    backfill_metric_filter(
        lake, "trail-changes-2", BASE - timedelta(hours=1), BASE + timedelta(hours=1)
    )
    again = MetricsStore(lake).statistics(
        "LogMetrics",
        "TrailChanges2",
        None,
        BASE - timedelta(hours=1),
        BASE + timedelta(hours=2),
        60,
        ["Sum", "SampleCount"],
    )
    assert {r["timestamp"]: (r["Sum"], r["SampleCount"]) for r in again.iter_rows(named=True)} == (
        expected_trail(records)
    )


def test_shuffled_late_deliveries_give_the_datapoints_of_one_full_run(lake):
    """Deliveries arrive out of order, up to 15 minutes late, cutting minutes in pieces: with a
    lateness of 20 minutes the incremental datapoints equal one run over all the data."""
    rng = random.Random(21)
    put_metric_filter(lake, dict(TRAIL_FILTER, lateness=1200))
    records = [record(rng, BASE + timedelta(seconds=rng.randrange(0, 3600))) for _ in range(400)]
    # each "file" holds the events of one minute and one region, delivered 1-15 minutes later
    files: dict[tuple, list[dict]] = {}
    for r in records:
        files.setdefault((r["eventtime"][:16], r["region"]), []).append(r)
    deliveries = sorted(
        files.values(),
        key=lambda rows: (
            datetime.strptime(rows[0]["eventtime"][:16], "%Y-%m-%dT%H:%M")
            + timedelta(minutes=rng.uniform(1, 15))
        ),
    )
    for i in range(0, len(deliveries), 7):
        append(lake, [r for rows in deliveries[i : i + 7] for r in rows])
        run_metric_filters(lake)
    # the next hour's first delivery moves the watermark past every minute of this one
    append(lake, [dict(record(rng, BASE + timedelta(minutes=85)), eventname="GetObject")])
    run_metric_filters(lake)
    got = {t: v for t, v in sums(lake, "TrailChanges").items() if t < BASE + timedelta(hours=1)}
    assert got == expected_trail(records)
    assert MetricsStore(lake).checkpoint("metric-filter:trail-changes:watermark") == int(
        (BASE + timedelta(minutes=85) - timedelta(minutes=20)).timestamp()
    )


def test_lateness_must_be_whole_seconds(lake):
    with pytest.raises(UserError, match="lateness must be a whole number"):
        put_metric_filter(lake, dict(TRAIL_FILTER, lateness="20m"))


def test_only_events_after_creation_count_and_backfill_is_idempotent(lake):
    before = [dict(record(random.Random(1), BASE), eventname="StopLogging") for _ in range(3)]
    append(lake, before)
    put_metric_filter(lake, TRAIL_FILTER)
    run_metric_filters(lake)
    assert sums(lake, "TrailChanges") == {}  # no retroactive filtering
    after = [dict(record(random.Random(2), BASE + timedelta(minutes=1)), eventname="StopLogging")]
    append(lake, after)
    run_metric_filters(lake)
    assert sums(lake, "TrailChanges") == {BASE + timedelta(minutes=1): (1.0, 1.0)}
    for _ in range(2):
        backfill_metric_filter(
            lake, "trail-changes", BASE - timedelta(minutes=5), BASE + timedelta(minutes=5)
        )
    assert sums(lake, "TrailChanges") == {
        BASE: (3.0, 3.0),
        BASE + timedelta(minutes=1): (1.0, 1.0),
    }


def test_late_event_updates_its_own_period(lake):
    put_metric_filter(lake, TRAIL_FILTER)
    rng = random.Random(3)
    append(lake, [dict(record(rng, BASE + timedelta(minutes=20)), eventname="StopLogging")])
    append(lake, [dict(record(rng, BASE + timedelta(minutes=5)), eventname="GetObject")])
    run_metric_filters(lake)
    assert sums(lake, "TrailChanges") == {
        BASE + timedelta(minutes=5): (0.0, 1.0),
        BASE + timedelta(minutes=20): (1.0, 1.0),
    }
    # delivered 15 minutes late: lands in minute 5, not in the current one
    append(
        lake, [dict(record(rng, BASE + timedelta(minutes=5, seconds=30)), eventname="CreateTrail")]
    )
    run_metric_filters(lake)
    five_min = MetricsStore(lake).statistics(
        "LogMetrics", "TrailChanges", None, BASE, BASE + timedelta(minutes=30), 300, ["Sum"]
    )
    assert dict(zip(five_min["timestamp"], five_min["Sum"], strict=True)) == {
        BASE + timedelta(minutes=5): 1.0,
        BASE + timedelta(minutes=20): 1.0,
    }


def test_compaction_is_not_counted_again(lake):
    put_metric_filter(lake, TRAIL_FILTER)
    rng = random.Random(4)
    for i in range(4):
        append(lake, [dict(record(rng, BASE + timedelta(minutes=i)), eventname="StopLogging")])
    run_metric_filters(lake)
    before = sums(lake, "TrailChanges")
    lake.managed("default", "cloudtrail").optimize()
    report = run_metric_filters(lake)
    assert report.runs[0].files == 0
    assert sums(lake, "TrailChanges") == before


class Crash(Exception):
    pass


def test_crash_before_or_after_the_commit_double_counts_nothing(lake, monkeypatch):
    put_metric_filter(lake, TRAIL_FILTER)
    rng = random.Random(5)
    append(lake, [dict(record(rng, BASE), eventname="StopLogging") for _ in range(2)])
    real_write = MetricsStore.write

    def crash_before(self, rows, transactions=None):
        raise Crash("killed before the commit")

    monkeypatch.setattr(MetricsStore, "write", crash_before)
    with pytest.raises(Crash):
        run_metric_filters(lake)
    monkeypatch.setattr(MetricsStore, "write", real_write)
    assert sums(lake, "TrailChanges") == {}

    def crash_after(self, rows, transactions=None):
        real_write(self, rows, transactions)
        raise Crash("killed after the commit")

    monkeypatch.setattr(MetricsStore, "write", crash_after)
    with pytest.raises(Crash):
        run_metric_filters(lake)
    monkeypatch.setattr(MetricsStore, "write", real_write)
    run_metric_filters(lake)
    run_metric_filters(lake)
    assert sums(lake, "TrailChanges") == {BASE: (2.0, 2.0)}


def test_filters_on_one_table_share_one_commit(lake):
    put_metric_filter(lake, TRAIL_FILTER)
    put_metric_filter(lake, BYTES_FILTER)
    append(lake, [record(random.Random(6), BASE) for _ in range(10)])
    metrics = MetricsStore(lake)
    before = metrics.table.version()  # creates the table
    run_metric_filters(lake)
    assert metrics.table.version() == before + 1
    assert metrics.checkpoint("metric-filter:trail-changes") == 1
    assert metrics.checkpoint("metric-filter:bucket-reads") == 1


def test_condition_and_errors(lake):
    f = dict(TRAIL_FILTER, filterName="eu-only", condition="region = 'eu-west-1'")
    put_metric_filter(lake, f)
    rows = [
        dict(record(random.Random(8), BASE), eventname="StopLogging", region=region)
        for region in ("eu-west-1", "us-east-1", "eu-west-1")
    ]
    append(lake, rows)
    run_metric_filters(lake)
    assert sums(lake, "TrailChanges") == {BASE: (2.0, 2.0)}
    with pytest.raises(UserError):
        put_metric_filter(lake, dict(f, condition="nosuchcolumn = 1"))
    with pytest.raises(UserError, match="dimensions cannot have a defaultValue"):
        bad = dict(BYTES_FILTER)
        bad["metricTransformations"] = [
            dict(BYTES_FILTER["metricTransformations"][0], defaultValue=0)
        ]
        put_metric_filter(lake, bad)
    with pytest.raises(UserError, match="does not support dimensions"):
        bad = dict(TRAIL_FILTER, filterPattern="StopLogging")
        bad["metricTransformations"] = [
            {
                "metricName": "m",
                "metricNamespace": "n",
                "metricValue": "1",
                "dimensions": {"a": "$.x"},
            }
        ]
        put_metric_filter(lake, bad)
    assert [f["filterName"] for f in list_metric_filters(lake)] == ["eu-only"]


def test_metrics_table_is_queryable_as_a_frame(lake):
    put_metric_filter(lake, TRAIL_FILTER)
    append(lake, [dict(record(random.Random(9), BASE), eventname="CreateTrail")])
    run_metric_filters(lake)
    frame = MetricsStore(lake).frame().collect()
    assert frame.select("namespace", "metric_name", "sum", "source").rows() == [
        ("LogMetrics", "TrailChanges", 1.0, "metric-filter:trail-changes")
    ]
    assert frame["timestamp"].dtype == pl.Datetime("us", "UTC")


def test_write_failure_is_a_storage_error(lake, monkeypatch):
    put_metric_filter(lake, TRAIL_FILTER)
    append(lake, [record(random.Random(10), BASE)])
    import loglake.monitor.metrics as metrics_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(metrics_module, "write_deltalake", broken)
    with pytest.raises(StorageError, match="disk full"):
        run_metric_filters(lake)


def test_saved_query_returns_only_new_rows(lake):
    from loglake.monitor.queries import list_queries, run_saved_query, save_query

    rng = random.Random(11)
    append(lake, [dict(record(rng, BASE), eventname="StopLogging") for _ in range(3)])
    save_query(
        lake,
        "stops",
        "SELECT eventname, count(*) AS n FROM cloudtrail WHERE eventname = 'StopLogging' "
        "GROUP BY eventname",
    )
    assert run_saved_query(lake, "stops").rows() == []  # nothing new since it was saved
    append(lake, [dict(record(rng, BASE), eventname="StopLogging") for _ in range(2)])
    append(lake, [dict(record(rng, BASE), eventname="GetObject")])
    assert run_saved_query(lake, "stops").rows() == [("StopLogging", 2)]
    assert run_saved_query(lake, "stops").rows() == []
    assert [q["name"] for q in list_queries(lake)] == ["stops"]


def test_saved_query_with_destination_is_exactly_once(lake, monkeypatch):
    from loglake.monitor import queries
    from loglake.monitor.queries import run_saved_query, save_query

    rng = random.Random(12)
    save_query(
        lake,
        "trail-log",
        "SELECT eventtime, eventname FROM cloudtrail WHERE eventname IN ('StopLogging', 'CreateTrail')",
        destination="findings.trail_changes",
        from_start=True,
    )
    append(
        lake,
        [dict(record(rng, BASE + timedelta(seconds=i)), eventname="CreateTrail") for i in range(2)],
    )
    assert run_saved_query(lake, "trail-log").height == 2
    append(lake, [dict(record(rng, BASE + timedelta(minutes=1)), eventname="StopLogging")])

    def crash(*args, **kwargs):
        raise Crash("killed after the append, before the checkpoint document")

    monkeypatch.setattr(queries.MonitorState, "update", crash)
    with pytest.raises(Crash):
        run_saved_query(lake, "trail-log")
    monkeypatch.undo()
    assert run_saved_query(lake, "trail-log").height == 0  # the destination's commit said so
    stored = pl.scan_delta(lake.managed("findings", "trail_changes").location).collect()
    assert sorted(stored["eventname"].to_list()) == ["CreateTrail", "CreateTrail", "StopLogging"]


def test_put_checks_the_pattern_against_the_table(lake):
    from loglake.monitor.pattern import FilterPatternError

    with pytest.raises(FilterPatternError, match="message column"):
        put_metric_filter(lake, dict(TRAIL_FILTER, filterPattern="StopLogging"))
    assert list_metric_filters(lake) == []


def test_a_second_runner_waits_for_the_first(lake):
    from loglake.monitor.state import MonitorState

    put_metric_filter(lake, TRAIL_FILTER)
    append(lake, [dict(record(random.Random(13), BASE), eventname="StopLogging")])
    state = MonitorState(lake)
    token = state.acquire("metric-filters:default.cloudtrail")  # another process is running
    assert token is not None
    report = run_metric_filters(lake)
    assert (report.runs, report.busy) == ([], ["default.cloudtrail"])
    assert sums(lake, "TrailChanges") == {}
    state.release("metric-filters:default.cloudtrail", token)
    assert run_metric_filters(lake).matches == {"trail-changes": 1}
    # a holder that died without releasing is taken over once its lease expires
    assert state.acquire("metric-filters:default.cloudtrail", seconds=-1) is not None
    assert run_metric_filters(lake).busy == []
    assert sums(lake, "TrailChanges") == {BASE: (1.0, 1.0)}


def test_deep_selectors_count_through_the_runner(lake):
    """Selectors of depth 4, 7 and 8 (one through an array) into the JSON text of a table column,
    run as the incremental metric-filter query over several commits."""
    launch = {
        "filterName": "old-images",
        "table": "cloudtrail",
        "filterPattern": '{ $.requestParameters.instancesSet.items[0].imageId = "ami-1*" }',
        "metricTransformations": [
            {
                "metricName": "Launches",
                "metricNamespace": "S3",
                "metricValue": "$.requestParameters.instancesSet.items[0].count",
                "dimensions": {"Zone": "$.requestParameters.instancesSet.items[0].zone.id.name"},
            }
        ],
    }
    tagged = {
        "filterName": "deep-tag",
        "table": "cloudtrail",
        "filterPattern": "{ $.requestParameters.tags.l1.l2.l3.l4.l5.l6 = prod }",
        "metricTransformations": [
            {"metricName": "Tagged", "metricNamespace": "S3", "metricValue": "1"}
        ],
    }
    put_metric_filter(lake, launch)
    put_metric_filter(lake, tagged)
    rng = random.Random(21)
    rows = []
    for i in range(60):
        image, zone = rng.choice(["ami-1a", "ami-1b", "ami-2a"]), rng.choice(["a", "b"])
        params = {
            "instancesSet": {
                "items": [{"imageId": image, "count": 1 + i % 3, "zone": {"id": {"name": zone}}}]
            },
            "tags": {"l1": {"l2": {"l3": {"l4": {"l5": {"l6": rng.choice(["prod", "dev"])}}}}}},
        }
        row = record(rng, BASE + timedelta(seconds=20 * i))
        rows.append(dict(row, eventname="RunInstances", requestparameters=json.dumps(params)))
    for start in range(0, 60, 20):  # three commits, one run after each
        append(lake, rows[start : start + 20])
        run_metric_filters(lake)
    items = [json.loads(r["requestparameters"]) for r in rows]
    for zone in ("a", "b"):
        counts = [
            p["instancesSet"]["items"][0]["count"]
            for p in items
            if p["instancesSet"]["items"][0]["imageId"].startswith("ami-1")
            and p["instancesSet"]["items"][0]["zone"]["id"]["name"] == zone
        ]
        got = sums(lake, "Launches", {"Zone": zone})
        assert (sum(s for s, _ in got.values()), sum(c for _, c in got.values())) == (
            sum(counts),
            len(counts),
        )
    prod = sum(1 for p in items if p["tags"]["l1"]["l2"]["l3"]["l4"]["l5"]["l6"] == "prod")
    tagged_sums = sums(lake, "Tagged")
    assert 0 < prod < 60 and sum(s for s, _ in tagged_sums.values()) == prod
