"""Metrics store (PutMetricData / GetMetricStatistics / GetMetricData) and stateful alarms."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import UserError
from loglake.monitor import actions
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.metrics import MetricsStore

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def catalog(tmp_path):
    return Catalog(StorageSettings.resolve(tmp_path / "lake"))


@pytest.fixture
def webhook():
    """A local HTTP server that records POSTed JSON; `fail` answers 500 that many times."""
    received: list[dict] = []
    headers: list[dict] = []
    state = {"fail": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if state["fail"] > 0:
                state["fail"] -= 1
                self.send_response(500)
                self.end_headers()
                return
            received.append(body)
            headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {
        "url": f"http://127.0.0.1:{server.server_port}/alarm",
        "received": received,
        "headers": headers,
        "state": state,
    }
    server.shutdown()
    server.server_close()
    thread.join()


# --- metrics ------------------------------------------------------------------------------------


def test_put_metric_data_validates_each_datum(catalog):
    store = MetricsStore(catalog)
    report = store.put_metric_data(
        "App",
        [
            {"MetricName": "ok", "Value": 1, "Timestamp": NOW - timedelta(days=13)},
            {"MetricName": "old", "Value": 1, "Timestamp": NOW - timedelta(days=15)},
            {"MetricName": "future", "Value": 1, "Timestamp": NOW + timedelta(hours=3)},
            {"MetricName": "nan", "Value": float("nan")},
            {"MetricName": "unit", "Value": 1, "Unit": "Parsecs"},
            {
                "MetricName": "dims",
                "Value": 1,
                "Dimensions": [{"Name": f"d{i}", "Value": "x"} for i in range(31)],
            },
            {"MetricName": "counts", "Values": [1, 2], "Counts": [1]},
            {"MetricName": "both", "Value": 1, "Values": [1]},
            {"MetricName": "res", "Value": 1, "StorageResolution": 5},
            {"MetricName": "soon", "Value": 2, "Timestamp": NOW + timedelta(minutes=90)},
        ],
        now=NOW,
    )
    assert report["accepted"] == 2
    reasons = {r["index"]: r["reason"] for r in report["rejected"]}
    assert "two weeks in the past" in reasons[1]
    assert "two hours in the future" in reasons[2]
    assert "out of range" in reasons[3]
    assert "unknown unit" in reasons[4]
    assert "at most 30 dimensions" in reasons[5]
    assert "Counts" in reasons[6]
    assert "exactly one of" in reasons[7]
    assert "StorageResolution" in reasons[8]
    with pytest.raises(UserError, match="reserved"):
        store.put_metric_data("AWS/EC2", [{"MetricName": "x", "Value": 1}])


def test_statistics_see_every_write_including_another_writers(catalog):
    """The metrics table is kept in memory between writes; a write by this store or by another
    one (another process) is seen by the next question."""
    reader, other = MetricsStore(catalog), MetricsStore(catalog)
    t0 = NOW - timedelta(minutes=10)

    def total() -> list[float]:
        frame = reader.statistics("App", "Hits", None, t0, NOW, 600, ["Sum"])
        return frame["Sum"].to_list()

    reader.put_metric_data("App", [{"MetricName": "Hits", "Value": 1, "Timestamp": t0}])
    assert total() == [1.0]
    assert total() == [1.0]  # asked again without a write in between
    reader.put_metric_data("App", [{"MetricName": "Hits", "Value": 2, "Timestamp": t0}])
    assert total() == [3.0]
    other.put_metric_data("App", [{"MetricName": "Hits", "Value": 4, "Timestamp": t0}])
    assert total() == [7.0]


def test_statistics_and_exact_percentiles(catalog):
    store = MetricsStore(catalog)
    t0 = NOW - timedelta(minutes=30)
    values = list(range(1, 101))  # 1..100 in one minute
    store.put_metric_data(
        "App",
        [
            {
                "MetricName": "Latency",
                "Values": values[:50],
                "Timestamp": t0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Values": values[50:],
                "Timestamp": t0,
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 2, "Maximum": 8},
                "Timestamp": t0 + timedelta(minutes=1),
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "Latency",
                "Value": 7,
                "Timestamp": t0 + timedelta(minutes=1),
                "Unit": "Milliseconds",
                "Dimensions": [{"Name": "Host", "Value": "a"}],
            },
        ],
        now=NOW,
    )
    out = store.get_metric_statistics(
        Namespace="App",
        MetricName="Latency",
        StartTime=t0 + timedelta(seconds=20),  # rounded down to the minute
        EndTime=t0 + timedelta(minutes=2),
        Period=60,
        Statistics=["SampleCount", "Sum", "Average", "Minimum", "Maximum"],
    )
    first, second = out["Datapoints"]
    assert first == {
        "Timestamp": t0.isoformat(),
        "SampleCount": 100.0,
        "Sum": 5050.0,
        "Average": 50.5,
        "Minimum": 1.0,
        "Maximum": 100.0,
        "Unit": "Milliseconds",
    }
    assert (second["SampleCount"], second["Sum"], second["Minimum"], second["Maximum"]) == (
        4.0,
        20.0,
        2.0,
        8.0,
    )
    pct = store.get_metric_statistics(
        Namespace="App",
        MetricName="Latency",
        StartTime=t0,
        EndTime=t0 + timedelta(minutes=1),
        Period=60,
        ExtendedStatistics=["p50", "p90", "p99", "p100"],
    )
    assert pct["Datapoints"][0]["ExtendedStatistics"] == {
        "p50": 50.0,
        "p90": 90.0,
        "p99": 99.0,
        "p100": 100.0,
    }
    data = store.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "host",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "App",
                        "MetricName": "Latency",
                        "Dimensions": [{"Name": "Host", "Value": "a"}],
                    },
                    "Period": 300,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=t0 - timedelta(minutes=10),
        EndTime=NOW,
    )
    result = data["MetricDataResults"][0]
    assert result["Values"] == [7.0]
    with pytest.raises(UserError, match="Statistics or ExtendedStatistics"):
        store.get_metric_statistics(
            Namespace="App", MetricName="Latency", StartTime=t0, EndTime=NOW, Period=60
        )
    with pytest.raises(UserError, match="1440"):
        store.get_metric_statistics(
            Namespace="App",
            MetricName="Latency",
            StartTime=NOW - timedelta(days=2),
            EndTime=NOW,
            Period=60,
            Statistics=["Sum"],
        )


# --- alarms -------------------------------------------------------------------------------------


def alarm(name: str = "high-errors", **extra) -> dict:
    d = {
        "AlarmName": name,
        "MetricName": "Errors",
        "Namespace": "App",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 2,
        "DatapointsToAlarm": 2,
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    d.update(extra)
    return d


def put(catalog: Catalog, minutes_ago: int, value: float) -> None:
    report = MetricsStore(catalog).put_metric_data(
        "App",
        [
            {
                "MetricName": "Errors",
                "Value": value,
                "Timestamp": NOW - timedelta(minutes=minutes_ago),
            }
        ],
        now=NOW,
    )
    assert report["accepted"] == 1


def test_transitions_history_and_actions_fire_once(catalog, tmp_path, webhook):
    notes = tmp_path / "notes.jsonl"
    store = AlarmStore(catalog, sleep=lambda s: None)
    store.put_alarm(
        alarm(AlarmActions=[webhook["url"], f"file://{notes}"], OKActions=[f"file://{notes}"]),
        now=NOW,
    )
    assert store.get("high-errors")["state"]["StateReason"] == "Unchecked: Initial alarm creation"
    put(catalog, 2, 9)
    put(catalog, 1, 7)
    transitions = store.evaluate(now=NOW)
    assert transitions == [
        {
            "alarm": "high-errors",
            "from": "INSUFFICIENT_DATA",
            "to": "ALARM",
            "reason": transitions[0]["reason"],
        }
    ]
    assert (
        transitions[0]["reason"].startswith("Threshold Crossed: 2 datapoints [7.0 (")
        and "were greater than the threshold (5.0)" in transitions[0]["reason"]
    )
    # evaluating again (same window or later with the same data) fires nothing more
    assert store.evaluate(now=NOW) == []
    assert store.evaluate(now=NOW + timedelta(seconds=30)) == []
    assert len(webhook["received"]) == 1
    body = webhook["received"][0]
    assert body["Type"] == "Notification"
    assert webhook["headers"][0]["x-amz-sns-message-id"] == body["MessageId"]
    message = json.loads(body["Message"])
    assert message["AlarmName"] == "high-errors"
    assert (message["OldStateValue"], message["NewStateValue"]) == ("INSUFFICIENT_DATA", "ALARM")
    assert message["Trigger"]["Statistic"] == "SUM"
    assert message["Trigger"]["Threshold"] == 5.0
    assert body["Subject"].startswith('ALARM: "high-errors"')
    lines = [json.loads(line) for line in notes.read_text().splitlines()]
    assert [json.loads(line["Message"])["NewStateValue"] for line in lines] == ["ALARM"]
    # the datapoints move out of the window: back to OK (missing data, 1 real point not breaching)
    put(catalog, 0, 1)
    later = NOW + timedelta(minutes=1)
    assert [t["to"] for t in store.evaluate(now=later)] == ["OK"]
    lines = [json.loads(line) for line in notes.read_text().splitlines()]
    assert [json.loads(line["Message"])["NewStateValue"] for line in lines] == ["ALARM", "OK"]
    history = store.history("high-errors")
    assert history["history_item_type"].to_list().count("StateUpdate") == 2
    summaries = history.filter(history["history_item_type"] == "StateUpdate")[
        "history_summary"
    ].to_list()
    assert summaries == [
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    data = json.loads(
        history.filter(
            history["history_summary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
        )["history_data"][0]
    )
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [7.0, 9.0]
    assert history["history_item_type"].to_list().count("Action") == 3


def test_history_is_copied_once_by_two_processes_and_documents_stay_small(catalog):
    """Each of two stores (two processes) copies the history the other left pending exactly
    once, and a document carries only the history of its latest run."""
    watcher = AlarmStore(catalog)
    watcher.put_alarm(alarm(), now=NOW)
    put(catalog, 3, 9)
    put(catalog, 2, 9)
    assert [t["to"] for t in watcher.evaluate(now=NOW - timedelta(minutes=1))] == ["ALARM"]
    other = AlarmStore(catalog)  # another process: sets the state, copies its history item
    other.set_alarm_state("high-errors", "OK", "by hand", now=NOW - timedelta(seconds=30))
    put(catalog, 1, 9)
    put(catalog, 0, 9)
    assert [t["to"] for t in watcher.evaluate(now=NOW + timedelta(minutes=1))] == ["ALARM"]
    other.set_alarm_state("high-errors", "OK", "by hand again", now=NOW + timedelta(minutes=1))
    put(catalog, -1, 9)
    assert [t["to"] for t in watcher.evaluate(now=NOW + timedelta(minutes=2))] == ["ALARM"]
    history = AlarmStore(catalog).history("high-errors")
    seqs = history["seq"].to_list()
    assert sorted(seqs) == list(range(1, len(seqs) + 1))  # each item once, none missing
    assert history["history_item_type"].to_list().count("StateUpdate") == 5
    pending = AlarmStore(catalog).get("high-errors")["pendingHistory"]
    assert [p["seq"] for p in pending] == [max(seqs)]  # older items were dropped by a write


def test_webhook_is_retried_with_backoff(catalog, webhook):
    webhook["state"]["fail"] = 2
    slept: list[float] = []
    store = AlarmStore(catalog, sleep=slept.append)
    store.put_alarm(alarm(AlarmActions=[webhook["url"]]), now=NOW)
    store.set_alarm_state("high-errors", "ALARM", "testing", now=NOW)
    assert len(webhook["received"]) == 1
    assert slept == list(actions.RETRY_DELAYS[:2])


def test_crash_between_deciding_and_notifying_delivers_once(
    catalog, tmp_path, webhook, monkeypatch
):
    notes = tmp_path / "out.jsonl"
    store = AlarmStore(catalog, sleep=lambda s: None)
    store.put_alarm(alarm(AlarmActions=[webhook["url"], f"file:{notes}"]), now=NOW)
    put(catalog, 2, 9)
    put(catalog, 1, 9)

    class Killed(BaseException):
        pass

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(actions, "deliver", killed)
    with pytest.raises(Killed):
        store.evaluate(now=NOW)
    monkeypatch.undo()
    # the decision is recorded, the notifications are pending
    body = store.get("high-errors")
    assert body["state"]["StateValue"] == "ALARM"
    assert len(body["outbox"]) == 2
    # a restarted process finishes the work; running again sends nothing more
    restarted = AlarmStore(catalog, sleep=lambda s: None)
    restarted.evaluate(now=NOW)
    restarted.evaluate(now=NOW + timedelta(seconds=10))
    assert len(webhook["received"]) == 1
    assert len(notes.read_text().splitlines()) == 1
    assert restarted.get("high-errors")["outbox"] == []
    # a repeat of a file delivery (killed after writing, before recording) is dropped by id
    again = json.loads(notes.read_text().splitlines()[0])
    actions.deliver(f"file:{notes}", again)
    assert len(notes.read_text().splitlines()) == 1
    assert restarted.history("high-errors", "StateUpdate").height == 1


def test_failing_action_is_recorded_and_dropped(catalog):
    store = AlarmStore(catalog, sleep=lambda s: None)
    store.put_alarm(alarm(AlarmActions=["arn:aws:sns:us-east-1:1:topic"]), now=NOW)
    store.set_alarm_state("high-errors", "ALARM", "manual", now=NOW)
    assert store.get("high-errors")["outbox"] == []
    failed = store.history("high-errors", "Action")
    assert failed["history_summary"].to_list() == [
        "Failed to execute action arn:aws:sns:us-east-1:1:topic"
    ]


def test_actions_disabled_and_exec_target(catalog, tmp_path):
    out = tmp_path / "exec.json"
    script = tmp_path / "hook.py"
    script.write_text(
        "import sys, os, pathlib\n"
        f"pathlib.Path({str(out)!r}).write_text(os.environ['LOGLAKE_MESSAGE_ID'] + '\\n' + sys.stdin.read())\n"
    )
    store = AlarmStore(catalog, sleep=lambda s: None)
    store.put_alarm(
        alarm("quiet", AlarmActions=[f"exec:{sys.executable} {script}"], ActionsEnabled=False),
        now=NOW,
    )
    store.set_alarm_state("quiet", "ALARM", "manual", now=NOW)
    assert not out.exists()
    store.put_alarm(alarm("loud", AlarmActions=[f"exec:{sys.executable} {script}"]), now=NOW)
    store.set_alarm_state("loud", "ALARM", "manual", now=NOW)
    message_id, payload = out.read_text().split("\n", 1)
    assert json.loads(payload)["MessageId"] == message_id
    assert json.loads(json.loads(payload)["Message"])["NewStateReason"] == "manual"


def test_update_keeps_state_and_set_state_lasts_until_next_evaluation(catalog):
    store = AlarmStore(catalog)
    store.put_alarm(alarm(), now=NOW)
    put(catalog, 2, 0)
    put(catalog, 1, 0)
    store.evaluate(now=NOW)
    assert store.get("high-errors")["state"]["StateValue"] == "OK"
    store.put_alarm(alarm(Threshold=10), now=NOW)
    assert store.get("high-errors")["state"]["StateValue"] == "OK"
    store.set_alarm_state("high-errors", "ALARM", "drill", now=NOW)
    assert store.describe_alarms(["high-errors"])["MetricAlarms"][0]["StateValue"] == "ALARM"
    store.evaluate(now=NOW + timedelta(minutes=1))
    assert store.get("high-errors")["state"]["StateValue"] == "OK"
    with pytest.raises(UserError):
        store.set_alarm_state("nope", "ALARM", "x")


def test_composite_alarm(catalog, tmp_path):
    notes = tmp_path / "composite.jsonl"
    store = AlarmStore(catalog, sleep=lambda s: None)
    store.put_alarm(alarm("a"), now=NOW)
    store.put_alarm(alarm("b", MetricName="Other"), now=NOW)
    store.put_alarm(
        {
            "AlarmName": "both",
            "AlarmRule": "ALARM(a) AND NOT OK(b)",
            "AlarmActions": [f"file:{notes}"],
        },
        now=NOW,
    )
    assert store.get("both")["state"]["StateValue"] == "INSUFFICIENT_DATA"
    put(catalog, 2, 9)
    put(catalog, 1, 9)
    transitions = store.evaluate(now=NOW)
    # a -> ALARM, b stays INSUFFICIENT_DATA (not OK): the rule is TRUE
    assert {t["alarm"]: t["to"] for t in transitions} == {"a": "ALARM", "both": "ALARM"}
    body = json.loads(notes.read_text().splitlines()[0])
    assert json.loads(body["Message"])["AlarmRule"] == "ALARM(a) AND NOT OK(b)"
    store.set_alarm_state("b", "OK", "manual", now=NOW)
    assert [t["to"] for t in store.evaluate(now=NOW) if t["alarm"] == "both"] == ["OK"]
    with pytest.raises(UserError, match="used by composite"):
        store.delete_alarm("a")
    with pytest.raises(UserError):
        store.put_alarm({"AlarmName": "bad", "AlarmRule": "ALARM(a) AND"})


def test_get_metric_data_expressions(catalog):
    store = MetricsStore(catalog)
    t0 = NOW - timedelta(minutes=10)
    store.put_metric_data(
        "Web",
        [
            {"MetricName": "Requests", "Value": 200, "Timestamp": t0},
            {"MetricName": "Errors", "Value": 10, "Timestamp": t0},
            {"MetricName": "Requests", "Value": 50, "Timestamp": t0 + timedelta(minutes=1)},
            {"MetricName": "Errors", "Value": 0, "Timestamp": t0 + timedelta(minutes=1)},
            {"MetricName": "Requests", "Value": 10, "Timestamp": t0 + timedelta(minutes=2)},
        ],
        now=NOW,
    )

    def stat(qid: str, name: str) -> dict:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": "Web", "MetricName": name},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        }

    out = store.get_metric_data(
        MetricDataQueries=[
            stat("errors", "Errors"),
            stat("requests", "Requests"),
            {"Id": "rate", "Expression": "100 * errors / requests", "Label": "Error rate"},
        ],
        StartTime=t0,
        EndTime=NOW,
        ScanBy="TimestampAscending",
    )
    (result,) = out["MetricDataResults"]
    assert (result["Id"], result["Label"]) == ("rate", "Error rate")
    assert result["Values"] == [5.0, 0.0]  # the third minute has no Errors datapoint
    with pytest.raises(UserError, match="only ids, numbers"):
        store.get_metric_data(
            MetricDataQueries=[stat("a", "Errors"), {"Id": "b", "Expression": "__import__('os')"}],
            StartTime=t0,
            EndTime=NOW,
        )
    with pytest.raises(UserError, match="not an earlier query id"):
        store.get_metric_data(
            MetricDataQueries=[{"Id": "b", "Expression": "zz * 2"}], StartTime=t0, EndTime=NOW
        )


def test_watch_loop_survives_a_failing_ingest(catalog):
    from loglake.monitor.watch import watch

    calls: list[int] = []
    slept: list[float] = []

    def ingest_new() -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("bucket unreachable")
        return {"objects": 0}

    reports = watch(catalog, ingest_new, interval=30, cycles=3, sleep=slept.append)
    assert [r.ingest_error for r in reports] == ["OSError: bucket unreachable", None, None]
    assert [r.ingested for r in reports] == [None, {"objects": 0}, {"objects": 0}]
    assert len(slept) == 2 and all(0 <= s <= 30 for s in slept)
    with pytest.raises(UserError, match="interval"):
        watch(catalog, None, interval=0, once=True)
