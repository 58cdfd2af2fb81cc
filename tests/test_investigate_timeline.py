"""Timelines, identity chains and first-seen behaviour: every ground-truth record of each
scenario in its entity's timeline, chains through role sessions, the HTML page."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from investigate_lake import shared_lake
from sample_files import STRATUS

import loglake
from loglake.cli import main
from loglake.investigate.identity import Identities
from loglake.investigate.render import timeline_html
from loglake.investigate_records import cloudtrail_rows

#: the entities whose timelines together hold each scenario's records
ENTITIES = {
    "compromised_access_key": [("access_key", "accessKeyId")],
    "root_console_login": [("ip", "sourceIp")],
    "cloudtrail_tampering": [("ip", "sourceIp"), ("resource", "trailArn")],
    "security_group_open_ssh": [("resource", "groupId")],
    "kms_key_deletion": [("resource", "keyArn")],
    "console_brute_force": [("ip", "sourceIp")],
}


@pytest.fixture(scope="module")
def scenario_lake(tmp_path_factory):
    return shared_lake(tmp_path_factory)


def _flow_ids(raw: Path, scenario: dict) -> set[str]:
    """Ground-truth flow records as timeline ids (interface:start:src:sport:dst:dport)."""
    out = set()
    for flow in scenario["flowRecords"]:
        with gzip.open(raw / flow["key"], "rt") as handle:
            lines = handle.read().splitlines()
        record = dict(zip(lines[0].split(), flow["record"].split(), strict=True))
        out.add(
            ":".join(
                record[k]
                for k in ("interface-id", "start", "srcaddr", "srcport", "dstaddr", "dstport")
            )
        )
    return out


def test_every_ground_truth_record_is_in_its_entity_timeline(scenario_lake):
    lake, truth = scenario_lake
    raw = Path(lake.settings.root).parent / "raw"
    assert {s["name"] for s in truth["scenarios"]} == set(ENTITIES)
    for scenario in truth["scenarios"]:
        frames = [
            lake.investigate.timeline(**{kind: scenario["details"][key]})
            for kind, key in ENTITIES[scenario["name"]]
        ]
        ids = set(pl.concat(frames)["event_id"].to_list())
        events = {e["eventID"] for e in scenario["cloudtrailEvents"]}
        flows = _flow_ids(raw, scenario)
        changes = {str(c["configurationStateId"]) for c in scenario["configChanges"]}
        assert events - ids == set(), scenario["name"]
        assert flows - ids == set(), scenario["name"]
        assert changes - ids == set(), scenario["name"]
        if scenario["name"] == "compromised_access_key":
            assert flows and changes  # the exfiltration flows and the IAM user change
        if scenario["name"] == "security_group_open_ssh":
            assert flows and changes


def test_timeline_rows_are_ordered_merged_and_summarised(scenario_lake):
    lake, truth = scenario_lake
    key = next(s for s in truth["scenarios"] if s["name"] == "compromised_access_key")
    details = key["details"]
    frame = lake.investigate.timeline(
        access_key=details["accessKeyId"],
        start=key["startTime"],
        end=(datetime.fromisoformat(key["endTime"].replace("Z", "+00:00")) + timedelta(hours=1)),
    )
    assert frame["time"].is_sorted()
    assert set(frame["source"]) >= {"cloudtrail", "vpc_flow_logs", "config_items"}
    attach = frame.filter(pl.col("summary").str.starts_with("AttachUserPolicy"))
    assert attach["summary"].to_list() == [
        f"AttachUserPolicy by {details['userName']} from {details['attackerIp']} "
        f"-> {details['userName']}"
    ]
    exfil = frame.filter(
        (pl.col("source") == "vpc_flow_logs")
        & pl.col("summary").str.contains(details["exfiltrationDestinationIp"], literal=True)
    )
    assert exfil.height >= 8
    # nothing before the window
    assert frame["time"].min() >= datetime.fromisoformat(key["startTime"].replace("Z", "+00:00"))


def test_bad_entities_are_user_errors(scenario_lake):
    lake, _ = scenario_lake
    with pytest.raises(loglake.errors.UserError, match="not an IP address"):
        lake.investigate.timeline(ip="300.1.2")
    with pytest.raises(loglake.errors.UserError, match="exactly one of"):
        lake.investigate.timeline(ip="1.2.3.4", principal="arn:aws:iam::1:user/x")


def test_timeline_cli_formats_and_html_page(scenario_lake, tmp_path, capsys):
    lake, truth = scenario_lake
    brute = next(s for s in truth["scenarios"] if s["name"] == "console_brute_force")
    ip = brute["details"]["sourceIp"]
    root = str(lake.settings.root)
    assert main(["--lake", root, "investigate", "timeline", "--ip", ip, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(r["source"] == "cloudtrail" for r in rows) == brute["details"]["attempts"]
    assert {r["source"] for r in rows} == {"cloudtrail", "cloudtrail_insights"}
    page = tmp_path / "t.html"
    assert (
        main(
            [
                "--lake",
                root,
                "investigate",
                "timeline",
                "--ip",
                ip,
                "--format",
                "html",
                "--output",
                str(page),
            ]
        )
        == 0
    )
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<svg" in text and "<circle" in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert text.count("<tr>") - 1 + text.count('<tr class="hit">') == len(rows)  # 1: header
    assert main(["--lake", root, "investigate", "timeline", "--ip", ip, "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("time,source,summary")


def test_html_escapes_attacker_text():
    frame = pl.DataFrame(
        {
            "time": [datetime(2024, 5, 6, tzinfo=UTC)],
            "source": ["cloudtrail"],
            "summary": ['<script>alert("x")</script>'],
            "event_id": ["e1"],
            "actor": ["<b>me</b>"],
            "ip": ["1.2.3.4"],
            "account": ["1"],
        }
    )
    page = timeline_html(frame, "t <i>", highlight={"e1"})
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>me" not in page


# ---------------------------------------------------------------------------------------------
# identity chains over hand-written STS events (the shapes CloudTrail writes)

ACCOUNT = "111122223333"


def _event(
    t: str,
    name: str,
    identity: dict,
    *,
    source="sts.amazonaws.com",
    request=None,
    response=None,
    ip="203.0.113.7",
) -> dict:
    return {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": t,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": request,
        "responseElements": response,
        "requestID": f"req-{name}-{t}",
        "eventID": f"ev-{name}-{t}",
        "readOnly": name.startswith(("Get", "List", "Describe")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def _assume(t, caller, role, session, new_key, *, name="AssumeRole", source_identity=None):
    request = {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "roleSessionName": session}
    if source_identity:
        request["sourceIdentity"] = source_identity
    response = {
        "credentials": {"accessKeyId": new_key, "sessionToken": "x", "expiration": "later"},
        "assumedRoleUser": {
            "assumedRoleId": f"AROAEXAMPLE:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        },
    }
    if name == "AssumeRoleWithSAML":
        response |= {"subject": "alice@example.com", "issuer": "https://idp.example.com/saml"}
    return _event(t, name, caller, request=request, response=response)


def _session(role, session, key):
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                "accountId": ACCOUNT,
                "userName": role,
            },
            "attributes": {"creationDate": "2024-05-06T10:00:00Z", "mfaAuthenticated": "false"},
        },
    }


USER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLE",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/mallory",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIAMALLORY000000001",
    "userName": "mallory",
}
SAML = {
    "type": "SAMLUser",
    "principalId": "idp:alice@example.com",
    "userName": "alice@example.com",
    "identityProvider": "https://idp.example.com/saml",
}


@pytest.fixture(scope="module")
def chain_lake(tmp_path_factory):
    records = [
        _event("2024-05-06T10:00:00Z", "GetCallerIdentity", USER),
        _assume(
            "2024-05-06T10:01:00Z",
            USER,
            "deploy",
            "hop1",
            "ASIAHOPONE0000000001",
            source_identity="mallory",
        ),
        _assume(
            "2024-05-06T10:02:00Z",
            _session("deploy", "hop1", "ASIAHOPONE0000000001"),
            "admin",
            "hop2",
            "ASIAHOPTWO0000000002",
        ),
        _event(
            "2024-05-06T10:03:00Z",
            "DeleteTrail",
            _session("admin", "hop2", "ASIAHOPTWO0000000002"),
            source="cloudtrail.amazonaws.com",
            request={"name": "audit"},
        ),
        _assume(
            "2024-05-06T11:00:00Z",
            SAML,
            "readonly",
            "alice@example.com",
            "ASIASAML000000000003",
            name="AssumeRoleWithSAML",
        ),
        _event(
            "2024-05-06T11:01:00Z",
            "ListBuckets",
            _session("readonly", "alice@example.com", "ASIASAML000000000003"),
            source="s3.amazonaws.com",
        ),
        _event(
            "2024-05-06T12:00:00Z",
            "ListUsers",
            _session("orphan", "x", "ASIAORPHAN0000000004"),
            source="iam.amazonaws.com",
        ),
    ]
    rows = cloudtrail_rows(json.dumps({"Records": records}).encode())
    lake = loglake.connect(str(tmp_path_factory.mktemp("chains")), create=True)
    lake.catalog.create_database("aws", if_not_exists=True)
    lake.catalog.create_managed_table(
        "aws", "cloudtrail", rows.to_arrow().schema, partition_by=["account", "region", "day"]
    )
    lake.catalog.managed("aws", "cloudtrail").append(rows.to_arrow())
    return lake


def test_chained_sessions_lead_back_to_the_first_principal(chain_lake):
    chain = chain_lake.investigate.chain("ASIAHOPTWO0000000002")
    assert (chain["origin"], chain["origin_kind"], chain["complete"]) == (
        f"arn:aws:iam::{ACCOUNT}:user/mallory",
        "IAMUser",
        True,
    )
    assert [s["access_key"] for s in chain["steps"]] == [
        "ASIAHOPTWO0000000002",
        "ASIAHOPONE0000000001",
        "AKIAMALLORY000000001",
    ]
    assert chain["steps"][1]["source_identity"] == "mallory"
    assert chain["steps"][0]["principal"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/hop2"


def test_federated_and_unknown_origins(chain_lake):
    saml = chain_lake.investigate.chain("ASIASAML000000000003")
    assert (saml["origin"], saml["origin_kind"], saml["complete"]) == (
        "alice@example.com",
        "SAMLUser",
        True,
    )
    orphan = chain_lake.investigate.chain("ASIAORPHAN0000000004")
    assert orphan["complete"] is False  # the issuing call is not in the lake
    assert orphan["origin"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/orphan/x"


def test_principal_timeline_includes_its_sessions_unless_told_not_to(chain_lake, capsys):
    user = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    frame = chain_lake.investigate.timeline(principal=user)
    assert frame.filter(pl.col("source") == "cloudtrail")["summary"].str.split(
        " "
    ).list.first().to_list() == [
        "GetCallerIdentity",
        "AssumeRole",
        "AssumeRole",
        "DeleteTrail",
    ]
    alone = chain_lake.investigate.timeline(principal=user, sessions=False)
    assert alone.height == 2
    root = str(chain_lake.settings.root)
    assert main(["--lake", root, "investigate", "chain", "ASIAHOPTWO0000000002"]) == 0
    assert "mallory" in capsys.readouterr().out


def test_sessions_issued_and_started(chain_lake):
    from loglake.investigate.actors import update_actors

    update_actors(chain_lake.catalog)
    identities = Identities(chain_lake.engine)
    assert set(identities.sessions["issued_key"]) == {
        "ASIAHOPONE0000000001",
        "ASIAHOPTWO0000000002",
        "ASIASAML000000000003",
    }
    assert identities.keys_started_by(principal=f"arn:aws:iam::{ACCOUNT}:user/mallory") == [
        "ASIAHOPONE0000000001",
        "ASIAHOPTWO0000000002",
    ]
    assert identities.keys_started_by(key="ASIAHOPONE0000000001") == ["ASIAHOPTWO0000000002"]
    assert identities.issuing("AKIAMALLORY000000001").height == 0  # a long-term key
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/hop2"
    assert chain_lake.investigate.chain(session)["origin"] == f"arn:aws:iam::{ACCOUNT}:user/mallory"


# ---------------------------------------------------------------------------------------------
# first seen and rare


def test_first_seen_lists_what_the_key_never_did_before(scenario_lake):
    lake, truth = scenario_lake
    key = next(s for s in truth["scenarios"] if s["name"] == "compromised_access_key")
    start = datetime.fromisoformat(key["startTime"].replace("Z", "+00:00"))
    found = lake.investigate.first_seen(
        access_key=key["details"]["accessKeyId"], start=start, end=start + timedelta(hours=3)
    )
    new = {(a, v) for a, v in found.select("attribute", "value").iter_rows()}
    assert ("source_ip", key["details"]["attackerIp"]) in new
    assert ("user_agent", key["details"]["attackerUserAgent"]) in new
    assert ("api_call", "iam.amazonaws.com AttachUserPolicy") in new
    # addresses the key always used are not new
    assert all(v.startswith(("185.", "10.")) for a, v in new if a == "source_ip")
    rare = lake.investigate.rare_calls(
        access_key=key["details"]["accessKeyId"], start=start, end=start + timedelta(hours=3)
    )
    assert {"AttachUserPolicy", "CreateAccessKey"} <= set(rare["eventname"])
    assert rare["calls_in_account"].max() <= 5


def test_actors_table_follows_cloudtrail_exactly_once_across_a_crash(tmp_path, monkeypatch):
    from loglake.investigate import actors

    rows = cloudtrail_rows((STRATUS / "aws.execution.ssm-send-command.json").read_bytes())
    lake = loglake.connect(str(tmp_path), create=True)
    lake.catalog.create_database("aws", if_not_exists=True)
    lake.catalog.create_managed_table("aws", "cloudtrail", rows.to_arrow().schema)
    table = lake.catalog.managed("aws", "cloudtrail")
    for part in rows.iter_slices(10):
        table.append(part.to_arrow())
    real = actors.actors_frame
    calls = {"n": 0}

    def crash_on_third(frame, partition=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return real(frame, partition)

    monkeypatch.setattr(actors, "actors_frame", crash_on_third)
    with pytest.raises(RuntimeError):
        actors.update_actors(lake.catalog, batch_files=2)
    monkeypatch.undo()
    assert actors.update_actors(lake.catalog, batch_files=2) == rows.height - 20
    got = lake.sql("SELECT eventid, arn, identity_type FROM _investigate.actors ORDER BY eventid")
    assert got["eventid"].to_list() == sorted(rows["eventid"].to_list())
    assert (
        got["arn"].to_list() == rows.sort("eventid")["useridentity"].struct.field("arn").to_list()
    )
    assert actors.update_actors(lake.catalog) == 0
