"""Ground truth names only things that exist, and only scenarios produce scenario signatures."""

from __future__ import annotations

import gzip
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loglake.datasets import SCENARIOS, generate

OFFICE = ipaddress.ip_network("198.51.100.0/24")
PRIVATE = ipaddress.ip_network("10.0.0.0/8")


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("incident")
    generate(
        out,
        accounts=2,
        regions=2,
        days=2,
        events_per_day=1200,
        seed=11,
        scenarios=["all"],
        progress=False,
    )
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    generate(out, accounts=2, regions=2, days=3, events_per_day=1500, seed=5, progress=False)
    return out


def cloudtrail(root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(root.glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz")):
        key = path.relative_to(root).as_posix()
        for ev in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            yield key, ev


def flow_rows(root: Path) -> Iterator[tuple[str, int, dict[str, str]]]:
    for path in sorted(root.glob("AWSLogs/*/vpcflowlogs/*/*/*/*/*.log.gz")):
        key = path.relative_to(root).as_posix()
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        header = lines[0].split(" ")
        for n, line in enumerate(lines[1:], start=2):
            yield key, n, dict(zip(header, line.split(" "), strict=True))


def history_items(root: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(root.glob("AWSLogs/*/Config/*/*/*/*/ConfigHistory/*.json.gz")):
        key = path.relative_to(root).as_posix()
        for ci in json.loads(gzip.decompress(path.read_bytes()))["configurationItems"]:
            yield key, ci


def signatures(ev: dict[str, Any]) -> set[str]:
    """The scenarios whose signature this CloudTrail record matches."""
    hits = set()
    name = ev["eventName"]
    if ev["userIdentity"].get("type") == "Root":
        hits.add("root_console_login")
    if name in ("StopLogging", "DeleteTrail"):
        hits.add("cloudtrail_tampering")
    if name in ("AttachUserPolicy", "CreateAccessKey"):
        hits.add("compromised_access_key")
    if name == "ScheduleKeyDeletion":
        hits.add("kms_key_deletion")
    if name == "ConsoleLogin" and ev.get("errorMessage") == "Failed authentication":
        hits.add("console_brute_force")
    if name == "AuthorizeSecurityGroupIngress":
        for perm in ev["requestParameters"]["ipPermissions"]["items"]:
            cidrs = [r["cidrIp"] for r in perm.get("ipRanges", {}).get("items", [])]
            if "0.0.0.0/0" in cidrs and perm["fromPort"] <= 22 <= perm["toPort"]:
                hits.add("security_group_open_ssh")
    return hits


def world_ssh_rule(ci: dict[str, Any]) -> bool:
    if ci["resourceType"] != "AWS::EC2::SecurityGroup":
        return False
    return any(
        "0.0.0.0/0" in p.get("ipRanges", []) and p.get("fromPort", 0) <= 22 <= p.get("toPort", -1)
        for p in ci["configuration"]["ipPermissions"]
    )


def internet_ssh_accept(row: dict[str, str]) -> bool:
    if row["log-status"] != "OK" or row["action"] != "ACCEPT" or row["dstport"] != "22":
        return False
    src = ipaddress.ip_address(row["srcaddr"])
    return src not in OFFICE and src not in PRIVATE


def test_baseline_has_no_scenario_signature(baseline: Path) -> None:
    events = 0
    for _, ev in cloudtrail(baseline):
        events += 1
        assert signatures(ev) == set(), ev
        if ev["eventName"] == "ConsoleLogin":
            assert ev["responseElements"] == {"ConsoleLogin": "Success"}
            assert ev["additionalEventData"]["MFAUsed"] == "Yes"
    assert events > 10_000
    assert not any(world_ssh_rule(ci) for _, ci in history_items(baseline))
    rows = list(flow_rows(baseline))
    assert not any(internet_ssh_accept(r) for _, _, r in rows)
    # internet scanners do knock on port 22, and are rejected
    assert any(r.get("dstport") == "22" and r["action"] == "REJECT" for _, _, r in rows)
    truth = json.loads((baseline / "ground_truth.json").read_text())
    assert truth["scenarios"] == []


def test_ground_truth_names_existing_events_and_covers_signatures(incident: Path) -> None:
    truth = json.loads((incident / "ground_truth.json").read_text())
    by_name = {s["name"]: s for s in truth["scenarios"]}
    assert set(by_name) == set(SCENARIOS)
    wanted = {
        e["eventID"]: (s["name"], e) for s in truth["scenarios"] for e in s["cloudtrailEvents"]
    }
    found: dict[str, str] = {}
    matched: dict[str, set[str]] = {name: set() for name in SCENARIOS}
    leak = by_name["compromised_access_key"]["details"]
    for key, ev in cloudtrail(incident):
        if ev["sourceIPAddress"] == leak["attackerIp"] or (
            ev["userIdentity"].get("accessKeyId") == leak["accessKeyId"]
            and "vpcEndpointId" in ev  # the key used from inside the VPC
        ):
            matched["compromised_access_key"].add(ev["eventID"])
        eid = ev["eventID"]
        if eid in wanted:
            assert eid not in found, "duplicate event id"
            found[eid] = key
            _, meta = wanted[eid]
            assert meta["key"] == key
            assert (meta["eventTime"], meta["eventName"]) == (ev["eventTime"], ev["eventName"])
        for hit in signatures(ev):
            matched[hit].add(eid)
    assert set(found) == set(wanted)
    for name, ids in matched.items():
        scenario_ids = set(by_name[name]["cloudtrailEventIds"])
        assert ids, f"{name}: signature never matched"
        assert ids <= scenario_ids, f"{name}: signature matched outside the scenario"
    brute = by_name["console_brute_force"]
    assert len(matched["console_brute_force"]) == brute["details"]["attempts"]
    # the burst also raised a CloudTrail Insights pair, named in the ground truth
    for insight in brute["insightEvents"]:
        records = json.loads(gzip.decompress((incident / insight["key"]).read_bytes()))["Records"]
        assert [r["eventID"] for r in records] == [insight["eventID"]]
        assert records[0]["insightDetails"]["eventName"] == "ConsoleLogin"
    assert sorted(i["state"] for i in brute["insightEvents"]) == ["End", "Start"]


def test_ground_truth_flows_and_config_changes_exist(incident: Path) -> None:
    truth = json.loads((incident / "ground_truth.json").read_text())
    by_name = {s["name"]: s for s in truth["scenarios"]}
    rows = {(key, n): row for key, n, row in flow_rows(incident)}
    for scenario in truth["scenarios"]:
        for rec in scenario["flowRecords"]:
            row = rows[(rec["key"], rec["line"])]
            assert " ".join(row.values()) == rec["record"]
    # every accepted SSH flow from the internet belongs to the open-SSH scenario, and there are some
    ssh = {(k, n) for (k, n), r in rows.items() if internet_ssh_accept(r)}
    listed = {(r["key"], r["line"]) for r in by_name["security_group_open_ssh"]["flowRecords"]}
    assert ssh and ssh <= listed
    # exfiltration: large egress to the attacker's address from the web server's interface
    exfil = by_name["compromised_access_key"]
    drop = exfil["details"]["exfiltrationDestinationIp"]
    sent = sum(
        int(rows[(r["key"], r["line"])]["bytes"])
        for r in exfil["flowRecords"]
        if rows[(r["key"], r["line"])]["dstaddr"] == drop
    )
    assert sent >= exfil["details"]["bytesRead"] * 0.9
    # config changes are in the history file named, with the recorded state id
    items = {(key, ci["configurationStateId"]): ci for key, ci in history_items(incident)}
    for scenario in truth["scenarios"]:
        for change in scenario["configChanges"]:
            ci = items[(change["key"], change["configurationStateId"])]
            assert ci["resourceId"] == change["resourceId"]
    opened = [c for c in by_name["security_group_open_ssh"]["configChanges"]]
    assert world_ssh_rule(items[(opened[0]["key"], opened[0]["configurationStateId"])])
    assert not world_ssh_rule(items[(opened[1]["key"], opened[1]["configurationStateId"])])
    ssh_items = {(k, s) for (k, s), ci in items.items() if world_ssh_rule(ci)}
    assert ssh_items == {(opened[0]["key"], opened[0]["configurationStateId"])}
    escalated = by_name["compromised_access_key"]["configChanges"][0]
    user_ci = items[(escalated["key"], escalated["configurationStateId"])]
    assert {
        "policyName": "AdministratorAccess",
        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
    } in (user_ci["configuration"]["attachedManagedPolicies"])


def test_stopped_trail_delivers_nothing_in_the_gap(incident: Path) -> None:
    truth = json.loads((incident / "ground_truth.json").read_text())
    tamper = next(s for s in truth["scenarios"] if s["name"] == "cloudtrail_tampering")
    gap = tamper["loggingGaps"][0]
    account = gap["accountId"]
    before = after = 0
    for _, ev in cloudtrail(incident):
        if ev["recipientAccountId"] != account:
            continue
        assert not gap["from"] <= ev["eventTime"] < gap["to"]
        if gap["from"] > ev["eventTime"] >= gap["from"][:11]:
            before += 1
        if ev["eventTime"] >= gap["to"] and ev["eventTime"][:10] == gap["to"][:10]:
            after += 1
    assert before and after
    # the other account keeps logging through the gap
    other = [
        ev
        for _, ev in cloudtrail(incident)
        if ev["recipientAccountId"] != account and gap["from"] <= ev["eventTime"] < gap["to"]
    ]
    assert other


def test_scenarios_can_be_placed_and_chosen(tmp_path: Path) -> None:
    summary = generate(
        tmp_path,
        accounts=1,
        regions=1,
        days=1,
        events_per_day=300,
        seed=3,
        scenarios=[
            "root_console_login@2024-05-06T03:15:00Z",
            "console-brute-force@2024-05-06T20:00:00+00:00",
        ],
        sources=["cloudtrail"],
        progress=False,
    )
    truth = json.loads((tmp_path / "ground_truth.json").read_text())
    assert [s["name"] for s in truth["scenarios"]] == ["root_console_login", "console_brute_force"]
    assert truth["scenarios"][0]["startTime"] == "2024-05-06T03:15:00Z"
    assert truth["scenarios"][1]["startTime"].startswith("2024-05-06T20:0")
    assert summary.files["vpcflowlogs"] == 0
    with pytest.raises(ValueError, match="unknown scenario"):
        generate(tmp_path / "x", days=1, events_per_day=10, scenarios=["nope"], progress=False)
    with pytest.raises(ValueError, match="not an ISO-8601 date"):
        generate(tmp_path / "z", days=1, start="yesterday", progress=False)
    with pytest.raises(ValueError, match="no sources"):
        generate(tmp_path / "z", days=1, sources=[], progress=False)
    with pytest.raises(ValueError, match="outside the generated period"):
        generate(
            tmp_path / "y",
            days=1,
            events_per_day=10,
            scenarios=["root_console_login@2030-01-01T00:00:00Z"],
            progress=False,
        )


def test_calls_made_while_the_trail_is_stopped_are_not_in_the_truth(tmp_path: Path) -> None:
    generate(
        tmp_path,
        accounts=1,
        regions=1,
        days=1,
        events_per_day=300,
        seed=2,
        sources=["cloudtrail"],
        scenarios=[
            "cloudtrail_tampering@2024-05-06T10:00:00Z",
            "root_console_login@2024-05-06T10:10:00Z",
        ],
        progress=False,
    )
    truth = {
        s["name"]: s for s in json.loads((tmp_path / "ground_truth.json").read_text())["scenarios"]
    }
    root = truth["root_console_login"]
    assert root["cloudtrailEventIds"] == []
    assert root["notDeliveredEvents"][0]["eventName"] == "ConsoleLogin"
    delivered = {ev["eventID"] for _, ev in cloudtrail(tmp_path)}
    assert not delivered & {e["eventID"] for e in root["notDeliveredEvents"]}
    assert set(truth["cloudtrail_tampering"]["cloudtrailEventIds"]) <= delivered
