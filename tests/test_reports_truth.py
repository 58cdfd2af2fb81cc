"""Ground truth: on a generated lake with every scenario, the shipped benchmarks flag exactly the
resources the scenarios made non-compliant, each with the event that did it, and nothing in the
baseline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

import loglake
from loglake.reports.api import run_report

TIMES = {
    "compromised_access_key": "2024-05-06T03:00:00Z",
    "cloudtrail_tampering": "2024-05-06T06:00:00Z",
    "security_group_open_ssh": "2024-05-06T10:00:00Z",
    "kms_key_deletion": "2024-05-06T15:00:00Z",
    "root_console_login": "2024-05-06T18:00:00Z",
    "console_brute_force": "2024-05-06T20:00:00Z",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    from loglake.datasets import generate
    from loglake.monitor.watch import install_pack

    raw = tmp_path_factory.mktemp("raw")
    generate(
        raw,
        accounts=2,
        regions=1,
        days=2,
        events_per_day=150,
        seed=21,
        scenarios=[f"{name}@{at}" for name, at in TIMES.items()],
        start="2024-05-05T00:00:00Z",
        sources=("cloudtrail", "config"),
        progress=False,
    )
    root = tmp_path_factory.mktemp("lake") / "lake"
    lake = loglake.connect(str(root), create=True)
    hook = root.parent / "alarms.jsonl"
    from datetime import UTC, datetime

    install_pack(
        lake.catalog, "cis", actions=[f"file://{hook}"], now=datetime(2024, 5, 4, tzinfo=UTC)
    )
    lake.ingest(str(raw), progress=False)
    truth = {s["name"]: s for s in json.loads((raw / "ground_truth.json").read_text())["scenarios"]}
    return root, truth


def alarms(root: Path, benchmark: str, as_of: str) -> dict[tuple[str, str], dict]:
    lake = loglake.connect(str(root))
    result = run_report(lake.catalog, benchmark, as_of=as_of).result
    assert not [cr.error for cr in result.controls if cr.error]
    rows = result.results.filter(pl.col("status").is_in(["alarm", "error"]))
    return {(r["control_id"], r["resource"]): r for r in rows.to_dicts()}


def event_id(truth: dict, scenario: str, name: str) -> str:
    return next(e["eventID"] for e in truth[scenario]["cloudtrailEvents"] if e["eventName"] == name)


def test_the_baseline_is_compliant(world: tuple[Path, dict]) -> None:
    root, _ = world
    for benchmark in ("cis_aws_v3", "aws_config_managed"):
        assert alarms(root, benchmark, "2024-05-05T23:00:00Z") == {}


def test_every_scenario_is_flagged_with_its_cause(world: tuple[Path, dict]) -> None:
    root, truth = world
    acct = truth["security_group_open_ssh"]["accountId"]
    lake = loglake.connect(str(root))
    accounts = set(lake.sql("SELECT DISTINCT awsaccountid FROM aws.config_items")["awsaccountid"])
    other = accounts - {acct}

    # during the trail's logging gap: every account lost its multi-region trail
    gap = truth["cloudtrail_tampering"]["loggingGaps"][0]
    stop = event_id(truth, "cloudtrail_tampering", "StopLogging")
    found = alarms(root, "cis_aws_v3", gap["from"])
    expected = {("3.1", a) for a in accounts}
    assert set(found) >= expected
    assert {found[k]["cause_event_id"] for k in expected} == {stop}

    # during the SSH exposure
    ssh = truth["security_group_open_ssh"]
    group = f"arn:aws:ec2:{ssh['region']}:{acct}:security-group/{ssh['details']['groupId']}"
    exposure = event_id(truth, "security_group_open_ssh", "AuthorizeSecurityGroupIngress")
    managed = alarms(root, "aws_config_managed", "2024-05-06T11:00:00Z")
    assert managed[("restricted-ssh", group)]["cause_event_id"] == exposure

    # at the end of the period: what the scenarios left behind, and nothing else
    end = alarms(root, "cis_aws_v3", "2024-05-06T23:59:00Z")
    user = f"arn:aws:iam::{acct}:user/ci-deploy"
    key = truth["kms_key_deletion"]["details"]["keyArn"]
    expected_end = {
        ("1.5", acct): event_id(truth, "root_console_login", "ConsoleLogin"),
        ("1.7", acct): event_id(truth, "root_console_login", "ConsoleLogin"),
        ("1.15", user): event_id(truth, "compromised_access_key", "AttachUserPolicy"),
        ("1.13", f"arn:aws:iam::{acct}:user/backup-operator"): event_id(
            truth, "compromised_access_key", "CreateAccessKey"
        ),
    }
    assert {k: v["cause_event_id"] for k, v in end.items()} == expected_end
    assert not other or all(a not in {k[1] for k in end} for a in other)
    managed_end = alarms(root, "aws_config_managed", "2024-05-06T23:59:00Z")
    assert managed_end[("kms-cmk-not-scheduled-for-deletion", key)]["cause_event_id"] == event_id(
        truth, "kms_key_deletion", "ScheduleKeyDeletion"
    )
    assert (
        managed_end[("iam-user-no-policies-check", user)]["cause_event_name"] == "AttachUserPolicy"
    )
    assert managed_end[("root-account-mfa-enabled", acct)]["cause_event_name"] == "ConsoleLogin"
    assert set(managed_end) == {
        ("kms-cmk-not-scheduled-for-deletion", key),
        ("iam-user-no-policies-check", user),
        ("root-account-mfa-enabled", acct),
    }


def test_cloudwatch_controls_count_the_alarm_changes_of_their_filter(
    world: tuple[Path, dict], tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from loglake.monitor.alarmstore import AlarmStore
    from loglake.monitor.runner import run_metric_filters

    root = tmp_path / "lake"
    shutil.copytree(world[0], root)  # the monitor's run is this test's own
    lake = loglake.connect(str(root))
    run_metric_filters(lake.catalog)
    AlarmStore(lake.catalog).replay(
        datetime(2024, 5, 6, 17, 0, tzinfo=UTC), datetime(2024, 5, 6, 20, 0, tzinfo=UTC)
    )
    result = run_report(lake.catalog, "cis_aws_v3/4.3", as_of="2024-05-06T23:59:00Z").result
    row = result.results.row(0, named=True)
    fired = lake.sql(
        "SELECT count(*) AS n, CAST(max(timestamp) AS VARCHAR) AS last FROM _monitor.alarm_history "
        "WHERE alarm_name = 'CIS-RootAccountUsage-Alarm' AND history_item_type = 'StateUpdate' "
        "AND history_summary LIKE '%to ALARM'"
    ).row(0, named=True)
    assert fired["n"] >= 1  # the root sign-in of the scenario set the alarm off
    assert row["status"] == "ok"
    assert row["reason"] == (
        "alarm CIS-RootAccountUsage-Alarm watches use of the root user; "
        f"it fired {fired['n']} time(s) in the period"
    )
    evidence = json.loads(row["evidence"])
    assert evidence["times_fired"] == fired["n"]
    assert evidence["last_fired"][:19] == fired["last"][:19]  # in UTC, the raw table has no zone
