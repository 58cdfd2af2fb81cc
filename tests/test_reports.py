"""Compliance reports: control files, runs at a point in time, causes, evidence and re-runs,
outputs, diffs and the bad-input rules, on a small generated lake."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

import loglake
from loglake.cli import main
from loglake.errors import UserError
from loglake.reports.api import rerun, run_report
from loglake.reports.definitions import (
    available,
    find,
    find_benchmark,
    load_benchmark,
    parse_control,
)
from loglake.reports.store import diff

OPEN_SSH = "2024-05-06T13:00:00Z"
ROOT_LOGIN = "2024-05-06T10:00:00Z"


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from loglake.datasets import generate

    raw = tmp_path_factory.mktemp("raw")
    generate(
        raw,
        accounts=1,
        regions=2,
        days=1,
        events_per_day=300,
        seed=3,
        scenarios=[f"security_group_open_ssh@{OPEN_SSH}", f"root_console_login@{ROOT_LOGIN}"],
        start="2024-05-06T00:00:00Z",
        sources=("cloudtrail", "config"),
        progress=False,
    )
    root = tmp_path_factory.mktemp("lake") / "lake"
    lake = loglake.connect(str(root), create=True)
    lake.ingest(str(raw), progress=False)
    (root.parent / "truth.json").write_text((raw / "ground_truth.json").read_text())
    (root.parent / "raw.txt").write_text(str(raw))
    return root


@pytest.fixture(scope="module")
def truth(lake_root: Path) -> dict:
    data = json.loads((lake_root.parent / "truth.json").read_text())
    return {s["name"]: s for s in data["scenarios"]}


def control_text(
    header: str,
    sql: str = "SELECT 'r' AS resource, 'a' AS account, 'x' AS region, 'ok' AS status, 'fine' AS reason",
) -> str:
    return f"/* +++\n{header}\n+++ */\n{sql}\n"


# ------------------------------------------------------------------------------ definitions


def test_control_header_errors_name_file_field_and_line() -> None:
    good = parse_control(
        control_text(
            'id = "x.1"\ntitle = "A control"\nseverity = "high"\ntags = { cis_v3 = "x.1" }'
        ),
        "c.sql",
    )
    assert (good.id, good.severity, good.tags, good.sql.startswith("SELECT")) == (
        "x.1",
        "high",
        {"cis_v3": "x.1"},
        True,
    )
    cases = [
        ("SELECT 1", "c.sql: a control starts with a TOML header"),
        (
            control_text('id = "x"\ntitle = "t"\nseverty = "high"'),
            "unknown header field 'severty'; did you mean 'severity'?",
        ),
        (control_text('title = "t"'), "c.sql: header field 'id' is missing"),
        (
            control_text('id = "x"\ntitle = "t"\nseverity = "urgent"'),
            "header field 'severity' is 'urgent'",
        ),
        (control_text('id = "x"\ntitle = "t"\ntags = "a"'), "header field 'tags' must be a table"),
        (control_text('id = "x"\ntitle = "t"', ""), "c.sql: the control has no SQL"),
    ]
    for text, message in cases:
        with pytest.raises(UserError, match=None) as raised:
            parse_control(text, "c.sql")
        assert message in str(raised.value)
    with pytest.raises(UserError) as raised:
        parse_control(control_text('id = "x"\ntitle = t'), "c.sql")
    assert str(raised.value).startswith("c.sql: bad header:") and "(line 3, column" in str(
        raised.value
    )


def test_shipped_benchmarks_load_with_unique_ids_in_natural_order() -> None:
    cis = find_benchmark("cis_aws_v3")
    ids = [c.id for c in cis.controls()]
    assert len(ids) == len(set(ids)) and ids.index("1.9") < ids.index("1.10") < ids.index("1.22")
    assert {"1.4", "1.5", "1.7", "3.1", "3.7", "4.3", "5.2", "5.3", "5.4"} <= set(ids)
    assert cis.control("5.2").tags == {"cis_v3": "5.2", "level": "1", "type": "automated"}
    managed = find_benchmark("aws_config_managed")
    names = {c.id for c in managed.controls()}
    assert {
        "restricted-ssh",
        "restricted-common-ports",
        "s3-bucket-public-read-prohibited",
        "s3-bucket-server-side-encryption-enabled",
        "cloudtrail-enabled",
        "multi-region-cloudtrail-enabled",
        "cloud-trail-log-file-validation-enabled",
        "vpc-flow-logs-enabled",
        "encrypted-volumes",
        "rds-storage-encrypted",
        "iam-root-access-key-check",
        "kms-cmk-not-scheduled-for-deletion",
        "access-keys-rotated",
        "mfa-enabled-for-iam-console-access",
        "iam-user-mfa-enabled",
    } <= names
    borrowed = managed.control("cloudtrail-enabled")
    assert borrowed.sql == cis.control("3.1").sql  # one query serves both benchmarks
    assert borrowed.text.endswith(cis.control("3.1").sql + "\n")  # and is hashed with the rule
    assert {"cis_aws_v3", "aws_config_managed"} <= set(available())
    with pytest.raises(
        UserError, match="unknown benchmark 'cis_aws_v2'; did you mean 'cis_aws_v3'"
    ):
        find_benchmark("cis_aws_v2")
    with pytest.raises(UserError, match=re.escape("no control '5.22'; did you mean '5.2'")):
        find("cis_aws_v3/5.22")


def user_benchmark(folder: Path, controls: dict[str, str]) -> Path:
    bench = folder / "mine"
    (bench / "1_section").mkdir(parents=True)
    (bench / "benchmark.toml").write_text(
        'id = "mine"\ntitle = "My checks"\n[parameters]\nperiod_days = 7\n'
    )
    (bench / "1_section" / "section.toml").write_text('title = "1 Mine"\n')
    for name, text in controls.items():
        (bench / "1_section" / f"{name}.sql").write_text(text)
    return bench


# ------------------------------------------------------------------------------ runs


def test_point_in_time_run_names_the_open_rule_and_who_opened_it(
    lake_root: Path, truth: dict
) -> None:
    lake = loglake.connect(str(lake_root))
    opened = truth["security_group_open_ssh"]
    during = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T14:00Z").result.results
    alarms = during.filter(pl.col("status") == "alarm")
    group = opened["details"]["groupId"]
    assert alarms["resource"].to_list() == [
        f"arn:aws:ec2:{opened['region']}:{opened['accountId']}:security-group/{group}"
    ]
    row = alarms.row(0, named=True)
    exposure = next(e for e in opened["cloudtrailEvents"] if e["phase"] == "exposure")
    assert (row["cause_event_id"], row["cause_event_name"], row["cause_event_time"]) == (
        exposure["eventID"],
        "AuthorizeSecurityGroupIngress",
        exposure["eventTime"],
    )
    assert row["cause_principal"] == opened["details"]["openedBy"]
    assert row["cause_change_time"] == opened["configChanges"][0]["configurationItemCaptureTime"]
    assert during.height == 12  # five groups and the default one, in each of two regions
    before = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T12:59Z").result.results
    after = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T17:00Z").result.results
    assert set(before["status"]) == {"ok"} and set(after["status"]) == {"ok"}


def test_root_sign_in_without_mfa_is_caused_by_its_console_login(
    lake_root: Path, truth: dict
) -> None:
    lake = loglake.connect(str(lake_root))
    login = truth["root_console_login"]["cloudtrailEvents"][0]
    result = run_report(lake.catalog, "cis_aws_v3", as_of="2024-05-06T23:00Z").result
    by_control = {
        cid: result.results.filter((pl.col("control_id") == cid) & (pl.col("status") == "alarm"))
        for cid in ("1.5", "1.7")
    }
    for frame in by_control.values():
        assert frame["cause_event_id"].to_list() == [login["eventID"]]
        assert frame["cause_event_name"].to_list() == ["ConsoleLogin"]
    assert not any(cr.error for cr in result.controls), [
        cr.error for cr in result.controls if cr.error
    ]
    early = run_report(lake.catalog, "cis_aws_v3/1.7", as_of="2024-05-06T09:00Z").result.results
    assert set(early["status"]) == {"ok"}


def test_iam_user_mfa_follows_the_users_latest_mfa_evidence(
    lake_root: Path, tmp_path: Path
) -> None:
    import shutil

    root = tmp_path / "lake"
    shutil.copytree(lake_root, root)  # this test appends to cloudtrail
    lake = loglake.connect(str(root))
    control = "aws_config_managed/iam-user-mfa-enabled"
    before = run_report(lake.catalog, control, as_of="2024-05-06T23:00Z").result.results
    users = lake.sql(
        "SELECT DISTINCT arn, resourcename FROM config_items WHERE resourcetype = 'AWS::IAM::User'"
    )
    assert sorted(before["resource"]) == sorted(users["arn"])
    assert "alarm" not in set(before["status"])  # the baseline's console users sign in with MFA
    user = users.sort("arn").row(0, named=True)
    table = lake.catalog.managed("aws", "cloudtrail")
    template = lake.sql("SELECT * FROM cloudtrail ORDER BY eventid LIMIT 1")

    def call(name: str, event_id: str, at: str) -> pl.DataFrame:
        params = json.dumps({"userName": user["resourcename"], "serialNumber": "arn:mfa"})
        return template.with_columns(
            pl.lit(name).alias("eventname"),
            pl.lit("iam.amazonaws.com").alias("eventsource"),
            pl.lit(event_id).alias("eventid"),
            pl.lit(at).alias("eventtime"),
            pl.lit(params).alias("requestparameters"),
            pl.lit(None, pl.String).alias("errorcode"),
        )

    table.append(
        pl.concat(
            [
                call("EnableMFADevice", "mfa-on", "2024-05-06T20:00:00Z"),
                call("DeactivateMFADevice", "mfa-off", "2024-05-06T21:00:00Z"),
            ]
        )
        .to_arrow()
        .cast(table.schema())
    )
    on = run_report(lake.catalog, control, as_of="2024-05-06T20:30Z").result.results
    row = on.filter(pl.col("resource") == user["arn"]).row(0, named=True)
    assert (row["status"], json.loads(row["evidence"])["last_evidence"]) == (
        "ok",
        "EnableMFADevice",
    )
    off = run_report(lake.catalog, control, as_of="2024-05-06T23:00Z").result.results
    alarms = off.filter(pl.col("status") == "alarm")
    assert alarms["resource"].to_list() == [user["arn"]]
    assert alarms["cause_event_id"].to_list() == ["mfa-off"]
    assert alarms["cause_event_name"].to_list() == ["DeactivateMFADevice"]


def test_cloudtrail_files_without_a_wanted_event_name_are_skipped_with_the_same_rows(
    lake_root: Path,
) -> None:
    import datetime as dt

    from loglake.reports.runner import Runner

    lake = loglake.connect(str(lake_root))
    as_of = dt.datetime(2024, 5, 6, 23, tzinfo=dt.UTC)
    runner = Runner(lake.catalog, find_benchmark("cis_aws_v3"), as_of=as_of)
    login = "SELECT eventid, awsregion FROM report.cloudtrail WHERE eventname {} ORDER BY eventid"
    pruned = runner.engine.execute(login.format("IN ('ConsoleLogin', 'NoSuchCall')"))
    # the same filter hidden from pruning (a computed value) reads every file of the period
    full = runner.engine.execute(login.format("|| '' = 'ConsoleLogin'"))
    assert pruned.df is not None and full.df is not None
    assert pruned.df.height > 0 and pruned.df.equals(full.df)
    assert pruned.stats.files_skipped > full.stats.files_skipped
    assert pruned.stats.files_scanned < full.stats.files_scanned
    root = "SELECT eventid FROM report.cloudtrail WHERE {} = 'Root' ORDER BY eventid"
    by_field = runner.engine.execute(root.format("useridentity.type"))
    hidden = runner.engine.execute(root.format("useridentity.type || ''"))
    assert by_field.df is not None and hidden.df is not None
    assert by_field.df.height > 0 and by_field.df.equals(hidden.df)
    assert by_field.stats.files_scanned < hidden.stats.files_scanned
    one = full.df["eventid"][0]
    where = runner.engine.execute(
        f"SELECT \"$path\" AS path FROM report.cloudtrail WHERE eventid = '{one}'"
    )
    assert where.df is not None
    path = where.df["path"][0]
    by_path = runner.engine.execute(
        f"SELECT count(*) AS n FROM report.cloudtrail WHERE \"$path\" = '{path}'"
    )
    assert by_path.df is not None and by_path.df["n"][0] > 0
    assert by_path.stats.files_scanned == 1
    nothing = runner.engine.execute(
        "SELECT count(*) AS n FROM report.cloudtrail WHERE eventname = 'NoSuchCall'"
    )
    assert nothing.df is not None and nothing.df["n"].to_list() == [0]
    assert nothing.stats.files_scanned == 0


def test_a_control_may_borrow_the_query_of_another_benchmark(tmp_path: Path) -> None:
    bench = user_benchmark(
        tmp_path, {"a": control_text('id = "ssh"\ntitle = "SSH"\nsql = "cis_aws_v3/5.2"', "")}
    )
    control = load_benchmark(bench).control("ssh")
    assert control.sql == find_benchmark("cis_aws_v3").control("5.2").sql
    broken = user_benchmark(
        tmp_path / "x",
        {"a": control_text('id = "ssh"\ntitle = "SSH"\nsql = "cis_aws_v33/5.2"', "")},
    )
    with pytest.raises(
        UserError, match="sql names unknown benchmark 'cis_aws_v33'; did you mean 'cis_aws_v3'"
    ):
        load_benchmark(broken)


def test_failing_controls_become_error_rows_and_the_run_goes_on(
    lake_root: Path, tmp_path: Path
) -> None:
    lake = loglake.connect(str(lake_root))
    bench = user_benchmark(
        tmp_path,
        {
            "a": control_text(
                'id = "good"\ntitle = "Counts groups"',
                "SELECT resourceid AS resource, awsaccountid AS account, awsregion AS region, 'ok' AS status, 'seen' AS reason, resourcetype AS kind FROM report.config_state WHERE resourcetype = 'AWS::EC2::VPC'",
            ),
            "b": control_text(
                'id = "typo"\ntitle = "Bad column"',
                "SELECT resourceidd AS resource, 'a' AS account, 'r' AS region, 'ok' AS status, 'x' AS reason FROM report.config_state",
            ),
            "c": control_text('id = "short"\ntitle = "Missing columns"', "SELECT 'x' AS resource"),
            "d": control_text(
                'id = "status"\ntitle = "Bad status"',
                "SELECT 'x' AS resource, 'a' AS account, 'r' AS region, 'fail' AS status, 'x' AS reason",
            ),
            "e": control_text(
                'id = "runtime"\ntitle = "Fails when run"',
                "SELECT 'x' AS resource, 'a' AS account, 'r' AS region, 'ok' AS status, CAST(CAST('abc' AS INTEGER) AS VARCHAR) AS reason",
            ),
        },
    )
    result = run_report(lake.catalog, str(bench), as_of="2024-05-06T14:00Z").result
    rows = result.results
    good = rows.filter(pl.col("control_id") == "good")
    assert good.height == 2 and set(good["status"]) == {"ok"}
    assert json.loads(good["evidence"][0]) == {"kind": "AWS::EC2::VPC"}
    errors = {
        r["control_id"]: r["reason"] for r in rows.filter(pl.col("status") == "error").to_dicts()
    }
    assert set(errors) == {"typo", "short", "status", "runtime"}
    assert "resourceidd" in errors["typo"] and "line 1" in errors["typo"]
    assert "missing: account, region, status, reason" in errors["short"]
    assert "status must be one of ok, alarm, info, skip, error" in errors["status"]
    assert "Traceback" not in errors["runtime"] and errors["runtime"]


def test_evidence_reproduces_the_run_byte_for_byte(lake_root: Path) -> None:
    lake = loglake.connect(str(lake_root))
    report = run_report(
        lake.catalog,
        "aws_config_managed",
        as_of="2024-05-06T14:00Z",
        formats=["html", "junit", "csv", "md"],
    )
    evidence = report.evidence
    assert set(evidence["tables"]) == {"aws.cloudtrail", "aws.config_items"}
    assert evidence["trail_validation"]["status"] == "not validated"
    assert set(evidence["outputs"]) == {
        "results.json",
        "report.html",
        "report.xml",
        "report.csv",
        "report.md",
    }
    assert all(len(c["sha256"]) == 64 for c in evidence["controls"])
    # new data arrives after the run; the re-run still reads the recorded versions
    lake.sql(
        "INSERT INTO aws.config_items (arn, resourcetype, resourceid, awsaccountid, awsregion, configurationitemcapturetime, configurationitemstatus, configuration, account, region, day) VALUES ('arn:aws:ec2:r:1:security-group/sg-new', 'AWS::EC2::SecurityGroup', 'sg-new', '1', 'r', '2024-05-06T13:00:00.000Z', 'OK', '{\"ipPermissions\": [{\"ipProtocol\": \"-1\", \"ipRanges\": [\"0.0.0.0/0\"]}]}', '1', 'r', '2024-05-06')"
    )
    again = rerun(lake.catalog, report.run_id)
    assert again.identical, again.outputs
    fresh = run_report(
        lake.catalog, "aws_config_managed/restricted-ssh", as_of="2024-05-06T14:00Z"
    ).result.results
    assert "sg-new" in " ".join(fresh["resource"].drop_nulls())
    lake.catalog.managed("aws", "config_items").delete("resourceid = 'sg-new'")
    with pytest.raises(UserError, match="there is no report run"):
        rerun(lake.catalog, "nope")


def test_outputs_junit_csv_markdown(lake_root: Path) -> None:
    lake = loglake.connect(str(lake_root))
    report = run_report(
        lake.catalog,
        "cis_aws_v3",
        as_of="2024-05-06T14:00Z",
        formats=["junit", "csv", "md"],
        time_zone="Europe/Paris",
    )
    suite = ET.fromstring(report.files["report.xml"]).find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(report.result.controls)
    failed = {c.get("name").split(" ")[0] for c in cases if c.find("failure") is not None}
    statuses = report.result.results.group_by("control_id").agg(pl.col("status"))
    expected = {
        r["control_id"]
        for r in statuses.to_dicts()
        if "alarm" in r["status"] and "error" not in r["status"]
    }
    assert failed == expected and "5.2" in failed
    assert int(suite.get("failures")) == len(failed)
    assert {c.get("name").split(" ")[0] for c in cases if c.find("skipped") is not None} >= {
        "1.1",
        "1.2",
    }
    rows = list(csv.DictReader(io.StringIO(report.files["report.csv"].decode())))
    assert len(rows) == report.result.results.height
    ssh = next(r for r in rows if r["control_id"] == "5.2" and r["status"] == "alarm")
    assert ssh["cause_event_name"] == "AuthorizeSecurityGroupIngress"
    md = report.files["report.md"].decode()
    assert "## 5.2 Ensure no security groups allow ingress from 0.0.0.0/0" in md
    assert "2024-05-06 16:00:00 CEST" in md  # as-of shown in the schedule's zone


def test_diff_shows_new_failures_and_fixes(lake_root: Path) -> None:
    lake = loglake.connect(str(lake_root))
    first = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T12:00Z")
    second = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T14:00Z")
    found = diff(lake.catalog, second.run_id)
    assert found["previous"] == first.run_id
    assert [r["control_id"] for r in found["new_failures"]] == ["5.2"] and found["fixed"] == []
    third = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T18:00Z")
    found = diff(lake.catalog, third.run_id)
    assert found["new_failures"] == [] and [r["control_id"] for r in found["fixed"]] == ["5.2"]
    runs = lake.sql("SELECT run_id, alarm FROM _reports.runs WHERE run_id = ?", [third.run_id])
    assert runs["alarm"].to_list() == [0]


def test_cli_list_show_validate_run(
    lake_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = ["--lake", str(lake_root)]
    assert main(["report", "list"]) == 0
    assert "cis_aws_v3" in capsys.readouterr().out
    assert main(["report", "show", "cis_aws_v3/5.2"]) == 0
    assert "report.config_state" in capsys.readouterr().out
    assert main([*lake, "report", "validate", "cis_aws_v3"]) == 0
    assert "62 of 62 controls compile" in capsys.readouterr().out
    bench = user_benchmark(
        tmp_path,
        {
            "b": control_text(
                'id = "typo"\ntitle = "Bad"', "SELECT nope AS resource FROM report.config_state"
            )
        },
    )
    assert main([*lake, "report", "validate", str(bench)]) == 1
    assert "mine/typo: Column 'nope' cannot be resolved" in capsys.readouterr().err
    assert main([*lake, "report", "run", "cis_aws_v9"]) == 2
    assert "did you mean 'cis_aws_v3'" in capsys.readouterr().err
    out = tmp_path / "out.xml"
    assert (
        main(
            [
                *lake,
                "report",
                "run",
                "cis_aws_v3/5.2",
                "--as-of",
                "2024-05-06T14:00Z",
                "--format",
                "junit",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert ET.parse(out).getroot().get("failures") == "1"
    assert f"wrote {out}" in capsys.readouterr().out
    assert (
        main(
            [
                *lake,
                "report",
                "run",
                "cis_aws_v3/5.2",
                "--as-of",
                "2024-05-06T14:00Z",
                "--format",
                "json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["counts"]["alarm"] == 1
    assert main([*lake, "report", "runs", "--benchmark", "cis_aws_v3", "--format", "csv"]) == 0
    listed = pl.read_csv(io.StringIO(capsys.readouterr().out))
    assert printed["run_id"] in listed["run_id"].to_list()
    assert main([*lake, "report", "runs"]) == 0
    assert "| run_id" in capsys.readouterr().out


# ------------------------------------------------------------------------------ schedules


def test_schedules_run_each_time_once_across_watchers_crashes_and_downtime(
    lake_root: Path, tmp_path: Path
) -> None:
    import datetime as dt
    import threading

    from loglake.monitor.watch import run_cycle
    from loglake.reports.schedule import Schedules

    lake = loglake.connect(str(lake_root))
    hook = tmp_path / "hook.jsonl"
    utc = dt.UTC
    schedules = Schedules(lake.catalog)
    body = schedules.add(
        "cis_aws_v3/5.2",
        "0 14 * * *",
        name="daily",
        output=str(tmp_path / "reports"),
        formats=["junit"],
        notify=[f"file://{hook}"],
        time_zone="Europe/Paris",  # 14:00 in Paris is 12:00 UTC in May
        now=dt.datetime(2024, 5, 5, 20, 0, tzinfo=utc),
    )
    assert body["last_slot"] == "2024-05-05T12:00:00+00:00"
    assert schedules.run_due(dt.datetime(2024, 5, 6, 11, 59, tzinfo=utc)) == []

    # two watchers wake up at the same time: one claims the slot, it runs once
    results: list[list[dict]] = []

    def watcher() -> None:
        results.append(Schedules(lake.catalog).run_due(dt.datetime(2024, 5, 6, 12, 1, tzinfo=utc)))

    threads = [threading.Thread(target=watcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = [r for batch in results for r in batch]
    assert len(runs) == 1 and runs[0]["slot"] == "2024-05-06T12:00:00+00:00"
    assert runs[0]["late"] is False
    first = runs[0]["run_id"]
    assert (
        lake.sql("SELECT count(*) AS n FROM _reports.runs WHERE run_id = ?", [first])["n"][0] == 1
    )
    written = tmp_path / "reports" / "cis_aws_v3-5.2" / first / "report.xml"
    assert ET.parse(written).getroot().tag == "testsuites"
    lines = [json.loads(x) for x in hook.read_text().splitlines()]
    assert len(lines) == 1 and json.loads(lines[0]["Message"])["run_id"] == first
    assert schedules.run_due(dt.datetime(2024, 5, 6, 12, 30, tzinfo=utc)) == []

    # a watcher dies while running: the claimed time stays in the outbox and runs once later
    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        schedules.run_due(dt.datetime(2024, 5, 7, 12, 0, 30, tzinfo=utc), run=crash)
    assert len(schedules.list()[0]["outbox"]) == 1
    cycle = run_cycle(
        lake.catalog,
        tasks={
            "reports": lambda now: Schedules(lake.catalog).run_due(
                dt.datetime(2024, 5, 7, 12, 5, tzinfo=utc)
            )
        },
    )
    resumed = cycle.tasks["reports"]
    assert [r["slot"] for r in resumed] == ["2024-05-07T12:00:00+00:00"]
    assert schedules.list()[0]["outbox"] == []

    # after downtime over several scheduled times, the latest runs once, marked late
    late = schedules.run_due(dt.datetime(2024, 5, 10, 15, 0, tzinfo=utc))
    assert [(r["slot"], r["late"]) for r in late] == [("2024-05-10T12:00:00+00:00", True)]
    recorded = lake.sql(
        "SELECT run_id, late, scheduled_time FROM _reports.runs WHERE schedule = 'daily' ORDER BY scheduled_time"
    )
    assert recorded["late"].to_list() == [False, False, True]
    assert len(hook.read_text().splitlines()) == 3

    with pytest.raises(UserError, match="not a cron expression"):
        schedules.add("cis_aws_v3", "every day", name="x")
    with pytest.raises(UserError, match="unknown time zone"):
        schedules.add("cis_aws_v3", "0 6 * * *", name="x", time_zone="Mars/Olympus")
    with pytest.raises(UserError, match="did you mean 'cis_aws_v3'"):
        schedules.add("cis_aws_v33", "0 6 * * *")
    with pytest.raises(UserError, match="schedule 'daily' exists"):
        schedules.add("cis_aws_v3", "0 6 * * *", name="daily")
    schedules.delete("daily")
    assert schedules.list() == []


# ------------------------------------------------------------------------------ HTML in a browser


def test_html_report_renders_in_chromium(lake_root: Path, tmp_path: Path) -> None:
    import shutil
    import subprocess
    from html.parser import HTMLParser

    chromium = shutil.which("chromium")
    assert chromium, "Chromium is missing: `make test` installs Debian's chromium package"
    lake = loglake.connect(str(lake_root))
    report = run_report(
        lake.catalog,
        "cis_aws_v3/5.2",
        as_of="2024-05-06T14:00Z",
        formats=["html"],
        output=str(tmp_path / "report.html"),
    )
    page = (tmp_path / "report.html").as_uri()
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,1600",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", page], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", page], capture_output=True, timeout=120, check=True
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    class Page(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: set[str] = set()
            self.tiles: dict[str, str] = {}
            self.bars: list[dict[str, str]] = []
            self.links: list[str] = []
            self.rows: list[dict[str, str]] = []
            self._tile: str | None = None

        def handle_starttag(self, tag: str, attrs: list) -> None:
            a = {k: v or "" for k, v in attrs}
            if "id" in a:
                self.ids.add(a["id"])
            if a.get("class") == "tile":
                self._tile = a["data-status"]
            if tag == "rect" and a.get("class") == "bar":
                self.bars.append(a)
            if tag == "a" and a.get("href", "").startswith("#"):
                self.links.append(a["href"][1:])
            if tag == "tr" and a.get("class") == "result":
                self.rows.append(a)

        def handle_data(self, data: str) -> None:
            if self._tile and data.strip():
                self.tiles[self._tile] = data.strip()
                self._tile = None

    parsed = Page()
    parsed.feed(dom)
    counts = report.result.counts
    assert parsed.tiles == {s: str(n) for s, n in counts.items()}
    assert len(parsed.rows) == report.result.results.height
    assert {b["data-status"] for b in parsed.bars} == {"ok", "alarm"}
    assert "chart" in parsed.ids and "evidence" in parsed.ids
    # every link lands on an element of the page: failing rows <-> causing events
    assert parsed.links and all(target in parsed.ids for target in parsed.links)
    ssh = report.result.results.filter(
        pl.col("cause_event_name") == "AuthorizeSecurityGroupIngress"
    )
    assert f"event-{ssh['cause_event_id'][0].replace('-', '_')}" in parsed.ids


def test_digest_validation_recorded_by_trail_validate_is_evidence(
    lake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import gzip

    raw = Path((lake_root.parent / "raw.txt").read_text())
    lake = loglake.connect(str(lake_root))
    keys = [
        f"--public-keys={p}"
        for p in sorted(raw.glob("cloudtrail-public-keys/*/list-public-keys.json"))
    ]
    validate = [
        "--lake",
        str(lake_root),
        "trail",
        "validate",
        str(raw),
        "--start",
        "2024-02-01T00:00:00Z",
        "--end",
        "2024-05-07T00:00:00Z",
        *keys,
    ]
    assert main(validate) == 0
    capsys.readouterr()
    evidence = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T14:00Z").evidence
    assert evidence["trail_validation"]["status"] == "valid"
    assert evidence["trail_validation"]["validations"][0]["logs"]["invalid"] == 0
    # a log file changed after delivery: the next validation, and the report, say so
    log = sorted(raw.glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz"))[3]
    log.write_bytes(
        gzip.compress(gzip.decompress(log.read_bytes()).replace(b'{"Records":[', b'{"Records": ['))
    )
    assert main(validate) == 1
    capsys.readouterr()
    evidence = run_report(lake.catalog, "cis_aws_v3/5.2", as_of="2024-05-06T14:00Z").evidence
    assert evidence["trail_validation"]["status"] == "INVALID"
    assert any(
        log.name in url for v in evidence["trail_validation"]["validations"] for url in v["invalid"]
    )


def test_file_values_come_from_parquet_dictionaries_by_name_in_any_case(tmp_path: Path) -> None:
    import functools

    import pyarrow as pa
    import pyarrow.parquet as pq

    from loglake.catalog import DataFile
    from loglake.query.tables import Predicate
    from loglake.reports.file_index import FileValues, parquet_values

    identity = pa.struct([("Type", pa.string()), ("arn", pa.string())])
    mixed = pa.table(
        {
            "EventName": ["ConsoleLogin", "GetObject", None],
            "userIdentity": pa.array(
                [{"Type": "Root", "arn": "a"}, {"Type": "IAMUser", "arn": "b"}, None], identity
            ),
        }
    )
    pq.write_table(mixed, tmp_path / "mixed.parquet")
    pq.write_table(pa.table({"eventname": ["GetObject"]}), tmp_path / "plain.parquet")
    files = [DataFile(path=str(tmp_path / n), size=0) for n in ("mixed.parquet", "plain.parquet")]
    columns = ("eventname", "useridentity.type")
    opener = functools.partial(open, mode="rb")  # the reader closes what it opens
    found = parquet_values(opener, files, columns)
    assert found[files[0].path] == {
        "eventname": frozenset({"ConsoleLogin", "GetObject"}),
        "useridentity.type": frozenset({"Root", "IAMUser"}),
    }
    assert found[files[1].path] == {"eventname": frozenset({"GetObject"})}
    index = FileValues((columns,))
    read = functools.partial(parquet_values, opener)
    kept, skipped = index.prune(files, [Predicate("useridentity.type", "=", ("Root",))], read)
    assert [f.path for f in kept] == [files[0].path]  # a file without the member holds no Root
    kept, skipped = index.prune(files, [Predicate("eventname", "in", ("GetObject",))], read)
    assert len(kept) == 2 and not skipped
