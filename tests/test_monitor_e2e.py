"""End to end: raw CloudTrail -> `loglake watch --once` -> CIS alarms -> webhook on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from loglake.cli import main
from loglake.monitor.alarmstore import AlarmStore

ACCOUNT = "111122223333"


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/sns", received
    server.shutdown()
    server.server_close()
    thread.join()


def event(name: str, source: str, when: datetime, identity: dict, **extra) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.30",
        "requestParameters": extra.pop("requestParameters", None),
        "responseElements": extra.pop("responseElements", None),
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": extra.pop("eventType", "AwsApiCall"),
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        **extra,
    }


def write_trail(root, records: list[dict], when: datetime) -> None:
    day = when.strftime("%Y/%m/%d")
    folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / day
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{ACCOUNT}_CloudTrail_us-east-1_{when.strftime('%Y%m%dT%H%MZ')}_{uuid.uuid4().hex[:16]}.json.gz"
    (folder / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))


def test_watch_raises_cis_alarms_and_notifies_webhook(tmp_path, webhook, capsys):
    url, received = webhook
    lake = str(tmp_path / "lake")
    assert main(["init", lake]) == 0
    source = tmp_path / "trail"
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    root = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root"}
    user = {"type": "IAMUser", "principalId": "AIDAX", "arn": f"arn:aws:iam::{ACCOUNT}:user/eve"}
    write_trail(
        source,
        [
            event(
                "ConsoleLogin",
                "signin.amazonaws.com",
                when,
                root,
                eventType="AwsConsoleSignIn",
                responseElements={"ConsoleLogin": "Success"},
                additionalEventData={"MFAUsed": "No"},
            ),
            event(
                "StopLogging",
                "cloudtrail.amazonaws.com",
                when,
                user,
                requestParameters={"name": "management-trail"},
            ),
            event("DescribeInstances", "ec2.amazonaws.com", when, user),
        ],
        when,
    )
    assert main(["--lake", lake, "monitor", "install-pack", "cis", "--action", url]) == 0
    capsys.readouterr()
    assert main(["--lake", lake, "watch", "--source", str(source), "--once"]) == 0
    cycle = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cycle["ingestError"] is None
    assert cycle["matches"] == {"CIS-CloudTrailConfigChanges": 1, "CIS-RootAccountUsage": 1}
    from loglake.catalog import Catalog, StorageSettings

    catalog = Catalog(StorageSettings.resolve(lake))
    states = {
        a["AlarmName"]: a["StateValue"]
        for a in AlarmStore(catalog).describe_alarms()["MetricAlarms"]
    }
    assert states["CIS-RootAccountUsage-Alarm"] == "ALARM"
    assert states["CIS-CloudTrailConfigChanges-Alarm"] == "ALARM"
    assert {
        s
        for n, s in states.items()
        if n not in ("CIS-RootAccountUsage-Alarm", "CIS-CloudTrailConfigChanges-Alarm")
    } == {"OK"}
    alarmed = sorted(json.loads(b["Message"])["AlarmName"] for b in received)
    assert alarmed == ["CIS-CloudTrailConfigChanges-Alarm", "CIS-RootAccountUsage-Alarm"]
    assert all(json.loads(b["Message"])["NewStateValue"] == "ALARM" for b in received)
    # a second cycle ingests nothing new and notifies nobody again
    assert main(["--lake", lake, "watch", "--source", str(source), "--once"]) == 0
    assert len(received) == 2
    # the datapoints are a table the SQL engine can query
    from loglake.query.engine import Engine

    df = (
        Engine(catalog)
        .execute(
            "SELECT metric_name, sum(sum) AS total FROM _monitor.metrics "
            "WHERE metric_name IN ('RootAccountUsage', 'CloudTrailConfigChanges') "
            "GROUP BY metric_name ORDER BY metric_name"
        )
        .df
    )
    assert df.rows() == [("CloudTrailConfigChanges", 1.0), ("RootAccountUsage", 1.0)]
