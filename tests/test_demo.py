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


def test_demo_names_the_exported_log_groups(demo_lake: Path) -> None:
    import loglake
    from loglake.datasets import cwlogs

    lake = loglake.connect(str(demo_lake))
    groups = lake.sql("SELECT DISTINCT loggroup FROM cloudwatch_logs")["loggroup"].to_list()
    assert sorted(groups) == sorted([*cwlogs.EXPORTED_GROUPS, cwlogs.APP_GROUP])
    statuses = lake.insights(demo.ACCESS_QUERY, log_group=cwlogs.ACCESS_GROUP)
    total = lake.sql(
        "SELECT count(*) AS n FROM cloudwatch_logs WHERE loggroup = ?", [cwlogs.ACCESS_GROUP]
    )["n"][0]
    assert statuses["requests"].sum() == total  # every access line has a status
    assert set(statuses["status"].to_list()) <= {"200", "201", "304", "404", "500"}
