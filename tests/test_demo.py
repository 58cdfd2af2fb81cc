"""The demo end to end on a small lake (the notebooks run against it in test_notebooks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loglake import demo


def test_demo_finds_every_incident(demo_lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import loglake

    lake = loglake.connect(str(demo_lake))
    fired = set(
        lake.sql(
            "SELECT DISTINCT alarm_name FROM _monitor.alarm_history "
            "WHERE history_summary LIKE '%to ALARM%'"
        )["alarm_name"].to_list()
    )
    # one CIS alarm per injected incident
    assert {
        "CIS-RootAccountUsage-Alarm",
        "CIS-CloudTrailConfigChanges-Alarm",
        "CIS-SecurityGroupChanges-Alarm",
        "CIS-DisableOrDeleteCMK-Alarm",
        "CIS-ConsoleAuthenticationFailures-Alarm",
        "CIS-IAMPolicyChanges-Alarm",
    } <= fired
    truth = json.loads((demo_lake.with_name("demo-lake-raw") / "ground_truth.json").read_text())
    opened = next(s for s in truth["scenarios"] if s["name"] == "security_group_open_ssh")
    who = lake.sql(demo.INVESTIGATIONS[0][1])
    assert who["security_group"].to_list() == [opened["details"]["groupId"]]
    assert who["who"].to_list() == [opened["details"]["openedBy"]]
