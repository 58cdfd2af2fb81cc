"""OCSF views and the Security Lake export, over real CloudTrail samples and hand-written records.

Each class is checked against rows written by hand from the mapping in docs/ocsf.md: one row in
full per class, the others by the attributes that decide the class and its outcome.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import TEST_BUCKET, TEST_CREDENTIALS
from sample_files import STRATUS

import loglake
from loglake.catalog import StorageSettings
from loglake.errors import UserError
from loglake.ingest.ocsf import CLASSES
from loglake.lake import Lake
from loglake.security_lake import export_security_lake

ACCOUNT = "111122223333"
REGION = "eu-west-1"
DAY = "2024/08/02"

_USER = {
    "type": "IAMUser",
    "principalId": "AIDAEXAMPLEUSER00001",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "userName": "alice",
}
_ROLE_SESSION = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEROLE00001:ops-session",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/ops-session",
    "accountId": ACCOUNT,
    "accessKeyId": "ASIAEXAMPLE000000001",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAEXAMPLEROLE00001",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/ops",
            "accountId": ACCOUNT,
            "userName": "ops",
        },
        "attributes": {"creationDate": "2024-08-02T09:00:00Z", "mfaAuthenticated": "true"},
    },
}


def _event(event_id: str, name: str, source: str, **fields) -> dict:
    return {
        "eventVersion": "1.09",
        "eventTime": "2024-08-02T10:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestID": f"req-{event_id}",
        "eventID": event_id,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        **fields,
    }


HAND_WRITTEN = [
    _event(
        "describe-1",
        "DescribeInstances",
        "ec2.amazonaws.com",
        userIdentity=_ROLE_SESSION,
        readOnly=True,
        requestParameters={"maxResults": 5},
    ),
    _event(
        "getobject-1",
        "GetObject",
        "s3.amazonaws.com",
        userIdentity=_ROLE_SESSION,
        eventCategory="Data",
        readOnly=True,
        resources=[
            {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::reports/q3.csv"},
            {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::reports", "accountId": ACCOUNT},
        ],
    ),
    _event(
        "denied-1",
        "TerminateInstances",
        "ec2.amazonaws.com",
        userIdentity=_USER,
        readOnly=False,
        errorCode="Client.UnauthorizedOperation",
        errorMessage="You are not authorized to perform this operation.",
    ),
    _event(
        "service-1",
        "AssumeRole",
        "sts.amazonaws.com",
        userIdentity={"type": "AWSService", "invokedBy": "ec2.amazonaws.com"},
        sourceIPAddress="ec2.amazonaws.com",
        userAgent="ec2.amazonaws.com",
        readOnly=True,
    ),
    _event(
        "login-failed-1",
        "ConsoleLogin",
        "signin.amazonaws.com",
        userIdentity={"type": "IAMUser", "accountId": ACCOUNT, "userName": "mallory"},
        eventType="AwsConsoleSignIn",
        errorMessage="Failed authentication",
        responseElements={"ConsoleLogin": "Failure"},
        additionalEventData={
            "LoginTo": "https://console.aws.amazon.com/console/home",
            "MFAUsed": "No",
        },
    ),
    _event(
        "idc-1",
        "UserAuthentication",
        "signin.amazonaws.com",
        userIdentity={"type": "Unknown", "accountId": ACCOUNT},
        eventType="AwsServiceEvent",
        serviceEventDetails={"UserAuthentication": "Success"},
        additionalEventData={"UserName": "bob@example.com", "CredentialType": "PASSWORD"},
    ),
    _event(
        "role-1",
        "CreateRole",
        "iam.amazonaws.com",
        userIdentity=_USER,
        requestParameters={"roleName": "deployer", "assumeRolePolicyDocument": "{}"},
        responseElements={
            "role": {
                "roleName": "deployer",
                "roleId": "AROAEXAMPLEROLE00002",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/deployer",
            }
        },
    ),
    _event(
        "inline-1",
        "PutRolePolicy",
        "iam.amazonaws.com",
        userIdentity=_USER,
        requestParameters={"roleName": "deployer", "policyName": "deploy-all"},
    ),
]

# version 5 custom format: the packet addresses differ behind a NAT gateway
FLOW_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr "
    "pkt-dstaddr region az-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path"
)
FLOW_LINES = [
    f"5 {ACCOUNT} eni-0a1 10.0.1.5 52.94.76.10 49152 443 6 10 5000 1722592800 1722592860 ACCEPT "
    f"OK vpc-1 subnet-1 i-0abc 19 IPv4 10.0.1.5 52.94.76.10 {REGION} euw1-az1 - S3 egress 8",
    f"5 {ACCOUNT} eni-0a1 10.0.0.9 10.0.1.5 443 40000 6 4 800 1722592800 1722592860 REJECT "
    f"OK vpc-1 subnet-1 i-0abc 2 IPv4 203.0.113.50 10.0.1.5 {REGION} euw1-az1 - - ingress 1",
    f"5 {ACCOUNT} eni-0a1 - - - - - - - 1722592800 1722592860 - NODATA vpc-1 subnet-1 i-0abc "
    f"- - - - {REGION} euw1-az1 - - - -",
]


def _write_trail(raw: Path, stem: str, records: list[dict]) -> None:
    folder = raw / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / DAY
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{ACCOUNT}_CloudTrail_{REGION}_20240802T1000Z_{stem}.json.gz"
    (folder / name).write_bytes(gzip.compress(orjson.dumps({"Records": records})))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("ocsf")
    raw = root / "raw"
    stratus = []
    for name in ("console-login-without-mfa", "iam-create-admin-user"):
        path = STRATUS / f"aws.{'initial-access' if 'login' in name else 'persistence'}.{name}.json"
        for record in orjson.loads(path.read_bytes()):
            # the samples carry made-up regions; deliver them as this trail's region
            stratus.append({**record, "awsRegion": REGION})
    _write_trail(raw, "STRATUSSAMPLES00", stratus)
    _write_trail(raw, "HANDWRITTEN00000", HAND_WRITTEN)
    flows = raw / "AWSLogs" / ACCOUNT / "vpcflowlogs" / REGION / DAY
    flows.mkdir(parents=True)
    body = "\n".join([FLOW_HEADER, *FLOW_LINES]) + "\n"
    name = f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0123456789abcdef0_20240802T1000Z_1a2b3c4d.log.gz"
    (flows / name).write_bytes(gzip.compress(body.encode()))
    lake = loglake.connect(str(root / "lake"), create=True)
    report = lake.ingest(str(raw), progress=False)
    assert report.ok, report
    return lake


@pytest.fixture(scope="module")
def views(lake: Lake) -> dict[str, list[dict]]:
    """Every row of each OCSF view, read once for the tests of this module."""
    return {c.view: lake.sql(f"SELECT * FROM {c.view}").to_dicts() for c in CLASSES}


def _by_uid(views: dict[str, list[dict]], view: str) -> dict[str, dict]:
    return {row["metadata"]["uid"]: row for row in views[view]}


def test_ingest_creates_one_view_per_class(lake: Lake) -> None:
    views = set(lake.catalog.list_views("aws"))
    assert {c.view for c in CLASSES} <= views


def test_each_cloudtrail_event_is_in_exactly_one_class(lake: Lake, views) -> None:
    events = lake.sql("SELECT eventid FROM cloudtrail")["eventid"].to_list()
    seen = [
        row["metadata"]["uid"]
        for view in ("ocsf_api_activity", "ocsf_authentication", "ocsf_account_change")
        for row in views[view]
    ]
    assert sorted(seen) == sorted(events) and len(events) == 12


def test_api_activity_rows(views) -> None:
    rows = _by_uid(views, "ocsf_api_activity")
    assert rows["describe-1"] == {
        "activity_id": 2,
        "activity_name": "Read",
        "type_uid": 600302,
        "type_name": "API Activity: Read",
        "category_uid": 6,
        "category_name": "Application Activity",
        "class_uid": 6003,
        "class_name": "API Activity",
        "severity_id": 1,
        "severity": "Informational",
        "time": 1722592800000,
        "time_dt": rows["describe-1"]["time_dt"],
        "metadata": {
            "version": "1.1.0",
            "uid": "describe-1",
            "profiles": ["cloud", "datetime"],
            "product": {
                "name": "CloudTrail",
                "vendor_name": "AWS",
                "version": "1.09",
                "feature": {"name": "Management"},
            },
        },
        "cloud": {"provider": "AWS", "region": REGION, "account": {"uid": ACCOUNT}},
        "api": {
            "operation": "DescribeInstances",
            "version": None,
            "service": {"name": "ec2.amazonaws.com"},
            "request": {"uid": "req-describe-1"},
            "response": None,
        },
        "actor": {
            "user": {
                "type": "AssumedRole",
                "name": None,
                "uid": "AROAEXAMPLEROLE00001:ops-session",
                "uid_alt": f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/ops-session",
                "credential_uid": "ASIAEXAMPLE000000001",
                "account": {"uid": ACCOUNT},
            },
            "session": {
                "created_time": 1722589200000,
                "is_mfa": True,
                "issuer": f"arn:aws:iam::{ACCOUNT}:role/ops",
            },
            "invoked_by": None,
            "idp": None,
        },
        "src_endpoint": {"ip": "198.51.100.7", "domain": None, "uid": None},
        "http_request": {"user_agent": "aws-cli/2.15.0"},
        "unmapped": {
            "requestParameters": '{"maxResults":5}',
            "eventType": "AwsApiCall",
            "readOnly": "true",
        },
        "status_id": 1,
        "status": "Success",
        "status_code": None,
        "status_detail": None,
        "resources": None,
        "accountid": ACCOUNT,
        "eventday": "20240802",
        "region": REGION,
    }
    assert str(rows["describe-1"]["time_dt"]) == "2024-08-02 10:00:00+00:00"
    # data event with resources
    data = rows["getobject-1"]
    assert data["metadata"]["product"]["feature"] == {"name": "Data"}
    assert (data["activity_id"], data["activity_name"]) == (2, "Read")
    assert data["resources"] == [
        {"uid": "arn:aws:s3:::reports/q3.csv", "account_uid": None, "type": "AWS::S3::Object"},
        {"uid": "arn:aws:s3:::reports", "account_uid": ACCOUNT, "type": "AWS::S3::Bucket"},
    ]
    # a refused call: Delete activity, failure with the error code and message
    denied = rows["denied-1"]
    assert (denied["activity_id"], denied["type_uid"]) == (4, 600304)
    assert (denied["status_id"], denied["status"]) == (2, "Failure")
    assert denied["status_code"] == "Client.UnauthorizedOperation"
    assert denied["api"]["response"] == {
        "error": "Client.UnauthorizedOperation",
        "message": "You are not authorized to perform this operation.",
    }
    assert denied["actor"]["session"] is None
    # an AWS service called: its name is the source endpoint's domain, not an address
    service = rows["service-1"]
    assert service["src_endpoint"] == {"ip": None, "domain": "ec2.amazonaws.com", "uid": None}
    assert service["actor"]["invoked_by"] == "ec2.amazonaws.com"
    # CreateAccessKey (real sample): a Create, not an account change
    stratus = {r["api"]["operation"]: r for r in rows.values()}
    assert stratus["CreateAccessKey"]["activity_name"] == "Create"
    assert stratus["CreateAccessKey"]["actor"]["user"]["name"] == "christophe"


def test_authentication_rows(views) -> None:
    rows = _by_uid(views, "ocsf_authentication")
    assert set(rows) == {"865d9377-9c6b-4fd7-8aad-725e95f6a140", "login-failed-1", "idc-1"}
    success = rows["865d9377-9c6b-4fd7-8aad-725e95f6a140"]  # the Stratus sample
    expected = {
        "activity_id": 1,
        "activity_name": "Logon",
        "type_uid": 300201,
        "type_name": "Authentication: Logon",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "class_uid": 3002,
        "status_id": 1,
        "status": "Success",
        "status_code": None,
        "is_mfa": False,
        "is_remote": True,
        "user": {
            "type": "IAMUser",
            "name": "stratus-red-team-nmfalu-jfzdtsvchl",
            "uid": "AIDA1ERT0661IN5R239V",
            "uid_alt": "arn:aws:iam::562283505220:user/stratus-red-team-nmfalu-jfzdtsvchl",
            "account": {"uid": "562283505220"},
        },
        "service": {"name": "signin.amazonaws.com"},
        "dst_endpoint": {"svc_name": "https://console.aws.amazon.com/console/home"},
        "src_endpoint": {"ip": "225.01.00.16", "domain": None, "uid": None},
        "time": 1722588804000,
        "cloud": {"provider": "AWS", "region": REGION, "account": {"uid": "562283505220"}},
    }
    assert {k: success[k] for k in expected} == expected
    failed = rows["login-failed-1"]
    assert (failed["status_id"], failed["status"]) == (2, "Failure")
    assert failed["status_detail"] == "Failed authentication"
    assert failed["user"]["name"] == "mallory" and failed["is_mfa"] is False
    sso = rows["idc-1"]
    assert (sso["activity_name"], sso["status"], sso["is_mfa"]) == ("Logon", "Success", None)
    assert sso["user"]["name"] == "bob@example.com" and sso["dst_endpoint"] is None


def test_account_change_rows(views) -> None:
    rows = {r["api"]["operation"]: r for r in views["ocsf_account_change"]}
    assert set(rows) == {"AttachUserPolicy", "CreateUser", "CreateRole", "PutRolePolicy"}
    attach = rows["AttachUserPolicy"]  # the Stratus sample
    expected = {
        "activity_id": 7,
        "activity_name": "Attach Policy",
        "type_uid": 300107,
        "type_name": "Account Change: Attach Policy",
        "class_uid": 3001,
        "class_name": "Account Change",
        "status_id": 1,
        "user": {"type": "User", "name": "malicious-iam-user", "uid": None, "uid_alt": None},
        "policy": {
            "uid": "arn:aws:iam::aws:policy/AdministratorAccess",
            "name": "AdministratorAccess",
        },
    }
    assert {k: attach[k] for k in expected} == expected
    assert attach["actor"]["user"]["name"] == "christophe"
    assert attach["actor"]["user"]["credential_uid"] == "AKIAOZUDECYXYM4ONAN4"
    create = rows["CreateUser"]
    assert (create["activity_id"], create["activity_name"]) == (1, "Create")
    assert create["user"] == {
        "type": "User",
        "name": "malicious-iam-user",
        "uid": "AIDAL1XMLVWIUOK8KAF0",
        "uid_alt": "arn:aws:iam::229654561268:user/malicious-iam-user",
    }
    assert create["policy"] is None
    role = rows["CreateRole"]
    assert role["user"] == {
        "type": "Role",
        "name": "deployer",
        "uid": "AROAEXAMPLEROLE00002",
        "uid_alt": f"arn:aws:iam::{ACCOUNT}:role/deployer",
    }
    inline = rows["PutRolePolicy"]
    assert inline["activity_name"] == "Attach Policy"
    assert inline["policy"] == {"uid": None, "name": "deploy-all"}


def test_network_activity_rows(views) -> None:
    rows = sorted(views["ocsf_network_activity"], key=lambda r: (r["status_code"], r["action_id"]))
    assert len(rows) == 3
    nodata, egress, ingress = rows
    assert egress == {
        "activity_id": 6,
        "activity_name": "Traffic",
        "type_uid": 400106,
        "type_name": "Network Activity: Traffic",
        "category_uid": 4,
        "category_name": "Network Activity",
        "class_uid": 4001,
        "class_name": "Network Activity",
        "severity_id": 1,
        "severity": "Informational",
        "time": 1722592800000,
        "time_dt": egress["time_dt"],
        "start_time": 1722592800000,
        "end_time": 1722592860000,
        "metadata": {
            "version": "1.1.0",
            "profiles": ["cloud", "security_control", "datetime"],
            "product": {
                "name": "Amazon VPC",
                "vendor_name": "AWS",
                "version": "5",
                "feature": {"name": "Flowlogs"},
            },
        },
        "cloud": {
            "provider": "AWS",
            "region": REGION,
            "zone": "euw1-az1",
            "account": {"uid": ACCOUNT},
        },
        "src_endpoint": {
            "ip": "10.0.1.5",
            "port": 49152,
            "svc_name": None,
            "intermediate_ips": None,
            "interface_uid": "eni-0a1",
            "vpc_uid": "vpc-1",
            "subnet_uid": "subnet-1",
            "instance_uid": "i-0abc",
        },
        "dst_endpoint": {
            "ip": "52.94.76.10",
            "port": 443,
            "svc_name": "S3",
            "intermediate_ips": None,
            "interface_uid": None,
            "vpc_uid": None,
            "subnet_uid": None,
            "instance_uid": None,
        },
        "connection_info": {
            "protocol_num": 6,
            "tcp_flags": 19,
            "direction_id": 2,
            "direction": "Outbound",
            "boundary_id": 11,
            "boundary": "Internet Gateway",
            "protocol_ver_id": 4,
        },
        "traffic": {"packets": 10, "bytes": 5000},
        "action_id": 1,
        "action": "Allowed",
        "disposition_id": 1,
        "disposition": "Allowed",
        "status_code": "OK",
        "status_id": 1,
        "status": "Success",
        "unmapped": {
            "interface_id": "eni-0a1",
            "vpc_id": "vpc-1",
            "subnet_id": "subnet-1",
            "instance_id": "i-0abc",
        },
        "accountid": ACCOUNT,
        "eventday": "20240802",
        "region": REGION,
    }
    # behind a NAT: the packet's source is the endpoint, the NAT address an intermediate hop
    assert ingress["src_endpoint"]["ip"] == "203.0.113.50"
    assert ingress["src_endpoint"]["intermediate_ips"] == ["10.0.0.9"]
    assert ingress["dst_endpoint"]["interface_uid"] == "eni-0a1"
    assert ingress["src_endpoint"]["interface_uid"] is None
    assert (ingress["action"], ingress["disposition"]) == ("Denied", "Blocked")
    assert ingress["connection_info"]["boundary"] == "Same VPC"
    assert ingress["connection_info"]["direction"] == "Inbound"
    assert (nodata["status_id"], nodata["status"], nodata["action_id"]) == (99, "NODATA", 0)
    assert nodata["traffic"] == {"packets": None, "bytes": None}


def _read_export(root: Path) -> dict[str, pl.DataFrame]:
    frames = {}
    for source in sorted(p.name for p in root.iterdir()):
        files = sorted((root / source).rglob("*.parquet"))
        frames[source] = pl.concat([pl.read_parquet(f) for f in files])
    return frames


def test_security_lake_export_layout_and_rows(lake: Lake, views, tmp_path: Path) -> None:
    out = tmp_path / "ext"
    report = export_security_lake(lake, str(out))
    folder = f"region={REGION}/accountId={ACCOUNT}/eventDay=20240802"
    names = {
        "loglake-api-activity": 6003,
        "loglake-authentication": 3002,
        "loglake-account-change": 3001,
        "loglake-network-activity": 4001,
    }
    for source in names:
        assert (out / source / folder).is_dir(), source
    assert report.rows == {
        "loglake-api-activity": 5,
        "loglake-authentication": 3,
        "loglake-account-change": 4,
        "loglake-network-activity": 3,
    }
    frames = _read_export(out)
    for source, class_uid in names.items():
        frame = frames[source]
        # one class per object, partition columns in the path only, sorted by time
        assert frame["class_uid"].unique().to_list() == [class_uid]
        assert not {"region", "accountid", "eventday"} & set(frame.columns)
        assert frame["time"].is_sorted()
    exported = frames["loglake-account-change"].to_dicts()
    view = [
        {k: v for k, v in row.items() if k not in ("accountid", "eventday", "region")}
        for row in views["ocsf_account_change"]
    ]
    key = lambda row: (row["time"], row["metadata"]["uid"])  # noqa: E731
    assert sorted(exported, key=key) == sorted(view, key=key)
    schema = pq.read_schema(next((out / "loglake-account-change").rglob("*.parquet")))
    assert str(schema.field("type_uid").type) == "int64"
    assert str(schema.field("time").type) == "int64"

    # exporting the days again replaces their files instead of adding to them (the Stratus
    # sample's IAM calls are a day earlier)
    again = export_security_lake(lake, str(out), classes=["account_change"])
    assert again.rows == {"loglake-account-change": 4}
    assert len(list((out / "loglake-account-change").rglob("*.parquet"))) == 2
    assert _read_export(out)["loglake-account-change"].height == 4


def test_export_splits_large_partitions_and_names_sources(lake: Lake, tmp_path: Path) -> None:
    out = tmp_path / "ext"
    report = export_security_lake(
        lake,
        str(out),
        classes=["api_activity"],
        source_names={"api_activity": "my-trail"},
        rows_per_file=2,
    )
    files = sorted((out / "my-trail").rglob("*.parquet"))
    assert [f.name for f in files] == [
        f"my-trail-{REGION}-{ACCOUNT}-20240801-00000.zstd.parquet",
        f"my-trail-{REGION}-{ACCOUNT}-20240802-00000.zstd.parquet",
        f"my-trail-{REGION}-{ACCOUNT}-20240802-00001.zstd.parquet",
    ]
    assert report.rows == {"my-trail": 5}
    # a smaller export of the same days removes the part it no longer writes
    export_security_lake(
        lake, str(out), classes=["api_activity"], source_names={"api_activity": "my-trail"}
    )
    assert len(list((out / "my-trail").rglob("*.parquet"))) == 2
    # days outside the range export nothing
    empty = export_security_lake(lake, str(tmp_path / "none"), since="2024-08-03")
    assert empty.total_rows == 0 and not empty.files


def test_export_refuses_bad_options(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown OCSF class"):
        export_security_lake(lake, str(tmp_path), classes=["dns_activity"])
    with pytest.raises(UserError, match="custom source name"):
        export_security_lake(lake, str(tmp_path), source_names={"api_activity": "a/b"})
    with pytest.raises(UserError, match="YYYY-MM-DD"):
        export_security_lake(lake, str(tmp_path), since="2024-08-02'; DROP")


def test_export_to_s3_through_the_cli(
    lake: Lake, s3_server: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    from loglake.cli import main

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_CREDENTIALS["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_CREDENTIALS["secret_access_key"])

    code = main(
        [
            "--lake", lake.settings.root, "--endpoint-url", s3_server, "--path-style",
            "--region", TEST_CREDENTIALS["region"],
            "export", f"s3://{TEST_BUCKET}/security-lake/ext", "--format", "security-lake",
            "--class", "network_activity", "--json",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id=TEST_CREDENTIALS["access_key_id"],
        aws_secret_access_key=TEST_CREDENTIALS["secret_access_key"],
        region_name=TEST_CREDENTIALS["region"],
    )
    listed = client.list_objects_v2(Bucket=TEST_BUCKET, Prefix="security-lake/ext/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert keys == [
        f"security-lake/ext/loglake-network-activity/region={REGION}/accountId={ACCOUNT}/"
        f"eventDay=20240802/loglake-network-activity-{REGION}-{ACCOUNT}-20240802-00000.zstd.parquet"
    ]
    body = client.get_object(Bucket=TEST_BUCKET, Key=keys[0])["Body"].read()
    frame = pl.read_parquet(body)
    assert frame.height == 3 and frame["class_uid"].to_list() == [4001] * 3
    assert orjson.loads(capsys.readouterr().out)["rows"] == {"loglake-network-activity": 3}


def test_views_follow_the_target_database(tmp_path: Path) -> None:
    from loglake.catalog import Catalog
    from loglake.ingest.runner import ensure_tables

    catalog = Catalog(StorageSettings.resolve(str(tmp_path / "lake"), environ={}))
    catalog.initialise()
    ensure_tables(catalog, "audit", {"vpc_flow_logs"})
    assert catalog.list_views("audit") == ["ocsf_network_activity"]
    assert "FROM audit.vpc_flow_logs" in catalog.get_view("audit", "ocsf_network_activity").sql
    # an outdated definition is brought up to date, an unchanged one left as it is
    catalog.create_view("audit", "ocsf_network_activity", "SELECT 1 AS x", replace=True)
    ensure_tables(catalog, "audit", {"vpc_flow_logs"})
    view = catalog.get_view("audit", "ocsf_network_activity")
    assert "FROM audit.vpc_flow_logs" in view.sql
    ensure_tables(catalog, "audit", {"vpc_flow_logs"})
    assert catalog.get_view("audit", "ocsf_network_activity").version == view.version
