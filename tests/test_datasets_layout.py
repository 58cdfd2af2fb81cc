"""Every generated object is where AWS would put it and parses the way its AWS original does."""

from __future__ import annotations

import gzip
import json
import re
import zlib
from pathlib import Path

import pytest

from loglake.datasets import generate

CT_KEY = re.compile(
    r"^AWSLogs/(?:o-[a-z0-9]{10}/)?(\d{12})/CloudTrail/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\1_CloudTrail_\2_(\d{8})T(\d{4})Z_[A-Za-z0-9]{16}\.json\.gz$"
)
INSIGHT_KEY = re.compile(
    r"^AWSLogs/(?:o-[a-z0-9]{10}/)?(\d{12})/CloudTrail-Insight/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\1_CloudTrail-Insight_\2_(\d{8})T(\d{4})Z_[A-Za-z0-9]{16}\.json\.gz$"
)
DIGEST_KEY = re.compile(
    r"^AWSLogs/(?:o-[a-z0-9]{10}/)?(\d{12})/CloudTrail-Digest/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\1_CloudTrail-Digest_\2_[A-Za-z0-9._-]+_[a-z]{2}-[a-z]+-\d_(\d{8})T(\d{6})Z\.json\.gz$"
)
FLOW_KEY = re.compile(
    r"^AWSLogs/(\d{12})/vpcflowlogs/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/"
    r"\1_vpcflowlogs_\2_fl-[0-9a-f]{17}_(\d{8})T(\d{4})Z_[0-9a-f]{8}\.log\.gz$"
)
CONFIG_HISTORY_KEY = re.compile(
    r"^AWSLogs/(\d{12})/Config/([a-z]{2}-[a-z]+-\d)/(\d{4})/([1-9]\d?)/([1-9]\d?)/ConfigHistory/"
    r"\1_Config_\2_ConfigHistory_AWS::[A-Za-z0-9]+::[A-Za-z0-9]+_\d{8}T\d{6}Z_\d{8}T\d{6}Z_\d+\.json\.gz$"
)
CONFIG_SNAPSHOT_KEY = re.compile(
    r"^AWSLogs/(\d{12})/Config/([a-z]{2}-[a-z]+-\d)/(\d{4})/([1-9]\d?)/([1-9]\d?)/ConfigSnapshot/"
    r"\1_Config_\2_ConfigSnapshot_\d{8}T\d{6}Z_[0-9a-f-]{36}\.json\.gz$"
)
EXPORT_KEY = re.compile(
    r"^exportedlogs/\d{12}/[a-z0-9-]+/[a-z0-9-]+/[0-9a-f-]{36}/[^/]+/\d{6}\.gz$"
)
FIREHOSE_KEY = re.compile(
    r"^firehose/\d{12}/[a-z0-9-]+/\d{4}/\d{2}/\d{2}/\d{2}/[A-Za-z0-9-]+-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}$"
)
ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("raw")
    summary = generate(
        out,
        accounts=2,
        regions=2,
        days=1,
        events_per_day=1500,
        seed=7,
        scenarios=["all"],
        progress=False,
    )
    return out, summary


