"""Parsers of the four AWS sources, against the real samples and hand-checked edge cases."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sample_files import config_item_files, invictus_files, read_sample, stratus_files

from loglake.ingest import cloudtrail, cloudwatch, config, vpcflow
from loglake.ingest.layout import folder_end
from loglake.ingest.raw import GzipError, RawObject, gunzip, gunzip_members
from loglake.ingest.schemas import CLOUDTRAIL_SCHEMA, CONFIG_SCHEMA, VPC_FLOW_SCHEMA
from loglake.ingest.sources import classify

TRAIL_KEY = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/10/111122223333_CloudTrail_us-east-1_20240510T1620Z_abcdefABCDEF0123.json.gz"


def obj(key: str, data: bytes, source: str | None = None, etag: str = "e1") -> RawObject:
    layout = classify(key, source=source)
    assert layout is not None, key
    return RawObject(key, etag, len(data), layout, data)


def rows(parsed, table: str) -> list[dict]:
    return pl.from_arrow(parsed.tables[table]).to_dicts()


# ---------------------------------------------------------------- key layouts
@pytest.mark.parametrize(
    ("key", "kind", "account", "region", "day", "hour"),
    [
        (TRAIL_KEY, "cloudtrail", "111122223333", "us-east-1", "2024-05-10", 16),
        (
            "bucket/AWSLogs/o-abc123defg/111122223333/CloudTrail/eu-west-1/2022/08/08/"
            "111122223333_CloudTrail_eu-west-1_20220808T0005Z_x.json.gz",
            "cloudtrail",
            "111122223333",
            "eu-west-1",
            "2022-08-08",
            0,
        ),
        (
            "o-abc123defg/AWSLogs/o-abc123defg/444455556666/CloudTrail-Insight/us-east-1/2024/05/10/"
            "444455556666_CloudTrail-Insight_us-east-1_20240510T1620Z_x.json.gz",
            "cloudtrail_insight",
            "444455556666",
            "us-east-1",
            "2024-05-10",
            16,
        ),
        (
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-"
            "Digest_us-east-2_trail_us-east-2_20150817T150131Z.json.gz",
            "cloudtrail_digest",
            "111122223333",
            "us-east-2",
            "2015-08-17",
            15,
        ),
        (
            "AWSLogs/123456789012/vpcflowlogs/us-east-1/2018/06/20/123456789012_vpcflowlogs_"
            "us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz",
            "vpcflow",
            "123456789012",
            "us-east-1",
            "2018-06-20",
            16,
        ),
        (
            "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
            "year=2024/month=05/day=10/hour=07/x_20240510T0705Z_y.log.parquet",
            "vpcflow_parquet",
            "123456789012",
            "us-east-1",
            "2024-05-10",
            7,
        ),
        (
            "AWSLogs/123456789012/Config/us-east-2/2016/9/27/ConfigHistory/123456789012_Config_"
            "us-east-2_ConfigHistory_AWS::CloudTrail::Trail_20160927T195818Z_20160927T195818Z_1.json.gz",
            "config",
            "123456789012",
            "us-east-2",
            "2016-09-27",
            19,
        ),
        (
            "exportedlogs/23db5787-2889-4601-873a-99e4fa09456d/i-0377be99224f/000000.gz",
            "cloudwatch_export",
            None,
            None,
            None,
            None,
        ),
        (
            "logs/2024/05/10/13/my-stream-1-2024-05-10-13-02-01-1b7a1f3e-5b6a-4c33-9b3c-1c2d3e4f5a6b",
            "firehose",
            None,
            None,
            "2024-05-10",
            13,
        ),
        (
            "AWSLogs/123456789012/Config/ConfigWritabilityCheckFile",
            "marker",
            None,
            None,
            None,
            None,
        ),
        ("exportedlogs/aws-logs-write-test", "marker", None, None, None, None),
    ],
)
def test_layouts(key, kind, account, region, day, hour):
    layout = classify(key)
    assert layout is not None
    assert (layout.kind, layout.account, layout.region, layout.day, layout.hour) == (
        kind,
        account,
        region,
        day,
        hour,
    )


def test_unknown_layouts_are_not_guessed():
    assert classify("some/folder/notes.txt") is None
    assert classify("AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/10/readme.txt") is None
    # a source given on the command line reads files outside AWS layouts
    assert classify("dump/aws.defense-evasion.cloudtrail-delete.json") is None
    assert classify("dump/x.json", source="cloudtrail").kind == "cloudtrail"
    # ... but never other sources' objects
    assert classify(TRAIL_KEY, source="vpcflow") is None


def test_date_folders_are_pruned_by_their_last_day():
    assert str(folder_end(["AWSLogs", "1", "CloudTrail", "r", "2024"])) == "2024-12-31"
    assert str(folder_end(["r", "2024", "02"])) == "2024-02-29"
    assert str(folder_end(["r", "2016", "9", "27"])) == "2016-09-27"
    assert str(folder_end(["year=2024", "month=05", "day=10"])) == "2024-05-10"
    assert folder_end(["AWSLogs", "111122223333"]) is None


# ---------------------------------------------------------------- gzip
def test_gzip_members_and_truncation():
    a, b = gzip.compress(b"first"), gzip.compress(b"second")
    assert gunzip(a + b) == b"firstsecond"
    assert [offset for offset, _ in gunzip_members(a + b)] == [0, len(a)]
    with pytest.raises(GzipError) as error:
        gunzip((a + b)[:-7])
    assert "truncated" in str(error.value)
    assert gunzip(b"plain") == b"plain"


def test_gzip_inflates_as_zlib_does():
    """The fast inflater gives zlib's bytes on the real samples and zlib's words on damage."""
    for path in invictus_files():
        data = path.read_bytes()
        assert gunzip(data) == zlib.decompress(data, 31)
    named = io.BytesIO()
    with gzip.GzipFile("delivery.json", "wb", fileobj=named, mtime=0) as out:  # FNAME header
        out.write(b'{"Records":[]}')
    assert gunzip(named.getvalue()) == b'{"Records":[]}'
    good = gzip.compress(b'{"Records":[{"eventTime":"2024-05-10T00:00:00Z"}]}' * 50, mtime=0)
    bad_crc = good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:]
    bad_block = good[:10] + b"\xff" * 8 + good[18:]
    for damaged in (bad_crc, bad_block):
        with pytest.raises(zlib.error) as expected:
            zlib.decompressobj(31).decompress(damaged)
        with pytest.raises(GzipError) as error:
            gunzip(damaged)
        assert str(error.value) == f"corrupt gzip data: {expected.value}"
        assert error.value.byte_offset == 0


# ---------------------------------------------------------------- CloudTrail
def _invictus() -> list[Path]:
    files = invictus_files()
    assert len(files) == 55
    return files


def test_cloudtrail_invictus_files_as_delivered():
    objects = [obj(f.name, f.read_bytes()) for f in _invictus()]
    parsed = cloudtrail.parse(objects)
    assert parsed.bad == []
    table = parsed.tables["cloudtrail"]
    assert table.schema == CLOUDTRAIL_SCHEMA
    assert table.num_rows == 2900 == sum(parsed.rows.values())
    frame = pl.from_arrow(table)
    raw = {r["eventID"]: r for f in _invictus() for r in orjson.loads(read_sample(f))["Records"]}
    assert frame["eventid"].n_unique() == 2900 and set(frame["eventid"]) == set(raw)
    # field by field against the raw JSON for every event
    for row in frame.iter_rows(named=True):
        event = raw[row["eventid"]]
        assert row["eventtime"] == event["eventTime"]
        assert row["eventname"] == event["eventName"]
        assert row["useragent"] == event.get("userAgent")
        assert row["readonly"] == (
            None if "readOnly" not in event else str(event["readOnly"]).lower()
        )
        for column, key in (
            ("requestparameters", "requestParameters"),
            ("responseelements", "responseElements"),
            ("additionaleventdata", "additionalEventData"),
        ):
            expected = event.get(key)
            assert (None if row[column] is None else orjson.loads(row[column])) == expected
        identity = event.get("userIdentity") or {}
        assert (row["useridentity"] or {}).get("arn") == identity.get("arn")
        attributes = (identity.get("sessionContext") or {}).get("attributes") or {}
        got = ((row["useridentity"] or {}).get("sessioncontext") or {}).get("attributes") or {}
        assert got.get("mfaauthenticated") == attributes.get("mfaAuthenticated")
        # partitions: account and region from the key, day from the event time
        assert row["account"] == "218007301253" and row["region"] == "us-east-1"
        assert row["day"] == event["eventTime"][:10]


def test_cloudtrail_stratus_arrays_read_with_source_option():
    files = stratus_files()
    assert len(files) == 35
    parsed = cloudtrail.parse([obj(f.name, f.read_bytes(), source="cloudtrail") for f in files])
    assert parsed.bad == []
    frame = pl.from_arrow(parsed.tables["cloudtrail"])
    assert frame.height == 310
    # without a key layout the partitions come from the records (fictitious regions kept as is)
    assert frame["region"].to_list() == frame["awsregion"].to_list()
    assert frame["account"].to_list() == frame["recipientaccountid"].to_list()
    tls = frame.filter(pl.col("tlsdetails").is_not_null())["tlsdetails"][0]
    assert tls["clientprovidedhostheader"].endswith("amazonaws.com")


def _records(*records: dict) -> bytes:
    return gzip.compress(orjson.dumps({"Records": list(records)}))


BASE = {
    "eventVersion": "1.11",
    "userIdentity": {
        "type": "IAMUser",
        "arn": "arn:aws:iam::111122223333:user/a",
        "accountId": "111122223333",
    },
    "eventTime": "2024-05-10T16:24:34Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "ListUsers",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "192.0.2.10",
    "requestParameters": None,
    "responseElements": None,
    "eventID": "00000000-0000-0000-0000-000000000001",
    "readOnly": True,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
}


def event(**changes) -> dict:
    out = dict(BASE)
    out.update(changes)
    return out


def test_cloudtrail_unknown_members_are_kept_as_json():
    identity = dict(BASE["userIdentity"], futureMember={"x": 1})
    parsed = cloudtrail.parse(
        [
            obj(
                TRAIL_KEY,
                _records(
                    event(newTopLevel=[1, 2]),
                    event(eventID="b", userIdentity=identity),
                    event(eventID="c"),
                ),
            )
        ]
    )
    by_id = {r["eventid"]: r for r in rows(parsed, "cloudtrail")}
    assert orjson.loads(by_id[BASE["eventID"]]["extrafields"]) == {"newTopLevel": [1, 2]}
    assert orjson.loads(by_id["b"]["extrafields"]) == {"userIdentity": {"futureMember": {"x": 1}}}
    assert by_id["c"]["extrafields"] is None


def test_cloudtrail_unknown_members_deep_inside_known_ones_are_kept():
    session = {
        "sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/r", "tier": 2},
        "attributes": {"mfaAuthenticated": "false", "creationDate": "2024-05-10T16:00:00Z"},
        "webIdFederationData": {"attributes": {"any": "key"}},  # a map: every key is known
    }
    identity = dict(BASE["userIdentity"], type="AssumedRole", sessionContext=session)
    resources = [
        {"ARN": "arn:aws:s3:::a", "type": "AWS::S3::Bucket"},
        {"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket", "scope": "x"},
    ]
    tls = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "pq": True}
    parsed = cloudtrail.parse(
        [
            obj(
                TRAIL_KEY,
                _records(
                    event(eventID="a", userIdentity=identity, resources=resources),
                    event(eventID="b", tlsDetails=tls),
                    event(eventID="c", resources=resources[:1]),
                ),
            )
        ]
    )
    by_id = {r["eventid"]: r for r in rows(parsed, "cloudtrail")}
    assert orjson.loads(by_id["a"]["extrafields"]) == {
        "userIdentity": {"sessionContext": {"sessionIssuer": {"tier": 2}}},
        "resources": [None, {"scope": "x"}],
    }
    assert orjson.loads(by_id["b"]["extrafields"]) == {"tlsDetails": {"pq": True}}
    assert by_id["c"]["extrafields"] is None
    # the known members around them are in their columns as usual
    issuer = by_id["a"]["useridentity"]["sessioncontext"]["sessionissuer"]
    assert issuer["arn"] == "arn:aws:iam::111122223333:role/r"
    web = by_id["a"]["useridentity"]["sessioncontext"]["webidfederationdata"]
    assert web["attributes"] == {"any": "key"}
    assert [r["arn"] for r in by_id["a"]["resources"]] == ["arn:aws:s3:::a", "arn:aws:s3:::b"]
    assert by_id["b"]["tlsdetails"]["tlsversion"] == "TLSv1.3"


def test_cloudtrail_json_text_columns_keep_every_character():
    tricky = {
        "policy": 'line1\nline2\ttab \u0001 "quoted" \\ é 漢字 😀',
        "n": [1, 2.5, None, True],
        "big": 12345678901234567890,
    }
    parsed = cloudtrail.parse(
        [obj(TRAIL_KEY, _records(event(requestParameters=tricky, responseElements="plain")))]
    )
    row = rows(parsed, "cloudtrail")[0]
    assert orjson.loads(row["requestparameters"]) == tricky
    assert orjson.loads(row["responseelements"]) == "plain"


def test_cloudtrail_structs_flags_and_maps():
    identity = {
        "type": "WebIdentityUser",
        "principalId": "accounts.google.com:123",
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {
                "federatedProvider": "accounts.google.com",
                "attributes": {"accounts.google.com:aud": "app.example"},
            },
            "attributes": {"creationDate": "20131102T010628Z", "mfaAuthenticated": "false"},
            "sourceIdentity": "alice",
            "ec2RoleDelivery": "2.0",
        },
    }
    record = event(
        userIdentity=identity,
        readOnly=False,
        resources=[
            {"ARN": "arn:aws:s3:::b", "accountId": "1", "type": "AWS::S3::Bucket"},
            {"ARN": "arn:aws:s3:::b/k", "type": "AWS::S3::Object"},
        ],
        tlsDetails={
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "s3.amazonaws.com",
            "keyExchange": "x25519",
        },
        sessionCredentialFromConsole="true",
        addendum={"reason": "DELIVERY_DELAY", "originalEventID": "x"},
    )
    row = rows(cloudtrail.parse([obj(TRAIL_KEY, _records(record))]), "cloudtrail")[0]
    context = row["useridentity"]["sessioncontext"]
    arrow = cloudtrail.parse([obj(TRAIL_KEY, _records(record))]).tables["cloudtrail"]
    assert pa.types.is_map(
        arrow.schema.field("useridentity")
        .type.field("sessioncontext")
        .type.field("webidfederationdata")
        .type.field("attributes")
        .type
    )
    assert dict(context["webidfederationdata"]["attributes"]) == {
        "accounts.google.com:aud": "app.example"
    }
    assert context["attributes"]["creationdate"] == "20131102T010628Z"
    assert context["sourceidentity"] == "alice" and context["ec2roledelivery"] == "2.0"
    assert row["readonly"] == "false" and row["managementevent"] is True
    assert [r["arn"] for r in row["resources"]] == ["arn:aws:s3:::b", "arn:aws:s3:::b/k"]
    assert row["resources"][1]["accountid"] is None
    assert row["tlsdetails"]["keyexchange"] == "x25519"
    assert row["addendum"] == {
        "reason": "DELIVERY_DELAY",
        "updatedfields": None,
        "originalrequestid": None,
        "originaleventid": "x",
    }
    assert row["sessioncredentialfromconsole"] == "true"


def test_cloudtrail_one_bad_record_is_quarantined_alone():
    records = [event(eventID=f"id-{i}") for i in range(5)]
    records[1]["userIdentity"] = "not an object"
    records[3] = event(eventID="id-3", eventTime="yesterday")
    parsed = cloudtrail.parse(
        [obj(TRAIL_KEY, gzip.compress(orjson.dumps({"Records": [*records, 7]})))]
    )
    assert sorted(r["eventid"] for r in rows(parsed, "cloudtrail")) == ["id-0", "id-2", "id-4"]
    assert sorted(b.record_index for b in parsed.bad) == [1, 3, 5]
    assert all(not b.whole_object and b.url == TRAIL_KEY for b in parsed.bad)
    assert "id-1" in next(b.text for b in parsed.bad if b.record_index == 1)
    assert parsed.rows[TRAIL_KEY] == 3


def test_cloudtrail_members_in_other_json_types_are_read_or_named():
    records = [
        event(eventID="bool", sessionCredentialFromConsole=True),
        event(eventID="number", userIdentity={"type": "IAMUser", "accountId": 123456789012}),
        event(
            eventID="nested",
            userIdentity={
                "type": "AssumedRole",
                "sessionContext": {"attributes": {"mfaAuthenticated": False}},
            },
        ),
        event(eventID="bad", tlsDetails="TLSv1.2"),
        event(
            eventID="deep-bad",
            userIdentity={"type": "Root", "sessionContext": {"sessionIssuer": [1]}},
        ),
    ]
    parsed = cloudtrail.parse([obj(TRAIL_KEY, _records(*records))])
    got = {r["eventid"]: r for r in rows(parsed, "cloudtrail")}
    assert sorted(got) == ["bool", "nested", "number"]
    assert got["bool"]["sessioncredentialfromconsole"] == "true"
    assert got["number"]["useridentity"]["accountid"] == "123456789012"
    attributes = got["nested"]["useridentity"]["sessioncontext"]["attributes"]
    assert attributes["mfaauthenticated"] == "false"
    errors = {b.record_index: b.error for b in parsed.bad}
    assert errors == {
        3: 'record 3: wrong type: tlsDetails: expected an object, got a string "TLSv1.2"',
        4: "record 4: wrong type: userIdentity.sessionContext.sessionIssuer: expected an object, "
        "got an array [1]",
    }


@pytest.mark.parametrize(
    ("data", "error", "where"),
    [
        (b"", "0-byte object", {"byte_offset": 0}),
        (gzip.compress(b"", mtime=0), "empty object", {"byte_offset": 0}),
        (gzip.compress(b'{"Records":[{"eventTime":', mtime=0)[:-9], "truncated gzip", None),
        (
            gzip.compress(b'{"Records":[\n{"eventTime": oops}]}', mtime=0),
            "invalid JSON",
            {"line": 2},
        ),
        (gzip.compress(b'{"logs": []}', mtime=0), "not a CloudTrail log file", {"byte_offset": 0}),
    ],
)
def test_cloudtrail_whole_file_failures(data, error, where):
    parsed = cloudtrail.parse(
        [obj(TRAIL_KEY, data), obj(TRAIL_KEY.replace("abc", "zzz"), _records(BASE))]
    )
    assert len(parsed.bad) == 1 and parsed.bad[0].whole_object
    assert error in parsed.bad[0].error
    if where:
        assert where.items() <= parsed.bad[0].position().items()
    else:
        assert "byte_offset" in parsed.bad[0].position()
    assert parsed.tables["cloudtrail"].num_rows == 1  # the good file of the batch is kept


# ---------------------------------------------------------------- VPC flow logs
FLOW_KEY = "AWSLogs/123456789010/vpcflowlogs/us-east-1/2014/12/14/123456789010_vpcflowlogs_us-east-1_fl-1234abcd_20141214T0420Z_fe123456.log.gz"
V2 = b"""version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK
2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA
2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA
"""


def test_flow_logs_default_format_and_dashes():
    parsed = vpcflow.parse([obj(FLOW_KEY, gzip.compress(V2))])
    assert parsed.bad == []
    table = parsed.tables["vpc_flow_logs"]
    assert table.schema == VPC_FLOW_SCHEMA
    first, nodata, skip = rows(parsed, "vpc_flow_logs")
    assert first["srcport"] == 20641 and first["protocol"] == 6 and first["bytes"] == 4249
    assert first["action"] == "ACCEPT" and first["vpc_id"] is None  # v3+ field missing
    assert nodata["srcaddr"] is None and nodata["packets"] is None and nodata["action"] is None
    assert nodata["log_status"] == "NODATA" and skip["log_status"] == "SKIPDATA"
    assert first["day"] == "2014-12-14" and nodata["day"] == "2015-05-10"
    assert first["account"] == "123456789010" and first["region"] == "us-east-1"


def test_flow_logs_custom_field_order_and_newer_versions():
    header = (
        "version srcaddr dstaddr srcport dstport protocol start end type packets bytes "
        "account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type "
        "sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service "
        "pkt-dst-aws-service traffic-path flow-direction log-status ecs-cluster-name "
        "reject-reason encryption-status"
    )
    line = (
        "8 10.0.0.71 52.95.128.179 34210 80 6 1616729292 1616729349 IPv4 7 471 123456789012 "
        "vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-0c50d5961bcb2d47b "
        "eni-1235b8ca123456789 ap-southeast-2 apse2-az3 - - REJECT 3 10.0.0.71 52.95.128.179 "
        "- S3 8 egress OK web BPA 1"
    )
    key = (
        "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=ap-southeast-2/"
        "year=2021/month=03/day=26/hour=03/x.log.gz"
    )
    parsed = vpcflow.parse([obj(key, gzip.compress(f"{header}\n{line}\n".encode()))])
    row = rows(parsed, "vpc_flow_logs")[0]
    assert (row["srcaddr"], row["dstport"], row["interface_id"]) == (
        "10.0.0.71",
        80,
        "eni-1235b8ca123456789",
    )
    assert row["tcp_flags"] == 3 and row["traffic_path"] == 8 and row["flow_direction"] == "egress"
    assert row["pkt_dst_aws_service"] == "S3" and row["sublocation_type"] is None
    assert row["ecs_cluster_name"] == "web" and row["reject_reason"] == "BPA"
    assert row["region"] == "ap-southeast-2" and row["version"] == 8
    assert orjson.loads(row["extrafields"]) == {"encryption_status": "1"}


def test_flow_logs_bad_lines_are_quarantined_with_their_line_number():
    text = V2 + b"2 123456789010 eni-1 1.1.1.1 2.2.2.2 80 443 6 1 1 1 2 ACCEPT\n"
    text += b"2 123456789010 eni-1 1.1.1.1 2.2.2.2 http 443 6 1 1 1 2 ACCEPT OK\n"
    parsed = vpcflow.parse([obj(FLOW_KEY, gzip.compress(text))])
    assert parsed.tables["vpc_flow_logs"].num_rows == 3
    assert sorted((b.line, b.error) for b in parsed.bad) == [
        (5, "expected 14 fields"),
        (6, "a numeric field is not a number"),
    ]


def test_flow_logs_of_a_batch_keep_their_own_fields_lines_and_lineage():
    """Files parsed together: two share the default header, one has its own field order, one
    has no header and a blank first line, one is damaged; each row and each bad line is
    attributed to its own file."""
    other = FLOW_KEY.replace("123456789010", "210987654321").replace("fe123456", "ab000001")
    custom = b"srcaddr dstaddr action account-id\n10.0.0.1 10.0.0.2 REJECT 555566667777\n"
    headless = b"\n" + V2.split(b"\n", 1)[1].split(b"\n")[0] + b"\n"
    bad_line = V2 + b"2 123456789010 eni-1 1.1.1.1 2.2.2.2 80 443 6 1 1 1 2 ACCEPT\n"
    keys = [FLOW_KEY.replace("fe123456", f"f{i}") for i in range(3)] + [other, "x/flows.log.gz"]
    objects = [
        obj(keys[0], gzip.compress(bad_line)),
        obj(keys[1], gzip.compress(custom)),
        obj(keys[2], gzip.compress(V2)[:20]),  # truncated gzip
        obj(keys[3], gzip.compress(headless)),
        obj(keys[4], gzip.compress(V2), source="vpcflow"),
    ]
    parsed = vpcflow.parse(objects)
    assert parsed.rows == {keys[0]: 3, keys[1]: 1, keys[2]: 0, keys[3]: 1, keys[4]: 3}
    assert sorted((b.url, b.line, b.whole_object) for b in parsed.bad) == [
        (keys[0], 5, False),
        (keys[2], None, True),
    ]
    got = rows(parsed, "vpc_flow_logs")
    by_file = {}
    for row in got:
        by_file.setdefault(row["source_key"], []).append(row)
    assert {k: len(v) for k, v in by_file.items()} == {
        keys[0]: 3,
        keys[1]: 1,
        keys[3]: 1,
        keys[4]: 3,
    }
    custom_row = by_file[keys[1]][0]
    assert (custom_row["srcaddr"], custom_row["action"], custom_row["srcport"]) == (
        "10.0.0.1",
        "REJECT",
        None,
    )
    assert custom_row["account"] == "123456789010"  # the key's account, not the record's
    assert custom_row["account_id"] == "555566667777"
    assert {r["account"] for r in by_file[keys[3]]} == {"210987654321"}
    assert by_file[keys[3]][0]["srcport"] == 20641  # the headless file read as version 2
    # outside any layout: account from the records, region unknown
    assert {(r["account"], r["region"]) for r in by_file[keys[4]]} == {("123456789010", "unknown")}


def test_flow_logs_parquet_delivery():
    table = pa.table(
        {
            "version": pa.array([5], pa.int32()),
            "account-id": ["123456789012"],
            "interface-id": ["eni-1"],
            "srcaddr": ["10.0.0.1"],
            "dstport": pa.array([443], pa.int32()),
            "start": pa.array([1715300000], pa.int64()),
            "end": pa.array([1715300060], pa.int64()),
            "action": ["ACCEPT"],
            "log-status": ["OK"],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="gzip")
    key = (
        "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/"
        "year=2024/month=05/day=10/x_20240510T0005Z_y.log.parquet"
    )
    row = rows(vpcflow.parse([obj(key, buffer.getvalue())]), "vpc_flow_logs")[0]
    assert (row["account_id"], row["dstport"], row["log_status"], row["day"]) == (
        "123456789012",
        443,
        "OK",
        "2024-05-10",
    )


# ---------------------------------------------------------------- Config
def test_config_rdk_items_in_every_spelling():
    files = config_item_files()
    assert len(files) == 80
    parsed = config.parse([obj(f.name, f.read_bytes(), source="config") for f in files])
    whole = sorted(Path(b.url).name for b in parsed.bad if b.whole_object)
    assert whole == ["AWS_EC2_NetworkInterface.json", "AWS_SSM_ManagedInstanceInventory_Linux.json"]
    assert all({"line", "byte_offset"} <= b.position().keys() for b in parsed.bad if b.whole_object)
    # one item carries a Python repr instead of a capture time: quarantined alone
    record_level = [b for b in parsed.bad if not b.whole_object]
    assert [Path(b.url).name for b in record_level] == ["AWS_ACM_Certificate.json"]
    table = parsed.tables["config_items"]
    assert table.schema == CONFIG_SCHEMA
    frame = pl.from_arrow(table)
    assert frame.height == 78 - 1
    assert frame["resourcetype"].n_unique() > 60
    # both spellings are folded into the delivery names: compare with the raw items
    raw = {}
    for f in files:
        try:
            doc = orjson.loads(f.read_bytes())
        except orjson.JSONDecodeError:
            continue
        for item in doc if isinstance(doc, list) else [doc.get("configurationItem", doc)]:
            raw[(item["resourceType"], item["resourceId"])] = item
    for row in frame.iter_rows(named=True):
        item = raw[(row["resourcetype"], row["resourceid"])]
        assert row["awsaccountid"] == item.get("awsAccountId", item.get("accountId"))
        assert row["arn"] == item.get("ARN", item.get("arn"))
        assert row["configurationitemversion"] == item.get(
            "configurationItemVersion", item.get("version")
        )
        assert row["configurationitemcapturetime"] == item["configurationItemCaptureTime"]
    bucket = frame.filter(pl.col("resourcetype") == "AWS::S3::Bucket").row(0, named=True)
    assert orjson.loads(bucket["configuration"])["name"] == "mborch-test-bucket-config-item"
    acl = orjson.loads(bucket["supplementaryconfiguration"])["AccessControlList"]
    assert isinstance(acl, str) and orjson.loads(acl)["owner"]["id"].startswith("8ac813c8")
    assert bucket["configurationstateid"] == 1549956556288


def test_config_snapshot_and_history_envelopes():
    items = [
        {
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": "2024-05-10T08:59:59.139Z",
            "configurationStateId": 1715331599139,
            "awsAccountId": "264683526309",
            "configurationItemStatus": "OK",
            "resourceType": "AWS::EC2::SecurityGroup",
            "resourceId": "sg-1d56fc66",
            "ARN": "arn:aws:ec2:us-east-1:264683526309:security-group/sg-1d56fc66",
            "awsRegion": "us-east-1",
            "availabilityZone": "Not Applicable",
            "configurationStateMd5Hash": "",
            "configuration": {"groupId": "sg-1d56fc66", "ipPermissions": [{"fromPort": 22}]},
            "supplementaryConfiguration": {},
            "tags": {"env": "prod", "team": "sec"},
            "relatedEvents": [],
            "relationships": [
                {
                    "resourceId": "vpc-0990dc6d",
                    "resourceType": "AWS::EC2::VPC",
                    "name": "Is contained in Vpc",
                }
            ],
        },
        {
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": "2024-05-10T09:00:00.000Z",
            "configurationStateId": "1715331600000",
            "awsAccountId": "264683526309",
            "configurationItemStatus": "ResourceDeleted",
            "resourceType": "AWS::IAM::Role",
            "resourceId": "AROA1",
            "awsRegion": "global",
            "tags": {},
            "relationships": [],
        },
    ]
    snapshot_key = (
        "AWSLogs/264683526309/Config/us-east-1/2024/5/10/ConfigSnapshot/264683526309_"
        "Config_us-east-1_ConfigSnapshot_20240510T090000Z_16da64e4.json.gz"
    )
    body = {"fileVersion": "1.0", "configSnapshotId": "16da64e4", "configurationItems": items}
    parsed = config.parse([obj(snapshot_key, gzip.compress(orjson.dumps(body)))])
    sg, role = rows(parsed, "config_items")
    assert sg["configsnapshotid"] == "16da64e4" and sg["filetype"] == "ConfigSnapshot"
    assert dict(sg["tags"]) == {"env": "prod", "team": "sec"}
    assert sg["relationships"] == [
        {
            "resourcetype": "AWS::EC2::VPC",
            "resourceid": "vpc-0990dc6d",
            "resourcename": None,
            "name": "Is contained in Vpc",
        }
    ]
    assert orjson.loads(sg["configuration"])["ipPermissions"][0]["fromPort"] == 22
    assert role["configurationstateid"] == 1715331600000 and role["awsregion"] == "global"
    assert (sg["account"], sg["region"], sg["day"]) == ("264683526309", "us-east-1", "2024-05-10")
    assert sg["extrafields"] is None and role["extrafields"] is None


def test_config_unknown_members_are_kept_at_any_depth():
    item = {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": "2024-05-10T08:59:59.139Z",
        "awsAccountId": "264683526309",
        "resourceType": "AWS::EC2::Instance",
        "resourceId": "i-1",
        "awsRegion": "us-east-1",
        "complianceHint": "new",
        "relationships": [
            {"resourceId": "vpc-1", "resourceType": "AWS::EC2::VPC", "name": "Is contained in Vpc"},
            {"resourceId": "sg-1", "resourceType": "AWS::EC2::SecurityGroup", "weight": 3},
        ],
    }
    plain = {k: v for k, v in item.items() if k not in ("complianceHint", "relationships")}
    key = (
        "AWSLogs/264683526309/Config/us-east-1/2024/5/10/ConfigHistory/264683526309_"
        "Config_us-east-1_ConfigHistory_AWS::EC2::Instance_20240510T090000Z_20240510T100000Z_1.json.gz"
    )
    body = {"fileVersion": "1.0", "configurationItems": [item, dict(plain, resourceId="i-2")]}
    first, second = rows(
        config.parse([obj(key, gzip.compress(orjson.dumps(body)))]), "config_items"
    )
    assert orjson.loads(first["extrafields"]) == {
        "complianceHint": "new",
        "relationships": [None, {"weight": 3}],
    }
    assert [r["resourceid"] for r in first["relationships"]] == ["vpc-1", "sg-1"]
    assert second["resourceid"] == "i-2" and second["extrafields"] is None


# ---------------------------------------------------------------- CloudWatch Logs
def test_cloudwatch_export_with_multi_line_messages():
    text = (
        b"2021-04-21T12:34:56.789Z START RequestId: 1 Version: $LATEST\n"
        b"2021-04-21T12:34:57.000Z Traceback (most recent call last):\n"
        b'  File "app.py", line 2\n'
        b"ValueError: boom\n"
        b"2021-04-21T12:34:58.123Z END RequestId: 1\n"
    )
    key = "exportedlogs/23db5787-2889-4601-873a-99e4fa09456d/2024-05-10-[$LATEST]abcd/000000.gz"
    parsed = cloudwatch.parse([obj(key, gzip.compress(text))], log_group="/aws/lambda/app")
    got = rows(parsed, "cloudwatch_logs")
    assert [r["message"] for r in got] == [
        "START RequestId: 1 Version: $LATEST",
        'Traceback (most recent call last):\n  File "app.py", line 2\nValueError: boom',
        "END RequestId: 1",
    ]
    assert [r["timestamp"] for r in got] == [1619008496789, 1619008497000, 1619008498123]
    assert {r["loggroup"] for r in got} == {"/aws/lambda/app"}
    assert {r["logstream"] for r in got} == {"2024-05-10-[$LATEST]abcd"}
    assert {r["exporttaskid"] for r in got} == {"23db5787-2889-4601-873a-99e4fa09456d"}
    assert {r["source"] for r in got} == {"export"} and got[0]["day"] == "2021-04-21"


def _payload(kind: str, events: list[dict], group: str = "/app/web") -> bytes:
    body = {
        "messageType": kind,
        "owner": "111111111111",
        "logGroup": group,
        "logStream": "s-1",
        "subscriptionFilters": ["to-s3"],
        "logEvents": events,
    }
    return gzip.compress(orjson.dumps(body))


def test_firehose_objects_with_several_payloads():
    data = (
        _payload(
            "CONTROL_MESSAGE",
            [
                {
                    "id": "",
                    "timestamp": 1600110003794,
                    "message": "CWL CONTROL MESSAGE: Checking health",
                }
            ],
        )
        + _payload(
            "DATA_MESSAGE",
            [
                {
                    "id": "31953106606966983378809025079804211143289615424298221568",
                    "timestamp": 1432826855000,
                    "message": "a\nb",
                },
                {
                    "id": "2",
                    "timestamp": 1432826855001,
                    "message": "c",
                    "extractedFields": {"ip": "1.2.3.4"},
                },
            ],
        )
        + gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [')
        + _payload("DATA_MESSAGE", [{"id": "3", "timestamp": 1432826856000, "message": "d"}], "/g2")
    )
    key = "cwl/2015/05/28/15/cwl-to-s3-1-2015-05-28-15-27-35-1b7a1f3e-5b6a-4c33-9b3c-1c2d3e4f5a6b"
    parsed = cloudwatch.parse([obj(key, data)])
    got = rows(parsed, "cloudwatch_logs")
    assert [(r["loggroup"], r["message"]) for r in got] == [
        ("/app/web", "a\nb"),
        ("/app/web", "c"),
        ("/g2", "d"),
    ]
    assert got[0]["eventid"].startswith("3195") and got[0]["owner"] == "111111111111"
    assert orjson.loads(got[1]["extractedfields"]) == {"ip": "1.2.3.4"}
    assert got[0]["subscriptionfilters"] == ["to-s3"] and got[0]["source"] == "subscription"
    assert len(parsed.bad) == 1 and parsed.bad[0].record_index == 2
    assert parsed.bad[0].byte_offset > 0


def test_insights_events_go_to_their_own_table():
    key = (
        "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/10/"
        "111122223333_CloudTrail-Insight_us-east-1_20240510T1620Z_abc.json.gz"
    )
    insight = {
        "eventVersion": "1.08",
        "eventTime": "2024-05-10T16:00:00Z",
        "awsRegion": "us-east-1",
        "eventID": "ins-1",
        "eventType": "AwsCloudTrailInsight",
        "recipientAccountId": "111122223333",
        "sharedEventID": "pair-1",
        "insightDetails": {
            "state": "Start",
            "eventSource": "iam.amazonaws.com",
            "eventName": "DeleteUser",
            "insightType": "ApiCallRateInsight",
            "insightContext": {"statistics": {"baseline": {"average": 0.01}}},
        },
        "eventCategory": "Insight",
    }
    layout = classify(key)
    assert layout is not None and layout.table == "cloudtrail_insights"
    parsed = cloudtrail.parse([obj(key, _records(insight))], "cloudtrail_insights")
    row = rows(parsed, "cloudtrail_insights")[0]
    assert row["useridentity"] is None and row["eventname"] is None
    assert orjson.loads(row["insightdetails"])["insightType"] == "ApiCallRateInsight"
    assert (row["sharedeventid"], row["eventcategory"]) == ("pair-1", "Insight")
