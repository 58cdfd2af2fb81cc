"""Contributor Insights rules: top contributors per period over VPC flow logs, CloudTrail and
CloudWatch Logs (JSON and CLF rules), stored rule metrics, alarms on a contributor above N."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from conftest import new_lake

import loglake
from loglake.cli import main
from loglake.errors import UserError
from loglake.monitor import contributors as rules
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.watch import run_cycle

ACCOUNT = "111122223333"
SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}


def t(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, 25, hour, minute, tzinfo=UTC)


FLOWS = [  # srcaddr, bytes, start, action
    ("192.0.2.10", 1000, t(10, 0), "ACCEPT"),
    ("192.0.2.10", 700, t(10, 1), "ACCEPT"),
    ("192.0.2.20", 9000, t(10, 2), "REJECT"),
    ("198.51.100.1", 500, t(10, 3), "ACCEPT"),
    ("192.0.2.20", 300, t(11, 5), "ACCEPT"),
    ("198.51.100.1", 400, t(11, 6), "ACCEPT"),
]
DENIED = [  # principal, event, error, time
    ("mallory", "UpdateTrail", "AccessDenied", t(10, 0)),
    ("mallory", "UpdateTrail", "AccessDenied", t(10, 5)),
    ("alice", "GetObject", "AccessDenied", t(10, 7)),
    ("bob", "StartInstances", "Client.UnauthorizedOperation", t(10, 9)),
    ("carol", "ListBuckets", None, t(10, 10)),
    ("dave", "GetObject", "NoSuchKey", t(10, 11)),
]
APP = [  # JSON lines of /acme/app
    (t(10, 0), {"server": "s1", "severity": "ERROR", "latency": 150}),
    (t(10, 1), {"server": "s1", "severity": "ERROR", "latency": 250}),
    (t(10, 2), {"server": "s2", "severity": "ERROR", "latency": 50}),
    (t(10, 3), {"server": "s2", "severity": "INFO", "latency": 900}),
    (t(10, 4), {"server": "s3", "severity": "ERROR", "latency": 101}),
]
ACCESS = [  # common log format lines of /acme/access
    (t(10, 0), '192.0.2.1 - - [25/May/2024:10:00:00 +0000] "GET / HTTP/1.1" 500 12'),
    (t(10, 1), '192.0.2.1 - - [25/May/2024:10:01:00 +0000] "GET /a HTTP/1.1" 500 12'),
    (t(10, 2), '192.0.2.2 - - [25/May/2024:10:02:00 +0000] "GET /b HTTP/1.1" 200 99'),
    (t(10, 3), '192.0.2.3 - - [25/May/2024:10:03:00 +0000] "GET /c HTTP/1.1" 500 12'),
]


def _write(root) -> None:
    flows = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
             "bytes start end action log-status"]  # fmt: skip
    for src, nbytes, when, action in FLOWS:
        s = int(when.timestamp())
        flows.append(
            f"2 {ACCOUNT} eni-1 {src} 10.0.0.5 1234 443 6 3 {nbytes} {s} {s + 30} {action} OK"
        )
    day = root / "AWSLogs" / ACCOUNT / "vpcflowlogs" / "us-east-1" / "2024" / "05" / "25"
    day.mkdir(parents=True)
    name = f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-1234abcd_20240525T1000Z_fe123456.log.gz"
    (day / name).write_bytes(gzip.compress(("\n".join(flows) + "\n").encode()))

    records = []
    for k, (who, event, error, when) in enumerate(DENIED):
        record = {
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/{who}"},
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "iam.amazonaws.com",
            "eventName": event,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "eventID": f"e{k}",
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT,
        }
        if error:
            record["errorCode"] = error
        records.append(record)
    day = root / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / "2024" / "05" / "25"
    day.mkdir(parents=True)
    name = f"{ACCOUNT}_CloudTrail_us-east-1_20240525T1010Z_abcdefABCDEF0123.json.gz"
    (day / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))

    for prefix, events in (
        ("exports/app", [(w, json.dumps(e)) for w, e in APP]),
        ("exports/access", ACCESS),
    ):
        path = root / prefix / "task" / "i-1" / "000000.gz"
        path.parent.mkdir(parents=True)
        lines = [f"{w.strftime('%Y-%m-%dT%H:%M:%S')}.000Z {text}" for w, text in events]
        path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("contributors")
    _write(root / "raw")
    lake = new_lake(root / "lake")
    groups = {"exports/app": "/acme/app", "exports/access": "/acme/access"}
    report = lake.ingest(str(root / "raw"), log_groups=groups, progress=False)
    assert report.ok
    return root / "lake"


@pytest.fixture
def lake(ingested, tmp_path):
    """A copy of the ingested lake per test: rules and their results start empty."""
    shutil.copytree(ingested, tmp_path / "lake")
    return loglake.connect(str(tmp_path / "lake"))


TALKERS = {
    "Schema": SCHEMA,
    "LogFormat": "JSON",
    "Contribution": {
        "Keys": ["$.srcaddr"],
        "ValueOf": "$.bytes",
        "Filters": [{"Match": "$.action", "In": ["ACCEPT"]}],
    },
    "AggregateOn": "Sum",
}


def test_top_source_addresses_by_bytes_per_hour(lake):
    rules.put_insight_rule(lake.catalog, "talkers", TALKERS, table="vpc_flow_logs", period=3600)
    top = rules.evaluate_rule(lake.catalog, "talkers", t(10), t(12))
    assert [
        (r["timestamp"], r["rank"], r["keys"], r["value"], r["events"])
        for r in top.iter_rows(named=True)
    ] == [
        (t(10), 1, ["192.0.2.10"], 1700.0, 2),
        (t(10), 2, ["198.51.100.1"], 500.0, 1),
        (t(11), 1, ["198.51.100.1"], 400.0, 1),
        (t(11), 2, ["192.0.2.20"], 300.0, 1),
    ]  # the REJECTed 9000 bytes do not count
    metrics = lake.sql(
        "SELECT timestamp, metric_name, value FROM _monitor.metrics "
        "WHERE namespace = 'loglake/ContributorInsights' ORDER BY 1, 2"
    )
    first = {r[1]: r[2] for r in metrics.rows() if r[0] == t(10).replace(tzinfo=None)}
    assert first == {
        "Average": 1100.0, "MaxContributorValue": 1700.0, "Maximum": 1700.0, "Minimum": 500.0,
        "SampleCount": 3.0, "Sum": 2200.0, "UniqueContributors": 2.0,
    }  # fmt: skip
    # evaluating the same periods again replaces them: nothing is counted twice
    rules.evaluate_rule(lake.catalog, "talkers", t(10), t(12))
    assert lake.sql("SELECT count(*) AS n FROM _monitor.contributors")["n"][0] == 4
    assert (
        metrics.height
        == lake.sql(
            "SELECT count(*) AS n FROM _monitor.metrics WHERE namespace = 'loglake/ContributorInsights'"
        )["n"][0]
    )
    report = rules.insight_rule_report(lake.catalog, "talkers", t(10), t(12))
    assert [
        (r["keys"], r["approximate_aggregate_value"]) for r in report.iter_rows(named=True)
    ] == [
        (["192.0.2.10"], 1700.0),
        (["198.51.100.1"], 900.0),
        (["192.0.2.20"], 300.0),
    ]


def test_top_principals_by_access_denied_with_two_keys(lake):
    rule = {
        "Schema": SCHEMA,
        "LogFormat": "JSON",
        "Contribution": {
            "Keys": ["$.userIdentity.arn", "$.eventName"],
            "Filters": [
                {"Match": "$.errorCode", "StartsWith": ["AccessDenied", "Client.Unauthorized"]}
            ],
        },
        "AggregateOn": "Count",
    }
    rules.put_insight_rule(
        lake.catalog, "denied", rule, table="cloudtrail", period=3600, max_contributors=2
    )
    top = rules.evaluate_rule(lake.catalog, "denied", t(10), t(11))
    user = f"arn:aws:iam::{ACCOUNT}:user/"
    assert [(r["keys"], r["value"]) for r in top.iter_rows(named=True)] == [
        ([user + "mallory", "UpdateTrail"], 2.0),
        ([user + "alice", "GetObject"], 1.0),  # ties go by key; bob is the third, not kept
    ]


def test_json_and_clf_rules_over_log_groups(lake):
    errors = {
        "Schema": SCHEMA,
        "LogGroupNames": ["/acme/a*"],  # a prefix: /acme/app and /acme/access
        "LogFormat": "JSON",
        "Contribution": {
            "Keys": ["$.server"],
            "Filters": [
                {"Match": "$.severity", "EqualTo": "ERROR"},
                {"Match": "$.latency", "GreaterThan": 100},
                {"Match": "$.server", "NotIn": ["s9"]},
                {"Match": "$.latency", "IsPresent": True},
            ],
        },
        "AggregateOn": "Count",
    }
    rules.put_insight_rule(lake.catalog, "slow-errors", errors, period=3600)
    top = rules.evaluate_rule(lake.catalog, "slow-errors", t(10), t(11))
    assert [(r["keys"], r["value"]) for r in top.iter_rows(named=True)] == [
        (["s1"], 2.0),
        (["s3"], 1.0),
    ]
    clf = {
        "Schema": SCHEMA,
        "LogGroupNames": ["/acme/access"],
        "LogFormat": "CLF",
        "Fields": {"1": "ip", "9": "status", "10": "size"},
        "Contribution": {
            "Keys": ["ip"],
            "ValueOf": "size",
            "Filters": [{"Match": "status", "In": ["500"]}],
        },
        "AggregateOn": "Sum",
    }
    rules.put_insight_rule(lake.catalog, "server-errors", clf, period=60)
    top = rules.evaluate_rule(lake.catalog, "server-errors", t(10), t(11))
    assert [(r["timestamp"], r["keys"], r["value"]) for r in top.iter_rows(named=True)] == [
        (t(10, 0), ["192.0.2.1"], 12.0),
        (t(10, 1), ["192.0.2.1"], 12.0),
        (t(10, 3), ["192.0.2.3"], 12.0),
    ]


def test_alarm_on_a_contributor_above_n(lake):
    rules.put_insight_rule(lake.catalog, "talkers", TALKERS, table="vpc_flow_logs", period=3600)
    rules.evaluate_rule(lake.catalog, "talkers", t(10), t(12))
    store = AlarmStore(lake.catalog)
    store.put_alarm(
        {
            "AlarmName": "one-talker-over-1000-bytes",
            "Metrics": [
                {
                    "Id": "m1",
                    "Expression": 'INSIGHT_RULE_METRIC("talkers", "MaxContributorValue")',
                    "Period": 3600,
                    "ReturnData": True,
                }
            ],
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "Threshold": 1000,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
        now=t(10),
    )
    changes = store.replay(t(10, 1), t(12))
    states = [(c["from"], c["to"]) for c in changes]
    assert ("OK", "ALARM") in states or ("INSUFFICIENT_DATA", "ALARM") in states
    alarm = next(c for c in changes if c["to"] == "ALARM")
    assert "1700.0" in alarm["reason"]
    assert changes[-1]["to"] == "OK"  # 400 bytes in the second hour


def test_watch_cycle_runs_rules_from_their_checkpoint(lake):
    rules.put_insight_rule(lake.catalog, "talkers", TALKERS, table="vpc_flow_logs", period=3600)
    cycle = run_cycle(lake.catalog, now=t(11, 30))  # a new rule looks back one hour: 10:00-11:00
    assert cycle.rules == {"talkers": 2}
    assert rules.describe_insight_rules(lake.catalog)[0]["Checkpoint"] == t(11).isoformat()
    assert rules.run_insight_rules(lake.catalog, t(11, 59)) == {}  # no complete period yet
    assert rules.run_insight_rules(lake.catalog, t(12, 0)) == {"talkers": 2}
    disabled = rules.put_insight_rule(
        lake.catalog, "talkers", TALKERS, table="vpc_flow_logs", period=3600, state="DISABLED"
    )
    assert disabled["Checkpoint"] == t(12).isoformat()  # kept across a replacement
    assert rules.run_insight_rules(lake.catalog, t(14)) == {}


def test_cli_import_list_report(lake, tmp_path, capsys):
    root = lake.catalog.settings.root
    described = {
        "InsightRules": [
            {"Name": "talkers", "State": "ENABLED", "Schema": "CloudWatchLogRule/1",
             "Definition": json.dumps(TALKERS), "ManagedRule": False}
        ]
    }  # fmt: skip
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(described))
    base = ["--lake", root, "insight-rule"]
    assert main([*base, "import", str(path), "--table", "vpc_flow_logs", "--period", "3600"]) == 0
    assert main([*base, "list"]) == 0
    assert "talkers  ENABLED  vpc_flow_logs  keys: $.srcaddr  Sum" in capsys.readouterr().out
    assert (
        main(
            [
                *base,
                "evaluate",
                "talkers",
                "--from",
                "2024-05-25T10:00Z",
                "--to",
                "2024-05-25T12:00Z",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    capsys.readouterr()
    args = ["report", "talkers", "--from", "2024-05-25T10:00Z", "--to", "2024-05-25T12:00Z"]
    assert main([*base, *args, "--format", "csv", "--max-contributors", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("keys,approximate_aggregate_value") and lines[1].startswith(
        "192.0.2.10,1700.0,"
    )
    assert main([*base, "delete", "talkers"]) == 0
    assert rules.describe_insight_rules(lake.catalog) == []


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"Schema": {"Name": "Other", "Version": 1}}, "Schema must be"),
        ({"Schema": SCHEMA, "AggregateOn": "Count"}, "Contribution is required"),
        ({"Schema": SCHEMA, "Contribution": {"Keys": []}, "AggregateOn": "Count"}, "Keys must list 1 to 4"),
        ({"Schema": SCHEMA, "Contribution": {"Keys": ["$.a"]}, "AggregateOn": "Max"}, "AggregateOn must be Count or Sum"),
        ({"Schema": SCHEMA, "Contribution": {"Keys": ["$.srcaddr"]}, "AggregateOn": "Sum"}, "needs Contribution.ValueOf"),
        ({"Schema": SCHEMA, "Contribution": {"Keys": ["$.srcaddr"], "Filters": [{"Match": "$.action"}]}, "AggregateOn": "Count"}, "needs Match and one of"),
        ({"Schema": SCHEMA, "Contribution": {"Keys": ["$.nope"]}, "AggregateOn": "Count"}, "unknown field 'nope' in vpc_flow_logs"),
        ({"Schema": SCHEMA, "LogFormat": "CLF", "Contribution": {"Keys": ["ip"]}, "AggregateOn": "Count"}, "needs Fields"),
        ("{not json", "not JSON"),
    ],
)  # fmt: skip
def test_invalid_rules_are_refused_with_the_reason(lake, definition, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        rules.put_insight_rule(lake.catalog, "bad", definition, table="vpc_flow_logs")
    assert rules.describe_insight_rules(lake.catalog) == []


def test_periods_align_to_the_epoch(lake):
    rules.put_insight_rule(lake.catalog, "talkers", TALKERS, table="vpc_flow_logs", period=3600)
    top = rules.evaluate_rule(lake.catalog, "talkers", t(10, 30), t(11, 10) + timedelta(seconds=5))
    assert top["timestamp"].unique().to_list() == [t(10)]  # 10:30 -> 10:00, 11:10 -> 11:00
