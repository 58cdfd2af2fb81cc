"""CloudTrail events that reach S3 through another pipeline, read with --envelope / --time-field.

Real events in the shapes other pipelines give them: the OTRF export as it is published
(``@timestamp``, no ``eventTime``), and the Stratus Red Team detonation events wrapped as an
EventBridge rule delivers them (under ``detail``) and as a CloudWatch Logs subscription delivers
them through Firehose (gzip members back to back, each a ``DATA_MESSAGE`` whose log events hold
the event as JSON text). Each must give the rows the plain events give.
"""

from __future__ import annotations

import gzip
import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import new_lake
from sample_files import OTRF_EXFILTRATION, stratus_files

from loglake.cli import main
from loglake.datasets.cwlogs import control_message
from loglake.errors import UserError
from loglake.ingest.record_mapping import RecordMapping, Unmapped, iso_time

ROWS = "SELECT eventid, eventtime, eventname, useridentity.arn AS arn, day FROM cloudtrail"


def _stratus_events() -> list[dict]:
    return [event for path in stratus_files()[:8] for event in json.loads(path.read_text())]


def _rows(lake) -> list[tuple]:
    return sorted(lake.sql(ROWS).rows())


@pytest.fixture(scope="module")
def plain_rows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    """The rows of the Stratus events read as the plain JSON arrays they are published as."""
    folder = tmp_path_factory.mktemp("plain")
    raw = folder / "raw"
    raw.mkdir()
    for path in stratus_files()[:8]:
        shutil.copy(path, raw / path.name)
    lake = new_lake(folder / "lake")
    lake.ingest(str(raw), source="cloudtrail", progress=False)
    return _rows(lake)