def _keys(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_every_object_has_a_known_aws_layout(lake: tuple[Path, object]) -> None:
    root, _ = lake
    unknown = []
    for key in _keys(root):
        if key.startswith("AWSLogs/"):
            patterns = (
                CT_KEY,
                INSIGHT_KEY,
                DIGEST_KEY,
                FLOW_KEY,
                CONFIG_HISTORY_KEY,
                CONFIG_SNAPSHOT_KEY,
            )
            if key.endswith("/Config/ConfigWritabilityCheckFile"):
                continue
            if not any(p.match(key) for p in patterns):
                unknown.append(key)
        elif key.startswith("exportedlogs/"):
            if not (EXPORT_KEY.match(key) or key.endswith("/aws-logs-write-test")):
                unknown.append(key)
        elif key.startswith("firehose/"):
            if not FIREHOSE_KEY.match(key):
                unknown.append(key)
        elif not (
            key == "ground_truth.json"
            or key.startswith("cloudtrail-public-keys/")
            or key.startswith("digest-metadata/")
        ):
            unknown.append(key)
    assert unknown == []


def test_cloudtrail_files_are_gzip_records_in_their_window(lake: tuple[Path, object]) -> None:
    root, summary = lake
    total = 0
    for key in _keys(root):
        m = CT_KEY.match(key)
        if not m:
            continue
        raw = (root / key).read_bytes()
        assert raw[:2] == b"\x1f\x8b"
        doc = json.loads(gzip.decompress(raw))
        assert list(doc) == ["Records"]
        account, region = m.group(1), m.group(2)
        delivered = (
            f"{m.group(6)[:4]}-{m.group(6)[4:6]}-{m.group(6)[6:]}T{m.group(7)[:2]}:{m.group(7)[2:]}"
        )
        assert (m.group(3), m.group(4), m.group(5)) == tuple(delivered[:10].split("-"))
        for ev in doc["Records"]:
            total += 1
            assert ev["recipientAccountId"] == account
            assert ISO_SECONDS.match(ev["eventTime"])
            assert ev["eventTime"][:16] <= delivered  # delivered after the event happened
            # global services are recorded in us-east-1 only
            if ev["eventSource"] in ("iam.amazonaws.com", "signin.amazonaws.com"):
                assert region == "us-east-1" == ev["awsRegion"]
            else:
                assert ev["awsRegion"] == region
    assert total == summary.events["cloudtrail"]


def test_insights_events_have_the_insight_shape(lake: tuple[Path, object]) -> None:
    root, summary = lake
    found = []
    for key in _keys(root):
        if INSIGHT_KEY.match(key):
            found += json.loads(gzip.decompress((root / key).read_bytes()))["Records"]
    assert len(found) == summary.files["cloudtrail_insight"] == 2
    for ev in found:
        # Insights events have no caller: no userIdentity, eventSource or eventName at the top
        assert set(ev) == {
            "eventVersion",
            "eventTime",
            "awsRegion",
            "eventID",
            "eventType",
            "recipientAccountId",
            "sharedEventID",
            "insightDetails",
            "eventCategory",
        }
        assert (ev["eventType"], ev["eventCategory"]) == ("AwsCloudTrailInsight", "Insight")
        details = ev["insightDetails"]
        assert details["insightType"] in ("ApiCallRateInsight", "ApiErrorRateInsight")
        stats = details["insightContext"]["statistics"]
        assert stats["insight"]["average"] > stats["baseline"]["average"]
    assert sorted(e["insightDetails"]["state"] for e in found) == ["End", "Start"]
    assert len({e["sharedEventID"] for e in found}) == 1


def test_flow_logs_have_a_header_and_fields_per_format(lake: tuple[Path, object]) -> None:
    root, summary = lake
    formats = set()
    records = 0
    for key in _keys(root):
        if not FLOW_KEY.match(key):
            continue
        lines = gzip.decompress((root / key).read_bytes()).decode().splitlines()
        header = lines[0].split(" ")
        formats.add(len(header))
        assert header[0] == "version" and "srcaddr" in header and "log-status" in header
        for line in lines[1:]:
            values = line.split(" ")
            assert len(values) == len(header)
            row = dict(zip(header, values, strict=True))
            assert row["log-status"] in ("OK", "NODATA", "SKIPDATA")
            if row["log-status"] == "OK":
                assert row["action"] in ("ACCEPT", "REJECT")
                assert int(row["start"]) <= int(row["end"])
                assert int(row["bytes"]) > 0 and int(row["packets"]) > 0
            records += 1
    assert formats == {14, 29}  # default v2 and the custom v5 order both occur
    assert records == summary.events["vpcflowlogs"]


def test_config_files_hold_configuration_items(lake: tuple[Path, object]) -> None:
    root, _ = lake
    seen_types = set()
    snapshots = 0
    for key in _keys(root):
        is_snapshot = bool(CONFIG_SNAPSHOT_KEY.match(key))
        if not (is_snapshot or CONFIG_HISTORY_KEY.match(key)):
            continue
        doc = json.loads(gzip.decompress((root / key).read_bytes()))
        assert doc["fileVersion"] == "1.0"
        if is_snapshot:
            snapshots += 1
            assert re.fullmatch(r"[0-9a-f-]{36}", doc["configSnapshotId"])
        for ci in doc["configurationItems"]:
            seen_types.add(ci["resourceType"])
            assert ci["configurationItemVersion"] == "1.3"
            assert isinstance(ci["configurationStateId"], int)
            assert isinstance(ci["configuration"], dict)
            assert re.fullmatch(
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", ci["configurationItemCaptureTime"]
            )
            if ci["resourceType"].startswith("AWS::IAM::"):
                assert ci["awsRegion"] == "global"
            if not is_snapshot:
                assert f"_ConfigHistory_{ci['resourceType']}_" in key
    assert snapshots == 4  # one per account and region per day
    assert seen_types == {
        "AWS::EC2::Instance",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::Volume",
        "AWS::EC2::VPC",
        "AWS::S3::Bucket",
        "AWS::IAM::User",
        "AWS::IAM::Role",
        "AWS::KMS::Key",
        "AWS::EC2::FlowLog",
        "AWS::CloudTrail::Trail",
    }


def test_cloudwatch_export_lines_and_firehose_members(lake: tuple[Path, object]) -> None:
    root, summary = lake
    exported = 0
    kinds = set()
    for key in _keys(root):
        if EXPORT_KEY.match(key):
            for line in gzip.decompress((root / key).read_bytes()).decode().splitlines():
                stamp, _, message = line.partition(" ")
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", stamp)
                if message.startswith("{"):
                    kinds.add("json")
                    assert json.loads(message)["timestamp"] == stamp
                else:
                    kinds.add("access")
                    assert re.match(
                        r'^\S+ - - \[[^]]+\] "(GET|POST) \S+ HTTP/1.1" \d{3} \d+ ', message
                    )
                exported += 1
    assert kinds == {"json", "access"}  # the access log and the batch job log are exported
    delivered = 0
    control = 0
    for key in _keys(root):
        if not FIREHOSE_KEY.match(key):
            continue
        data = (root / key).read_bytes()
        # a Firehose object is a stream of gzip members, each one JSON object
        while data:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            msg = json.loads(d.decompress(data))
            data = d.unused_data
            if msg["messageType"] == "CONTROL_MESSAGE":
                control += 1
                continue
            assert msg["messageType"] == "DATA_MESSAGE"
            assert msg["logGroup"] == "/acme/web/app"  # exported groups are not subscribed too
            for ev in msg["logEvents"]:
                assert re.fullmatch(r"\d{56}", ev["id"])
                assert isinstance(ev["timestamp"], int)
                delivered += 1
    # every log event reaches S3 exactly once, by one of the two routes
    assert exported and delivered and exported + delivered == summary.events["cloudwatch"]
    assert control >= 1


def test_cli_generate_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from loglake.cli import main

    out = tmp_path / "cli"
    code = main(
        [
            "datasets",
            "generate",
            str(out),
            "--accounts=1",
            "--regions=1",
            "--days=1",
            "--events-per-day=200",
            "--scenario=kms_key_deletion@2024-05-06T08:00:00Z",
            "--sources=cloudtrail,config",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenarios"] == ["kms_key_deletion"]
    assert summary["files"]["vpcflowlogs"] == 0 and summary["files"]["config"] > 0
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["scenarios"][0]["startTime"] == "2024-05-06T08:00:00Z"
    assert main(["datasets", "scenarios"]) == 0
    assert "console_brute_force" in capsys.readouterr().out
    # a user mistake is one line on stderr and exit code 2
    assert main(["datasets", "generate", str(out), "--scenario=bogus", "--days=1"]) == 2
    assert "unknown scenario 'bogus'" in capsys.readouterr().err


def test_generate_to_s3_sets_digest_metadata(tmp_path: Path, s3_settings) -> None:
    import boto3

    fs = s3_settings.filesystem()
    bucket_prefix = s3_settings.root[len("s3://") :]
    out = f"s3://{bucket_prefix}/raw"
    args = dict(accounts=1, regions=1, days=1, events_per_day=150, seed=4, progress=False)
    remote = generate(out, filesystem=fs, sources=["cloudtrail"], **args)
    local = generate(tmp_path / "local", sources=["cloudtrail"], **args)
    assert remote.files == local.files and remote.events == local.events
    bucket, prefix = bucket_prefix.split("/", 1)
    client = boto3.client(
        "s3",
        endpoint_url=s3_settings.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/raw/"
    ):
        keys += [o["Key"] for o in page.get("Contents", [])]
    digests = [k for k in keys if "/CloudTrail-Digest/" in k and "/digest-metadata/" not in k]
    logs = [k for k in keys if "/CloudTrail/" in k]
    assert (
        len(digests) == remote.files["cloudtrail_digest"]
        and len(logs) == remote.files["cloudtrail"]
    )
    for key in digests:
        head = client.head_object(Bucket=bucket, Key=key)
        assert head["Metadata"]["signature-algorithm"] == "SHA256withRSA"
        body = json.loads(gzip.decompress(client.get_object(Bucket=bucket, Key=key)["Body"].read()))
        # the digest names where it really is
        assert (body["digestS3Bucket"], body["digestS3Object"]) == (bucket, key)
        rel = key[len(f"{prefix}/raw/") :]
        side = json.loads(
            client.get_object(Bucket=bucket, Key=f"{prefix}/raw/digest-metadata/{rel}.json")[
                "Body"
            ].read()
        )
        assert side["signature"] == head["Metadata"]["signature"]
    # log files are byte for byte the ones written locally
    for key in logs:
        rel = key[len(f"{prefix}/raw/") :]
        assert (
            client.get_object(Bucket=bucket, Key=key)["Body"].read()
            == (tmp_path / "local" / rel).read_bytes()
        )


def test_progress_bar_only_when_asked_or_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = dict(accounts=1, regions=1, days=2, events_per_day=50, sources=["config"])
    generate(tmp_path / "quiet", **args)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""
    generate(tmp_path / "loud", progress=True, **args)
    err = capsys.readouterr().err
    assert "2/2" in err and "CloudTrail events" in err
