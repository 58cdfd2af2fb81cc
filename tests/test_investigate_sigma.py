"""Sigma rules for CloudTrail converted to loglake SQL: the real SigmaHQ rules, modifiers and
conditions side by side with the SQL they become, hits with the author kept."""

from __future__ import annotations

import pytest
import yaml
from investigate_lake import SIGMA
from sample_files import STRATUS

from loglake.cli import main
from loglake.investigate.detections import load_detections
from loglake.investigate.runner import evaluate
from loglake.investigate.sigma import Unsupported, convert, import_sigma_files
from loglake.investigate_records import cloudtrail_rows


def rule(detection: dict, **extra) -> dict:
    return {
        "title": "Test rule",
        "id": "12345678-aaaa-bbbb-cccc-000000000000",
        "logsource": {"product": "aws", "service": "cloudtrail"},
        "detection": detection,
        "level": "high",
        "author": "Someone",
        **extra,
    }


def where(detection: dict) -> str:
    return convert(rule(detection)).sql.split("\nWHERE ", 1)[1]


@pytest.mark.parametrize(
    ("detection", "sql"),
    [
        (
            {"selection": {"eventName": "StopLogging"}, "condition": "selection"},
            "(eventname = 'StopLogging')",
        ),
        (
            {"sel": {"eventName": ["A", "B"], "userAgent|contains": "kali"}, "condition": "sel"},
            "((eventname = 'A' OR eventname = 'B') AND lower(useragent) LIKE '%kali%' ESCAPE '\\')",
        ),
        (
            {"sel": {"userIdentity.arn|re": ".+:assumed-role/aws:.+"}, "condition": "sel"},
            "(regexp_like(useridentity.arn, '.+:assumed-role/aws:.+'))",
        ),
        (
            {
                "sel": {"requestParameters.bucketName|startswith": "Prod_"},
                "condition": "sel",
            },
            "(lower(json_extract_scalar(requestparameters, '$.bucketName')) LIKE 'prod\\_%' ESCAPE '\\')",
        ),
        (
            {"sel": {"errorMessage|contains|all": ["a", "b"]}, "condition": "sel"},
            "((lower(errormessage) LIKE '%a%' ESCAPE '\\' AND lower(errormessage) LIKE '%b%' ESCAPE '\\'))",
        ),
        (
            {
                "selection_a": {"eventName": "A"},
                "selection_b": [{"eventSource": "x"}, {"errorCode": None}],
                "filter": {"sourceIPAddress": "AWS Internal"},
                "condition": "1 of selection_* and not filter",
            },
            "(((eventname = 'A') OR ((eventsource = 'x') OR (errorcode IS NULL))) AND "
            "NOT coalesce((lower(sourceipaddress) = 'aws internal'), FALSE))",
        ),
        (
            {"sel": {"userIdentity.principalId|fieldref": "userIdentity.arn"}, "condition": "sel"},
            "(useridentity.principalid = useridentity.arn)",
        ),
        (
            {"sel": {"userAgent": "aws-cli/*"}, "condition": "all of them"},
            "((lower(useragent) LIKE 'aws-cli/%' ESCAPE '\\'))",
        ),
    ],
)
def test_selections_and_conditions_become_sql(detection, sql):
    assert where(detection) == sql


@pytest.mark.parametrize(
    ("detection", "reason"),
    [
        ({"keywords": ["mimikatz"], "condition": "keywords"}, "keywords"),
        ({"sel": {"eventName|base64": "x"}, "condition": "sel"}, "modifier 'base64'"),
        ({"sel": {"eventName": "x"}, "condition": "sel | count() > 5"}, "aggregation"),
        ({"sel": {"status": "success"}, "condition": "sel"}, "'status' is not a CloudTrail field"),
        (
            {"sel": {"eventName": "x"}, "condition": "sel and other"},
            "'other', which is not a selection",
        ),
    ],
)
def test_what_cannot_be_converted_says_why(detection, reason):
    with pytest.raises(Unsupported, match=reason):
        convert(rule(detection))


def test_other_log_sources_are_refused():
    with pytest.raises(Unsupported, match="is not aws/cloudtrail"):
        convert(rule({"sel": {"a": 1}, "condition": "sel"}, logsource={"product": "windows"}))


def test_the_sigma_aws_rules_convert_with_their_metadata(tmp_path):
    report = import_sigma_files([str(SIGMA)], tmp_path)
    assert len(report.converted) + len(report.skipped) == 57
    assert len(report.converted) >= 55
    # the one rule that tests a field CloudTrail does not have is reported, not guessed at
    assert [(s.source.rsplit("/", 1)[-1], s.reason) for s in report.skipped] == [
        ("aws_delete_saml_provider.yml", "field 'status' is not a CloudTrail field")
    ]
    loaded = {d.id: d for d in load_detections(tmp_path)}
    assert len(loaded) == len(report.converted)
    source = yaml.safe_load((SIGMA / "aws_root_account_usage.yml").read_text())
    root = next(d for d in loaded.values() if d.extra.get("sigma_id") == source["id"])
    assert (root.title, root.author, root.severity, root.mitre) == (
        source["title"],
        source["author"],
        "medium",
        ["T1078.004"],
    )
    assert root.extra["license"].startswith("DRL-1.1")
    assert root.extra["references"] == source["references"]


def test_converted_rules_hit_the_detonations_they_describe(tmp_path):
    import_sigma_files([str(SIGMA)], tmp_path)
    rules = {d.extra["sigma_id"]: d for d in load_detections(tmp_path)}
    by_title = {
        "AWS VPC Flow Logs Deleted": "aws.defense-evasion.vpc-remove-flow-logs",
        "AWS CloudTrail Important Change": "aws.defense-evasion.cloudtrail-stop",
        "AWS Successful Console Login Without MFA": "aws.initial-access.console-login-without-mfa",
        "AWS User Login Profile Was Modified": "aws.privilege-escalation.iam-update-user-login-profile",
    }
    for title, technique in by_title.items():
        d = next(r for r in rules.values() if r.title == title)
        rows = cloudtrail_rows((STRATUS / f"{technique}.json").read_bytes())
        hits = evaluate(d, rows)
        assert hits.height >= 1, title
        assert hits["author"].to_list() == [d.author] * hits.height  # the DRL's attribution
    # and a rule does not fire on an unrelated technique
    stop = next(r for r in rules.values() if r.title == "AWS CloudTrail Important Change")
    rows = cloudtrail_rows((STRATUS / "aws.execution.ssm-send-command.json").read_bytes())
    assert evaluate(stop, rows).height == 0


def test_import_sigma_cli_writes_files_and_reports_skips(tmp_path, capsys):
    code = main(["detect", "import-sigma", str(SIGMA), "--out", str(tmp_path / "rules")])
    captured = capsys.readouterr()
    assert code == 0
    assert "skipped" in captured.err and "aws_delete_saml_provider.yml" in captured.err
    files = sorted((tmp_path / "rules").glob("*.sql"))
    assert len(files) >= 55
    assert main(["init", str(tmp_path / "lake")]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "--lake",
                str(tmp_path / "lake"),
                "detect",
                "test",
                str(files[0]),
                str(STRATUS / "aws.defense-evasion.cloudtrail-stop.json"),
                "--format",
                "json",
            ]
        )
        == 0
    )
