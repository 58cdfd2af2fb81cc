"""Hostile raw objects: each is quarantined with its reason, or ingested as plain text, and the
rest of the batch goes on (with one process and with worker processes)."""

from __future__ import annotations

import gzip
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

import loglake
from loglake.ingest.quarantine import Quarantine

ACCOUNT = "111122223333"
REGION = "us-east-1"


def event(i: int, when: str = "2024-05-10T16:00:00Z", **extra: object) -> dict:
    out = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/u{i}"},
        "eventTime": when,
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "requestParameters": {"bucketName": "b", "key": f"k{i}"},
        "eventID": f"evt-{i:06d}",
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    }
    out.update(extra)
    return out


@dataclass(frozen=True)
class Case:
    """One hostile object: its body, the event ids that must arrive, what the quarantine says."""

    name: str
    body: bytes
    arrive: tuple[str, ...]
    reasons: tuple[str, ...] = ()  # one substring per quarantine entry, in record order


def records(*items: object) -> bytes:
    return gzip.compress(orjson.dumps({"Records": list(items)}))


HOSTILE_TEXT = "'; DROP TABLE cloudtrail; --\n\x1b[31m../../../etc/passwd\u202e${jndi:ldap://x}"
CORPUS = [
    Case("null record", records(None, event(1)), ("evt-000001",), ("not a JSON object",)),
    Case(
        "scalars among records",
        records(7, "text", [1], event(2)),
        ("evt-000002",),
        ("not a JSON object", "not a JSON object", "not a JSON object"),
    ),
    Case(
        "impossible event times",
        records(
            event(3, "9999-99-99T99:99:99Z"),
            event(4, "2024-02-30T10:00:00Z"),
            event(5, "2024-05-10T24:00:00Z"),
            event(6, "yesterday"),
            event(7),
        ),
        ("evt-000007",),
        (
            "'9999-99-99T99:99:99Z'",
            "'2024-02-30T10:00:00Z'",
            "'2024-05-10T24:00:00Z'",
            "'yesterday'",
        ),
    ),
    Case(
        "missing event time",
        records(event(8, eventTime=None), event(9)),
        ("evt-000009",),
        ("eventTime missing",),
    ),
    Case(
        "attacker-written fields",
        records(event(10, userAgent=HOSTILE_TEXT, eventName="../../x", errorMessage="%s%n" * 50)),
        ("evt-000010",),
    ),
    Case(
        "records not a list",
        gzip.compress(b'{"Records": {"a": 1}}'),
        (),
        ("not a CloudTrail log file",),
    ),
    Case(
        "deep nesting",
        gzip.compress(b'{"Records": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        (),
        ("invalid JSON",),
    ),
    Case("gzip bomb", gzip.compress(b" " * 3_000_000), (), ("gzip bomb",)),
]


def write_corpus(raw: Path, cases: list[Case]) -> dict[str, Case]:
    folder = raw / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / "2024" / "05" / "10"
    folder.mkdir(parents=True)
    by_file = {}
    for i, case in enumerate(cases):
        name = f"{ACCOUNT}_CloudTrail_{REGION}_20240510T16{i:02d}Z_{uuid.uuid4().hex[:16]}.json.gz"
        (folder / name).write_bytes(case.body)
        by_file[name] = case
    return by_file


@pytest.mark.parametrize("workers", [1, 2])
def test_hostile_objects_are_quarantined_and_the_rest_ingested(
    tmp_path: Path, workers: int
) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    lake.catalog.update_lake_settings(ingest_max_inflated_bytes=1_000_000)
    by_file = write_corpus(tmp_path / "raw", CORPUS)
    report = lake.ingest(str(tmp_path / "raw"), progress=False, workers=workers)
    expected_ids = sorted(i for case in CORPUS for i in case.arrive)
    got = lake.sql("SELECT eventid FROM cloudtrail ORDER BY eventid")["eventid"].to_list()
    assert got == expected_ids
    entries = Quarantine(lake.settings).entries()
    for name, case in by_file.items():
        mine = sorted(
            (e for e in entries if e.source_key.endswith(name)),
            key=lambda e: e.position.get("record_index", 0),
        )
        assert len(mine) == len(case.reasons), (case.name, [e.error for e in mine])
        for entry, reason in zip(mine, case.reasons, strict=True):
            assert reason in entry.error, (case.name, entry.error)
    assert report.records_quarantined + report.objects_quarantined == sum(
        len(c.reasons) for c in CORPUS
    )
    # attacker text is data: stored and returned byte for byte, never a path or SQL
    row = lake.sql("SELECT useragent, eventname FROM cloudtrail WHERE eventid = 'evt-000010'")
    assert row.row(0) == (HOSTILE_TEXT, "../../x")
    # every query that parses event times still works over what was ingested
    assert lake.sql(
        "SELECT count(*) AS n FROM cloudtrail WHERE from_iso8601_timestamp(eventtime) > TIMESTAMP '2000-01-01 00:00:00'"
    ).item() == len(expected_ids)
    assert lake.sql("SELECT DISTINCT day FROM cloudtrail")["day"].to_list() == ["2024-05-10"]
    # a second run changes nothing and quarantines nothing twice
    again = lake.ingest(str(tmp_path / "raw"), progress=False, workers=workers)
    assert again.objects_ingested == 0
    assert len(Quarantine(lake.settings).entries()) == len(entries)


def test_times_with_an_offset_are_partitioned_by_their_utc_day(tmp_path: Path) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    write_corpus(
        tmp_path / "raw",
        [
            Case(
                "offsets",
                records(
                    event(1, "2024-05-10T23:30:00-05:00"),
                    event(2, "2024-05-10T01:00:00+0530"),
                    event(3, "2024-05-10T12:00:00.123Z"),
                ),
                (),
            )
        ],
    )
    lake.ingest(str(tmp_path / "raw"), progress=False)
    rows = lake.sql("SELECT eventid, day, eventtime FROM cloudtrail ORDER BY eventid").rows()
    assert rows == [
        ("evt-000001", "2024-05-11", "2024-05-10T23:30:00-05:00"),
        ("evt-000002", "2024-05-09", "2024-05-10T01:00:00+0530"),
        ("evt-000003", "2024-05-10", "2024-05-10T12:00:00.123Z"),
    ]


def test_an_unreadable_folder_is_quarantined_and_the_rest_ingested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    raw = tmp_path / "raw"
    write_corpus(raw, [Case("good", records(event(1)), ("evt-000001",))])
    locked = raw / "AWSLogs" / "999988887777"
    locked.mkdir()
    listdir = os.listdir

    def refusing_listdir(path):  # root ignores chmod: refuse by hand
        if str(path).rstrip("/") == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", refusing_listdir)
    report = lake.ingest(str(raw), progress=False)
    assert report.rows["cloudtrail"] == 1 and report.objects_quarantined == 1
    (entry,) = Quarantine(lake.settings).entries()
    assert entry.source_key == str(locked) and "Permission denied" in entry.error
