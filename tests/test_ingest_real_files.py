"""Getting real files in as a newcomer does: a downloaded dataset folder with its README and
licence next to the logs, and logs kept under a path AWS never writes."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from loglake.cli import main

INVICTUS = Path(__file__).parent / "data" / "invictus-aws-dataset"


def test_readme_and_licence_next_to_logs_are_skipped_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "dataset"
    shutil.copytree(INVICTUS, folder)
    (folder / "README.md").write_text("# A dataset of CloudTrail logs\n")
    lake = str(tmp_path / "lake")
    assert main(["--lake", lake, "ingest", str(folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 file(s) that are not logs: LICENSE.txt, README.md" in out
    assert " 0 quarantined" in out
    assert main(["--lake", lake, "quarantine", "list", "--format", "json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["--lake", lake, "query", "SELECT count(*) > 0 AS ok FROM cloudtrail", "-q"]) == 0
    assert "true" in capsys.readouterr().out


def test_logs_under_another_path_name_the_source_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports" / "incident-42"
    folder.mkdir(parents=True)
    record = {
        "eventVersion": "1.08",
        "eventTime": "2024-05-06T01:02:03Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser",
        "awsRegion": "us-east-1",
        "eventID": "e-1",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "Root", "accountId": "111122223333"},
    }
    (folder / "events.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [record]}).encode())
    )
    lake = str(tmp_path / "lake")
    assert main(["--lake", lake, "ingest", str(folder), "--no-progress"]) == 1
    # the run's summary says what to do, not only the quarantine list (whose table cuts reasons)
    assert (
        "1 object(s) in no AWS key layout: if they hold logs, ingest them again with --source cloudtrail|"
        in (capsys.readouterr().out)
    )
    assert main(["--lake", lake, "quarantine", "list", "--format", "json"]) == 0
    (entry,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert "--source cloudtrail|vpcflow|config|cloudwatch" in entry["reason"]
    assert (
        main(["--lake", lake, "ingest", str(folder), "--source", "cloudtrail", "--no-progress"])
        == 0
    )
    # the entry of the first run is resolved: the object is ingested now
    assert "1 entries of earlier runs cleared" in capsys.readouterr().out
    assert main(["--lake", lake, "quarantine", "list", "--format", "json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["--lake", lake, "query", "SELECT eventname FROM cloudtrail", "-q"]) == 0
    assert "CreateUser" in capsys.readouterr().out


def test_quarantine_retry_says_what_becomes_of_each_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "raw" / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1"
    folder = folder / "2024" / "05" / "06"
    folder.mkdir(parents=True)
    name = "111122223333_CloudTrail_us-east-1_20240506T0105Z_abcdefABCDEF0123.json.gz"
    (folder / name).write_bytes(gzip.compress(b'{"Records": [{"eventTime": '))
    lake = str(tmp_path / "lake")
    assert main(["--lake", lake, "ingest", str(tmp_path / "raw"), "--no-progress"]) == 1
    capsys.readouterr()
    assert main(["--lake", lake, "quarantine", "retry"]) == 1
    assert f"[1/1] {folder / name}: still fails: 1 quarantine entries" in capsys.readouterr().err
    record = {"eventTime": "2024-05-06T01:02:03Z", "eventName": "CreateUser", "eventID": "e-1"}
    (folder / name).write_bytes(gzip.compress(json.dumps({"Records": [record]}).encode()))
    assert main(["--lake", lake, "quarantine", "retry"]) == 0
    assert f"[1/1] {folder / name}: ingested (1 rows)" in capsys.readouterr().err
    assert main(["--lake", lake, "quarantine", "list", "--format", "json"]) == 0
    assert capsys.readouterr().out == ""
