"""The monitor commands of the `loglake` CLI."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from loglake.catalog import Catalog, StorageSettings
from loglake.cli import main

APACHE = (
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534\n'
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 404 5324\n'
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_metric_filter_test_from_file_and_stdin(tmp_path, capsys, monkeypatch):
    sample = tmp_path / "access.log"
    sample.write_text(APACHE)
    code, out, _ = run(capsys, "metric-filter", "test", "[..., status=404, size]", str(sample))
    assert code == 0
    matches = json.loads(out)["matches"]
    assert [(m["eventNumber"], m["extractedValues"]["$size"]) for m in matches] == [(2, "5324")]
    monkeypatch.setattr("sys.stdin", io.StringIO("ERROR one\nok\nERROR two\n"))
    code, out, _ = run(capsys, "metric-filter", "test", "ERROR", "-")
    assert [m["eventNumber"] for m in json.loads(out)["matches"]] == [1, 3]
    code, _, err = run(capsys, "metric-filter", "test", "{ $.a = ", str(sample))
    assert code == 2
    assert "column 9" in err


def test_metric_filter_put_list_import_delete(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", lake)[0] == 0
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "metric-filter",
        "put",
        "--name",
        "errors",
        "--table",
        "cloudtrail",
        "--pattern",
        '{ $.errorCode = "AccessDenied*" }',
        "--metric-name",
        "Denied",
        "--namespace",
        "Sec",
        "--default-value",
        "0",
    )
    assert code == 0
    assert json.loads(out)["metricFilter"]["table"] == "aws.cloudtrail"
    described = {
        "metricFilters": [
            {
                "filterName": "RootUsage",
                "logGroupName": "CloudTrail/DefaultLogGroup",
                "filterPattern": '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}',
                "metricTransformations": [
                    {"metricName": "RootUsage", "metricNamespace": "CIS", "metricValue": "1"}
                ],
                "creationTime": 1700000000000,
            }
        ]
    }
    doc = tmp_path / "filters.json"
    doc.write_text(json.dumps(described))
    code, out, _ = run(
        capsys, "--lake", lake, "metric-filter", "import", f"file://{doc}", "--table", "cloudtrail"
    )
    assert (code, json.loads(out)) == (0, {"imported": ["RootUsage"]})
    code, out, _ = run(capsys, "--lake", lake, "metric-filter", "list")
    assert [f["filterName"] for f in json.loads(out)["metricFilters"]] == ["RootUsage", "errors"]
    code, out, _ = run(capsys, "--lake", lake, "metric-filter", "delete", "errors")
    code, out, _ = run(capsys, "--lake", lake, "metric-filter", "list", "--prefix", "err")
    assert json.loads(out)["metricFilters"] == []
    code, _, err = run(capsys, "--lake", lake, "metric-filter", "delete", "errors")
    assert code == 2 and "no metric filter named 'errors'" in err
    code, _, err = run(
        capsys, "--lake", lake, "metric-filter", "put", "--json", '{"filterName": "x"}'
    )
    assert code == 2 and "logGroupName or a table" in err


def test_metrics_put_and_get(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", lake)[0] == 0
    when = (datetime.now(UTC) - timedelta(minutes=5)).replace(second=0, microsecond=0)
    data = [
        {
            "MetricName": "Latency",
            "Value": 10,
            "Unit": "Milliseconds",
            "Timestamp": when.isoformat(),
        },
        {
            "MetricName": "Latency",
            "Value": 30,
            "Unit": "Milliseconds",
            "Timestamp": when.isoformat(),
        },
        {"MetricName": "Latency", "Value": 1, "Timestamp": "2001-01-01T00:00:00Z"},
    ]
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "metrics",
        "put",
        "--namespace",
        "App",
        "--metric-data",
        json.dumps(data),
    )
    report = json.loads(out)
    assert code == 1 and report["accepted"] == 2 and report["rejected"][0]["index"] == 2
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "metrics",
        "get-statistics",
        "--namespace",
        "App",
        "--metric-name",
        "Latency",
        "--start-time",
        (when - timedelta(minutes=1)).isoformat(),
        "--end-time",
        (when + timedelta(minutes=1)).isoformat(),
        "--period",
        "120",
        "--statistics",
        "Average",
        "Maximum",
    )
    points = json.loads(out)["Datapoints"]
    assert [(p["Average"], p["Maximum"], p["Unit"]) for p in points] == [
        (20.0, 30.0, "Milliseconds")
    ]


def test_alarm_commands(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", lake)[0] == 0
    notes = tmp_path / "notes.jsonl"
    described = {
        "MetricAlarms": [
            {
                "AlarmName": "root-usage",
                "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:root-usage",
                "ActionsEnabled": True,
                "AlarmActions": ["arn:aws:sns:us-east-1:1:security"],
                "OKActions": [],
                "InsufficientDataActions": [],
                "StateValue": "OK",
                "StateReason": "old",
                "MetricName": "RootUsage",
                "Namespace": "CIS",
                "Statistic": "Sum",
                "Dimensions": [],
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 1.0,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            }
        ],
        "CompositeAlarms": [
            {"AlarmName": "any", "AlarmRule": "ALARM(root-usage)", "AlarmActions": []}
        ],
    }
    doc = tmp_path / "alarms.json"
    doc.write_text(json.dumps(described))
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "alarm",
        "import",
        str(doc),
        "--action-map",
        f"arn:aws:sns:us-east-1:1:security=file://{notes}",
    )
    assert (code, json.loads(out)) == (0, {"imported": ["root-usage", "any"]})
    code, out, _ = run(capsys, "--lake", lake, "alarm", "list", "--format", "json")
    listed = [json.loads(line) for line in out.splitlines()]
    assert {a["AlarmName"]: a["StateValue"] for a in listed} == {
        "root-usage": "INSUFFICIENT_DATA",
        "any": "INSUFFICIENT_DATA",
    }
    code, out, _ = run(capsys, "--lake", lake, "alarm", "list")
    assert out.splitlines()[0].startswith("| AlarmName  | StateValue        |")
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "alarm",
        "set-state",
        "root-usage",
        "--state-value",
        "ALARM",
        "--state-reason",
        "drill",
    )
    assert code == 0
    body = json.loads(notes.read_text().splitlines()[0])
    assert json.loads(body["Message"])["NewStateReason"] == "drill"
    code, out, _ = run(capsys, "--lake", lake, "alarm", "describe", "root-usage")
    alarm = json.loads(out)["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["AlarmActions"]) == ("ALARM", [f"file://{notes}"])
    code, out, _ = run(capsys, "--lake", lake, "alarm", "evaluate")
    assert [t["alarm"] for t in json.loads(out)["transitions"]] == ["root-usage", "any"]
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "alarm",
        "history",
        "root-usage",
        "--history-item-type",
        "StateUpdate",
    )
    summaries = [h["HistorySummary"] for h in json.loads(out)["AlarmHistoryItems"]]
    assert summaries == [
        "Alarm updated from ALARM to INSUFFICIENT_DATA",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    code, _, err = run(capsys, "--lake", lake, "alarm", "describe", "nope")
    assert code == 2 and "nope" in err


def test_alarm_replay_of_a_metric_math_alarm(tmp_path, capsys):
    """`alarm evaluate --replay-from` decides every minute of the range in one run."""
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", lake)[0] == 0
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)
    errors = [0, 0, 9, 8, 0, 0, 0]  # per minute from start; requests are 10 a minute
    data = [
        {
            "MetricName": name,
            "Value": value,
            "Timestamp": (start + timedelta(minutes=k)).isoformat(),
        }
        for k, e in enumerate(errors)
        for name, value in (("Errors", e), ("Requests", 10))
    ]
    code, _, _ = run(
        capsys,
        "--lake",
        lake,
        "metrics",
        "put",
        "--namespace",
        "App",
        "--metric-data",
        json.dumps(data),
    )
    assert code == 0

    def stat(mid: str, name: str) -> dict:
        metric = {"Namespace": "App", "MetricName": name}
        return {
            "Id": mid,
            "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
            "ReturnData": False,
        }

    alarm = {
        "AlarmName": "error-rate",
        "Metrics": [
            stat("e", "Errors"),
            stat("r", "Requests"),
            {"Id": "rate", "Expression": "100 * e / r", "ReturnData": True},
        ],
        "EvaluationPeriods": 2,
        "Threshold": 50,
        "ComparisonOperator": "GreaterThanThreshold",
        "AlarmActions": [f"file://{tmp_path / 'notes.jsonl'}"],
    }
    code, _, _ = run(capsys, "--lake", lake, "alarm", "put", "--json", json.dumps(alarm))
    assert code == 0
    code, out, _ = run(
        capsys,
        "--lake",
        lake,
        "alarm",
        "evaluate",
        "--replay-from",
        (start + timedelta(minutes=1)).isoformat(),
        "--at",
        (start + timedelta(minutes=8)).isoformat(),
        "--no-actions",
    )
    made = [(t["from"], t["to"]) for t in json.loads(out)["transitions"]]
    # rates 0 0 90 80 0: both of the last two breach once minute 3 is complete
    assert (code, made) == (0, [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")])
    assert not (tmp_path / "notes.jsonl").exists()
    code, out, _ = run(capsys, "--lake", lake, "alarm", "list", "--format", "json")
    assert json.loads(out.splitlines()[0])["StateValue"] == "OK"


def test_install_pack_and_watch_once_without_source(tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(capsys, "init", lake)[0] == 0
    code, out, _ = run(capsys, "--lake", lake, "monitor", "install-pack", "cis")
    created = json.loads(out)
    assert len(created["filters"]) == 14 and len(created["alarms"]) == 14
    catalog = Catalog(StorageSettings.resolve(lake))
    schema = pa.schema([("eventtime", pa.string()), ("eventname", pa.string())])
    catalog.create_database("aws", if_not_exists=True)
    catalog.create_managed_table("aws", "cloudtrail", schema)
    when = (datetime.now(UTC) - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    catalog.managed("aws", "cloudtrail").append(
        pa.Table.from_pylist([{"eventtime": when, "eventname": "CreateVpc"}], schema=schema)
    )
    code, out, _ = run(capsys, "--lake", lake, "watch", "--once")
    assert code == 0
    cycle = json.loads(out.strip().splitlines()[-1])
    assert cycle["matches"] == {"CIS-VPCChanges": 1}
    assert {t["alarm"] for t in cycle["transitions"] if t["to"] == "ALARM"} == {
        "CIS-VPCChanges-Alarm"
    }
