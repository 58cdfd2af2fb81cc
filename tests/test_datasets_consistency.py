"""The sources tell one story: flows match the instances and security groups Config records, and
every CloudTrail call that changes a recorded resource is followed by a Config item for it."""

from __future__ import annotations

import gzip
import ipaddress
import json
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loglake.datasets import generate

CHANGES = {
    "AuthorizeSecurityGroupIngress": lambda ev: ev["requestParameters"]["groupId"],
    "RevokeSecurityGroupIngress": lambda ev: ev["requestParameters"]["groupId"],
    "CreateTags": lambda ev: ev["requestParameters"]["resourcesSet"]["items"][0]["resourceId"],
    "StartInstances": lambda ev: ev["requestParameters"]["instancesSet"]["items"][0]["instanceId"],
    "StopInstances": lambda ev: ev["requestParameters"]["instancesSet"]["items"][0]["instanceId"],
    "PutBucketTagging": lambda ev: ev["requestParameters"]["bucketName"],
    "ModifyVolume": lambda ev: ev["requestParameters"]["ModifyVolumeRequest"]["VolumeId"],
    "TagRole": lambda ev: ev["requestParameters"]["roleName"],
    "AttachUserPolicy": lambda ev: ev["requestParameters"]["userName"],
}


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("story")
    generate(
        out,
        accounts=1,
        regions=2,
        days=3,
        events_per_day=600,
        flows_per_day=800,
        seed=17,
        scenarios=["security_group_open_ssh", "compromised_access_key"],
        progress=False,
    )
    return out


def _items(root: Path, kind: str) -> list[dict[str, Any]]:
    out = []
    for path in sorted(root.glob(f"AWSLogs/*/Config/*/*/*/*/{kind}/*.json.gz")):
        out += json.loads(gzip.decompress(path.read_bytes()))["configurationItems"]
    return out


def test_flows_agree_with_config(raw: Path) -> None:
    items = _items(raw, "ConfigHistory") + _items(raw, "ConfigSnapshot")
    instances = {ci["resourceId"]: ci for ci in items if ci["resourceType"] == "AWS::EC2::Instance"}
    by_eni = {
        ci["configuration"]["networkInterfaces"][0]["networkInterfaceId"]: ci
        for ci in instances.values()
    }
    # every version of every rule Config ever recorded, per group
    rules: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for ci in items:
        if ci["resourceType"] == "AWS::EC2::SecurityGroup":
            for perm in ci["configuration"]["ipPermissions"]:
                for cidr in perm["ipRanges"]:
                    rules[ci["resourceId"]].append(
                        (perm.get("fromPort", 0), perm.get("toPort", 65535), cidr)
                    )
    checked = 0
    for path in sorted(raw.glob("AWSLogs/*/vpcflowlogs/*/*/*/*/*.log.gz")):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        header = lines[0].split(" ")
        for line in lines[1:]:
            row = dict(zip(header, line.split(" "), strict=True))
            ci = by_eni[row["interface-id"]]  # only ENIs Config knows
            conf = ci["configuration"]
            if "instance-id" in row:
                assert row["instance-id"] == ci["resourceId"]
                assert (row["subnet-id"], row["vpc-id"]) == (conf["subnetId"], conf["vpcId"])
            if row["log-status"] != "OK":
                continue
            # traffic on an interface is to or from its own address
            assert conf["privateIpAddress"] in (row["srcaddr"], row["dstaddr"])
            public_src = not ipaddress.ip_address(row["srcaddr"]).is_private
            inbound = row["dstaddr"] == conf["privateIpAddress"] and int(row["dstport"]) < 1024
            if row["action"] == "ACCEPT" and inbound and public_src:
                port = int(row["dstport"])
                src = ipaddress.ip_address(row["srcaddr"])
                groups = [g["groupId"] for g in conf["securityGroups"]]
                assert any(
                    lo <= port <= hi and src in ipaddress.ip_network(cidr)
                    for g in groups
                    for lo, hi, cidr in rules[g]
                ), line
                checked += 1
    assert checked > 100


def test_changes_in_cloudtrail_show_up_in_config(raw: Path) -> None:
    history = _items(raw, "ConfigHistory")
    captured: dict[str, list[str]] = defaultdict(list)
    for ci in history:
        captured[ci["resourceId"]].append(ci["configurationItemCaptureTime"])
        if ci.get("resourceName"):
            captured[ci["resourceName"]].append(ci["configurationItemCaptureTime"])
    changes = 0
    for path in sorted(raw.glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz")):
        for ev in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            target = CHANGES.get(ev["eventName"])
            if target is None or "errorCode" in ev:
                continue
            resource = target(ev)
            after = [
                t
                for t in captured[resource]
                if ev["eventTime"] <= t[:19] + "Z" <= _plus_minutes(ev["eventTime"], 10)
            ]
            assert after, (
                f"{ev['eventName']} on {resource} at {ev['eventTime']} not recorded by Config"
            )
            changes += 1
    assert changes >= 10


def _plus_minutes(stamp: str, minutes: int) -> str:
    t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
