"""The monitor on an S3 lake (moto's S3 server on 127.0.0.1) and on a local one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from loglake.catalog import Catalog
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.metrics import MetricsStore
from loglake.monitor.runner import list_metric_filters, put_metric_filter, run_metric_filters

SCHEMA = pa.schema(
    [("eventtime", pa.string()), ("eventname", pa.string()), ("region", pa.string())]
)


@pytest.mark.s3
def test_filters_metrics_and_alarms_on_any_lake(lake_settings, tmp_path):
    catalog = Catalog(lake_settings)
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table("aws", "cloudtrail", SCHEMA, partition_by=["region"])
    put_metric_filter(
        catalog,
        {
            "filterName": "vpc/changes",  # a name that is not a valid storage key as it is
            "table": "cloudtrail",
            "filterPattern": "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) }",
            "metricTransformations": [
                {"metricName": "VpcChanges", "metricNamespace": "LogMetrics", "metricValue": "1"}
            ],
        },
    )
    notes = tmp_path / "notes.jsonl"
    store = AlarmStore(catalog, sleep=lambda s: None)
    store.put_alarm(
        {
            "AlarmName": "vpc",
            "MetricName": "VpcChanges",
            "Namespace": "LogMetrics",
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [f"file:{notes}"],
        }
    )
    when = datetime.now(UTC) - timedelta(minutes=3)
    rows = [
        {"eventtime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventname": name, "region": region}
        for name, region in [
            ("CreateVpc", "us-east-1"),
            ("DeleteVpc", "eu-west-1"),
            ("Other", "us-east-1"),
        ]
    ]
    catalog.managed("aws", "cloudtrail").append(pa.Table.from_pylist(rows, schema=SCHEMA))
    assert run_metric_filters(catalog).matches == {"vpc/changes": 2}
    assert run_metric_filters(catalog).matches == {"vpc/changes": 0}
    assert [f["filterName"] for f in list_metric_filters(catalog)] == ["vpc/changes"]
    assert MetricsStore(catalog).frame().collect()["sum"].sum() == 2.0
    transitions = store.evaluate()
    assert [(t["alarm"], t["to"]) for t in transitions] == [("vpc", "ALARM")]
    message = json.loads(json.loads(notes.read_text().splitlines()[0])["Message"])
    assert message["NewStateValue"] == "ALARM"
    assert store.history("vpc", "StateUpdate").height == 1