def test_otrf_export_reads_its_time_from_at_timestamp(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = tmp_path / "otrf"
    raw.mkdir()
    shutil.copy(OTRF_EXFILTRATION, raw / OTRF_EXFILTRATION.name)
    lines = [json.loads(line) for line in OTRF_EXFILTRATION.read_text().splitlines()]
    lake = str(tmp_path / "lake")
    # without the option, every record is quarantined and the reason names the options
    assert (
        main(["--lake", lake, "ingest", str(raw), "--source", "cloudtrail", "--no-progress"]) == 1
    )
    assert "103 record(s)" in capsys.readouterr().out
    assert main(["--lake", lake, "quarantine", "list", "--json"]) == 0
    reasons = {
        json.loads(line)["error"].split(": ", 1)[1]
        for line in capsys.readouterr().out.split("\n")
        if line
    }
    assert len(reasons) == 1 and "--time-field" in reasons.pop()

    # the same folder again with the option: read again although unchanged, quarantine cleared
    mapped = ["--source", "cloudtrail", "--time-field", "@timestamp", "--no-progress"]
    code = main(["--lake", lake, "ingest", str(raw), *mapped])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "rows: cloudtrail: 103" in out and "103 entries of earlier runs cleared" in out
    opened = new_lake(lake)
    rows = opened.sql(
        "SELECT eventid, eventtime, day, account, "
        "json_extract_scalar(extrafields, '$[\"@version\"]') AS version FROM cloudtrail"
    ).rows()
    expected = {
        (r["eventID"], r["@timestamp"], r["@timestamp"][:10], "123456789123", "1") for r in lines
    }
    assert set(rows) == expected and len(rows) == 103
    assert opened.sql(
        "SELECT count(*) FROM cloudtrail WHERE eventname = 'ListBuckets'"
    ).item() == sum(r["eventName"] == "ListBuckets" for r in lines)

    # kept in the catalog: a new file under the same folder is read the same way, unasked
    later = [dict(r, eventID=f"later-{i}") for i, r in enumerate(lines[:5])]
    (raw / "later.json").write_text("\n".join(json.dumps(r) for r in later) + "\n")
    assert (
        main(["--lake", lake, "ingest", str(raw), "--source", "cloudtrail", "--no-progress"]) == 0
    )
    assert "rows: cloudtrail: 5" in capsys.readouterr().out
    assert opened.sql("SELECT count(*) FROM cloudtrail").item() == 108
    properties = dict(opened.sql("SHOW TBLPROPERTIES aws.cloudtrail").rows())
    mapping = json.loads(properties[f"record_mapping.{raw}"])
    assert mapping == {"envelope": None, "time_field": "@timestamp"}


def _eventbridge(event: dict, number: int) -> dict:
    """An EventBridge event as a rule on CloudTrail management events delivers it."""
    return {
        "version": "0",
        "id": str(uuid.UUID(int=number)),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + event["eventSource"].split(".")[0],
        "account": event.get("recipientAccountId"),
        "time": event["eventTime"],
        "region": event["awsRegion"],
        "resources": [],
        "detail": event,
    }


def test_eventbridge_deliveries_give_the_rows_of_the_plain_events(
    tmp_path: Path, plain_rows: list[tuple]
) -> None:
    events = _stratus_events()
    raw = tmp_path / "eventbridge"
    raw.mkdir()
    half = len(events) // 2
    for name, part in (("a.json", events[:half]), ("b.json.gz", events[half:])):
        text = "".join(json.dumps(_eventbridge(e, i)) + "\n" for i, e in enumerate(part))
        data = gzip.compress(text.encode()) if name.endswith(".gz") else text.encode()
        (raw / name).write_bytes(data)
    lake = new_lake(tmp_path / "lake")
    report = lake.ingest(str(raw), source="cloudtrail", envelope="detail", progress=False)
    assert report.ok and report.total_rows == len(events)
    assert _rows(lake) == plain_rows


def _firehose_object(payloads: list[dict]) -> bytes:
    """What Firehose writes for a subscription: one gzip member per payload, back to back."""
    return b"".join(gzip.compress(json.dumps(p).encode()) for p in payloads)


def test_subscription_payloads_through_firehose(tmp_path: Path, plain_rows: list[tuple]) -> None:
    events = _stratus_events()
    log_events = [
        {"id": str(10**55 + i), "timestamp": 1_715_000_000_000 + i, "message": json.dumps(e)}
        for i, e in enumerate(events)
    ]
    control = control_message(1_715_000_000_000)
    stray = {"id": "1", "timestamp": 1_715_000_000_000, "message": "START RequestId: 42"}
    payloads = [control] + [
        {
            "messageType": "DATA_MESSAGE",
            "owner": "111122223333",
            "logGroup": "aws-cloudtrail-logs-111122223333",
            "logStream": "111122223333_CloudTrail_us-east-1",
            "subscriptionFilters": ["to-firehose"],
            "logEvents": log_events[start : start + 50] + ([stray] if start == 0 else []),
        }
        for start in range(0, len(log_events), 50)
    ]
    hour = tmp_path / "firehose" / "2024" / "05" / "06" / "13"
    hour.mkdir(parents=True)
    name = f"cloudtrail-stream-1-2024-05-06-13-00-00-{uuid.UUID(int=7)}"
    (hour / name).write_bytes(_firehose_object(payloads))

    lake = new_lake(tmp_path / "lake")
    report = lake.ingest(
        str(tmp_path / "firehose"),
        source="cloudtrail",
        envelope="logEvents.message",
        progress=False,
    )
    assert report.total_rows == len(events) and report.records_quarantined == 1
    assert _rows(lake) == plain_rows
    (entry,) = _entries(lake)
    assert "logEvents.message: a string that is not JSON" in entry.error

    # the log event's own time (epoch milliseconds) as the event time
    other = new_lake(tmp_path / "by-arrival")
    other.ingest(
        str(tmp_path / "firehose"),
        source="cloudtrail",
        envelope="logEvents.message",
        time_field="timestamp",
        progress=False,
    )
    first = other.sql("SELECT eventtime, day FROM cloudtrail ORDER BY eventtime LIMIT 1").row(0)
    assert first == ("2024-05-06T12:53:20.000Z", "2024-05-06")


def test_cloudwatch_logs_export_of_a_cloudtrail_log_group(
    tmp_path: Path, plain_rows: list[tuple]
) -> None:
    """An export task of the log group CloudTrail writes to: ``<time> <event JSON>`` lines."""
    events = _stratus_events()
    stream = (
        tmp_path / "exportedlogs" / "0f6a6d5e-export-task" / "111122223333_CloudTrail_us-east-1"
    )
    stream.mkdir(parents=True)
    lines = [f"{e['eventTime'][:19]}.000Z {json.dumps(e)}\n" for e in events]
    half = len(lines) // 2
    (stream / "000000.gz").write_bytes(gzip.compress("".join(lines[:half]).encode()))
    (stream / "000001.gz").write_bytes(gzip.compress("".join(lines[half:]).encode()))
    lake = new_lake(tmp_path / "lake")
    report = lake.ingest(str(tmp_path / "exportedlogs"), source="cloudtrail", progress=False)
    assert report.ok and report.total_rows == len(events)
    assert _rows(lake) == plain_rows
    # without --source the chunks are CloudWatch Logs, as before
    logs = new_lake(tmp_path / "logs")
    assert logs.ingest(str(tmp_path / "exportedlogs"), progress=False).rows == {
        "cloudwatch_logs": len(events)
    }


def _entries(lake) -> list:
    from loglake.ingest.quarantine import Quarantine

    return Quarantine(lake.settings).entries()


@pytest.mark.parametrize(
    ("mapping", "record", "reason"),
    [
        (RecordMapping("detail"), {"version": "0"}, "detail missing"),
        (
            RecordMapping("logEvents.message"),
            {"logEvents": [{"id": "1"}]},
            "logEvents.message missing",
        ),
        (RecordMapping("detail"), {"detail": None}, "detail: expected an object, got null"),
        (RecordMapping("a.b"), {"a": {"b": "{not json"}}, "a.b: a string that is not JSON"),
        (RecordMapping(None, "@timestamp"), {"eventName": "x"}, "@timestamp missing"),
        (RecordMapping(None, "t"), {"t": True}, "t: expected a time, got true"),
    ],
)
def test_records_a_mapping_cannot_place_name_what_is_missing(
    mapping: RecordMapping, record: dict, reason: str
) -> None:
    (unplaced,) = mapping.events(record)
    assert isinstance(unplaced, Unmapped) and str(unplaced) == reason


def test_time_fields_in_the_event_win_over_the_envelope_and_epochs_become_utc_text() -> None:
    mapping = RecordMapping("outer.inner", "time")
    record = {"time": 1_715_000_000, "outer": {"inner": [{"time": "2024-01-01T00:00:00Z"}, {}]}}
    assert [e["eventTime"] for e in mapping.events(record)] == [
        "2024-01-01T00:00:00Z",
        "2024-05-06T12:53:20.000Z",
    ]
    assert iso_time(1_715_000_000_123, "t") == "2024-05-06T12:53:20.123Z"
    assert RecordMapping(None, "time").events({"eventTime": "2024-01-01T00:00:00Z"}) == [
        {"eventTime": "2024-01-01T00:00:00Z"}
    ]


@pytest.mark.parametrize("path", ["", "detail.", ".x", "a..b"])
def test_a_path_with_empty_parts_is_refused(path: str) -> None:
    with pytest.raises(UserError, match="expected a dotted path"):
        RecordMapping(path)


def test_options_for_another_source_are_refused(tmp_path: Path) -> None:
    lake = new_lake(tmp_path / "lake")
    with pytest.raises(UserError, match="use --source cloudtrail"):
        lake.ingest(str(tmp_path), source="vpcflow", time_field="start", progress=False)
